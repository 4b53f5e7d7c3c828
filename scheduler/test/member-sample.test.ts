import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { sample } from '../src/policy/member-sample.ts';

describe('member sample', () => {
  it('takes min(k, kept) distinct kept items', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 80 }), (n, k) => {
        const items = Array.from({ length: n }, (_, i) => i);
        const got = sample(items, k, (i) => i % 3 !== 0);
        const kept = items.filter((i) => i % 3 !== 0);
        assert.equal(got.length, Math.min(k, kept.length));
        assert.equal(new Set(got).size, got.length);
        for (const item of got) assert.ok(kept.includes(item));
      }),
    );
  });

  it('reaches past the first items: each of 200 is drawn about k/n of the time', () => {
    const counts = new Array(200).fill(0);
    const rounds = 2000;
    for (let r = 0; r < rounds; r++) for (const item of sample(counts.keys(), 20)) counts[item]++;
    // Expected 200 draws each (20/200 of 2000); a uniform sampler stays well within 100..300.
    for (const count of counts) assert.ok(count > 100 && count < 300, `drawn ${count} times`);
  });
});
