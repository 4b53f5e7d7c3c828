/**
 * Timeouts the peer and the scheduler must agree on: each side acts on the other's silence, so a
 * figure changed on one side alone makes them work against each other.
 */

/**
 * How long a piece assignment may go unreported, at the least. The peer gives up fetching the piece
 * from its parent after this long; the scheduler frees the parent's upload slot and reissues the
 * piece. Big pieces get longer (see pieceTimeoutMs).
 */
export const PIECE_TIMEOUT_MS = 15_000;

/**
 * The slowest a piece answer may come and still be waited for, bytes per second: a parent's
 * upload shared by all its slots (8 by default) on a 4 Mbit/s link. A fixed deadline would fail
 * every piece on slower links and bigger pieces (8 slots of a 1 MB/s link need 17 s for 2 MiB, and
 * 8 MiB pieces 67 s), and a swarm where every piece times out never finishes anything.
 */
export const MIN_PIECE_RATE = 64 * 1024;

/** A piece answer with no byte for this long has failed, whatever its deadline: a parent that stopped is left quickly. */
export const PIECE_IDLE_TIMEOUT_MS = 10_000;

/** How long a piece of `pieceSize` bytes may take: `floorMs`, or as long as it needs at MIN_PIECE_RATE. */
export function pieceTimeoutMs(pieceSize: number, floorMs: number = PIECE_TIMEOUT_MS): number {
  return Math.max(floorMs, Math.ceil((pieceSize / MIN_PIECE_RATE) * 1000));
}

/**
 * How long a peer's download may make no progress with the scheduler (no assignment, no byte of a
 * piece arriving) before the peer finishes the blob without it. Longer than PIECE_IDLE_TIMEOUT_MS
 * plus the scheduler's sweep, so a fetch from a silent parent is reported and reissued before the
 * peer gives up on the swarm.
 */
export const SWARM_STALL_TIMEOUT_MS = 30_000;

/**
 * A peer the scheduler keeps waiting for a parent (every holder's slots busy: a slow swarm, or
 * a deep one) is told so at least this often, by an assignment of nothing, which its stall timer
 * counts: a node waiting its turn must not take its blob to the origin. Well under
 * SWARM_STALL_TIMEOUT_MS, with the scheduler's sweep (1 s) in between.
 */
export const WAITING_NOTICE_MS = 10_000;

/**
 * How many pieces a link of `bytesPerSecond` (0: not capped) moves at once when each must go at
 * MIN_PIECE_RATE or faster: `slots`, fewer on a slow link, never below one. More would share the link
 * so thinly that every piece misses its deadline, however many parents or children there are.
 */
export function slotsForRate(slots: number, bytesPerSecond: number): number {
  if (!(bytesPerSecond > 0)) return slots;
  return Math.max(1, Math.min(slots, Math.floor(bytesPerSecond / MIN_PIECE_RATE)));
}
