/** The piece reports a simulated peer sends, the same in run.ts's peers and scale.ts's in-process ones. */

import type { PieceDone } from '@shoal/protocol';

/** A stand-in piece hash: no data moves in these benchmarks. */
const SHA = new Uint8Array(32).fill(7);

/** A piece it was assigned but holds already: reported done at once, as the real peer does, freeing the parent's slot. */
export function heldAlready(piece: { index: number; parent: string }): PieceDone {
  return { index: piece.index, sha256: new Uint8Array(0), parent: piece.parent, millis: 0, length: 0 };
}

/** A piece fetched in `millis` (from the origin when `parent` is ''); time and bytes count only the first time. */
export function fetched(
  index: number,
  parent: string,
  millis: number,
  pieceSize: number,
  fresh: boolean,
): PieceDone {
  return {
    index,
    sha256: SHA,
    parent,
    millis: fresh ? Math.max(1, Math.round(millis)) : 0,
    length: fresh ? pieceSize : 0,
  };
}
