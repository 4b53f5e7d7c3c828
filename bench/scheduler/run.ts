/**
 * Scheduler benchmark: one real `shoal scheduler` process and K simulated peers
 * on real libp2p connections, many per child process (bench/scheduler/sim-peers.ts).
 *
 *   node bench/scheduler/run.ts [--peers 2000] [--workers 4] [--tasks 4] [--blob-mib 256]
 *                               [--seeds 4] [--fetch-ms 100] [--fetch-jitter 0] [--probe-ms 1000]
 *                               [--download-slots 8] [--upload-slots 8]
 *                               [--echo-seconds 5] [--deadline-seconds 180] [--runs 3]
 *                               [--scheduler-arg ARG]... [--cpu-prof DIR] [--log-dir DIR]
 *                               [--peer-nice N] [--probe-peers N]
 *
 * Each run starts a fresh scheduler and fresh peers, then:
 *
 * connect  every peer dials the scheduler from a loopback address of its own
 *          (127.10.x.y: the scheduler limits inbound connections per address),
 *          with its own Ed25519 identity, TLS and yamux, and registers; --seeds
 *          of them announce every task complete (Register holdings).
 * echo     baseline on the same connections and the same scheduler process:
 *          every peer runs round trips of a piece-report-sized message on the
 *          scheduler's ping protocol (an echo), paced like the swarm's reports,
 *          for --echo-seconds. What libp2p, the event loop and the machine cost
 *          without any scheduling.
 * swarm    every other peer opens all --tasks tasks at once (--blob-mib MiB each,
 *          the default piece size) with --download-slots fetches per task,
 *          "fetches" each assigned piece in --fetch-ms (nothing moves; each fetch
 *          varies by up to ± --fetch-jitter of that, as real links do), reports
 *          it as the real peer does (batched for 5 ms, with its free slots as
 *          `want`) and ends each task with TaskDone.
 *
 * Measured at the peer:
 * - assignment wait: from a request (OpenTask, or a PieceReport with want > 0)
 *   to the next Assignments of that task. It includes libp2p both ways, the
 *   scheduler's queue, its decision, and any wait for a parent with a free
 *   upload slot (a request nobody can serve yet is answered when one frees);
 * - answer latency: every --probe-ms each downloading peer opens a blob nobody
 *   knows (size 0) on the same stream, which the scheduler answers at once
 *   with a TaskInfo of size 0, keeping nothing: libp2p, the scheduler's queue
 *   and its message handling under the swarm's load, without the capacity wait.
 *   With --probe-peers N, only N peers probe (every --probe-ms each), and they
 *   live in a process of their own at normal priority: a swarm peer like the
 *   others, but measured from an event loop that is not also running hundreds
 *   of other peers, as a real peer's daemon on its own node would be.
 * The scheduler's own view, the time one decision takes, is its
 * shoal_scheduler_assignment_duration_seconds histogram; decisions per second
 * are that histogram's count over the swarm phase. Scheduler memory is
 * /proc/<pid>/status: VmRSS when idle, when every peer is connected, its peak
 * during the swarm, and VmHWM. --cpu-prof DIR profiles the scheduler; --log-dir
 * DIR keeps its whole log (SCHEDULER_DEBUG=<namespaces> turns on libp2p's debug
 * log in the scheduler only; SCHEDULER_NODE_OPTIONS=<flags> gives it node
 * flags). --peer-nice N runs the simulated peers at that scheduling priority.
 * JSON goes to stdout, progress to stderr.
 */

import { type ChildProcess, fork } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { cpus, loadavg, release, setPriority } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { MIB, pieceLayout } from '../../packages/protocol/src/pieces.ts';
import { request } from '../../test/fixtures/http.ts';
import { type RunningScheduler, startScheduler, sumSamples } from '../../test/fixtures/shoal.ts';
import { log, positiveInt } from '../common.ts';
import { cpuSeconds, machineJiffies, median, round } from '../measure.ts';
import type { ParentCommand, SimConfig, SimTask, WorkerReport } from './sim-peers.ts';

const SIM_PEERS = resolve(import.meta.dirname, 'sim-peers.ts');
const LATENCY_METRIC = 'shoal_scheduler_assignment_duration_seconds';
const TARGETS = { peers: 2000, p99Ms: 50, rssBytes: 1024 * MIB };
/** A PieceReport with a few pieces done, as it goes over the wire. */
const ECHO_PAYLOAD_BYTES = 160;

