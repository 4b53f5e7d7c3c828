/**
 * How the scheduler's decisions cost grows with peers and pieces, without
 * libp2p: the real Dispatcher (state, policy, starved-peer queue) driven in
 * process by simulated peers that fetch every assigned piece at once.
 *
 *   node bench/scheduler/scale.ts [--peers 250,500,1000,2000] [--pieces 16,64,256]
 *                                 [--tasks 4] [--seeds 4] [--download-slots 8] [--upload-slots 8]
 *                                 [--fetch-ms MS [--fetch-jitter F]]
 *
 * For each (peers, pieces per task): every peer registers (--seeds of them
 * holding every task complete), the others open every task, and then:
 *
 * - without --fetch-ms, every Assignments message the dispatcher sends is
 *   answered, in the order sent, by a PieceReport of those pieces with all
 *   download slots free again, and TaskDone once a task is complete;
 * - with --fetch-ms, on a virtual clock, as bench/scheduler/run.ts's simulated
 *   peers behave: tasks open within one fetch time, each fetch takes
 *   fetch-ms x (1 ± up to F), reports are batched for 5 ms and carry the free
 *   download slots, the sweep runs every virtual second. The dispatcher's CPU
 *   time is also reported per virtual second (`cpuByVirtualSecond`): its
 *   busiest seconds are the share of a core the policy alone needs at the
 *   rollout's peak;
 *
 * until every peer holds every task. Reported: dispatcher calls and decisions,
 * the CPU time per call and per decision, and the total. JSON goes to stdout,
 * progress to stderr.
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
import { fetched, heldAlready } from './piece-done.ts';

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '250,500,1000,2000' },
    pieces: { type: 'string', default: '16,64,256' },
    tasks: { type: 'string', default: '4' },
    seeds: { type: 'string', default: '4' },
    'download-slots': { type: 'string', default: '8' },
    'upload-slots': { type: 'string', default: '8' },
    'fetch-ms': { type: 'string' },
    'fetch-jitter': { type: 'string', default: '0' },
  },
});
const list = (value: string, flag: string) => value.split(',').map((v) => positiveInt(v.trim(), flag));
const PEERS = list(args.peers, '--peers');
const PIECES = list(args.pieces, '--pieces');
const TASKS = positiveInt(args.tasks, '--tasks');
const SEEDS = positiveInt(args.seeds, '--seeds');
const DOWNLOAD_SLOTS = positiveInt(args['download-slots'], '--download-slots');
const UPLOAD_SLOTS = positiveInt(args['upload-slots'], '--upload-slots');
const FETCH_MS = args['fetch-ms'] === undefined ? undefined : positiveInt(args['fetch-ms'], '--fetch-ms');
const FETCH_JITTER = Number(args['fetch-jitter']);
if (!(FETCH_JITTER >= 0 && FETCH_JITTER < 1)) throw new Error('--fetch-jitter expects a fraction in [0, 1)');
/** The real peer batches piece reports for this long (as the simulated peers of run.ts do). */
const REPORT_DELAY_MS = 5;
const SWEEP_INTERVAL_MS = 1000;

const round = (v: number, digits = 2) => Number(v.toFixed(digits));

interface Scenario {
  dispatcher: Dispatcher;
  metrics: ReturnType<typeof createSchedulerMetrics>;
  /** Assignments the dispatcher sent and the driver has not handled yet, oldest first */
  inbox: { to: string; assignments: Assignments }[];
  tasks: { digest: string; size: number }[];
  /** the peers that download (every peer but the seeds) */
  downloaders: string[];
  pieceSize: number;
  /** runs one dispatcher call, timed */
  timed(fn: () => void): void;
  /** CPU time and calls since the last reset */
  busy(): { ns: bigint; calls: number };
  resetBusy(): void;
}

/** A dispatcher with every peer registered (the seeds holding every task complete). */
function setUp(peers: number, piecesPerTask: number, now?: () => number): Scenario & { registerNs: bigint } {
  const registry = new Registry();
  const state = new SwarmState();
  const metrics = createSchedulerMetrics(registry, { peers: () => 0, tasks: () => 0 });
  const inbox: Scenario['inbox'] = [];
  const dispatcher = new Dispatcher({
    state,
    send: (to: string, message: SchedulerMessage) => {
      if (message.assignments) inbox.push({ to, assignments: message.assignments });
    },
    logger: createLogger({ level: 'silent' }),
    metrics,
    ...(now ? { now } : {}),
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
      uploadRate: 0,
      downloadRate: 0,
      holdings:
        i < SEEDS
          ? tasks.map((t) => ({
              digest: t.digest,
              size: t.size,
              pieceSize: 0,
              bitfield: new Uint8Array(0),
              complete: true,
            }))
          : [],
    };
    timed(() => dispatcher.register(id, register));
  }
  return {
    dispatcher,
    metrics,
    inbox,
    tasks,
    downloaders: ids.slice(SEEDS),
    pieceSize,
    timed,
    busy: () => ({ ns: busyNs, calls }),
    resetBusy: () => {
      busyNs = 0n;
      calls = 0;
    },
    registerNs: busyNs,
  };
}

