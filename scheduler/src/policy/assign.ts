import { freeSlotsOf, type ParentView, scoreParent } from './parent-score.ts';

/** What the policy sees of one task, from one requester's point of view. */
export interface AssignInput {
  pieceCount: number;
  requester: {
    id: string;
    labels: Readonly<Record<string, string>>;
    has(index: number): boolean;
    /**
     * Optional: the first piece at or after `from` it lacks, -1 when none (what `has` says, only
     * faster: a decision's pass then steps over the pieces it holds instead of asking about each).
     */
    nextMissing?(from: number): number;
    /** pieces already assigned to it and not yet reported */
    inFlight: { has(index: number): boolean };
    /** leases it can start now: each is one download slot, fetching its pieces one after another */
    want: number;
    /** it holds no origin range and may take one */
    canTakeOrigin: boolean;
    /** back-to-source ranges it was given in this task so far (see firstOriginRangePieces) */
    originRangesTaken?: number;
    /**
     * Optional: a client reads the blob through the requester from this piece on. Its next
     * READ_AHEAD_PIECES missing pieces go before any other, in index order: a client that streams a
     * blob in order would otherwise wait, idle, for the pieces rarity put last.
     */
    readingFrom?: number;
  };
  /** holders of a piece, complete or partial, requester excluded or not */
  holdersOf(index: number): Iterable<string>;
  /** how many peers hold a piece */
  holderCount(index: number): number;
  /**
   * Optional: how many copies of a piece are on their way to other peers. They
   * count toward its rarity: a piece that a single holder is sending to several
   * peers at once is not rare any more, and another piece of that holder's is
   * the one to fetch, so a new holder's first copies differ and its children can
   * trade them.
   */
  inFlightCount?(index: number): number;
  /** a peer is fetching this piece from the origin right now */
  originInFlight(index: number): boolean;
  /** an eligible parent (connected, not blocklisted for this task or cluster-wide), or undefined */
  parent(id: string): ParentView | undefined;
  /** the best measured speed among the parents: the yardstick of the speed score */
  fastestSpeed: number;
  /**
   * Optional shortcut for busy swarms: the parents with a free upload slot (it
   * is enough to name those holding some piece of the task), and whether one
   * holds a piece. When fewer of them exist than a piece has holders, the best
   * parent is looked for among them instead of among the holders; when there
   * are none, there is no search at all.
   */
  freeParents?: { readonly size: number; [Symbol.iterator](): Iterator<string> };
  holds?(id: string, index: number): boolean;
  /**
   * Optional: how many holders of a piece have a free upload slot. A piece with
   * none is not searched for; in a swarm short of upload slots that is most of
   * them, and a search would look at up to MAX_PARENT_SCAN busy holders in vain.
   */
  freeHolderCount?(index: number): number;
  /**
   * Optional, with freeHolderCount: the first piece at or after `from` that the requester lacks and
   * that has a holder with a free slot, -1 when none. A decision with no origin range to take then
   * steps from one such piece to the next instead of asking about each piece it lacks.
   */
  nextFreeHeld?(from: number): number;
  /**
   * Optional: the most pieces one lease holds (default 1). A lease is one
   * parent's upload slot and one of the requester's download slots, for pieces
   * fetched one after another: the scheduler then decides and hears of pieces a
   * lease at a time rather than one by one.
   */
  leasePieces?: number;
  /**
   * Optional: pieces on their way to a parent from a peer that holds them (its own pending pieces
   * not among them), in the order it started them. A lease from that parent that its held pieces
   * do not fill takes some of these too, as pending: the requester asks the parent to wait for
   * each, and gets it as soon as it lands there. The scheduler then hands out a piece before its
   * parent holds it, and hears of fewer, longer leases.
   */
  parentFetching?(id: string): Iterable<number>;
  /** the most pieces one back-to-source range holds */
  originRangePieces: number;
  /**
   * Optional: the most pieces a requester's first back-to-source range of the
   * task holds; each next range may hold twice as many as the last, up to
   * originRangePieces (default: no ramp). Peers that open a task at about the
   * same moment then take a piece of the origin each, instead of the first few
   * taking everything at the speed of their own links, while a peer alone is
   * soon at full ranges.
   */
  firstOriginRangePieces?: number;
  /**
   * Optional: how many of the task's peers (the requester included) could take
   * a back-to-source range now. The pieces nobody holds are then split among
   * them, a range at least one piece: a node fetches from the origin no faster
   * than its own link, so the more of them share the origin's pieces, the sooner
   * every piece is in the swarm.
   */
  originTakers?(): number;
  /**
   * Optional: the requester's rack, when the task's peers are in more than one.
   * Rarity is then counted in the rack, and each piece crosses the rack's uplink
   * about once: a piece some eligible peer of the rack holds is fetched from a
   * parent in the rack (or waits for one's slot), and a piece none of them holds
   * is fetched from outside by at most RACK_INBOUND_FETCHES of its peers at a
   * time, the others waiting for it to land in the rack. Absent: every parent is
   * as good as another, whatever its labels say (but for the score's tiebreak).
   */
  rack?: RackView;
}

