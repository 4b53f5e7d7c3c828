/**
 * The stripe forest model kept honest, in a few seconds: every node finishes, nothing beats the
 * lower bound, the origin sends each byte once, each stripe enters each rack once, the same seed
 * gives the same run, and the scheduler hears from a node a few times per blob, not per piece.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forestFigures, REPORT_MS, STRIPES } from './forest.ts';
import { parseClusterArgs } from './run.ts';

const model = (args: string, stripes = STRIPES, faults: { stalls?: number; slow?: number } = {}) =>
  forestFigures({
    ...parseClusterArgs(args.split(' ')),
    stripes,
    childSlots: stripes,
    reportMs: REPORT_MS,
    ...faults,
  });

describe('bench/cluster/forest', { timeout: 120_000 }, () => {
  it('a flat swarm: everyone done near the bound, origin once, a few messages per node and blob', async () => {
    const run = await model('--nodes 96 --layers 300 --node-rate 300MB --origin-rate 1.5GB --seed 1');
    assert.equal(run.completedNodes, 96);
    assert.ok(run.p50OverLowerBound! >= 0.99, `p50 ${run.p50OverLowerBound}`);
    assert.ok(run.maxOverLowerBound! < 1.15, `max ${run.maxOverLowerBound}`);
    assert.equal(run.originEgressRatio, 1);
    assert.ok(run.schedulerMessagesPerPiece < 0.1, `${run.schedulerMessagesPerPiece} messages a piece`);
    const again = await model('--nodes 96 --layers 300 --node-rate 300MB --origin-rate 1.5GB --seed 1');
    const { planAndSignCpuSeconds, signCpuSeconds, schedulerCpuSecondsPerTB, wallSeconds, ...outcome } = run;
    assert.deepEqual(
      { ...again, planAndSignCpuSeconds, signCpuSeconds, schedulerCpuSecondsPerTB, wallSeconds },
      run,
    );
    assert.ok(outcome.events > 0);
  });

  it('racks: each stripe crosses each rack uplink once', async () => {
    const run = await model(
      '--nodes 160 --layers 200 --node-rate 1.25GB --origin-rate 1GB --rack-size 40 --uplink-oversubscription 4 --seed 2',
    );
    assert.equal(run.completedNodes, 160);
    assert.equal(run.crossRackRatio, 1);
    assert.equal(run.originEgressRatio, 1);
  });

  it('churn and late joiners: every surviving and late node finishes, the origin still sends about once', async () => {
    const run = await model(
      '--nodes 200 --layers 300 --node-rate 1.25GB --origin-rate 1GB --churn 0.05 --late-joiners 0.05 --seed 3',
    );
    assert.equal(run.killedNodes, 10);
    assert.equal(run.completedNodes, run.expectedNodes);
    assert.ok(
      run.originEgressRatio >= 1 && run.originEgressRatio <= 1.01,
      `origin ${run.originEgressRatio}x`,
    );
  });

  it('stalled parents: their children notice and move, so every node finishes (a stalled subtree never would)', async () => {
    const run = await model(
      '--nodes 200 --layers 300 --node-rate 1.25GB --origin-rate 1GB --seed 4',
      STRIPES,
      {
        stalls: 0.05,
      },
    );
    assert.equal(run.completedNodes, 200);
    assert.ok((run.messagesPerPieceByKind.parentSlow ?? 0) > 0, 'children said their parent was too slow');
    assert.ok(run.maxOverLowerBound! < 2, `max ${run.maxOverLowerBound}`);
  });

  it("slow parents (a quarter of the others' upload): their children move, so nobody waits on them", async () => {
    const run = await model(
      '--nodes 200 --layers 300 --node-rate 1.25GB --origin-rate 1GB --seed 5',
      STRIPES,
      {
        slow: 0.05,
      },
    );
    assert.equal(run.completedNodes, 200);
    assert.ok((run.messagesPerPieceByKind.parentSlow ?? 0) > 0, 'children said their parent was too slow');
    // Fed a stripe at a quarter of the pace, a node would take ~4 x T_LB.
    assert.ok(run.maxOverLowerBound! < 2, `max ${run.maxOverLowerBound}`);
  });
});
