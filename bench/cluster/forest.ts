/**
 * A model of a design that does not exist in shoal yet: stripe forests planned by the scheduler
 * (scheduler/src/policy/stripe-forest.ts), on the same flow-level network and virtual clock as the cluster simulator, so
 * its figures can be set beside those of shoal's real scheduler on the same scenarios.
 *
 * What the model assumes of the design:
 * - The scheduler plans, per blob, K stripe trees (StripeForest) and tells each node its K
 *   parents in its answer to the node's task opening: one message a node and blob, and one more
 *   for each parent it loses.
 * - A child keeps one request waiting at each parent for the next piece of that stripe it lacks;
 *   the parent sends it as soon as it holds it and has checked it (the piece protocol's wait, as
 *   pending pieces have today). A piece is passed on only once it has landed whole.
 * - A stripe's root fetches it from the origin piece by piece and reports each piece's sha256
 *   to the scheduler, which signs the table entry and sends it back: the root passes the piece on
 *   one round trip after it landed. Every other node gets the signed entry with the piece from
 *   its parent (checked against the scheduler's key): no message to the scheduler per piece.
 * - A node reports its progress to the scheduler every `reportMs` (REPORT_MS; one message for
 *   all its blobs) and says when a blob is done.
 * - Parents that change for a node (nodes opening the blob after it push it down a tree) reach it
 *   in one message per PARENTS_FLUSH_MS; a node left waiting for a slot gets a parent anyway
 *   after at most PLACE_WAITING_MS.
 * - A parent that leaves cuts its flows at once (its connections close); each child it had asks
 *   the scheduler for another (a message each way).
 * - A piece its parent holds (the parent says what it has on the piece protocol) must land within
 *   a few of the child's recent piece times, else the child tells the scheduler, which takes that
 *   parent out of every tree it feeds (it stays a leaf) and gives its children other parents.
 *   `--stalls F`: that fraction of nodes stops sending mid-rollout, connected and downloading.
 *   A parent whose pieces land much slower than the child's others (1.5 x, after 3) is reported the
 *   same way; `--slow F --slow-rate X`: that fraction of nodes uploads at X x the others' rate.
 *
 *   node bench/cluster/forest.ts --scenario NAME [--nodes N] [--stripes K] [--child-slots N] [--report-ms MS]
 *        [--stalls F] [--slow F [--slow-rate X]] [--seed K]
 *
 * JSON to stdout (the fields of run.ts's where they mean the same), progress to stderr.
 */
import { generateKeyPairSync, sign } from 'node:crypto';
import { parseArgs } from 'node:util';
import { pieceLayout, pieceLength } from '../../packages/protocol/src/index.ts';
import { ORIGIN, StripeForest } from '../../scheduler/src/policy/stripe-forest.ts';
import { log } from '../common.ts';
import { type ClusterParams, chooseNodes, seededRandom, topology } from './cluster.ts';
import { EventLoop } from './event-loop.ts';
import { type Flow, type Link, Link as NetLink, Network } from './network.ts';
import { completion, parseClusterArgs, round, TRANSPORT_SECONDS_PER_MESSAGE } from './run.ts';

/**
 * How often the scheduler gives nodes that wait for a slot a parent anyway (sharing its upload):
 * a waiting node waits up to this long for interior nodes that open the blob after it. 100 ms:
 * twice the 50 ms over which a rollout's nodes open their tasks here; at 50 ms `racks` and
 * `kraken` got 1.14-1.25 x T_LB at p50 (nodes placed before the interior nodes came), at 1 s the
 * waiting nodes of `racks` lost most of a second.
 */
const PLACE_WAITING_MS = 100;
/**
 * How often a node tells the scheduler how far it got (one message for all its blobs): for the
 * swarm view and for placing late joiners, not for any decision per piece. At 2 s, `wide` (a
 * 4.5 s download) stays under 1 CPU s per TB at the transport estimate; at 1 s it is 1.3.
 */
export const REPORT_MS = 2000;
/**
 * A piece its parent holds must land within PIECE_DEADLINE_FACTOR of the child's recent piece times
 * (at least MIN_PIECE_DEADLINE_MS; FIRST_PIECE_DEADLINE_MS before it has any), else the parent is
 * too slow or stalled and the child says so to the scheduler.
 */
