import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ctrContentDigests,
  ctrPull,
  ociLayoutDigests,
  type RunningContainerd,
  skopeoCopyToOci,
  startContainerd,
  writeHostsToml,
  writeRegistriesConf,
} from '../fixtures/clients.ts';
import { type ImageDescription, pushImage } from '../fixtures/images.ts';
import { ModelMediaTypes, modelArtifact } from '../fixtures/model-artifact.ts';
import { run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { SWARM_ORIGIN, type Swarm, startSwarm, stopSwarm, waitForPeers } from '../fixtures/swarm.ts';

/**
 * A model pushed as an OCI artifact (ModelPack media types, a weight layer of 2 GiB) travels through
 * shoal to every kind of client: skopeo, containerd's content fetch, `shoal get`, `shoal preheat`.
 */
const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');
const ORIGIN = SWARM_ORIGIN;
const REPO = 'models/tiny';
const REF = `${ORIGIN}/${REPO}:v1`;
const WEIGHT_BYTES = 2 * 1024 ** 3;

let registry: RunningRegistry | undefined;
let swarm: Swarm | undefined;
let containerd: RunningContainerd | undefined;
let model: ImageDescription;
let work = '';

const sorted = (values: Iterable<string>) => [...new Set(values)].sort();

async function shoal(args: string[]): Promise<string> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  const { stdout } = await run(process.execPath, [SHOAL_BIN, ...args], { env, timeoutMs: 300_000 });
  return stdout;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-model-'));
  [registry, model] = await Promise.all([startRegistry(), modelArtifact(WEIGHT_BYTES)]);
  await pushImage(registry.url, REPO, 'v1', model, { timeoutMs: 600_000 });
  swarm = await startSwarm({
    originHost: registry.host,
    count: 3,
    // The scheduler resolves what it preheats: it reaches the origin through the same proxy.
    schedulerArgs: (proxyUrl) => ['--registry-endpoint', `${ORIGIN}=${proxyUrl}`],
  });
});

after(async () => {
  await containerd?.stop();
  if (swarm) await stopSwarm(swarm);
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('model artifacts (ModelPack media types, a 2 GiB weight layer)', { timeout: 900_000 }, () => {
  it('the manifest is served as upstream has it: an artifact with its own config and layer types', async () => {
    const res = await streamGet(`${swarm!.peers[0]!.url}/v2/${REPO}/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      keepBody: true,
    });
    assert.equal(res.status, 200);
    assert.equal(res.digest, model.digest);
    const manifest = JSON.parse(res.body!.toString('utf8'));
    assert.equal(manifest.artifactType, ModelMediaTypes.artifact);
    assert.equal(manifest.config.mediaType, ModelMediaTypes.config);
    assert.deepEqual(
      manifest.layers.map((l: { mediaType: string }) => l.mediaType),
      [ModelMediaTypes.weightRaw, ModelMediaTypes.weightTar],
    );
  });

  it('skopeo copies it through a peer, every digest equal to the source', async () => {
    const conf = await writeRegistriesConf(join(work, 'registries.conf'), {
      prefix: ORIGIN,
      mirror: swarm!.peers[0]!.host,
    });
    const dest = join(work, 'skopeo');
    await skopeoCopyToOci({ image: REF, destDir: dest, registriesConf: conf, timeoutMs: 300_000 });
    const layout = await ociLayoutDigests(dest, { verify: true });
    assert.equal(layout.roots[0]?.digest, model.digest);
    assert.deepEqual(layout.all, sorted(model.allDigests));
  });

  it('containerd fetches its content through another peer (no unpack: it is no image)', async () => {
    containerd = await startContainerd();
    const hostsDir = join(work, 'hosts');
    await writeHostsToml(hostsDir, ORIGIN, {
      server: `http://${ORIGIN}`,
      mirror: `http://${swarm!.peers[1]!.host}`,
    });
    await ctrPull({ address: containerd.address, image: REF, hostsDir, unpack: false, timeoutMs: 300_000 });
    const content = await ctrContentDigests(containerd.address);
    for (const digest of model.allDigests) assert.ok(content.includes(digest), `containerd holds ${digest}`);
    const fromPeers = await swarm!.peers[1]!.metric('shoal_downloaded_bytes_total', { source: 'peer' });
    assert.ok(fromPeers > WEIGHT_BYTES / 2, `the second peer took the weights from the first: ${fromPeers}`);
    // Under CPU starvation parents stall and some pieces come from the origin instead.
    const origin = swarm!.proxy.bytesDown;
    assert.ok(origin < model.totalBlobBytes * 1.5, `origin sent ${origin} for ${model.totalBlobBytes}`);
  });

  it('shoal get writes it to an OCI layout', async () => {
    const dest = join(work, 'get');
    await shoal(['get', REF, '-o', dest, '--endpoint', swarm!.peers[0]!.url]);
    const layout = await ociLayoutDigests(dest, { verify: true });
    assert.deepEqual(layout.all, sorted(model.allDigests));
  });

  it('shoal preheat puts it on a peer no client asked, the origin sending it about once in all', async () => {
    for (const peer of swarm!.peers) {
      assert.equal(peer.daemon.hasExited, false, `a peer exited:\n${peer.daemon.output.slice(-3000)}`);
    }
    await waitForPeers(swarm!.scheduler, swarm!.peers.length);
    // A job whose peer lost its scheduler session on the way fails; as an operator would, ask again.
    const preheat = () =>
      shoal(['preheat', REF, '--scheduler-http', swarm!.scheduler.adminUrl, '--scope', 'all']);
    const stdout = await preheat().catch(async (error: Error) => {
      process.stderr.write(`preheat failed once, asked again: ${error.message.slice(-600)}\n`);
      await waitForPeers(swarm!.scheduler, swarm!.peers.length);
      return preheat();
    });
    assert.match(stdout, /preheated/);
    const third = swarm!.peers[2]!;
    const hitsBefore = await third.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' });
    const weight = model.blobs.find((b) => b.mediaType === ModelMediaTypes.weightRaw)!;
    const res = await streamGet(`${third.url}/v2/${REPO}/blobs/${weight.digest}`, { timeoutMs: 300_000 });
    assert.equal(res.digest, weight.digest);
    const hits = (await third.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' })) - hitsBefore;
    assert.equal(hits, WEIGHT_BYTES, 'served from its cache');
    // About once: a piece whose parent stalls (a starved machine) is fetched from the origin instead.
    const origin = swarm!.proxy.bytesDown;
    assert.ok(origin < model.totalBlobBytes * 1.5, `origin sent ${origin} for ${model.totalBlobBytes}`);
  });
});
