import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KadDHT } from '@libp2p/kad-dht';
import { createLogger } from '@shoal/telemetry';
import { ContentAnnouncer } from '../src/p2p/announcer.ts';

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const OTHER = `sha256:${'cd'.repeat(32)}`;

/** A stand-in for the DHT that records when each provide started (scheduling logic only). */
function recordingDht() {
  const started = performance.now();
  const provides: { cid: string; atMs: number }[] = [];
  const dht = {
    async *provide(cid: { toString(): string }) {
      provides.push({ cid: cid.toString(), atMs: performance.now() - started });
      // A query that finds nobody: no events.
      yield* [];
    },
  };
  return { dht: dht as unknown as KadDHT, provides };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An announcer over a recording DHT, with downloads running or not as `busy` says. */
function announcerWith(busy: { now: boolean }) {
  const { dht, provides } = recordingDht();
  const announcer = new ContentAnnouncer(
    dht,
    createLogger({ level: 'silent' }),
    () => {},
    () => busy.now,
  );
  return { announcer, provides };
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

  it('an urgent announcement goes out at once, whatever runs', async () => {
    const { announcer, provides } = announcerWith({ now: true });
    announcer.provide(OTHER, { urgent: true });
    await sleep(50);
    assert.equal(provides.length, 1);
    assert.ok(provides[0]!.atMs < 50);
    announcer.stop();
  });
});