const { values: args } = parseArgs({
  options: {
    peers: { type: 'string', default: '2000' },
    workers: { type: 'string', default: '4' },
    'peer-nice': { type: 'string', default: '0' },
    'probe-peers': { type: 'string', default: '0' },
    tasks: { type: 'string', default: '4' },
    'blob-mib': { type: 'string', default: '256' },
    seeds: { type: 'string', default: '4' },
    'fetch-ms': { type: 'string', default: '100' },
    'fetch-jitter': { type: 'string', default: '0' },
    'probe-ms': { type: 'string', default: '1000' },
    'download-slots': { type: 'string', default: '8' },
    'upload-slots': { type: 'string', default: '8' },
    'echo-seconds': { type: 'string', default: '5' },
    'deadline-seconds': { type: 'string', default: '180' },
    runs: { type: 'string', default: '3' },
    'scheduler-arg': { type: 'string', multiple: true, default: [] },
    'cpu-prof': { type: 'string' },
    'log-dir': { type: 'string' },
  },
});
const PEERS = positiveInt(args.peers, '--peers');
const WORKERS = Math.min(PEERS, positiveInt(args.workers, '--workers'));
/**
 * Scheduling priority (nice) of the simulated peers' processes. Here they share the 2 cores
 * with the scheduler, which a real cluster's peers do not; 0 (the default) lets the kernel
 * share the cores evenly between the 4 peer processes and the scheduler.
 */
const PEER_NICE = Number(args['peer-nice']);
if (!Number.isInteger(PEER_NICE) || PEER_NICE < 0 || PEER_NICE > 19)
  throw new Error(`--peer-nice expects an integer from 0 to 19, got ${args['peer-nice']}`);
/**
 * Peers (the last indices) in a process of their own, not niced, that alone send the probes: the
 * load processes' event loops run hundreds of peers each and lag behind under load, and every
 * answer they time includes that lag. 0: every downloading peer probes, from the load processes.
 */
const PROBE_PEERS = Number(args['probe-peers']);
const TASKS = positiveInt(args.tasks, '--tasks');
const BLOB_MIB = positiveInt(args['blob-mib'], '--blob-mib');
const SEEDS = Number(args.seeds);
if (!Number.isSafeInteger(SEEDS) || SEEDS < 0 || SEEDS >= PEERS)
  throw new Error(`--seeds expects 0..${PEERS - 1}, got ${args.seeds}`);
if (!Number.isSafeInteger(PROBE_PEERS) || PROBE_PEERS < 0 || PROBE_PEERS > PEERS - SEEDS - WORKERS)
  throw new Error(`--probe-peers expects 0..${PEERS - SEEDS - WORKERS}, got ${args['probe-peers']}`);
/** the processes of simulated peers: the load processes, then the probe process if any */
const PROCESSES = WORKERS + (PROBE_PEERS > 0 ? 1 : 0);
const FETCH_MS = Number(args['fetch-ms']);
if (!Number.isFinite(FETCH_MS) || FETCH_MS < 0)
  throw new Error(`--fetch-ms expects >= 0, got ${args['fetch-ms']}`);
const FETCH_JITTER = Number(args['fetch-jitter']);
if (!(FETCH_JITTER >= 0 && FETCH_JITTER < 1))
  throw new Error(`--fetch-jitter expects a fraction in [0, 1), got ${args['fetch-jitter']}`);
const PROBE_MS = Number(args['probe-ms']);
if (!Number.isSafeInteger(PROBE_MS) || PROBE_MS < 0)
  throw new Error(`--probe-ms expects >= 0, got ${args['probe-ms']}`);
const DOWNLOAD_SLOTS = positiveInt(args['download-slots'], '--download-slots');
const UPLOAD_SLOTS = positiveInt(args['upload-slots'], '--upload-slots');
const ECHO_SECONDS = positiveInt(args['echo-seconds'], '--echo-seconds');
const DEADLINE_SECONDS = positiveInt(args['deadline-seconds'], '--deadline-seconds');
const RUNS = positiveInt(args.runs, '--runs');
const PROFILE_DIR = args['cpu-prof'] ? resolve(args['cpu-prof']) : undefined;
const LOG_DIR = args['log-dir'] ? resolve(args['log-dir']) : undefined;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function summarize(values: Float64Array) {
  const sorted = Float64Array.from(values).sort();
  return {
    count: sorted.length,
    p50: round(percentile(sorted, 0.5), 2),
    p90: round(percentile(sorted, 0.9), 2),
    p99: round(percentile(sorted, 0.99), 2),
    max: round(sorted.at(-1) ?? Number.NaN, 2),
  };
}

