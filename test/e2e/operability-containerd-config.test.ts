import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { checkCriConfigPath } from '../../packages/cli/src/containerd-cri-check.ts';
import {
  installHostsToml,
  MANAGED_MARKER,
  mergeHostsToml,
  removeHostsToml,
  renderHostsToml,
  upstreamServer,
} from '../../packages/cli/src/containerd-hosts.ts';
import { BACKUP_SUFFIX } from '../../packages/cli/src/managed-file.ts';
import { ctrContentDigests, ctrImageDigest, ctrPull, startContainerd } from '../fixtures/clients.ts';
import { pushImage, smallImage } from '../fixtures/images.ts';
import { startRegistry } from '../fixtures/registry.ts';
import { runShoal, type ShoalResult, startPeer } from '../fixtures/shoal.ts';

/** Never resolves (RFC 2606), so containerd can only have pulled through the peer. */
const REGISTRY_NAME = 'registry.invalid:5000';

/** Runs the real `shoal containerd-config` CLI. */
function containerdConfig(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ShoalResult> {
  // The containerd config check has tests of its own; elsewhere it is off unless a test sets it.
  return runShoal(['containerd-config', ...args], { env: { SHOAL_CONTAINERD_CONFIG: 'none', ...env } });
}

/** `shoal containerd-config` for one registry, endpoint and hosts directory. */
function pointAt(registry: string, endpoint: string, hostsDir: string) {
  return containerdConfig(['--registry', registry, '--endpoint', endpoint, '--dir', hostsDir]);
}

/** Parses the few hosts.toml constructs written here: top-level server and [host."url"] capabilities. */
function parseHostsToml(text: string): { server?: string; hosts: Record<string, string[]> } {
  let server: string | undefined;
  const hosts: Record<string, string[]> = {};
  let current: string | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const section = /^\[host\.("(?:[^"\\]|\\.)*")\]$/.exec(line);
    if (section) {
      current = JSON.parse(section[1]!) as string;
      hosts[current] = [];
      continue;
    }
    const kv = /^([a-z_]+)\s*=\s*(.+)$/.exec(line);
    assert.ok(kv, `unexpected hosts.toml line: ${line}`);
    const value = JSON.parse(kv[2]!) as unknown;
    if (current === undefined && kv[1] === 'server') server = value as string;
    else if (current !== undefined && kv[1] === 'capabilities') hosts[current] = value as string[];
    else assert.fail(`unexpected hosts.toml key: ${line}`);
  }
  return { server, hosts };
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

describe('shoal containerd-config', { timeout: 300_000 }, () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-containerd-config-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('knows where registries live', () => {
    assert.equal(upstreamServer('docker.io'), 'https://registry-1.docker.io');
    assert.equal(upstreamServer('index.docker.io'), 'https://registry-1.docker.io');
    assert.equal(upstreamServer('ghcr.io'), 'https://ghcr.io');
    assert.equal(upstreamServer('Registry.Example:5000'), 'https://registry.example:5000');
    assert.equal(
      upstreamServer('registry.example:5000', { 'registry.example:5000': 'http://10.0.0.5:5000/' }),
      'http://10.0.0.5:5000',
    );
    const text = renderHostsToml({
      registry: 'docker.io',
      server: 'https://registry-1.docker.io',
      endpoint: 'http://127.0.0.1:5050',
      dir: '/etc/containerd/certs.d',
    });
    assert.ok(text.startsWith(MANAGED_MARKER));
    assert.deepEqual(parseHostsToml(text), {
      server: 'https://registry-1.docker.io',
      hosts: { 'http://127.0.0.1:5050': ['pull', 'resolve'] },
    });
    // _default stands for every registry: no server, containerd falls back to the registry named.
    const every = renderHostsToml({
      registry: '_default',
      server: '',
      endpoint: 'http://127.0.0.1:5050',
      dir: '/d',
    });
    assert.deepEqual(parseHostsToml(every), {
      server: undefined,
      hosts: { 'http://127.0.0.1:5050': ['pull', 'resolve'] },
    });
  });

  it("merges into someone's hosts.toml: the peer first, their server, hosts and comments kept", () => {
    const spec = {
      registry: 'ghcr.io',
      server: 'https://ghcr.io',
      endpoint: 'http://127.0.0.1:5050',
      dir: '/d',
    };
    const theirs = [
      '# our mirrors',
      'server = "https://ghcr.io"',
      '',
      '[host."https://mirror-a.example"]',
      '  capabilities = ["pull"]',
      '',
      '[host."http://127.0.0.1:5050"]',
      '  capabilities = ["pull", "resolve", "push"]',
      '',
      "[host.'https://mirror-b.example']",
      '  capabilities = ["pull", "resolve"]',
    ].join('\n');
    const merged = mergeHostsToml(theirs, spec);
    assert.ok(merged.startsWith(MANAGED_MARKER));
    assert.match(merged, /# our mirrors/);
    assert.deepEqual(
      parseHostsToml(merged.replace(/'https:\/\/mirror-b\.example'/, '"https://mirror-b.example"')),
      {
        server: 'https://ghcr.io',
        hosts: {
          'http://127.0.0.1:5050': ['pull', 'resolve'],
          'https://mirror-a.example': ['pull'],
          'https://mirror-b.example': ['pull', 'resolve'],
        },
      },
    );
    assert.deepEqual(
      Object.keys(
        parseHostsToml(merged.replace(/'https:\/\/mirror-b\.example'/, '"https://mirror-b.example"')).hosts,
      ),
      ['http://127.0.0.1:5050', 'https://mirror-a.example', 'https://mirror-b.example'],
      'the peer first, theirs after in their order',
    );
    assert.throws(() => mergeHostsToml('server = "unterminated', spec), /not valid TOML/);
  });

  it("checks that containerd's CRI plugin reads the hosts directory (1.x and 2.x keys)", () => {
    const v2 = (registry: string) =>
      `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n${registry}`;
    const unset = checkCriConfigPath(v2('  config_path = ""'), '/etc/containerd/certs.d');
    assert.equal(unset.ok, false);
    assert.match(
      (unset as { problem: string }).problem,
      /does not read \/etc\/containerd\/certs\.d: its registry config_path is not set, so the kubelet's pulls would bypass shoal.*config_path = "\/etc\/containerd\/certs\.d"/s,
    );
    assert.deepEqual(
      checkCriConfigPath(v2('  config_path = "/etc/containerd/certs.d"'), '/etc/containerd/certs.d/'),
      { ok: true },
    );
    assert.equal(checkCriConfigPath(v2('  config_path = "/elsewhere"'), '/etc/containerd/certs.d').ok, false);
    assert.equal(
      checkCriConfigPath('version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n', '/d').ok,
      true,
      'no CRI plugin, nothing to check',
    );
    const v3 = (extra: string) =>
      `version = 3\n[plugins.'io.containerd.cri.v1.images']\n${extra}\n[plugins.'io.containerd.cri.v1.images'.registry]\n  config_path = '/etc/containerd/certs.d:/etc/docker/certs.d'\n`;
    const transfer = checkCriConfigPath(v3(''), '/etc/containerd/certs.d');
    assert.equal(transfer.ok, false);
    assert.match(
      (transfer as { problem: string }).problem,
      /transfer service, which reads config_path .* as one directory/,
    );
    assert.deepEqual(checkCriConfigPath(v3('  use_local_image_pull = true'), '/etc/containerd/certs.d'), {
      ok: true,
    });
  });

  it('writes atomically, keeps a foreign file as backup, and restores it on remove', async () => {
    const hostsDir = join(dir, 'unit');
    const spec = { server: 'https://ghcr.io', endpoint: 'http://127.0.0.1:5050', dir: hostsDir };
    const file = join(hostsDir, 'ghcr.io', 'hosts.toml');

    // No previous file: written, then deleted with its directory on remove.
    assert.equal((await installHostsToml({ ...spec, registry: 'ghcr.io' })).action, 'written');
    assert.equal((await stat(file)).mode & 0o777, 0o644);
    assert.deepEqual(await readdir(join(hostsDir, 'ghcr.io')), ['hosts.toml'], 'no temporary files left');
    assert.equal((await installHostsToml({ ...spec, registry: 'ghcr.io' })).action, 'unchanged');
    assert.equal((await removeHostsToml(hostsDir, 'ghcr.io')).action, 'removed');
    assert.equal(await exists(join(hostsDir, 'ghcr.io')), false);
    assert.equal((await removeHostsToml(hostsDir, 'ghcr.io')).action, 'absent');

    // A file of someone else's: kept as the backup, survives rewrites, comes back on remove.
    const mine = 'server = "https://ghcr.io"\n\n[host."https://mirror.example"]\n  capabilities = ["pull"]\n';
    await mkdir(join(hostsDir, 'ghcr.io'), { recursive: true });
    await writeFile(file, mine);
    await writeFile(join(hostsDir, 'ghcr.io', 'ca.crt'), 'certificate');
    const merged = await installHostsToml({ ...spec, registry: 'ghcr.io' });
    assert.equal(merged.action, 'replaced', 'merged: the peer first, their file kept as the backup');
    assert.equal(await readFile(`${file}${BACKUP_SUFFIX}`, 'utf8'), mine);
    assert.deepEqual(Object.keys(parseHostsToml(await readFile(file, 'utf8')).hosts), [
      'http://127.0.0.1:5050',
      'https://mirror.example',
    ]);
    const updated = await installHostsToml({
      ...spec,
      endpoint: 'http://127.0.0.1:6060',
      registry: 'ghcr.io',
    });
    assert.equal(updated.action, 'updated');
    assert.equal(await readFile(`${file}${BACKUP_SUFFIX}`, 'utf8'), mine, 'a rewrite keeps the backup');
    assert.deepEqual(
      parseHostsToml(await readFile(file, 'utf8')).hosts,
      {
        'http://127.0.0.1:6060': ['pull', 'resolve'],
        'https://mirror.example': ['pull'],
      },
      'merged again from the original, with the new endpoint',
    );
    assert.equal((await removeHostsToml(hostsDir, 'ghcr.io')).action, 'restored');
    assert.equal(await readFile(file, 'utf8'), mine);
    assert.deepEqual((await readdir(join(hostsDir, 'ghcr.io'))).sort(), ['ca.crt', 'hosts.toml']);

    // A foreign file found on remove is left alone.
    assert.equal((await removeHostsToml(hostsDir, 'ghcr.io')).action, 'foreign');
    assert.equal(await readFile(file, 'utf8'), mine);
  });

  it('takes options from flags, SHOAL_* variables and a YAML file, and exits 2 on bad ones', async () => {
    const hostsDir = join(dir, 'cli');
    const yaml = join(dir, 'containerd-config.yaml');
    await writeFile(
      yaml,
      [
        'registry: [docker.io, quay.io]',
        'endpoint: http://127.0.0.1:7070',
        `dir: ${JSON.stringify(hostsDir)}`,
        'server:',
        '  quay.io: http://127.0.0.1:1',
        '',
      ].join('\n'),
    );
    const [fromFile, fromEnv, usage, badUrl, noRegistry] = await Promise.all([
      containerdConfig(['--config', yaml]),
      containerdConfig([], {
        SHOAL_REGISTRY: 'ghcr.io,registry.example:5000',
        SHOAL_ENDPOINT: 'http://127.0.0.1:7071',
        SHOAL_DIR: hostsDir,
      }),
      containerdConfig(['--registry', 'docker.io', '--endpoint', 'http://127.0.0.1:1', '--bogus']),
      containerdConfig(['--registry', 'docker.io', '--endpoint', '127.0.0.1:5050', '--dir', hostsDir]),
      containerdConfig(['--endpoint', 'http://127.0.0.1:5050', '--dir', hostsDir]),
    ]);
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.match(fromFile.stdout, /docker\.io: wrote .*docker\.io\/hosts\.toml/);
    const read = async (registry: string) =>
      parseHostsToml(await readFile(join(hostsDir, registry, 'hosts.toml'), 'utf8'));
    assert.deepEqual(await read('docker.io'), {
      server: 'https://registry-1.docker.io',
      hosts: { 'http://127.0.0.1:7070': ['pull', 'resolve'] },
    });
    assert.equal((await read('quay.io')).server, 'http://127.0.0.1:1', 'server override from YAML');
    assert.deepEqual(await read('registry.example:5000'), {
      server: 'https://registry.example:5000',
      hosts: { 'http://127.0.0.1:7071': ['pull', 'resolve'] },
    });
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /unknown option '--bogus'/);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /--endpoint \(flag --endpoint\): expected http\(s\):\/\/host:port/);
    assert.equal(noRegistry.code, 2);
    assert.match(noRegistry.stderr, /--registry .*at least one registry/);

    const removed = await containerdConfig(['--config', yaml], { SHOAL_REMOVE: 'true' });
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /quay\.io: removed/);
    assert.deepEqual((await readdir(hostsDir)).sort(), ['ghcr.io', 'registry.example:5000']);
  });

  it("refuses to write, exit 1, when the real containerd's CRI plugin would not read the directory", async () => {
    const hostsDir = join(dir, 'checked');
    const config = join(dir, 'containerd-config.toml');
    const args = ['--registry', 'docker.io', '--endpoint', 'http://127.0.0.1:5050', '--dir', hostsDir];
    await writeFile(config, 'version = 2\n');
    const unset = await containerdConfig([...args, '--containerd-config', config]);
    assert.equal(unset.code, 1, unset.stderr);
    assert.match(
      unset.stderr,
      /CRI plugin does not read .*checked: its registry config_path is not set, so the kubelet's pulls would bypass shoal/,
    );
    assert.match(
      unset.stderr,
      /\[plugins\."io\.containerd\.grpc\.v1\.cri"\.registry\]\n {4}config_path = ".*checked"/,
    );
    assert.match(unset.stderr, /Nothing written/);
    assert.equal(await exists(hostsDir), false, 'nothing written');
    // No config file: containerd runs with its defaults, whose config_path (1.6) is empty.
    const missing = await containerdConfig([...args, '--containerd-config', join(dir, 'no-such.toml')]);
    assert.equal(missing.code, 1, missing.stderr);
    await writeFile(
      config,
      `version = 2\n[plugins."io.containerd.grpc.v1.cri".registry]\n  config_path = ${JSON.stringify(hostsDir)}\n`,
    );
    const set = await containerdConfig([...args], { SHOAL_CONTAINERD_CONFIG: config });
    assert.equal(set.code, 0, set.stderr);
    assert.ok(await exists(join(hostsDir, 'docker.io', 'hosts.toml')));
  });

  it("containerd pulls any registry's image through _default, and keeps a merged file's own mirror for when the peer is down", async () => {
    const registry = await startRegistry();
    const containerd = await startContainerd();
    const peer = await startPeer({
      endpoints: { [REGISTRY_NAME]: registry.url, 'other.invalid:5000': registry.url },
    });
    const hostsDir = join(dir, 'certs.d-default');
    try {
      const [first, second] = await Promise.all([smallImage('default-1'), smallImage('default-2')]);
      await pushImage(registry.url, 'ops/first', 'v1', first);
      await pushImage(registry.url, 'ops/second', 'v1', second);
      const every = await containerdConfig([
        '--registry',
        '_default',
        '--endpoint',
        peer.url,
        '--dir',
        hostsDir,
      ]);
      assert.equal(every.code, 0, every.stderr);
      const pulledByPeer = async (ref: string, image: typeof first) => {
        const before = await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
        await ctrPull({ address: containerd.address, image: ref, hostsDir, timeoutMs: 120_000 });
        assert.equal(await ctrImageDigest(containerd.address, ref), image.digest);
        return (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' })) - before;
      };
      // other.invalid has no directory of its own: _default sends it to the peer (it cannot resolve).
      assert.ok((await pulledByPeer('other.invalid:5000/ops/first:v1', first)) >= first.totalBlobBytes);

      // The registry's own file, with a mirror of its own (the registry itself), merged by the CLI.
      const own = join(hostsDir, REGISTRY_NAME, 'hosts.toml');
      await mkdir(join(hostsDir, REGISTRY_NAME), { recursive: true });
      await writeFile(
        own,
        `server = "https://${REGISTRY_NAME}"\n\n[host."${registry.url}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
      const merged = await pointAt(REGISTRY_NAME, peer.url, hostsDir);
      assert.equal(merged.code, 0, merged.stderr);
      assert.match(merged.stdout, /the peer first, then the hosts of the previous file/);
      assert.deepEqual(Object.keys(parseHostsToml(await readFile(own, 'utf8')).hosts), [
        peer.url,
        registry.url,
      ]);
      await peer.stop();
      // The peer is gone: containerd goes on to the file's own mirror, which serves the image.
      const ref = `${REGISTRY_NAME}/ops/second:v1`;
      await ctrPull({ address: containerd.address, image: ref, hostsDir, timeoutMs: 120_000 });
      assert.equal(await ctrImageDigest(containerd.address, ref), second.digest);
    } finally {
      await peer.stop();
      await containerd.stop();
      await registry.stop();
    }
  });

  it('containerd pulls through a real peer using only the hosts.toml the CLI wrote', async () => {
    const registry = await startRegistry();
    const containerd = await startContainerd();
    const peer = await startPeer({ endpoints: { [REGISTRY_NAME]: registry.url } });
    try {
      const image = await smallImage('containerd-config');
      await pushImage(registry.url, 'ops/small', 'v1', image);
      const hostsDir = join(dir, 'certs.d');
      const existing = join(hostsDir, REGISTRY_NAME, 'hosts.toml');
      const original = `server = "https://${REGISTRY_NAME}"\n`;
      await mkdir(join(hostsDir, REGISTRY_NAME), { recursive: true });
      await writeFile(existing, original);

      // The server stays https://registry.invalid:5000, which cannot be reached.
      const wrote = await pointAt(REGISTRY_NAME, peer.url, hostsDir);
      assert.equal(wrote.code, 0, wrote.stderr);
      assert.deepEqual(parseHostsToml(await readFile(existing, 'utf8')), {
        server: `https://${REGISTRY_NAME}`,
        hosts: { [peer.url]: ['pull', 'resolve'] },
      });

      const before = await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
      const ref = `${REGISTRY_NAME}/ops/small:v1`;
      await ctrPull({ address: containerd.address, image: ref, hostsDir, timeoutMs: 120_000 });
      assert.equal(await ctrImageDigest(containerd.address, ref), image.digest);
      const content = await ctrContentDigests(containerd.address);
      for (const digest of image.allDigests) assert.ok(content.includes(digest), `containerd has ${digest}`);
      const grown = (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' })) - before;
      assert.ok(
        grown >= image.totalBlobBytes,
        `the peer fetched ${grown} bytes from origin, the image has ${image.totalBlobBytes}`,
      );

      const removed = await containerdConfig(['--remove', '--registry', REGISTRY_NAME, '--dir', hostsDir]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal(await readFile(existing, 'utf8'), original, 'the previous hosts.toml is back');
      assert.equal(await exists(`${existing}${BACKUP_SUFFIX}`), false);
    } finally {
      await peer.stop();
      await containerd.stop();
      await registry.stop();
    }
  });
});
