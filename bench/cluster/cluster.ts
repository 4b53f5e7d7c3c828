/**
 * A cluster in a box: N simulated nodes, each running the peer's real
 * scheduled download (peer/src/download/session.ts) for every layer, the
 * real scheduler Dispatcher fed the protocol messages the daemon sends, and
 * a flow-level network (network.ts) on a virtual clock (event-loop.ts).
 */
import { createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Digest } from '../../packages/oci/src/index.ts';
import {
  type PeerMessage,
  PIECE_TIMEOUT_MS,
  pieceLayout,
  pieceLength,
  type SchedulerMessage,
  SWARM_STALL_TIMEOUT_MS,
  slotsForRate,
} from '../../packages/protocol/src/index.ts';
import { createLogger } from '../../packages/telemetry/src/index.ts';
import {
  type FetchedPiece,
  type OriginPieces,
  type ParentPieces,
  PieceFetchError,
  type SchedulerLink,
  type TaskListener,
} from '../../peer/src/download/ports.ts';
import { downloadWithScheduler } from '../../peer/src/download/session.ts';
import { SwarmProgress } from '../../peer/src/download/swarm-progress.ts';
import { createPeerMetrics, type PeerGaugeSources } from '../../peer/src/metrics.ts';
import { Dispatcher } from '../../scheduler/src/dispatcher.ts';
import { createSchedulerMetrics } from '../../scheduler/src/metrics.ts';
import { SwarmState } from '../../scheduler/src/state/swarm-state.ts';
import { EventLoop } from './event-loop.ts';
import { type Flow, type Link, Link as NetLink, Network } from './network.ts';
import { SimTarget } from './sim-target.ts';

/** Shared by every fetch: the simulator moves no bytes, so a piece has no chunks to write or release. */
const NO_CHUNKS: Uint8Array[] = [];
const nothing = () => {};
const ONCE = { once: true };

/** Gauges nobody scrapes here: every source reads 0. */
const unscraped = new Proxy({}, { get: () => () => 0 }) as PeerGaugeSources;

/** The `shoal peer` defaults the simulated nodes run with (packages/cli/src/commands/peer.ts). */
export const PEER_DEFAULTS = {
  uploadSlots: 8,
  downloadSlots: 6,
  pieceTimeoutMs: PIECE_TIMEOUT_MS,
  stallTimeoutMs: SWARM_STALL_TIMEOUT_MS,
};
/** How often a piece's flow tells its session that bytes arrive: well within PIECE_IDLE_TIMEOUT_MS. */
const BYTES_TICK_MS = 5_000;
/** The scheduler's sweep period (scheduler/src/server.ts). */
const SWEEP_INTERVAL_MS = 1_000;

export interface ClusterParams {
  nodes: number;
  /** layer sizes, bytes */
  layers: number[];
  /** per node, bytes/s: download and upload */
  downRate: number;
  upRate: number;
  originRate: number;
  /** nodes per rack; 0 = one flat network */
  rackSize: number;
  uplinkOversubscription: number;
  /** round trip within a rack (or the flat network); across racks, to the origin and the scheduler: twice it */
  rttMs: number;
  /** each node's `--upload-slots`: children it sends pieces to at once */
  uploadSlots: number;
  /** each node's `--download-slots` (default: the daemon's) */
  downloadSlots?: number;
  /** the scheduler's most pieces per lease (default: its own, LEASE_PIECES) */
  leasePieces?: number;
  /** leases may take pieces on their way to their parent (the scheduler's --pending-pieces; default off) */
  pendingPieces?: boolean;
  /** the peers' report delay while leases run (default: theirs, REPORT_DELAY_MS) */
  reportDelayMs?: number;
  /** fraction of nodes killed mid-rollout */
  churn: number;
  /** fraction of nodes that start late */
  lateJoiners: number;
  seed: number;
  /** piece verification rate per node, bytes/s; 0 = not a limit */
  verifyRate: number;
  /** when the rollout is killed for churn and late joiners start (virtual ms): spread over [0.25, 0.75] x this */
  spreadMs: number;
  maxVirtualMs: number;
  maxWallMs: number;
  progress?: (line: string) => void;
}

