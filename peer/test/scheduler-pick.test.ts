import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { pickScheduler } from '../src/p2p/scheduler-pick.ts';

const SCHEDULERS = ['12D3KooWSchedA', '12D3KooWSchedB', '12D3KooWSchedC'];

function randomDigests(n: number): string[] {
  return Array.from({ length: n }, () => `sha256:${randomBytes(32).toString('hex')}`);
}

describe('pickScheduler', () => {
  it('has no answer without schedulers and the only answer with one', () => {
    assert.equal(pickScheduler('sha256:00', []), undefined);
    assert.equal(pickScheduler('sha256:00', ['only']), 'only');
  });

  it('is deterministic and independent of the order schedulers are listed in', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.uniqueArray(fc.string({ minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 6 }),
        fc.nat(),
        (digest, schedulers, seed) => {
          const picked = pickScheduler(digest, schedulers);
          assert.ok(picked !== undefined && schedulers.includes(picked));
          assert.equal(pickScheduler(digest, [...schedulers]), picked);
          const rotated = schedulers.map((_, i) => schedulers[(i + seed) % schedulers.length]!);
          assert.equal(pickScheduler(digest, rotated), picked);
          assert.equal(pickScheduler(digest, [...schedulers].reverse()), picked);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('spreads digests over the schedulers', () => {
    const digests = randomDigests(3000);
    const counts = new Map<string, number>();
    for (const digest of digests) {
      const picked = pickScheduler(digest, SCHEDULERS)!;
      counts.set(picked, (counts.get(picked) ?? 0) + 1);
    }
    for (const id of SCHEDULERS) {
      const share = (counts.get(id) ?? 0) / digests.length;
      assert.ok(share >= 0.2 && share <= 0.47, `${id} owns ${(share * 100).toFixed(1)} %`);
    }
  });

  it('moves only the digests of a scheduler that leaves, and only to the new one when one joins', () => {
    const digests = randomDigests(1000);
    const before = new Map(digests.map((d) => [d, pickScheduler(d, SCHEDULERS)]));
    const gone = SCHEDULERS[1]!;
    const remaining = SCHEDULERS.filter((s) => s !== gone);
    let moved = 0;
    for (const digest of digests) {
      const after = pickScheduler(digest, remaining);
      if (before.get(digest) === gone) {
        moved++;
        assert.ok(after !== undefined && remaining.includes(after));
      } else {
        assert.equal(after, before.get(digest), 'a digest of a remaining scheduler moved');
      }
    }
    assert.ok(moved > 0);

    const joined = [...SCHEDULERS, '12D3KooWSchedD'];
    for (const digest of digests) {
      const after = pickScheduler(digest, joined);
      if (after !== before.get(digest)) assert.equal(after, '12D3KooWSchedD');
    }
  });
});
