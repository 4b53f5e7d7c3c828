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
    assert.equal(holders.delete('x'), false);
    assert.equal(holders.delete('d'), true);
    assert.equal(holders.delete('b'), true);
    assert.deepEqual([...holders], []);
    assert.equal(holders.size, 0);
  });

  it('lists every holder exactly once whatever was added, removed and passed over', () => {
    const op = fc.oneof(
      fc.record({ add: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ remove: fc.integer({ min: 0, max: 9 }) }),
      fc.record({ passOver: fc.integer({ min: 0, max: 9 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
        const holders = new HolderRing();
        const expected = new Set<string>();
        for (const o of ops) {
          if ('add' in o && !expected.has(`h${o.add}`)) {
            holders.add(`h${o.add}`);
            expected.add(`h${o.add}`);
          } else if ('remove' in o) {
            assert.equal(holders.delete(`h${o.remove}`), expected.delete(`h${o.remove}`));
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
});
