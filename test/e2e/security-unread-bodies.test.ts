import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { createShoalNode, frame, type ShoalNode } from '@shoal/p2p';
import { PIECE_PROTOCOL, PieceRequest, PieceResponse, PieceStatus } from '@shoal/protocol';
import { request } from '../fixtures/http.ts';
import { type BlobDescription, bigLayerImage, type ImageDescription, pushImage } from '../fixtures/images.ts';
import { rssOf, sampleRss } from '../fixtures/memory.ts';
import { establishedTo, waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, type RunningScheduler, startPeer, startScheduler } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';

const ORIGIN = 'registry.invalid:5000';
const REPO = 'unread/big';
const MiB = 1024 * 1024;
/** Short, so the test sees stalled readers dropped; long enough for a whole normal download meanwhile. */
const READER_TIMEOUT_S = 30;
/** What a peer may reach while readers hold on to their answers: well below the 300 MB of the promise. */
const MAX_PEAK_RSS = 250 * MiB;
const STALLED_ADDRESSES = ['127.0.0.2', '127.0.0.3', '127.0.0.4'];
const STALLED_PER_ADDRESS = 200;

const mib = (bytes: number) => `${(bytes / MiB).toFixed(0)} MiB`;

describe('readers that never read hold bounded memory', { timeout: 600_000 }, () => {
  let registry: RunningRegistry | undefined;
  let image: ImageDescription;
  let blob: BlobDescription;

  before(async () => {
    registry = await startRegistry();
    image = await bigLayerImage('unread');
    await pushImage(registry.url, REPO, 'v1', image);
    blob = image.blobs.reduce((a, b) => (b.size > a.size ? b : a));
    assert.ok(blob.size >= 200 * MiB);
  });

  after(async () => {
    await registry?.stop();
  });

  /** A verified GET of the big blob through a peer. */
  async function pullVerified(peer: RunningPeer): Promise<number> {
    const got = await streamGet(`${peer.url}/v2/${REPO}/blobs/${blob.digest}`, { timeoutMs: 180_000 });
    assert.equal(got.status, 200, String(got.error));
    assert.ok(got.complete, `cut off after ${got.bytes} bytes: ${got.error}`);
    assert.equal(got.digest, blob.digest);
    return got.doneMs;
  }

  describe('HTTP clients', () => {
    let peer: RunningPeer | undefined;
    const sockets: Socket[] = [];

    before(async () => {
      peer = await startPeer({
        defaultRegistry: ORIGIN,
        endpoints: { [ORIGIN]: registry!.url },
        extraArgs: ['--reader-timeout', `${READER_TIMEOUT_S}s`],
      });
      // Cached: every client below is served from disk.
      await pullVerified(peer);
    });

    after(async () => {
      for (const socket of sockets) socket.destroy();
      await peer?.stop();
    });

    it('hundreds of clients from several addresses that never read: bounded memory, others served, stalled ones dropped', async () => {
      const port = Number(new URL(peer!.url).port);
      const baseline = await rssOf(peer!.daemon.pid);
      const rss = sampleRss(peer!.daemon.pid);
      const head = `GET /v2/${REPO}/blobs/${blob.digest} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`;
      await Promise.all(
        STALLED_ADDRESSES.flatMap((localAddress) =>
          Array.from(
            { length: STALLED_PER_ADDRESS },
            () =>
              new Promise<void>((resolve, reject) => {
                // Nothing is ever read: the socket takes what fits its own small buffer and stops.
                const socket = connect({ host: '127.0.0.1', port, localAddress }, () => {
                  socket.write(head);
                  resolve();
                });
                socket.on('error', reject);
                sockets.push(socket);
              }),
          ),
        ),
      );
      const stalledOpen = async () =>
        (await establishedTo(port)).filter((address) => STALLED_ADDRESSES.includes(address)).length;
      const total = STALLED_ADDRESSES.length * STALLED_PER_ADDRESS;
      await waitFor('the peer to hold every stalled connection', async () => (await stalledOpen()) === total);
      // Every answer starts and fills what the peer lets it hold.
      await sleep(2_000);
      const beforeNormal = rss.peak;
      // A client that reads gets the whole blob, right, while the others hang.
      const ms = await pullVerified(peer!);
      assert.equal(
        await stalledOpen(),
        total,
        `the normal download (${ms} ms) ran while all stalled ones were open`,
      );
      // The stalled ones are dropped once they made no progress for the reader timeout.
      await waitFor('the stalled connections to be dropped', async () => (await stalledOpen()) === 0, {
        timeoutMs: (READER_TIMEOUT_S + 30) * 1000,
        intervalMs: 500,
      });
      const peak = await rss.stop();
      console.log(
        `HTTP: ${total} stalled clients; peer RSS ${mib(baseline)} before, peak ${mib(beforeNormal)} before the normal download, ${mib(peak)} overall; normal download ${ms.toFixed(0)} ms`,
      );
      assert.ok(peak < MAX_PEAK_RSS, `peer peak RSS ${mib(peak)}`);
      assert.equal((await request(`${peer!.adminUrl}/healthz`)).status, 200);
      await pullVerified(peer!);
    });
  });

  describe('peers of the swarm', () => {
    let scheduler: RunningScheduler | undefined;
    let peer: RunningPeer | undefined;
    /** The hostile requester, and another peer of the swarm that asks normally meanwhile. */
    let client: ShoalNode | undefined;
    let other: ShoalNode | undefined;
    let peerAddr = '';

    before(async () => {
      scheduler = await startScheduler();
      peer = await startPeer({
        defaultRegistry: ORIGIN,
        endpoints: { [ORIGIN]: registry!.url },
        schedulers: scheduler.multiaddrs,
        // Room for a normal request beside the hostile ones: a stalled stream holds its slot until dropped.
        extraArgs: ['--reader-timeout', `${READER_TIMEOUT_S}s`, '--upload-slots', '32'],
      });
      await pullVerified(peer);
      const info = JSON.parse((await request(`${peer.adminUrl}/api/v1/info`)).body.toString('utf8')) as {
        multiaddrs: string[];
      };
      peerAddr = info.multiaddrs.find((ma) => ma.includes('/ip4/127.0.0.1/')) ?? info.multiaddrs[0]!;
      const node = async () =>
        createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
      client = await node();
      other = await node();
    });

    after(async () => {
      await client?.stop();
      await other?.stop();
      await peer?.stop();
      await scheduler?.stop();
    });

    const dial = (from = client!) =>
      from.dialProtocol(multiaddr(peerAddr), PIECE_PROTOCOL, {
        maxOutboundStreams: 1024,
        signal: AbortSignal.timeout(15_000),
      });
    const ask = (stream: Stream, index: number, pieceSize: number) => {
      stream.send(frame(PieceRequest.encode({ digest: blob.digest, index, pieceSize })));
    };

    /** A whole answer: its header and body, read to the end before the requester closes its side (as peers do). */
    async function fetchPiece(
      index: number,
      pieceSize: number,
      from = client!,
    ): Promise<{ header: PieceResponse; body: Buffer }> {
      const stream = await dial(from);
      ask(stream, index, pieceSize);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.from(chunk.subarray()));
      await stream.close();
      const bytes = Buffer.concat(chunks);
      let length = 0;
      let offset = 0;
      for (let shift = 0; ; shift += 7) {
        const byte = bytes[offset++]!;
        length += (byte & 0x7f) * 2 ** shift;
        if ((byte & 0x80) === 0) break;
      }
      return {
        header: PieceResponse.decode(bytes.subarray(offset, offset + length)),
        body: bytes.subarray(offset + length),
      };
    }

    async function blobSlice(start: number, length: number): Promise<Buffer> {
      const file = await open(blob.path, 'r');
      try {
        const out = Buffer.alloc(length);
        await file.read(out, 0, length, start);
        return out;
      } finally {
        await file.close();
      }
    }

    it('a piece request larger than the piece size is refused', async () => {
      for (const pieceSize of [64 * MiB, 32 * MiB]) {
        const { header, body } = await fetchPiece(0, pieceSize);
        assert.equal(header.status, PieceStatus.badRequest, `${mib(pieceSize)} pieces`);
        assert.match(header.message, /piece size .* exceeds/);
        assert.equal(body.length, 0);
      }
      // The largest piece size allowed is served, and right.
      const { header, body } = await fetchPiece(1, 16 * MiB);
      assert.equal(header.status, PieceStatus.ok);
      assert.ok(body.equals(await blobSlice(16 * MiB, 16 * MiB)), 'piece 1 of 16 MiB matches the blob');
    });

    it('peers that ask for big pieces and never read or never let go: bounded memory, others served, streams dropped', async () => {
      const baseline = await rssOf(peer!.daemon.pid);
      const rss = sampleRss(peer!.daemon.pid);
      const pieceSize = 16 * MiB;
      const pieces = Math.floor(blob.size / pieceSize);
      const ended: Promise<string>[] = [];
      const whenEnded = (stream: Stream) =>
        new Promise<string>((resolve) => {
          if (stream.status !== 'open') resolve(stream.status);
          else stream.addEventListener('close', () => resolve(stream.status), { once: true });
        });
      // Paused: the requester's muxer stops granting window, the peer's sends stop on backpressure.
      for (let i = 0; i < 12; i++) {
        const stream = await dial();
        stream.pause();
        ask(stream, i % pieces, pieceSize);
        ended.push(whenEnded(stream));
      }
      // Takes every byte, never closes its side: the answer is delivered, the stream never ends.
      for (let i = 0; i < 12; i++) {
        const stream = await dial();
        ask(stream, (i + 3) % pieces, pieceSize);
        void (async () => {
          for await (const _ of stream) {
            // discarded
          }
        })().catch(() => {});
        ended.push(whenEnded(stream));
      }
      await sleep(3_000);
      // Meanwhile another peer gets its piece, right, long before the hostile streams are dropped.
      const started = performance.now();
      const normal = await fetchPiece(5, 0, other!);
      const normalMs = performance.now() - started;
      assert.ok(normalMs < (READER_TIMEOUT_S * 1000) / 2, `a normal piece took ${normalMs.toFixed(0)} ms`);
      assert.equal(normal.header.status, PieceStatus.ok, normal.header.message);
      assert.ok(normal.body.equals(await blobSlice(5 * 2 * MiB, 2 * MiB)), 'piece 5 matches the blob');
      // Every hostile stream is let go by the peer within the reader timeout (and some slack).
      const statuses = await Promise.race([
        Promise.all(ended),
        sleep((READER_TIMEOUT_S + 30) * 1000).then(() => undefined),
      ]);
      assert.ok(statuses, 'every hostile stream ended');
      const peak = await rss.stop();
      console.log(
        `pieces: 24 hostile streams of ${mib(pieceSize)} pieces; serving peer RSS ${mib(baseline)} before, peak ${mib(peak)}`,
      );
      assert.ok(peak < MAX_PEAK_RSS, `serving peer peak RSS ${mib(peak)}`);
      // The peer serves as before.
      const again = await fetchPiece(2, pieceSize);
      assert.equal(again.header.status, PieceStatus.ok, again.header.message);
      assert.ok(again.body.equals(await blobSlice(2 * pieceSize, pieceSize)));
      assert.equal(peer!.daemon.hasExited, false);
    });
  });
});
