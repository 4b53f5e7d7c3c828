import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { exists, replaceByte } from '../fixtures/files.ts';
import { request } from '../fixtures/http.ts';
import {
  type BlobDescription,
  buildImage,
  type ImageDescription,
  pushImage,
  smallImage,
} from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';

const UNREACHABLE = 'registry.invalid:5000';
const MiB = 1024 * 1024;

/** Where docker-registry keeps the bytes of a blob (manifests included). */
function registryBlobPath(registry: RunningRegistry, digest: string): string {
  const hex = digest.slice('sha256:'.length);
  return join(registry.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
}

/** Every file under the peer's data dir whose name holds `hex`. */
async function filesNamed(dataDir: string, hex: string): Promise<string[]> {
  const entries = await readdir(dataDir, { recursive: true });
  return entries.filter((e) => e.includes(hex));
}

function assertNotServedClean(res: StreamedResponse, blob: BlobDescription, what: string): void {
  const clean = res.error === undefined && res.complete && res.status < 300 && res.bytes === blob.size;
  assert.equal(clean, false, `${what}: a complete clean body of wrong bytes was served`);
  assert.notEqual(res.digest, blob.digest, what);
  // Cut before the response head, cut during the body, or refused as an upstream error.
  assert.ok([0, 200, 206, 502].includes(res.status), `${what}: status ${res.status}`);
  if (res.status === 200 || res.status === 206) {
    // Headers went out before the mismatch was known: the body must be cut short.
    assert.ok(res.error !== undefined || !res.complete, `${what}: the body ended normally`);
    assert.ok(res.bytes < Number(res.headers['content-length']), `${what}: ${res.bytes} bytes received`);
  }
}

describe('the endpoint never serves bytes that do not match their digest', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let small: ImageDescription;
  let multiPiece: ImageDescription;

  const blobUrl = (repo: string, digest: string) => `${peer!.url}/v2/${repo}/blobs/${digest}`;

  before(async () => {
    registry = await startRegistry();
    const reg = registry;
    const [s, m] = await Promise.all([
      smallImage('integrity'),
      buildImage({
        name: 'integrity-pieces',
        format: 'oci',
        platforms: [
          {
            platform: { os: 'linux', architecture: 'amd64' },
            layers: [
              { compression: 'none', files: [{ path: 'data/pieces.bin', size: 12 * MiB, seed: 'pieces' }] },
            ],
          },
        ],
      }),
    ]);
    small = s;
    multiPiece = m;
    await pushImage(reg.url, 'integrity/small', 'v1', small);
    await pushImage(reg.url, 'integrity/pieces', 'v1', multiPiece);
    peer = await startPeer({ defaultRegistry: UNREACHABLE, endpoints: { [UNREACHABLE]: reg.url } });
  });

  afterEach(async () => {
    assert.equal(peer!.daemon.hasExited, false, `peer exited:\n${peer!.daemon.output}`);
    assert.equal((await request(`${peer!.adminUrl}/healthz`)).status, 200);
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
  });

  it('cuts off a multi-piece blob altered at the origin, twice, and stores nothing', async () => {
    const blob = multiPiece.manifests[0]!.layers[0]!;
    const hex = blob.digest.slice('sha256:'.length);
    await replaceByte(registryBlobPath(registry!, blob.digest), blob.size - 1000, (b) => b ^ 0xff);
    // The registry itself serves the altered bytes with a clean 200.
    const direct = await streamGet(`${registry!.url}/v2/integrity/pieces/blobs/${blob.digest}`);
    assert.equal(direct.status, 200);
    assert.equal(direct.complete, true);
    assert.notEqual(direct.digest, blob.digest);

    const failuresBefore = await peer!.metric('shoal_verification_failures_total', { kind: 'blob' });
    const noTask = () =>
      waitFor('no active task', async () => (await peer!.metric('shoal_active_tasks')) === 0);
    for (const attempt of ['first', 'second']) {
      const res = await streamGet(blobUrl('integrity/pieces', blob.digest));
      assertNotServedClean(res, blob, `${attempt} GET`);
      // The next request starts a new download rather than joining the failed one.
      await noTask();
    }
    // A range reaching into the last piece is cut off the same way.
    const ranged = await streamGet(blobUrl('integrity/pieces', blob.digest), {
      headers: { range: `bytes=${4 * MiB}-` },
    });
    assertNotServedClean(ranged, { ...blob, size: blob.size - 4 * MiB }, 'ranged GET');
    await noTask();

    assert.equal(await exists(join(peer!.dataDir, 'blobs/sha256', hex)), false);
    assert.deepEqual(await filesNamed(peer!.dataDir, hex), [], 'no blob, partial or bitmap kept');
    // Each mismatch is counted (once the task has wound down, just after the client saw the cut).
    await waitFor('three blob verification failures', async () => {
      const failures = await peer!.metric('shoal_verification_failures_total', { kind: 'blob' });
      return failures - failuresBefore === 3;
    });
    assert.equal(await peer!.metric('shoal_store_blobs'), 0);
  });

  it('cuts off a single-piece blob altered at the origin, and stores nothing', async () => {
    const blob = small.manifests[0]!.layers[2]!;
    assert.ok(blob.size < 4 * MiB);
    const hex = blob.digest.slice('sha256:'.length);
    await replaceByte(registryBlobPath(registry!, blob.digest), blob.size - 10, (b) => b ^ 0x01);
    for (const attempt of ['first', 'second']) {
      const res = await streamGet(blobUrl('integrity/small', blob.digest), { keepBody: true });
      assertNotServedClean(res, blob, `${attempt} GET`);
      if (res.status === 200)
        assert.equal(res.bytes, 0, 'nothing of a one-piece blob is sent before it is verified');
    }
    await waitFor('no active task', async () => (await peer!.metric('shoal_active_tasks')) === 0);
    assert.deepEqual(await filesNamed(peer!.dataDir, hex), []);
    // The other blobs of the image are fine and served.
    const good = small.manifests[0]!.layers[1]!;
    const res = await streamGet(blobUrl('integrity/small', good.digest));
    assert.equal(res.complete, true);
    assert.equal(res.digest, good.digest);
  });

  it('answers 502 to a manifest whose stored bytes were altered, and does not cache it', async () => {
    const manifest = small.manifests[0]!;
    const hex = manifest.digest.slice('sha256:'.length);
    // Indentation space -> tab: still valid JSON of the same size, but other bytes.
    const old = await replaceByte(registryBlobPath(registry!, manifest.digest), 2, () => 0x09);
    assert.equal(old, 0x20);
    const direct = await request(`${registry!.url}/v2/integrity/small/manifests/${manifest.digest}`, {
      headers: { accept: manifest.mediaType },
    });
    assert.equal(direct.status, 200, 'the registry serves the altered manifest');
    assert.notDeepEqual(direct.body, manifest.bytes);

    const failuresBefore = await peer!.metric('shoal_verification_failures_total', { kind: 'manifest' });
    for (const reference of [manifest.digest, manifest.digest, 'v1']) {
      const res = await streamGet(`${peer!.url}/v2/integrity/small/manifests/${reference}`, {
        headers: { accept: manifest.mediaType },
        keepBody: true,
      });
      assert.equal(res.status, 502, reference);
      assert.match(String(res.headers['content-type']), /^application\/json/);
      const body = JSON.parse(res.body!.toString('utf8')) as { errors: { code: string; message: string }[] };
      assert.equal(body.errors[0]!.code, 'MANIFEST_INVALID');
      assert.equal(typeof body.errors[0]!.message, 'string');
      assert.equal(res.headers['docker-content-digest'], undefined);
    }
    assert.deepEqual(await filesNamed(peer!.dataDir, hex), [], 'the manifest is not cached');
    const failures = await peer!.metric('shoal_verification_failures_total', { kind: 'manifest' });
    assert.equal(failures - failuresBefore, 3);
  });
});
