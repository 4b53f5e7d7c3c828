import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AssignInput,
  type AssignOutput,
  assignPieces,
  MAX_DECISION_SCAN,
  MAX_PARENT_SCAN,
  PARENT_CANDIDATES,
  READ_AHEAD_PIECES,
} from '../src/policy/assign.ts';
import { freeSlotsOf, type ParentView } from '../src/policy/parent-score.ts';

interface ParentSpec {
  freeSlots: number;
  uploadSlots?: number;
  speed?: number;
  labels?: Record<string, string>;
}

interface Scenario {
  pieceCount: number;
  requester?: string;
  labels?: Record<string, string>;
  have?: readonly number[];
  inFlight?: readonly number[];
  want?: number;
  canTakeOrigin?: boolean;
  /** piece index -> holders (as the caller sees them: every listed holder counts for rarity) */
  holders?: Readonly<Record<number, readonly string[]>>;
  originInFlight?: readonly number[];
  parents?: Readonly<Record<string, ParentSpec>>;
  originRangePieces?: number;
  /** peers that could take a back-to-source range now, the requester included */
  originTakers?: number;
  /** also hand the policy the parents with a free slot (the caller's shortcut for busy swarms) */
  freeParents?: boolean;
  /** piece index -> copies on their way to other peers */
  copiesInFlight?: Readonly<Record<number, number>>;
  /** the most pieces in one lease */
  leasePieces?: number;
  /** a client reads through the requester from this piece on */
  readingFrom?: number;
  /** parent -> pieces on their way to it from holders, in the order it started them */
  parentFetching?: Readonly<Record<string, readonly number[]>>;
}

function input(s: Scenario): AssignInput {
  const have = new Set(s.have ?? []);
  const originInFlight = new Set(s.originInFlight ?? []);
  const holders = s.holders ?? {};
  const parents = new Map<string, ParentView>();
  for (const [id, p] of Object.entries(s.parents ?? {})) {
    const uploadSlots = p.uploadSlots ?? Math.max(8, p.freeSlots);
    parents.set(id, {
      id,
      uploadSlots,
      activeUploads: uploadSlots - p.freeSlots,
      speed: p.speed ?? 0,
      labels: p.labels ?? {},
    });
  }
  return {
    pieceCount: s.pieceCount,
    requester: {
      id: s.requester ?? 'me',
      labels: s.labels ?? {},
      has: (index) => have.has(index),
      inFlight: new Set(s.inFlight ?? []),
      want: s.want ?? 16,
      canTakeOrigin: s.canTakeOrigin ?? true,
      ...(s.readingFrom !== undefined ? { readingFrom: s.readingFrom } : {}),
    },
    holdersOf: (index) => holders[index] ?? [],
    holderCount: (index) => (holders[index] ?? []).length,
    originInFlight: (index) => originInFlight.has(index),
    parent: (id) => parents.get(id),
    fastestSpeed: Math.max(0, ...[...parents.values()].map((p) => p.speed)),
    originRangePieces: s.originRangePieces ?? 4,
    ...(s.leasePieces !== undefined ? { leasePieces: s.leasePieces } : {}),
    ...(s.parentFetching ? { parentFetching: (id: string) => s.parentFetching![id] ?? [] } : {}),
    ...(s.originTakers !== undefined ? { originTakers: () => s.originTakers! } : {}),
    ...(s.copiesInFlight ? { inFlightCount: (index: number) => s.copiesInFlight![index] ?? 0 } : {}),
    ...(s.freeParents
      ? {
          freeParents: new Set([...parents.values()].filter((p) => freeSlotsOf(p) > 0).map((p) => p.id)),
          holds: (id: string, index: number) => (holders[index] ?? []).includes(id),
        }
      : {}),
  };
}

/** Every piece held by the same holders. */
function everyPiece(count: number, ids: readonly string[]): Record<number, readonly string[]> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [i, ids]));
}

function indices(output: AssignOutput): number[] {
  return output.pieces.map((p) => p.index);
}

