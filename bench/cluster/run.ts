/**
 * A cluster in a box: shoal's real scheduler (Dispatcher) and the peer's real
 * scheduled download, for thousands of simulated nodes over a flow-level
 * network on a virtual clock. Deterministic for a given --seed.
 *
 *   node bench/cluster/run.ts --nodes N --layers MB,MB,... --node-rate <size/s> --origin-rate <size/s>
 *        [--rack-size R --uplink-oversubscription X] [--rtt-ms MS] [--churn F] [--late-joiners F]
 *        [--seed K] [--scenario NAME] [--verify-rate <size/s>] [--down-rate <size/s>] [--up-rate <size/s>]
 *        [--max-wall-seconds S] [--max-virtual-seconds S] [--upload-slots N]
 *        [--lease-pieces N] [--pending-pieces] [--report-delay-ms MS] [--download-slots N]
 *
 * Scenarios (explicit options override theirs): kraken, 10gbe, wide, racks, churn.
 * Sizes take units (300MB, 1.25GB, 74MiB); a plain number in --layers is MB.
 * JSON to stdout, progress to stderr.
 */
import { parseArgs } from 'node:util';
import { parseSize } from '../../packages/cli/src/sizes.ts';
import { pieceSizeFor } from '../../packages/protocol/src/index.ts';
import { REPORT_DELAY_MS } from '../../peer/src/download/session.ts';
import { LEASE_PIECES } from '../../scheduler/src/dispatcher.ts';
import { log } from '../common.ts';
import { type ClusterOutcome, type ClusterParams, PEER_DEFAULTS, simulateCluster } from './cluster.ts';
import { lowerBoundSeconds } from './lower-bound.ts';

/**
 * Scheduler transport CPU per message on real libp2p connections, seconds: bench/scheduler spends
 * ~270 µs of scheduler CPU per piece assigned, messages included (README, "Performance"), about
 * half of it per-message transport (bench/RESULTS.md, K=2000), at about two messages per piece.
 */
export const TRANSPORT_SECONDS_PER_MESSAGE = 270e-6 / 2 / 2;

export const SCENARIOS: Record<string, Record<string, string>> = {
  kraken: { nodes: '2600', layers: '1500,1500', 'node-rate': '300MB', 'origin-rate': '1.5GB' },
  '10gbe': { nodes: '1000', layers: '1000', 'node-rate': '1.25GB', 'origin-rate': '1GB' },
  wide: { nodes: '10000', layers: '500', 'node-rate': '125MB', 'origin-rate': '250MB' },
  racks: {
    nodes: '1000',
    layers: '1000',
    'node-rate': '1.25GB',
    'origin-rate': '1GB',
    'rack-size': '40',
    'uplink-oversubscription': '4',
  },
  churn: {
    nodes: '1000',
    layers: '1000',
    'node-rate': '1.25GB',
    'origin-rate': '1GB',
    churn: '0.05',
    'late-joiners': '0.05',
  },
};

const OPTIONS = {
  nodes: { type: 'string' },
  layers: { type: 'string' },
  'node-rate': { type: 'string' },
  'down-rate': { type: 'string' },
  'up-rate': { type: 'string' },
  'origin-rate': { type: 'string' },
  'rack-size': { type: 'string' },
  'uplink-oversubscription': { type: 'string' },
  'rtt-ms': { type: 'string' },
  churn: { type: 'string' },
  'late-joiners': { type: 'string' },
  seed: { type: 'string' },
  scenario: { type: 'string' },
  'verify-rate': { type: 'string' },
  'max-wall-seconds': { type: 'string' },
  'max-virtual-seconds': { type: 'string' },
  'upload-slots': { type: 'string' },
  'lease-pieces': { type: 'string' },
  'download-slots': { type: 'string' },
  'report-delay-ms': { type: 'string' },
  'pending-pieces': { type: 'boolean' },
} as const;

