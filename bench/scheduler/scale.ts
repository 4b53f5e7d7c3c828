/**
 * How the scheduler's decisions cost grows with peers and pieces, without
 * libp2p: the real Dispatcher (state, policy, starved-peer queue) driven in
 * process by simulated peers that fetch every assigned piece at once.
 *
 *   node bench/scheduler/scale.ts [--peers 250,500,1000,2000] [--pieces 16,64,256]
 *                                 [--tasks 4] [--seeds 4] [--download-slots 8] [--upload-slots 8]
 *
 * For each (peers, pieces per task): every peer registers (--seeds of them
 * holding every task complete), the others open every task at once, and then
 * every Assignments message the dispatcher sends is answered, in the order
 * sent, by a PieceReport of those pieces with all download slots free again,
 * and TaskDone once a task is complete, until every peer holds every task.
 * Reported: dispatcher calls and decisions, the CPU time per call and per
 * decision, and the total. JSON goes to stdout, progress to stderr.
 */

import { createHash } from 'node:crypto';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import {
  type Assignments,
  DEFAULT_PIECE_SIZE,
  type PieceDone,
  pieceLayout,
  type Register,
  type SchedulerMessage,
} from '../../packages/protocol/src/index.ts';
import { createLogger } from '../../packages/telemetry/src/index.ts';
import { Dispatcher } from '../../scheduler/src/dispatcher.ts';
import { createSchedulerMetrics } from '../../scheduler/src/metrics.ts';
import { SwarmState } from '../../scheduler/src/state/swarm-state.ts';
import { log, positiveInt } from '../common.ts';

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '250,500,1000,2000' },
    pieces: { type: 'string', default: '16,64,256' },
    tasks: { type: 'string', default: '4' },
    seeds: { type: 'string', default: '4' },
    'download-slots': { type: 'string', default: '8' },
    'upload-slots': { type: 'string', default: '8' },
  },
});
const list = (value: string, flag: string) => value.split(',').map((v) => positiveInt(v.trim(), flag));
const PEERS = list(args.peers, '--peers');
const PIECES = list(args.pieces, '--pieces');
const TASKS = positiveInt(args.tasks, '--tasks');
const SEEDS = positiveInt(args.seeds, '--seeds');
const DOWNLOAD_SLOTS = positiveInt(args['download-slots'], '--download-slots');
const UPLOAD_SLOTS = positiveInt(args['upload-slots'], '--upload-slots');
const SHA = new Uint8Array(32).fill(7);

const round = (v: number, digits = 2) => Number(v.toFixed(digits));

