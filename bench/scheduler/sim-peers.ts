/**
 * A child process of bench/scheduler/run.ts holding many simulated peers. Each
 * has a libp2p identity and connection of its own (TCP from its own loopback
 * address, TLS, yamux; no DHT, no identify) and speaks the real scheduler
 * protocol: Register, OpenTask, PieceReport, TaskDone. Pieces are "fetched" by
 * waiting --fetch-ms, with no data moving; everything else is what a real peer
 * sends. Driven over IPC by the parent:
 *
 *   parent -> { type: 'start', config }      create nodes, connect, register   -> { type: 'connected' }
 *   parent -> { type: 'echo', durationMs }   round trips on the ping protocol   -> { type: 'echoDone' }
 *   parent -> { type: 'swarm', deadlineMs }  open every task until done         -> { type: 'swarmDone' }
 *   (during the swarm: { type: 'progress' } every second)
 */

import { monitorEventLoopDelay } from 'node:perf_hooks';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { type TCPSocketOptions, tcp } from '@libp2p/tcp';
import { multiaddr } from '@multiformats/multiaddr';
import {
  PeerMessage,
  type PieceAssignment,
  type PieceDone,
  SCHEDULER_PROTOCOL,
  SchedulerMessage,
} from '@shoal/protocol';
import { createLibp2p, type Libp2p } from 'libp2p';
import { socketTls } from '../../packages/p2p/src/socket-tls.ts';
import { messageChannel } from '../../packages/p2p/src/streams.ts';
import { fetched, heldAlready } from './piece-done.ts';

export interface SimTask {
  digest: string;
  size: number;
  pieceCount: number;
}

export interface SimConfig {
  /** index of the first peer of this process among all peers */
  firstIndex: number;
  count: number;
  /** peers with index below this hold every task complete and only serve */
  seeds: number;
  scheduler: string;
  tasks: SimTask[];
  /** piece fetches a peer runs at once per task (the peer's --download-slots) */
  downloadSlots: number;
  uploadSlots: number;
  fetchMs: number;
  /** each fetch takes fetchMs times 1 ± up to this fraction, uniformly: real links vary, and equal
   * times keep peers served in one burst finishing in one burst */
  fetchJitter: number;
  /** each downloading peer sends a probe this often during the swarm (0: none) */
  probeMs: number;
  /** dials this process runs at once (the scheduler refuses more than 10 pending inbound) */
  dialConcurrency: number;
}

export type ParentCommand =
  | { type: 'start'; config: SimConfig }
  | { type: 'echo'; durationMs: number; payloadBytes: number }
  | { type: 'swarm'; deadlineMs: number }
  | { type: 'exit' };

export type WorkerReport =
  | { type: 'connected'; seconds: number; retries: number }
  | { type: 'echoDone'; samples: Float64Array; failures: number; loopDelayP99Ms: number }
  | { type: 'progress'; pieces: number; tasksDone: number }
  | {
      type: 'swarmDone';
      /** ms from a request (OpenTask, or PieceReport with want > 0) to the next Assignments of that task */
      samples: Float64Array;
      /** ms from a probe (OpenTask of a blob nobody knows) to its TaskInfo: the scheduler's answer time without a decision */
      probeSamples: Float64Array;
      /** when each probe was sent, ms after the swarm began (same order as probeSamples) */
      probeTimes: Float64Array;
      /** ms from each peer's first OpenTask to its last TaskDone, for peers that finished */
      peerSeconds: Float64Array;
      requests: number;
      assignmentMessages: number;
      pieceAssignments: number;
      originRanges: number;
      pieces: number;
      tasksDone: number;
      tasksTotal: number;
      /** this process's own event-loop delay, p99: the part of every latency the benchmark adds */
      loopDelayP99Ms: number;
      /** how late a 100 ms timer of this process fired, ms, and when (ms after the swarm began) */
      loopLagSamples: Float64Array;
      loopLagTimes: Float64Array;
    }
  | { type: 'error'; message: string };