const PIECE_DEADLINE_FACTOR = 4;
const MIN_PIECE_DEADLINE_MS = 50;
const FIRST_PIECE_DEADLINE_MS = 2_000;
/**
 * A parent whose last pieces took SLOW_PARENT_FACTOR x the median of this node's other parents,
 * after SLOW_AFTER_PIECES of them, is slow: its children say so, as for a stalled one. A parent
 * feeding 9-10 children instead of 8 is 1.1-1.25 x slower and stays.
 */
const SLOW_PARENT_FACTOR = 1.5;
const SLOW_AFTER_PIECES = 3;
/**
 * Stripes per blob (`--stripes`; each node feeds as many children). A piece passes ~log_K N hops of
 * K piece times each, least near K = 3; 4 beat 8 on every named scenario once slow-parent demotions
 * could no longer cascade (bench/RESULTS.md, "How many stripes").
 */
export const STRIPES = 4;
/** Children that must find a parent too slow, within DEMOTE_WINDOW_MS, before it is demoted. */
const DEMOTE_AFTER_REPORTS = 2;
const DEMOTE_WINDOW_MS = 2_000;
/** `--slow`'s nodes upload at this share of the others' rate (`--slow-rate`). */
const SLOW_RATE = 0.25;
/** Parents that change for a node within this long reach it in one message. */
const PARENTS_FLUSH_MS = 10;

export interface ForestParams extends ClusterParams {
  stripes: number;
  /** children a node feeds at once, over all stripes of one blob */
  childSlots: number;
  reportMs: number;
  /** fraction of nodes whose uploads stop mid-rollout while they stay connected and keep downloading */
  stalls?: number;
  /** fraction of nodes whose uplink runs at `slowRate` x the others' */
  slow?: number;
  slowRate?: number;
}

/** One stripe of one blob at one node: where it comes from and how far it got. */
interface StripeFlow {
  parent: string | undefined;
  /** the next piece of the stripe this node lacks, from here on */
  cursor: number;
  transfer: Flow | undefined;
  /** the piece it waits for at its parent, -1 when none */
  waitingFor: number;
  /** bumped when the parent changes: a transfer or wait of an earlier parent is void */
  epoch: number;
  /** a piece came from this parent already: the next request is sent ahead, while it comes in */
  started: boolean;
  /** what a piece from this parent takes (EWMA, ms), and how many came from it */
  parentMs: number;
  parentPieces: number;
}

interface BlobAtNode {
  have: Uint8Array;
  /** pieces it may pass on (a root's wait for the signed table entry is over) */
  forwardable: Uint8Array;
  count: number;
  stripes: StripeFlow[];
  /** children waiting at this node for a piece: index -> [child, stripe] */
  waiters: Map<number, [ModelNode, number][]>;
  doneAt: number | undefined;
}

interface ModelNode {
  id: string;
  rack: number;
  up: Link;
  down: Link;
  alive: boolean;
  late: boolean;
  startAt: number;
  doneAt: number | undefined;
  blobs: BlobAtNode[];
  flows: Set<Flow>;
  /** it sends what it is asked for (false: its uploads stalled) */
  uploading: boolean;
  /** what a piece from a parent takes it, lately (EWMA, ms; 0: none measured yet) */
  pieceMs: number;
}

export interface ForestOutcome {
  durations: (number | undefined)[];
  killed: number;
  originBytes: number;
  peerBytes: number;
  rackInBytes: number;
  racks: number;
  piecesDelivered: number;
  messagesByKind: Record<string, number>;
  planCpuNs: bigint;
  signCpuNs: bigint;
  virtualSeconds: number;
  events: number;
  stopped: 'done' | 'idle' | 'virtual-limit' | 'wall-limit';
}

