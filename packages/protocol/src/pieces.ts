/**
 * Piece math. A blob is cut into fixed-size pieces (the last one shorter); a
 * piece is the unit that is fetched, verified, stored, reported and served.
 */

export const MIB = 1024 * 1024;
/**
 * Default piece size, chosen by bench/rollout (bench/RESULTS.md, "Piece size"): a piece is
 * passed on only once it has arrived whole and been verified, so smaller pieces spread sooner.
 * With links as the bottleneck 1 and 2 MiB finished a rollout ~25% sooner than 4 MiB; with
 * CPU as the bottleneck 1-16 MiB were alike. 2 MiB has half the requests, reports and
 * scheduler decisions of 1 MiB at the same speed; the in-flight memory is download slots x
 * piece size.
 */
export const DEFAULT_PIECE_SIZE = 2 * MIB;
export const MIN_PIECE_SIZE = 1 * MIB;
export const MAX_PIECE_SIZE = 64 * MIB;
/** Above this many pieces the piece size doubles, so bitfields and piece tables stay small. */
export const MAX_PIECES_PER_BLOB = 4096;
/**
 * ...but not beyond this: a peer holds download slots x piece size in flight, and with 16 MiB
 * pieces a 3 GB blob's peers went over 250 MB of RSS, while 2, 4, 8 and 16 MiB moved it at
 * alike speeds (bench/big, bench/RESULTS.md "Big blobs"). A blob above 32 GiB has more pieces...
 */
export const MAX_AUTO_PIECE_SIZE = 8 * MIB;
/** ...up to this many (256 GiB), past which the size doubles again, up to MAX_PIECE_SIZE. */
export const MAX_PIECES_AT_AUTO_CAP = 32_768;

/**
 * Piece size for a blob of `size` bytes: the default, doubled until the blob has at most
 * MAX_PIECES_PER_BLOB pieces or the size is MAX_AUTO_PIECE_SIZE; past that, doubled only
 * while the blob would have more than MAX_PIECES_AT_AUTO_CAP.
 */
export function pieceSizeFor(size: number): number {
  assertSize(size);
  let pieceSize = DEFAULT_PIECE_SIZE;
  for (; pieceSize < MAX_PIECE_SIZE; pieceSize *= 2) {
    const count = Math.ceil(size / pieceSize);
    if (count <= (pieceSize < MAX_AUTO_PIECE_SIZE ? MAX_PIECES_PER_BLOB : MAX_PIECES_AT_AUTO_CAP)) break;
  }
  return pieceSize;
}

export interface PieceLayout {
  readonly size: number;
  readonly pieceSize: number;
  readonly count: number;
}

export function pieceLayout(size: number, pieceSize = pieceSizeFor(size)): PieceLayout {
  assertSize(size);
  if (!Number.isSafeInteger(pieceSize) || pieceSize < 1)
    throw new RangeError(`invalid piece size ${pieceSize}`);
  // An empty blob still has one (empty) piece, so "all pieces present" has a meaning for it.
  const count = Math.max(1, Math.ceil(size / pieceSize));
  return { size, pieceSize, count };
}

export function pieceStart(layout: PieceLayout, index: number): number {
  assertIndex(layout, index);
  return index * layout.pieceSize;
}

export function pieceLength(layout: PieceLayout, index: number): number {
  assertIndex(layout, index);
  return Math.min(layout.pieceSize, layout.size - index * layout.pieceSize);
}

/** Index of the piece holding byte `offset` (offset < size). */
export function pieceAt(layout: PieceLayout, offset: number): number {
  if (offset < 0 || offset >= Math.max(1, layout.size)) throw new RangeError(`offset ${offset} outside blob`);
  return Math.floor(offset / layout.pieceSize);
}

function assertSize(size: number): void {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`invalid blob size ${size}`);
}

function assertIndex(layout: PieceLayout, index: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= layout.count) {
    throw new RangeError(`piece index ${index} outside 0..${layout.count - 1}`);
  }
}
