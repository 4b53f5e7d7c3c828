import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { request } from '../fixtures/http.ts';
import { pushImage, smallImage } from '../fixtures/images.ts';
import { CommandError, run } from '../fixtures/proc.ts';
import { startRegistry } from '../fixtures/registry.ts';
import { startPeer } from '../fixtures/shoal.ts';

const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');

/** Runs `shoal peer ARGS` expecting it to refuse to start; returns its exit code and stderr. */
async function refusedPeer(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | string | null; stderr: string }> {
  // Loopback listeners, in case it started after all: it is then killed by the timeout and the test fails.
  const base = [
    'peer',
    '--registry',
    '127.0.0.1:0',
    '--http',
    '127.0.0.1:0',
    '--listen',
    '/ip4/127.0.0.1/tcp/0',
  ];
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  try {
    const result = await run(process.execPath, [SHOAL_BIN, ...base, ...args], {
      env: { ...clean, ...env },
      timeoutMs: 60_000,
    });
    assert.fail(`shoal peer ${args.join(' ')} exited 0\n${result.stderr}`);
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return { code: error.exitCode, stderr: error.stderr };
  }
}

describe('shoal peer configuration', { timeout: 120_000 }, () => {
  let dir = '';

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-e2e-cli-'));
  });

  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('exits with code 2 and names the option for invalid values, unknown flags and unknown YAML keys', async () => {
    const dataDir = join(dir, 'never-created');
    const typo = join(dir, 'typo.yaml');
    await writeFile(typo, 'cacheSize: 1GB\ncachesize: 2GB\n');
    const listed = join(dir, 'listed.yaml');
    await writeFile(listed, 'cacheSize: [1GB, 2GB]\n');
    const badKey = join(dir, 'bad-swarm.key');
    await writeFile(badKey, '/key/swarm/psk/1.0.0/\n/base16/\nnot-hex\n');
    // Each start costs seconds of module loading: run them side by side.
    const cases: { args: string[]; env?: NodeJS.ProcessEnv; message: RegExp }[] = [
      { args: ['--cache-size', 'lots'], message: /--cache-size \(flag --cache-size\): invalid size "lots"/ },
      { args: ['--registry', 'nope'], message: /--registry \(flag --registry\)/ },
      {
        args: ['--registry-endpoint', 'bad name=http://127.0.0.1:1'],
        message: /--registry-endpoint.*bad name/,
      },
      { args: ['--cache-sise', '1GB'], message: /unknown option '--cache-sise'/ },
      { args: ['--config', typo], message: /unknown option "cachesize"/ },
      { args: [], env: { SHOAL_CONFIG: typo }, message: /unknown option "cachesize"/ },
      {
        args: [],
        env: { SHOAL_CACHE_SIZE: 'huge' },
        message: /--cache-size \(environment variable SHOAL_CACHE_SIZE\)/,
      },
      {
        args: ['--registry', '127.0.0.1:99999'],
        message:
          /--registry \(flag --registry\): expected host:port with a port from 0 to 65535.*got "127\.0\.0\.1:99999"/,
      },
      {
        args: ['--listen', '/ip4/1.2.3/tcp/4601'],
        message:
          /--listen \(flag --listen\): "\/ip4\/1\.2\.3\/tcp\/4601": Invalid IPv4.*expected a multiaddr/,
      },
      {
        args: ['--psk-file', join(dir, 'no-such.key')],
        message: /--psk-file \(flag --psk-file\): cannot read .*no-such\.key/,
      },
      {
        args: [],
        env: { SHOAL_PSK_FILE: badKey },
        message:
          /--psk-file \(environment variable SHOAL_PSK_FILE\): .*bad-swarm\.key: not a swarm key \(third line is not 64 hex digits\)/,
      },
      {
        args: ['--config', listed],
        message:
          /--cache-size \(config file .*listed\.yaml\): expected one size such as 20GiB.*got \["1GB","2GB"\]/,
      },
      {
        args: ['--stale-tags', 'maybe'],
        message: /--stale-tags \(flag --stale-tags\): expected true or false .*got "maybe"/,
      },
    ];
    const results = await Promise.all(
      cases.map(({ args, env }) => refusedPeer([...args, '--data-dir', dataDir], env)),
    );
    for (const [i, { code, stderr }] of results.entries()) {
      const { args, env, message } = cases[i]!;
      const what = `${JSON.stringify(env ?? {})} ${args.join(' ')}`;
      assert.equal(code, 2, `${what}: exit code, stderr:\n${stderr}`);
      assert.match(stderr, message, what);
    }
    assert.ok(
      !(await readdir(dir)).includes('never-created'),
      'nothing was created for a refused configuration',
    );
  });

  it('warns that --listen and --psk-file do nothing for a peer without a scheduler', async () => {
    const key = join(dir, 'swarm.key');
    await writeFile(key, `/key/swarm/psk/1.0.0/\n/base16/\n${'ab'.repeat(32)}\n`);
    const peer = await startPeer({ extraArgs: ['--listen', '/ip4/127.0.0.1/tcp/0', '--psk-file', key] });
    try {
      assert.match(peer.daemon.output, /--listen \(flag --listen\) has no effect: without --scheduler/);
      assert.match(peer.daemon.output, /--psk-file \(flag --psk-file\) has no effect: without --scheduler/);
    } finally {
      await peer.stop();
    }
    const plain = await startPeer();
    try {
      assert.doesNotMatch(plain.daemon.output, /has no effect/);
    } finally {
      await plain.stop();
    }
  });

  it('runs with file < environment < flag precedence', async () => {
    const registry = await startRegistry();
    try {
      const image = await smallImage('cli');
      await pushImage(registry.url, 'cli/small', 'v1', image);
      const file = join(dir, 'peer.yaml');
      await writeFile(
        file,
        [
          'cacheSize: 1GB',
          'defaultRegistry: from-file.example:5000',
          'registryEndpoint:',
          '  from-file.example:5000: http://127.0.0.1:1',
          `  from-env.example:5000: ${registry.url}`,
          '',
        ].join('\n'),
      );
      const peer = await startPeer({
        env: {
          SHOAL_CACHE_SIZE: '2GB',
          SHOAL_DEFAULT_REGISTRY: 'from-env.example:5000',
          // Pairs add up: this one joins the file's mapping instead of replacing it.
          SHOAL_REGISTRY_ENDPOINT: 'other.example:5000=http://127.0.0.1:1',
        },
        extraArgs: ['--config', file, '--cache-size', '3MB'],
      });
      try {
        assert.equal(await peer.metric('shoal_store_capacity_bytes'), 3e6, 'flag over environment and file');
        // Requests without ?ns= go to the default registry: the environment's, which the file maps
        // (its mapping kept beside the environment's SHOAL_REGISTRY_ENDPOINT).
        const res = await request(`${peer.url}/v2/cli/small/manifests/v1`, {
          headers: { accept: image.mediaType },
        });
        assert.equal(res.status, 200, res.body.toString('utf8'));
        assert.deepEqual(res.body, image.bytes);
      } finally {
        await peer.stop();
      }
    } finally {
      await registry.stop();
    }
  });

  it('starts with its memory settings (same PID), unless they are given explicitly', async () => {
    /** The running peer's node flags and environment, as the kernel sees them. */
    const startup = async (pid: number) => {
      const read = async (file: string) => (await readFile(`/proc/${pid}/${file}`, 'utf8')).split('\0');
      return { argv: await read('cmdline'), env: await read('environ') };
    };
    const plain = await startPeer();
    try {
      const { argv, env } = await startup(plain.daemon.pid);
      assert.ok(argv.includes('--max-semi-space-size=2'), argv.join(' '));
      assert.ok(
        argv.indexOf('--max-semi-space-size=2') < argv.indexOf('peer'),
        'a node flag, before the script',
      );
      assert.ok(env.includes('MALLOC_ARENA_MAX=1'), 'one malloc arena');
      assert.equal((await request(`${plain.url}/v2/`)).status, 200, 'and it serves');
    } finally {
      await plain.stop();
    }
    const chosen = await startPeer({
      env: { NODE_OPTIONS: '--max-semi-space-size=8', MALLOC_ARENA_MAX: '4' },
    });
    try {
      const { argv, env } = await startup(chosen.daemon.pid);
      assert.ok(!argv.some((arg) => arg.startsWith('--max-semi-space-size')), argv.join(' '));
      assert.ok(env.includes('MALLOC_ARENA_MAX=4'));
    } finally {
      await chosen.stop();
    }
  });
});