export interface ClusterResult {
  scenario: string | null;
  nodes: number;
  imageBytes: number;
  layers: number[];
  pieceBytes: number;
  nodeRate: number;
  originRate: number;
  uploadSlots: number;
  leasePieces: number;
  pendingPieces: boolean;
  reportDelayMs: number;
  rackSize: number;
  uplinkOversubscription: number;
  rttMs: number;
  churn: number;
  lateJoiners: number;
  seed: number;
  finished: boolean;
  stopped: ClusterOutcome['stopped'];
  lowerBoundSeconds: number;
  p50Seconds: number | null;
  p99Seconds: number | null;
  maxSeconds: number | null;
  p50OverLowerBound: number | null;
  p99OverLowerBound: number | null;
  maxOverLowerBound: number | null;
  originEgressRatio: number;
  crossRackRatio: number | null;
  completedNodes: number;
  expectedNodes: number;
  killedNodes: number;
  schedulerMessages: number;
  schedulerDecisionsPerPiece: number;
  schedulerMessagesPerPiece: number;
  /** per piece delivered, by kind (report, assignments, openTask, taskInfo, ...) */
  messagesPerPieceByKind: Record<string, number>;
  /** messages from the scheduler that carried assignments, per piece delivered */
  assignmentMessagesPerPiece: number;
  /** pieces (from parents and origin ranges) per message that carried assignments */
  piecesPerAssignmentMessage: number;
  dispatcherCpuSeconds: number;
  schedulerCpuSecondsPerTB: number;
  transportSecondsPerMessage: number;
  piecesFromPeers: number;
  fallbacks: number;
  virtualSeconds: number;
  events: number;
  wallSeconds: number;
}

const fraction = (value: string | undefined, flag: string, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!(n >= 0 && n < 1)) throw new Error(`${flag} expects a fraction in [0, 1), got ${value}`);
  return n;
};
const positive = (value: string | undefined, flag: string): number => {
  const n = Number(value);
  if (!(n > 0) || !Number.isFinite(n)) throw new Error(`${flag} expects a positive number, got ${value}`);
  return n;
};
const rate = (value: string | undefined, flag: string): number => {
  if (value === undefined) throw new Error(`${flag} is required (or a --scenario that sets it)`);
  const n = parseSize(value);
  if (n <= 0) throw new Error(`${flag} must be above 0, got ${value}`);
  return n;
};
const layerBytes = (value: string): number =>
  /^\s*\d+(\.\d+)?\s*$/.test(value) ? Number(value) * 1e6 : parseSize(value);