describe('assignPieces: peer pieces', () => {
  it('counts copies on their way toward rarity: a lone holder sends different pieces to different peers', () => {
    // a is the only holder of pieces 0-3 and already sends pieces 0 and 1 to two other peers.
    const scenario = {
      pieceCount: 4,
      holders: everyPiece(4, ['a']),
      parents: { a: { freeSlots: 2 } },
      canTakeOrigin: false,
      want: 2,
    };
    const out = assignPieces(input({ ...scenario, copiesInFlight: { 0: 1, 1: 1 } }));
    assert.deepEqual(indices(out).sort(), [2, 3], 'the pieces nobody has on the way yet');
    // Without the count, equally rare pieces go lowest index first: the same pieces again.
    assert.deepEqual(indices(assignPieces(input(scenario))).sort(), [0, 1]);
  });

  it('never assigns a piece the requester has or has in flight', () => {
    const out = assignPieces(
      input({
        pieceCount: 6,
        have: [0, 2],
        inFlight: [1, 4],
        holders: everyPiece(6, ['a']),
        parents: { a: { freeSlots: 8 } },
      }),
    );
    assert.deepEqual(indices(out).sort(), [3, 5]);
    assert.equal(out.origin, undefined);
  });

  it('never names the requester as its own parent, even when it is listed as holder and parent', () => {
    const out = assignPieces(
      input({
        pieceCount: 3,
        holders: { 0: ['me'], 1: ['me', 'a'], 2: ['a', 'me'] },
        parents: { me: { freeSlots: 8, speed: 1000 }, a: { freeSlots: 1, speed: 1 } },
        canTakeOrigin: false,
      }),
    );
    for (const p of out.pieces) assert.notEqual(p.parent, 'me');
    // a has one slot: exactly one of pieces 1 and 2, never piece 0 (only the requester holds it).
    assert.equal(out.pieces.length, 1);
    assert.ok([1, 2].includes(out.pieces[0]!.index));
  });

  it('never picks a holder missing from the eligible parents', () => {
    const out = assignPieces(
      input({
        pieceCount: 3,
        // x holds everything but is not eligible (blocklisted, gone): only y may serve, and only what y holds.
        holders: { 0: ['x', 'y'], 1: ['x'], 2: ['y', 'x'] },
        parents: { y: { freeSlots: 8 } },
      }),
    );
    assert.deepEqual(out.pieces, [
      { index: 0, parent: 'y' },
      { index: 2, parent: 'y' },
    ]);
    // Piece 1 has a holder, so it is not fetched from the origin either.
    assert.equal(out.origin, undefined);
  });

  it('assigns at most `want` pieces', () => {
    const scenario = { pieceCount: 10, holders: everyPiece(10, ['a']), parents: { a: { freeSlots: 8 } } };
    assert.deepEqual(indices(assignPieces(input({ ...scenario, want: 3 }))), [0, 1, 2]);
    assert.deepEqual(assignPieces(input({ ...scenario, want: 0 })).pieces, []);
  });

  it("respects parents' free slots within one decision", () => {
    const out = assignPieces(
      input({
        pieceCount: 6,
        holders: everyPiece(6, ['a', 'b', 'c']),
        parents: { a: { freeSlots: 1 }, b: { freeSlots: 2 }, c: { freeSlots: 0 } },
      }),
    );
    const perParent = new Map<string, number>();
    for (const p of out.pieces) perParent.set(p.parent, (perParent.get(p.parent) ?? 0) + 1);
    assert.equal(perParent.get('a'), 1);
    assert.equal(perParent.get('b'), 2);
    assert.equal(perParent.get('c'), undefined);
    assert.deepEqual(indices(out), [0, 1, 2]);
  });

  it('takes the rarest piece first', () => {
    const out = assignPieces(
      input({
        pieceCount: 2,
        want: 1,
        holders: { 0: ['a', 'b', 'c', 'd', 'e'], 1: ['e'] },
        parents: {
          a: { freeSlots: 8 },
          b: { freeSlots: 8 },
          c: { freeSlots: 8 },
          d: { freeSlots: 8 },
          e: { freeSlots: 8 },
        },
      }),
    );
    assert.deepEqual(out.pieces, [{ index: 1, parent: 'e' }]);
  });

  it('breaks rarity ties by the lower index', () => {
    const out = assignPieces(
      input({
        pieceCount: 5,
        want: 3,
        holders: { 0: ['a', 'b', 'c'], 1: ['a', 'b'], 2: ['a', 'b'], 3: ['a'], 4: ['a', 'b'] },
        parents: { a: { freeSlots: 8 }, b: { freeSlots: 8 } },
      }),
    );
    assert.deepEqual(indices(out), [3, 1, 2]);
  });

  it('skips a piece whose holders have no free slot and takes the next one', () => {
    const out = assignPieces(
      input({
        pieceCount: 3,
        holders: { 0: ['busy'], 1: ['a'], 2: ['a', 'busy'] },
        parents: { busy: { freeSlots: 0 }, a: { freeSlots: 8 } },
      }),
    );
    assert.deepEqual(out.pieces, [
      { index: 1, parent: 'a' },
      { index: 2, parent: 'a' },
    ]);
  });

  it('spreads pieces over equally good parents as their free capacity drops', () => {
    const out = assignPieces(
      input({
        pieceCount: 4,
        holders: everyPiece(4, ['a', 'b']),
        parents: { a: { freeSlots: 4, uploadSlots: 4 }, b: { freeSlots: 4, uploadSlots: 4 } },
      }),
    );
    const fromA = out.pieces.filter((p) => p.parent === 'a').length;
    assert.equal(fromA, 2);
  });
});