/** The requester's rack as the policy sees it (see AssignInput.rack). */
export interface RackView {
  /** eligible holders of a piece in the rack, the requester excluded */
  holderCount(index: number): number;
  /** peers of the rack fetching a piece from a parent now */
  inFlightCount(index: number): number;
  /** the rack's parents with a free upload slot (it is enough to name those holding some piece of the task) */
  freeParents: { readonly size: number; [Symbol.iterator](): Iterator<string> };
  /** whether a host is in the requester's rack */
  has(id: string): boolean;
}

export interface PieceChoice {
  index: number;
  parent: string;
  /** in the same lease as the choice before it (same parent, fetched after it) */
  follows?: true;
  /** the parent does not hold it yet: it is on its way to it (see AssignInput.parentFetching) */
  pending?: true;
}

export interface AssignOutput {
  /** leases in order, each its first piece followed by the pieces that follow it */
  pieces: PieceChoice[];
  origin?: { first: number; count: number };
  /**
   * Holders a search passed over for having no free slot, named only for pieces
   * with more than MAX_PARENT_SCAN holders. The caller may move them to the back
   * of the piece's holders, so the next search, which stops after
   * MAX_PARENT_SCAN of them, starts with others.
   */
  busy: PieceChoice[];
}

/**
 * Parents with a free slot compared per piece: the best of the first ones found
 * is good enough (capacity dominates the score, and a parent whose slots run out
 * drops out of the search), and it keeps a decision's cost independent of how
 * many peers hold the piece.
 */
export const PARENT_CANDIDATES = 8;

/**
 * Parents a search looks at for one piece before it gives up on the piece for
 * now: a piece whose first holders are all busy waits for the next decision
 * (by then the caller has moved those holders back), rather than costing a
 * pass over thousands of them.
 */
export const MAX_PARENT_SCAN = 64;

/**
 * Parents one decision looks at in all, over all its pieces: a requester whose
 * pieces' holders are all busy (a saturated swarm) costs a few pieces' searches,
 * not one per missing piece. The rarest pieces are tried first, so what is left
 * unsearched is what many others hold and later decisions find.
 */
export const MAX_DECISION_SCAN = 16 * MAX_PARENT_SCAN;

/**
 * When at most this many parents have a free slot, each piece is matched against
 * them alone and no holder is looked at. In a saturated swarm, the common case,
 * slots are taken as soon as they free, so few hosts have one, and a search
 * through a piece's holders would mostly meet busy ones.
 */
export const FEW_FREE_PARENTS = MAX_PARENT_SCAN;

/**
 * Peers of a rack fetching, from outside it, a piece no peer of the rack holds:
 * the rest of the rack waits for it to land and takes it from there, so it
 * crosses the rack's uplink once. Should the one copy be slow, the piece's
 * timeout gives it to another.
 */
export const RACK_INBOUND_FETCHES = 1;

/** Missing pieces from a client's reading position that go first (see requester.readingFrom). */
export const READ_AHEAD_PIECES = 4;

/** Rarity bucket of the pieces a client reads next: below every real rarity, so searched first. */
const READ_NEXT = -1;