interface Driven {
  tasksDone: number;
  /** with a virtual clock: how long the rollout took on it, and the dispatcher's CPU ms per virtual second */
  timeline?: { virtualSeconds: number; cpuByVirtualSecond: number[] };
}

/** Every Assignments answered at once, in the order sent, with all download slots free again. */
function driveInstant(s: Scenario, piecesPerTask: number): Driven {
  const have = new Map<string, Uint8Array>(); // `${peer} ${digest}` -> piece flags
  const held = new Map<string, number>();
  for (const id of s.downloaders) {
    for (const task of s.tasks) {
      have.set(`${id} ${task.digest}`, new Uint8Array(piecesPerTask));
      held.set(`${id} ${task.digest}`, 0);
      s.timed(() =>
        s.dispatcher.openTask(id, {
          digest: task.digest,
          size: task.size,
          bitfield: new Uint8Array(0),
          want: DOWNLOAD_SLOTS,
        }),
      );
    }
  }
  let tasksDone = 0;
  const { inbox } = s;
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
      done.push(fetched(piece.index, piece.parent, 10, s.pieceSize, true));
    }
    for (const range of assignments.origin) {
      for (let index = range.first; index < range.first + range.count; index++) {
        if (!flags[index]) held.set(key, held.get(key)! + 1);
        flags[index] = 1;
        done.push(fetched(index, '', 10, s.pieceSize, true));
      }
    }
    const complete = held.get(key) === piecesPerTask;
    s.timed(() =>
      s.dispatcher.report(to, {
        digest: assignments.digest,
        done,
        failed: [],
        want: complete ? 0 : DOWNLOAD_SLOTS,
      }),
    );
    if (complete) {
      have.delete(key);
      s.timed(() =>
        s.dispatcher.taskDone(to, { digest: assignments.digest, ok: true, error: '', digestMismatch: false }),
      );
      tasksDone++;
    }
    if (next > 1_000_000 && next > inbox.length / 2) {
      // Compact the queue now and then so it stays small.
      inbox.splice(0, next + 1);
      next = -1;
    }
  }
  return { tasksDone };
}

/** One task as one simulated peer downloads it (as in sim-peers.ts). */
interface TimedRun {
  peer: string;
  digest: string;
  have: Uint8Array;
  haveCount: number;
  /** parent fetches running */
  active: number;
  pendingDone: PieceDone[];
  reportDue: boolean;
  originQueue: { first: number; count: number }[];
  originBusy: boolean;
  done: boolean;
}

/** Events on the virtual clock, earliest first (ties in the order scheduled). */
class EventQueue {
  readonly #heap: { at: number; seq: number; run: () => void }[] = [];
  #seq = 0;

  get size(): number {
    return this.#heap.length;
  }

