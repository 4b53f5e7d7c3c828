/**
 * Timeouts the peer and the scheduler must agree on: each side acts on the other's silence, so a
 * figure changed on one side alone makes them work against each other.
 */

/**
 * How long a piece assignment may go unreported. The peer gives up fetching the piece from its
 * parent after this long; the scheduler frees the parent's upload slot and reissues the piece.
 */
export const PIECE_TIMEOUT_MS = 15_000;

/**
 * How long a peer's download may make no progress with the scheduler (no assignment, no piece
 * landed) before the peer finishes the blob without it. Longer than PIECE_TIMEOUT_MS plus the
 * scheduler's sweep, so a timed-out assignment is reissued before the peer gives up on the swarm.
 */
export const SWARM_STALL_TIMEOUT_MS = 30_000;
