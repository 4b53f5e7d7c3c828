import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentMismatches } from '../src/p2p/recent-mismatches.ts';

describe('RecentMismatches', () => {
  it('remembers a digest until its time is up', () => {
    let now = 1_000;
    const memory = new RecentMismatches({ ttlMs: 100, now: () => now });
    assert.equal(memory.has('sha256:a'), false);
    memory.note('sha256:a');
    assert.equal(memory.has('sha256:a'), true);
    assert.equal(memory.has('sha256:b'), false);
    now += 99;
    assert.equal(memory.has('sha256:a'), true);
    now += 1;
    assert.equal(memory.has('sha256:a'), false);
  });

  it('a new mismatch of the same digest starts its time again', () => {
    let now = 0;
    const memory = new RecentMismatches({ ttlMs: 100, now: () => now });
    memory.note('sha256:a');
    now = 90;
    memory.note('sha256:a');
    now = 150;
    assert.equal(memory.has('sha256:a'), true);
  });

  it('keeps at most maxEntries, forgetting the oldest first', () => {
    let now = 0;
    const memory = new RecentMismatches({ ttlMs: 1_000, maxEntries: 2, now: () => now });
    for (const digest of ['sha256:a', 'sha256:b', 'sha256:c']) {
      memory.note(digest);
      now++;
    }
    assert.deepEqual(
      ['sha256:a', 'sha256:b', 'sha256:c'].map((d) => memory.has(d)),
      [false, true, true],
    );
  });
});
