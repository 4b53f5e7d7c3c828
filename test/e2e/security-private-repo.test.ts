import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, skopeoCopyToOci, writeRegistriesConf } from '../fixtures/clients.ts';
import { type ImageDescription, smallImage } from '../fixtures/images.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';
import {
  fetchToken,
  pushImageWithToken,
  startTokenAuthRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
  type TokenAuthRegistry,
} from '../fixtures/token-auth.ts';

/** The name clients use for the origin; it does not resolve, so only the peer can answer. */
const ORIGIN = 'registry.invalid:5000';
const PRIVATE = 'private/app';
const PUBLIC = 'public/app';
const CREDENTIALS = { username: TOKEN_USER, password: TOKEN_PASSWORD };

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

/** Realm, service and scope of a Bearer challenge. */
function parseChallenge(header: string | string[] | undefined): Record<string, string> {
  const value = String(header ?? '');
  assert.match(value, /^Bearer /, `a Bearer challenge, got "${value}"`);
  const params: Record<string, string> = {};
  for (const [, key, val] of value.matchAll(/(\w+)="([^"]*)"/g)) params[key!] = val!;
  return params;
}

let auth: TokenAuthRegistry | undefined;
let peer: RunningPeer | undefined;
let work = '';
let privateImage: ImageDescription;
let publicImage: ImageDescription;
/** Every token handed to a client in this file, to look for in the peer's log. */
const tokensSeen: string[] = [];

async function token(scopes: string[], credentials?: typeof CREDENTIALS): Promise<string> {
  const value = await fetchToken(auth!.tokens.realm, auth!.tokens.service, scopes, credentials);
  tokensSeen.push(value);
  return value;
}

function get(
  path: string,
  authorization?: string,
  method: 'GET' | 'HEAD' = 'GET',
  accept?: string,
): Promise<StreamedResponse> {
  const headers: Record<string, string> = {};
  if (authorization !== undefined) headers.authorization = authorization;
  if (accept !== undefined) headers.accept = accept;
  return streamGet(`${peer!.url}${path}`, { method, headers, keepBody: true, timeoutMs: 60_000 });
}

function originBytes(): Promise<number> {
  return peer!.metric('shoal_downloaded_bytes_total', { source: 'origin' });
}

/** Asserts a 401 carrying upstream's challenge for pulling `repository`. */
function assertChallenged(res: StreamedResponse, repository: string, what: string): void {
  assert.equal(res.status, 401, `${what}: ${res.body?.toString('utf8').slice(0, 300)}`);
  const challenge = parseChallenge(res.headers['www-authenticate']);
  assert.equal(challenge.realm, auth!.tokens.realm, what);
  assert.equal(challenge.service, auth!.tokens.service, what);
  assert.equal(challenge.scope, `repository:${repository}:pull`, what);
  if (res.headers['content-length'] !== undefined && Number(res.headers['content-length']) > 0) {
    assert.match(String(res.headers['content-type']), /json/, what);
  }
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-private-'));
  auth = await startTokenAuthRegistry({ publicRepositories: [PUBLIC] });
  [privateImage, publicImage] = await Promise.all([smallImage('private-repo'), smallImage('public-repo')]);
  await pushImageWithToken(auth, PRIVATE, 'v1', privateImage);
  await pushImageWithToken(auth, PUBLIC, 'v1', publicImage);
  peer = await startPeer({
    defaultRegistry: ORIGIN,
    endpoints: { [ORIGIN]: auth.registry.url },
    // The most talkative level, so that the log check below has the most to look at.
    extraArgs: ['--log-level', 'debug'],
  });
});

