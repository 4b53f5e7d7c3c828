import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ctrContentDigests,
  ctrImageDigest,
  ctrPull,
  type RunningContainerd,
  startContainerd,
  writeHostsToml,
} from '../fixtures/clients.ts';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { SWARM_ORIGIN, type Swarm, startSwarm, stopSwarm, waitForPeers } from '../fixtures/swarm.ts';

/**
 * Rolling the peer DaemonSet while a rollout runs (deploy/README.md, "Upgrading"): three nodes,
 * each a containerd whose hosts.toml names its own peer as the mirror and the registry as the
 * server, as `shoal containerd-config` writes it. While the three pull the same image, the peers
 * are replaced one at a time, as a RollingUpdate with maxUnavailable 1 does: the old process stops
 * (SIGTERM), a new one starts on the same port with the same data directory and joins the
 * scheduler. containerd falls back to the registry for what its peer cannot answer meanwhile;
 * every pull must complete with every digest right.
 */

const MiB = 1024 * 1024;
const NODES = 3;
const REPO = 'upgrade/app';
const REF = `${SWARM_ORIGIN}/${REPO}:v1`;

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

describe('rolling the peers during a rollout', { timeout: 400_000 }, () => {
  let work = '';
  let registry: RunningRegistry | undefined;
  let swarm: Swarm | undefined;
  let image: ImageDescription;
  const nodes: RunningContainerd[] = [];

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-e2e-upgrade-'));
    [registry, image] = await Promise.all([
      startRegistry(),
      layeredImage([24 * MiB, 16 * MiB, 8 * MiB], 'upgrade'),
    ]);
    await pushImage(registry.url, REPO, 'v1', image);
    // The registry's egress capped at 3 MB/s (for the peers and for containerd's fallback alike):
    // the image takes over 15 s to leave it once, time to roll the peers while the nodes pull.
    swarm = await startSwarm({ originHost: registry.host, count: NODES, originRate: 3e6 });
    for (let i = 0; i < NODES; i++) nodes.push(await startContainerd());
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    if (swarm) await stopSwarm(swarm);
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  /** Stops a node's peer and starts its successor on the same port and data directory. */
  async function replace(index: number): Promise<RunningPeer> {
    const old = swarm!.peers[index]!;
    const port = Number(new URL(old.url).port);
    await old.daemon.stop();
    const successor = await startPeer({
      registryPort: port,
      dataDir: old.dataDir,
      defaultRegistry: SWARM_ORIGIN,
      endpoints: { [SWARM_ORIGIN]: swarm!.proxy.url },
      schedulers: swarm!.scheduler.multiaddrs,
    });
    swarm!.peers[index] = successor;
    return successor;
  }

  it('loses no pull: every node ends with the image, digest for digest', async (t) => {
    const start = Date.now();
    const pulls = nodes.map(async (node, i) => {
      const hostsDir = join(work, `hosts-${i}`);
      // What containerd-config writes: the registry stays the server, the node's peer is the mirror.
      await writeHostsToml(hostsDir, SWARM_ORIGIN, {
        server: swarm!.proxy.url,
        mirror: swarm!.peers[i]!.url,
      });
      await ctrPull({
        address: node.address,
        image: REF,
        hostsDir,
        platform: 'linux/amd64',
        timeoutMs: 300_000,
      });
      return Date.now() - start;
    });
    const finished = Promise.allSettled(pulls);
    // One node after the other, while the pulls run.
    const replacedAt: number[] = [];
    await sleep(1000);
    const dataDirs = swarm!.peers.map((p) => p.dataDir);
    for (let i = 0; i < NODES; i++) {
      replacedAt.push(Date.now() - start);
      await replace(i);
      await sleep(500);
    }
    const results = await finished;
    const failures = results.flatMap((r, i) =>
      r.status === 'rejected' ? [`node ${i}: ${String(r.reason)}`] : [],
    );
    assert.deepEqual(failures, []);
    const endedAt = results.map((r) => (r as PromiseFulfilledResult<number>).value);
    // Each node's peer went away while that node's pull was running.
    assert.ok(
      endedAt.every((end, i) => end > replacedAt[i]!),
      `pulls ended at ${endedAt} ms; peers replaced at ${replacedAt} ms`,
    );
    t.diagnostic(
      `peers replaced at ${replacedAt} ms, pulls ended at ${endedAt} ms; the registry sent ` +
        `${(swarm!.proxy.bytesDown / image.totalBlobBytes).toFixed(2)}x the image`,
    );
    for (const node of nodes) {
      assert.equal(await ctrImageDigest(node.address, REF), image.digest);
      assert.deepEqual(await ctrContentDigests(node.address), sorted(image.allDigests));
    }
    // The successors serve: they are registered and the node's data directory is theirs.
    await waitForPeers(swarm!.scheduler, NODES);
    assert.deepEqual(
      swarm!.peers.map((p) => p.dataDir),
      dataDirs,
    );
  });
});
