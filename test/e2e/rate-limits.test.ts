import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useImageSwarm } from '../fixtures/image-swarm.ts';
import { layeredImage, pushImage } from '../fixtures/images.ts';
import { startRegistry } from '../fixtures/registry.ts';
import { startPeer } from '../fixtures/shoal.ts';
import { getBlobOutcome, type Swarm } from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;
const BLOB_BYTES = 24 * MiB;
const DOWNLOAD_RATE = 8 * MiB;
/** the scheduler's piece size for a blob of this size */
const PIECE_BYTES = 2 * MiB;
/** The peer's default download slots per blob (--download-slots). */
const DOWNLOAD_SLOTS = 6;

describe('a peer with --download-rate takes pieces from the swarm at that rate', { timeout: 180_000 }, () => {
  const setup = useImageSwarm({
    layerBytes: [BLOB_BYTES],
    salt: 'rate-limits',
    repo: 'rate/app',
    count: 2,
    peer: (index) => (index === 1 ? { extraArgs: ['--download-rate', String(DOWNLOAD_RATE)] } : {}),
  });

  it('pulls a cached blob from its fellow, intact, no faster than its rate', async () => {
    const swarm = setup.swarm;
    const [parent, child] = swarm.peers as [Swarm['peers'][0], Swarm['peers'][0]];
    // The layer: a tar of one 24 MiB file, a little larger than the file.
    const layer = setup.layer;
    assert.equal(await getBlobOutcome(parent, 'rate/app', layer), 'exact');
    const originBytes = swarm.proxy.bytesDown;

    const started = performance.now();
    assert.equal(await getBlobOutcome(child, 'rate/app', layer), 'exact');
    const seconds = (performance.now() - started) / 1000;

    // The origin answers the size lookup only (headers); every piece comes from the parent.
    const fromOrigin = swarm.proxy.bytesDown - originBytes;
    assert.ok(fromOrigin < 64 * 1024, `${fromOrigin} bytes from the origin`);
    assert.equal(await child.metric('shoal_pieces_total', { result: 'origin' }), 0);
    assert.equal(
      await child.metric('shoal_pieces_total', { result: 'ok' }),
      Math.ceil(layer.size / PIECE_BYTES),
    );
    // Pieces from one parent share kept streams: at most one opened per download slot in use.
    const opened = await child.metric('shoal_piece_streams_total', { stream: 'opened' });
    const reused = await child.metric('shoal_piece_streams_total', { stream: 'reused' });
    assert.equal(opened + reused, Math.ceil(layer.size / PIECE_BYTES));
    assert.ok(reused > 0 && opened <= DOWNLOAD_SLOTS, `${opened} streams opened, ${reused} reused`);
    // The limiter lets a first burst through (100 ms of the rate, at least 256 KiB); the rest waits for it.
    const floor = (layer.size - DOWNLOAD_RATE / 10 - 256 * 1024) / DOWNLOAD_RATE;
    assert.ok(seconds >= floor, `${layer.size} bytes in ${seconds.toFixed(2)} s at ${DOWNLOAD_RATE} bytes/s`);
  });
});

describe('a peer without a scheduler holds --download-rate against the origin', { timeout: 120_000 }, () => {
  it('takes a blob from the origin no faster than its rate, intact', async () => {
    const origin = 'registry.invalid:5000';
    const registry = await startRegistry();
    const peer = await startPeer({
      defaultRegistry: origin,
      endpoints: { [origin]: registry.url },
      extraArgs: ['--download-rate', String(DOWNLOAD_RATE)],
    });
    try {
      const image = await layeredImage([BLOB_BYTES], 'rate-limits-origin');
      await pushImage(registry.url, 'rate/origin', 'v1', image);
      const layer = image.blobs.reduce((a, b) => (a.size >= b.size ? a : b));
      const started = performance.now();
      assert.equal(await getBlobOutcome(peer, 'rate/origin', layer), 'exact');
      const seconds = (performance.now() - started) / 1000;
      assert.equal(await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' }), layer.size);
      const floor = (layer.size - DOWNLOAD_RATE / 10 - 256 * 1024) / DOWNLOAD_RATE;
      assert.ok(
        seconds >= floor,
        `${layer.size} bytes in ${seconds.toFixed(2)} s at ${DOWNLOAD_RATE} bytes/s`,
      );
    } finally {
      await peer.stop();
      await registry.stop();
    }
  });
});