export async function simulateForest(p: ForestParams): Promise<ForestOutcome> {
  const random = seededRandom(p.seed);
  const loop = new EventLoop();
  const net = new Network(loop);
  const layouts = p.layers.map((size) => pieceLayout(size));
  const { racked, racks, rackLinks, origin, intake } = topology(p);
  const rtt = (a: ModelNode, b: ModelNode) => (racked && a.rack !== b.rack ? 2 * p.rttMs : p.rttMs);
  const farRtt = racked ? 2 * p.rttMs : p.rttMs;
  const linksBetween = (from: ModelNode, to: ModelNode): Link[] =>
    from.rack === to.rack
      ? [from.up, to.down]
      : [from.up, rackLinks[from.rack]!.up, rackLinks[to.rack]!.down, to.down];
  const originLinks = (to: ModelNode): Link[] =>
    racked ? [origin, rackLinks[to.rack]!.down, to.down] : [origin, to.down];

  // The scheduler's side: one forest per blob, its CPU time measured around each call.
  const forests = p.layers.map(() => new StripeForest(p.stripes, p.childSlots));
  let planCpuNs = 0n;
  const planned = <T>(fn: () => T): T => {
    const start = process.hrtime.bigint();
    try {
      return fn();
    } finally {
      planCpuNs += process.hrtime.bigint() - start;
    }
  };
  // Table entries signed as the design would sign them (Ed25519, one signature per entry), timed.
  const { privateKey } = generateKeyPairSync('ed25519');
  let signCpuNs = 0n;
  const signEntry = (blob: number, index: number) => {
    const start = process.hrtime.bigint();
    sign(null, Buffer.from(`${blob}/${index}/0123456789abcdef0123456789abcdef`), privateKey);
    signCpuNs += process.hrtime.bigint() - start;
  };
  const messagesByKind: Record<string, number> = {};
  const count = (kind: string, n = 1) => {
    messagesByKind[kind] = (messagesByKind[kind] ?? 0) + n;
  };

  // Nodes, chosen late and killed as the cluster simulator chooses them.
  const [lateSet, killSet, stallSet, slowSet] = chooseNodes(p.nodes, random, [
    p.lateJoiners,
    p.churn,
    p.stalls ?? 0,
    p.slow ?? 0,
  ]);
  const killCount = killSet.size;
  const nodes: ModelNode[] = [];
  const byId = new Map<string, ModelNode>();
  for (let i = 0; i < p.nodes; i++) {
    const node: ModelNode = {
      id: `node-${i}`,
      rack: racked ? Math.floor(i / p.rackSize) : 0,
      up: new NetLink(slowSet.has(i) ? p.upRate * (p.slowRate ?? SLOW_RATE) : p.upRate),
      down: new NetLink(intake),
      alive: true,
      late: lateSet.has(i),
      startAt: lateSet.has(i) ? p.spreadMs * (0.25 + 0.5 * random()) : 50 * random(),
      doneAt: undefined,
      blobs: layouts.map((layout) => ({
        have: new Uint8Array(layout.count),
        forwardable: new Uint8Array(layout.count),
        count: 0,
        stripes: Array.from({ length: p.stripes }, (_, s) => ({
          parent: undefined,
          cursor: s,
          transfer: undefined,
          waitingFor: -1,
          epoch: 0,
          started: false,
          parentMs: 0,
          parentPieces: 0,
        })),
        waiters: new Map(),
        doneAt: undefined,
      })),
      flows: new Set(),
      uploading: true,
      pieceMs: 0,
    };
    nodes.push(node);
    byId.set(node.id, node);
  }

  let originBytes = 0;
  let peerBytes = 0;
  let rackInBytes = 0;
  let piecesDelivered = 0;
  let finished = 0;
  const expected = p.nodes - killCount;

  /** The next piece of `stripe` that `node` lacks, from its cursor on; count when none. */
  const nextWanted = (blob: BlobAtNode, flow: StripeFlow, total: number) => {
    let index = flow.cursor;
    while (index < total && blob.have[index]) index += p.stripes;
    flow.cursor = index;
    return index;
  };

  const pump = (node: ModelNode, b: number, stripe: number) => {
    if (!node.alive) return;
    const blob = node.blobs[b]!;
    const flow = blob.stripes[stripe]!;
    if (flow.transfer || flow.waitingFor >= 0 || flow.parent === undefined) return;
    const total = layouts[b]!.count;
    const index = nextWanted(blob, flow, total);
    if (index >= total) return;
    const length = pieceLength(layouts[b]!, index);
    const epoch = flow.epoch;
    if (flow.parent === ORIGIN) {
      flow.waitingFor = index;
      loop.setTimer(
        () => {
          if (!node.alive || flow.epoch !== epoch) return;
          flow.waitingFor = -1;
          const transfer = net.start(
            length,
            originLinks(node),
            () => {
              node.flows.delete(transfer);
              flow.transfer = undefined;
              if (flow.epoch !== epoch) return;
              originBytes += length;
              if (racked) rackInBytes += length;
              land(node, b, index, true);
              pump(node, b, stripe);
            },
            () => {
              node.flows.delete(transfer);
              flow.transfer = undefined;
            },
          );
          flow.transfer = transfer;
          node.flows.add(transfer);
        },
        flow.started ? 0 : farRtt,
      );
      flow.started = true;
      return;
    }
    const parent = byId.get(flow.parent)!;
    const parentBlob = parent.blobs[b]!;
    if (!parentBlob.forwardable[index]) {
      // The request waits at the parent for the piece to land there.
      flow.waitingFor = index;
      const list = parentBlob.waiters.get(index);
      if (list) list.push([node, stripe]);
      else parentBlob.waiters.set(index, [[node, stripe]]);
      return;
    }
    // The request for it went out while the last piece came in (one request kept ahead): no round trip.
    send(parent, node, b, stripe, index, flow.started ? 0 : rtt(parent, node));
  };

  /** `parent` sends piece `index` to `child` after `delayMs` (the request's or answer's way). */
  const send = (
    parent: ModelNode,
    child: ModelNode,
    b: number,
    stripe: number,
    index: number,
    delayMs: number,
  ) => {
    const flow = child.blobs[b]!.stripes[stripe]!;
    const epoch = flow.epoch;
    flow.waitingFor = index;
    // The parent holds the piece: it must land within a few of this node's recent piece times.
    const asked = loop.now();
    const deadline = loop.setTimer(
      () => {
        if (!child.alive || flow.epoch !== epoch || child.blobs[b]!.have[index]) return;
        parentTooSlow(child, parent, 0);
      },
      child.pieceMs > 0
        ? Math.max(MIN_PIECE_DEADLINE_MS, PIECE_DEADLINE_FACTOR * child.pieceMs)
        : FIRST_PIECE_DEADLINE_MS,
    );
    loop.setTimer(() => {
      if (!child.alive || flow.epoch !== epoch) return;
      // A stalled parent takes the request and sends nothing: the child waits for its deadline.
      if (!parent.uploading) return;
      flow.waitingFor = -1;
      flow.started = true;
      if (!parent.alive) return;
      const length = pieceLength(layouts[b]!, index);
      const transfer = net.start(
        length,
        linksBetween(parent, child),
        () => {
          child.flows.delete(transfer);
          parent.flows.delete(transfer);
          flow.transfer = undefined;
          deadline.cancel();
          if (flow.epoch !== epoch) return;
          const took = loop.now() - asked;
          child.pieceMs = child.pieceMs === 0 ? took : 0.8 * child.pieceMs + 0.2 * took;
          flow.parentMs = flow.parentPieces++ === 0 ? took : 0.7 * flow.parentMs + 0.3 * took;
          // A parent that lands its pieces much slower than this node's other parents is a slow parent.
          if (flow.parentPieces >= SLOW_AFTER_PIECES) {
            const pace = otherParentsMs(child, flow) / flow.parentMs;
            if (pace < 1 / SLOW_PARENT_FACTOR) parentTooSlow(child, parent, pace);
          }
          peerBytes += length;
          piecesDelivered++;
          if (parent.rack !== child.rack) rackInBytes += length;
          land(child, b, index, false);
          pump(child, b, stripe);
        },
        () => {
          child.flows.delete(transfer);
          parent.flows.delete(transfer);
          flow.transfer = undefined;
        },
      );
      flow.transfer = transfer;
      child.flows.add(transfer);
      parent.flows.add(transfer);
    }, delayMs);
  };

  /**
   * The median piece time of `node`'s other parents (each measured over SLOW_AFTER_PIECES pieces at
   * least, while it fed it): a yardstick taken under the same conditions, unlike the node's recent
   * pieces, which come faster once most of its stripes are done. Infinity: too few to compare.
   */
  const times: number[] = [];
  const otherParentsMs = (node: ModelNode, except: StripeFlow) => {
    // One array for every call: this runs at nearly every piece landed.
    times.length = 0;
    for (const blob of node.blobs)
      for (const other of blob.stripes)
        if (other !== except && other.parentPieces >= SLOW_AFTER_PIECES) times.push(other.parentMs);
    if (times.length < 3) return Number.POSITIVE_INFINITY;
    times.sort((a, b) => a - b);
    return times[times.length >> 1]!;
  };

  const land = (node: ModelNode, b: number, index: number, fromOrigin: boolean) => {
    const blob = node.blobs[b]!;
    if (blob.have[index]) return;
    blob.have[index] = 1;
    blob.count++;
    if (fromOrigin) {
      // The root's report goes to the scheduler, which signs the entry and sends it back.
      count('report');
      count('signedEntry');
      loop.setTimer(() => {
        planned(() => signEntry(b, index));
        release(node, b, index);
      }, farRtt);
    } else {
      release(node, b, index);
    }
    if (blob.count === layouts[b]!.count) {
      blob.doneAt = loop.now();
      count('taskDone');
      if (node.blobs.every((other) => other.doneAt !== undefined)) {
        node.doneAt = loop.now();
        finished++;
      }
    }
  };

  /** `node` may pass piece `index` on: the children waiting for it get it. */
  const release = (node: ModelNode, b: number, index: number) => {
    if (!node.alive) return;
    const blob = node.blobs[b]!;
    blob.forwardable[index] = 1;
    const waiting = blob.waiters.get(index);
    if (!waiting) return;
    blob.waiters.delete(index);
    for (const [child, stripe] of waiting) {
      const flow = child.blobs[b]!.stripes[stripe]!;
      if (!child.alive || flow.parent !== node.id || flow.waitingFor !== index) continue;
      // The request was waiting there: the bytes leave at once and take half a round trip.
      send(node, child, b, stripe, index, rtt(node, child) / 2);
    }
  };

  /**
   * Placements from the planner reach their nodes: each child's flow in that stripe restarts. The
   * node `answered` gets its parents in the answer to its task opening, at once; the others in one
   * message each per PARENTS_FLUSH_MS, however many of their stripes moved meanwhile.
   */
  const waitingNews = new Map<ModelNode, Set<number>>();
  const flushNews = () => {
    for (const [node, blobs] of waitingNews) {
      count('parents');
      loop.setTimer(() => {
        for (const b of blobs) for (let stripe = 0; stripe < p.stripes; stripe++) pump(node, b, stripe);
      }, farRtt / 2);
    }
    waitingNews.clear();
  };
  const apply = (
    b: number,
    placements: { child: string; stripe: number; parent: string }[],
    answered?: ModelNode,
  ) => {
    for (const { child, stripe, parent } of placements) {
      const node = byId.get(child)!;
      const flow = node.blobs[b]!.stripes[stripe]!;
      flow.epoch++;
      if (flow.transfer) net.cut(flow.transfer);
      flow.transfer = undefined;
      flow.waitingFor = -1;
      flow.started = false;
      flow.parentMs = 0;
      flow.parentPieces = 0;
      flow.parent = parent;
      if (node === answered) continue;
      if (waitingNews.size === 0) loop.setTimer(flushNews, PARENTS_FLUSH_MS);
      const blobs = waitingNews.get(node);
      if (blobs) blobs.add(b);
      else waitingNews.set(node, new Set([b]));
    }
    if (answered) {
      count('parents');
      loop.setTimer(() => {
        for (let stripe = 0; stripe < p.stripes; stripe++) pump(answered, b, stripe);
      }, farRtt / 2);
    }
  };

  // Every node opens its blobs as it starts; the answers carry its parents.
  for (const node of nodes) {
    loop.setTimer(
      () => {
        if (!node.alive) return;
        count('register');
        for (let b = 0; b < layouts.length; b++) {
          count('openTask');
          apply(
            b,
            planned(() => forests[b]!.join(node.id, node.rack, !node.late)),
            node,
          );
        }
        const report = () => {
          if (!node.alive || node.doneAt !== undefined) return;
          count('progress');
          loop.setTimer(report, p.reportMs);
        };
        loop.setTimer(report, p.reportMs);
      },
      node.startAt + farRtt / 2,
    );
  }

  // Nodes left waiting for a slot share a parent's upload instead.
  const sweep = () => {
    for (let b = 0; b < layouts.length; b++) {
      const placements = planned(() => forests[b]!.placeWaiting());
      apply(b, placements);
    }
    if (finished < expected) loop.setTimer(sweep, PLACE_WAITING_MS);
  };
  loop.setTimer(sweep, PLACE_WAITING_MS);

  /**
   * A child found a parent too slow: its pieces come at `pace` x its other parents' (0: it holds a
   * piece and sent nothing for the deadline). A stalled parent is taken out of every tree it feeds at
   * once; a slow one once DEMOTE_AFTER_REPORTS of its children said so within DEMOTE_WINDOW_MS, and
   * only when it is slower than the children it feeds over its slots explain (9 children on 8 slots:
   * 8/9 of the pace; the scheduler put them there). Without these, the children of normal parents
   * near their end, or beside parents that took over a demoted one's children, reported them in
   * turn, and demotions fed on each other (`kraken` with 4 stripes and 5% slow nodes never finished).
   */
  const demoted = new Set<ModelNode>();
  const reports = new Map<ModelNode, { children: Set<ModelNode>; since: number }>();
  function parentTooSlow(child: ModelNode, parent: ModelNode, pace: number) {
    count('parentSlow');
    if (demoted.has(parent)) return;
    if (pace === 0) return demote(parent);
    const now = loop.now();
    let seen = reports.get(parent);
    if (!seen || now - seen.since > DEMOTE_WINDOW_MS) {
      seen = { children: new Set(), since: now };
      reports.set(parent, seen);
    }
    seen.children.add(child);
    if (seen.children.size < DEMOTE_AFTER_REPORTS) return;
    let explained = 1;
    for (let b = 0; b < layouts.length; b++) {
      let load = 0;
      for (let stripe = 0; stripe < p.stripes; stripe++)
        load += forests[b]!.childrenOf(parent.id, stripe).size;
      explained = Math.min(explained, p.childSlots / Math.max(load, p.childSlots));
    }
    if (pace < explained / SLOW_PARENT_FACTOR) demote(parent);
  }
  function demote(parent: ModelNode) {
    reports.delete(parent);
    demoted.add(parent);
    for (let b = 0; b < layouts.length; b++)
      apply(
        b,
        planned(() => forests[b]!.demote(parent.id)),
      );
  }

  // Stalls: a node's uploads stop (its flows freeze), it stays connected and keeps downloading.
  for (const i of stallSet) {
    const node = nodes[i]!;
    loop.setTimer(
      () => {
        node.uploading = false;
        for (const flow of [...node.flows]) if (flow.links[0] === node.up) net.cut(flow);
      },
      p.spreadMs * (0.25 + 0.5 * random()),
    );
  }

  // Churn: a killed node's connections close at once; its children ask for other parents.
  let killed = 0;
  for (const i of killSet) {
    const node = nodes[i]!;
    loop.setTimer(
      () => {
        if (node.doneAt !== undefined) return;
        node.alive = false;
        killed++;
        for (const flow of [...node.flows]) net.cut(flow);
        node.flows.clear();
        for (let b = 0; b < layouts.length; b++) {
          // Each child it had tells the scheduler it lost its parent.
          for (let stripe = 0; stripe < p.stripes; stripe++)
            count('parentLost', forests[b]!.childrenOf(node.id, stripe).size);
          apply(
            b,
            planned(() => forests[b]!.leave(node.id)),
          );
        }
      },
      p.spreadMs * (0.25 + 0.5 * random()),
    );
  }

  const result = await loop.run({
    stop: () => finished >= expected,
    untilMs: p.maxVirtualMs,
    wallDeadline: performance.now() + p.maxWallMs,
  });
  return {
    durations: nodes
      .filter((n) => !killSet.has(Number(n.id.slice(5))))
      .map((n) => (n.doneAt === undefined ? undefined : (n.doneAt - n.startAt) / 1000)),
    killed,
    originBytes,
    peerBytes,
    rackInBytes,
    racks,
    piecesDelivered,
    messagesByKind,
    planCpuNs,
    signCpuNs,
    virtualSeconds: loop.now() / 1000,
    events: loop.events,
    stopped: result,
  };
}

