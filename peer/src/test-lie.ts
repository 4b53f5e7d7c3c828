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
 *   check can reveal.
 */
export type Lie = 'pieces' | 'table';

const LIES: readonly Lie[] = ['pieces', 'table'];

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
export function servedPieceBytes<T extends Uint8Array>(bytes: T, offsetInPiece: number): T {
  return lie === 'pieces' ? flipFirstByte(bytes, offsetInPiece) : bytes;
}

/** The bytes at `offsetInPiece` of a piece just received from the origin. */
export function originPieceBytes<T extends Uint8Array>(bytes: T, offsetInPiece: number): T {
  return lie === 'table' ? flipFirstByte(bytes, offsetInPiece) : bytes;
}

function flipFirstByte<T extends Uint8Array>(bytes: T, offsetInPiece: number): T {
  if (offsetInPiece !== 0 || bytes.length === 0) return bytes;
  const copy = bytes.slice() as T;
  copy[0] = copy[0]! ^ 0xff;
  return copy;
}