/**
 * Decides which missing pieces the requester fetches now and from whom.
 * Pure: no clocks, no I/O; the caller commits the result to state.
 *
 * - Pieces some eligible parent holds: rarest first, holders and copies on
 *   their way counted (ties: lower index, which also favours in-order
 *   streaming), each from the best-scoring of the first
 *   PARENT_CANDIDATES parents with a free slot; never the requester itself.
 * - Pieces nobody holds and nobody is fetching from the origin: the requester
 *   takes the lowest such run (at most originRangePieces, and no more than its
 *   share when others could take some too) from the origin, so concurrent
 *   requesters split a blob's back-to-source by range and every piece leaves
 *   the origin once.
 * - A client reading through the requester (requester.readingFrom): its next
 *   READ_AHEAD_PIECES missing pieces go before any other, in index order.
 * - Leases (leasePieces above 1): each parent found starts a lease, filled
 *   with the next rarest pieces of the same kind that parent holds, then (given
 *   parentFetching) with pieces on their way to it, pending; `want` counts
 *   leases, and a lease takes one of its parent's slots.
 *
 * - With the requester's rack (AssignInput.rack): rarity counts the rack's
 *   holders and fetches only. Pieces no peer of the rack holds or fetches come
 *   first, from any parent (each brought in by one peer of the rack, the rack's
 *   others waiting for it to land); then pieces held in the rack, from parents in
 *   it only (with none free, the piece waits for one's slot).
 *
 * Cost: one pass over the pieces (O(1) work each, bucketed by holder count
 * instead of sorted), then a parent search per piece tried: through the free
 * parents when there are at most FEW_FREE_PARENTS of them (none: no search at
 * all), else through whichever is smaller, the piece's holders or the free
 * parents, stopping after PARENT_CANDIDATES parents with a free slot or
 * MAX_PARENT_SCAN looked at; pieces none of whose holders has a free slot
 * (when the caller counts them) are not tried. Pieces are tried until `want`
 * leases are chosen; filling a lease is a pass over the candidates. It grows
 * linearly with the pieces of one task and not with the number of peers.
 */
