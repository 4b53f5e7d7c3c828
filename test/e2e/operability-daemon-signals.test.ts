import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { request } from '../fixtures/http.ts';
import { freePort, waitFor } from '../fixtures/net.ts';
import { Daemon } from '../fixtures/proc.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const DAEMONS = /\bshoal\s+(peer|scheduler|all-in-one)\b/;

/** Lines of the README's shell examples (continuations joined) that start a shoal daemon. */
async function readmeDaemonCommands(): Promise<string[]> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const commands: string[] = [];
  for (const block of readme.matchAll(/```(?:sh|bash|shell)\n([\s\S]*?)```/g)) {
    const lines = block[1]!.replace(/\\\n\s*/g, ' ').split('\n');
    for (const line of lines) {
      const command = line.replace(/#.*$/, '').trim();
      if (DAEMONS.test(command)) commands.push(command);
    }
  }
  return commands;
}

function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

describe('daemons started as the README says stop when told', { timeout: 120_000 }, () => {
  it('the README starts no daemon through npx (which does not pass SIGTERM on), start.sh execs shoal', async () => {
    const commands = await readmeDaemonCommands();
    assert.ok(commands.length >= 5, `found the README's daemon commands: ${commands.join('\n')}`);
    for (const command of commands) {
      assert.doesNotMatch(command, /\b(npx|npm\s+(exec|run))\b/, command);
    }
    const script = (await readFile(join(ROOT, 'scripts', 'start.sh'), 'utf8')).trim().split('\n');
    assert.match(script.at(-1)!, /^exec shoal "\$@"$/, 'start.sh replaces itself with shoal');
  });

  it('`shoal peer` run from the PATH the README sets exits 0 on SIGTERM and frees its ports', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'shoal-e2e-signals-'));
    const [registryPort, adminPort] = [await freePort(), await freePort()];
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
    env.PATH = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
    // What a shell does for `shoal peer …`: find shoal on the PATH and run it (its #! picks the PATH's node).
    const daemon = new Daemon(
      'shoal peer',
      'shoal',
      [
        'peer',
        '--registry',
        `127.0.0.1:${registryPort}`,
        '--http',
        `127.0.0.1:${adminPort}`,
        '--data-dir',
        dataDir,
      ],
      { env },
    );
    try {
      await waitFor(
        'the peer to be ready',
        async () =>
          (await request(`http://127.0.0.1:${adminPort}/readyz`, { timeoutMs: 1000 }).catch(() => undefined))
            ?.status === 200,
        { timeoutMs: 60_000, abort: () => daemon.exitError() },
      );
      process.kill(daemon.pid, 'SIGTERM');
      const exit = await Promise.race([
        daemon.exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000).unref()),
      ]);
      assert.deepEqual(exit, { code: 0, signal: null }, daemon.output);
      assert.ok(await refused(registryPort), 'the registry port is free');
      assert.ok(await refused(adminPort), 'the admin port is free');
    } finally {
      await daemon.stop();
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
