/** Protocol ids and the numeric codes carried in messages. */

export const PIECE_PROTOCOL = '/shoal/piece/1.0.0';
export const SCHEDULER_PROTOCOL = '/shoal/sched/1.0.0';
/** kad-dht runs under shoal's own prefix so it never joins a public DHT. */
export const DHT_PROTOCOL_PREFIX = '/shoal';

/** Largest length-prefixed control message accepted on any stream. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export const PieceStatus = {
  ok: 0,
  notFound: 1,
  busy: 2,
  badRequest: 3,
} as const;
export type PieceStatus = (typeof PieceStatus)[keyof typeof PieceStatus];

export const FailureReason = {
  /** parent unreachable, refused, busy or too slow */
  unavailable: 1,
  /** bytes did not match the piece table: the parent gets a strike */
  mismatch: 2,
  /** the origin failed to deliver the range */
  origin: 3,
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];
