import type { Host } from '../state/hosts.ts';
import type { SwarmTask } from '../state/task.ts';
import { ORIGIN, type ServedTotals, type TrafficWindow } from '../state/traffic.ts';

/** One peer as the page and `/api/v1/peers` show it. */
export interface PeerRow {
  id: string;
  labels: Record<string, string>;
  /** bytes/s over the traffic window */
  uploadRate: number;
  downloadRate: number;
  piecesServed: number;
  bytesServed: number;
  activeUploads: number;
  uploadSlots: number;
  blocked: boolean;
}

/** One blob task as the page and `/api/v1/tasks` show it. */
export interface TaskRow {
  digest: string;
  size: number;
  pieceSize: number;
  pieces: number;
  peers: number;
  /** peers holding every piece */
  completePeers: number;
  /** pieces held over pieces wanted by its peers, 0..1 */
  completion: number;
  originBytes: number;
  originPieces: number;
  /** ranges of pieces being fetched from the origin now */
  originInFlight: number;
  sealed: boolean;
}

/** Bytes/s from a source (a peer, or "origin") to a receiver, over the window. */
export interface FlowRow {
  from: string;
  to: string;
  rate: number;
}

export interface SwarmTotals {
  peers: number;
  tasks: number;
  /** bytes/s between peers, and from the origin */
  peerRate: number;
  originRate: number;
  /** flows (source, receiver pairs) active in the window */
  flows: number;
  originBytes: number;
  originPieces: number;
}

/** Everything the page shows at one moment; rows sorted, not yet paginated. */
export interface SwarmSnapshot {
  at: number;
  windowSeconds: number;
  totals: SwarmTotals;
  /** busiest first (upload + download rate), then by id */
  peers: PeerRow[];
  /** largest first, then by digest: an order that holds still while the numbers move */
  tasks: TaskRow[];
  /** fastest first, at most FLOW_ROWS */
  flows: FlowRow[];
  /** the same flows summed by the sides' zone labels, fastest first, at most FLOW_ROWS */
  zoneFlows: FlowRow[];
}

export interface SnapshotSources {
  hosts: Iterable<Host>;
  isBlocked(id: string): boolean;
  tasks: Iterable<SwarmTask>;
  traffic: TrafficWindow;
  served(id: string): ServedTotals | undefined;
  now: number;
}

/** Flow rows kept in a snapshot: the rest are summed into the totals only. */
export const FLOW_ROWS = 60;
/** The label flows are aggregated by. */
export const ZONE_LABEL = 'zone';
export const ORIGIN_NAME = 'origin';
/** The zone of a peer without a zone label. */
const NO_ZONE = '(none)';

/**
 * The whole view at one moment. Its cost is one pass over hosts and tasks
 * (a task's completion is kept up to date by the state, so O(1) each) and
 * one over the flows of the traffic window, plus sorting those lists.
 */
