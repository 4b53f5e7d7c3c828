import assert from 'node:assert/strict';
import { open as openFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { type ImageDescription, layeredImage, pushImage, smallImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer } from '../fixtures/shoal.ts';
import { type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';
import { type Swarm, startSwarm, stopSwarm } from '../fixtures/swarm.ts';
import {
  pushImageWithToken,
  startTokenAuthRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
  type TokenAuthRegistry,
} from '../fixtures/token-auth.ts';

/**
 * Content is keyed by digest, access by (registry, repository): a digest of a private repository,
 * once cached or held by the swarm, must never be served to a client that names another repository,
 * one that does not exist, or another registry — on every path a peer serves without upstream.
 */
const PRIVATE = 'private/app';
const PUBLIC = 'public/app';
/** A second registry the peers know, that holds none of the private content. */
const OTHER = 'other.invalid:5000';
const CREDENTIALS = { username: TOKEN_USER, password: TOKEN_PASSWORD };
const MiB = 1024 * 1024;

let auth: TokenAuthRegistry | undefined;
let other: RunningRegistry | undefined;
let swarm: Swarm | undefined;
let secret: ImageDescription;
/** Private too, not pulled before the in-flight case: its layer is on its way when the intruder asks. */
let secretBig: ImageDescription;
let open: ImageDescription;

const bearer = async (repository: string) =>
  `Bearer ${await auth!.token([`repository:${repository}:pull`], CREDENTIALS)}`;

function get(
  peer: RunningPeer,
  path: string,
  options: { authorization?: string; method?: 'GET' | 'HEAD'; range?: string } = {},
): Promise<StreamedResponse> {
  const headers: Record<string, string> = {};
  if (options.authorization) headers.authorization = options.authorization;
  if (options.range) headers.range = options.range;
  return streamGet(`${peer.url}${path}`, {
    method: options.method ?? 'GET',
    headers,
    keepBody: true,
    timeoutMs: 60_000,
  });
}

/** Every request an intruder can make for `digest` under a name that does not hold it. */
function intrusions(digest: string, kind: 'blobs' | 'manifests'): { what: string; path: string }[] {
  const names = [
    { what: 'a public repository', path: `/v2/${PUBLIC}/${kind}/${digest}` },
    { what: 'a repository that does not exist', path: `/v2/no/such-repo/${kind}/${digest}` },
    { what: 'another registry', path: `/v2/${PRIVATE}/${kind}/${digest}?ns=${OTHER}` },
  ];
  return names;
}

async function assertRefused(
  peer: RunningPeer,
  digest: string,
  kind: 'blobs' | 'manifests',
  authorization: string | undefined,
  leaked: Set<string>,
): Promise<void> {
  for (const { what, path } of intrusions(digest, kind)) {
    const variants = [
      { method: 'GET' as const },
      { method: 'HEAD' as const },
      ...(kind === 'blobs' ? [{ method: 'GET' as const, range: 'bytes=0-99' }] : []),
    ];
    for (const variant of variants) {
      const label = `${variant.method}${variant.range ? ' Range' : ''} ${what} (${path}), ${authorization ? 'with a public token' : 'anonymous'}`;
      const res = await get(peer, path, { ...variant, ...(authorization ? { authorization } : {}) });
      assert.ok([401, 403, 404].includes(res.status), `${label}: ${res.status}`);
      assert.ok(!leaked.has(res.digest), `${label}: private bytes served`);
      assert.notEqual(res.headers['docker-content-digest'], digest, `${label}: the digest confirmed`);
      if (variant.method === 'GET') assert.match(String(res.headers['content-type']), /json/, label);
    }
  }
}

before(async () => {
  [auth, other] = await Promise.all([
    startTokenAuthRegistry({ publicRepositories: [PUBLIC] }),
    startRegistry(),
  ]);
  [secret, secretBig, open] = await Promise.all([
    smallImage('pairing-secret'),
    layeredImage([48 * MiB], 'pairing-secret-big'),
    smallImage('pairing-open'),
  ]);
  await pushImageWithToken(auth, PRIVATE, 'v1', secret);
  await pushImageWithToken(auth, PRIVATE, 'big', secretBig);
  await pushImageWithToken(auth, PUBLIC, 'v1', open);
  // The other registry holds the same repository name with other content.
  await pushImage(other.url, PRIVATE, 'v1', open);
  swarm = await startSwarm({
    originHost: auth.registry.host,
    count: 2,
    // Slow enough that the big layer is still on its way while an intruder asks for it.
    originRate: 16 * MiB,
    endpoints: { [OTHER]: other.url },
  });
});

after(async () => {
  if (swarm) await stopSwarm(swarm);
  await auth?.stop();
  await other?.stop();
});

describe('a digest is served only under a repository upstream confirms holds it for the client', {
  timeout: 240_000,
}, () => {
  const secretDigests = () => new Set([...secret.allDigests, ...secretBig.allDigests]);

  it('an authorized client pulls the private image through the first peer', async () => {
    const peer = swarm!.peers[0]!;
    const authorization = await bearer(PRIVATE);
    const manifest = await get(peer, `/v2/${PRIVATE}/manifests/v1`, { authorization });
    assert.equal(manifest.status, 200);
    assert.equal(manifest.digest, secret.digest);
    for (const blob of secret.blobs) {
      const res = await get(peer, `/v2/${PRIVATE}/blobs/${blob.digest}`, { authorization });
      assert.equal(res.status, 200);
      assert.equal(res.digest, blob.digest);
    }
  });

  it('cache hits: refused under a public name, a missing one and another registry, however asked', async () => {
    const peer = swarm!.peers[0]!;
    const publicToken = await bearer(PUBLIC);
    for (const authorization of [undefined, publicToken]) {
      await assertRefused(peer, secret.digest, 'manifests', authorization, secretDigests());
      for (const blob of secret.blobs)
        await assertRefused(peer, blob.digest, 'blobs', authorization, secretDigests());
    }
  });

  it('swarm fetches: a peer that never held the content does not fetch it for an intruder', async () => {
    const peer = swarm!.peers[1]!;
    for (const blob of secret.blobs)
      await assertRefused(peer, blob.digest, 'blobs', undefined, secretDigests());
    await assertRefused(peer, secret.digest, 'manifests', undefined, secretDigests());
    assert.equal(await peer.metric('shoal_downloaded_bytes_total'), 0, 'nothing was downloaded for them');
  });

  it('a shared in-flight download: an intruder does not join it', async () => {
    const peer = swarm!.peers[1]!;
    const layer = secretBig.blobs.find((b) => b.kind === 'layer')!;
    const authorization = await bearer(PRIVATE);
    const owner = get(peer, `/v2/${PRIVATE}/blobs/${layer.digest}`, { authorization });
    // Wait until the owner's download is under way.
    for (let i = 0; i < 100 && (await peer.metric('shoal_downloaded_bytes_total')) === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.ok((await peer.metric('shoal_downloaded_bytes_total')) > 0, 'the download started');
    const started = performance.now();
    await assertRefused(peer, layer.digest, 'blobs', undefined, secretDigests());
    const refusedWithinMs = performance.now() - started;
    const ownerResult = await owner;
    assert.equal(ownerResult.status, 200);
    assert.equal(ownerResult.digest, layer.digest);
    assert.ok(refusedWithinMs < ownerResult.doneMs, 'refused while the download was still running');
  });

  it('tags: the private repository lists nothing without credentials', async () => {
    const peer = swarm!.peers[1]!;
    const refused = await get(peer, `/v2/${PRIVATE}/tags/list`);
    assert.equal(refused.status, 401);
    assert.ok(refused.headers['www-authenticate']);
    const listed = await get(peer, `/v2/${PRIVATE}/tags/list`, { authorization: await bearer(PRIVATE) });
    assert.equal(listed.status, 200);
    assert.deepEqual(JSON.parse(listed.body!.toString('utf8')).tags.sort(), ['big', 'v1']);
  });

  it('another registry holding the same repository name answers with its own content', async () => {
    const peer = swarm!.peers[1]!;
    const res = await get(peer, `/v2/${PRIVATE}/manifests/v1?ns=${OTHER}`);
    assert.equal(res.status, 200);
    assert.equal(res.digest, open.digest);
  });

  it('an authorized client still gets the content from the swarm, not the origin', async (t) => {
    const peer = swarm!.peers[1]!;
    const authorization = await bearer(PRIVATE);
    const originBefore = await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' });
    for (const blob of secret.blobs) {
      const cold = await get(peer, `/v2/${PRIVATE}/blobs/${blob.digest}`, { authorization });
      assert.equal(cold.status, 200);
      assert.equal(cold.digest, blob.digest);
      const warm = await get(peer, `/v2/${PRIVATE}/blobs/${blob.digest}`, { authorization });
      assert.equal(warm.digest, blob.digest);
      t.diagnostic(
        `${blob.digest.slice(7, 19)}: cold ${cold.doneMs.toFixed(1)} ms, warm ${warm.doneMs.toFixed(1)} ms`,
      );
    }
    assert.equal(
      await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }),
      originBefore,
      'no byte from the origin',
    );
    assert.ok((await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' })) > 0, 'from the swarm');
  });

  it("a cold Range is upstream's own answer: the challenge without credentials, the bytes with them", async () => {
    const peer = swarm!.peers[0]!;
    const layer = secretBig.blobs.find((b) => b.kind === 'layer')!;
    const path = `/v2/${PRIVATE}/blobs/${layer.digest}`;
    const anonymous = await get(peer, path, { range: 'bytes=0-99' });
    assert.equal(anonymous.status, 401);
    assert.ok(anonymous.headers['www-authenticate'], 'the challenge');
    assert.notEqual(anonymous.headers['docker-content-digest'], layer.digest);
    await assertRefused(peer, layer.digest, 'blobs', undefined, secretDigests());

    const authorization = await bearer(PRIVATE);
    const offset = 30 * MiB + 7;
    const ranged = await get(peer, path, { authorization, range: `bytes=${offset}-${offset + 99_999}` });
    assert.equal(ranged.status, 206);
    assert.equal(ranged.headers['content-range'], `bytes ${offset}-${offset + 99_999}/${layer.size}`);
    const file = await openFile(layer.path, 'r');
    const expected = Buffer.alloc(100_000);
    await file.read(expected, 0, expected.length, offset).finally(() => file.close());
    assert.deepEqual(ranged.body, expected);
    // The whole download started behind the range; the blob is then served whole and verified.
    const whole = await get(peer, path, { authorization });
    assert.equal(whole.status, 200);
    assert.equal(whole.digest, layer.digest);
  });
});