  at(at: number, run: () => void): void {
    const heap = this.#heap;
    heap.push({ at, seq: this.#seq++, run });
    for (let i = heap.length - 1; i > 0; ) {
      const up = (i - 1) >> 1;
      if (!this.#before(i, up)) break;
      [heap[i], heap[up]] = [heap[up]!, heap[i]!];
      i = up;
    }
  }

  pop(): { at: number; run: () => void } {
    const heap = this.#heap;
    const top = heap[0]!;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && this.#before(l, m)) m = l;
        if (r < heap.length && this.#before(r, m)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return top;
  }

  #before(a: number, b: number): boolean {
    const x = this.#heap[a]!;
    const y = this.#heap[b]!;
    return x.at < y.at || (x.at === y.at && x.seq < y.seq);
  }
}

/** The rollout on a virtual clock, the simulated peers behaving as run.ts's do. */
function driveTimed(s: Scenario, piecesPerTask: number, clock: { now: number }, fetchMs: number): Driven {
  const events = new EventQueue();
  const runs = new Map<string, TimedRun>(); // `${peer} ${digest}`
  const cpuNs: bigint[] = [];
  const total = s.downloaders.length * s.tasks.length;
  let tasksDone = 0;
  const call = (fn: () => void) => {
    const before = s.busy().ns;
    s.timed(fn);
    const second = Math.floor(clock.now / 1000);
    cpuNs[second] = (cpuNs[second] ?? 0n) + s.busy().ns - before;
    // What the dispatcher sent reaches its peers at once.
    for (const { to, assignments } of s.inbox.splice(0)) onAssignments(to, assignments);
  };
  const fetchTime = () => fetchMs * (1 + FETCH_JITTER * (2 * Math.random() - 1));

  const scheduleReport = (run: TimedRun) => {
    if (run.reportDue) return;
    run.reportDue = true;
    events.at(clock.now + REPORT_DELAY_MS, () => {
      run.reportDue = false;
      if (run.done) return;
      const complete = run.haveCount === piecesPerTask;
      const want = complete ? 0 : Math.max(0, DOWNLOAD_SLOTS - run.active);
      const done = run.pendingDone;
      run.pendingDone = [];
      call(() => s.dispatcher.report(run.peer, { digest: run.digest, done, failed: [], want }));
      if (complete) {
        run.done = true;
        tasksDone++;
        call(() =>
          s.dispatcher.taskDone(run.peer, { digest: run.digest, ok: true, error: '', digestMismatch: false }),
        );
      }
    });
  };
  const land = (run: TimedRun, index: number, parent: string, millis: number) => {
    if (run.done) return;
    const fresh = !run.have[index];
    if (fresh) {
      run.have[index] = 1;
      run.haveCount++;
    }
    run.pendingDone.push(fetched(index, parent, millis, s.pieceSize, fresh));
    scheduleReport(run);
  };
  const drainOrigin = (run: TimedRun) => {
    if (run.originBusy) return;
    const range = run.originQueue.shift();
    if (!range || run.done) return;
    run.originBusy = true;
    const next = (index: number) => {
      const millis = fetchTime();
      events.at(clock.now + millis, () => {
        land(run, index, '', millis);
        if (index + 1 < range.first + range.count && !run.done) next(index + 1);
        else {
          run.originBusy = false;
          drainOrigin(run);
        }
      });
    };
    next(range.first);
  };
  function onAssignments(to: string, assignments: Assignments): void {
    const run = runs.get(`${to} ${assignments.digest}`);
    if (!run || run.done) return;
    for (const piece of assignments.pieces) {
      if (run.have[piece.index]) {
        run.pendingDone.push(heldAlready(piece));
        scheduleReport(run);
        continue;
      }
      run.active++;
      const millis = fetchTime();
      events.at(clock.now + millis, () => {
        run.active--;
        land(run, piece.index, piece.parent, millis);
      });
    }
    run.originQueue.push(...assignments.origin);
    drainOrigin(run);
  }

  // Peers start within one fetch time of each other, every task at once.
  for (const peer of s.downloaders) {
    events.at(Math.random() * fetchMs, () => {
      for (const task of s.tasks) {
        const run: TimedRun = {
          peer,
          digest: task.digest,
          have: new Uint8Array(piecesPerTask),
          haveCount: 0,
          active: 0,
          pendingDone: [],
          reportDue: false,
          originQueue: [],
          originBusy: false,
          done: false,
        };
        runs.set(`${peer} ${task.digest}`, run);
        call(() =>
          s.dispatcher.openTask(peer, {
            digest: task.digest,
            size: task.size,
            bitfield: new Uint8Array(0),
            want: DOWNLOAD_SLOTS,
          }),
        );
      }
    });
  }
  const sweep = () => {
    call(() => s.dispatcher.sweep());
    if (tasksDone < total) events.at(clock.now + SWEEP_INTERVAL_MS, sweep);
  };
  events.at(SWEEP_INTERVAL_MS, sweep);
  const limit = 3600_000;
  while (tasksDone < total && events.size > 0) {
    const event = events.pop();
    if (event.at > limit) break;
    clock.now = event.at;
    event.run();
  }
  return {
    tasksDone,
    timeline: {
      virtualSeconds: round(clock.now / 1000, 1),
      cpuByVirtualSecond: Array.from(cpuNs, (ns) => round(Number(ns ?? 0n) / 1e6, 1)),
    },
  };
}

async function scenario(peers: number, piecesPerTask: number) {
  const clock = { now: 0 };
  const s = setUp(peers, piecesPerTask, FETCH_MS === undefined ? undefined : () => clock.now);
  const registerNs = s.registerNs;
  s.resetBusy();
  const started = process.hrtime.bigint();
  const driven =
    FETCH_MS === undefined ? driveInstant(s, piecesPerTask) : driveTimed(s, piecesPerTask, clock, FETCH_MS);
  const wallNs = process.hrtime.bigint() - started;
  const { ns: busyNs, calls } = s.busy();
  const { metrics } = s;
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
  const timeline = driven.timeline;
  return {
    peers,
    piecesPerTask,
    complete: driven.tasksDone === s.downloaders.length * s.tasks.length,
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
    ...(timeline
      ? {
          virtualSeconds: timeline.virtualSeconds,
          busiestVirtualSecondMs: Math.max(...timeline.cpuByVirtualSecond),
          cpuByVirtualSecond: timeline.cpuByVirtualSecond,
        }
      : {}),
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
