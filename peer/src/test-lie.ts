/**
 * TEST ONLY: a peer that lies, so that end-to-end tests can pit the swarm's
 * defences against a real process. It is switched on by the environment
 * variable SHOAL_TEST_LIE, which only tests set; unset, nothing here touches a
 * byte. It is not a configuration option and must never be set in a cluster.
 *
 * - `pieces`: every piece this node serves to another peer has its first byte
 *   flipped. Everything it reports is true, so the scheduler's piece table is
 *   right and downloaders catch each bad piece against it.
 * - `table`: every piece this node fetches from the origin has its first byte
 *   flipped before it is hashed and stored. The piece hashes it reports (its
 *   piece-table entries) and the bytes it serves agree with each other but not
 *   with the blob: it poisons the piece table, which only a whole-blob digest
 *   check can reveal. Its own copy fails that check.
 * - `vouched-table`: the same entries and served bytes, but it keeps the true
 *   bytes for itself, so its own copy completes and it vouches for the table.
 */
export type Lie = 'pieces' | 'table' | 'vouched-table';

const LIES: readonly Lie[] = ['pieces', 'table', 'vouched-table'];

function lieFromEnvironment(value: string | undefined): Lie | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(LIES as readonly string[]).includes(value)) {
    throw new Error(`SHOAL_TEST_LIE must be one of ${LIES.join(', ')} (test only), not "${value}"`);
  }
  process.emitWarning(`SHOAL_TEST_LIE=${value}: this peer deliberately lies to other peers (test only)`);
  return value as Lie;
}

const lie = lieFromEnvironment(process.env.SHOAL_TEST_LIE);

/** The bytes at `offsetInPiece` of a piece about to be served to a peer. */
export function servedPieceBytes(bytes: Uint8Array, offsetInPiece: number): Uint8Array {
  return lie === 'pieces' || lie === 'vouched-table' ? flipFirstByte(bytes, offsetInPiece) : bytes;
}

/** The bytes at `offsetInPiece` of a piece just received from the origin, as stored and hashed. */
export function originPieceBytes(bytes: Uint8Array, offsetInPiece: number): Uint8Array {
  return lie === 'table' ? flipFirstByte(bytes, offsetInPiece) : bytes;
}

/** What goes into the hash this node reports for a piece it fetched from the origin. */
export function reportedOriginPieceBytes(bytes: Uint8Array, offsetInPiece: number): Uint8Array {
  return lie === 'vouched-table' ? flipFirstByte(bytes, offsetInPiece) : bytes;
}

/** A copy with the piece's first byte flipped (the caller's buffer may be shared, so it is left alone). */
function flipFirstByte(bytes: Uint8Array, offsetInPiece: number): Uint8Array {
  if (offsetInPiece !== 0 || bytes.length === 0) return bytes;
  const copy = new Uint8Array(bytes);
  copy[0] = copy[0]! ^ 0xff;
  return copy;
}
