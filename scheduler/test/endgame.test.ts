import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  ENDGAME_AFTER_MS,
  ENDGAME_MISSING,
  ENDGAME_SLOWDOWN,
  type EndgameInput,
  endgamePieces,
  endgameWaitMs,
} from '../src/policy/endgame.ts';
import type { ParentView } from '../src/policy/parent-score.ts';

interface Scenario {
  pieceCount?: number;
  missing?: number;
  want?: number;
  /** piece index -> [parent sending it, since] */
  inFlight: Readonly<Record<number, readonly [string, number]>>;
  doubled?: readonly number[];
  /** pieces on their way since this time or earlier may be doubled (default: all) */
  before?: number;
  holders: Readonly<Record<number, readonly string[]>>;
  /** parent -> free upload slots (of 8) */
  free: Readonly<Record<string, number>>;
  speeds?: Readonly<Record<string, number>>;
}

function input(s: Scenario): EndgameInput {
  const parents = new Map<string, ParentView>(
    Object.entries(s.free).map(([id, free]) => [
      id,
      { id, uploadSlots: 8, activeUploads: 8 - free, speed: s.speeds?.[id] ?? 0, labels: {} },
    ]),
  );
  const inFlight = new Map(
    Object.entries(s.inFlight).map(([index, [parent, since]]) => [Number(index), { parent, since }]),
  );
  return {
    pieceCount: s.pieceCount ?? 40,
    missing: s.missing ?? inFlight.size,
    requester: { id: 'me', labels: {} },
    want: s.want ?? 6,
    inFlight,
    doubled: new Set(s.doubled ?? []),
    before: s.before ?? Number.POSITIVE_INFINITY,
    holdersOf: (index) => s.holders[index] ?? [],
    parent: (id) => parents.get(id),
    fastestSpeed: Math.max(0, ...[...parents.values()].map((p) => p.speed)),
  };
}