export interface ClusterOutcome {
  /** per node that was not killed: seconds from its start to its last layer, undefined if it did not finish */
  durations: (number | undefined)[];
  killed: number;
  originBytes: number;
  /** bytes that entered racks through their uplinks */
  rackInBytes: number;
  racks: number;
  schedulerMessages: number;
  /** the same messages by kind, both ways (peers: register, openTask, report, taskDone; scheduler: the rest) */
  messagesByKind: Record<string, number>;
  /** messages from the scheduler to peers that carried assignments, and pieces assigned */
  assignmentMessages: number;
  piecesAssigned: number;
  dispatcherCalls: number;
  dispatcherCpuNs: bigint;
  piecesDelivered: number;
  peerBytes: number;
  fallbacks: number;
  stopped: 'done' | 'idle' | 'virtual-limit' | 'wall-limit';
  virtualSeconds: number;
  events: number;
  flows: number;
}

/**
 * The links every node shares: each rack's uplink both ways (unlimited in one flat network), the
 * origin's egress; and what a node takes in per second (its downlink, or its verification rate when
 * that is lower).
 */
export function topology(p: ClusterParams) {
  const racked = p.rackSize > 0;
  const racks = racked ? Math.ceil(p.nodes / p.rackSize) : 1;
  const rackLinks = Array.from({ length: racks }, () => ({
    up: new NetLink(racked ? (p.rackSize * p.upRate) / p.uplinkOversubscription : Number.POSITIVE_INFINITY),
    down: new NetLink(
      racked ? (p.rackSize * p.downRate) / p.uplinkOversubscription : Number.POSITIVE_INFINITY,
    ),
  }));
  const origin = new NetLink(p.originRate);
  const intake = p.verifyRate > 0 ? Math.min(p.downRate, p.verifyRate) : p.downRate;
  return { racked, racks, rackLinks, origin, intake };
}

