import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, afterEach, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { createShoalNode, frame, type ShoalNode } from '@shoal/p2p';
import {
  PeerMessage,
  PIECE_PROTOCOL,
  PIECE_PROTOCOL_SEQUENTIAL,
  PieceRequest,
  PieceResponse,
  PieceStatus,
  SCHEDULER_PROTOCOL,
} from '@shoal/protocol';
import { request } from '../fixtures/http.ts';
import { type BlobDescription, type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { rssOf } from '../fixtures/memory.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, type RunningScheduler, startPeer, startScheduler } from '../fixtures/shoal.ts';

const ORIGIN = 'registry.invalid:5000';
const REPO = 'hostile/small';
const MAX_RSS_BYTES = 400 * 1024 * 1024;
const MiB = 1024 * 1024;

function varint(value: number): number[] {
  const out: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    out.push((rest % 0x80) | 0x80);
    rest = Math.floor(rest / 0x80);
  }
  out.push(rest);
  return out;
}

/** What came back on a stream: its bytes, and how it ended. */
interface Reply {
  bytes: Buffer;
  ended: 'closed' | 'reset' | 'timeout' | 'refused';
}

/** Splits a piece reply into its response header and the raw bytes after it. */
function parsePieceReply(bytes: Buffer): { header: PieceResponse; body: Buffer } {
  let length = 0;
  let offset = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = bytes[offset++];
    assert.ok(byte !== undefined, `reply of ${bytes.length} bytes has no complete frame`);
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  assert.ok(offset + length <= bytes.length, 'reply frame cut short');
  return {
    header: PieceResponse.decode(bytes.subarray(offset, offset + length)),
    body: bytes.subarray(offset + length),
  };
}