describe('endgamePieces', () => {
  it('fetches the last pieces a second time from another holder with room, longest waiting first', () => {
    const out = endgamePieces(
      input({
        inFlight: { 37: ['busy', 300], 38: ['busy', 100], 39: ['slow', 200] },
        holders: { 37: ['busy', 'idle', 'me'], 38: ['busy', 'idle'], 39: ['slow', 'idle', 'other'] },
        free: { busy: 0, slow: 1, idle: 8, other: 2 },
      }),
    );
    assert.deepEqual(out, [
      { index: 38, parent: 'idle' },
      { index: 39, parent: 'idle' },
      { index: 37, parent: 'idle' },
    ]);
  });

  it('only pieces on their way since `before` or earlier', () => {
    const out = endgamePieces(
      input({
        inFlight: { 1: ['x', 100], 2: ['x', 5_000], 3: ['x', 99] },
        holders: { 1: ['x', 'y'], 2: ['x', 'y'], 3: ['x', 'y'] },
        free: { x: 0, y: 8 },
        before: 100,
      }),
    );
    assert.deepEqual(
      out.map((c) => c.index),
      [3, 1],
    );
  });

  it('never from the parent already sending the piece, nor from the requester, nor a parent without a slot', () => {
    const out = endgamePieces(
      input({
        inFlight: { 10: ['a', 0], 11: ['b', 0] },
        holders: { 10: ['a', 'me', 'full'], 11: ['b', 'a'] },
        free: { a: 3, b: 3, full: 0 },
      }),
    );
    assert.deepEqual(out, [{ index: 11, parent: 'a' }]);
  });

  it('counts the slots it takes: a parent with one free slot gets one piece', () => {
    const out = endgamePieces(
      input({
        inFlight: { 1: ['x', 0], 2: ['x', 1] },
        holders: { 1: ['x', 'y'], 2: ['x', 'y'] },
        free: { x: 0, y: 1 },
      }),
    );
    assert.deepEqual(out, [{ index: 1, parent: 'y' }]);
  });

  it('doubles a piece once, and no more pieces than the requester wants', () => {
    const base: Scenario = {
      inFlight: { 1: ['x', 0], 2: ['x', 1], 3: ['x', 2] },
      holders: { 1: ['x', 'y'], 2: ['x', 'y'], 3: ['x', 'y'] },
      free: { x: 0, y: 8 },
    };
    assert.deepEqual(
      endgamePieces(input({ ...base, doubled: [1] })).map((c) => c.index),
      [2, 3],
    );
    assert.deepEqual(
      endgamePieces(input({ ...base, want: 1 })).map((c) => c.index),
      [1],
    );
    assert.deepEqual(endgamePieces(input({ ...base, want: 0 })), []);
  });

  it('is not the endgame while pieces are missing that are not on their way, or too many are missing', () => {
    const holders = { 1: ['x', 'y'], 2: ['x', 'y'] };
    const free = { x: 0, y: 8 };
    const inFlight = { 1: ['x', 0], 2: ['x', 1] } as const;
    assert.deepEqual(endgamePieces(input({ inFlight, holders, free, missing: 3 })), []);
    const many = Object.fromEntries(
      Array.from({ length: ENDGAME_MISSING + 1 }, (_, i) => [i, ['x', i] as const]),
    );
    const manyHolders = Object.fromEntries(
      Array.from({ length: ENDGAME_MISSING + 1 }, (_, i) => [i, ['x', 'y']]),
    );
    assert.deepEqual(endgamePieces(input({ inFlight: many, holders: manyHolders, free })), []);
  });

  it('leaves a blob of a few pieces alone: all of it is its endgame', () => {
    assert.deepEqual(
      endgamePieces(
        input({
          pieceCount: ENDGAME_MISSING,
          inFlight: { 0: ['x', 0] },
          holders: { 0: ['x', 'y'] },
          free: { x: 0, y: 8 },
        }),
      ),
      [],
    );
  });

  it('any scenario: each choice is a distinct piece in flight, from a free holder other than its parent', () => {
    const ids = ['me', 'a', 'b', 'c', 'd'];
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 0, max: 39 }), { minLength: 1, maxLength: ENDGAME_MISSING }),
        fc.array(fc.subarray(ids), { minLength: ENDGAME_MISSING, maxLength: ENDGAME_MISSING }),
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 4, maxLength: 4 }),
        fc.integer({ min: 0, max: 8 }),
        (pieces, holderLists, freeSlots, want) => {
          const inFlight = Object.fromEntries(pieces.map((p, i) => [p, [ids[1 + (i % 4)]!, i] as const]));
          const holders = Object.fromEntries(pieces.map((p, i) => [p, holderLists[i]!]));
          const free = Object.fromEntries(ids.slice(1).map((id, i) => [id, freeSlots[i]!]));
          const out = endgamePieces(input({ inFlight, holders, free, want }));
          assert.ok(out.length <= want);
          assert.equal(new Set(out.map((c) => c.index)).size, out.length);
          const taken = new Map<string, number>();
          for (const { index, parent } of out) {
            assert.ok(pieces.includes(index));
            assert.notEqual(parent, 'me');
            assert.notEqual(parent, inFlight[index]![0]);
            assert.ok(holders[index]!.includes(parent));
            taken.set(parent, (taken.get(parent) ?? 0) + 1);
          }
          for (const [parent, count] of taken) assert.ok(count <= free[parent]!);
        },
      ),
    );
  });
});

describe('endgameWaitMs', () => {
  it('is the floor while pieces are quick or no parent is measured', () => {
    assert.equal(endgameWaitMs(2 * 1024 * 1024, 0), ENDGAME_AFTER_MS);
    assert.equal(endgameWaitMs(2 * 1024 * 1024, 100e6), ENDGAME_AFTER_MS);
  });

  it('grows with what a piece takes from the fastest parent, where that is slow', () => {
    // 2 MiB at 256 KiB/s: 8 s a piece, stuck after 24.
    assert.equal(endgameWaitMs(2 * 1024 * 1024, 256 * 1024), ENDGAME_SLOWDOWN * 8_000);
  });
});
