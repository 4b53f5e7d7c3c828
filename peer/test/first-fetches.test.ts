import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adjacentRuns } from '../src/task/fetch-first.ts';
import { FirstFetches } from '../src/task/first-fetches.ts';

describe('fetching a range first', () => {
  it('groups missing pieces into runs of adjacent pieces', () => {
    assert.deepEqual(adjacentRuns([]), []);
    assert.deepEqual(adjacentRuns([3, 4, 5, 9, 11, 12]), [
      { first: 3, count: 3 },
      { first: 9, count: 1 },
      { first: 11, count: 2 },
    ]);
  });

  it('claims each piece once, and the gate opens when the last claim ends', async () => {
    const fetches = new FirstFetches();
    assert.deepEqual(fetches.claim([1, 2]), [1, 2]);
    assert.deepEqual(fetches.claim([2, 3]), [3]);
    assert.deepEqual(fetches.claim([1, 3]), [], 'all taken: no claim');
    assert.equal(fetches.active, true);
    let passed = false;
    const waiting = fetches.yieldTo(60_000).then(() => {
      passed = true;
    });
    fetches.release([1, 2]);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(passed, false, 'one claim still runs');
    fetches.release([3]);
    await waiting;
    assert.equal(fetches.active, false);
    assert.deepEqual(fetches.claim([2]), [2], 'released pieces can be claimed again');
  });

  it('does not hold the in-order streams longer than its bound', async () => {
    const fetches = new FirstFetches();
    fetches.claim([7]);
    const started = performance.now();
    await fetches.yieldTo(30);
    assert.ok(performance.now() - started >= 25);
  });

  it('merges written bytes into intervals and answers how far they reach', () => {
    const fetches = new FirstFetches();
    fetches.noteWritten(100, 50);
    fetches.noteWritten(200, 10);
    assert.equal(fetches.writtenEnd(120), 150);
    assert.equal(fetches.writtenEnd(150), 150, 'the end itself is not written');
    assert.equal(fetches.writtenEnd(99), 99);
    fetches.noteWritten(150, 50);
    assert.equal(fetches.writtenEnd(100), 210, 'adjacent intervals join');
    fetches.clear();
    assert.equal(fetches.writtenEnd(120), 120);
  });
});