/** The decision's leases: each its parent and its pieces in the order they are fetched. */
function leases(output: AssignOutput): { parent: string; pieces: number[] }[] {
  const out: { parent: string; pieces: number[] }[] = [];
  for (const choice of output.pieces) {
    if (choice.follows) out.at(-1)!.pieces.push(choice.index);
    else out.push({ parent: choice.parent, pieces: [choice.index] });
  }
  return out;
}

describe('assignPieces: leases', () => {
  it('fills a lease with more pieces its parent holds, rarest first, and counts `want` in leases', () => {
    // a holds 0-5, b holds 0-2 too: pieces 3-5 are the rarest. One lease wanted, of at most 4 pieces.
    const holders = { 0: ['a', 'b'], 1: ['a', 'b'], 2: ['a', 'b'], 3: ['a'], 4: ['a'], 5: ['a'] };
    const out = assignPieces(
      input({
        pieceCount: 6,
        holders,
        parents: { a: { freeSlots: 2 }, b: { freeSlots: 2 } },
        canTakeOrigin: false,
        want: 1,
        leasePieces: 4,
      }),
    );
    assert.deepEqual(leases(out), [{ parent: 'a', pieces: [3, 4, 5, 0] }]);
  });

  it('puts in a lease only pieces its parent holds, and each piece in one lease', () => {
    const out = assignPieces(
      input({
        pieceCount: 6,
        holders: { 0: ['a'], 1: ['b'], 2: ['a'], 3: ['b'], 4: ['a'], 5: ['b'] },
        parents: { a: { freeSlots: 1 }, b: { freeSlots: 1 } },
        canTakeOrigin: false,
        want: 2,
        leasePieces: 8,
      }),
    );
    assert.deepEqual(leases(out), [
      { parent: 'a', pieces: [0, 2, 4] },
      { parent: 'b', pieces: [1, 3, 5] },
    ]);
  });

  it('takes one slot per lease: a parent with one slot gives one lease', () => {
    const out = assignPieces(
      input({
        pieceCount: 8,
        holders: everyPiece(8, ['a']),
        parents: { a: { freeSlots: 1 } },
        canTakeOrigin: false,
        want: 3,
        leasePieces: 3,
      }),
    );
    assert.deepEqual(leases(out), [{ parent: 'a', pieces: [0, 1, 2] }]);
  });

  it('whatever the swarm: leases within `want` and leasePieces, pieces the parent holds, none twice or already had', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 24 }),
        fc.array(fc.array(fc.constantFrom('a', 'b', 'c', 'me'), { maxLength: 3 }), { maxLength: 24 }),
        fc.array(fc.nat(23), { maxLength: 6 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 1, max: 8 }),
        fc.boolean(),
        (pieceCount, holderLists, have, want, leasePieces, freeParents) => {
          const holders = Object.fromEntries(
            holderLists.slice(0, pieceCount).map((ids, index) => [index, [...new Set(ids)]]),
          );
          const scenario: Scenario = {
            pieceCount,
            holders,
            have: have.filter((i) => i < pieceCount),
            parents: { a: { freeSlots: 2 }, b: { freeSlots: 1 }, c: { freeSlots: 0 } },
            canTakeOrigin: false,
            want,
            leasePieces,
            freeParents,
          };
          const out = assignPieces(input(scenario));
          const all = leases(out);
          assert.ok(all.length <= want, 'at most `want` leases');
          const seen = new Set<number>();
          const perParent = new Map<string, number>();
          for (const lease of all) {
            assert.ok(lease.pieces.length <= leasePieces, 'at most leasePieces pieces in a lease');
            perParent.set(lease.parent, (perParent.get(lease.parent) ?? 0) + 1);
            for (const index of lease.pieces) {
              assert.ok(
                ((holders[index] ?? []) as readonly string[]).includes(lease.parent),
                `${lease.parent} holds ${index}`,
              );
              assert.ok(!scenario.have!.includes(index), 'not a piece the requester has');
              assert.ok(!seen.has(index), 'no piece twice');
              seen.add(index);
            }
          }
          assert.ok((perParent.get('a') ?? 0) <= 2 && (perParent.get('b') ?? 0) <= 1, 'a slot per lease');
          assert.ok(!perParent.has('c') && !perParent.has('me'));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('assignPieces: pending pieces', () => {
  it('fills a lease that the held pieces of its parent leave short with pieces on their way to it, marked pending', () => {
    // a holds 0 only and fetches 3, 1 and 5 (in that order); the requester has 1 and fetches 5 already.
    const out = assignPieces(
      input({
        pieceCount: 8,
        holders: { 0: ['a'] },
        have: [1],
        inFlight: [5],
        parents: { a: { freeSlots: 1 } },
        canTakeOrigin: false,
        want: 1,
        leasePieces: 4,
        parentFetching: { a: [3, 1, 5, 6, 7] },
      }),
    );
    assert.deepEqual(
      out.pieces.map(({ index, pending }) => ({ index, pending: pending === true })),
      [
        { index: 0, pending: false },
        { index: 3, pending: true },
        { index: 6, pending: true },
        { index: 7, pending: true },
      ],
    );
    assert.deepEqual(leases(out), [{ parent: 'a', pieces: [0, 3, 6, 7] }]);
  });

  it('never starts a lease with a pending piece, nor takes one a held piece of the lease took', () => {
    const out = assignPieces(
      input({
        pieceCount: 4,
        holders: { 0: ['a'], 1: ['a'] },
        parents: { a: { freeSlots: 1 }, b: { freeSlots: 1 } },
        canTakeOrigin: false,
        want: 2,
        leasePieces: 4,
        parentFetching: { a: [1, 2], b: [3] },
      }),
    );
    assert.deepEqual(leases(out), [{ parent: 'a', pieces: [0, 1, 2] }]);
    assert.deepEqual(
      out.pieces.filter((p) => p.pending).map((p) => p.index),
      [2],
    );
  });

  it('with a rack: only a parent in the rack of the requester adds pending pieces', () => {
    const rack = (ids: readonly string[]) => ({
      holderCount: () => 0,
      inFlightCount: () => 0,
      freeParents: new Set<string>(),
      has: (id: string) => ids.includes(id),
    });
    const scenario = {
      pieceCount: 4,
      holders: { 0: ['a'] },
      parents: { a: { freeSlots: 1 } },
      canTakeOrigin: false,
      want: 1,
      leasePieces: 4,
      parentFetching: { a: [1, 2] },
    };
    const outside = assignPieces({ ...input(scenario), rack: rack([]) });
    assert.deepEqual(leases(outside), [{ parent: 'a', pieces: [0] }]);
  });
});

describe('assignPieces: a client reading', () => {
  // Pieces 6 and 7 are the rarest (one holder); the others have two.
  const holders = { ...everyPiece(8, ['a', 'b']), 6: ['a'], 7: ['a'] };
  const scenario: Scenario = {
    pieceCount: 8,
    holders,
    parents: { a: { freeSlots: 8 }, b: { freeSlots: 8 } },
    canTakeOrigin: false,
    want: 4,
  };

  it('takes the pieces the client reads next first, in order, before rarer ones', () => {
    assert.deepEqual(indices(assignPieces(input(scenario))), [6, 7, 0, 1], 'no reader: rarest first');
    assert.deepEqual(indices(assignPieces(input({ ...scenario, readingFrom: 0 }))), [0, 1, 2, 3]);
  });

  it('counts READ_AHEAD_PIECES missing pieces from the reading position, stepping over those held or on their way', () => {
    // Piece 5 is made the rarest, so the window's order shows it is index order, not rarity.
    const out = assignPieces(
      input({
        ...scenario,
        holders: { ...holders, 5: ['b'] },
        want: 8,
        readingFrom: 1,
        have: [2],
        inFlight: [3],
      }),
    );
    // From piece 1: 1, 4, 5, 6 are the next missing pieces nobody fetches for it; then by rarity.
    assert.deepEqual(indices(out).slice(0, READ_AHEAD_PIECES), [1, 4, 5, 6]);
    assert.deepEqual(indices(out).slice(READ_AHEAD_PIECES), [7, 0]);
  });
});

describe('assignPieces: cost', () => {
  /** Holders h0..h(n-1) of every piece, each with `free` slots; counts the parent lookups. */
  function crowd(n: number, free: (i: number) => number, scenario: Partial<Scenario> = {}) {
    const ids = Array.from({ length: n }, (_, i) => `h${i}`);
    const parents = Object.fromEntries(ids.map((id, i) => [id, { freeSlots: free(i), uploadSlots: 8 }]));
    const base = input({ pieceCount: 64, want: 8, holders: everyPiece(64, ids), parents, ...scenario });
    let lookups = 0;
    const counted: AssignInput = {
      ...base,
      parent: (id) => {
        lookups++;
        return base.parent(id);
      },
    };
    return { output: assignPieces(counted), lookups: () => lookups };
  }

  it('looks at no more than PARENT_CANDIDATES free parents per piece, however many hold it', () => {
    const run = crowd(2000, () => 8);
    assert.equal(run.output.pieces.length, 8);
    assert.ok(run.lookups() <= 8 * PARENT_CANDIDATES, `${run.lookups()} parent lookups`);
  });

  it('takes the best-scoring of the candidates it looked at', () => {
    // h0..h6 nearly busy, h7 idle: h7 is among the first PARENT_CANDIDATES and wins every piece it can.
    const run = crowd(PARENT_CANDIDATES, (i) => (i === PARENT_CANDIDATES - 1 ? 8 : 1), { want: 1 });
    assert.deepEqual(run.output.pieces, [{ index: 0, parent: `h${PARENT_CANDIDATES - 1}` }]);
  });

  it('searches the few free parents instead of thousands of busy holders', () => {
    // 2000 holders, only the last two with a slot: through the free parents, a handful of lookups.
    const free = new Set(['h1998', 'h1999']);
    const run = crowd(2000, (i) => (free.has(`h${i}`) ? 1 : 0), { freeParents: true });
    assert.deepEqual(run.output.pieces.map((p) => p.parent).sort(), ['h1998', 'h1999']);
    assert.ok(run.lookups() <= 2 * 64, `${run.lookups()} parent lookups`);
  });

  it('looks at no holder at all when no parent has a free slot', () => {
    const run = crowd(2000, () => 0, { freeParents: true });
    assert.deepEqual(run.output.pieces, []);
    assert.equal(run.lookups(), 0);
    assert.deepEqual(run.output.busy, []);
  });

  it('matches pieces against a few free parents without naming busy holders', () => {
    const free = new Set(['h7', 'h1500']);
    const run = crowd(2000, (i) => (free.has(`h${i}`) ? 2 : 0), { freeParents: true });
    assert.equal(run.output.pieces.length, 4);
    assert.deepEqual(new Set(run.output.pieces.map((p) => p.parent)), free);
    assert.deepEqual(run.output.busy, []);
    assert.equal(run.lookups(), 2);
  });

  it('gives up on a piece after MAX_PARENT_SCAN busy holders, on the decision after MAX_DECISION_SCAN, and names them', () => {
    // Without the shortcut the free two sit behind 1998 busy holders: each piece's search stops early,
    // and the decision stops once it has looked at MAX_DECISION_SCAN parents over all pieces.
    const free = new Set(['h1998', 'h1999']);
    const run = crowd(2000, (i) => (free.has(`h${i}`) ? 1 : 0));
    assert.deepEqual(run.output.pieces, []);
    assert.ok(run.lookups() <= MAX_DECISION_SCAN, `${run.lookups()} parent lookups`);
    assert.equal(run.output.busy.length, MAX_DECISION_SCAN);
    assert.deepEqual(
      run.output.busy.filter((b) => b.index === 0).map((b) => b.parent),
      Array.from({ length: MAX_PARENT_SCAN }, (_, i) => `h${i}`),
    );
  });
});

describe('assignPieces: back-to-source', () => {
  it('splits the pieces nobody holds among the peers that could take them, a piece at least', () => {
    const rangeFor = (originTakers: number) =>
      assignPieces(input({ pieceCount: 8, originRangePieces: 4, originTakers })).origin;
    assert.deepEqual(rangeFor(1), { first: 0, count: 4 }, 'alone: a whole range');
    assert.deepEqual(rangeFor(4), { first: 0, count: 2 }, 'four of them: two pieces each');
    assert.deepEqual(rangeFor(16), { first: 0, count: 1 }, 'more of them than pieces: one each');
  });

  it('takes the lowest run of pieces nobody holds, at most originRangePieces, contiguous', () => {
    const out = assignPieces(
      input({
        pieceCount: 20,
        // 0..2 held, 3 not held, 4 in origin flight, 5..12 free, ...
        holders: { 0: ['a'], 1: ['a'], 2: ['a'] },
        parents: { a: { freeSlots: 0 } },
        originInFlight: [4],
        originRangePieces: 4,
      }),
    );
    // 3 is the lowest: the run stops at 4 (in flight elsewhere).
    assert.deepEqual(out.origin, { first: 3, count: 1 });
  });

  it('stops the run at a piece the requester has, has in flight, someone holds, or the end', () => {
    const base = { pieceCount: 10, originRangePieces: 8 };
    assert.deepEqual(assignPieces(input({ ...base, have: [3] })).origin, { first: 0, count: 3 });
    assert.deepEqual(assignPieces(input({ ...base, inFlight: [2] })).origin, { first: 0, count: 2 });
    assert.deepEqual(
      assignPieces(input({ ...base, holders: { 5: ['a'] }, parents: { a: { freeSlots: 0 } } })).origin,
      { first: 0, count: 5 },
    );
    assert.deepEqual(assignPieces(input({ ...base, have: [0, 1, 2, 3, 4] })).origin, { first: 5, count: 5 });
    assert.deepEqual(assignPieces(input({ ...base, originRangePieces: 3 })).origin, { first: 0, count: 3 });
  });

  it('skips pieces the requester already has when looking for the first one', () => {
    const out = assignPieces(input({ pieceCount: 6, have: [0, 1], inFlight: [2], originRangePieces: 2 }));
    assert.deepEqual(out.origin, { first: 3, count: 2 });
  });

  it('takes no origin range when it may not, or when every piece is held or in origin flight', () => {
    assert.equal(assignPieces(input({ pieceCount: 4, canTakeOrigin: false })).origin, undefined);
    assert.equal(assignPieces(input({ pieceCount: 4, originInFlight: [0, 1, 2, 3] })).origin, undefined);
    assert.equal(
      assignPieces(input({ pieceCount: 2, holders: everyPiece(2, ['a']), parents: {} })).origin,
      undefined,
    );
  });

  it('gives two requesters deciding one after the other disjoint ranges', () => {
    const originInFlight: number[] = [];
    const first = assignPieces(input({ pieceCount: 10, requester: 'r1', originInFlight }));
    assert.deepEqual(first.origin, { first: 0, count: 4 });
    for (let i = first.origin.first; i < first.origin.first + first.origin.count; i++) originInFlight.push(i);
    const second = assignPieces(input({ pieceCount: 10, requester: 'r2', originInFlight }));
    assert.deepEqual(second.origin, { first: 4, count: 4 });
  });
});

// ---- properties ----

const POOL = ['me', 'a', 'b', 'c', 'd', 'e'] as const;

const subsetOf = <T>(items: readonly T[]) => fc.subarray([...items]);

const scenarioArb = fc.integer({ min: 1, max: 24 }).chain((pieceCount) => {
  const pieceIndex = fc.integer({ min: 0, max: pieceCount - 1 });
  return fc.record({
    pieceCount: fc.constant(pieceCount),
    have: fc.uniqueArray(pieceIndex, { maxLength: pieceCount }),
    inFlight: fc.uniqueArray(pieceIndex, { maxLength: pieceCount }),
    originInFlight: fc.uniqueArray(pieceIndex, { maxLength: pieceCount }),
    holders: fc.array(subsetOf(POOL), { minLength: pieceCount, maxLength: pieceCount }),
    parents: fc.dictionary(
      fc.constantFrom(...POOL),
      fc.record({
        freeSlots: fc.integer({ min: 0, max: 3 }),
        uploadSlots: fc.integer({ min: 3, max: 6 }),
        speed: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 1000 })),
        labels: fc.record({ zone: fc.constantFrom('z1', 'z2'), rack: fc.constantFrom('r1', 'r2') }),
      }),
    ),
    want: fc.integer({ min: 0, max: 12 }),
    canTakeOrigin: fc.boolean(),
    originRangePieces: fc.integer({ min: 1, max: 6 }),
    labels: fc.record({ zone: fc.constantFrom('z1', 'z2'), rack: fc.constantFrom('r1', 'r2') }),
  });
});

