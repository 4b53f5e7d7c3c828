import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError } from '../src/errors.ts';
import {
  formatReference,
  normalizeRegistry,
  parseReference,
  validateRepository,
  validateTag,
} from '../src/reference.ts';

const DIGEST = `sha256:${'a'.repeat(64)}`;

function assertCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (error: unknown) => error instanceof OciError && error.code === code);
}

describe('parseReference', () => {
  it('normalises Docker Hub short names with library/ and latest', () => {
    assert.deepEqual(parseReference('alpine'), {
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    });
    assert.deepEqual(parseReference('alpine:3.20'), {
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: '3.20',
    });
  });

  it('keeps user repositories on Docker Hub without library/', () => {
    assert.deepEqual(parseReference('bitnami/redis:7'), {
      registry: 'docker.io',
      repository: 'bitnami/redis',
      tag: '7',
    });
  });

  it('collapses Docker Hub aliases to docker.io', () => {
    assert.equal(parseReference('index.docker.io/library/busybox').registry, 'docker.io');
    assert.equal(parseReference('registry-1.docker.io/busybox').repository, 'library/busybox');
    assert.equal(parseReference('docker.io/busybox').repository, 'library/busybox');
  });

  it('recognises registries by dot, port or localhost', () => {
    assert.deepEqual(parseReference('ghcr.io/org/app:v1'), {
      registry: 'ghcr.io',
      repository: 'org/app',
      tag: 'v1',
    });
    assert.deepEqual(parseReference('127.0.0.1:5000/app'), {
      registry: '127.0.0.1:5000',
      repository: 'app',
      tag: 'latest',
    });
    assert.deepEqual(parseReference('localhost/app:dev'), {
      registry: 'localhost',
      repository: 'app',
      tag: 'dev',
    });
    assert.deepEqual(parseReference('localhost:5000/a/b/c'), {
      registry: 'localhost:5000',
      repository: 'a/b/c',
      tag: 'latest',
    });
    assert.equal(parseReference('Registry.Example.COM/app').registry, 'registry.example.com');
  });

  it('treats a first component without dot or port as a Docker Hub namespace', () => {
    assert.deepEqual(parseReference('myorg/app'), {
      registry: 'docker.io',
      repository: 'myorg/app',
      tag: 'latest',
    });
  });

  it('parses digests, alone and with a tag', () => {
    assert.deepEqual(parseReference(`alpine@${DIGEST}`), {
      registry: 'docker.io',
      repository: 'library/alpine',
      digest: DIGEST,
    });
    assert.deepEqual(parseReference(`localhost:5000/app:1.0@${DIGEST}`), {
      registry: 'localhost:5000',
      repository: 'app',
      tag: '1.0',
      digest: DIGEST,
    });
  });

  it('round-trips through formatReference', () => {
    assert.equal(formatReference(parseReference('alpine')), 'docker.io/library/alpine:latest');
    assert.equal(formatReference(parseReference(`ghcr.io/a/b:c@${DIGEST}`)), `ghcr.io/a/b:c@${DIGEST}`);
  });

  it('rejects invalid input with the right code', () => {
    assertCode(() => parseReference(''), 'NAME_INVALID');
    assertCode(() => parseReference('UPPER/case'), 'NAME_INVALID');
    assertCode(() => parseReference('a//b'), 'NAME_INVALID');
    assertCode(() => parseReference('ghcr.io/'), 'NAME_INVALID');
    assertCode(() => parseReference('x'.repeat(600)), 'NAME_INVALID');
    assertCode(() => parseReference('alpine:bad tag'), 'TAG_INVALID');
    assertCode(() => parseReference('alpine:.dot'), 'TAG_INVALID');
    assertCode(() => parseReference(`alpine:${'t'.repeat(129)}`), 'TAG_INVALID');
    assertCode(() => parseReference('alpine@sha256:abc'), 'DIGEST_INVALID');
    assertCode(() => parseReference(`alpine@sha512:${'a'.repeat(128)}`), 'DIGEST_INVALID');
  });
});

describe('validators', () => {
  it('validateRepository accepts the distribution grammar', () => {
    assert.equal(validateRepository('a/b-c/d_e/f__g/h.i'), 'a/b-c/d_e/f__g/h.i');
    assertCode(() => validateRepository('a/-b'), 'NAME_INVALID');
    assertCode(() => validateRepository('../etc'), 'NAME_INVALID');
  });

  it('validateTag', () => {
    assert.equal(validateTag('v1.2.3-rc_1'), 'v1.2.3-rc_1');
    assertCode(() => validateTag('-x'), 'TAG_INVALID');
    assertCode(() => validateTag(''), 'TAG_INVALID');
  });

  it('normalizeRegistry lowercases and rejects garbage', () => {
    assert.equal(normalizeRegistry('INDEX.docker.io'), 'docker.io');
    assert.equal(normalizeRegistry('[::1]:5000'), '[::1]:5000');
    assertCode(() => normalizeRegistry('bad host'), 'NAME_INVALID');
    assertCode(() => normalizeRegistry('host/path'), 'NAME_INVALID');
  });

  it('normalizeRegistry rejects what cannot be a host name or a port', () => {
    assert.equal(normalizeRegistry(`${'a'.repeat(63)}.example:65535`), `${'a'.repeat(63)}.example:65535`);
    assertCode(() => normalizeRegistry(`${'a'.repeat(64)}.example`), 'NAME_INVALID');
    assertCode(() => normalizeRegistry(`${'a.'.repeat(127)}example`), 'NAME_INVALID');
    assertCode(() => normalizeRegistry('registry.example:65536'), 'NAME_INVALID');
    assertCode(() => normalizeRegistry('registry.example:99999'), 'NAME_INVALID');
    assertCode(() => normalizeRegistry('registry.example:0'), 'NAME_INVALID');
    assertCode(() => normalizeRegistry('[::1]:70000'), 'NAME_INVALID');
  });
});
