import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  ctrContentDigests,
  ctrImageDigest,
  ctrPull,
  ctrSnapshots,
  mountsUnder,
  ociLayoutDigests,
  type RunningContainerd,
  skopeoCopyToOci,
  skopeoInspectRaw,
  startContainerd,
  writeHostsToml,
  writeRegistriesConf,
} from '../fixtures/clients.ts';
import {
  bigLayerImage,
  dockerV2Image,
  type ImageDescription,
  multiArchImage,
  pushImage,
  smallImage,
} from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

/** The name clients use for the origin; it does not resolve, so only the mirror can answer. */
const UNREACHABLE = 'registry.invalid:5000';

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

function originBytes(peer: RunningPeer): Promise<number> {
  return peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
}

const images = new Map<string, ImageDescription>();
let registry: RunningRegistry | undefined;
let work = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-clients-'));
  // Each process is kept in a variable as soon as it runs, so that `after` stops it whatever fails next.
  registry = await startRegistry();
  const reg = registry;
  const [small, multi, docker, big] = await Promise.all([
    smallImage(),
    multiArchImage(),
    dockerV2Image(),
    bigLayerImage(),
  ]);
  images.set('small', small);
  images.set('multiarch', multi);
  images.set('dockerv2', docker);
  images.set('big', big);
  for (const [name, image] of images) await pushImage(reg.url, `clients/${name}`, 'v1', image);
});

