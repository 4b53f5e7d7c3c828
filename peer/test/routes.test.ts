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
    assert.deepEqual(parseRequestUrl('/v2/'), { route: { kind: 'base' }, registry: undefined, query: '' });
    assert.deepEqual(parseRequestUrl('/v2'), { route: { kind: 'base' }, registry: undefined, query: '' });
  });

  it('parses manifests by tag and by digest, with nested repository names', () => {
    assert.deepEqual(parseRequestUrl('/v2/library/alpine/manifests/3.20'), {
      route: { kind: 'manifest', name: 'library/alpine', reference: { tag: '3.20' } },
      registry: undefined,
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

  it('parses referrers of a digest, the artifactType filter kept in the query', () => {
    const parsed = parseRequestUrl(
      `/v2/team/app/referrers/${DIGEST}?artifactType=application%2Fspdx%2Bjson&ns=quay.io`,
    );
    assert.deepEqual(parsed?.route, { kind: 'referrers', name: 'team/app', digest: DIGEST });
    assert.equal(parsed?.registry, 'quay.io');
    assert.equal(new URLSearchParams(parsed?.query).get('artifactType'), 'application/spdx+json');
    assert.throws(() => parseRequestUrl('/v2/team/app/referrers/latest'), /digest/i);
  });

  it('takes ns out of the query and keeps the rest for pass-through', () => {
    const parsed = parseRequestUrl('/v2/x/tags/list?n=10&ns=registry.example%3A5000&last=b');
    assert.equal(parsed?.registry, 'registry.example:5000');
    assert.equal(parsed?.query, 'n=10&last=b');
    assert.equal(parseRequestUrl(`/v2/x/blobs/${DIGEST}?ns=docker.io`)?.registry, 'docker.io');
    assert.equal(parseRequestUrl('/v2/x/manifests/latest?foo=1')?.registry, undefined);
    assert.equal(parseRequestUrl('/v2/x/manifests/latest?ns=')?.registry, undefined);
  });

  it('takes a registry host leading the path as the registry when there is no ns', () => {
    assert.deepEqual(parseRequestUrl('/v2/quay.io/shared/app/manifests/1'), {
      route: { kind: 'manifest', name: 'shared/app', reference: { tag: '1' } },
      registry: 'quay.io',
      query: '',
    });
    assert.deepEqual(parseRequestUrl(`/v2/docker.io/library/alpine/blobs/${DIGEST}`), {
      route: { kind: 'blob', name: 'library/alpine', digest: DIGEST },
      registry: 'docker.io',
      query: '',
    });
    const withPort = parseRequestUrl('/v2/localhost:5000/team/app/tags/list?n=5');
    assert.deepEqual(withPort, {
      route: { kind: 'tags', name: 'team/app' },
      registry: 'localhost:5000',
      query: 'n=5',
    });
    assert.equal(parseRequestUrl('/v2/localhost/app/manifests/v1')?.registry, 'localhost');
    // A port as containers/image can write it in a mirror location: host_port.
    assert.equal(
      parseRequestUrl('/v2/registry.example_5000/app/manifests/v1')?.registry,
      'registry.example:5000',
    );
    assert.equal(parseRequestUrl('/v2/localhost_5000/app/manifests/v1')?.registry, 'localhost:5000');
    assert.equal(parseRequestUrl('/v2/my_app_2/x/manifests/v1')?.registry, undefined);
    assert.equal(parseRequestUrl('/v2/Registry.Example/app/manifests/v1')?.registry, 'Registry.Example');
  });

  it('leaves Docker Hub style names and single components alone', () => {
    assert.deepEqual(parseRequestUrl('/v2/shared/app/manifests/1')?.registry, undefined);
    assert.equal(parseRequestUrl('/v2/shared/app/manifests/1')?.route.kind, 'manifest');
    // A lone component is a repository, even with a dot: there is nothing left to be the repository.
    assert.deepEqual(parseRequestUrl('/v2/my.app/manifests/1'), {
      route: { kind: 'manifest', name: 'my.app', reference: { tag: '1' } },
      registry: undefined,
      query: '',
    });
  });

  it('with ns, keeps the whole path as the repository (containerd sends registry and repository apart)', () => {
    assert.deepEqual(parseRequestUrl('/v2/my.group/app/manifests/1?ns=registry.gitlab.com'), {
      route: { kind: 'manifest', name: 'my.group/app', reference: { tag: '1' } },
      registry: 'registry.gitlab.com',
      query: '',
    });
  });

  it('takes a configured registry without a dot as the registry too', () => {
    const configured = (name: string) => name === 'mirror';
    assert.equal(parseRequestUrl('/v2/mirror/app/manifests/1', configured)?.registry, 'mirror');
    assert.equal(parseRequestUrl('/v2/mirror/app/manifests/1', configured)?.route.kind, 'manifest');
    assert.equal(parseRequestUrl('/v2/other/app/manifests/1', configured)?.registry, undefined);
  });

  it('validates the repository that follows a registry in the path', () => {
    assertCode('/v2/quay.io/Shared/app/manifests/1', 'NAME_INVALID');
    assertCode('/v2/quay.io/../app/manifests/1', 'NAME_INVALID');
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
