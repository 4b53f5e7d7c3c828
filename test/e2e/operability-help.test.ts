import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CommandError, run } from '../fixtures/proc.ts';

const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');

async function shoal(
  args: string[],
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [SHOAL_BIN, ...args], { env, timeoutMs: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return { code: error.exitCode, stdout: error.stdout, stderr: error.stderr };
  }
}

describe('shoal --help', { timeout: 120_000 }, () => {
  it('every command has examples and documents the exit codes', async () => {
    const commands = [
      [],
      ['peer'],
      ['scheduler'],
      ['all-in-one'],
      ['containerd-config'],
      ['registries-config'],
      ['preheat'],
      ['get'],
    ];
    const results = await Promise.all(commands.map((c) => shoal([...c, '--help'])));
    for (const [i, { code, stdout }] of results.entries()) {
      const what = `shoal ${commands[i]!.join(' ')} --help`;
      assert.equal(code, 0, what);
      assert.match(stdout, /\nExamples:\n {2}shoal /, `${what}: examples`);
      assert.match(
        stdout,
        /Exit codes:\n {2}0 {2}success.*\n {2}1 {2}runtime failure.*\n {2}2 {2}usage or configuration error/,
      );
      assert.match(stdout, /SHOAL_\*/, `${what}: mentions the environment variables`);
    }
    assert.match(
      results[0]!.stdout,
      /containerd-config \[options\]/,
      'the command list has containerd-config',
    );
  });

  it('exits 2 on usage errors', async () => {
    const [none, unknown, badOption] = await Promise.all([
      shoal([]),
      shoal(['frobnicate']),
      shoal(['scheduler', '--no-such-option']),
    ]);
    assert.equal(none.code, 2, 'no command');
    assert.match(none.stderr, /Usage: shoal/);
    assert.equal(unknown.code, 2, 'unknown command');
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
    assert.equal(badOption.code, 2, 'unknown option');
    assert.match(badOption.stderr, /unknown option '--no-such-option'/);
  });
});
