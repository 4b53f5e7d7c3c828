import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RecentReferrers } from '../src/endpoint/recent-referrers.ts';

describe('RecentReferrers', () => {
  it('keeps the last answer per key for its keep time', () => {
    let now = 1_000;
    const recent = new RecentReferrers({ keepMs: 60_000, now: () => now });
    const key = RecentReferrers.key('quay.io', 'org/app', 'sha256:aa', undefined);
    const filtered = RecentReferrers.key('quay.io', 'org/app', 'sha256:aa', 'application/spdx+json');
    assert.notEqual(key, filtered, 'a filtered answer is another answer');
    recent.remember(key, { bytes: Buffer.from('one'), filtersApplied: [] });
    recent.remember(key, { bytes: Buffer.from('two'), filtersApplied: [] });
    now += 60_000;
    assert.equal(recent.last(key)?.bytes.toString(), 'two');
    assert.equal(recent.last(key)?.answeredAt, 1_000);
    assert.equal(recent.last(filtered), undefined);
    now += 1;
    assert.equal(recent.last(key), undefined, 'past its keep time');
    assert.equal(recent.bytes, 0);
  });

  it('holds at most maxBytes, dropping the oldest answers first', () => {
    const recent = new RecentReferrers({ maxBytes: 10 });
    recent.remember('a', { bytes: Buffer.alloc(4), filtersApplied: [] });
    recent.remember('b', { bytes: Buffer.alloc(4), filtersApplied: [] });
    recent.remember('c', { bytes: Buffer.alloc(4), filtersApplied: [] });
    assert.equal(recent.last('a'), undefined);
    assert.ok(recent.last('b') && recent.last('c'));
    assert.equal(recent.bytes, 8);
    recent.remember('d', { bytes: Buffer.alloc(11), filtersApplied: [] });
    assert.equal(recent.last('d'), undefined, 'larger than the whole budget: not kept');
    assert.equal(recent.bytes, 8);
  });
});
