import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PullLog } from '../src/pulls/pull-log.ts';
import { FROM_DISK, FROM_ORIGIN, FROM_OTHER_PEERS, SourceTally } from '../src/task/source-tally.ts';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const IMAGE = 'registry.example:5000/team/app';

function clock() {
  let now = 1_000;
  return { now: () => now, tick: () => now++ };
}

describe('pull log: where each blob of a recent pull came from', () => {
  it('reads a download live, by source, and a cache hit as the cache', () => {
    const time = clock();
    const log = new PullLog({ now: time.now });
    log.manifest(IMAGE, 'v1');
    log.manifest(IMAGE, B);
    const tally = new SourceTally();
    let size: number | undefined;
    log.blob(IMAGE, A, { download: tally, size: () => size });
    time.tick();
    log.blob(IMAGE, B, { cached: 300 });
    let [pull] = log.view();
    assert.equal(pull!.reference, 'v1', 'the tag names the pull, not the digest asked for next');
    assert.equal(pull!.blobs[1]!.size, undefined);
    size = 1000;
    tally.add(FROM_ORIGIN, 200);
    tally.add('peer-x', 500);
    tally.add(FROM_DISK, 300);
    [pull] = log.view();
    assert.deepEqual(
      pull!.blobs.map((b) => [b.digest, b.size, b.bytes]),
      [
        [B, 300, { origin: 0, cache: 300, local: 0, peers: {} }],
        [A, 1000, { origin: 200, cache: 0, local: 300, peers: { 'peer-x': 500 } }],
      ],
    );
    assert.deepEqual(pull!.totals, { origin: 200, cache: 300, local: 300, peers: { 'peer-x': 500 } });
  });

  it('keeps a downloaded blob as downloaded when a client asks again and the cache answers', () => {
    const log = new PullLog({ now: clock().now });
    const tally = new SourceTally();
    tally.add('peer-y', 64);
    log.blob(IMAGE, A, { download: tally, size: () => 64 });
    log.blob(IMAGE, A, { cached: 64 });
    const blob = log.view()[0]!.blobs[0]!;
    assert.equal(blob.requests, 2);
    assert.deepEqual(blob.bytes, { origin: 0, cache: 0, local: 0, peers: { 'peer-y': 64 } });
    // A later download (the blob was evicted) is what the blob came from then.
    const again = new SourceTally();
    again.add(FROM_ORIGIN, 64);
    log.blob(IMAGE, A, { download: again, size: () => 64 });
    assert.equal(log.view()[0]!.blobs[0]!.bytes.origin, 64);
  });

  it('forgets the least recently pulled images and blobs beyond its bounds', () => {
    const time = clock();
    const log = new PullLog({ now: time.now, maxImages: 2, maxBlobs: 2 });
    for (const image of ['r/one', 'r/two', 'r/three']) {
      time.tick();
      log.manifest(image, 'latest');
    }
    log.blob('r/two', A, { cached: 1 });
    assert.deepEqual(
      log.view().map((p) => p.image),
      ['r/two', 'r/three'],
    );
    for (const digest of [A, B, `sha256:${'c'.repeat(64)}`]) log.blob('r/two', digest, { cached: 1 });
    assert.deepEqual(
      log.view()[0]!.blobs.map((b) => b.digest[7]),
      ['c', 'b'],
    );
  });
});

describe('source tally', () => {
  it('counts peers one by one up to a bound, then together', () => {
    const tally = new SourceTally();
    for (let i = 0; i < 70; i++) tally.add(`peer-${i}`, 10);
    tally.add('peer-0', 5);
    tally.add(FROM_ORIGIN, 0);
    const entries = new Map(tally.entries());
    assert.equal(entries.size, 65);
    assert.equal(entries.get('peer-0'), 15);
    assert.equal(entries.get(FROM_OTHER_PEERS), 60);
    assert.equal(entries.has(FROM_ORIGIN), false);
    assert.equal(tally.total, 705);
  });
});
