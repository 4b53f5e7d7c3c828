import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OciError, UpstreamResolver } from '../src/index.ts';

function assertCode(fn: () => unknown, code: string, pattern?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof OciError, String(error));
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

describe('UpstreamResolver', () => {
  const endpoints = {
    'alpha.example': 'http://127.0.0.1:5001/',
    'Beta.Example:5000': 'http://127.0.0.1:5002',
  };

  it('answers a named registry from its own endpoint, whatever the default', () => {
    const resolver = new UpstreamResolver({ endpoints, defaultRegistry: 'alpha.example' });
    assert.deepEqual(resolver.resolve('beta.example:5000'), {
      registry: 'beta.example:5000',
      url: 'http://127.0.0.1:5002',
    });
    assert.deepEqual(resolver.resolve('quay.io'), { registry: 'quay.io', url: 'https://quay.io' });
    assert.deepEqual(resolver.resolve('index.docker.io'), {
      registry: 'docker.io',
      url: 'https://registry-1.docker.io',
    });
  });

  it('answers a request that names no registry from the default', () => {
    const resolver = new UpstreamResolver({ endpoints, defaultRegistry: 'alpha.example' });
    assert.deepEqual(resolver.resolve(undefined), {
      registry: 'alpha.example',
      url: 'http://127.0.0.1:5001',
    });
    assert.deepEqual(resolver.resolve(''), { registry: 'alpha.example', url: 'http://127.0.0.1:5001' });
  });

  it('without a default, refuses a request that names no registry with NAME_UNKNOWN (404)', () => {
    const resolver = new UpstreamResolver({ endpoints, defaultRegistry: undefined });
    assertCode(() => resolver.resolve(undefined), 'NAME_UNKNOWN', /names no registry/);
    assertCode(() => resolver.resolve(''), 'NAME_UNKNOWN');
    assert.equal(resolver.resolve('alpha.example').url, 'http://127.0.0.1:5001');
  });

  it('refuses a malformed registry name', () => {
    const resolver = new UpstreamResolver({ endpoints, defaultRegistry: undefined });
    assertCode(() => resolver.resolve('not a registry'), 'NAME_INVALID', /not a registry/);
  });

  it('knows which registries it has endpoints for, in any spelling', () => {
    const resolver = new UpstreamResolver({ endpoints, defaultRegistry: 'docker.io' });
    assert.equal(resolver.isConfigured('alpha.example'), true);
    assert.equal(resolver.isConfigured('beta.example:5000'), true);
    assert.equal(resolver.isConfigured('ALPHA.example'), true);
    assert.equal(resolver.isConfigured('docker.io'), false);
    assert.equal(resolver.isConfigured('not a registry'), false);
  });
});