after(async () => {
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('skopeo pulls through the endpoint as a registries.conf mirror', { timeout: 180_000 }, () => {
  let peer: RunningPeer | undefined;
  let conf = '';

  before(async () => {
    peer = await startPeer({
      defaultRegistry: UNREACHABLE,
      endpoints: { [UNREACHABLE]: registry!.url },
    });
    conf = await writeRegistriesConf(join(work, 'registries.conf'), {
      prefix: UNREACHABLE,
      mirror: peer.host,
    });
  });

  after(async () => {
    await peer?.stop();
  });

  for (const name of ['small', 'multiarch', 'dockerv2', 'big']) {
    it(`copies ${name} digest for digest, every blob fetched from the origin once`, async () => {
      const image = images.get(name)!;
      const p = peer!;
      const all = image.index !== undefined;
      const before = await originBytes(p);

      const mirroredDir = join(work, `skopeo-mirrored-${name}`);
      await skopeoCopyToOci({
        image: `${UNREACHABLE}/clients/${name}:v1`,
        destDir: mirroredDir,
        registriesConf: conf,
        all,
        timeoutMs: 150_000,
      });
      const mirrored = await ociLayoutDigests(mirroredDir, { verify: true });
      assert.deepEqual(mirrored.roots, [{ digest: image.digest, mediaType: image.mediaType, ref: 'v1' }]);
      assert.deepEqual(mirrored.all, sorted(image.allDigests));
      assert.deepEqual(mirrored.blobs, sorted(image.blobs.map((b) => b.digest)));

      // The same as a pull straight from the origin.
      const directDir = join(work, `skopeo-direct-${name}`);
      await skopeoCopyToOci({ image: `${registry!.host}/clients/${name}:v1`, destDir: directDir, all });
      const direct = await ociLayoutDigests(directDir);
      assert.deepEqual(mirrored.all, direct.all);
      assert.deepEqual(mirrored.roots, direct.roots);
      await Promise.all([mirroredDir, directDir].map((d) => rm(d, { recursive: true, force: true })));

      // The bytes came through the peer: every distinct blob exactly once from the origin.
      assert.equal((await originBytes(p)) - before, image.totalBlobBytes);

      // The manifest is served byte for byte.
      const raw = await skopeoInspectRaw({
        image: `${UNREACHABLE}/clients/${name}:v1`,
        registriesConf: conf,
      });
      assert.deepEqual(raw, image.bytes);
    });
  }

  it('serves a second copy from its store without going to the origin', async () => {
    const p = peer!;
    const image = images.get('small')!;
    const before = await originBytes(p);
    const hitsBefore = await p.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' });
    const destDir = join(work, 'skopeo-again');
    await skopeoCopyToOci({ image: `${UNREACHABLE}/clients/small:v1`, destDir, registriesConf: conf });
    const layout = await ociLayoutDigests(destDir, { verify: true });
    assert.deepEqual(layout.all, sorted(image.allDigests));
    assert.equal(await originBytes(p), before);
    const hits = (await p.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' })) - hitsBefore;
    assert.equal(hits, image.totalBlobBytes);
  });
});

describe('containerd pulls through the endpoint as a hosts.toml mirror', { timeout: 180_000 }, () => {
  let peer: RunningPeer | undefined;
  let containerd: RunningContainerd | undefined;
  let proxy: TcpProxy | undefined;
  let hostsDir = '';

  before(async () => {
    containerd = await startContainerd();
    peer = await startPeer({ defaultRegistry: UNREACHABLE, endpoints: { [UNREACHABLE]: registry!.url } });
    hostsDir = join(work, 'hosts');
    await writeHostsToml(hostsDir, UNREACHABLE, { server: `http://${UNREACHABLE}`, mirror: peer.url });
  });

  after(async () => {
    const dir = containerd?.dir;
    try {
      await proxy?.stop();
      await containerd?.stop();
    } finally {
      await peer?.stop();
    }
    if (dir) assert.deepEqual(await mountsUnder(dir), [], 'containerd left mounts behind');
  });

  it('pulls and unpacks the small image', async () => {
    const p = peer!;
    const { address } = containerd!;
    const image = images.get('small')!;
    const ref = `${UNREACHABLE}/clients/small:v1`;
    const before = await originBytes(p);
    await ctrPull({ address, image: ref, hostsDir, platform: 'linux/amd64' });
    assert.equal(await ctrImageDigest(address, ref), image.digest);
    assert.deepEqual(await ctrContentDigests(address), sorted(image.allDigests));
    assert.equal((await ctrSnapshots(address)).length, image.manifests[0]!.layers.length);
    assert.equal((await originBytes(p)) - before, image.totalBlobBytes);
    // containerd names the registry it wants with ?ns=; those requests were answered from this peer.
    assert.ok((await p.metric('shoal_endpoint_requests_total', { route: 'blob', status: '200' })) >= 4);
  });

  it('pulls and unpacks its platform of the multi-platform index', async () => {
    const p = peer!;
    const { address } = containerd!;
    const image = images.get('multiarch')!;
    const amd64 = image.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const arm64 = image.manifests.find((m) => m.platform.architecture === 'arm64')!;
    const ref = `${UNREACHABLE}/clients/multiarch:v1`;
    const before = await originBytes(p);
    const contentBefore = await ctrContentDigests(address);
    await ctrPull({ address, image: ref, hostsDir, platform: 'linux/amd64' });
    assert.equal(await ctrImageDigest(address, ref), image.digest);
    const expected = [image.digest, amd64.digest, amd64.config.digest, ...amd64.layers.map((l) => l.digest)];
    assert.deepEqual(await ctrContentDigests(address), sorted([...contentBefore, ...expected]));
    assert.ok(!(await ctrContentDigests(address)).includes(arm64.config.digest), 'arm64 config not fetched');
    const amd64Bytes = amd64.config.size + amd64.layers.reduce((n, l) => n + l.size, 0);
    assert.equal((await originBytes(p)) - before, amd64Bytes);
    const snapshots = await ctrSnapshots(address);
    assert.equal(snapshots.length, images.get('small')!.manifests[0]!.layers.length + amd64.layers.length);
  });

  it('resumes a cut-off blob download with a Range request answered 206', async () => {
    const p = peer!;
    const { address } = containerd!;
    const image = images.get('big')!;
    const bigLayer = image.manifests[0]!.layers[0]!;
    proxy = await startTcpProxy({ target: p.host, cutAfterBytes: 60e6 });
    const cutHosts = join(work, 'hosts-cut');
    await writeHostsToml(cutHosts, UNREACHABLE, { server: `http://${UNREACHABLE}`, mirror: proxy.url });
    const ref = `${UNREACHABLE}/clients/big:v1`;
    const partials = await p.metric('shoal_endpoint_requests_total', { route: 'blob', status: '206' });
    const before = await originBytes(p);

    await ctrPull({ address, image: ref, hostsDir: cutHosts, platform: 'linux/amd64', timeoutMs: 150_000 });

    assert.equal(proxy.cuts, 1, 'the proxy cut one response');
    assert.equal(await ctrImageDigest(address, ref), image.digest);
    const content = new Set(await ctrContentDigests(address));
    for (const digest of image.allDigests) assert.ok(content.has(digest), `${digest} in containerd`);
    // Every blob came from the origin once, despite the cut between containerd and the peer.
    assert.equal((await originBytes(p)) - before, image.totalBlobBytes);

    const blobPath = `/blobs/${bigLayer.digest}`;
    const layerRequests = proxy.requestHeads.filter((h) => h.split('\r\n')[0]!.includes(blobPath));
    const resumed = layerRequests
      .map((head) => /^range:\s*bytes=(\d+)-\s*$/im.exec(head))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => Number(m[1]));
    // containerd asks for the rest from the byte it had stored when the connection was cut.
    assert.ok(
      resumed.some((offset) => offset > 0 && offset <= 60e6),
      `a Range: bytes=N- request for the layer; heads seen:\n${layerRequests.join('\n---\n')}`,
    );
    const answered =
      (await p.metric('shoal_endpoint_requests_total', { route: 'blob', status: '206' })) - partials;
    assert.ok(answered >= 1, 'the ranged request was answered with 206');
  });
});
