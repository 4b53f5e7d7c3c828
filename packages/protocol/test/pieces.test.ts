import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  Bitfield,
  DEFAULT_PIECE_SIZE,
  MAX_AUTO_PIECE_SIZE,
  MAX_PIECES_AT_AUTO_CAP,
  MAX_PIECES_PER_BLOB,
  MIB,
  pieceAt,
  pieceLayout,
  pieceLength,
  pieceSizeFor,
  pieceStart,
} from '../src/index.ts';

test('piece size is the default until the blob would exceed the piece-count cap', () => {
  assert.equal(pieceSizeFor(0), DEFAULT_PIECE_SIZE);
  const largestAtDefault = DEFAULT_PIECE_SIZE * MAX_PIECES_PER_BLOB;
  assert.equal(pieceSizeFor(largestAtDefault), DEFAULT_PIECE_SIZE);
  assert.equal(pieceSizeFor(largestAtDefault + 1), DEFAULT_PIECE_SIZE * 2);
  assert.equal(pieceSizeFor(largestAtDefault * 2 + 1), DEFAULT_PIECE_SIZE * 4);
  // Above 32 GiB the size stays at its cap (memory in flight) and the count grows instead.
  assert.equal(pieceSizeFor(largestAtDefault * 4 + 1), MAX_AUTO_PIECE_SIZE);
  const huge = pieceLayout(100 * 1024 * MIB);
  assert.equal(huge.pieceSize, MAX_AUTO_PIECE_SIZE);
  assert.equal(huge.count, 12_800);
  // A blob of several hundred GiB doubles again rather than grow its table without end.
  assert.equal(pieceSizeFor(MAX_AUTO_PIECE_SIZE * MAX_PIECES_AT_AUTO_CAP), MAX_AUTO_PIECE_SIZE);
  assert.equal(pieceSizeFor(MAX_AUTO_PIECE_SIZE * MAX_PIECES_AT_AUTO_CAP + 1), MAX_AUTO_PIECE_SIZE * 2);
  assert.equal(pieceSizeFor(2 ** 40), 32 * MIB);
});

test('layout covers the blob exactly, last piece shorter', () => {
  const layout = pieceLayout(10 * MIB + 5, 4 * MIB);
  assert.equal(layout.count, 3);
  assert.equal(pieceStart(layout, 2), 8 * MIB);
  assert.equal(pieceLength(layout, 2), 2 * MIB + 5);
  let total = 0;
  for (let i = 0; i < layout.count; i++) total += pieceLength(layout, i);
  assert.equal(total, layout.size);
  assert.equal(pieceAt(layout, 4 * MIB - 1), 0);
  assert.equal(pieceAt(layout, 4 * MIB), 1);
  assert.throws(() => pieceLength(layout, 3), RangeError);
  assert.throws(() => pieceAt(layout, layout.size), RangeError);
});

test('empty blob has one empty piece', () => {
  const layout = pieceLayout(0);
  assert.equal(layout.count, 1);
  assert.equal(pieceLength(layout, 0), 0);
});

test('bitfield sets, counts, round-trips and rejects stray bits', () => {
  const field = new Bitfield(11);
  assert.equal(field.set(0), true);
  assert.equal(field.set(0), false);
  field.set(10);
  assert.equal(field.count, 2);
  assert.equal(field.nextMissing(), 1);
  assert.deepEqual([...field.present()], [0, 10]);
  const copy = new Bitfield(11, field.bytes);
  assert.deepEqual([...copy.present()], [0, 10]);
  assert.throws(() => new Bitfield(11, Uint8Array.of(0, 0x01)), RangeError);
  assert.throws(() => field.has(11), RangeError);
  assert.equal(Bitfield.full(11).complete, true);
  field.clear(0);
  assert.equal(field.count, 1);
});

test('bitfield steps to the next missing index, and to the next one another field has, as a bit-by-bit walk would', () => {
  const random = (() => {
    let seed = 7;
    return () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
  })();
  for (const length of [1, 7, 8, 9, 31, 64, 200]) {
    for (const density of [0, 0.1, 0.5, 0.95, 1]) {
      const mine = new Bitfield(length);
      const theirs = new Bitfield(length);
      for (let i = 0; i < length; i++) {
        if (random() < density) mine.set(i);
        if (random() < 0.5) theirs.set(i);
      }
      for (let from = 0; from <= length; from++) {
        let missing = -1;
        for (let i = from; i < length; i++)
          if (!mine.has(i)) {
            missing = i;
            break;
          }
        let present = -1;
        for (let i = from; i < length; i++)
          if (mine.has(i)) {
            present = i;
            break;
          }
        assert.equal(mine.nextPresent(from), present, `nextPresent(${from}) of ${length} bits`);
        let wanted = -1;
        for (let i = from; i < length; i++)
          if (!mine.has(i) && theirs.has(i)) {
            wanted = i;
            break;
          }
        assert.equal(mine.nextMissing(from), missing, `nextMissing(${from}) of ${length} bits`);
        assert.equal(
          mine.nextMissingFrom(theirs, from),
          wanted,
          `nextMissingFrom(${from}) of ${length} bits`,
        );
      }
    }
  }
  assert.throws(() => new Bitfield(8).nextMissingFrom(new Bitfield(9)), RangeError);
  assert.throws(() => new Bitfield(8).nextMissing(-1), RangeError);
  assert.throws(() => new Bitfield(8).nextPresent(-1), RangeError);
});
