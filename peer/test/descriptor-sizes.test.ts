import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest } from '@shoal/oci';
import { DescriptorSizes } from '../src/endpoint/descriptor-sizes.ts';
import { checkSize } from '../src/endpoint/origin-source.ts';
import { SizeMismatchError } from '../src/task/errors.ts';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;

describe('blob sizes from manifests', () => {
  it('remembers the config, layers and artifact blobs of a manifest, not the entries of an index', () => {
    const sizes = new DescriptorSizes();
    sizes.noteManifest(
      Buffer.from(
        JSON.stringify({
          config: { digest: digest(1), size: 10 },
          layers: [
            { digest: digest(2), size: 20 },
            { digest: digest(3), size: -1 },
          ],
          blobs: [{ digest: digest(4), size: 40 }],
        }),
      ),
    );
    sizes.noteManifest(Buffer.from(JSON.stringify({ manifests: [{ digest: digest(5), size: 50 }] })));
    sizes.noteManifest(Buffer.from('not json'));
    assert.equal(sizes.expected(digest(1)), 10);
    assert.equal(sizes.expected(digest(2)), 20);
    assert.equal(sizes.expected(digest(3)), undefined, 'a negative size is no size');
    assert.equal(sizes.expected(digest(4)), 40);
    assert.equal(sizes.expected(digest(5)), undefined);
  });

  it("refuses upstream's size when it is not the manifest's, and an empty body of another digest", () => {
    assert.equal(checkSize(digest(2), 20, 20), 20);
    assert.equal(checkSize(digest(2), 20_000_000_000, undefined), 20_000_000_000);
    assert.throws(() => checkSize(digest(2), 20_000_000_000, 20), SizeMismatchError);
    assert.throws(() => checkSize(digest(2), 0, undefined), /empty/);
  });
});
