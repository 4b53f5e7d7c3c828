import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sha256Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import { fetchManifest, resolveImage } from '../src/image-resolve.ts';
import { MediaType } from '../src/media-types.ts';
import { parsePlatform } from '../src/platform.ts';
import { RegistryClient, type Upstream } from '../src/registry-client.ts';

const REPO = 'team/app';

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

const config = json({ architecture: 'arm64', os: 'linux' });
const layer = Buffer.from('layer bytes');
const descriptor = (mediaType: string, bytes: Buffer) => ({
  mediaType,
  digest: sha256Digest(bytes),
  size: bytes.length,
});
const arm64Manifest = json({
  schemaVersion: 2,
  mediaType: MediaType.ociManifest,
  config: descriptor(MediaType.ociConfig, config),
  // The same layer twice: listed once in the result.
  layers: [descriptor(MediaType.ociLayerGzip, layer), descriptor(MediaType.ociLayerGzip, layer)],
});
const index = json({
  schemaVersion: 2,
  mediaType: MediaType.ociIndex,
  manifests: [
    { ...descriptor(MediaType.ociManifest, arm64Manifest), platform: { os: 'linux', architecture: 'arm64' } },
  ],
});

/** Manifests by tag or digest; `lie` serves other bytes under a digest's name. */
const manifests = new Map<string, Buffer>([
  ['v1', index],
  ['single', arm64Manifest],
  [sha256Digest(index), index],
  [sha256Digest(arm64Manifest), arm64Manifest],
  [`sha256:${'0'.repeat(64)}`, arm64Manifest],
]);

describe('resolving an image', () => {
  let server: Server;
  let up: Upstream;
  const client = new RegistryClient({ maxRetries: 0 });

  before(async () => {
    server = createServer((req, res) => {
      const match = /^\/v2\/team\/app\/manifests\/([^?]+)/.exec(req.url ?? '');
      const bytes = match ? manifests.get(decodeURIComponent(match[1]!)) : undefined;
      if (!bytes) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown' }] }));
        return;
      }
      res.writeHead(200, { 'content-type': JSON.parse(bytes.toString()).mediaType });
      res.end(bytes);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    up = { registry: 'registry.test', url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  });
  after(async () => {
    await client.close();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('follows an index to the platform manifest and lists its blobs once each', async () => {
    const image = await resolveImage(client, up, REPO, 'v1', { platform: parsePlatform('linux/arm64') });
    assert.equal(image.top.digest, sha256Digest(index));
    assert.equal(image.top.parsed.kind, 'index');
    assert.equal(image.manifest.digest, sha256Digest(arm64Manifest));
    assert.deepEqual(image.platform, { os: 'linux', architecture: 'arm64' });
    assert.deepEqual(
      image.blobs.map((b) => b.digest),
      [sha256Digest(config), sha256Digest(layer)],
    );
    const single = await resolveImage(client, up, REPO, 'single');
    assert.equal(single.top, single.manifest, 'an image manifest is its own platform manifest');
  });

  it('names what is wrong: missing platform, unknown tag, bytes that do not match the digest', async () => {
    await assert.rejects(
      resolveImage(client, up, REPO, 'v1'),
      (error: Error) =>
        error instanceof OciError &&
        error.code === 'MANIFEST_UNKNOWN' &&
        /no linux\/amd64 manifest \(it has: linux\/arm64\)/.test(error.message),
    );
    await assert.rejects(
      fetchManifest(client, up, REPO, 'nope'),
      (error: Error) =>
        error instanceof OciError &&
        error.code === 'MANIFEST_UNKNOWN' &&
        /registry\.test\/team\/app:nope: registry answered 404: manifest unknown/.test(error.message),
    );
    await assert.rejects(
      fetchManifest(client, up, REPO, `sha256:${'0'.repeat(64)}`),
      (error: Error) =>
        error instanceof OciError && error.code === 'MANIFEST_INVALID' && /hashes to/.test(error.message),
    );
  });
});
