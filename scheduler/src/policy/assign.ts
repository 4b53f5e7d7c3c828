import { type ParentView, scoreParent } from './parent-score.ts';

/** What the policy sees of one task, from one requester's point of view. */
export interface AssignInput {
  pieceCount: number;
  requester: {
    id: string;
    labels: Readonly<Record<string, string>>;
    has(index: number): boolean;
    /** pieces already assigned to it and not yet reported */
    inFlight: ReadonlySet<number>;
    /** piece fetches it can start now */
    want: number;
    /** it holds no origin range and may take one */
    canTakeOrigin: boolean;
  };
  /** holders of a piece, complete or partial, requester excluded or not */
  holdersOf(index: number): Iterable<string>;
  /** how many peers hold a piece (rarity) */
  holderCount(index: number): number;
  /** a peer is fetching this piece from the origin right now */
  originInFlight(index: number): boolean;
  /** eligible parents: connected, not blocklisted for this task or cluster-wide */
  parents: ReadonlyMap<string, ParentView>;
  /** size of one back-to-source range, in pieces */
  originRangePieces: number;
}

export interface PieceChoice {
  index: number;
  parent: string;
}

export interface AssignOutput {
  pieces: PieceChoice[];
  origin?: { first: number; count: number };
}

/**
 * Decides which missing pieces the requester fetches now and from whom.
 * Pure: no clocks, no I/O; the caller commits the result to state.
 *
 * - Pieces some eligible parent holds: rarest first (ties: lower index, which
 *   also favours in-order streaming), each from the best-scoring parent with a
 *   free slot; never the requester itself.
 * - Pieces nobody holds and nobody is fetching from the origin: the requester
 *   takes the lowest such run (at most originRangePieces) from the origin, so
 *   concurrent requesters split a blob's back-to-source by range and every
 *   piece leaves the origin once.
 */
export function assignPieces(input: AssignInput): AssignOutput {
  const { requester } = input;
  const wanted: number[] = [];
  for (let index = 0; index < input.pieceCount; index++) {
    if (requester.has(index) || requester.inFlight.has(index)) continue;
    wanted.push(index);
  }
  const slots = new Map<string, number>();
  for (const [id, view] of input.parents) slots.set(id, view.freeSlots);
  let fastest = 0;
  for (const view of input.parents.values()) fastest = Math.max(fastest, view.speed);

  const available = wanted
    .filter((index) => input.holderCount(index) > 0)
    .sort((a, b) => input.holderCount(a) - input.holderCount(b) || a - b);
  const pieces: PieceChoice[] = [];
  for (const index of available) {
    if (pieces.length >= requester.want) break;
    let best: string | undefined;
    let bestScore = Number.NEGATIVE_INFINITY;
    for (const holder of input.holdersOf(index)) {
      if (holder === requester.id) continue;
      const view = input.parents.get(holder);
      const free = slots.get(holder) ?? 0;
      if (!view || free <= 0) continue;
      const score = scoreParent({ ...view, freeSlots: free }, requester.labels, fastest);
      if (score > bestScore) {
        bestScore = score;
        best = holder;
      }
    }
    if (best === undefined) continue;
    slots.set(best, (slots.get(best) ?? 0) - 1);
    pieces.push({ index, parent: best });
  }

  const output: AssignOutput = { pieces };
  if (requester.canTakeOrigin) {
    const first = wanted.find((index) => input.holderCount(index) === 0 && !input.originInFlight(index));
    if (first !== undefined) {
      let count = 1;
      while (
        count < input.originRangePieces &&
        first + count < input.pieceCount &&
        !requester.has(first + count) &&
        !requester.inFlight.has(first + count) &&
        input.holderCount(first + count) === 0 &&
        !input.originInFlight(first + count)
      ) {
        count++;
      }
      output.origin = { first, count };
    }
  }
  return output;
}
