import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, skopeoCopyToOci, writeRegistriesConf } from '../fixtures/clients.ts';
import { request } from '../fixtures/http.ts';
import {
  type ImageDescription,
  layeredImage,
  multiArchImage,
  pushImage,
  smallImage,
} from '../fixtures/images.ts';
import { CommandError, run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer, RunningScheduler } from '../fixtures/shoal.ts';
import { SWARM_ORIGIN, startSwarm } from '../fixtures/swarm.ts';
import type { TcpProxy } from '../fixtures/tcp-proxy.ts';

const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');
/** The name images carry; it does not resolve, so only shoal (through the proxy) reaches the registry. */
const ORIGIN = SWARM_ORIGIN;
const PEERS = 3;
const MiB = 1024 * 1024;

async function shoal(
  args: string[],
): Promise<{ code: number | string | null; stdout: string; stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [SHOAL_BIN, ...args], { env, timeoutMs: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return { code: error.exitCode, stdout: error.stdout, stderr: error.stderr };
  }
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

interface JobView {
  id: string;
  state: string;
  digest: string;
  manifest: string;
  platform?: string;
  blobs: { total: number; done: number; failed: number };
  manifests: { total: number; done: number; failed: number };
  bytes: { total: number; done: number };
  peers: { id: string; objects: { total: number; done: number; failed: number } }[];
  error?: string;
  failures: unknown[];
}

describe('shoal preheat: peers fetch an image before anyone pulls it', { timeout: 300_000 }, () => {
  let work = '';
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let scheduler: RunningScheduler | undefined;
  const peers: RunningPeer[] = [];
  let multi: ImageDescription;
  let layered: ImageDescription;
  let small: ImageDescription;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-e2e-preheat-'));
    [registry, multi, layered, small] = await Promise.all([
      startRegistry(),
      multiArchImage('preheat'),
      layeredImage([10 * MiB, 3 * MiB], 'preheat'),
      smallImage('preheat'),
    ]);
    await pushImage(registry.url, 'preheat/multi', 'v1', multi);
    await pushImage(registry.url, 'preheat/layered', 'v1', layered);
    await pushImage(registry.url, 'preheat/small', 'v1', small);
    // Every byte the origin sends passes through the swarm's proxy, which counts them.
    const swarm = await startSwarm({
      originHost: registry.host,
      count: PEERS,
      schedulerArgs: (proxyUrl) => ['--registry-endpoint', `${ORIGIN}=${proxyUrl}`],
    });
    ({ proxy, scheduler } = swarm);
    peers.push(...swarm.peers);
  });

  after(async () => {
    await Promise.all(peers.map((p) => p.stop()));
    await scheduler?.stop();
    await proxy?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function job(id: string): Promise<JobView> {
    const response = await request(`${scheduler!.adminUrl}/api/v1/preheat/${id}`);
    assert.equal(response.status, 200);
    return JSON.parse(response.body.toString('utf8')) as JobView;
  }

  function jobIdOf(stdout: string): string {
    const id = /^preheat job ([0-9a-f-]{36}):/m.exec(stdout)?.[1];
    assert.ok(id, `the job id is printed: ${stdout}`);
    return id;
  }

  it('refuses bad input: 400 with the reason, 404 for an unknown job, 405, exit codes of the CLI', async () => {
    const post = (body: string, type = 'application/json') =>
      request(`${scheduler!.adminUrl}/api/v1/preheat`, {
        method: 'POST',
        headers: { 'content-type': type },
        body: Buffer.from(body),
      });
    const errorOf = (response: { body: Buffer }) =>
      (JSON.parse(response.body.toString('utf8')) as { error: string }).error;

    const empty = await post('{}');
    assert.equal(empty.status, 400);
    assert.match(errorOf(empty), /^image: required: an image reference/);
    const badScope = await post(JSON.stringify({ image: 'alpine', scope: 'everyone', platform: 'amd64' }));
    assert.equal(badScope.status, 400);
    assert.match(errorOf(badScope), /platform: invalid platform "amd64".*; scope: expected "seed" or "all"/);
    const badName = await post(JSON.stringify({ image: 'Not An Image' }));
    assert.equal(badName.status, 400);
    assert.match(errorOf(badName), /^image: invalid/);
    const notJson = await post('{"image":');
    assert.equal(notJson.status, 400);
    assert.match(errorOf(notJson), /not valid JSON/);
    assert.equal((await post('image=alpine', 'application/x-www-form-urlencoded')).status, 415);

    const unknown = await request(
      `${scheduler!.adminUrl}/api/v1/preheat/00000000-0000-0000-0000-000000000000`,
    );
    assert.equal(unknown.status, 404);
    assert.equal(errorOf(unknown), 'no such preheat job');
    assert.equal((await request(`${scheduler!.adminUrl}/api/v1/preheat/not%20an%20id`)).status, 404);
    assert.equal((await request(`${scheduler!.adminUrl}/api/v1/preheat`)).status, 405);

    // The CLI: a usage error exits 2; a job that fails (the tag does not exist) exits 1 with the reason.
    const usage = await shoal([
      'preheat',
      `${ORIGIN}/preheat/multi:v1`,
      '--scheduler-http',
      scheduler!.adminUrl,
      '--scope',
      'most',
    ]);
    assert.equal(usage.code, 2);
    assert.match(usage.stderr, /--scope .*expected seed or all/);
    const badRef = await shoal(['preheat', 'UPPER/case', '--scheduler-http', scheduler!.adminUrl]);
    assert.equal(badRef.code, 2);
    const missing = await shoal([
      'preheat',
      `${ORIGIN}/preheat/multi:v9`,
      '--scheduler-http',
      scheduler!.adminUrl,
    ]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /preheat of .*multi:v9 failed: cannot resolve .*registry answered 404/);
    const unreachable = await shoal(['preheat', 'alpine', '--scheduler-http', 'http://127.0.0.1:1']);
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /cannot reach the scheduler at http:\/\/127\.0\.0\.1:1/);
  });

  it("scope seed: two peers (the scheduler's --preheat-seeds default) fetch the image, the others nothing", async () => {
    const taken = await Promise.all(peers.map((p) => p.metric('shoal_downloaded_bytes_total')));
    const result = await shoal([
      'preheat',
      `${ORIGIN}/preheat/small:v1`,
      '--scheduler-http',
      scheduler!.adminUrl,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /on 2 peers: 4 blobs and 1 manifest, /);
    const view = await job(jobIdOf(result.stdout));
    assert.equal(view.state, 'succeeded');
    assert.equal(view.peers.length, 2);
    const seeded = new Set(view.peers.map((p) => p.id));
    for (const [i, peer] of peers.entries()) {
      const grew = (await peer.metric('shoal_downloaded_bytes_total')) - taken[i]!;
      if (seeded.has(peer.peerId)) assert.equal(grew, small.totalBlobBytes, `seed ${i} fetched the image`);
      else assert.equal(grew, 0, `peer ${i} was left alone`);
    }
  });

  it('scope all: every peer ends up holding every manifest and blob, the origin sending each blob about once', async () => {
    const amd64 = multi.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const amd64Blobs = [amd64.config, ...amd64.layers];
    const originBefore = proxy!.bytesDown;

    const result = await shoal([
      'preheat',
      `${ORIGIN}/preheat/multi:v1`,
      '--scheduler-http',
      scheduler!.adminUrl,
      '--scope',
      'all',
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(
        `preheated ${ORIGIN}/preheat/multi:v1 \\(${multi.digest}, linux/amd64\\) on 3 peers: 3 blobs and 2 manifests`,
      ),
    );
    const view = await job(jobIdOf(result.stdout));
    assert.equal(view.state, 'succeeded');
    assert.equal(view.digest, multi.digest, 'the tag was resolved to the index');
    assert.equal(view.manifest, amd64.digest, 'and the index to its linux/amd64 manifest');
    assert.deepEqual(view.blobs, {
      total: PEERS * amd64Blobs.length,
      done: PEERS * amd64Blobs.length,
      failed: 0,
    });
    assert.deepEqual(view.manifests, { total: PEERS * 2, done: PEERS * 2, failed: 0 });
    const blobBytes = amd64Blobs.reduce((n, b) => n + b.size, 0);
    assert.equal(view.bytes.done, PEERS * (blobBytes + multi.size + amd64.size));
    assert.deepEqual(sorted(view.peers.map((p) => p.id)), sorted(peers.map((p) => p.peerId)));

    // The larger image too, from the API directly: pieces of its 10 MiB layer travel between peers.
    const created = await request(`${scheduler!.adminUrl}/api/v1/preheat`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Buffer.from(JSON.stringify({ image: `${ORIGIN}/preheat/layered:v1`, scope: 'all' })),
    });
    assert.equal(created.status, 202, created.body.toString());
    const { id } = JSON.parse(created.body.toString('utf8')) as { id: string };
    let layeredView = await job(id);
    for (let i = 0; i < 600 && (layeredView.state === 'pending' || layeredView.state === 'running'); i++) {
      await new Promise((r) => setTimeout(r, 100));
      layeredView = await job(id);
    }
    assert.equal(layeredView.state, 'succeeded', JSON.stringify(layeredView));
    assert.equal(layeredView.digest, layered.digest);

    // What left the origin: every blob about once (pieces are shared), manifests per peer plus the scheduler's.
    const allBlobBytes = blobBytes + layered.totalBlobBytes;
    const manifestBytes = (PEERS + 1) * (multi.size + amd64.size + layered.size);
    const originBlobRatio = (proxy!.bytesDown - originBefore - manifestBytes) / allBlobBytes;
    assert.ok(originBlobRatio >= 0.99, `origin sent ${originBlobRatio.toFixed(3)}x the blob bytes`);
    assert.ok(originBlobRatio <= 1.3, `origin sent ${originBlobRatio.toFixed(3)}x the blob bytes`);
    const fromPeers = await Promise.all(
      peers.map((p) => p.metric('shoal_downloaded_bytes_total', { source: 'peer' })),
    );
    assert.ok(
      fromPeers.reduce((a, b) => a + b, 0) >= (PEERS - 1.3) * allBlobBytes,
      `peers fetched from each other: ${fromPeers.join(', ')}`,
    );

    // With the origin gone, a pull through each peer still gets the whole image: tag, manifests and blobs
    // all come from the peer's own cache, which takes in nothing more.
    await proxy!.stop();
    for (const [i, peer] of peers.entries()) {
      const taken = await peer.metric('shoal_downloaded_bytes_total');
      const conf = await writeRegistriesConf(join(work, `registries-${i}.conf`), {
        prefix: ORIGIN,
        mirror: peer.host,
      });
      for (const [name, image, digests] of [
        ['multi', multi, [multi.digest, amd64.digest, ...amd64Blobs.map((b) => b.digest)]],
        ['layered', layered, layered.allDigests],
      ] as const) {
        const dest = join(work, `pull-${name}-${i}`);
        await skopeoCopyToOci({
          image: `${ORIGIN}/preheat/${name}:v1`,
          destDir: dest,
          registriesConf: conf,
          timeoutMs: 60_000,
        });
        const layout = await ociLayoutDigests(dest, { verify: true });
        assert.deepEqual(
          layout.roots.map((r) => r.digest),
          [image.index ? amd64.digest : image.digest],
        );
        assert.deepEqual(layout.all, sorted(digests.filter((d) => d !== multi.digest)));
      }
      assert.equal(
        await peer.metric('shoal_downloaded_bytes_total'),
        taken,
        `peer ${i} fetched nothing more`,
      );
    }
  });
});
