import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HolderRing } from '../src/state/holder-ring.ts';

function ring(...ids: string[]): HolderRing {
  const holders = new HolderRing();
  for (const id of ids) holders.add(id);
  return holders;
}

describe('HolderRing', () => {
  it('starts the next search after leading holders passed over, without reordering them', () => {
    const holders = ring('a', 'b', 'c', 'd');
    holders.passOver('a');
    holders.passOver('b');
    assert.deepEqual([...holders], ['c', 'd', 'a', 'b']);
    // A holder passed over behind the start (the search met a free one first) moves nothing.
    holders.passOver('d');
    assert.deepEqual([...holders], ['c', 'd', 'a', 'b']);
    holders.passOver('c');
    holders.passOver('d');
    assert.deepEqual([...holders], ['a', 'b', 'c', 'd']);
  });

  it('keeps its start on the same holder when others are removed', () => {
    const holders = ring('a', 'b', 'c', 'd');
    holders.passOver('a');
    holders.passOver('b');
    assert.equal(holders.delete('a'), true);
    assert.deepEqual([...holders], ['c', 'd', 'b']);
    assert.equal(holders.delete('c'), true);
    assert.deepEqual([...holders], ['d', 'b']);
    assert.equal(holders.delete('c'), false, 'removed already');
    assert.equal(holders.delete('d'), true);
    assert.equal(holders.delete('b'), true);
    assert.deepEqual([...holders], []);
    assert.equal(holders.size, 0);
  });

  it('lists every holder exactly once whatever was added, removed and passed over', () => {
    const op = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 39 }) }),
      fc.record({ remove: fc.integer({ min: 0, max: 39 }) }),
      fc.record({ passOver: fc.integer({ min: 0, max: 39 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const holders = new HolderRing();
        const expected = new Set<string>();
        for (const o of ops) {
          if ('add' in o && !expected.has(`h${o.add}`)) {
            holders.add(`h${o.add}`);
            expected.add(`h${o.add}`);
          } else if ('remove' in o && expected.has(`h${o.remove}`)) {
            // Only holders are removed, as the task does (its bitfields say who holds the piece).
            assert.equal(holders.delete(`h${o.remove}`), true);
            expected.delete(`h${o.remove}`);
            assert.equal(holders.delete(`h${o.remove}`), false);
          } else if ('passOver' in o) {
            holders.passOver(`h${o.passOver}`);
          }
          const listed = [...holders];
          assert.equal(listed.length, expected.size);
          assert.deepEqual(new Set(listed), expected);
          assert.equal(holders.size, expected.size);
          for (const id of expected) assert.ok(holders.has(id));
        }
      }),
    );
  });

  it('a holder removed at the start is stepped over: passing over the first one met still moves the start', () => {
    const holders = ring('a', 'b', 'c');
    holders.delete('a');
    assert.deepEqual([...holders], ['b', 'c']);
    holders.passOver('b');
    assert.deepEqual([...holders], ['c', 'b']);
  });

  it('drops removed holders in one pass once they are many, keeping order and start', () => {
    const ids = Array.from({ length: 100 }, (_, i) => `h${i}`);
    const holders = ring(...ids);
    for (let i = 0; i < 10; i++) holders.passOver(`h${i}`);
    // Removing every third holder triggers compactions along the way.
    const kept = ids.filter((_, i) => i % 3 !== 0);
    for (let i = 0; i < 100; i += 3) assert.equal(holders.delete(`h${i}`), true);
    assert.equal(holders.size, kept.length);
    const fromStart = kept.indexOf('h10');
    assert.deepEqual([...holders], [...kept.slice(fromStart), ...kept.slice(0, fromStart)]);
    // One removed and added back before a compaction is listed once.
    holders.delete('h10');
    holders.add('h10');
    assert.equal([...holders].filter((id) => id === 'h10').length, 1);
    assert.equal(holders.size, kept.length);
  });
});
