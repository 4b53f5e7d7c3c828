/**
 * bench/cluster kept honest, in a few seconds: the same seed gives the same
 * run, nothing beats the lower bound, churn and racks are accounted for, and
 * bench/rollout's capped configuration (N=8, origin 20 MB/s, peers 8 MB/s,
 * the 160 MiB image) comes out near what the real processes measured.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ClusterResult, parseClusterArgs, runCluster } from './run.ts';

const simulate = (args: string) => runCluster(parseClusterArgs(args.split(' ')));
const within = (value: number | null, target: number, tolerance: number) =>
  value !== null && Math.abs(value / target - 1) <= tolerance;

/**
 * The real rollout's medians on a quiet machine (bench/RESULTS.md, with the scheduler of commit
 * 16540c1: `node bench/rollout/run.ts --nodes 8 --origin-rate 20MB --peer-rate 8MB --runs 3 --only shoal`,
 * load average 1.9-5.5): p50 node 23.87 s, slowest node 23.94 s.
 */
const REAL_ROLLOUT = { p50Seconds: 23.87, maxSeconds: 23.94 };

describe('bench/cluster', { timeout: 300_000 }, () => {
  it('predicts the capped 8-node rollout: p50 and the slowest node within 10% of the real run', async () => {
    const runs: ClusterResult[] = [];
    for (const seed of [1, 2, 3])
      runs.push(
        await simulate(
          `--nodes 8 --layers 74MiB,55MiB,31MiB --node-rate 8MB --origin-rate 20MB --rtt-ms 1 --seed ${seed}`,
        ),
      );
    const median = (values: number[]) => values.sort((a, b) => a - b)[1]!;
    const p50 = median(runs.map((r) => r.p50Seconds!));
    const max = median(runs.map((r) => r.maxSeconds!));
    for (const run of runs) {
      assert.equal(run.completedNodes, 8);
      assert.ok(run.p50Seconds! >= run.lowerBoundSeconds * 0.99, 'nothing beats the lower bound');
      assert.ok(
        run.originEgressRatio >= 1 && run.originEgressRatio < 1.05,
        `origin ${run.originEgressRatio}x`,
      );
    }
    assert.ok(within(p50, REAL_ROLLOUT.p50Seconds, 0.1), `p50 ${p50} s against ${REAL_ROLLOUT.p50Seconds} s`);
    assert.ok(
      within(max, REAL_ROLLOUT.maxSeconds, 0.1),
      `slowest ${max} s against ${REAL_ROLLOUT.maxSeconds} s`,
    );
  });

  it('is deterministic for a seed', async () => {
    const args = '--nodes 20 --layers 20,10 --node-rate 50MB --origin-rate 40MB --seed 7';
    const [a, b] = [await simulate(args), await simulate(args)];
    for (const key of ['p50Seconds', 'maxSeconds', 'schedulerMessages', 'piecesFromPeers', 'events'] as const)
      assert.equal(a[key], b[key], key);
  });

  it('with churn every surviving node and every late joiner finishes', async () => {
    const r = await simulate(
      '--nodes 40 --layers 30 --node-rate 50MB --origin-rate 40MB --churn 0.1 --late-joiners 0.1 --seed 3',
    );
    assert.equal(r.killedNodes, 4);
    assert.equal(r.expectedNodes, 36);
    assert.equal(r.completedNodes, 36);
    assert.equal(r.finished, true);
  });

  it('in racks behind oversubscribed uplinks, counts what crossed them against the minimum', async () => {
    const r = await simulate(
      '--nodes 40 --layers 30 --node-rate 50MB --origin-rate 40MB --rack-size 10 --uplink-oversubscription 4 --seed 5',
    );
    assert.equal(r.completedNodes, 40);
    assert.ok(r.crossRackRatio !== null && r.crossRackRatio >= 1, `cross-rack ${r.crossRackRatio}`);
  });

  it("runs the nodes with the peers' --upload-slots", async () => {
    const args = '--nodes 20 --layers 10 --node-rate 4MB --origin-rate 40MB --seed 2';
    const one = await simulate(`${args} --upload-slots 1`);
    const eight = await simulate(args);
    assert.equal(one.uploadSlots, 1);
    assert.equal(eight.uploadSlots, 8);
    assert.equal(one.completedNodes, 20);
    assert.notEqual(one.p50Seconds, eight.p50Seconds, 'one slot per parent changes the schedule');
  });

  it('refuses bad options with a message naming the option', () => {
    assert.throws(() => parseClusterArgs(['--scenario', 'wide', '--upload-slots', '0']), /--upload-slots/);
    assert.throws(() => parseClusterArgs(['--nodes', '0', '--scenario', 'wide']), /--nodes/);
    assert.throws(() => parseClusterArgs(['--scenario', 'moon']), /--scenario moon/);
    assert.throws(() => parseClusterArgs(['--scenario', 'wide', '--churn', '2']), /--churn/);
    assert.throws(
      () => parseClusterArgs(['--nodes', '5', '--layers', '10', '--node-rate', '1MB']),
      /--origin-rate/,
    );
  });
});