export async function forestFigures(p: ForestParams & { scenario: string | null }) {
  const wallStart = performance.now();
  const out = await simulateForest(p);
  // Slow nodes take their share of the swarm's upload with them.
  const upRate = p.upRate * (1 - (p.slow ?? 0) * (1 - (p.slowRate ?? SLOW_RATE)));
  const { pieceBytes, figures } = completion({ ...p, upRate }, out);
  const messages = Object.values(out.messagesByKind).reduce((s, n) => s + n, 0);
  const pieces = Math.max(1, out.piecesDelivered);
  const movedTB = (out.peerBytes + out.originBytes) / 1e12;
  const cpuSeconds = Number(out.planCpuNs) / 1e9;
  return {
    design: 'stripe forest (model)',
    scenario: p.scenario,
    nodes: p.nodes,
    layers: p.layers.map(Math.round),
    pieceBytes,
    stripes: p.stripes,
    childSlots: p.childSlots,
    reportMs: p.reportMs,
    churn: p.churn,
    lateJoiners: p.lateJoiners,
    stalls: p.stalls ?? 0,
    slow: p.slow ?? 0,
    slowRate: p.slow ? (p.slowRate ?? SLOW_RATE) : null,
    seed: p.seed,
    ...figures,
    schedulerMessages: messages,
    schedulerMessagesPerPiece: round(messages / pieces, 4),
    messagesPerPieceByKind: Object.fromEntries(
      Object.entries(out.messagesByKind).map(([kind, n]) => [kind, round(n / pieces, 4)]),
    ),
    planAndSignCpuSeconds: round(cpuSeconds),
    signCpuSeconds: round(Number(out.signCpuNs) / 1e9),
    schedulerCpuSecondsPerTB:
      movedTB > 0 ? round((cpuSeconds + messages * TRANSPORT_SECONDS_PER_MESSAGE) / movedTB, 2) : 0,
    transportSecondsPerMessage: TRANSPORT_SECONDS_PER_MESSAGE,
    piecesFromPeers: out.piecesDelivered,
    virtualSeconds: round(out.virtualSeconds),
    events: out.events,
    wallSeconds: round((performance.now() - wallStart) / 1000, 1),
  };
}