/** mulberry32: a small seeded generator, so a seed gives the same run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimNode {
  id: string;
  rack: number;
  up: Link;
  down: Link;
  alive: boolean;
  startAt: number;
  doneAt: number | undefined;
  layersLeft: number;
  targets: Map<string, SimTarget>;
  listeners: Map<string, TaskListener>;
  flows: Set<Flow>;
  late: boolean;
}

export async function simulateCluster(p: ClusterParams): Promise<ClusterOutcome> {
  const random = seededRandom(p.seed);
  // The dispatcher's member samples draw from Math.random: seeded too, for a repeatable run.
  const systemRandom = Math.random;
  Math.random = random;
  try {
    return await run(p, random);
  } finally {
    Math.random = systemRandom;
  }
}

async function run(p: ClusterParams, random: () => number): Promise<ClusterOutcome> {
  const loop = new EventLoop();
  const net = new Network(loop);
  const logger = createLogger({ level: 'silent' });
  const peerMetrics = createPeerMetrics(new Registry(), unscraped);
  const layers = p.layers.map((size, i) => {
    const digest =
      `sha256:${createHash('sha256').update(`cluster-layer-${i}-${size}`).digest('hex')}` as Digest;
    const layout = pieceLayout(size);
    // What each piece hashes to: the simulator moves no bytes, so the hashes are made up, one per piece.
    const hashes = Array.from({ length: layout.count }, (_, index) =>
      createHash('sha256').update(`${digest}/${index}`).digest('hex'),
    );
    return { digest, size, layout, hashes };
  });
  const layerOf = new Map(layers.map((l) => [l.digest as string, l]));

  const { racked, racks, rackLinks, origin, intake } = topology(p);
  const nodes: SimNode[] = [];
  const byId = new Map<string, SimNode>();
  const [lateSet, killSet] = chooseNodes(p.nodes, random, [p.lateJoiners, p.churn]);
  const killCount = killSet.size;
  for (let i = 0; i < p.nodes; i++) {
    const node: SimNode = {
      id: `node-${i}`,
      rack: racked ? Math.floor(i / p.rackSize) : 0,
      up: new NetLink(p.upRate),
      down: new NetLink(intake),
      alive: true,
      late: lateSet.has(i),
      // Pulls start within 50 ms of each other; late joiners over the middle of the rollout.
      startAt: lateSet.has(i) ? p.spreadMs * (0.25 + 0.5 * random()) : 50 * random(),
      doneAt: undefined,
      layersLeft: layers.length,
      targets: new Map(),
      listeners: new Map(),
      flows: new Set(),
    };
    nodes.push(node);
    byId.set(node.id, node);
  }
  const rtt = (a: SimNode, b: SimNode) => (racked && a.rack !== b.rack ? 2 * p.rttMs : p.rttMs);
  const farRtt = racked ? 2 * p.rttMs : p.rttMs;

  // The scheduler: the real Dispatcher, its CPU time measured around each call.
  const state = new SwarmState();
  const schedulerMetrics = createSchedulerMetrics(new Registry(), { peers: () => 0, tasks: () => 0 });
  let schedulerMessages = 0;
  const messagesByKind: Record<string, number> = {};
  const tally = (message: object) => {
    schedulerMessages++;
    for (const [kind, value] of Object.entries(message))
      if (value !== undefined) messagesByKind[kind] = (messagesByKind[kind] ?? 0) + 1;
  };
  let assignmentMessages = 0;
  let piecesAssigned = 0;
  let dispatcherCalls = 0;
  let dispatcherCpuNs = 0n;
  const timed = (fn: () => void) => {
    const start = process.hrtime.bigint();
    fn();
    dispatcherCpuNs += process.hrtime.bigint() - start;
    dispatcherCalls++;
  };
  const toPeer = (hostId: string, message: SchedulerMessage) => {
    tally(message);
    if (message.assignments) {
      assignmentMessages++;
      piecesAssigned += message.assignments.pieces.length;
    }
    loop.setTimer(() => {
      const node = byId.get(hostId);
      if (!node?.alive) return;
      const digest = message.taskInfo?.digest ?? message.assignments?.digest ?? message.reset?.digest;
      if (digest) node.listeners.get(digest)?.onMessage(message);
    }, farRtt / 2);
  };
  const dispatcher = new Dispatcher({
    state,
    send: toPeer,
    logger,
    metrics: schedulerMetrics,
    now: () => loop.now(),
    leasePieces: p.leasePieces,
    ...(p.pendingPieces ? { pendingPieces: true } : {}),
  });
  const fromPeer = (node: SimNode, message: PeerMessage) => {
    if (!node.alive) return;
    tally(message);
    loop.setTimer(() => {
      if (!node.alive) return;
      if (message.openTask) timed(() => dispatcher.openTask(node.id, message.openTask!));
      else if (message.report) timed(() => dispatcher.report(node.id, message.report!));
      else if (message.taskDone) timed(() => dispatcher.taskDone(node.id, message.taskDone!));
    }, farRtt / 2);
  };
  const sweep = () => {
    timed(() => dispatcher.sweep());
    loop.setTimer(sweep, SWEEP_INTERVAL_MS);
  };
  loop.setTimer(sweep, SWEEP_INTERVAL_MS);

  // Counters.
  let piecesDelivered = 0;
  let peerBytes = 0;
  let fallbacks = 0;
  let finished = 0;
  const expected = p.nodes - killCount;

  const linksBetween = (from: SimNode, to: SimNode): Link[] =>
    from.rack === to.rack
      ? [from.up, to.down]
      : [from.up, rackLinks[from.rack]!.up, rackLinks[to.rack]!.down, to.down];

  const parentPieces = (node: SimNode): ParentPieces => ({
    fetch: (request) =>
      new Promise<FetchedPiece>((resolve, reject) => {
        const parent = byId.get(request.parent);
        const length = request.expectedLength ?? 0;
        let flow: Flow | undefined;
        let settled = false;
        let progress: { cancel(): void } | undefined;
        const settle = (error?: Error) => {
          if (settled) return;
          settled = true;
          timeout.cancel();
          progress?.cancel();
          if (flow) {
            node.flows.delete(flow);
            parent?.flows.delete(flow);
            net.cut(flow);
          }
          if (error) reject(error);
        };
        const timeout = loop.setTimer(
          () => settle(new PieceFetchError('UNAVAILABLE', 'piece timed out')),
          request.timeoutMs,
        );
        request.signal?.addEventListener(
          'abort',
          () => settle(new PieceFetchError('UNAVAILABLE', 'aborted')),
          ONCE,
        );
        let started = loop.now();
        // The request goes out and the first byte comes back: one round trip before bytes flow.
        loop.setTimer(
          () => {
            if (settled) return;
            if (!parent?.alive)
              return settle(new PieceFetchError('UNAVAILABLE', 'parent gone', { unreachable: true }));
            const held = parent.targets.get(request.digest);
            if (!held?.has(request.index) && !parent.doneAt) {
              if (!request.waitMs || held?.state !== 'downloading')
                return settle(new PieceFetchError('ABSENT', 'parent lacks the piece'));
              // A pending piece: the parent answers once it has landed there, or after the wait.
              const stopWaiting = held.onLanded(request.index, () => {
                waited.cancel();
                if (!settled && parent.alive) send(parent, true);
              });
              const waited = loop.setTimer(() => {
                stopWaiting();
                send(parent, true);
              }, request.waitMs);
              return;
            }
            send(parent, false);
          },
          rtt(node, parent ?? node),
        );
        /** The parent answers: with the piece when it holds it, else that it does not (after `waited`). */
        const send = (parent: SimNode, waited: boolean) => {
          if (settled) return;
          if (waited && !parent.targets.get(request.digest)?.has(request.index) && !parent.doneAt)
            return settle(new PieceFetchError('ABSENT', 'parent lacks the piece'));
          // The time a parent waited for a pending piece is not its speed: timed as the real fetcher does, from its answer.
          if (waited) started = loop.now() - rtt(node, parent);
          flow = net.start(
            length,
            linksBetween(parent, node),
            () => {
              if (settled) return;
              settled = true;
              timeout.cancel();
              progress?.cancel();
              node.flows.delete(flow!);
              parent.flows.delete(flow!);
              piecesDelivered++;
              peerBytes += length;
              const layer = layerOf.get(request.digest)!;
              resolve({
                chunks: NO_CHUNKS,
                release: nothing,
                length,
                blobSize: layer.size,
                sha256Hex: layer.hashes[request.index]!,
                millis: Math.max(1, Math.round(loop.now() - started)),
              });
            },
            () => settle(new PieceFetchError('UNAVAILABLE', 'connection cut')),
          );
          node.flows.add(flow);
          parent.flows.add(flow);
          // Bytes arrive all along a flow: the session counts them as progress, so a piece slower than
          // the stall timeout is not a stalled swarm. Only flows that last get a tick.
          const onBytes = request.onBytes;
          if (onBytes) {
            const tick = () => {
              if (settled) return;
              onBytes(0);
              progress = loop.setTimer(tick, BYTES_TICK_MS);
            };
            progress = loop.setTimer(tick, BYTES_TICK_MS);
          }
        };
      }),
  });

  const originPieces = (node: SimNode, target: SimTarget): OriginPieces => {
    const layer = layerOf.get(target.digest)!;
    const originLinks: Link[] = racked
      ? [origin, rackLinks[node.rack]!.down, node.down]
      : [origin, node.down];
    const onePiece = (index: number, first: boolean) =>
      new Promise<void>((resolve, reject) => {
        const go = () => {
          if (!node.alive) return reject(new Error('node gone'));
          const flow = net.start(
            pieceLength(layer.layout, index),
            originLinks,
            () => {
              node.flows.delete(flow);
              resolve();
            },
            () => reject(new Error('origin transfer cut')),
          );
          node.flows.add(flow);
        };
        if (first) loop.setTimer(go, farRtt);
        else go();
      });
    return {
      probeSize: () => loop.sleep(farRtt).then(() => layer.size),
      async fill(range, onPiece) {
        const first = range?.first ?? 0;
        const end = range ? Math.min(range.first + range.count, layer.layout.count) : layer.layout.count;
        let opened = false;
        for (let index = first; index < end; index++) {
          if (target.has(index) || target.state !== 'downloading') continue;
          await onePiece(index, !opened);
          opened = true;
          if (target.has(index)) continue;
          onPiece?.(index, layer.hashes[index]!);
          await target.landPiece(index);
        }
      },
    };
  };

  const schedulerLink = (node: SimNode): SchedulerLink => ({
    ready: () => Promise.resolve(),
    openTask(digest, listener) {
      node.listeners.set(digest, listener);
      return {
        send: (message) => fromPeer(node, message),
        close: () => node.listeners.delete(digest),
      };
    },
  });

  const startNode = (node: SimNode) => {
    fromPeerRegister(node);
    // One per node, as the daemon's conductor keeps it.
    const swarmProgress = new SwarmProgress(loop);
    for (const layer of layers) {
      const target = new SimTarget(layer.digest, () => {
        if (--node.layersLeft === 0 && node.alive) {
          node.doneAt = loop.now();
          finished++;
        }
      });
      node.targets.set(layer.digest, target);
      const origin = originPieces(node, target);
      downloadWithScheduler(target, schedulerLink(node), {
        parents: parentPieces(node),
        origin,
        clock: loop,
        metrics: peerMetrics,
        logger,
        downloadSlots: slotsForRate(p.downloadSlots ?? PEER_DEFAULTS.downloadSlots, p.downRate),
        pieceTimeoutMs: PEER_DEFAULTS.pieceTimeoutMs,
        stallTimeoutMs: PEER_DEFAULTS.stallTimeoutMs,
        swarmProgress,
        reportDelayMs: p.reportDelayMs,
        // Without a scheduler the daemon asks the DHT; here the rest comes from the origin.
        fallback: async () => {
          fallbacks++;
          await origin.fill(undefined);
        },
      }).catch(() => {});
    }
  };
  const fromPeerRegister = (node: SimNode) => {
    tally({ register: true });
    loop.setTimer(() => {
      if (!node.alive) return;
      timed(() =>
        dispatcher.register(node.id, {
          addrs: [`/ip4/10.${node.rack >> 8}.${node.rack & 255}.1/tcp/4001`],
          labels: new Map(racked ? [['rack', `rack-${node.rack}`]] : []),
          uploadSlots: slotsForRate(p.uploadSlots, p.upRate),
          uploadRate: Math.round(p.upRate),
          downloadRate: Math.round(p.downRate),
          holdings: [],
        }),
      );
    }, farRtt / 2);
  };
  const kill = (node: SimNode) => {
    node.alive = false;
    for (const flow of [...node.flows]) net.cut(flow);
    node.flows.clear();
    for (const target of node.targets.values()) void target.fail(new Error('node killed'));
    // The scheduler sees the connection drop.
    loop.setTimer(() => timed(() => dispatcher.hostLeft(node.id)), farRtt / 2);
  };

  for (const node of nodes) loop.setTimer(() => startNode(node), node.startAt);
  for (const index of killSet) {
    const node = nodes[index]!;
    loop.setTimer(() => kill(node), p.spreadMs * (0.25 + 0.5 * random()));
  }

  const wallStart = performance.now();
  let lastProgress = wallStart;
  const stopped = await loop.run({
    stop: () => finished >= expected,
    untilMs: p.maxVirtualMs,
    wallDeadline: wallStart + p.maxWallMs,
    onInstant: () => {
      const now = performance.now();
      if (p.progress && now - lastProgress > 5_000) {
        lastProgress = now;
        p.progress(
          `t=${(loop.now() / 1000).toFixed(1)} s virtual, ${finished}/${expected} nodes done, ` +
            `${piecesDelivered} pieces from peers, ${Math.round((now - wallStart) / 1000)} s wall`,
        );
      }
    },
  });
  return {
    durations: nodes
      .filter((_, i) => !killSet.has(i))
      .map((n) => (n.doneAt === undefined ? undefined : (n.doneAt - n.startAt) / 1000)),
    killed: killCount,
    originBytes: origin.carried,
    rackInBytes: racked ? rackLinks.reduce((sum, r) => sum + r.down.carried, 0) : 0,
    racks,
    schedulerMessages,
    messagesByKind,
    assignmentMessages,
    piecesAssigned,
    dispatcherCalls,
    dispatcherCpuNs,
    piecesDelivered,
    peerBytes,
    fallbacks,
    stopped,
    virtualSeconds: loop.now() / 1000,
    events: loop.events,
    flows: net.flowsStarted,
  };
}

/**
 * Disjoint sets of node indexes, one per fraction of `nodes` (late joiners, nodes killed, ...), drawn
 * from one shuffle: the same seed picks the same nodes, and a fraction added at the end moves none.
 */
export function chooseNodes<const F extends readonly number[]>(
  nodes: number,
  random: () => number,
  fractions: F,
): { [K in keyof F]: Set<number> } {
  const order = shuffle(
    Array.from({ length: nodes }, (_, i) => i),
    random,
  );
  let from = 0;
  return fractions.map((fraction) => {
    const count = Math.round(nodes * fraction);
    const chosen = new Set(order.slice(from, from + count));
    from += count;
    return chosen;
  }) as { [K in keyof F]: Set<number> };
}

/** Fisher-Yates with the given generator. */
function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