/** Latency summaries per window of the swarm (by when each sample began), to tell a burst from a steady state. */
const WINDOW_MS = 10_000;
function byWindow(times: Float64Array, values: Float64Array, windowMs: number) {
  const windows: number[][] = [];
  times.forEach((time, i) => {
    const w = Math.max(0, Math.floor(time / windowMs));
    const window = windows[w] ?? [];
    window.push(values[i]!);
    windows[w] = window;
  });
  return Array.from(windows, (samples, w) => ({
    fromSeconds: (w * windowMs) / 1000,
    ...summarize(Float64Array.from(samples ?? [])),
  }));
}

function concat(parts: Float64Array[]): Float64Array {
  const out = new Float64Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The scheduler process: memory, CPU, metrics

async function procStatus(pid: number): Promise<{ rss: number; hwm: number }> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? 0) * 1024;
  return { rss: kib('VmRSS'), hwm: kib('VmHWM') };
}

/** Highest VmRSS seen while it runs, sampled every 200 ms. */
function watchRss(pid: number) {
  let peak = 0;
  const sample = () =>
    procStatus(pid)
      .then(({ rss }) => {
        peak = Math.max(peak, rss);
      })
      .catch(() => {});
  const timer = setInterval(() => void sample(), 200);
  void sample();
  return {
    async stop(): Promise<number> {
      clearInterval(timer);
      await sample();
      return peak;
    },
  };
}

