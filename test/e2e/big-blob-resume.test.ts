import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pushBlob, rawBlob } from '../fixtures/images.ts';
import { sampleRss } from '../fixtures/memory.ts';
import { verifiedPartialBytes } from '../fixtures/partials.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { SWARM_ORIGIN, type Swarm, startSwarm, stopSwarm } from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;
/** The smaller variant of bench/big (which moves 20 GB): the same path, kill and resume. */
const SIZE = 768 * MiB;
const RSS_LIMIT = 250e6;

const takenIn = async (peer: RunningPeer) =>
  (await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' })) +
  (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }));

describe('a big blob from origin to peer a to peer b, b killed half way', { timeout: 300_000 }, () => {
  let registry: RunningRegistry | undefined;
  let swarm: Swarm | undefined;
  let restarted: RunningPeer | undefined;
  let blob: { digest: string; size: number; path: string };

  before(async () => {
    registry = await startRegistry();
    blob = await rawBlob('big-blob-resume', SIZE);
    await pushBlob(registry.url, 'big/model', blob, { timeoutMs: 300_000 });
    swarm = await startSwarm({ originHost: registry.host, count: 2 });
  });

  after(async () => {
    const dir = restarted?.dataDir;
    await restarted?.stop();
    if (swarm) await stopSwarm(swarm);
    await registry?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('verifies it on both, keeps both peers under 250 MB, and b resumes without fetching its verified pieces again', async () => {
    const [a, b] = swarm!.peers as [RunningPeer, RunningPeer];
    const url = (p: RunningPeer) => `${p.url}/v2/big/model/blobs/${blob.digest}`;
    const rssA = sampleRss(a.daemon.pid, 200);
    const rssB = sampleRss(b.daemon.pid, 200);

    const first = await streamGet(url(a), { timeoutMs: 240_000 });
    assert.equal(first.status, 200);
    assert.equal(first.digest, blob.digest);

    // b takes the blob from a; killed with SIGKILL once it has about half.
    const cut = streamGet(url(b), { timeoutMs: 240_000 });
    while ((await takenIn(b)) < SIZE / 2) await sleep(50);
    await b.kill();
    assert.equal((await cut).complete, false);
    const verified = await verifiedPartialBytes(b.dataDir);
    assert.ok(verified >= SIZE / 4, `only ${verified} bytes recorded as verified at the kill`);

    restarted = await startPeer({
      defaultRegistry: SWARM_ORIGIN,
      endpoints: { [SWARM_ORIGIN]: swarm!.proxy.url },
      schedulers: swarm!.scheduler.multiaddrs,
      dataDir: b.dataDir,
    });
    const rssB2 = sampleRss(restarted.daemon.pid, 200);
    const second = await streamGet(url(restarted), { timeoutMs: 240_000 });
    assert.equal(second.status, 200);
    assert.equal(second.complete, true, second.error?.message);
    assert.equal(second.digest, blob.digest);
    // What it had verified before the kill is not fetched again: it takes in exactly the rest.
    const taken = await takenIn(restarted);
    assert.equal(taken, SIZE - verified, `took in ${taken} bytes; ${SIZE - verified} were missing`);
    // The origin sent the blob once (to a), plus the small reads that check a client's access.
    assert.ok(swarm!.proxy.bytesDown < SIZE + 4 * MiB, `origin sent ${swarm!.proxy.bytesDown}`);

    for (const [who, sampler] of [
      ['a', rssA],
      ['b', rssB],
      ['b restarted', rssB2],
    ] as const) {
      const peak = await sampler.stop();
      assert.ok(peak < RSS_LIMIT, `${who}: peak RSS ${(peak / 1e6).toFixed(0)} MB`);
    }
  });
});