/** Options as given on the command line (argv), a scenario's filling the gaps. */
export function parseClusterArgs(argv: string[]): ClusterParams & { scenario: string | null } {
  const { values } = parseArgs({ args: argv, options: OPTIONS, strict: true });
  const { 'pending-pieces': pendingPieces, ...given } = values;
  const scenario = given.scenario ?? null;
  if (scenario !== null && !SCENARIOS[scenario])
    throw new Error(`--scenario ${scenario}: unknown; one of ${Object.keys(SCENARIOS).join(', ')}`);
  const a: Record<string, string | undefined> = { ...(scenario ? SCENARIOS[scenario] : {}), ...given };
  const nodes = Number(a.nodes);
  if (!Number.isSafeInteger(nodes) || nodes < 1)
    throw new Error(`--nodes expects a positive integer, got ${a.nodes}`);
  if (!a.layers) throw new Error('--layers is required (or a --scenario that sets it)');
  const layers = a.layers.split(',').map((v) => layerBytes(v));
  if (layers.some((l) => !(l > 0))) throw new Error(`--layers expects sizes above 0, got ${a.layers}`);
  const nodeRate = a['node-rate'] === undefined ? undefined : rate(a['node-rate'], '--node-rate');
  const downRate = a['down-rate'] ? rate(a['down-rate'], '--down-rate') : nodeRate;
  const upRate = a['up-rate'] ? rate(a['up-rate'], '--up-rate') : nodeRate;
  if (downRate === undefined || upRate === undefined)
    throw new Error('--node-rate is required (or a --scenario that sets it)');
  const rackSize = a['rack-size'] === undefined ? 0 : Number(a['rack-size']);
  if (!Number.isSafeInteger(rackSize) || rackSize < 0)
    throw new Error(`--rack-size expects an integer, got ${a['rack-size']}`);
  const oversubscription =
    a['uplink-oversubscription'] === undefined
      ? 1
      : positive(a['uplink-oversubscription'], '--uplink-oversubscription');
  if (a['uplink-oversubscription'] !== undefined && rackSize === 0)
    throw new Error('--uplink-oversubscription needs --rack-size');
  const uploadSlots = a['upload-slots'] === undefined ? PEER_DEFAULTS.uploadSlots : Number(a['upload-slots']);
  if (!Number.isSafeInteger(uploadSlots) || uploadSlots < 1)
    throw new Error(`--upload-slots expects a positive integer, got ${a['upload-slots']}`);
  const downloadSlots = a['download-slots'] === undefined ? undefined : Number(a['download-slots']);
  if (downloadSlots !== undefined && !(Number.isSafeInteger(downloadSlots) && downloadSlots >= 1))
    throw new Error(`--download-slots expects a positive integer, got ${a['download-slots']}`);
  const leasePieces = a['lease-pieces'] === undefined ? undefined : Number(a['lease-pieces']);
  if (leasePieces !== undefined && !(Number.isSafeInteger(leasePieces) && leasePieces >= 1))
    throw new Error(`--lease-pieces expects a positive integer, got ${a['lease-pieces']}`);
  const reportDelayMs = a['report-delay-ms'] === undefined ? undefined : Number(a['report-delay-ms']);
  if (reportDelayMs !== undefined && !(reportDelayMs >= 0))
    throw new Error(`--report-delay-ms expects a number of milliseconds, got ${a['report-delay-ms']}`);
  const rttMs = a['rtt-ms'] === undefined ? 1 : Number(a['rtt-ms']);
  if (!(rttMs >= 0)) throw new Error(`--rtt-ms expects a number of milliseconds, got ${a['rtt-ms']}`);
  const seed = a.seed === undefined ? 1 : Number(a.seed);
  if (!Number.isSafeInteger(seed)) throw new Error(`--seed expects an integer, got ${a.seed}`);
  const originRate = rate(a['origin-rate'], '--origin-rate');
  const imageBytes = layers.reduce((s, l) => s + l, 0);
  const maxWall =
    a['max-wall-seconds'] === undefined ? 600 : positive(a['max-wall-seconds'], '--max-wall-seconds');
  // Long enough for a design 20 times slower than the bound, and never unbounded.
  const spreadMs = 1000 * (imageBytes / Math.min(originRate, downRate, upRate));
  const maxVirtual =
    a['max-virtual-seconds'] === undefined
      ? Math.max(120, 20 * (spreadMs / 1000))
      : positive(a['max-virtual-seconds'], '--max-virtual-seconds');
  return {
    scenario,
    nodes,
    layers,
    downRate,
    upRate,
    originRate,
    rackSize,
    uplinkOversubscription: oversubscription,
    rttMs,
    uploadSlots,
    downloadSlots,
    leasePieces,
    pendingPieces: pendingPieces === true,
    reportDelayMs,
    churn: fraction(a.churn, '--churn', 0),
    lateJoiners: fraction(a['late-joiners'], '--late-joiners', 0),
    seed,
    verifyRate: a['verify-rate'] === undefined ? 0 : rate(a['verify-rate'], '--verify-rate'),
    spreadMs,
    maxVirtualMs: maxVirtual * 1000,
    maxWallMs: maxWall * 1000,
  };
}

export const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/**
 * How a run's nodes finished against the lower bound: its T_LB, the nodes done (sorted), p50, p99 and
 * the slowest (null when a node counted there did not finish) and `over` to express a time in T_LB.
 */
export function completion<Stopped extends string>(
  p: Pick<
    ClusterParams,
    'nodes' | 'layers' | 'originRate' | 'downRate' | 'upRate' | 'verifyRate' | 'rackSize'
  >,
  out: {
    durations: readonly (number | undefined)[];
    stopped: Stopped;
    originBytes: number;
    rackInBytes: number;
    racks: number;
    killed: number;
  },
) {
  const imageBytes = p.layers.reduce((s, l) => s + l, 0);
  const pieceBytes = Math.max(...p.layers.map((l) => pieceSizeFor(Math.round(l))));
  const lb = lowerBoundSeconds({
    nodes: p.nodes,
    imageBytes,
    pieceBytes,
    originRate: p.originRate,
    downRate: p.verifyRate > 0 ? Math.min(p.downRate, p.verifyRate) : p.downRate,
    upRate: p.upRate,
  });
  const done = out.durations.filter((d): d is number => d !== undefined).sort((a, b) => a - b);
  const expected = out.durations.length;
  const p50 = percentile(done, expected, 0.5);
  const p99 = percentile(done, expected, 0.99);
  const max = done.length === expected && expected > 0 ? done[done.length - 1]! : null;
  const over = (v: number | null) => (v === null ? null : round(v / lb));
  return {
    imageBytes,
    pieceBytes,
    p50,
    p99,
    max,
    /** the figures every run reports the same way */
    figures: {
      finished: out.stopped === 'done',
      stopped: out.stopped,
      lowerBoundSeconds: round(lb),
      p50OverLowerBound: over(p50),
      p99OverLowerBound: over(p99),
      maxOverLowerBound: over(max),
      originEgressRatio: round(out.originBytes / imageBytes, 4),
      crossRackRatio: p.rackSize > 0 ? round(out.rackInBytes / (out.racks * imageBytes), 4) : null,
      completedNodes: done.length,
      expectedNodes: expected,
      killedNodes: out.killed,
    },
  };
}

