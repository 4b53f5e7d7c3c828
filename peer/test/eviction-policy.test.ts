import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CacheEntry, chooseEvictions, type Watermarks } from '../src/store/eviction-policy.ts';

const MARKS: Watermarks = { capacity: 1000, high: 0.9, low: 0.5 };

function entry(key: string, size: number, lastAccess: number, pinned = false): CacheEntry {
  return { key, size, lastAccess, pinned };
}

function used(entries: readonly CacheEntry[]): number {
  return entries.reduce((n, e) => n + e.size, 0);
}

describe('chooseEvictions', () => {
  it('evicts nothing at or below the high watermark', () => {
    const entries = [entry('a', 450, 1), entry('b', 450, 2)];
    assert.deepEqual(chooseEvictions(entries, 900, MARKS), []);
    assert.deepEqual(chooseEvictions([], 0, MARKS), []);
  });

  it('evicts least recently used first until usage is at or below the low watermark', () => {
    const entries = [
      entry('new', 300, 30),
      entry('old', 300, 10),
      entry('mid', 300, 20),
      entry('x', 100, 40),
    ];
    // 1000 used: evict old (700), mid (400 <= 500), stop.
    assert.deepEqual(chooseEvictions(entries, used(entries), MARKS), ['old', 'mid']);
  });

  it('stops exactly at the low watermark', () => {
    // Evicting a leaves exactly 500 = capacity × low: b stays.
    const entries = [entry('a', 500, 1), entry('b', 500, 2)];
    assert.deepEqual(chooseEvictions(entries, 1000, MARKS), ['a']);
    // Just above the high watermark is enough to start.
    assert.deepEqual(chooseEvictions([entry('a', 451, 1), entry('b', 450, 2)], 901, MARKS), ['a']);
  });

  it('never chooses pinned entries, even when that leaves usage above the watermarks', () => {
    const entries = [entry('pinned-old', 600, 1, true), entry('a', 200, 2), entry('b', 150, 3)];
    assert.deepEqual(chooseEvictions(entries, used(entries), MARKS), ['a', 'b']);
    const allPinned = [entry('p', 950, 1, true)];
    assert.deepEqual(chooseEvictions(allPinned, 950, MARKS), []);
  });

  it('counts usage it is told about beyond the entries (partials in progress)', () => {
    const entries = [entry('a', 100, 1), entry('b', 100, 2), entry('c', 100, 3)];
    // 300 of blobs plus 650 of partials: evicting everything only reaches 650, so all three go.
    assert.deepEqual(chooseEvictions(entries, 950, MARKS), ['a', 'b', 'c']);
  });

  it('does not modify its input', () => {
    const entries = [entry('b', 600, 2), entry('a', 600, 1)];
    const copy = structuredClone(entries);
    chooseEvictions(entries, 1200, MARKS);
    assert.deepEqual(entries, copy);
  });
});
