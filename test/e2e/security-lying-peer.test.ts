import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ociLayoutDigests, skopeoCopyToOci, writeRegistriesConf } from '../fixtures/clients.ts';
import { type ImageDescription, layeredImage, pushImage } from '../fixtures/images.ts';
import { type Lie, lyingPeerCommand } from '../fixtures/lying-peer.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import type { RunningPeer } from '../fixtures/shoal.ts';
import {
  type BlobOutcome,
  getBlobOutcome,
  SWARM_ORIGIN,
  type Swarm,
  startSwarm as startSwarmOf,
  stopSwarm,
} from '../fixtures/swarm.ts';

/**
 * A peer that lies (test/fixtures/lying-peer.ts: the real daemon with wrapped parts) in a
 * swarm of honest ones: wrong bytes against a true piece table, and a piece
 * table poisoned to match its wrong bytes (with the liar's own copy wrong too,
 * or right, so that it vouches for the table by completing).
 */

const ORIGIN = SWARM_ORIGIN;
const MiB = 1024 * 1024;
const PIECE_SIZE = MiB;

/** Every outcome of fetching each blob, retried from scratch after a cut-off (as a client that checks digests would). */
async function pullBlobs(peer: RunningPeer, repo: string, image: ImageDescription): Promise<BlobOutcome[][]> {
  return Promise.all(
    image.blobs.map(async (blob) => {
      const outcomes: BlobOutcome[] = [];
      for (let attempt = 0; attempt < 6; attempt++) {
        const outcome = await getBlobOutcome(peer, repo, blob, 120_000);
        outcomes.push(outcome);
        if (outcome !== 'cut') break;
        await sleep(300);
      }
      return outcomes;
    }),
  );
}

function piecesOf(image: ImageDescription): number {
  return image.blobs.reduce((sum, blob) => sum + Math.ceil(blob.size / PIECE_SIZE), 0);
}

interface LyingSwarm extends Swarm {
  liar: RunningPeer;
  honest: RunningPeer[];
}

let registry: RunningRegistry | undefined;
let image: ImageDescription;
let work = '';
const swarms: LyingSwarm[] = [];

/** A swarm whose first peer lies and whose others are honest. */
async function startSwarm(lie: Lie, honestCount: number, liarArgs: string[] = []): Promise<LyingSwarm> {
  const swarm = await startSwarmOf({
    originHost: registry!.host,
    count: honestCount + 1,
    originRate: 200e6,
    schedulerArgs: () => ['--piece-size', String(PIECE_SIZE)],
    peer: (index) =>
      index === 0
        ? { command: lyingPeerCommand(lie), extraArgs: liarArgs }
        : { extraArgs: ['--log-level', 'info'] },
  });
  const [liar, ...honest] = swarm.peers;
  const lying = { ...swarm, liar: liar!, honest };
  swarms.push(lying);
  return lying;
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-liar-'));
  [registry, image] = await Promise.all([startRegistry(), layeredImage([16 * MiB, 8 * MiB], 'liar')]);
  await pushImage(registry.url, 'lies/app', 'v1', image);
});