async function scenario(peers: number, piecesPerTask: number) {
  const registry = new Registry();
  const state = new SwarmState();
  const metrics = createSchedulerMetrics(registry, { peers: () => 0, tasks: () => 0 });
  const inbox: { to: string; assignments: Assignments }[] = [];
  const dispatcher = new Dispatcher({
    state,
    send: (to: string, message: SchedulerMessage) => {
      if (message.assignments) inbox.push({ to, assignments: message.assignments });
    },
    logger: createLogger({ level: 'silent' }),
    metrics,
  });
  // Blobs of exactly piecesPerTask pieces in the layout the scheduler picks for their size.
  const pieceSize = DEFAULT_PIECE_SIZE;
  const tasks = Array.from({ length: TASKS }, (_, i) => ({
    digest: `sha256:${createHash('sha256').update(`scale-${i}`).digest('hex')}`,
    size: piecesPerTask * pieceSize,
  }));
  if (pieceLayout(tasks[0]!.size).count !== piecesPerTask) {
    throw new Error(`${piecesPerTask} pieces per task exceed the scheduler's layout limits`);
  }
  const ids = Array.from({ length: peers }, (_, i) => `peer-${i}`);
  const have = new Map<string, Uint8Array>(); // `${peer} ${digest}` -> piece flags
  const held = new Map<string, number>();
  let calls = 0;
  let busyNs = 0n;
  const timed = (fn: () => void) => {
    const start = process.hrtime.bigint();
    fn();
    busyNs += process.hrtime.bigint() - start;
    calls++;
  };

  for (const [i, id] of ids.entries()) {
    const register: Register = {
      addrs: [`/ip4/10.0.${i >> 8}.${i & 255}/tcp/4001`],
      labels: new Map([['zone', `zone-${i % 3}`]]),
      uploadSlots: UPLOAD_SLOTS,
      uploadRate: 0n,
      downloadRate: 0n,
      holdings:
        i < SEEDS
          ? tasks.map((t) => ({
              digest: t.digest,
              size: BigInt(t.size),
              pieceSize: 0,
              bitfield: new Uint8Array(0),
              complete: true,
            }))
          : [],
    };
    timed(() => dispatcher.register(id, register));
  }
  const registerNs = busyNs;
  busyNs = 0n;
  calls = 0;
  const started = process.hrtime.bigint();
  for (const id of ids.slice(SEEDS)) {
    for (const task of tasks) {
      have.set(`${id} ${task.digest}`, new Uint8Array(piecesPerTask));
      held.set(`${id} ${task.digest}`, 0);
      timed(() =>
        dispatcher.openTask(id, {
          digest: task.digest,
          size: BigInt(task.size),
          bitfield: new Uint8Array(0),
          want: DOWNLOAD_SLOTS,
        }),
      );
    }
  }
  let tasksDone = 0;
  const tasksTotal = (peers - SEEDS) * TASKS;
  for (let next = 0; next < inbox.length; next++) {
    const { to, assignments } = inbox[next]!;
    const key = `${to} ${assignments.digest}`;
    const flags = have.get(key);
    if (!flags) continue;
    const done: PieceDone[] = [];
    for (const piece of assignments.pieces) {
      const fresh = !flags[piece.index];
      flags[piece.index] = 1;
      if (fresh) held.set(key, held.get(key)! + 1);
      done.push({ index: piece.index, sha256: SHA, parent: piece.parent, millis: 10, length: pieceSize });
    }
    for (const range of assignments.origin) {
      for (let index = range.first; index < range.first + range.count; index++) {
        if (!flags[index]) held.set(key, held.get(key)! + 1);
        flags[index] = 1;
        done.push({ index, sha256: SHA, parent: '', millis: 10, length: pieceSize });
      }
    }
    const complete = held.get(key) === piecesPerTask;
    timed(() =>
      dispatcher.report(to, {
        digest: assignments.digest,
        done,
        failed: [],
        want: complete ? 0 : DOWNLOAD_SLOTS,
      }),
    );
    if (complete) {
      have.delete(key);
      timed(() =>
        dispatcher.taskDone(to, { digest: assignments.digest, ok: true, error: '', digestMismatch: false }),
      );
      tasksDone++;
    }
    if (next > 1_000_000 && next > inbox.length / 2) {
      // Compact the queue now and then so it stays small.
      inbox.splice(0, next + 1);
      next = -1;
    }
  }
  const wallNs = process.hrtime.bigint() - started;
  const histogram = await metrics.assignmentLatency.get();
  const decisions = histogram.values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
  const assignedPieces = (await metrics.assignments.get()).values.reduce((n, v) => n + v.value, 0);
  // trigger -> [decisions that assigned something, decisions that assigned nothing]
  const decisionsByTrigger: Record<string, [number, number]> = {};
  for (const { labels, value } of (await metrics.decisions.get()).values) {
    const trigger = String(labels.trigger);
    const counts = decisionsByTrigger[trigger] ?? [0, 0];
    decisionsByTrigger[trigger] = counts;
    counts[labels.outcome === 'assigned' ? 0 : 1] += value;
  }
  return {
    peers,
    piecesPerTask,
    complete: tasksDone === tasksTotal,
    calls,
    decisions,
    assignments: assignedPieces,
    decisionsPerCall: round(decisions / calls),
    decisionsByTrigger,
    usPerCall: round(Number(busyNs) / 1000 / calls),
    usPerDecision: round(Number(busyNs) / 1000 / Math.max(1, decisions)),
    usPerAssignedPiece: round(Number(busyNs) / 1000 / Math.max(1, assignedPieces)),
    registerMsTotal: round(Number(registerNs) / 1e6),
    seconds: round(Number(wallNs) / 1e9),
  };
}

const results = [];
for (const pieces of PIECES) {
  for (const peers of PEERS) {
    const result = await scenario(peers, pieces);
    log(
      `${peers} peers, ${pieces} pieces: ${result.decisions} decisions in ${result.calls} calls, ` +
        `${result.usPerCall} us/call, ${result.usPerDecision} us/decision, ${result.seconds} s` +
        (result.complete ? '' : ' (NOT complete)'),
    );
    results.push(result);
  }
}
process.stdout.write(
  `${JSON.stringify({ params: { tasks: TASKS, seeds: SEEDS, downloadSlots: DOWNLOAD_SLOTS, uploadSlots: UPLOAD_SLOTS }, results }, null, 2)}\n`,
);