function checkInvariants(s: Scenario & { holders: readonly (readonly string[])[] }): void {
  const assignInput = input({ ...s, holders: Object.fromEntries(s.holders.map((h, i) => [i, h])) });
  const out = assignPieces(assignInput);
  // The free-parents shortcut searches elsewhere and may pick other parents, under the same rules.
  const viaFree = assignPieces(
    input({ ...s, holders: Object.fromEntries(s.holders.map((h, i) => [i, h])), freeParents: true }),
  );
  assert.deepEqual(viaFree.origin, out.origin);
  checkOutput(s, assignInput, out);
  checkOutput(s, assignInput, viaFree);
}

function checkOutput(
  s: Scenario & { holders: readonly (readonly string[])[] },
  assignInput: AssignInput,
  out: AssignOutput,
): void {
  const me = assignInput.requester;
  const eligibleParent = (id: string) => id !== me.id && assignInput.parent(id) !== undefined;

  // Peer pieces.
  const seen = new Set<number>();
  const used = new Map<string, number>();
  for (const { index, parent } of out.pieces) {
    assert.ok(Number.isInteger(index) && index >= 0 && index < s.pieceCount, `index ${index} in range`);
    assert.ok(!seen.has(index), `piece ${index} assigned twice`);
    seen.add(index);
    assert.ok(!me.has(index), `piece ${index} is already had`);
    assert.ok(!me.inFlight.has(index), `piece ${index} is already in flight`);
    assert.notEqual(parent, me.id, 'requester is its own parent');
    assert.ok(assignInput.parent(parent), `parent ${parent} is not eligible`);
    assert.ok([...assignInput.holdersOf(index)].includes(parent), `parent ${parent} does not hold ${index}`);
    used.set(parent, (used.get(parent) ?? 0) + 1);
  }
  assert.ok(out.pieces.length <= Math.max(0, me.want), 'more pieces than wanted');
  for (const [parent, n] of used) {
    assert.ok(n <= freeSlotsOf(assignInput.parent(parent)!), `parent ${parent} over its free slots`);
  }

  // Rarest first, ties by index: the output is in that order, and any piece left out
  // (though a parent with a slot to spare holds it) ranks after everything assigned and want is met.
  const rank = (i: number) => [assignInput.holderCount(i), i] as const;
  const before = (x: number, y: number) => {
    const [cx, ix] = rank(x);
    const [cy, iy] = rank(y);
    return cx < cy || (cx === cy && ix < iy);
  };
  for (let k = 1; k < out.pieces.length; k++) {
    assert.ok(before(out.pieces[k - 1]!.index, out.pieces[k]!.index), 'not in rarest-first order');
  }
  for (let i = 0; i < s.pieceCount; i++) {
    if (me.has(i) || me.inFlight.has(i) || seen.has(i)) continue;
    const spare = [...assignInput.holdersOf(i)].some(
      (h) => eligibleParent(h) && freeSlotsOf(assignInput.parent(h)!) - (used.get(h) ?? 0) > 0,
    );
    if (!spare) continue;
    assert.equal(out.pieces.length, me.want, `piece ${i} left out although want is not met`);
    for (const p of out.pieces) assert.ok(before(p.index, i), `piece ${i} outranks assigned ${p.index}`);
  }

  // Back-to-source.
  const originable = (i: number) =>
    !me.has(i) && !me.inFlight.has(i) && assignInput.holderCount(i) === 0 && !assignInput.originInFlight(i);
  const lowest = Array.from({ length: s.pieceCount }, (_, i) => i).find(originable);
  if (!me.canTakeOrigin || lowest === undefined) {
    assert.equal(out.origin, undefined);
    return;
  }
  assert.ok(out.origin, 'an origin range was available but not taken');
  const { first, count } = out.origin;
  assert.equal(first, lowest, 'not the lowest run');
  assert.ok(count >= 1 && count <= assignInput.originRangePieces, `count ${count} out of bounds`);
  assert.ok(first + count <= s.pieceCount, 'range past the end');
  for (let i = first; i < first + count; i++) {
    assert.ok(originable(i), `origin piece ${i} is had, in flight or held`);
    assert.ok(!seen.has(i), `piece ${i} assigned from both a peer and the origin`);
  }
  // The run is as long as allowed: it stops at the limit, the end, or a piece that cannot be taken.
  const next = first + count;
  assert.ok(count === assignInput.originRangePieces || next === s.pieceCount || !originable(next));
}

