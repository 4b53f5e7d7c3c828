import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runShoal, type ShoalResult } from '../fixtures/shoal.ts';

function registriesConfig(args: string[]): Promise<ShoalResult> {
  return runShoal(['registries-config', ...args]);
}

/** The [[registry]] entries of a drop-in: prefix, location, insecure and the mirrors' locations. */
function entries(text: string): { prefix: string; location: string; insecure: boolean; mirrors: string[] }[] {
  const out: { prefix: string; location: string; insecure: boolean; mirrors: string[] }[] = [];
  let inMirror = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line === '[[registry]]') {
      out.push({ prefix: '', location: '', insecure: false, mirrors: [] });
      inMirror = false;
      continue;
    }
    if (line === '[[registry.mirror]]') {
      inMirror = true;
      continue;
    }
    const kv = /^([a-z-]+) = (.+)$/.exec(line);
    assert.ok(kv, `unexpected line: ${line}`);
    const entry = out.at(-1)!;
    const value = JSON.parse(kv[2]!) as string | boolean;
    if (inMirror && kv[1] === 'location') entry.mirrors.push(value as string);
    else if (inMirror && kv[1] === 'insecure') assert.equal(value, true);
    else if (kv[1] === 'prefix') entry.prefix = value as string;
    else if (kv[1] === 'location') entry.location = value as string;
    else if (kv[1] === 'insecure') entry.insecure = value as boolean;
    else assert.fail(`unexpected key: ${line}`);
  }
  return out;
}

let work = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-registries-config-'));
});

after(async () => {
  if (work) await rm(work, { recursive: true, force: true });
});

describe('shoal registries-config', { timeout: 120_000 }, () => {
  it('writes one entry per registry, the registry in the mirror path, a port as host_port', async () => {
    const dir = join(work, 'plain');
    const result = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      'docker.io',
      '--registry',
      'Quay.io',
      '--registry',
      'registry.example:5000',
      '--server',
      'registry.example:5000=http://10.0.0.5:5000',
      '--endpoint',
      'http://127.0.0.1:5050/',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /wrote .*shoal\.conf/);
    assert.deepEqual(await readdir(dir), ['shoal.conf']);
    const text = await readFile(join(dir, 'shoal.conf'), 'utf8');
    assert.ok(text.startsWith('# Managed by shoal registries-config.'));
    assert.deepEqual(entries(text), [
      { prefix: 'docker.io', location: 'docker.io', insecure: false, mirrors: ['127.0.0.1:5050/docker.io'] },
      { prefix: 'quay.io', location: 'quay.io', insecure: false, mirrors: ['127.0.0.1:5050/quay.io'] },
      {
        prefix: 'registry.example:5000',
        location: '10.0.0.5:5000',
        insecure: true,
        mirrors: ['127.0.0.1:5050/registry.example_5000'],
      },
    ]);
    const again = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      'docker.io',
      '--registry',
      'quay.io',
      '--registry',
      'registry.example:5000',
      '--server',
      'registry.example:5000=http://10.0.0.5:5000',
      '--endpoint',
      'http://127.0.0.1:5050',
    ]);
    assert.match(again.stdout, /is up to date/);
  });

  it("keeps someone else's shoal.conf as the backup and puts it back on --remove", async () => {
    const dir = join(work, 'backup');
    await mkdir(dir);
    const theirs = '[[registry]]\nprefix = "example.org"\nblocked = true\n';
    await writeFile(join(dir, 'shoal.conf'), theirs);
    const written = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      'quay.io',
      '--endpoint',
      'http://127.0.0.1:5050',
    ]);
    assert.equal(written.code, 0, written.stderr);
    assert.match(written.stdout, /previous file is kept as .*shoal\.conf\.shoal-backup/);
    assert.equal(await readFile(join(dir, 'shoal.conf.shoal-backup'), 'utf8'), theirs);
    // A second run rewrites its own file and keeps the backup.
    const updated = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      'ghcr.io',
      '--endpoint',
      'http://127.0.0.1:5050',
    ]);
    assert.match(updated.stdout, /updated/);
    assert.equal(await readFile(join(dir, 'shoal.conf.shoal-backup'), 'utf8'), theirs);
    const removed = await registriesConfig(['--dir', dir, '--remove']);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /restored/);
    assert.deepEqual(await readdir(dir), ['shoal.conf']);
    assert.equal(await readFile(join(dir, 'shoal.conf'), 'utf8'), theirs);
    // Now the file is theirs again: --remove leaves it alone and says so.
    const foreign = await registriesConfig(['--dir', dir, '--remove']);
    assert.equal(foreign.code, 0);
    assert.match(foreign.stderr, /left .* alone/);
    assert.equal(await readFile(join(dir, 'shoal.conf'), 'utf8'), theirs);
  });

  it('--remove deletes the file it wrote, and says when there is nothing to remove', async () => {
    const dir = join(work, 'remove');
    await registriesConfig(['--dir', dir, '--registry', 'quay.io', '--endpoint', 'http://127.0.0.1:5050']);
    assert.match((await registriesConfig(['--dir', dir, '--remove'])).stdout, /removed/);
    assert.deepEqual(await readdir(dir), []);
    assert.match((await registriesConfig(['--dir', dir, '--remove'])).stdout, /nothing to remove/);
  });

  it('refuses a configuration it cannot write, naming the option (exit 2)', async () => {
    const dir = join(work, 'refused');
    const noEndpoint = await registriesConfig(['--dir', dir, '--registry', 'quay.io']);
    assert.equal(noEndpoint.code, 2);
    assert.match(noEndpoint.stderr, /--endpoint/);
    const noRegistry = await registriesConfig(['--dir', dir, '--endpoint', 'http://127.0.0.1:5050']);
    assert.equal(noRegistry.code, 2);
    assert.match(noRegistry.stderr, /--registry/);
    const badEndpoint = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      'quay.io',
      '--endpoint',
      '127.0.0.1:5050',
    ]);
    assert.equal(badEndpoint.code, 2);
    assert.match(badEndpoint.stderr, /--endpoint/);
    const ipv6 = await registriesConfig([
      '--dir',
      dir,
      '--registry',
      '[::1]:5000',
      '--endpoint',
      'http://127.0.0.1:5050',
    ]);
    assert.equal(ipv6.code, 2, ipv6.stderr);
    assert.match(ipv6.stderr, /--registry/);
    assert.match(ipv6.stderr, /IPv6/);
    await assert.rejects(readdir(dir), /ENOENT/, 'nothing written');
  });
});
