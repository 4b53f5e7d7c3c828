import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { digestFromHex, digestHex, isDigest, parseDigest, sha256Digest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';

const EMPTY = 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

function assertInvalid(value: string, pattern: RegExp): void {
  assert.throws(
    () => parseDigest(value),
    (error: unknown) =>
      error instanceof OciError && error.code === 'DIGEST_INVALID' && pattern.test(error.message),
  );
}

describe('digest', () => {
  it('hashes bytes and strings', () => {
    assert.equal(sha256Digest(new Uint8Array()), EMPTY);
    assert.equal(sha256Digest(''), EMPTY);
    assert.equal(
      sha256Digest('hello'),
      'sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
    );
  });

  it('parses valid digests and exposes the hex part', () => {
    assert.equal(parseDigest(EMPTY), EMPTY);
    assert.equal(isDigest(EMPTY), true);
    assert.equal(digestHex(parseDigest(EMPTY)), EMPTY.slice(7));
    assert.equal(digestFromHex(EMPTY.slice(7)), EMPTY);
  });

  it('rejects other algorithms, bad hex and garbage with a clear message', () => {
    assertInvalid(`sha512:${'a'.repeat(128)}`, /unsupported digest algorithm "sha512"/);
    assertInvalid(`sha256:${'A'.repeat(64)}`, /64 lowercase hex/);
    assertInvalid('sha256:abc', /64 lowercase hex/);
    assertInvalid('nonsense', /expected sha256/);
    assertInvalid('', /expected sha256/);
    assertInvalid(`sha256:${'a'.repeat(300)}`, /too long/);
    assert.equal(isDigest(`${EMPTY}\n`), false);
  });
});
