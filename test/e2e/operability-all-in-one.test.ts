import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, skopeoCopyToOci, writeRegistriesConf } from '../fixtures/clients.ts';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { freePort, waitFor } from '../fixtures/net.ts';
import { CommandError, Daemon, run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { sumSamples } from '../fixtures/shoal.ts';

const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');
/** The name clients use for the origin; it does not resolve, so only the mirror can answer. */
const UNREACHABLE = 'registry.invalid:5000';

/** The environment without SHOAL_* variables of the caller. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
}

async function metrics(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  assert.equal(res.status, 200, `${adminUrl}/metrics`);
  return res.body.toString('utf8');
}

describe('shoal all-in-one', { timeout: 240_000 }, () => {
  let registry: RunningRegistry | undefined;
  let daemon: Daemon | undefined;
  let image: ImageDescription;
  let work = '';
  let dataDir = '';
  let endpoint = '';
  let peerAdmin = '';
  let schedulerAdmin = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-e2e-all-in-one-'));
    dataDir = join(work, 'data');
    registry = await startRegistry();
    image = await smallImage('all-in-one');
    await pushImage(registry.url, 'aio/small', 'v1', image);
    const [registryPort, httpPort, schedulerHttpPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    endpoint = `127.0.0.1:${registryPort}`;
    peerAdmin = `http://127.0.0.1:${httpPort}`;
    schedulerAdmin = `http://127.0.0.1:${schedulerHttpPort}`;
    daemon = new Daemon(
      'shoal all-in-one',
      process.execPath,
      [
        SHOAL_BIN,
        'all-in-one',
        '--registry',
        endpoint,
        '--http',
        `127.0.0.1:${httpPort}`,
        '--scheduler-http',
        `127.0.0.1:${schedulerHttpPort}`,
        '--listen',
        '/ip4/127.0.0.1/tcp/0',
        '--scheduler-listen',
        '/ip4/127.0.0.1/tcp/0',
        '--data-dir',
        dataDir,
        '--registry-endpoint',
        `${UNREACHABLE}=${registry.url}`,
        '--default-registry',
        UNREACHABLE,
        '--log-level',
        'warn',
      ],
      { env: cleanEnv() },
    );
    const d = daemon;
    await waitFor(
      'both admin endpoints ready',
      async () => {
        for (const admin of [peerAdmin, schedulerAdmin]) {
          try {
            if ((await request(`${admin}/readyz`, { timeoutMs: 1000 })).status !== 200) return false;
          } catch {
            return false;
          }
        }
        return true;
      },
      { timeoutMs: 60_000, abort: () => d.exitError() },
    );
  });

  after(async () => {
    await daemon?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('runs the peer joined to its own scheduler, each in a subdirectory of the data dir', async () => {
    await waitFor('the peer registered with the in-process scheduler', async () => {
      const info = JSON.parse((await request(`${peerAdmin}/api/v1/info`)).body.toString('utf8')) as {
        schedulersConnected: number;
      };
      return (
        info.schedulersConnected === 1 &&
        sumSamples(await metrics(schedulerAdmin), 'shoal_scheduler_peers') === 1
      );
    });
    assert.deepEqual((await readdir(dataDir)).sort(), ['peer', 'scheduler']);
    assert.ok((await readdir(join(dataDir, 'scheduler'))).includes('identity.key'));
    assert.ok((await readdir(join(dataDir, 'peer'))).includes('identity.key'));
  });

  it('serves an image to skopeo through its endpoint, digest for digest, with the pieces assigned by its scheduler', async () => {
    const conf = await writeRegistriesConf(join(work, 'registries.conf'), {
      prefix: UNREACHABLE,
      mirror: endpoint,
    });
    const dest = join(work, 'pulled');
    await skopeoCopyToOci({ image: `${UNREACHABLE}/aio/small:v1`, destDir: dest, registriesConf: conf });
    const pulled = await ociLayoutDigests(dest, { verify: true });
    assert.deepEqual(pulled.roots, [{ digest: image.digest, mediaType: image.mediaType, ref: 'v1' }]);
    assert.deepEqual(pulled.blobs, [...new Set(image.blobs.map((b) => b.digest))].sort());
    const peerText = await metrics(peerAdmin);
    assert.equal(
      sumSamples(peerText, 'shoal_downloaded_bytes_total', { source: 'origin' }),
      image.totalBlobBytes,
    );
    assert.ok(
      sumSamples(await metrics(schedulerAdmin), 'shoal_scheduler_assignments_total') > 0,
      'the scheduler assigned pieces',
    );
  });

  it('answers /healthz and /metrics on both admin endpoints, each with its own series', async () => {
    for (const [admin, service] of [
      [peerAdmin, 'peer'],
      [schedulerAdmin, 'scheduler'],
    ] as const) {
      const health = await request(`${admin}/healthz`);
      assert.equal(health.status, 200, `${service} /healthz`);
      assert.deepEqual(JSON.parse(health.body.toString('utf8')), { status: 'ok' });
      const text = await metrics(admin);
      assert.ok(
        sumSamples(text, 'process_cpu_user_seconds_total', { service }) > 0,
        `${service} process metrics`,
      );
      // One libp2p connection each: the peer's to its scheduler, seen from both ends.
      const direction = service === 'peer' ? 'outbound' : 'inbound';
      assert.equal(
        sumSamples(text, 'libp2p_connection_manager_connections', {
          service,
          libp2p_connection_manager_connections: direction,
        }),
        1,
        `${service}'s libp2p connections`,
      );
    }
    assert.ok(sumSamples(await metrics(peerAdmin), 'shoal_endpoint_requests_total') > 0);
  });

  it('exits 0 on SIGTERM', async () => {
    await daemon!.stop(20_000);
    assert.deepEqual(await daemon!.exited, { code: 0, signal: null }, daemon!.output);
  });

  it("refuses the peer's --scheduler (it joins its own) with exit code 2", async () => {
    try {
      await run(process.execPath, [SHOAL_BIN, 'all-in-one', '--scheduler', '/ip4/127.0.0.1/tcp/1'], {
        env: cleanEnv(),
        timeoutMs: 30_000,
      });
      assert.fail('shoal all-in-one --scheduler started');
    } catch (error) {
      if (!(error instanceof CommandError)) throw error;
      assert.equal(error.exitCode, 2);
      assert.match(error.stderr, /unknown option '--scheduler'/);
    }
  });
});
