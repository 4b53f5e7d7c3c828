/** Protocol ids and the numeric codes carried in messages. */

import type { DecodeOptions } from 'protons-runtime';
import type { PeerMessage } from './generated/shoal.js';

/** One piece request and its answer per stream. */
export const PIECE_PROTOCOL = '/shoal/piece/1.0.0';
/**
 * The same messages, but a stream carries requests one after another: the
 * requester sends its next request only once it has read the whole answer to
 * the last, and ends the stream by closing its side. Saves a stream (open,
 * protocol negotiation, close) per piece.
 */
export const PIECE_PROTOCOL_SEQUENTIAL = '/shoal/piece/1.1.0';
export const SCHEDULER_PROTOCOL = '/shoal/sched/2.0.0';
/** One question per stream: does a node know a digest to be public under a repository (see PublicPairingQuery). */
export const ACCESS_PROTOCOL = '/shoal/access/1.0.0';
/** kad-dht runs under shoal's own prefix so it never joins a public DHT. */
export const DHT_PROTOCOL_PREFIX = '/shoal';

/** Largest length-prefixed control message accepted on any stream. */
export const MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

/**
 * Caps on the repeated fields of a PeerMessage, for decoding what peers send.
 * A frame within MAX_MESSAGE_BYTES made of empty entries (two bytes each)
 * would otherwise decode into millions of objects: hundreds of MB of heap
 * and seconds of CPU from a single message. The caps are far above what a
 * real peer sends (a report lists at most one task's pieces).
 */
export const PEER_MESSAGE_LIMITS = {
  register: { addrs: 256, labels: 256, holdings: 65_536 },
  report: { done: 65_536, failed: 65_536 },
} as const satisfies DecodeOptions<PeerMessage>['limits'];

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
  /** the parent answered that it does not hold the piece (evicted, or its download was dropped) */
  absent: 4,
} as const;
export type FailureReason = (typeof FailureReason)[keyof typeof FailureReason];