const PING_PROTOCOL = '/ipfs/ping/1.0.0';
/** The real peer batches piece reports for this long (peer/src/p2p/conductor.ts REPORT_DELAY_MS). */
const REPORT_DELAY_MS = 5;
/** How long one echo stream is used (the scheduler's ping handler ends a stream after 10 s). */
const ECHO_STREAM_MS = 5000;
/** Period of the timer whose lateness shows this process's event-loop lag through the swarm. */
const LAG_TICK_MS = 100;

type Channel = ReturnType<typeof messageChannel<SchedulerMessage, PeerMessage>>;

/** One task as one simulated peer downloads it. */
interface TaskRun {
  task: SimTask;
  have: Uint8Array;
  haveCount: number;
  /** parent fetches running (they take download slots; origin ranges do not, as in the real peer) */
  active: number;
  pendingDone: PieceDone[];
  reportTimer: NodeJS.Timeout | undefined;
  /** when the oldest unanswered request went out */
  waitingSince: number | undefined;
  originQueue: { first: number; count: number }[];
  originBusy: boolean;
  done: boolean;
}

interface SimPeer {
  index: number;
  /** when the unanswered probe went out */
  probeSent: number | undefined;
  node: Libp2p;
  channel: Channel;
  stream: Stream;
  sending: Promise<void>;
  runs: Map<string, TaskRun>;
  openedAt: number;
  tasksLeft: number;
}

let config: SimConfig;
const peers: SimPeer[] = [];
const samples: number[] = [];
const probeSamples: number[] = [];
const probeTimes: number[] = [];
let swarmStarted = 0;
/** A blob nobody announces: the scheduler answers an open of it at once with size 0 and keeps nothing. */
const PROBE_DIGEST = `sha256:${'0'.repeat(63)}1`;
const peerSeconds: number[] = [];
const counters = { requests: 0, assignmentMessages: 0, pieceAssignments: 0, originRanges: 0, pieces: 0 };
let tasksDone = 0;
let swarmFinished: (() => void) | undefined;

function send(report: WorkerReport): void {
  process.send?.(report);
}

/** 127.10.x.y: every simulated peer dials from an address of its own, as peers on separate hosts would. */
function localAddress(index: number): string {
  return `127.10.${Math.floor(index / 250)}.${(index % 250) + 1}`;
}

async function createPeer(index: number): Promise<{ node: Libp2p }> {
  const node = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: [] },
    // net.connect options pass through, though the type lists only a few of them.
    transports: [tcp({ dialOpts: { localAddress: localAddress(index) } as TCPSocketOptions })],
    // The real peer's TLS (packages/p2p), small writes of a turn coalesced as there.
    connectionEncrypters: [socketTls()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: 4 },
    // As a real peer it pings the scheduler every 30 s, but it does not drop its session when a
    // ping is late: hundreds of peers share a process on this small machine, so lateness here is
    // the benchmark's own, and libp2p would end the connection after 5 s of it.
    connectionMonitor: { pingInterval: 30_000, abortConnectionOnPingFailure: false },
  });
  return { node };
}

async function connect(index: number): Promise<{ peer: SimPeer; retries: number }> {
  const { node } = await createPeer(index);
  let retries = 0;
  for (;;) {
    try {
      // No abort signal: one given to the dial that creates the connection stays bound to it
      // and ends the session when it fires; libp2p's own dial timeout applies.
      const stream = await node.dialProtocol(multiaddr(config.scheduler), SCHEDULER_PROTOCOL);
      const channel = messageChannel(stream, SchedulerMessage, PeerMessage);
      const peer: SimPeer = {
        index,
        probeSent: undefined,
        node,
        channel,
        stream,
        sending: Promise.resolve(),
        runs: new Map(),
        openedAt: 0,
        tasksLeft: 0,
      };
      const seed = index < config.seeds;
      await channel.write({
        register: {
          addrs: [`/ip4/${localAddress(index)}/tcp/4001`],
          labels: new Map([['zone', `zone-${index % 3}`]]),
          uploadSlots: config.uploadSlots,
          uploadRate: 0,
          downloadRate: 0,
          holdings: seed
            ? config.tasks.map((task) => ({
                digest: task.digest,
                size: task.size,
                pieceSize: 0,
                bitfield: new Uint8Array(0),
                complete: true,
              }))
            : [],
        },
      });
      void readLoop(peer);
      return { peer, retries };
    } catch {
      // Refused while the scheduler had too many handshakes pending: try again shortly.
      retries++;
      if (retries > 50) throw new Error(`peer ${index}: could not connect to the scheduler`);
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 400));
    }
  }
}

