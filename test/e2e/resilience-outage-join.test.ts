import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type ImageDescription, smallImage } from '../fixtures/images.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { SWARM_ORIGIN, type Swarm, startSwarm, stopSwarm, waitForPeers } from '../fixtures/swarm.ts';
import {
  pushImageWithToken,
  startTokenAuthRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
  type TokenAuthRegistry,
} from '../fixtures/token-auth.ts';

/**
 * A node that joins while the upstream registry is down has never learnt what is public. What is not
 * secret can be learnt from the swarm: it serves a public image by digest and by the swarm's last tag
 * answer, and still refuses private content, whose credentials only upstream can check.
 */
const PRIVATE = 'private/app';
const PUBLIC = 'public/app';
const CREDENTIALS = { username: TOKEN_USER, password: TOKEN_PASSWORD };

let auth: TokenAuthRegistry | undefined;
let swarm: Swarm | undefined;
let late: RunningPeer | undefined;
let open: ImageDescription;
let secret: ImageDescription;

const bearer = async (repository: string) =>
  `Bearer ${await auth!.token([`repository:${repository}:pull`], CREDENTIALS)}`;

before(async () => {
  auth = await startTokenAuthRegistry({ publicRepositories: [PUBLIC] });
  [open, secret] = await Promise.all([smallImage('outage-join-open'), smallImage('outage-join-secret')]);
  await pushImageWithToken(auth, PUBLIC, 'v1', open);
  await pushImageWithToken(auth, PRIVATE, 'v1', secret);
  swarm = await startSwarm({ originHost: auth.registry.host, count: 2 });
});

after(async () => {
  await late?.stop();
  if (swarm) await stopSwarm(swarm);
  await auth?.stop();
});

describe('a node added during an upstream outage', { timeout: 180_000 }, () => {
  it('serves the public image the swarm holds, by digest and by tag, and refuses the private one', async () => {
    const [holder] = swarm!.peers as [RunningPeer];
    // While upstream is up, the holder pulls both images: the public one anonymously.
    const privateAuth = await bearer(PRIVATE);
    for (const [image, repository, authorization] of [
      [open, PUBLIC, undefined],
      [secret, PRIVATE, privateAuth],
    ] as const) {
      const headers: Record<string, string> = authorization ? { authorization } : {};
      const manifest = await streamGet(`${holder.url}/v2/${repository}/manifests/v1`, { headers });
      assert.equal(manifest.digest, image.digest);
      for (const blob of image.blobs) {
        const res = await streamGet(`${holder.url}/v2/${repository}/blobs/${blob.digest}`, { headers });
        assert.equal(res.digest, blob.digest);
      }
    }

    await swarm!.proxy.stop();
    late = await startPeer({
      defaultRegistry: SWARM_ORIGIN,
      endpoints: { [SWARM_ORIGIN]: swarm!.proxy.url },
      schedulers: swarm!.scheduler.multiaddrs,
    });
    await waitForPeers(swarm!.scheduler, 3);

    const byDigest = await streamGet(`${late.url}/v2/${PUBLIC}/manifests/${open.digest}`);
    assert.equal(byDigest.status, 200);
    assert.equal(byDigest.digest, open.digest);
    const byTag = await streamGet(`${late.url}/v2/${PUBLIC}/manifests/v1`);
    assert.equal(byTag.status, 200);
    assert.equal(byTag.digest, open.digest);
    assert.ok(byTag.headers['x-shoal-stale-tag'], 'marked as an answer from memory');
    for (const blob of open.blobs) {
      const res = await streamGet(`${late.url}/v2/${PUBLIC}/blobs/${blob.digest}`);
      assert.equal(res.status, 200, blob.digest);
      assert.equal(res.digest, blob.digest);
    }

    // Private content: not without credentials, and not with them either (upstream cannot check them).
    const secretPaths = [
      `/v2/${PRIVATE}/manifests/${secret.digest}`,
      `/v2/${PRIVATE}/manifests/v1`,
      ...secret.blobs.map((blob) => `/v2/${PRIVATE}/blobs/${blob.digest}`),
      // Nor under the public name.
      ...secret.blobs.map((blob) => `/v2/${PUBLIC}/blobs/${blob.digest}`),
    ];
    const secretDigests = new Set(secret.allDigests);
    for (const path of secretPaths) {
      for (const authorization of [undefined, privateAuth]) {
        const res = await streamGet(`${late.url}${path}`, {
          headers: authorization ? { authorization } : {},
        });
        assert.equal(res.status, 503, `${path} ${authorization ? 'with' : 'without'} credentials`);
        assert.ok(!secretDigests.has(res.digest), `${path}: private bytes served`);
      }
    }
    assert.equal(late.daemon.hasExited, false);
  });
});
