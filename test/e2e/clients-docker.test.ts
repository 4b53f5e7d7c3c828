import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { mountsUnder } from '../fixtures/clients.ts';
import { type RunningDockerd, startDockerd } from '../fixtures/engines.ts';
import { dockerV2Image, type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';

// The Docker engine mirrors Docker Hub only and names no registry in its requests: the peer answers
// them from --default-registry docker.io, which --registry-endpoint maps to a local registry. With no
// network, the engine's fallback (registry-1.docker.io) cannot answer: a pull that works came through the peer.

let registry: RunningRegistry | undefined;
let peer: RunningPeer | undefined;
let dockerd: RunningDockerd | undefined;
let dockerdDir = '';
let app: ImageDescription;
let official: ImageDescription;

before(async () => {
  registry = await startRegistry();
  [app, official] = await Promise.all([dockerV2Image('docker-engine'), smallImage('docker-engine')]);
  await pushImage(registry.url, 'shoaltest/app', '1', app);
  await pushImage(registry.url, 'library/busybox', '1.36', official);
  peer = await startPeer({ endpoints: { 'docker.io': registry.url }, defaultRegistry: 'docker.io' });
  // Fails the suite with dockerd's own words when the engine cannot start here: never a silent skip.
  dockerd = await startDockerd({ registryMirrors: [peer.url] });
  dockerdDir = dockerd.socket.slice(0, dockerd.socket.lastIndexOf('/'));
});

after(async () => {
  await dockerd?.stop();
  await peer?.stop();
  await registry?.stop();
  if (dockerdDir) assert.deepEqual(await mountsUnder(dockerdDir), [], 'dockerd left mounts behind');
});

describe('the Docker engine pulls Docker Hub names through the peer (registry-mirrors)', {
  timeout: 300_000,
}, () => {
  for (const [what, image, name, repository] of [
    ['a user image', () => app, 'shoaltest/app:1', 'shoaltest/app'],
    ['an official image (library/)', () => official, 'busybox:1.36', 'busybox'],
  ] as const) {
    it(`pulls ${what} and the peer served every blob of it`, async () => {
      const p = peer!;
      const originBefore = await p.metric('shoal_downloaded_bytes_total', { source: 'origin' });
      const servedBefore = await p.metric('shoal_endpoint_served_bytes_total');
      const manifestsBefore = await p.metric('shoal_endpoint_requests_total', {
        route: 'manifest',
        status: '200',
      });
      await dockerd!.pull(name);
      assert.deepEqual(await dockerd!.repoDigests(name), [`${repository}@${image().digest}`]);
      const originBytes =
        (await p.metric('shoal_downloaded_bytes_total', { source: 'origin' })) - originBefore;
      const servedBytes = (await p.metric('shoal_endpoint_served_bytes_total')) - servedBefore;
      assert.equal(originBytes, image().totalBlobBytes, 'every blob fetched from the origin once');
      assert.equal(servedBytes, image().totalBlobBytes, 'every blob served to the engine');
      const manifests =
        (await p.metric('shoal_endpoint_requests_total', { route: 'manifest', status: '200' })) -
        manifestsBefore;
      assert.ok(manifests >= 1, 'the manifest came from the peer');
    });
  }
});