after(async () => {
  for (const swarm of swarms) await stopSwarm(swarm);
  await registry?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a lying peer in the swarm', { timeout: 300_000 }, () => {
  it('serving wrong bytes: no corrupt byte reaches a client, the liar is blocklisted for the task and then cluster-wide, pieces come from elsewhere', async () => {
    const { scheduler, liar, honest } = await startSwarm('pieces', 3);
    const [first, second, third] = honest as [RunningPeer, RunningPeer, RunningPeer];
    // The liar holds the image first: every piece table entry is true (it came from the origin through it).
    for (const outcomes of await pullBlobs(liar, 'lies/app', image)) assert.deepEqual(outcomes, ['exact']);

    // Two honest peers pull it at once: one with skopeo by tag, one blob by blob.
    const conf = await writeRegistriesConf(join(work, 'registries-pieces.conf'), {
      prefix: ORIGIN,
      mirror: first.host,
    });
    const dest = join(work, 'pieces');
    const [, direct] = await Promise.all([
      skopeoCopyToOci({ image: `${ORIGIN}/lies/app:v1`, destDir: dest, registriesConf: conf }),
      pullBlobs(second, 'lies/app', image),
    ]);
    const layout = await ociLayoutDigests(dest, { verify: true });
    assert.deepEqual(layout.all, [...image.allDigests].sort());
    // Not even a cut-off: a bad piece is caught before it lands, so clients only ever see right bytes.
    for (const outcomes of direct) assert.deepEqual(outcomes, ['exact']);

    const lied = await liar.metric('shoal_piece_requests_served_total', { status: 'ok' });
    assert.ok(lied > 0, 'the liar served pieces');
    const mismatches =
      (await first.metric('shoal_pieces_total', { result: 'mismatch' })) +
      (await second.metric('shoal_pieces_total', { result: 'mismatch' }));
    assert.ok(mismatches >= 1, 'the honest peers caught the bad pieces');
    assert.ok(
      (await scheduler.metric('shoal_scheduler_piece_failures_total', { reason: 'mismatch' })) >= mismatches,
    );
    assert.ok((await scheduler.metric('shoal_scheduler_blocklist_events_total', { scope: 'task' })) >= 1);
    assert.equal(
      await scheduler.metric('shoal_scheduler_blocklist_events_total', { scope: 'cluster' }),
      1,
      'the liar, and only the liar, is blocklisted cluster-wide',
    );
    for (const peer of [first, second]) {
      const landed =
        (await peer.metric('shoal_pieces_total', { result: 'ok' })) +
        (await peer.metric('shoal_pieces_total', { result: 'origin' }));
      assert.ok(landed >= piecesOf(image), 'every piece was fetched again from an honest source');
    }

    // Blocklisted cluster-wide: a newcomer is never sent to the liar, even though it holds every piece.
    for (const outcomes of await pullBlobs(third, 'lies/app', image)) assert.deepEqual(outcomes, ['exact']);
    assert.equal(await third.metric('shoal_pieces_total', { result: 'mismatch' }), 0);
    assert.equal(await liar.metric('shoal_piece_requests_served_total', { status: 'ok' }), lied);
  });

  it('poisoning the piece table: the table is detected and dropped, the liar blocklisted, clients never get a wrong blob', async () => {
    // A slow liar: it is still fetching its share from the origin when the honest peers arrive.
    const { scheduler, liar, honest } = await startSwarm('table', 3, ['--download-rate', String(4 * MiB)]);
    const [first, second, newcomer] = honest as [RunningPeer, RunningPeer, RunningPeer];
    const liarPull = Promise.all(image.blobs.map((blob) => getBlobOutcome(liar, 'lies/app', blob, 120_000)));
    for (let i = 0; i < 100 && (await scheduler.metric('shoal_scheduler_origin_pieces_total')) < 2; i++)
      await sleep(50);
    const pulls = await Promise.all([first, second].map((peer) => pullBlobs(peer, 'lies/app', image)));
    // Pieces that matched the poisoned table may have streamed before the blob failed its digest
    // (or the table was found out): such a response is cut off, never ended cleanly, and the retry is exact.
    for (const outcomes of pulls.flat()) {
      assert.equal(outcomes.at(-1), 'exact', `attempts: ${outcomes.join(', ')}`);
      assert.ok(!outcomes.includes('wrong'), 'never a complete body of wrong bytes');
    }
    // The liar's own client is cut off: its copy never matches the digest.
    assert.deepEqual(
      await liarPull,
      image.blobs.map(() => 'cut'),
    );
    assert.ok(
      (await scheduler.metric('shoal_scheduler_poisoned_tables_total')) >= 1,
      'the table was dropped',
    );
    assert.ok((await scheduler.metric('shoal_scheduler_blocklist_events_total', { scope: 'task' })) >= 1);

    // The table rebuilt from honest reports serves a newcomer at once, without a bad piece.
    for (const outcomes of await pullBlobs(newcomer, 'lies/app', image))
      assert.deepEqual(outcomes, ['exact']);
    assert.equal(await newcomer.metric('shoal_pieces_total', { result: 'mismatch' }), 0);
  });

  it('poisoning the piece table and vouching for it by completing: a client retrying gets the blob from the origin', async () => {
    const { scheduler, liar, honest } = await startSwarm('vouched-table', 2);
    // The liar fetches the image first and completes it: its copy is right, the table it filled is not.
    for (const outcomes of await pullBlobs(liar, 'lies/app', image)) assert.deepEqual(outcomes, ['exact']);
    assert.ok((await scheduler.metric('shoal_scheduler_origin_pieces_total')) >= piecesOf(image));

    // The honest peers' pieces all match the table and the blob fails its digest: the response is cut off,
    // and the retry fetches the blob from the origin alone.
    const pulls = await Promise.all(honest.map((peer) => pullBlobs(peer, 'lies/app', image)));
    for (const outcomes of pulls.flat()) assert.deepEqual(outcomes, ['cut', 'exact']);
    for (const peer of honest) {
      assert.ok((await peer.metric('shoal_verification_failures_total', { kind: 'blob' })) >= 1);
      assert.ok(
        (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' })) >= image.totalBlobBytes,
      );
    }
  });
});