export function takeSnapshot(sources: SnapshotSources): SwarmSnapshot {
  const { traffic } = sources;
  const perSecond = (bytes: number | undefined) => (bytes ?? 0) / traffic.seconds;
  const peers: PeerRow[] = [];
  const zoneOf = new Map<string, string>();
  for (const host of sources.hosts) {
    const served = sources.served(host.id);
    zoneOf.set(host.id, host.labels[ZONE_LABEL] ?? '');
    peers.push({
      id: host.id,
      labels: host.labels,
      uploadRate: perSecond(traffic.uploaded.get(host.id)),
      downloadRate: perSecond(traffic.downloaded.get(host.id)),
      piecesServed: served?.pieces ?? 0,
      bytesServed: served?.bytes ?? 0,
      activeUploads: host.activeUploads,
      uploadSlots: host.uploadSlots,
      blocked: sources.isBlocked(host.id),
    });
  }
  peers.sort(
    (a, b) => b.uploadRate + b.downloadRate - (a.uploadRate + a.downloadRate) || compare(a.id, b.id),
  );
  const tasks: TaskRow[] = [];
  let originBytes = 0;
  let originPieces = 0;
  for (const task of sources.tasks) {
    tasks.push(taskRow(task));
    originBytes += task.originBytes;
    originPieces += task.originPieces;
  }
  tasks.sort((a, b) => b.size - a.size || compare(a.digest, b.digest));
  const kept = fastest(FLOW_ROWS);
  // zone of the source -> zone of the receiver -> bytes
  const zones = new Map<string, Map<string, number>>();
  let peerBytes = 0;
  let originBytesNow = 0;
  let flowCount = 0;
  for (const [source, row] of traffic.flows) {
    const from = source === ORIGIN ? ORIGIN_NAME : source;
    const fromZone = source === ORIGIN ? ORIGIN_NAME : zoneOf.get(source) || NO_ZONE;
    let zoneRow = zones.get(fromZone);
    if (!zoneRow) {
      zoneRow = new Map();
      zones.set(fromZone, zoneRow);
    }
    for (const [receiver, bytes] of row) {
      flowCount++;
      if (source === ORIGIN) originBytesNow += bytes;
      else peerBytes += bytes;
      // Rows are made only for flows fast enough to be kept.
      if (kept.takes(bytes)) kept.offer({ from, to: receiver, rate: perSecond(bytes) }, bytes);
      const toZone = zoneOf.get(receiver) || NO_ZONE;
      zoneRow.set(toZone, (zoneRow.get(toZone) ?? 0) + bytes);
    }
  }
  const flows = kept.rows.sort(byRate);
  const zoneFlows: FlowRow[] = [];
  for (const [from, row] of zones)
    for (const [to, bytes] of row) zoneFlows.push({ from, to, rate: perSecond(bytes) });
  zoneFlows.sort(byRate).splice(FLOW_ROWS);
  const peerRate = perSecond(peerBytes);
  const originRate = perSecond(originBytesNow);
  return {
    at: sources.now,
    windowSeconds: traffic.seconds,
    totals: {
      peers: peers.length,
      tasks: tasks.length,
      peerRate,
      originRate,
      flows: flowCount,
      originBytes,
      originPieces,
    },
    peers,
    tasks,
    flows,
    zoneFlows,
  };
}

export function taskRow(task: SwarmTask): TaskRow {
  const wanted = task.peers.size * task.pieceCount;
  return {
    digest: task.digest,
    size: task.size,
    pieceSize: task.pieceSize,
    pieces: task.pieceCount,
    peers: task.peers.size,
    completePeers: task.completePeers,
    completion: wanted === 0 ? 0 : task.heldPieces / wanted,
    originBytes: task.originBytes,
    originPieces: task.originPieces,
    originInFlight: task.originInFlight.size,
    sealed: task.sealed,
  };
}

/** A task's pieces, a cell per run of pieces: the share of its peers holding them, and whether the origin is sending one. */
export interface PieceMap {
  cells: number;
  piecesPerCell: number;
  /** per cell, 0..1: holders over peers, averaged over the cell's pieces */
  held: number[];
  /** per cell: some piece of it is on its way from the origin */
  fromOrigin: boolean[];
}

/** Most cells a piece map has; a larger blob's pieces share cells. */
export const MAX_PIECE_MAP_CELLS = 512;

/** O(pieces of the task), at most 65,536. */
export function pieceMap(task: SwarmTask, maxCells = MAX_PIECE_MAP_CELLS): PieceMap {
  const piecesPerCell = Math.max(1, Math.ceil(task.pieceCount / maxCells));
  const cells = Math.ceil(task.pieceCount / piecesPerCell);
  const peers = task.peers.size;
  const held = new Array<number>(cells).fill(0);
  const fromOrigin = new Array<boolean>(cells).fill(false);
  for (let index = 0; index < task.pieceCount; index++) {
    const cell = Math.floor(index / piecesPerCell);
    if (peers > 0) held[cell]! += task.holders[index]!.size / peers;
    if (task.originInFlight.has(index)) fromOrigin[cell] = true;
  }
  for (let cell = 0; cell < cells; cell++) {
    const inCell = Math.min(piecesPerCell, task.pieceCount - cell * piecesPerCell);
    held[cell] = round3(held[cell]! / inCell);
  }
  return { cells, piecesPerCell, held, fromOrigin };
}