describe('assignPieces: properties', () => {
  it('satisfies every invariant for random holders, bitfields and slots', () => {
    fc.assert(
      fc.property(scenarioArb, (s) => checkInvariants(s)),
      { numRuns: 400 },
    );
  });

  it('gives requesters deciding in turn disjoint origin ranges', () => {
    const arb = fc.integer({ min: 1, max: 40 }).chain((pieceCount) =>
      fc.record({
        pieceCount: fc.constant(pieceCount),
        originRangePieces: fc.integer({ min: 1, max: 8 }),
        haves: fc.array(fc.uniqueArray(fc.integer({ min: 0, max: pieceCount - 1 })), {
          minLength: 2,
          maxLength: 5,
        }),
      }),
    );
    fc.assert(
      fc.property(arb, ({ pieceCount, originRangePieces, haves }) => {
        const originInFlight: number[] = [];
        haves.forEach((have, n) => {
          const out = assignPieces(
            input({ pieceCount, requester: `r${n}`, have, originInFlight, originRangePieces }),
          );
          if (!out.origin) return;
          for (let i = out.origin.first; i < out.origin.first + out.origin.count; i++) {
            assert.ok(!originInFlight.includes(i), `piece ${i} handed to the origin twice`);
            originInFlight.push(i);
          }
        });
      }),
      { numRuns: 300 },
    );
  });
});