if (import.meta.main) {
  try {
    const own = ['--stripes', '--child-slots', '--report-ms', '--stalls', '--slow', '--slow-rate'];
    const argv = process.argv.slice(2);
    const { values } = parseArgs({
      args: argv.filter((_, i) => own.includes(argv[i]!) || own.includes(argv[i - 1]!)),
      options: {
        stripes: { type: 'string' },
        'child-slots': { type: 'string' },
        'report-ms': { type: 'string' },
        stalls: { type: 'string' },
        slow: { type: 'string' },
        'slow-rate': { type: 'string' },
      },
    });
    const base = parseClusterArgs(
      argv.filter((_, i) => !own.includes(argv[i]!) && !own.includes(argv[i - 1]!)),
    );
    const stripes = values.stripes === undefined ? STRIPES : Number(values.stripes);
    const childSlots = values['child-slots'] === undefined ? stripes : Number(values['child-slots']);
    const reportMs = values['report-ms'] === undefined ? REPORT_MS : Number(values['report-ms']);
    for (const [name, v] of [
      ['--stripes', stripes],
      ['--child-slots', childSlots],
      ['--report-ms', reportMs],
    ] as const) {
      if (!(Number.isSafeInteger(v) && v >= 1)) throw new Error(`${name} expects a positive integer`);
    }
    log(`forest: ${base.nodes} nodes, ${stripes} stripes, seed ${base.seed}`);
    const stalls = values.stalls === undefined ? 0 : Number(values.stalls);
    if (!(stalls >= 0 && stalls < 1)) throw new Error('--stalls expects a fraction in [0, 1)');
    const slow = values.slow === undefined ? 0 : Number(values.slow);
    if (!(slow >= 0 && slow < 1)) throw new Error('--slow expects a fraction in [0, 1)');
    const slowRate = values['slow-rate'] === undefined ? SLOW_RATE : Number(values['slow-rate']);
    if (!(slowRate > 0 && slowRate <= 1)) throw new Error('--slow-rate expects a fraction in (0, 1]');
    const figures = await forestFigures({ ...base, stripes, childSlots, reportMs, stalls, slow, slowRate });
    process.stdout.write(`${JSON.stringify(figures, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`bench/cluster/forest: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}
