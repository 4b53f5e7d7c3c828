import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import { MAX_MANIFEST_BYTES, parseManifest, referencedBlobs } from '../src/manifest.ts';
import { MediaType } from '../src/media-types.ts';

const CONFIG = sha256Digest('config');
const LAYER1 = sha256Digest('layer1');
const LAYER2 = sha256Digest('layer2');

function bytes(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}

function ociManifest(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: CONFIG, size: 6 },
    layers: [
      { mediaType: MediaType.ociLayerGzip, digest: LAYER1, size: 100 },
      { mediaType: MediaType.ociLayerGzip, digest: LAYER2, size: 0, annotations: { a: 'b' } },
    ],
    ...overrides,
  };
}

function assertCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(
    fn,
    (error: unknown) =>
      error instanceof OciError && error.code === code && (!pattern || pattern.test(error.message)),
  );
}

describe('parseManifest', () => {
  it('parses an OCI image manifest', () => {
    const m = parseManifest(bytes(ociManifest()));
    assert.deepEqual(m, {
      kind: 'image',
      mediaType: MediaType.ociManifest,
      config: { mediaType: MediaType.ociConfig, digest: CONFIG, size: 6 },
      layers: [
        { mediaType: MediaType.ociLayerGzip, digest: LAYER1, size: 100 },
        { mediaType: MediaType.ociLayerGzip, digest: LAYER2, size: 0 },
      ],
    });
    assert.deepEqual(
      referencedBlobs(m).map((d) => d.digest),
      [CONFIG, LAYER1, LAYER2],
    );
  });

  it('parses a Docker schema 2 manifest', () => {
    const m = parseManifest(
      bytes({
        schemaVersion: 2,
        mediaType: MediaType.dockerManifest,
        config: { mediaType: MediaType.dockerConfig, digest: CONFIG, size: 1469 },
        layers: [{ mediaType: MediaType.dockerLayerGzip, digest: LAYER1, size: 3_000_000_000 }],
      }),
    );
    assert.equal(m.kind, 'image');
    assert.equal(m.mediaType, MediaType.dockerManifest);
    assert.equal(m.kind === 'image' && m.layers[0]?.size, 3_000_000_000);
  });

  it('parses an OCI index and a Docker manifest list with platforms', () => {
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ociIndex,
      manifests: [
        {
          mediaType: MediaType.ociManifest,
          digest: LAYER1,
          size: 500,
          platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
        },
        {
          mediaType: MediaType.ociManifest,
          digest: LAYER2,
          size: 501,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    };
    const m = parseManifest(bytes(index));
    assert.equal(m.kind, 'index');
    assert.ok(m.kind === 'index');
    assert.deepEqual(m.manifests[0]?.platform, { os: 'linux', architecture: 'arm64', variant: 'v8' });
    assert.deepEqual(m.manifests[1]?.platform, { os: 'linux', architecture: 'amd64' });
    assert.deepEqual(referencedBlobs(m), []);

    const list = parseManifest(bytes({ ...index, mediaType: MediaType.dockerManifestList }));
    assert.equal(list.kind, 'index');
    assert.equal(list.mediaType, MediaType.dockerManifestList);
  });

  it('takes the media type from the hint, else infers it from the structure', () => {
    const { mediaType: _omitted, ...withoutType } = ociManifest();
    assert.equal(
      parseManifest(bytes(withoutType), `${MediaType.dockerManifest}; charset=utf-8`).mediaType,
      MediaType.dockerManifest,
    );
    assert.equal(parseManifest(bytes(withoutType)).mediaType, MediaType.ociManifest);
    assert.equal(
      parseManifest(bytes(withoutType), 'application/octet-stream').mediaType,
      MediaType.ociManifest,
    );
    const index = parseManifest(bytes({ schemaVersion: 2, manifests: [] }));
    assert.deepEqual(index, { kind: 'index', mediaType: MediaType.ociIndex, manifests: [] });
    // The document's own field wins over the hint.
    assert.equal(
      parseManifest(bytes(ociManifest()), MediaType.dockerManifest).mediaType,
      MediaType.ociManifest,
    );
  });

  it('rejects invalid digests and sizes naming the descriptor', () => {
    const bad = (layer: Record<string, unknown>) =>
      bytes(
        ociManifest({ layers: [{ mediaType: MediaType.ociLayerGzip, digest: LAYER1, size: 1, ...layer }] }),
      );
    assertCode(
      () => parseManifest(bad({ digest: 'sha256:1234' })),
      'MANIFEST_INVALID',
      /layers\[0\]\.digest/,
    );
    assertCode(
      () => parseManifest(bad({ digest: `md5:${'a'.repeat(32)}` })),
      'MANIFEST_INVALID',
      /layers\[0\]/,
    );
    assertCode(() => parseManifest(bad({ digest: 42 })), 'MANIFEST_INVALID', /digest/);
    assertCode(() => parseManifest(bad({ size: -1 })), 'MANIFEST_INVALID', /layers\[0\]\.size/);
    assertCode(() => parseManifest(bad({ size: 1.5 })), 'MANIFEST_INVALID', /size/);
    assertCode(() => parseManifest(bad({ size: '10' })), 'MANIFEST_INVALID', /size/);
    assertCode(() => parseManifest(bad({ size: 2 ** 60 })), 'MANIFEST_INVALID', /size/);
    assertCode(() => parseManifest(bad({ mediaType: '' })), 'MANIFEST_INVALID', /mediaType/);
    assertCode(
      () => parseManifest(bytes(ociManifest({ config: { mediaType: 'x', digest: 'nope', size: 1 } }))),
      'MANIFEST_INVALID',
      /config\.digest/,
    );
    assertCode(
      () =>
        parseManifest(
          bytes({
            schemaVersion: 2,
            manifests: [{ mediaType: 'x', digest: CONFIG, size: 1, platform: 'linux' }],
          }),
        ),
      'MANIFEST_INVALID',
      /manifests\[0\]\.platform/,
    );
  });

  it('rejects malformed documents', () => {
    assertCode(() => parseManifest(new TextEncoder().encode('{not json')), 'MANIFEST_INVALID', /JSON/);
    assertCode(() => parseManifest(new Uint8Array([0xff, 0xfe])), 'MANIFEST_INVALID', /UTF-8/);
    assertCode(() => parseManifest(bytes([1, 2])), 'MANIFEST_INVALID');
    assertCode(
      () => parseManifest(bytes(ociManifest({ schemaVersion: 3 }))),
      'MANIFEST_INVALID',
      /schemaVersion/,
    );
    assertCode(() => parseManifest(bytes(ociManifest({ layers: 'x' }))), 'MANIFEST_INVALID', /layers/);
    assertCode(() => parseManifest(bytes(ociManifest({ config: undefined }))), 'MANIFEST_INVALID', /config/);
    assertCode(
      () => parseManifest(bytes({ schemaVersion: 2, mediaType: MediaType.ociIndex, layers: [] })),
      'MANIFEST_INVALID',
      /manifests/,
    );
    assertCode(() => parseManifest(bytes({ schemaVersion: 2 })), 'MANIFEST_INVALID');
  });

  it('rejects oversized manifests before parsing', () => {
    const big = new Uint8Array(MAX_MANIFEST_BYTES + 1).fill(0x20);
    assertCode(() => parseManifest(big), 'MANIFEST_INVALID', /larger than/);
    assert.equal(MAX_MANIFEST_BYTES, 4 * 1024 * 1024);
  });

  it('rejects Docker schema 1 as unsupported', () => {
    const schema1 = { schemaVersion: 1, name: 'library/alpine', tag: 'latest', fsLayers: [], history: [] };
    assertCode(() => parseManifest(bytes(schema1)), 'UNSUPPORTED', /schema 1/);
    assertCode(
      () => parseManifest(bytes(ociManifest()), 'application/vnd.docker.distribution.manifest.v1+prettyjws'),
      'UNSUPPORTED',
    );
    assertCode(
      () =>
        parseManifest(
          bytes({ ...schema1, mediaType: 'application/vnd.docker.distribution.manifest.v1+json' }),
        ),
      'UNSUPPORTED',
    );
  });
});