export interface PageQuery {
  offset: number;
  limit: number;
}

export interface Page<T> {
  total: number;
  offset: number;
  limit: number;
  items: T[];
}

export function paginate<T>(rows: readonly T[], query: PageQuery): Page<T> {
  return {
    total: rows.length,
    offset: query.offset,
    limit: query.limit,
    items: rows.slice(query.offset, query.offset + query.limit),
  };
}

export const DEFAULT_PAGE_LIMIT = 50;
export const MAX_PAGE_LIMIT = 500;

/**
 * `offset` and `limit` (under `prefix`, e.g. "peers" -> peersOffset) from a query string:
 * absent means the defaults; anything but a whole number in range is an error naming the parameter.
 */
export function parsePageQuery(
  params: URLSearchParams,
  prefix = '',
  defaults: PageQuery = { offset: 0, limit: DEFAULT_PAGE_LIMIT },
  maxLimit = MAX_PAGE_LIMIT,
): { ok: true; value: PageQuery } | { ok: false; error: string } {
  const name = (key: string) => (prefix ? `${prefix}${key[0]!.toUpperCase()}${key.slice(1)}` : key);
  const read = (key: 'offset' | 'limit', min: number, max: number) => {
    const raw = params.get(name(key));
    if (raw === null) return defaults[key];
    if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max)
      return `"${name(key)}" must be a whole number from ${min} to ${max}, not "${raw.slice(0, 40)}"`;
    return Number(raw);
  };
  const offset = read('offset', 0, 1e9);
  if (typeof offset === 'string') return { ok: false, error: offset };
  const limit = read('limit', 1, maxLimit);
  if (typeof limit === 'string') return { ok: false, error: limit };
  return { ok: true, value: { offset, limit } };
}

/** Keeps the `limit` fastest rows offered, by their bytes; O(1) per row unless it displaces one. */
function fastest(limit: number) {
  const rows: FlowRow[] = [];
  const weights: number[] = [];
  let slowest = -1;
  return {
    rows,
    /** Whether a row of this many bytes would be kept. */
    takes: (bytes: number) => rows.length < limit || bytes > weights[slowest]!,
    offer(row: FlowRow, bytes: number): void {
      if (rows.length < limit) {
        rows.push(row);
        weights.push(bytes);
        if (slowest < 0 || bytes < weights[slowest]!) slowest = rows.length - 1;
        return;
      }
      rows[slowest] = row;
      weights[slowest] = bytes;
      for (let i = 0; i < weights.length; i++) if (weights[i]! < weights[slowest]!) slowest = i;
    },
  };
}

function byRate(a: FlowRow, b: FlowRow): number {
  return b.rate - a.rate || compare(a.from, b.from) || compare(a.to, b.to);
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** What one viewer looks at: a page of peers, a page of tasks, and one task's pieces. */
export interface ViewQuery {
  peers: PageQuery;
  tasks: PageQuery;
  /** the task whose piece map is sent; absent: the first of the tasks page */
  task: string | undefined;
}

export interface TaskDetail extends TaskRow {
  pieceMap: PieceMap;
}

/** One update for a viewer: the snapshot cut to its pages, with the piece map of its task. */
export interface ViewFrame {
  at: number;
  windowSeconds: number;
  totals: SwarmTotals;
  peers: Page<PeerRow>;
  tasks: Page<TaskRow>;
  flows: FlowRow[];
  zoneFlows: FlowRow[];
  task: TaskDetail | null;
}

/** `detail`: a task's detail by digest, undefined when the swarm has no such task. */
export function viewFrame(
  snapshot: SwarmSnapshot,
  query: ViewQuery,
  detail: (digest: string) => TaskDetail | undefined,
): ViewFrame {
  const tasks = paginate(snapshot.tasks, query.tasks);
  const digest = query.task ?? tasks.items[0]?.digest;
  return {
    at: snapshot.at,
    windowSeconds: snapshot.windowSeconds,
    totals: snapshot.totals,
    peers: paginate(snapshot.peers, query.peers),
    tasks,
    flows: snapshot.flows,
    zoneFlows: snapshot.zoneFlows,
    task: (digest && detail(digest)) || null,
  };
}
