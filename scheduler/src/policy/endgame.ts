import type { PieceChoice } from './assign.ts';
import { freeSlotsOf, type ParentView, scoreParent } from './parent-score.ts';

/**
 * A requester lacking at most this many pieces, every one of them already on
 * its way, is in its endgame: a piece stuck with a slow or stalled parent may
 * be fetched a second time from a parent with room, and the first copy to
 * arrive wins. Above it, a free download slot is better spent on pieces nobody
 * fetches for it yet.
 */
export const ENDGAME_MISSING = 4;

/**
 * How long a piece is on its way, at least, before it is asked of a second
 * parent: past a piece's usual time (2 MiB at 1 MB/s, a link of 8 MB/s shared
 * by eight fetches, is 2 s) and well before a silent fetch times out (15 s).
 * Asking at once for every last piece cost a rollout whose links are the
 * bottleneck 3-4% more bytes and as much time (bench/rollout): the copy that
 * loses is bytes those links carry in vain.
 */
export const ENDGAME_AFTER_MS = 5_000;

/** ...and at least this many times what a piece takes from the fastest parent measured. */
export const ENDGAME_SLOWDOWN = 3;

/**
 * How long a piece of `pieceBytes` is on its way before it counts as stuck: a
 * swarm whose pieces all take long (slow links) is not one where every last
 * piece should be fetched twice. `fastestSpeed`: bytes/s, 0 when unmeasured. Pure.
 */
export function endgameWaitMs(pieceBytes: number, fastestSpeed: number): number {
  const usual = fastestSpeed > 0 ? (pieceBytes * 1000) / fastestSpeed : 0;
  return Math.max(ENDGAME_AFTER_MS, ENDGAME_SLOWDOWN * usual);
}

/** Holders of one piece looked at for a second parent (as in assignPieces, a decision's cost is bounded). */
const ENDGAME_PARENT_SCAN = 64;

export interface EndgameInput {
  /** pieces in the blob: one of at most ENDGAME_MISSING pieces has no endgame (each is all of it) */
  pieceCount: number;
  /** pieces the requester lacks */
  missing: number;
  requester: { id: string; labels: Readonly<Record<string, string>> };
  /** piece fetches it can start now */
  want: number;
  /** its pieces on their way: index -> the parent sending it and since when (any clock) */
  inFlight: ReadonlyMap<number, { parent: string; since: number }>;
  /** pieces already fetched twice */
  doubled: { has(index: number): boolean };
  /** only pieces on their way since this time or earlier (the clock of `since`) are asked of a second parent */
  before: number;
  holdersOf(index: number): Iterable<string>;
  /** an eligible parent (connected, not blocklisted), or undefined */
  parent(id: string): ParentView | undefined;
  fastestSpeed: number;
}

/**
 * Second parents for a requester's last pieces, when every piece it lacks is
 * already on its way and it has download slots free: the pieces on their way
 * since `before`, longest first, each from the best-scoring holder with a free
 * upload slot other than the parent already sending it. Pure.
 */
export function endgamePieces(input: EndgameInput): PieceChoice[] {
  const { requester } = input;
  if (input.want <= 0 || input.pieceCount <= ENDGAME_MISSING) return [];
  if (input.missing === 0 || input.missing > ENDGAME_MISSING || input.inFlight.size < input.missing)
    return [];
  const waiting = [...input.inFlight]
    .filter(([index, flight]) => flight.since <= input.before && !input.doubled.has(index))
    .sort(([, a], [, b]) => a.since - b.since);
  /** free slots of the parents this decision took from */
  const slots = new Map<string, number>();
  const chosen: PieceChoice[] = [];
  for (const [index, flight] of waiting) {
    if (chosen.length >= input.want) break;
    let best: { id: string; free: number } | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    let scanned = 0;
    for (const id of input.holdersOf(index)) {
      if (++scanned > ENDGAME_PARENT_SCAN) break;
      if (id === requester.id || id === flight.parent) continue;
      const view = input.parent(id);
      if (!view) continue;
      const free = slots.get(id) ?? freeSlotsOf(view);
      if (free <= 0) continue;
      const score = scoreParent(view, requester.labels, input.fastestSpeed, free);
      if (score > bestScore) {
        bestScore = score;
        best = { id, free };
      }
    }
    if (!best) continue;
    slots.set(best.id, best.free - 1);
    chosen.push({ index, parent: best.id });
  }
  return chosen;
}
