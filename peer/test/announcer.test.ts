import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KadDHT } from '@libp2p/kad-dht';
import { blobCid } from '@shoal/p2p';
import { createLogger } from '@shoal/telemetry';
import { ContentAnnouncer } from '../src/p2p/announcer.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;
const THIRD = `sha256:${'ef'.repeat(32)}`;

/** A stand-in for the DHT that records when each provide started (scheduling logic only). */
function recordingDht() {
  const started = performance.now();
  const provides: { cid: string; atMs: number }[] = [];
  const withdrawals: string[] = [];
  const dht = {
    async *provide(cid: { toString(): string }) {
      provides.push({ cid: cid.toString(), atMs: performance.now() - started });
      // A query that finds nobody: no events.
      yield* [];
    },
    async cancelReprovide(cid: { toString(): string }) {
      withdrawals.push(cid.toString());
    },
  };
  return { dht: dht as unknown as KadDHT, provides, withdrawals };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An announcer over a recording DHT, with downloads running or not as `busy` says. */
function announcerWith(busy: { now: boolean }) {
  const { dht, provides, withdrawals } = recordingDht();
  const announcer = new ContentAnnouncer(
    dht,
    createLogger({ level: 'silent' }),
    () => {},
    () => busy.now,
  );
  return { announcer, provides, withdrawals };
}

describe('ContentAnnouncer', { timeout: 30_000 }, () => {
  it('an announcement made while downloads run waits until none has run for 2 s', async () => {
    const busy = { now: true };
    const { announcer, provides } = announcerWith(busy);
    announcer.provide(DIGEST);
    await sleep(1_000);
    assert.equal(provides.length, 0, 'nothing while a download runs');
    busy.now = false;
    await sleep(1_000);
    assert.equal(provides.length, 0, 'nothing within 2 s of the last download');
    await sleep(1_800);
    assert.equal(provides.length, 1);
    assert.ok(provides[0]!.atMs >= 2_900, `announced at ${provides[0]!.atMs} ms`);
    announcer.stop();
  });

  it('a download starting within the quiet time (a manifest served, its blobs asked for) puts it off again', async () => {
    const busy = { now: false };
    const { announcer, provides } = announcerWith(busy);
    announcer.provide(DIGEST);
    await sleep(300);
    busy.now = true;
    await sleep(2_500);
    assert.equal(provides.length, 0);
    busy.now = false;
    await sleep(3_000);
    assert.equal(provides.length, 1);
    announcer.stop();
  });

  it('a busy node completing and evicting blobs keeps one intent per digest waiting, the latest', async () => {
    const busy = { now: true };
    const { announcer, provides, withdrawals } = announcerWith(busy);
    // Thousands of downloads over three digests while the node never rests.
    for (let i = 0; i < 3_000; i++) {
      announcer.provide(DIGEST);
      announcer.withdraw(DIGEST);
      announcer.provide(OTHER);
      announcer.withdraw(THIRD);
    }
    assert.equal(announcer.queued, 3, 'one per digest, however many calls');
    busy.now = false;
    for (let waited = 0; announcer.queued > 0 && waited < 10_000; waited += 100) await sleep(100);
    await sleep(100);
    assert.deepEqual(
      provides.map((p) => p.cid),
      [blobCid(OTHER).toString()],
      'OTHER was last provided; DIGEST was withdrawn last',
    );
    assert.deepEqual(withdrawals.sort(), [blobCid(DIGEST).toString(), blobCid(THIRD).toString()].sort());
    assert.equal(announcer.queued, 0);
    announcer.stop();
  });

  it('an urgent announcement goes out at once, whatever runs', async () => {
    const { announcer, provides } = announcerWith({ now: true });
    announcer.provide(OTHER, { urgent: true });
    await sleep(50);
    assert.equal(provides.length, 1);
    assert.ok(provides[0]!.atMs < 50);
    announcer.stop();
  });
});