function write(peer: SimPeer, message: PeerMessage): void {
  peer.sending = peer.sending
    .then(() => peer.channel.write(message))
    .catch((error: Error) => peer.stream.abort(error));
}

async function readLoop(peer: SimPeer): Promise<void> {
  try {
    for (;;) {
      const message = await peer.channel.read();
      if (message.assignments) onAssignments(peer, message.assignments.digest, message.assignments);
      if (message.taskInfo?.digest === PROBE_DIGEST && peer.probeSent !== undefined) {
        probeSamples.push(performance.now() - peer.probeSent);
        probeTimes.push(peer.probeSent - swarmStarted);
        peer.probeSent = undefined;
      }
      if (message.reset) send({ type: 'error', message: `scheduler reset ${message.reset.digest}` });
    }
  } catch (error) {
    if (peer.tasksLeft > 0)
      send({ type: 'error', message: `peer ${peer.index}: session ended: ${(error as Error).stack}` });
  }
}

function request(run: TaskRun, now: number): void {
  counters.requests++;
  run.waitingSince ??= now;
}

function onAssignments(
  peer: SimPeer,
  digest: string,
  assignments: { pieces: PieceAssignment[]; origin: { first: number; count: number }[] },
): void {
  const run = peer.runs.get(digest);
  if (!run || run.done) return;
  const now = performance.now();
  counters.assignmentMessages++;
  if (run.waitingSince !== undefined && assignments.pieces.length + assignments.origin.length > 0) {
    samples.push(now - run.waitingSince);
    run.waitingSince = undefined;
  }
  for (const piece of assignments.pieces) {
    counters.pieceAssignments++;
    if (run.have[piece.index]) {
      run.pendingDone.push(heldAlready(piece));
      scheduleReport(peer, run);
      continue;
    }
    run.active++;
    const millis = fetchTime();
    setTimeout(() => {
      run.active--;
      landPiece(peer, run, piece.index, piece.parent, millis);
    }, millis);
  }
  for (const range of assignments.origin) {
    counters.originRanges++;
    run.originQueue.push(range);
  }
  void drainOrigin(peer, run);
}

/** Origin ranges run one after another, a piece per --fetch-ms, as the real peer runs them. */
async function drainOrigin(peer: SimPeer, run: TaskRun): Promise<void> {
  if (run.originBusy) return;
  run.originBusy = true;
  for (let range = run.originQueue.shift(); range && !run.done; range = run.originQueue.shift()) {
    for (let index = range.first; index < range.first + range.count; index++) {
      const millis = fetchTime();
      await new Promise((r) => setTimeout(r, millis));
      landPiece(peer, run, index, '', millis);
    }
  }
  run.originBusy = false;
}

/** How long one simulated fetch takes. */
function fetchTime(): number {
  return config.fetchMs * (1 + config.fetchJitter * (2 * Math.random() - 1));
}

function landPiece(peer: SimPeer, run: TaskRun, index: number, parent: string, millis: number): void {
  if (run.done) return;
  const pieceSize = Math.ceil(run.task.size / run.task.pieceCount);
  const fresh = !run.have[index];
  if (fresh) {
    run.have[index] = 1;
    run.haveCount++;
    counters.pieces++;
  }
  run.pendingDone.push(fetched(index, parent, millis, pieceSize, fresh));
  scheduleReport(peer, run);
}

