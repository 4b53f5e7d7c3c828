import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from '@shoal/oci';
import { parseRequestUrl } from '../src/endpoint/routes.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;

function assertCode(url: string, code: string): void {
  assert.throws(
    () => parseRequestUrl(url),
    (error: unknown) => error instanceof OciError && error.code === code,
    `${url.slice(0, 120)} should fail with ${code}`,
  );
}

describe('parseRequestUrl', () => {
  it('recognises the API base with and without a trailing slash', () => {
    assert.deepEqual(parseRequestUrl('/v2/'), { route: { kind: 'base' }, ns: undefined, query: '' });
    assert.deepEqual(parseRequestUrl('/v2'), { route: { kind: 'base' }, ns: undefined, query: '' });
  });

  it('parses manifests by tag and by digest, with nested repository names', () => {
    assert.deepEqual(parseRequestUrl('/v2/library/alpine/manifests/3.20'), {
      route: { kind: 'manifest', name: 'library/alpine', reference: { tag: '3.20' } },
      ns: undefined,
      query: '',
    });
    assert.deepEqual(parseRequestUrl(`/v2/a/b/c/manifests/${DIGEST}`)?.route, {
      kind: 'manifest',
      name: 'a/b/c',
      reference: { digest: DIGEST },
    });
  });

  it('parses blobs and tags/list', () => {
    assert.deepEqual(parseRequestUrl(`/v2/team/app/blobs/${DIGEST}`)?.route, {
      kind: 'blob',
      name: 'team/app',
      digest: DIGEST,
    });
    assert.deepEqual(parseRequestUrl('/v2/team/app/tags/list')?.route, { kind: 'tags', name: 'team/app' });
  });

  it('takes ns out of the query and keeps the rest for pass-through', () => {
    const parsed = parseRequestUrl('/v2/x/tags/list?n=10&ns=registry.example%3A5000&last=b');
    assert.equal(parsed?.ns, 'registry.example:5000');
    assert.equal(parsed?.query, 'n=10&last=b');
    assert.equal(parseRequestUrl(`/v2/x/blobs/${DIGEST}?ns=docker.io`)?.ns, 'docker.io');
    assert.equal(parseRequestUrl('/v2/x/manifests/latest?foo=1')?.ns, undefined);
  });

  it('decodes percent-encoded paths before validating them', () => {
    assert.deepEqual(parseRequestUrl('/v2/team%2Fapp/manifests/v1')?.route, {
      kind: 'manifest',
      name: 'team/app',
      reference: { tag: 'v1' },
    });
    assertCode('/v2/a/%2e%2e/b/manifests/v1', 'NAME_INVALID');
    assertCode('/v2/a/%zz/manifests/v1', 'NAME_INVALID');
  });

  it('returns undefined for paths that are not API routes', () => {
    for (const url of [
      '/',
      '/healthz',
      '/v1/x/manifests/latest',
      '/v2/x/manifests',
      '/v2/x/tags/other',
      '/v2/x/referrers/abc',
      '/v2/x/manifests/latest/extra',
    ]) {
      assert.equal(parseRequestUrl(url), undefined, url);
    }
  });

  it('rejects invalid repository names', () => {
    assertCode('/v2/Library/alpine/manifests/latest', 'NAME_INVALID');
    assertCode('/v2/a/../b/manifests/latest', 'NAME_INVALID');
    assertCode('/v2/a//b/manifests/latest', 'NAME_INVALID');
    assertCode('/v2/-a/manifests/latest', 'NAME_INVALID');
    assertCode(`/v2/${'a'.repeat(256)}/manifests/latest`, 'NAME_INVALID');
    // 255 characters is the limit, not an error.
    assert.equal(parseRequestUrl(`/v2/${'a'.repeat(255)}/manifests/latest`)?.route.kind, 'manifest');
  });

  it('rejects invalid tags', () => {
    assertCode('/v2/x/manifests/-leading-dash', 'TAG_INVALID');
    assertCode('/v2/x/manifests/.hidden', 'TAG_INVALID');
    assertCode(`/v2/x/manifests/${'t'.repeat(129)}`, 'TAG_INVALID');
    assertCode('/v2/x/manifests/a%20b', 'TAG_INVALID');
    assert.equal(parseRequestUrl(`/v2/x/manifests/${'t'.repeat(128)}`)?.route.kind, 'manifest');
  });

  it('rejects invalid digests on manifests and blobs', () => {
    assertCode(`/v2/x/manifests/sha512:${'a'.repeat(128)}`, 'DIGEST_INVALID');
    assertCode(`/v2/x/blobs/sha512:${'a'.repeat(128)}`, 'DIGEST_INVALID');
    assertCode('/v2/x/blobs/sha256:abc', 'DIGEST_INVALID');
    assertCode(`/v2/x/blobs/sha256:${'A'.repeat(64)}`, 'DIGEST_INVALID');
    assertCode('/v2/x/blobs/not-a-digest', 'DIGEST_INVALID');
    assertCode('/v2/x/manifests/sha256:', 'DIGEST_INVALID');
  });

  it('refuses the upload API and over-long URLs', () => {
    assertCode('/v2/x/blobs/uploads', 'UNSUPPORTED');
    assertCode(`/v2/x/manifests/latest?pad=${'p'.repeat(5000)}`, 'NAME_INVALID');
  });
});
