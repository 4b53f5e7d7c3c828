import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sha256Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import { MAX_MANIFEST_BYTES } from '../src/manifest.ts';
import { MediaType } from '../src/media-types.ts';
import { verifyReferrersAnswer } from '../src/referrers.ts';

const SBOM = 'application/spdx+json';
const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

function descriptor(artifactType: string | undefined, seed: string) {
  return {
    mediaType: MediaType.ociManifest,
    digest: sha256Digest(seed),
    size: 512,
    ...(artifactType ? { artifactType } : {}),
  };
}

function index(manifests: unknown[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests, ...extra }),
  );
}

function refused(fn: () => unknown, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OciError);
    assert.equal(error.code, 'MANIFEST_INVALID');
    assert.match(error.message, message);
    return true;
  });
}

describe('verifyReferrersAnswer', () => {
  const both = [descriptor(SBOM, 'a'), descriptor(SIGNATURE, 'b')];

  it('passes an OCI image index through unchanged, an empty one included', () => {
    const bytes = index(both);
    const answer = verifyReferrersAnswer(bytes, MediaType.ociIndex);
    assert.equal(answer.bytes, bytes);
    assert.deepEqual(answer.filtersApplied, []);
    assert.equal(
      verifyReferrersAnswer(index([]), `${MediaType.ociIndex}; charset=utf-8`).bytes.length > 0,
      true,
    );
    // Without a mediaType field, the Content-Type says what it is.
    const bare = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: both }));
    assert.equal(verifyReferrersAnswer(bare, MediaType.ociIndex).bytes, bare);
  });

  it('filters by artifactType when upstream did not, and says so; keeps what upstream filtered', () => {
    const filtered = verifyReferrersAnswer(index(both), MediaType.ociIndex, { artifactType: SBOM });
    assert.deepEqual(filtered.filtersApplied, ['artifactType']);
    const doc = JSON.parse(filtered.bytes.toString('utf8')) as { mediaType: string; manifests: unknown[] };
    assert.equal(doc.mediaType, MediaType.ociIndex);
    assert.deepEqual(doc.manifests, [both[0]]);

    const bytes = index([both[1]]);
    const upstream = verifyReferrersAnswer(bytes, MediaType.ociIndex, {
      artifactType: SIGNATURE,
      upstreamFilters: 'artifactType',
    });
    assert.equal(upstream.bytes, bytes);
    assert.deepEqual(upstream.filtersApplied, ['artifactType']);
  });

  it('refuses what is not an OCI image index', () => {
    refused(() => verifyReferrersAnswer(Buffer.from('<html>'), 'text/html'), /Content-Type text\/html/);
    refused(() => verifyReferrersAnswer(Buffer.from('not json'), MediaType.ociIndex), /not valid JSON/);
    refused(
      () =>
        verifyReferrersAnswer(index(both, { mediaType: MediaType.dockerManifestList }), MediaType.ociIndex),
      /not an OCI image index/,
    );
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: descriptor(undefined, 'c'),
        layers: [],
      }),
    );
    refused(() => verifyReferrersAnswer(manifest, MediaType.ociIndex), /not an OCI image index/);
    refused(
      () => verifyReferrersAnswer(index([{ ...both[0], digest: 'sha256:nothex' }]), MediaType.ociIndex),
      /digest/,
    );
    refused(
      () => verifyReferrersAnswer(index([{ ...both[0], artifactType: 7 }]), MediaType.ociIndex),
      /artifactType/,
    );
    refused(
      () => verifyReferrersAnswer(Buffer.alloc(MAX_MANIFEST_BYTES + 1, 0x20), MediaType.ociIndex),
      /larger than/,
    );
  });
});