function scheduleReport(peer: SimPeer, run: TaskRun): void {
  if (run.reportTimer) return;
  run.reportTimer = setTimeout(() => {
    run.reportTimer = undefined;
    flushReport(peer, run);
  }, REPORT_DELAY_MS);
}

function flushReport(peer: SimPeer, run: TaskRun): void {
  if (run.done) return;
  const complete = run.haveCount === run.task.pieceCount;
  const want = complete ? 0 : Math.max(0, config.downloadSlots - run.active);
  const now = performance.now();
  write(peer, { report: { digest: run.task.digest, done: run.pendingDone, failed: [], want } });
  run.pendingDone = [];
  if (want > 0) request(run, now);
  if (complete) {
    run.done = true;
    write(peer, { taskDone: { digest: run.task.digest, ok: true, error: '', digestMismatch: false } });
    tasksDone++;
    if (--peer.tasksLeft === 0) peerSeconds.push((now - peer.openedAt) / 1000);
    if (tasksDone === tasksTotal()) swarmFinished?.();
  }
}

function tasksTotal(): number {
  return peers.filter((p) => p.index >= config.seeds).length * config.tasks.length;
}

async function start(): Promise<void> {
  const started = performance.now();
  let next = 0;
  let retries = 0;
  const indices = Array.from({ length: config.count }, (_, i) => config.firstIndex + i);
  await Promise.all(
    Array.from({ length: config.dialConcurrency }, async () => {
      while (next < indices.length) {
        const index = indices[next++]!;
        const result = await connect(index);
        retries += result.retries;
        peers.push(result.peer);
      }
    }),
  );
  send({ type: 'connected', seconds: (performance.now() - started) / 1000, retries });
}

/** Round trips of `payloadBytes` on a ping stream of each connection, paced like piece reports. */
/** Event-loop delay of this process over one phase. */
function watchLoop() {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  return () => {
    histogram.disable();
    return histogram.percentile(99) / 1e6;
  };
}

async function echo(durationMs: number, payloadBytes: number): Promise<void> {
  const loop = watchLoop();
  const echoSamples: number[] = [];
  let failures = 0;
  const payload = new Uint8Array(payloadBytes).fill(1);
  const deadline = performance.now() + durationMs;
  await Promise.all(
    peers.map(async (peer) => {
      // Spread the start over one pacing interval, as the swarm's requests spread.
      await new Promise((r) => setTimeout(r, Math.random() * Math.max(1, config.fetchMs)));
      // The scheduler ends a ping stream after 10 s: a fresh one every few seconds, the first round on it not counted.
      while (performance.now() < deadline) {
        const until = Math.min(deadline, performance.now() + ECHO_STREAM_MS);
        let stream: Stream | undefined;
        try {
          stream = await peer.node.dialProtocol(multiaddr(config.scheduler), PING_PROTOCOL);
          let received = 0;
          let resolveRound: (() => void) | undefined;
          stream.addEventListener('message', (event) => {
            received += event.data.byteLength;
            if (received >= payloadBytes) {
              received -= payloadBytes;
              resolveRound?.();
            }
          });
          for (let round = 0; performance.now() < until; round++) {
            const answered = new Promise<void>((r) => {
              resolveRound = r;
            });
            const sent = performance.now();
            if (!stream.send(payload)) await stream.onDrain();
            let timer: NodeJS.Timeout | undefined;
            await Promise.race([
              answered,
              new Promise((_, reject) => {
                timer = setTimeout(() => reject(new Error('echo timeout')), 10_000);
              }),
            ]).finally(() => clearTimeout(timer));
            // The first round on a stream also settles its protocol: not counted, and the
            // counted one follows at once, so even a pace slower than a stream's life is measured.
            if (round === 0) continue;
            echoSamples.push(performance.now() - sent);
            await new Promise((r) => setTimeout(r, config.fetchMs + REPORT_DELAY_MS));
          }
          await stream.close();
        } catch {
          failures++;
          stream?.abort(new Error('echo failed'));
          return;
        }
      }
    }),
  );
  send({ type: 'echoDone', samples: Float64Array.from(echoSamples), failures, loopDelayP99Ms: loop() });
}

