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

describe('ContentAnnouncer', { timeout: 30_000 }, () => {
  const logger = createLogger({ level: 'silent' });

  it('an announcement made while downloads run waits until none has run for 2 s', async () => {
    const { dht, provides } = recordingDht();
    let busy = true;
    const announcer = new ContentAnnouncer(
      dht,
      logger,
      () => {},
      () => busy,
    );
    announcer.provide(DIGEST);
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(provides.length, 0, 'nothing while a download runs');
    busy = false;
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(provides.length, 0, 'nothing within 2 s of the last download');
    await new Promise((r) => setTimeout(r, 1_800));
    assert.equal(provides.length, 1);
    assert.ok(provides[0]!.atMs >= 2_900, `announced at ${provides[0]!.atMs} ms`);
    announcer.stop();
  });

  it('a download starting within the quiet time (a manifest served, its blobs asked for) puts it off again', async () => {
    const { dht, provides } = recordingDht();
    let busy = false;
    const announcer = new ContentAnnouncer(
      dht,
      logger,
      () => {},
      () => busy,
    );
    announcer.provide(DIGEST);
    await new Promise((r) => setTimeout(r, 300));
    busy = true;
    await new Promise((r) => setTimeout(r, 2_500));
    assert.equal(provides.length, 0);
    busy = false;
    await new Promise((r) => setTimeout(r, 3_000));
    assert.equal(provides.length, 1);
    announcer.stop();
  });

  it('an urgent announcement goes out at once, whatever runs', async () => {
    const { dht, provides } = recordingDht();
    const announcer = new ContentAnnouncer(
      dht,
      logger,
      () => {},
      () => true,
    );
    announcer.provide(OTHER, { urgent: true });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(provides.length, 1);
    assert.ok(provides[0]!.atMs < 50);
    announcer.stop();
  });
});