describe('the wire protocols survive hostile streams', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let scheduler: RunningScheduler | undefined;
  let peer: RunningPeer | undefined;
  let client: ShoalNode | undefined;
  let image: ImageDescription;
  let blob: BlobDescription;
  let peerAddr = '';
  let schedulerAddr = '';

  /** Opens a stream to a daemon, writes `data`, optionally closes the writable end, and collects the reply. */
  async function exchange(
    target: string,
    protocol: string,
    data: Uint8Array[],
    options: { close?: boolean; waitMs?: number } = {},
  ): Promise<Reply> {
    let stream: Stream;
    try {
      stream = await client!.dialProtocol(multiaddr(target), protocol, {
        maxOutboundStreams: 1024,
        signal: AbortSignal.timeout(15_000),
      });
    } catch {
      return { bytes: Buffer.alloc(0), ended: 'refused' };
    }
    return talk(stream, data, options);
  }

  async function talk(
    stream: Stream,
    data: Uint8Array[],
    { close = true, waitMs = 5_000 }: { close?: boolean; waitMs?: number },
  ): Promise<Reply> {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => stream.abort(new Error('test timeout')), waitMs);
    let ended: Reply['ended'] = 'closed';
    try {
      for (const chunk of data) if (!stream.send(chunk)) await stream.onDrain();
      if (close) await stream.close();
      for await (const chunk of stream) chunks.push(Buffer.from(chunk.subarray()));
      if (stream.status === 'aborted') ended = 'timeout';
    } catch (error) {
      ended = /test timeout/.test((error as Error).message) ? 'timeout' : 'reset';
    } finally {
      clearTimeout(timer);
      if (stream.status === 'open') stream.abort(new Error('done'));
    }
    return { bytes: Buffer.concat(chunks), ended };
  }

  const pieceRequest = (digest: string, index: number) => frame(PieceRequest.encode({ digest, index }));

  before(async () => {
    registry = await startRegistry();
    image = await smallImage('hostile-wire');
    await pushImage(registry.url, REPO, 'v1', image);
    scheduler = await startScheduler();
    peer = await startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry.url },
      schedulers: scheduler.multiaddrs,
    });
    await waitFor(
      'the peer to register',
      async () => (await scheduler!.metric('shoal_scheduler_peers')) === 1,
      {
        timeoutMs: 30_000,
      },
    );
    const info = JSON.parse((await request(`${peer.adminUrl}/api/v1/info`)).body.toString('utf8')) as {
      multiaddrs: string[];
    };
    peerAddr = info.multiaddrs.find((ma) => ma.includes('/ip4/127.0.0.1/')) ?? info.multiaddrs[0]!;
    schedulerAddr =
      scheduler.multiaddrs.find((ma) => ma.includes('/ip4/127.0.0.1/')) ?? scheduler.multiaddrs[0]!;
    // A blob the peer holds, so piece requests can hit and miss it.
    blob = image.blobs.reduce((a, b) => (b.size > a.size ? b : a));
    assert.ok(blob.size < 4 * MiB, 'the blob is one piece');
    const pulled = await request(`${peer.url}/v2/${REPO}/blobs/${blob.digest}`, { timeoutMs: 60_000 });
    assert.equal(pulled.status, 200);
    client = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
  });

  afterEach(async () => {
    // Whatever a test sent, both daemons are alive, answer, and stayed small.
    for (const daemon of [peer!, scheduler!]) {
      assert.equal(daemon.daemon.hasExited, false, `${daemon.daemon.name} exited:\n${daemon.daemon.output}`);
      assert.equal((await request(`${daemon.adminUrl}/healthz`, { timeoutMs: 10_000 })).status, 200);
      const rss = await rssOf(daemon.daemon.pid);
      assert.ok(rss < MAX_RSS_BYTES, `${daemon.daemon.name} RSS ${(rss / MiB).toFixed(0)} MiB`);
    }
    // Hostile sessions are gone: only the real peer is registered.
    await waitFor('the scheduler to count only the real peer', async () => {
      return (await scheduler!.metric('shoal_scheduler_peers')) === 1;
    });
  });

  after(async () => {
    await client?.stop();
    await peer?.stop();
    await scheduler?.stop();
    await registry?.stop();
  });

  for (const [name, protocol] of [
    ['piece', PIECE_PROTOCOL],
    ['kept piece', PIECE_PROTOCOL_SEQUENTIAL],
    ['scheduler', SCHEDULER_PROTOCOL],
  ] as const) {
    const isPiece = protocol !== SCHEDULER_PROTOCOL;
    const target = () => (isPiece ? peerAddr : schedulerAddr);

    it(`${name} stream: random bytes`, async () => {
      for (const size of [1, 100, 64 * 1024, 1024 * 1024]) {
        const reply = await exchange(target(), protocol, [randomBytes(size)]);
        assert.notEqual(reply.ended, 'refused');
      }
    });

    it(`${name} stream: a length prefix claiming 100 MB`, async () => {
      const claim = Uint8Array.from(varint(100 * 1000 * 1000));
      // The claim alone, then the claim followed by a few MB that must not be buffered.
      const alone = await exchange(target(), protocol, [claim], { close: false });
      assert.notEqual(alone.ended, 'timeout', 'the daemon refuses the frame without waiting for its bytes');
      await exchange(target(), protocol, [claim, ...Array.from({ length: 4 }, () => randomBytes(MiB))]);
    });

    it(`${name} stream: a truncated frame, then close`, async () => {
      const body = PeerMessage.encode({
        openTask: { digest: blob.digest, size: 1, bitfield: new Uint8Array(0), want: 1 },
      });
      const whole = frame(body);
      for (const cut of [1, 2, whole.length - 1]) {
        const reply = await exchange(target(), protocol, [whole.subarray(0, cut)]);
        assert.notEqual(reply.ended, 'timeout', `cut at ${cut}: the EOF ends the stream`);
      }
    });

    it(`${name} stream: a valid frame of garbage protobuf`, async () => {
      for (let i = 0; i < 20; i++) {
        await exchange(target(), protocol, [frame(randomBytes(1 + ((i * 37) % 500)))]);
      }
      // Lengths that overrun the message, a field number 0, an unterminated varint.
      for (const garbage of [
        [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f],
        [0x00, 0x01],
        [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        [0x1a, 0x05, 0x12, 0x80],
      ]) {
        await exchange(target(), protocol, [frame(Uint8Array.from(garbage))]);
      }
    });

    it(`${name} stream: 200 streams at once`, async () => {
      const streams = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          exchange(
            target(),
            protocol,
            isPiece ? [pieceRequest(blob.digest, i % 2)] : [randomBytes(8), randomBytes(8)],
            // Half the scheduler streams stay open: those end when the wait does.
            {
              waitMs: isPiece || i % 2 === 0 ? 15_000 : 2_000,
              close: isPiece || i % 2 === 0,
            },
          ),
        ),
      );
      if (isPiece) {
        const statuses = streams
          .filter((r) => r.bytes.length > 0)
          .map((r) => parsePieceReply(r.bytes).header.status);
        assert.ok(statuses.includes(PieceStatus.ok), `statuses: ${statuses.join(',')}`);
        for (const status of statuses) {
          assert.ok(([PieceStatus.ok, PieceStatus.busy, PieceStatus.notFound] as number[]).includes(status));
        }
      }
    });
  }

  it('piece requests for malformed digests answer badRequest', async () => {
    for (const digest of [
      '',
      'garbage',
      `sha512:${'a'.repeat(128)}`,
      `sha256:${'A'.repeat(64)}`,
      `sha256:${'a'.repeat(63)}`,
      `${blob.digest}\u0000`,
      `../../${blob.digest}`,
      'x'.repeat(900),
    ]) {
      const reply = await exchange(peerAddr, PIECE_PROTOCOL, [pieceRequest(digest, 0)]);
      assert.equal(reply.ended, 'closed', digest.slice(0, 40));
      const { header, body } = parsePieceReply(reply.bytes);
      assert.equal(header.status, PieceStatus.badRequest, digest.slice(0, 40));
      assert.equal(body.length, 0);
    }
  });

  it('piece requests for indices past the blob, or blobs not here, answer notFound', async () => {
    for (const [digest, index] of [
      [blob.digest, 1],
      [blob.digest, 4096],
      [blob.digest, 2 ** 32 - 1],
      [`sha256:${'0'.repeat(64)}`, 0],
      [`sha256:${'0'.repeat(64)}`, 2 ** 31],
    ] as const) {
      const reply = await exchange(peerAddr, PIECE_PROTOCOL, [pieceRequest(digest, index)]);
      assert.equal(reply.ended, 'closed');
      const { header, body } = parsePieceReply(reply.bytes);
      assert.equal(header.status, PieceStatus.notFound, `${digest} #${index}`);
      assert.equal(body.length, 0);
    }
  });

  it('scheduler stream: well-formed messages with hostile sizes and counts', async () => {
    const digest = `sha256:${'e'.repeat(64)}`;
    const messages: Uint8Array[] = [
      // A size whose piece table would have millions of entries.
      PeerMessage.encode({ openTask: { digest, size: 2 ** 50, bitfield: new Uint8Array(0), want: 8 } }),
      // A size of 2^64 - 1, more than a number holds exactly: written by hand (field 2, OpenTask).
      Uint8Array.from([0x12, ...varint(openTaskMaxSize(digest).length), ...openTaskMaxSize(digest)]),
      // A holding with one-byte pieces of a 1 GB blob.
      PeerMessage.encode({
        register: {
          addrs: [],
          labels: new Map(),
          uploadSlots: 1,
          uploadRate: 0,
          downloadRate: 0,
          holdings: [{ digest, size: 1e9, pieceSize: 1, bitfield: new Uint8Array(0), complete: true }],
        },
      }),
      // Digests that are no digests.
      PeerMessage.encode({
        openTask: { digest: 'x'.repeat(3 * MiB), size: 1, bitfield: new Uint8Array(0), want: 1 },
      }),
    ];
    // A report (field 3) of two million empty `done` entries (field 2): 4 MB that decode to millions of objects.
    const entries = new Uint8Array(4 * MiB - 16);
    for (let i = 0; i + 1 < entries.length; i += 2) entries[i] = 0x12;
    messages.push(Uint8Array.from([...[0x1a, ...varint(entries.length)], ...entries]));
    const tasksBefore = await scheduler!.metric('shoal_scheduler_tasks');
    for (const message of messages) {
      // Left open: a session the scheduler does not drop lasts until the wait ends.
      await exchange(schedulerAddr, SCHEDULER_PROTOCOL, [frame(message)], { close: false, waitMs: 1_000 });
      const rss = await rssOf(scheduler!.daemon.pid);
      assert.ok(rss < MAX_RSS_BYTES, `scheduler RSS ${(rss / MiB).toFixed(0)} MiB`);
    }
    assert.equal(
      await scheduler!.metric('shoal_scheduler_tasks'),
      tasksBefore,
      'no task state for hostile sizes',
    );
  });

  it('legitimate clients are still served afterwards', async () => {
    // The registry endpoint.
    const base = await request(`${peer!.url}/v2/`);
    assert.equal(base.status, 200);
    const manifest = await request(`${peer!.url}/v2/${REPO}/manifests/v1`, {
      headers: { accept: image.mediaType },
    });
    assert.equal(manifest.status, 200);
    assert.equal(createHash('sha256').update(manifest.body).digest('hex'), image.digest.slice(7));
    // The piece server hands out the whole piece, matching the blob.
    const reply = await exchange(peerAddr, PIECE_PROTOCOL, [pieceRequest(blob.digest, 0)]);
    const { header, body } = parsePieceReply(reply.bytes);
    assert.equal(header.status, PieceStatus.ok);
    assert.equal(header.length, blob.size);
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, blob.digest);
    // The scheduler takes a well-formed registration and forgets it when the stream ends.
    const stream = await client!.dialProtocol(multiaddr(schedulerAddr), SCHEDULER_PROTOCOL);
    stream.send(
      frame(
        PeerMessage.encode({
          register: {
            addrs: client!.getMultiaddrs().map(String),
            labels: new Map([['zone', 'test']]),
            uploadSlots: 4,
            uploadRate: 0,
            downloadRate: 0,
            holdings: [],
          },
        }),
      ),
    );
    await waitFor('the scheduler to count the new peer', async () => {
      return (await scheduler!.metric('shoal_scheduler_peers')) === 2;
    });
    stream.abort(new Error('leaving'));
  });
});

/** An OpenTask (digest, want 8) whose size is the largest varint a uint64 field takes, 2^64 - 1. */
function openTaskMaxSize(digest: string): number[] {
  const name = [...Buffer.from(digest)];
  return [0x0a, ...varint(name.length), ...name, 0x10, ...Array(9).fill(0xff), 0x01, 0x20, 0x08];
}