/** The value below which `q` of the nodes finished; null when that node did not finish. */
function percentile(sorted: number[], expected: number, q: number): number | null {
  const rank = Math.max(0, Math.ceil(q * expected) - 1);
  return rank < sorted.length ? sorted[rank]! : null;
}

export async function runCluster(
  params: ClusterParams & { scenario: string | null },
): Promise<ClusterResult> {
  const wallStart = performance.now();
  const out = await simulateCluster(params);
  const wallSeconds = (performance.now() - wallStart) / 1000;
  const { imageBytes, pieceBytes, p50, p99, max, figures } = completion(params, out);
  const dispatcherCpuSeconds = Number(out.dispatcherCpuNs) / 1e9;
  const movedTB = (out.peerBytes + out.originBytes) / 1e12;
  return {
    scenario: params.scenario,
    nodes: params.nodes,
    imageBytes: Math.round(imageBytes),
    layers: params.layers.map(Math.round),
    pieceBytes,
    nodeRate: params.downRate,
    originRate: params.originRate,
    uploadSlots: params.uploadSlots,
    leasePieces: params.leasePieces ?? LEASE_PIECES,
    pendingPieces: params.pendingPieces ?? false,
    reportDelayMs: params.reportDelayMs ?? REPORT_DELAY_MS,
    rackSize: params.rackSize,
    uplinkOversubscription: params.uplinkOversubscription,
    rttMs: params.rttMs,
    churn: params.churn,
    lateJoiners: params.lateJoiners,
    seed: params.seed,
    ...figures,
    p50Seconds: p50 === null ? null : round(p50),
    p99Seconds: p99 === null ? null : round(p99),
    maxSeconds: max === null ? null : round(max),
    schedulerMessages: out.schedulerMessages,
    schedulerDecisionsPerPiece: round(out.dispatcherCalls / Math.max(1, out.piecesDelivered), 4),
    schedulerMessagesPerPiece: round(out.schedulerMessages / Math.max(1, out.piecesDelivered), 4),
    messagesPerPieceByKind: Object.fromEntries(
      Object.entries(out.messagesByKind).map(([kind, n]) => [
        kind,
        round(n / Math.max(1, out.piecesDelivered), 4),
      ]),
    ),
    assignmentMessagesPerPiece: round(out.assignmentMessages / Math.max(1, out.piecesDelivered), 4),
    piecesPerAssignmentMessage: round(out.piecesAssigned / Math.max(1, out.assignmentMessages), 2),
    dispatcherCpuSeconds: round(dispatcherCpuSeconds),
    schedulerCpuSecondsPerTB:
      movedTB > 0
        ? round((dispatcherCpuSeconds + out.schedulerMessages * TRANSPORT_SECONDS_PER_MESSAGE) / movedTB, 1)
        : 0,
    transportSecondsPerMessage: TRANSPORT_SECONDS_PER_MESSAGE,
    piecesFromPeers: out.piecesDelivered,
    fallbacks: out.fallbacks,
    virtualSeconds: round(out.virtualSeconds),
    events: out.events,
    wallSeconds: round(wallSeconds, 1),
  };
}

if (import.meta.main) {
  try {
    const params = parseClusterArgs(process.argv.slice(2));
    log(
      `cluster: ${params.nodes} nodes, layers ${params.layers.map((l) => Math.round(l / 1e6)).join(',')} MB, seed ${params.seed}`,
    );
    const result = await runCluster({ ...params, progress: log });
    log(`cluster: ${result.stopped} after ${result.wallSeconds} s wall, ${result.virtualSeconds} s virtual`);
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } catch (error) {
    process.stderr.write(`bench/cluster: ${(error as Error).message}\n`);
    process.exitCode = 2;
  }
}