after(async () => {
  await peer?.stop();
  await auth?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a private repository behind the peer keeps its authorization', { timeout: 240_000 }, () => {
  let conf = '';
  let authFile = '';
  let originAfterFirstPull = 0;

  before(async () => {
    conf = await writeRegistriesConf(join(work, 'registries.conf'), { prefix: ORIGIN, mirror: peer!.host });
    // skopeo offers --src-creds to the primary location only; a mirror's credentials come from an auth file.
    authFile = join(work, 'auth.json');
    const basic = Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64');
    await writeFile(authFile, JSON.stringify({ auths: { [peer!.host]: { auth: basic } } }));
  });

  it('the registry itself refuses anonymous pulls of the private repository', async () => {
    const res = await streamGet(`${auth!.registry.url}/v2/${PRIVATE}/manifests/v1`, { keepBody: true });
    assert.equal(res.status, 401);
  });

  it('(a) a client with valid credentials pulls the private image through the peer', async () => {
    const dest = join(work, 'skopeo-first');
    await skopeoCopyToOci({
      image: `${ORIGIN}/${PRIVATE}:v1`,
      destDir: dest,
      registriesConf: conf,
      srcAuthFile: authFile,
    });
    const layout = await ociLayoutDigests(dest, { verify: true });
    assert.equal(layout.roots[0]?.digest, privateImage.digest);
    assert.deepEqual(layout.all, sorted(privateImage.allDigests));
    originAfterFirstPull = await originBytes();
    assert.equal(originAfterFirstPull, privateImage.totalBlobBytes, 'every blob came from the origin once');

    // The same by hand: the ping and the manifest answer with upstream's challenge, the realm gives a
    // token for the client's credentials, and the retry succeeds.
    const ping = await get('/v2/');
    assert.equal(ping.status, 401);
    assert.equal(parseChallenge(ping.headers['www-authenticate']).realm, auth!.tokens.realm);
    const refused = await get(`/v2/${PRIVATE}/manifests/v1`, undefined, 'GET', privateImage.mediaType);
    assertChallenged(refused, PRIVATE, 'manifest by tag without credentials');
    const { scope } = parseChallenge(refused.headers['www-authenticate']);
    const bearer = `Bearer ${await token([scope!], CREDENTIALS)}`;
    const manifest = await get(`/v2/${PRIVATE}/manifests/v1`, bearer, 'GET', privateImage.mediaType);
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, privateImage.digest);
    assert.equal(manifest.headers['docker-content-digest'], privateImage.digest);
  });

  it('(b) without valid credentials, the cached manifest and blobs are refused with the challenge', async () => {
    const paths = [
      `/v2/${PRIVATE}/manifests/${privateImage.digest}`,
      ...privateImage.blobs.map((blob) => `/v2/${PRIVATE}/blobs/${blob.digest}`),
    ];
    const anonymousToken = await token([`repository:${PRIVATE}:pull`]);
    const publicToken = await token([`repository:${PUBLIC}:pull`], CREDENTIALS);
    const wrongPassword = Buffer.from(`${TOKEN_USER}:not-the-password`).toString('base64');
    const attempts: [string, string | undefined][] = [
      ['no credentials', undefined],
      ['a bogus token', 'Bearer bm90.YS10b2tlbg.c2lnbmF0dXJl'],
      ['an anonymous token', `Bearer ${anonymousToken}`],
      ['a token for another repository', `Bearer ${publicToken}`],
      ['a wrong password', `Basic ${wrongPassword}`],
    ];
    for (const path of paths) {
      for (const [what, authorization] of attempts) {
        for (const method of ['GET', 'HEAD'] as const) {
          const res = await get(path, authorization, method);
          assert.equal(res.status, 401, `${method} ${path} with ${what}`);
          assert.ok(res.headers['www-authenticate'], `${method} ${path} with ${what}: a challenge`);
          if (method === 'GET') assert.notEqual(res.digest, privateImage.digest);
          for (const blob of privateImage.blobs) assert.notEqual(res.digest, blob.digest, 'no blob leaked');
        }
      }
      assertChallenged(await get(path), PRIVATE, `${path} without credentials`);
    }
    assert.equal(await originBytes(), originAfterFirstPull);
  });

  it('(b) a public repository of the same registry stays open to anonymous clients', async () => {
    const manifest = await get(`/v2/${PUBLIC}/manifests/v1`, undefined, 'GET', publicImage.mediaType);
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, publicImage.digest);
    for (const blob of publicImage.blobs) {
      const res = await get(`/v2/${PUBLIC}/blobs/${blob.digest}`);
      assert.equal(res.status, 200, blob.digest);
      assert.equal(res.digest, blob.digest);
    }
    const byDigest = await get(`/v2/${PUBLIC}/manifests/${publicImage.digest}`);
    assert.equal(byDigest.status, 200);
    assert.equal(byDigest.digest, publicImage.digest);
  });

  it('(c) with valid credentials the image comes again, from the cache', async () => {
    const before = await originBytes();
    const hitsBefore = await peer!.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' });
    const bearer = `Bearer ${await token([`repository:${PRIVATE}:pull`], CREDENTIALS)}`;
    const manifest = await get(`/v2/${PRIVATE}/manifests/${privateImage.digest}`, bearer);
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, privateImage.digest);
    for (const blob of privateImage.blobs) {
      const res = await get(`/v2/${PRIVATE}/blobs/${blob.digest}`, bearer);
      assert.equal(res.status, 200, blob.digest);
      assert.equal(res.digest, blob.digest);
      assert.equal(res.bytes, blob.size);
    }
    const dest = join(work, 'skopeo-again');
    await skopeoCopyToOci({
      image: `${ORIGIN}/${PRIVATE}:v1`,
      destDir: dest,
      registriesConf: conf,
      srcAuthFile: authFile,
    });
    assert.deepEqual((await ociLayoutDigests(dest, { verify: true })).all, sorted(privateImage.allDigests));
    assert.equal(await originBytes(), before, 'no blob byte came from the origin again');
    const hits = (await peer!.metric('shoal_endpoint_served_bytes_total', { cache: 'hit' })) - hitsBefore;
    assert.ok(hits >= 2 * privateImage.totalBlobBytes, `served from the cache: ${hits} bytes`);
  });

  it("(d) the peer's log holds neither the password nor any token", async () => {
    const output = peer!.daemon.output;
    assert.ok(output.length > 0, 'the peer logged something');
    assert.ok(tokensSeen.length >= 4);
    assert.ok(!output.includes(TOKEN_PASSWORD), 'password in the log');
    assert.ok(!output.includes(Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64')));
    for (const value of tokensSeen) {
      // The signature part alone is unique to each token.
      assert.ok(!output.includes(value.split('.')[2]!), 'a token in the log');
    }
    assert.equal(peer!.daemon.hasExited, false);
  });
});
