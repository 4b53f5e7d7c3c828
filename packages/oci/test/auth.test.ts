import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  basicAuthorization,
  credentialsFor,
  type DockerConfig,
  loadDockerConfig,
  parseDockerConfig,
  parseWwwAuthenticate,
  TokenCache,
} from '../src/auth.ts';

describe('parseWwwAuthenticate', () => {
  it('parses a Docker Hub Bearer challenge', () => {
    assert.deepEqual(
      parseWwwAuthenticate(
        'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      ),
      [
        {
          scheme: 'Bearer',
          params: {
            realm: 'https://auth.docker.io/token',
            service: 'registry.docker.io',
            scope: 'repository:library/alpine:pull',
          },
        },
      ],
    );
  });

  it('parses Basic, case-insensitive schemes and names, spaces around =', () => {
    assert.deepEqual(parseWwwAuthenticate('basic REALM = "Registry Realm"'), [
      { scheme: 'Basic', params: { realm: 'Registry Realm' } },
    ]);
  });

  it('handles escapes, commas inside quotes and unquoted values', () => {
    assert.deepEqual(
      parseWwwAuthenticate('Bearer realm="a\\"b\\\\c, d",service=svc , scope=repo:x:pull,push'),
      [
        { scheme: 'Bearer', params: { realm: 'a"b\\c, d', service: 'svc', scope: 'repo:x:pull' } },
        { scheme: 'push', params: {} },
      ],
    );
    assert.deepEqual(parseWwwAuthenticate('Bearer realm=https://auth.example/token'), [
      { scheme: 'Bearer', params: { realm: 'https://auth.example/token' } },
    ]);
  });

  it('parses several challenges in one header', () => {
    assert.deepEqual(parseWwwAuthenticate('Bearer realm="https://a/token", service="s", Basic realm="b"'), [
      { scheme: 'Bearer', params: { realm: 'https://a/token', service: 's' } },
      { scheme: 'Basic', params: { realm: 'b' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Negotiate, Basic realm="x"'), [
      { scheme: 'Negotiate', params: {} },
      { scheme: 'Basic', params: { realm: 'x' } },
    ]);
    assert.deepEqual(parseWwwAuthenticate('Custom dG9rZW4=, Basic realm=x'), [
      { scheme: 'Custom', params: {}, token68: 'dG9rZW4=' },
      { scheme: 'Basic', params: { realm: 'x' } },
    ]);
  });

  it('returns [] for garbage instead of throwing', () => {
    for (const garbage of [
      '',
      '   ',
      '"quoted"',
      'Bearer realm="unterminated',
      'Bearer realm="x" junk',
      'Bearer =x',
      '=',
      '\u0000\u0001',
      'Bearer realm="x",,,===',
      'x'.repeat(20_000),
      undefined as unknown as string,
    ]) {
      assert.deepEqual(parseWwwAuthenticate(garbage), [], JSON.stringify(garbage));
    }
    assert.deepEqual(parseWwwAuthenticate(', Bearer realm="x",'), [
      { scheme: 'Bearer', params: { realm: 'x' } },
    ]);
  });

  it('keeps the first of duplicate parameters and ignores __proto__', () => {
    const [challenge] = parseWwwAuthenticate('Bearer realm="a", realm="b", __proto__="x"');
    assert.deepEqual(challenge, { scheme: 'Bearer', params: { realm: 'a' } });
    assert.equal(Object.getPrototypeOf(challenge?.params), Object.prototype);
  });
});

describe('TokenCache', () => {
  it('honours expires_in with an injected clock, keyed by registry and scope set', () => {
    let now = 1_000_000;
    const cache = new TokenCache({ now: () => now });
    cache.set('docker.io', ['repository:a:pull', 'repository:b:pull'], 'tok', 300);
    assert.equal(cache.get('docker.io', ['repository:b:pull', 'repository:a:pull']), 'tok');
    assert.equal(cache.get('docker.io', ['repository:a:pull']), undefined);
    assert.equal(cache.get('ghcr.io', ['repository:a:pull', 'repository:b:pull']), undefined);
    now += 289_000;
    assert.equal(cache.get('docker.io', ['repository:a:pull', 'repository:b:pull']), 'tok');
    now += 1_000; // within the 10 s safety margin of the 300 s lifetime
    assert.equal(cache.get('docker.io', ['repository:a:pull', 'repository:b:pull']), undefined);
    assert.equal(cache.size, 0);
  });

  it('defaults to 60 s when expires_in is missing or invalid', () => {
    let now = 0;
    const cache = new TokenCache({ now: () => now });
    cache.set('r', [], 'a');
    cache.set('r', ['s'], 'b', -5);
    now = 53_000;
    assert.equal(cache.get('r', []), 'a');
    assert.equal(cache.get('r', ['s']), 'b');
    now = 54_000;
    assert.equal(cache.get('r', []), undefined);
    assert.equal(cache.get('r', ['s']), undefined);
  });

  it('evicts the oldest entry beyond maxEntries and supports delete', () => {
    const cache = new TokenCache({ now: () => 0, maxEntries: 2 });
    cache.set('r', ['1'], 'a');
    cache.set('r', ['2'], 'b');
    cache.set('r', ['3'], 'c');
    assert.equal(cache.get('r', ['1']), undefined);
    assert.equal(cache.get('r', ['3']), 'c');
    cache.delete('r', ['3']);
    assert.equal(cache.get('r', ['3']), undefined);
  });
});

describe('docker config credentials', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-oci-auth-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const b64 = (s: string) => Buffer.from(s).toString('base64');

  it('reads auth (base64 user:pass) and username/password entries', async () => {
    const path = join(dir, 'config.json');
    await writeFile(
      path,
      JSON.stringify({
        auths: {
          'https://index.docker.io/v1/': { auth: b64('hubuser:hub:pass') },
          'registry.example.com': { username: 'u', password: 'p' },
          'http://LOCALHOST:5000/v2/': { auth: b64('local:secret') },
          'broken.example': { auth: '!!!' },
        },
        credsStore: 'desktop',
      }),
    );
    const config = await loadDockerConfig(path);
    assert.deepEqual(credentialsFor(config, 'docker.io'), { username: 'hubuser', password: 'hub:pass' });
    assert.deepEqual(credentialsFor(config, 'index.docker.io'), {
      username: 'hubuser',
      password: 'hub:pass',
    });
    assert.deepEqual(credentialsFor(config, 'registry.example.com'), { username: 'u', password: 'p' });
    assert.deepEqual(credentialsFor(config, 'localhost:5000'), { username: 'local', password: 'secret' });
    assert.equal(credentialsFor(config, 'localhost:5001'), undefined);
    assert.equal(credentialsFor(config, 'broken.example'), undefined);
    assert.equal(credentialsFor(config, 'ghcr.io'), undefined);
  });

  it('prefers an exact key and matches a docker.io key', () => {
    const config: DockerConfig = {
      auths: {
        'https://ghcr.io': { auth: b64('normalised:x') },
        'ghcr.io': { auth: b64('exact:y') },
        'docker.io': { username: 'd', password: 'e' },
      },
    };
    assert.deepEqual(credentialsFor(config, 'ghcr.io'), { username: 'exact', password: 'y' });
    assert.deepEqual(credentialsFor(config, 'docker.io'), { username: 'd', password: 'e' });
  });

  it('fails clearly without echoing the file content', async () => {
    const path = join(dir, 'bad.json');
    await writeFile(path, '{"auths": {"x": {"auth": "c2VjcmV0OnBhc3N3b3Jk"}');
    await assert.rejects(loadDockerConfig(path), (error: Error) => {
      assert.match(error.message, /not valid JSON/);
      assert.doesNotMatch(error.message, /c2VjcmV0/);
      return true;
    });
    await assert.rejects(loadDockerConfig(join(dir, 'missing.json')), /ENOENT/);
    assert.deepEqual(parseDockerConfig('{}'), { auths: {} });
    assert.throws(() => parseDockerConfig('{"auths": []}'), /auths/);
  });

  it('builds a Basic authorization header', () => {
    assert.equal(basicAuthorization({ username: 'a', password: 'b:c' }), `Basic ${b64('a:b:c')}`);
  });
});