/** One probe at a time per peer: a late answer is measured, not overtaken. */
function probe(peer: SimPeer): void {
  if (peer.probeSent !== undefined) return;
  peer.probeSent = performance.now();
  write(peer, { openTask: { digest: PROBE_DIGEST, size: 0, bitfield: new Uint8Array(0), want: 0 } });
}

async function swarm(deadlineMs: number): Promise<void> {
  swarmStarted = performance.now();
  const loop = watchLoop();
  const finished = new Promise<void>((resolve) => {
    swarmFinished = resolve;
  });
  const progress = setInterval(() => send({ type: 'progress', pieces: counters.pieces, tasksDone }), 1000);
  // When this process falls behind: every answer it measures then is late by as much.
  const lagSamples: number[] = [];
  const lagTimes: number[] = [];
  let lastTick = performance.now();
  const lagTimer = setInterval(() => {
    const now = performance.now();
    lagSamples.push(Math.max(0, now - lastTick - LAG_TICK_MS));
    lagTimes.push(now - swarmStarted);
    lastTick = now;
  }, LAG_TICK_MS);
  const probes: NodeJS.Timeout[] = [];
  let probing = true;
  const downloaders = peers.filter((peer) => peer.index >= config.seeds);
  // Peers start within one pacing interval of each other, every task at once (one image, several layers).
  for (const peer of downloaders) {
    setTimeout(() => {
      const now = performance.now();
      peer.openedAt = now;
      // The first probe at a random point of the interval: peers open within one fetch time of each
      // other, and probes started with them would come in bursts when the interval is longer.
      if (config.probeMs > 0) {
        const first = setTimeout(() => {
          if (!probing) return;
          probe(peer);
          probes.push(setInterval(() => probe(peer), config.probeMs));
        }, Math.random() * config.probeMs);
        probes.push(first);
      }
      peer.tasksLeft = config.tasks.length;
      for (const task of config.tasks) {
        const run: TaskRun = {
          task,
          have: new Uint8Array(task.pieceCount),
          haveCount: 0,
          active: 0,
          pendingDone: [],
          reportTimer: undefined,
          waitingSince: undefined,
          originQueue: [],
          originBusy: false,
          done: false,
        };
        peer.runs.set(task.digest, run);
        write(peer, {
          openTask: {
            digest: task.digest,
            size: task.size,
            bitfield: new Uint8Array(0),
            want: config.downloadSlots,
          },
        });
        request(run, now);
      }
    }, Math.random() * Math.max(1, config.fetchMs));
  }
  if (downloaders.length === 0) swarmFinished?.();
  await Promise.race([finished, new Promise((r) => setTimeout(r, deadlineMs))]);
  clearInterval(progress);
  clearInterval(lagTimer);
  probing = false;
  for (const timer of probes) clearInterval(timer);
  send({
    type: 'swarmDone',
    samples: Float64Array.from(samples),
    probeSamples: Float64Array.from(probeSamples),
    probeTimes: Float64Array.from(probeTimes),
    peerSeconds: Float64Array.from(peerSeconds),
    ...counters,
    tasksDone,
    tasksTotal: tasksTotal(),
    loopDelayP99Ms: loop(),
    loopLagSamples: Float64Array.from(lagSamples),
    loopLagTimes: Float64Array.from(lagTimes),
  });
}

process.on('message', (command: ParentCommand) => {
  const fail = (error: Error) => send({ type: 'error', message: error.stack ?? error.message });
  switch (command.type) {
    case 'start':
      config = command.config;
      start().catch(fail);
      break;
    case 'echo':
      echo(command.durationMs, command.payloadBytes).catch(fail);
      break;
    case 'swarm':
      swarm(command.deadlineMs).catch(fail);
      break;
    case 'exit':
      // The connections end with the process; the scheduler sees every peer leave at once.
      process.exit(0);
  }
});