/** Read and write syscalls a process made so far (/proc/<pid>/io). */
async function ioSyscalls(pid: number): Promise<{ reads: number; writes: number }> {
  const text = await readFile(`/proc/${pid}/io`, 'utf8');
  const field = (name: string) => Number(new RegExp(`^${name}: (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { reads: field('syscr'), writes: field('syscw') };
}

const GC_KINDS = ['major', 'minor', 'incremental'] as const;

/**
 * The scheduler's own state through the swarm, per window: its CPU share, its longest
 * event-loop stall (prom-client resets that histogram at every scrape) and its GC time by
 * kind. Tells a late answer that the scheduler caused from one the peers or the wire did.
 * One scrape per window: a scrape of 2,000 peers' metrics costs the scheduler CPU too.
 */
function watchScheduler(scheduler: RunningScheduler, pid: number, peerPids: readonly number[]) {
  const started = performance.now();
  type Sample = {
    at: number;
    cpu: number;
    peersCpu: number;
    machine: { busy: number; total: number };
    gc: Record<string, number>;
    lagMaxMs: number;
    /** how long the scheduler took to answer this scrape of /metrics */
    scrapeMs: number;
  };
  const samples: Sample[] = [];
  let stopped = false;
  let wake: (() => void) | undefined;
  const peersCpu = async () => {
    const each = await Promise.all(peerPids.map((p) => cpuSeconds(p).catch(() => 0)));
    return each.reduce((a, b) => a + b, 0);
  };
  const sample = async () => {
    const at = performance.now() - started;
    const [[text, scrapeMs], cpu, peers, machine] = await Promise.all([
      (async () => {
        const sent = performance.now();
        return [await metricsText(scheduler), performance.now() - sent] as const;
      })(),
      cpuSeconds(pid),
      peersCpu(),
      machineJiffies(),
    ]);
    samples.push({
      at,
      cpu,
      peersCpu: peers,
      machine,
      gc: Object.fromEntries(
        GC_KINDS.map((kind) => [kind, sumSamples(text, 'nodejs_gc_duration_seconds_sum', { kind })]),
      ),
      lagMaxMs: sumSamples(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
      scrapeMs,
    });
  };
  const loop = (async () => {
    for (let window = 1; !stopped; window++) {
      await sample().catch(() => {});
      const until = started + window * WINDOW_MS - performance.now();
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, Math.max(0, until));
      });
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
      // The last, partial window.
      if (performance.now() - started - (samples.at(-1)?.at ?? 0) > 1000) await sample().catch(() => {});
      return samples.slice(1).map((end, i) => {
        const begin = samples[i]!;
        return {
          fromSeconds: round(begin.at / 1000, 0),
          cpuShare: round((end.cpu - begin.cpu) / ((end.at - begin.at) / 1000), 2),
          // the simulated peers' processes together, in cores, and how busy the whole machine was
          peersCpuCores: round((end.peersCpu - begin.peersCpu) / ((end.at - begin.at) / 1000), 2),
          machineBusyShare: round(
            (end.machine.busy - begin.machine.busy) / Math.max(1, end.machine.total - begin.machine.total),
            2,
          ),
          loopLagMaxMs: round(end.lagMaxMs, 0),
          // a scrape's own cost, which the window after it holds (the lag maximum restarts at each scrape)
          scrapeMs: round(begin.scrapeMs, 1),
          gcMs: Object.fromEntries(
            GC_KINDS.map((kind) => [kind, round((end.gc[kind]! - begin.gc[kind]!) * 1000, 0)]),
          ),
        };
      });
    },
  };
}

/** The scheduler's decisions since it started, by trigger: [assigned something, assigned nothing]. */
function decisionsByTrigger(metrics: string): Record<string, [number, number]> {
  const out: Record<string, [number, number]> = {};
  for (const match of metrics.matchAll(
    /^shoal_scheduler_decisions_total\{[^}]*trigger="([^"]+)"[^}]*outcome="([^"]+)"[^}]*\} (\S+)$/gm,
  )) {
    const counts = out[match[1]!] ?? [0, 0];
    counts[match[2] === 'assigned' ? 0 : 1] += Number(match[3]);
    out[match[1]!] = counts;
  }
  return out;
}

/** The V8 heap as the scheduler's metrics report it, MiB. */
function heapOf(metrics: string) {
  return {
    usedMiB: round(sumSamples(metrics, 'nodejs_heap_size_used_bytes') / MIB, 1),
    totalMiB: round(sumSamples(metrics, 'nodejs_heap_size_total_bytes') / MIB, 1),
    externalMiB: round(sumSamples(metrics, 'nodejs_external_memory_bytes') / MIB, 1),
  };
}

interface HistogramSnapshot {
  buckets: [number, number][];
  count: number;
  sum: number;
}

function histogram(text: string, name: string): HistogramSnapshot {
  const buckets = new Map<number, number>();
  for (const match of text.matchAll(
    new RegExp(`^${name}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\S+)$`, 'gm'),
  )) {
    const le = match[1] === '+Inf' ? Number.POSITIVE_INFINITY : Number(match[1]);
    buckets.set(le, (buckets.get(le) ?? 0) + Number(match[2]));
  }
  return {
    buckets: [...buckets].sort((a, b) => a[0] - b[0]),
    count: sumSamples(text, `${name}_count`),
    sum: sumSamples(text, `${name}_sum`),
  };
}

/** Upper bound of the bucket holding quantile q of the observations between two snapshots, in ms. */
function histogramQuantileMs(
  before: HistogramSnapshot,
  after: HistogramSnapshot,
  q: number,
): number | string {
  const count = after.count - before.count;
  if (count <= 0) return Number.NaN;
  const previous = new Map(before.buckets);
  for (const [le, cumulative] of after.buckets) {
    if (cumulative - (previous.get(le) ?? 0) >= q * count)
      return Number.isFinite(le) ? round(le * 1000, 2) : `> ${round(after.buckets.at(-2)![0] * 1000, 2)}`;
  }
  return Number.NaN;
}

async function metricsText(scheduler: RunningScheduler): Promise<string> {
  return (await request(`${scheduler.adminUrl}/metrics`, { timeoutMs: 30_000 })).body.toString('utf8');
}

// ---------------------------------------------------------------------------------------------
// Simulated peers

class Workers {
  readonly #children: ChildProcess[] = [];

  get pids(): number[] {
    return this.#children.flatMap((child) => (child.pid === undefined ? [] : [child.pid]));
  }
  readonly #waiting = new Map<string, { pending: number; reports: WorkerReport[]; done: () => void }>();
  onProgress: ((worker: number, report: Extract<WorkerReport, { type: 'progress' }>) => void) | undefined;
  errors: string[] = [];

  constructor(count: number) {
    for (let i = 0; i < count; i++) {
      const child = fork(SIM_PEERS, [], {
        serialization: 'advanced',
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        // Many connections and promises each: room to breathe, and the machine is small.
        execArgv: [
          '--max-old-space-size=4096',
          ...(process.env.SIM_IMPORT ? ['--import', process.env.SIM_IMPORT] : []),
        ],
      });
      // The probe process keeps normal priority: it measures, and its load is small.
      if (PEER_NICE > 0 && i < WORKERS && child.pid !== undefined) setPriority(child.pid, PEER_NICE);
      child.on('message', (report: WorkerReport) => this.#onReport(i, report));
      child.on('exit', (code) => {
        if (code !== 0 && code !== null) this.errors.push(`worker ${i} exited with code ${code}`);
      });
      this.#children.push(child);
    }
  }

  #onReport(worker: number, report: WorkerReport): void {
    if (report.type === 'error') {
      if (this.errors.length < 20) this.errors.push(`worker ${worker}: ${report.message}`);
      return;
    }
    if (report.type === 'progress') {
      this.onProgress?.(worker, report);
      return;
    }
    const waiting = this.#waiting.get(report.type);
    if (!waiting) return;
    waiting.reports[worker] = report;
    if (--waiting.pending === 0) waiting.done();
  }

  /** Sends each worker its command and resolves with every worker's answer of type `answer`. */
  async ask<T extends WorkerReport['type']>(
    commands: ParentCommand[],
    answer: T,
    timeoutMs: number,
  ): Promise<Extract<WorkerReport, { type: T }>[]> {
    const { promise, resolve: done } = Promise.withResolvers<void>();
    const waiting = { pending: this.#children.length, reports: [] as WorkerReport[], done };
    this.#waiting.set(answer, waiting);
    for (const [i, child] of this.#children.entries()) child.send(commands[i]!);
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        promise,
        new Promise((_, reject) => {
          timer = setTimeout(
            () =>
              reject(
                new Error(`workers did not answer ${answer} in ${timeoutMs} ms: ${this.errors.join('; ')}`),
              ),
            timeoutMs,
          );
        }),
      ]);
    } finally {
      clearTimeout(timer);
      this.#waiting.delete(answer);
    }
    return waiting.reports as Extract<WorkerReport, { type: T }>[];
  }

  async exit(): Promise<void> {
    await Promise.all(
      this.#children.map(
        (child) =>
          new Promise<void>((resolveExit) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolveExit();
            child.once('exit', () => resolveExit());
            child.send({ type: 'exit' } satisfies ParentCommand);
            setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
          }),
      ),
    );
  }
}

function benchTasks(): SimTask[] {
  return Array.from({ length: TASKS }, (_, i) => {
    const size = BLOB_MIB * MIB + i * 12_345; // sizes differ a little, as real layers do
    const digest = `sha256:${createHash('sha256').update(`bench/scheduler/task-${i}`).digest('hex')}`;
    return { digest, size, pieceCount: pieceLayout(size).count };
  });
}

/** Waits until the scheduler lists every peer; gives up after 60 s without one more registering. */
async function waitForPeers(scheduler: RunningScheduler, count: number): Promise<void> {
  let deadline = Date.now() + 60_000;
  let last = 0;
  for (;;) {
    const peers = await scheduler.metric('shoal_scheduler_peers');
    if (peers === count) return;
    if (peers > last) {
      last = peers;
      deadline = Date.now() + 60_000;
    }
    if (Date.now() > deadline) throw new Error(`scheduler lists ${peers} peers, expected ${count}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * Every simulated peer's process exits at once, as when a whole rack drops: how long the
 * scheduler takes to forget 2,000 hosts holding every piece, and its longest stall meanwhile.
 */
async function allLeave(scheduler: RunningScheduler, workers: Workers) {
  await metricsText(scheduler);
  const started = performance.now();
  await workers.exit();
  // Every scrape resets the event-loop histogram: the longest stall is the largest of the scrapes.
  let lagMax = 0;
  let peers = Number.POSITIVE_INFINITY;
  for (let i = 0; i < 600 && peers > 0; i++) {
    const text = await metricsText(scheduler);
    lagMax = Math.max(lagMax, sumSamples(text, 'nodejs_eventloop_lag_max_seconds'));
    peers = sumSamples(text, 'shoal_scheduler_peers');
    if (peers > 0) await new Promise((r) => setTimeout(r, 50));
  }
  return {
    seconds: round((performance.now() - started) / 1000, 2),
    peersLeft: peers,
    loopLagMaxMs: round(lagMax * 1000, 0),
  };
}

// ---------------------------------------------------------------------------------------------
// One run

async function oneRun(runIndex: number) {
  const tasks = benchTasks();
  // startScheduler passes this process's environment on: profiling and debug logs go through it for the spawn only.
  const saved = { NODE_OPTIONS: process.env.NODE_OPTIONS, DEBUG: process.env.DEBUG };
  if (PROFILE_DIR) process.env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${PROFILE_DIR}`;
  if (process.env.SCHEDULER_DEBUG) process.env.DEBUG = process.env.SCHEDULER_DEBUG;
  if (process.env.SCHEDULER_NODE_OPTIONS)
    process.env.NODE_OPTIONS =
      `${process.env.NODE_OPTIONS ?? ''} ${process.env.SCHEDULER_NODE_OPTIONS}`.trim();
  let scheduler: RunningScheduler;
  try {
    scheduler = await startScheduler({ extraArgs: args['scheduler-arg'] });
  } finally {
    for (const [key, value] of Object.entries(saved)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  }
  if (LOG_DIR) {
    const file = createWriteStream(join(LOG_DIR, `scheduler-${runIndex + 1}.log`));
    scheduler.daemon.child.stdout?.pipe(file, { end: false });
    scheduler.daemon.child.stderr?.pipe(file, { end: false });
  }
  const pid = scheduler.daemon.pid;
  const workers = new Workers(PROCESSES);
  try {
    await new Promise((r) => setTimeout(r, 500));
    const idle = await procStatus(pid);
    log(`run ${runIndex + 1}: scheduler idle at ${round(idle.rss / MIB, 1)} MiB; connecting ${PEERS} peers`);

    const loadPeers = PEERS - PROBE_PEERS;
    const perWorker = Math.ceil(loadPeers / WORKERS);
    const configs: SimConfig[] = Array.from({ length: PROCESSES }, (_, w) => ({
      ...(w < WORKERS
        ? {
            firstIndex: w * perWorker,
            count: Math.max(0, Math.min(perWorker, loadPeers - w * perWorker)),
            probeMs: PROBE_PEERS > 0 ? 0 : PROBE_MS,
          }
        : { firstIndex: loadPeers, count: PROBE_PEERS, probeMs: PROBE_MS }),
      seeds: SEEDS,
      scheduler: scheduler.multiaddrs[0]!,
      tasks,
      downloadSlots: DOWNLOAD_SLOTS,
      uploadSlots: UPLOAD_SLOTS,
      fetchMs: FETCH_MS,
      fetchJitter: FETCH_JITTER,
      // At most 8 handshakes in flight in all: the scheduler refuses an 11th pending one.
      dialConcurrency: Math.max(1, Math.floor(8 / PROCESSES)),
    }));
    const connectWatch = watchRss(pid);
    const connected = await workers.ask(
      configs.map((config) => ({ type: 'start', config })),
      'connected',
      600_000,
    );
    await waitForPeers(scheduler, PEERS);
    const connectPeak = await connectWatch.stop();
    const afterConnect = await procStatus(pid);
    const connectedText = await metricsText(scheduler);
    const heap = heapOf(connectedText);
    const connectSeconds = Math.max(...connected.map((c) => c.seconds));
    log(
      `run ${runIndex + 1}: ${PEERS} peers connected in ${round(connectSeconds, 1)} s ` +
        `(${connected.reduce((n, c) => n + c.retries, 0)} retries); scheduler at ${round(afterConnect.rss / MIB, 1)} MiB`,
    );

    // Baseline: an echo on the same connections, paced like the swarm.
    const echoCpu = await cpuSeconds(pid);
    const echoes = await workers.ask(
      configs.map(() => ({
        type: 'echo',
        durationMs: ECHO_SECONDS * 1000,
        payloadBytes: ECHO_PAYLOAD_BYTES,
      })),
      'echoDone',
      ECHO_SECONDS * 1000 + 120_000,
    );
    const echoSamples = concat(echoes.map((e) => e.samples));
    const echoSchedulerCpu = (await cpuSeconds(pid)) - echoCpu;
    const echo = {
      roundTripMs: summarize(echoSamples),
      roundTripsPerSecond: round(echoSamples.length / ECHO_SECONDS, 0),
      failures: echoes.reduce((n, e) => n + e.failures, 0),
      peerLoopDelayP99Ms: round(Math.max(...echoes.map((e) => e.loopDelayP99Ms)), 1),
      schedulerCpuSeconds: round(echoSchedulerCpu, 2),
    };
    log(
      `run ${runIndex + 1}: echo p50 ${echo.roundTripMs.p50} ms, p99 ${echo.roundTripMs.p99} ms, ${echo.roundTripsPerSecond}/s`,
    );

    // The swarm.
    const before = await metricsText(scheduler);
    const cpuBefore = await cpuSeconds(pid);
    const syscallsBefore = await ioSyscalls(pid);
    const swarmWatch = watchRss(pid);
    const schedulerWatch = watchScheduler(scheduler, pid, workers.pids);
    const pieces = new Array<number>(PROCESSES).fill(0);
    const done = new Array<number>(PROCESSES).fill(0);
    const totalPieces = (PEERS - SEEDS) * tasks.reduce((n, t) => n + t.pieceCount, 0);
    let lastLog = 0;
    workers.onProgress = (worker, report) => {
      pieces[worker] = report.pieces;
      done[worker] = report.tasksDone;
      if (Date.now() - lastLog > 5000) {
        lastLog = Date.now();
        const sum = pieces.reduce((a, b) => a + b, 0);
        log(
          `run ${runIndex + 1}: ${sum}/${totalPieces} pieces, ${done.reduce((a, b) => a + b, 0)} tasks done`,
        );
      }
    };
    const started = performance.now();
    const results = await workers.ask(
      configs.map(() => ({ type: 'swarm', deadlineMs: DEADLINE_SECONDS * 1000 })),
      'swarmDone',
      DEADLINE_SECONDS * 1000 + 60_000,
    );
    const seconds = (performance.now() - started) / 1000;
    const cpu = (await cpuSeconds(pid)) - cpuBefore;
    const syscallsAfter = await ioSyscalls(pid);
    const swarmPeak = await swarmWatch.stop();
    const schedulerByWindow = await schedulerWatch.stop();
    const after = await metricsText(scheduler);
    const end = await procStatus(pid);

    const latencies = concat(results.map((r) => r.samples));
    const sum = (
      key:
        | 'requests'
        | 'assignmentMessages'
        | 'pieceAssignments'
        | 'originRanges'
        | 'pieces'
        | 'tasksDone'
        | 'tasksTotal',
    ) => results.reduce((n, r) => n + r[key], 0);
    const hBefore = histogram(before, LATENCY_METRIC);
    const hAfter = histogram(after, LATENCY_METRIC);
    const decisions = hAfter.count - hBefore.count;
    const swarm = {
      seconds: round(seconds, 2),
      complete: sum('tasksDone') === sum('tasksTotal'),
      tasksDone: sum('tasksDone'),
      tasksTotal: sum('tasksTotal'),
      pieces: sum('pieces'),
      totalPieces,
      assignmentLatencyMs: summarize(latencies),
      answerLatencyMs: summarize(concat(results.map((r) => r.probeSamples))),
      answerLatencyByWindow: byWindow(
        concat(results.map((r) => r.probeTimes)),
        concat(results.map((r) => r.probeSamples)),
        WINDOW_MS,
      ),
      // The simulated peers' own lag per window: an answer measured late there may have been on time.
      peerLoopLagByWindow: byWindow(
        concat(results.slice(0, WORKERS).map((r) => r.loopLagTimes)),
        concat(results.slice(0, WORKERS).map((r) => r.loopLagSamples)),
        WINDOW_MS,
      ),
      probeLoopLagByWindow:
        PROBE_PEERS > 0
          ? byWindow(results[WORKERS]!.loopLagTimes, results[WORKERS]!.loopLagSamples, WINDOW_MS)
          : undefined,
      // The scheduler's side of the same windows: CPU share, longest event-loop stall, GC time.
      schedulerByWindow,
      peerSeconds: summarize(concat(results.map((r) => r.peerSeconds))),
      requests: sum('requests'),
      assignmentMessages: sum('assignmentMessages'),
      pieceAssignments: sum('pieceAssignments'),
      originRanges: sum('originRanges'),
      decisions,
      decisionsPerSecond: round(decisions / seconds, 0),
      decisionsByTrigger: decisionsByTrigger(after),
      pieceAssignmentsPerSecond: round(sum('pieceAssignments') / seconds, 0),
      decisionMs: {
        mean: round(((hAfter.sum - hBefore.sum) / Math.max(1, decisions)) * 1000, 4),
        p50: histogramQuantileMs(hBefore, hAfter, 0.5),
        p99: histogramQuantileMs(hBefore, hAfter, 0.99),
      },
      schedulerCpuSeconds: round(cpu, 2),
      schedulerCpuShare: round(cpu / seconds, 2),
      // read and write syscalls (sockets mostly): a message costs one of each unless batched
      schedulerSyscalls: {
        reads: syscallsAfter.reads - syscallsBefore.reads,
        writes: syscallsAfter.writes - syscallsBefore.writes,
      },
      /** the worst simulated-peer process's event-loop delay, p99 */
      peerLoopDelayP99Ms: round(Math.max(...results.slice(0, WORKERS).map((r) => r.loopDelayP99Ms)), 1),
      /** the probe process's own event-loop delay, p99 (with --probe-peers) */
      probeLoopDelayP99Ms: PROBE_PEERS > 0 ? round(results[WORKERS]!.loopDelayP99Ms, 1) : undefined,
    };
    log(
      `run ${runIndex + 1}: swarm ${swarm.complete ? 'complete' : 'NOT complete'} in ${swarm.seconds} s; ` +
        `assignment wait p50 ${swarm.assignmentLatencyMs.p50} ms p99 ${swarm.assignmentLatencyMs.p99} ms; ` +
        `answer p50 ${swarm.answerLatencyMs.p50} ms p99 ${swarm.answerLatencyMs.p99} ms; ` +
        `${swarm.decisionsPerSecond} decisions/s; scheduler peak ${round(swarmPeak / MIB, 1)} MiB`,
    );
    const departure = await allLeave(scheduler, workers);
    log(
      `run ${runIndex + 1}: every peer left; the scheduler forgot them in ${departure.seconds} s, ` +
        `longest stall ${departure.loopLagMaxMs} ms`,
    );
    return {
      connect: {
        seconds: round(connectSeconds, 2),
        retries: connected.reduce((n, c) => n + c.retries, 0),
      },
      echo,
      swarm,
      departure,
      schedulerMemoryMiB: {
        idle: round(idle.rss / MIB, 1),
        connected: round(afterConnect.rss / MIB, 1),
        /** the V8 heap and off-heap buffers when every peer is connected */
        connectedHeap: heap,
        swarmEndHeap: heapOf(after),
        connectPeak: round(connectPeak / MIB, 1),
        swarmPeak: round(swarmPeak / MIB, 1),
        hwm: round(end.hwm / MIB, 1),
      },
      loadavg: loadavg().map((v) => round(v, 2)),
      errors: workers.errors.slice(0, 10),
      /** what the scheduler logged at warn and above, last lines */
      schedulerLog: scheduler.daemon.output.split('\n').slice(-20),
    };
  } finally {
    await workers.exit();
    await scheduler.stop();
  }
}

// ---------------------------------------------------------------------------------------------

if (PROFILE_DIR) await mkdir(PROFILE_DIR, { recursive: true });
if (LOG_DIR) await mkdir(LOG_DIR, { recursive: true });
const tasks = benchTasks();
log(
  `${PEERS} peers in ${WORKERS} processes${PROBE_PEERS > 0 ? ` (+ ${PROBE_PEERS} probing in one more)` : ''}, ${SEEDS} seeds, ${TASKS} tasks of ${BLOB_MIB} MiB ` +
    `(${tasks[0]!.pieceCount} pieces each), fetch ${FETCH_MS} ms (± ${FETCH_JITTER * 100}%), ${DOWNLOAD_SLOTS} download / ${UPLOAD_SLOTS} upload slots, ${RUNS} runs`,
);
const runs: Awaited<ReturnType<typeof oneRun>>[] = [];
for (let i = 0; i < RUNS; i++) runs.push(await oneRun(i));

const med = (pick: (run: (typeof runs)[number]) => number) => round(median(runs.map(pick)), 2);
const result = {
  machine: { cpus: cpus().length, kernel: release(), node: process.versions.node },
  params: {
    peers: PEERS,
    workers: WORKERS,
    peerNice: PEER_NICE,
    probePeers: PROBE_PEERS,
    seeds: SEEDS,
    tasks: TASKS,
    blobMiB: BLOB_MIB,
    piecesPerTask: tasks[0]!.pieceCount,
    fetchMs: FETCH_MS,
    fetchJitter: FETCH_JITTER,
    probeMs: PROBE_MS,
    downloadSlots: DOWNLOAD_SLOTS,
    uploadSlots: UPLOAD_SLOTS,
    echoSeconds: ECHO_SECONDS,
    runs: RUNS,
    schedulerArgs: args['scheduler-arg'],
  },
  targets: TARGETS,
  median: {
    assignmentLatencyP50Ms: med((r) => r.swarm.assignmentLatencyMs.p50),
    assignmentLatencyP99Ms: med((r) => r.swarm.assignmentLatencyMs.p99),
    answerLatencyP50Ms: med((r) => r.swarm.answerLatencyMs.p50),
    answerLatencyP99Ms: med((r) => r.swarm.answerLatencyMs.p99),
    echoP50Ms: med((r) => r.echo.roundTripMs.p50),
    echoP99Ms: med((r) => r.echo.roundTripMs.p99),
    decisionsPerSecond: med((r) => r.swarm.decisionsPerSecond),
    pieceAssignmentsPerSecond: med((r) => r.swarm.pieceAssignmentsPerSecond),
    decisionMeanMs: med((r) => r.swarm.decisionMs.mean),
    swarmSeconds: med((r) => r.swarm.seconds),
    schedulerRssConnectedMiB: med((r) => r.schedulerMemoryMiB.connected),
    schedulerHwmMiB: med((r) => r.schedulerMemoryMiB.hwm),
    schedulerCpuShare: med((r) => r.swarm.schedulerCpuShare),
  },
  met: {
    peers: runs.every((r) => r.swarm.complete),
    // The answer's latency: the assignment wait also holds the wait for a parent's free slot.
    p99: median(runs.map((r) => r.swarm.answerLatencyMs.p99)) < TARGETS.p99Ms,
    rss: median(runs.map((r) => r.schedulerMemoryMiB.hwm)) * MIB < TARGETS.rssBytes,
  },
  runs,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
process.exitCode = runs.every((r) => r.swarm.complete && r.errors.length === 0) ? 0 : 1;
