/**
 * The stripe forest planner: every node fed every stripe by one parent, one root per stripe, no
 * cycles, no parent over its slots while capacity lasts, shallow trees, each stripe entering each
 * rack once, and all of it still true after nodes leave (a property test over random joins and leaves).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ORIGIN, StripeForest } from '../src/policy/stripe-forest.ts';

const ids = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);

/** Checks the forest's invariants over `alive` and returns the deepest node's depth. */
function checkForest(forest: StripeForest, alive: readonly string[], opts: { maxLoad?: number } = {}) {
  const set = new Set(alive);
  let deepest = 0;
  for (let stripe = 0; stripe < forest.stripes; stripe++) {
    let roots = 0;
    for (const id of alive) {
      const parent = forest.parentOf(id, stripe);
      assert.notEqual(parent, undefined, `${id} has no parent in stripe ${stripe}`);
      if (parent === ORIGIN) roots++;
      else {
        assert.ok(set.has(parent!), `${id}'s parent ${parent} is gone`);
        assert.ok(forest.childrenOf(parent!, stripe).has(id), `${parent} does not list ${id}`);
      }
      const depth = forest.depth(id, stripe);
      assert.notEqual(depth, undefined, `${id} does not reach the origin in stripe ${stripe}`);
      deepest = Math.max(deepest, depth!);
    }
    assert.equal(roots, 1, `stripe ${stripe} has ${roots} roots`);
  }
  if (opts.maxLoad !== undefined) {
    for (const id of alive) {
      let load = 0;
      for (let stripe = 0; stripe < forest.stripes; stripe++) load += forest.childrenOf(id, stripe).size;
      assert.ok(load <= opts.maxLoad, `${id} feeds ${load} children`);
    }
  }
  return deepest;
}

describe('StripeForest', () => {
  for (const [nodes, stripes] of [
    [8, 8],
    [64, 8],
    [1000, 8],
    [1000, 4],
  ] as const) {
    it(`${nodes} nodes, ${stripes} stripes: one interior stripe each, slots respected, depth about log_K N`, () => {
      const forest = new StripeForest(stripes, stripes);
      for (const id of ids(nodes)) forest.join(id, 0, true);
      assert.deepEqual(forest.placeWaiting(), [], 'nobody is left waiting once every node joined');
      const deepest = checkForest(forest, ids(nodes), { maxLoad: stripes });
      assert.ok(deepest <= Math.ceil(Math.log(nodes) / Math.log(stripes)) + 2, `depth ${deepest}`);
      for (const id of ids(nodes)) assert.notEqual(forest.interiorOf(id), undefined);
    });
  }

  it('with racks, each stripe enters each rack once and every other edge stays inside a rack', () => {
    const stripes = 8;
    const rackSize = 40;
    const forest = new StripeForest(stripes, stripes);
    // Joined interleaved across racks, as a rollout's nodes open their tasks.
    const order = ids(400).sort(
      (a, b) => ((Number(a.slice(1)) * 7919) % 401) - ((Number(b.slice(1)) * 7919) % 401),
    );
    const rackOf = (id: string) => Math.floor(Number(id.slice(1)) / rackSize);
    for (const id of order) forest.join(id, rackOf(id), true);
    forest.placeWaiting();
    checkForest(forest, ids(400));
    for (let stripe = 0; stripe < stripes; stripe++) {
      let crossing = 0;
      for (const id of ids(400)) {
        const parent = forest.parentOf(id, stripe)!;
        if (parent !== ORIGIN && rackOf(parent) !== rackOf(id)) crossing++;
      }
      assert.equal(crossing, 400 / rackSize - 1, `stripe ${stripe}: ${crossing} edges cross racks`);
    }
  });

  it('a late joiner feeds nobody, and waits for a slot until placeWaiting gives it the least loaded parent', () => {
    const forest = new StripeForest(4, 4);
    for (const id of ids(16)) forest.join(id, 0, true);
    // 4 interior nodes a stripe, 4 slots each, 15 taken: one slot left in each stripe.
    assert.equal(forest.join('late-1', 0, false).length, 4);
    assert.equal(forest.join('late-2', 0, false).length, 0, 'every slot is taken');
    const placed = forest.placeWaiting();
    assert.equal(placed.length, 4);
    assert.ok(placed.every((p) => p.child === 'late-2' && p.parent !== ORIGIN));
    assert.equal(forest.interiorOf('late-2'), undefined);
    checkForest(forest, [...ids(16), 'late-1', 'late-2'], { maxLoad: 5 });
  });

  it('a root that leaves hands its stripe to an heir, and its children get other parents', () => {
    const forest = new StripeForest(4, 4);
    for (const id of ids(32)) forest.join(id, 0, true);
    const root = ids(32).find((id) => forest.parentOf(id, 0) === ORIGIN)!;
    const children = [...forest.childrenOf(root, 0)];
    const placed = forest.leave(root);
    forest.placeWaiting();
    assert.ok(
      placed.some((p) => p.stripe === 0 && p.parent === ORIGIN),
      'a new root for stripe 0',
    );
    for (const child of children) assert.notEqual(forest.parentOf(child, 0), root);
    checkForest(
      forest,
      ids(32).filter((id) => id !== root),
    );
  });

  it('a demoted node feeds nobody any more, stays fed itself, and its stripe keeps one root', () => {
    const forest = new StripeForest(4, 4);
    for (const id of ids(32)) forest.join(id, 0, true);
    const root = ids(32).find((id) => forest.parentOf(id, 1) === ORIGIN)!;
    forest.demote(root);
    forest.placeWaiting();
    assert.equal(forest.interiorOf(root), undefined);
    for (let stripe = 0; stripe < 4; stripe++) assert.equal(forest.childrenOf(root, stripe).size, 0);
    assert.notEqual(forest.parentOf(root, 1), ORIGIN);
    checkForest(forest, ids(32));
  });

  it('keeps its invariants over any order of joins and leaves', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 6 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.integer({ min: 0, max: 2 })), {
          minLength: 1,
          maxLength: 80,
        }),
        (stripes, steps) => {
          const forest = new StripeForest(stripes, stripes);
          const alive: string[] = [];
          let next = 0;
          for (const [action, pick, rack] of steps) {
            if (action === 0 || alive.length === 0) {
              const id = `n${next++}`;
              forest.join(id, rack, pick % 5 !== 0);
              alive.push(id);
            } else if (action === 1) {
              forest.demote(alive[pick % alive.length]!);
            } else {
              const [gone] = alive.splice(pick % alive.length, 1);
              forest.leave(gone!);
            }
          }
          forest.placeWaiting();
          // Every stripe has a node passing it on once enough interior nodes joined; otherwise nodes wait.
          const complete = alive.every((id) =>
            Array.from({ length: stripes }, (_, s) => forest.parentOf(id, s)).every((p) => p !== undefined),
          );
          if (complete && alive.length > 0) checkForest(forest, alive);
          for (const id of alive)
            for (let s = 0; s < stripes; s++) {
              const parent = forest.parentOf(id, s);
              if (parent !== undefined && parent !== ORIGIN) assert.ok(alive.includes(parent));
            }
        },
      ),
      { numRuns: 300 },
    );
  });
});