export function assignPieces(input: AssignInput): AssignOutput {
  const { requester, rack } = input;
  const few = fewFreeParents(input);
  const searching = requester.want > 0 && few?.length !== 0;
  // Nothing to search for and no origin range to take: the pass below would find nothing. In a
  // saturated swarm (no parent with a free slot) that is most decisions.
  if (!searching && !requester.canTakeOrigin) return { pieces: [], busy: [] };
  // Rarity buckets: holders and copies on their way -> pieces, each in index order because the pass
  // runs in index order. With a rack: pieces held in the rack, by the rack's holders and copies on
  // their way into it.
  const byRarity = new Map<number, number[]>();
  /** with a rack: pieces none of its peers holds or fetches yet, by rarity in the whole swarm */
  const inbound = new Map<number, number[]>();
  // The pieces a reading client needs next: up to READ_AHEAD_PIECES missing ones from its position.
  let readNextEnd = -1;
  if (requester.readingFrom !== undefined) {
    readNextEnd = requester.readingFrom;
    for (let found = 0; found < READ_AHEAD_PIECES; ) {
      const next = nextLacking(input, readNextEnd);
      if (next >= input.pieceCount) break;
      if (!requester.inFlight.has(next)) found++;
      readNextEnd = next + 1;
    }
  }
  const readFrom = requester.readingFrom ?? 0;
  const rarityOf = (index: number, rarity: number) =>
    index >= readFrom && index < readNextEnd ? READ_NEXT : rarity;
  let originFirst = -1;
  /** pieces nobody holds or fetches from the origin, from originFirst on */
  let unclaimed = 0;
  // Searching only, the pieces without a free holder are passed over below: stepped over, when it can.
  const next = !requester.canTakeOrigin && input.nextFreeHeld ? nextFreeHeld : nextLacking;
  for (let index = next(input, 0); index < input.pieceCount; index = next(input, index + 1)) {
    const freeHolders = searching ? input.freeHolderCount?.(index) : undefined;
    // Searching only (no origin range to take), a piece none of whose holders has a slot free is
    // passed over whatever else is known of it: told first, it is the cheapest and most common answer.
    if (freeHolders === 0 && !requester.canTakeOrigin) continue;
    if (requester.inFlight.has(index)) continue;
    const count = input.holderCount(index);
    if (count === 0) {
      if (requester.canTakeOrigin && !input.originInFlight(index)) {
        if (originFirst < 0) originFirst = index;
        unclaimed++;
      }
      continue;
    }
    if (!searching || freeHolders === 0) continue;
    if (rack) {
      const local = rack.holderCount(index);
      const coming = rack.inFlightCount(index);
      // Nobody in the rack holds it: one peer brings it in at a time, the others wait for it.
      if (local === 0 && coming >= RACK_INBOUND_FETCHES) continue;
      if (local === 0) addTo(inbound, rarityOf(index, count + (input.inFlightCount?.(index) ?? 0)), index);
      else addTo(byRarity, rarityOf(index, local + coming), index);
      continue;
    }
    addTo(byRarity, rarityOf(index, count + (input.inFlightCount?.(index) ?? 0)), index);
  }

  // Nothing to search and no origin range: what most decisions offered freed slots find.
  if (byRarity.size === 0 && inbound.size === 0 && originFirst < 0) return { pieces: [], busy: [] };

  /** free slots of the parents this decision took from (the rest: as the input says) */
  const slots = new Map<string, number>();
  /** parents this decision found without a free slot: the next pieces' searches skip them cheaply */
  const full = new Set<string>();
  const scan = { left: MAX_DECISION_SCAN };
  const pieces: PieceChoice[] = [];
  const busy: PieceChoice[] = [];
  const leaseMax = Math.max(1, input.leasePieces ?? 1);
  /** pieces this decision put in a lease, when leases hold more than one */
  const taken = leaseMax > 1 ? new Set<number>() : undefined;
  let leases = 0;
  /**
   * A lease from `parent`, starting with `index`, then the rarest others of `order` it holds (the
   * same kind of piece: with a rack, pieces new to it come in from outside, the others from within).
   */
  const take = (
    index: number,
    parent: { id: string; free: number } | undefined,
    order: readonly number[],
  ) => {
    if (parent === undefined) return;
    slots.set(parent.id, parent.free - 1);
    pieces.push({ index, parent: parent.id });
    leases++;
    if (!taken) return;
    taken.add(index);
    let size = 1;
    for (const other of order) {
      if (size >= leaseMax) break;
      if (taken.has(other) || !holdsPiece(input, parent.id, other)) continue;
      taken.add(other);
      size++;
      pieces.push({ index: other, parent: parent.id, follows: true });
    }
    // With a rack, only a parent in it: a pending piece may be one the rack holds already.
    if (size >= leaseMax || !input.parentFetching || (rack && !rack.has(parent.id))) return;
    for (const other of input.parentFetching(parent.id)) {
      if (size >= leaseMax) break;
      if (taken.has(other) || requester.has(other) || requester.inFlight.has(other)) continue;
      taken.add(other);
      size++;
      pieces.push({ index: other, parent: parent.id, follows: true, pending: true });
    }
  };
  /** Leases started from `order`, rarest first, each first piece's parent found by `parentFor`. */
  const place = (
    order: readonly number[],
    parentFor: (index: number) => { id: string; free: number } | undefined,
  ) => {
    for (const index of order) {
      if (leases >= requester.want || scan.left <= 0) return;
      if (taken?.has(index)) continue;
      take(index, parentFor(index), order);
    }
  };
  /** Any parent: whichever is fewer to look at, the free parents or the piece's (then few) holders. */
  const anyParent = (index: number) => {
    const count = input.holderCount(index);
    return few && few.length <= count
      ? bestOfFew(input, few, index, slots, scan)
      : bestParent(input, index, count, slots, full, scan, busy);
  };
  // Pieces new to the rack first (the rarest there), from any parent: none of the rack's holds them.
  place(byRarityOrder(inbound), anyParent);
  // With a rack, its own parents only: a piece held in the rack waits for a slot there.
  const fewInRack = rack && byRarity.size > 0 ? few?.filter((view) => rack.has(view.id)) : undefined;
  place(
    byRarityOrder(byRarity),
    rack
      ? (index) =>
          fewInRack
            ? bestOfFew(input, fewInRack, index, slots, scan)
            : bestParent(input, index, rack.holderCount(index), slots, full, scan, busy, rack)
      : anyParent,
  );

  const output: AssignOutput = { pieces, busy };
  if (originFirst >= 0) {
    const first = originFirst;
    const takers = Math.max(1, input.originTakers?.() ?? 1);
    const rampUp =
      input.firstOriginRangePieces === undefined
        ? Number.POSITIVE_INFINITY
        : input.firstOriginRangePieces * 2 ** (requester.originRangesTaken ?? 0);
    const most = Math.min(input.originRangePieces, rampUp, Math.max(1, Math.ceil(unclaimed / takers)));
    let count = 1;
    while (
      count < most &&
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
  return output;
}

/** The first piece at or after `from` the requester lacks; pieceCount when none. */
function nextLacking(input: AssignInput, from: number): number {
  const { requester, pieceCount } = input;
  if (requester.nextMissing) {
    const index = requester.nextMissing(from);
    return index < 0 ? pieceCount : index;
  }
  let index = from;
  while (index < pieceCount && requester.has(index)) index++;
  return index;
}

/** The first piece at or after `from` the requester lacks and a free holder holds; pieceCount when none. */
function nextFreeHeld(input: AssignInput, from: number): number {
  const index = input.nextFreeHeld!(from);
  return index < 0 ? input.pieceCount : index;
}

function addTo(buckets: Map<number, number[]>, key: number, index: number): void {
  const bucket = buckets.get(key);
  if (bucket) bucket.push(index);
  else buckets.set(key, [index]);
}

/** The pieces of rarity buckets, rarest first (ties in the order they were added). */
function byRarityOrder(buckets: ReadonlyMap<number, number[]>): readonly number[] {
  if (buckets.size === 0) return NO_PIECES;
  if (buckets.size === 1) return buckets.values().next().value!;
  const keys = [...buckets.keys()].sort((a, b) => a - b);
  const order: number[] = [];
  for (const key of keys) for (const index of buckets.get(key)!) order.push(index);
  return order;
}

const NO_PIECES: readonly number[] = [];

/** Whether `id` holds piece `index`, through the input's shortcut when it has one. */
function holdsPiece(input: AssignInput, id: string, index: number): boolean {
  if (input.holds) return input.holds(id, index);
  for (const holder of input.holdersOf(index)) if (holder === id) return true;
  return false;
}

/** The eligible parents with a free slot, when the caller says there are few; undefined when many or unknown. */
function fewFreeParents(input: AssignInput): ParentView[] | undefined {
  const free = input.freeParents;
  if (!free || !input.holds || free.size > FEW_FREE_PARENTS) return undefined;
  const views: ParentView[] = [];
  for (const id of free) {
    if (id === input.requester.id) continue;
    const view = input.parent(id);
    if (view && freeSlotsOf(view) > 0) views.push(view);
  }
  return views;
}

/** The best-scoring of the first PARENT_CANDIDATES of the few free parents that hold a piece and still have a slot. */
function bestOfFew(
  input: AssignInput,
  few: readonly ParentView[],
  index: number,
  slots: ReadonlyMap<string, number>,
  scan: { left: number },
): { id: string; free: number } | undefined {
  let best: { id: string; free: number } | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  let found = 0;
  for (const view of few) {
    scan.left--;
    const free = slots.get(view.id) ?? freeSlotsOf(view);
    if (free <= 0 || !input.holds!(view.id, index)) continue;
    const score = scoreParent(view, input.requester.labels, input.fastestSpeed, free);
    if (score > bestScore) {
      bestScore = score;
      best = { id: view.id, free };
    }
    if (++found >= PARENT_CANDIDATES) break;
  }
  return best;
}

/**
 * The best-scoring of the first PARENT_CANDIDATES eligible holders of a piece with a free slot.
 * `rack`: parents in the requester's rack only, looked for among its free parents when the caller
 * names them (`holderCount`: then the piece's holders in the rack).
 */
function bestParent(
  input: AssignInput,
  index: number,
  holderCount: number,
  slots: ReadonlyMap<string, number>,
  full: Set<string>,
  scan: { left: number },
  busy: PieceChoice[],
  rack?: RackView,
): { id: string; free: number } | undefined {
  const { requester } = input;
  const freeParents = rack ? rack.freeParents : input.freeParents;
  const viaFree =
    freeParents !== undefined && input.holds && (rack !== undefined || freeParents.size < holderCount);
  const candidates = viaFree ? freeParents! : input.holdersOf(index);
  // Naming busy holders only helps when the search cannot look at them all.
  const nameBusy = !viaFree && holderCount > MAX_PARENT_SCAN;
  let best: { id: string; free: number } | undefined;
  let bestScore = Number.NEGATIVE_INFINITY;
  let found = 0;
  let scanned = 0;
  for (const id of candidates) {
    if (++scanned > MAX_PARENT_SCAN || scan.left-- <= 0) break;
    if (id === requester.id) continue;
    if (rack && !viaFree && !rack.has(id)) continue;
    if (viaFree && !input.holds!(id, index)) continue;
    if (full.has(id)) {
      if (nameBusy) busy.push({ index, parent: id });
      continue;
    }
    const view = input.parent(id);
    if (!view) continue;
    const free = slots.get(id) ?? freeSlotsOf(view);
    if (free <= 0) {
      full.add(id);
      if (nameBusy) busy.push({ index, parent: id });
      continue;
    }
    const score = scoreParent(view, requester.labels, input.fastestSpeed, free);
    if (score > bestScore) {
      bestScore = score;
      best = { id, free };
    }
    if (++found >= PARENT_CANDIDATES) break;
  }
  return best;
}
