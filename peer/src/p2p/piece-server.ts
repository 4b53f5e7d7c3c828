import { open } from 'node:fs/promises';
import type { Connection, Stream } from '@libp2p/interface';
import { byteStream } from '@libp2p/utils';
import { type Digest, isDigest } from '@shoal/oci';
import { frame, readFrameOrEnd, type ShoalNode, sendWithBackpressure } from '@shoal/p2p';
import {
  MAX_PIECE_SIZE,
  MIN_PIECE_SIZE,
  PIECE_PROTOCOL,
  PIECE_PROTOCOL_SEQUENTIAL,
  PieceRequest,
  PieceResponse,
  PieceStatus,
  pieceLayout,
  pieceLength,
  pieceSizeFor,
  pieceStart,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import { ReaderStalledError, type SendBudget, SendClosedError, type Sender } from '../memory/send-budget.ts';
import type { BlobStore } from '../store/blob-store.ts';
import { type RecordedPieceCheck, recordedPieceCheck } from '../store/recorded-piece-check.ts';
import type { BlobTask } from '../task/blob-task.ts';
import { BufferPool } from './buffer-pool.ts';
import type { RateLimiter } from './rate-limiter.ts';

export interface PieceServerOptions {
  node: ShoalNode;
  store: BlobStore;
  uploadSlots: number;
  limiter: RateLimiter;
  /** The node's memory for bytes on their way to readers, shared with the registry endpoint. */
  budget: SendBudget;
  /** Largest piece size served; a blob's own layout is served whatever its size. */
  maxPieceSize: number;
  logger: Logger;
  /** The running download task of a digest, whose present pieces can be served too (default: none). */
  findTask?: (digest: Digest) => BlobTask | undefined;
  /** A cached manifest's bytes: manifests are content-addressed too and travel as one-piece objects (default: none). */
  findManifest?: (digest: Digest) => Promise<Buffer | undefined>;
  onUpload?: (bytes: number) => void;
  onRequest?: (status: 'ok' | 'busy' | 'not_found' | 'bad_request') => void;
  /** Wraps where each served piece is read from (default: read as located). */
  wrapPiece?: (piece: ServedPiece) => ServedPiece;
}

const SEND_CHUNK = 1024 * 1024;
/**
 * What one stream may hold of the budget: the largest piece served, at least a
 * default (2 MiB) one. An answer that fits is kept until the requester has
 * read it, and its buffers are then reused; a longer one (a huge blob's own
 * layout) gives each buffer up once the muxer has taken it, to the collector.
 */
const MIN_STREAM_WINDOW = 2 * SEND_CHUNK;
/** Idle buffers kept for reuse at most, however many upload slots (32 MiB). */
const MAX_IDLE_BUFFERS = 32;
const REQUEST_TIMEOUT_MS = 10_000;
/** The longest a request for a piece this node is still downloading waits for it, whatever it asks. */
export const MAX_PIECE_WAIT_MS = 60_000;
/** A kept stream with no next request for this long is closed (requesters let theirs go sooner). */
const IDLE_TIMEOUT_MS = 60_000;

/** A buffer an answer was sent from, with the grant of the send budget it holds. */
type HeldBuffer = { buffer: Buffer; grant: number };

/** Where a piece's bytes can be read from on this node. */
export type PieceSource = {
  /** Fills `target` with the blob's bytes from `offset` on. */
  readInto(target: Buffer, offset: number): Promise<void>;
  close(): Promise<void>;
  sha256?: string;
  /** A cached blob's piece: checked against what was recorded when the blob was stored. */
  recorded?: RecordedPieceCheck;
};

/** A piece about to be served: where its bytes are read from, and where it lies in its blob. */
export interface ServedPiece {
  source: PieceSource;
  /** Offset of the piece's first byte in the blob. */
  offset: number;
  length: number;
  blobSize: number;
}

/**
 * Serves pieces of complete and partial blobs over the piece protocols (one
 * request per stream, or requests one after another on a kept stream),
 * within the node's upload slots; answers busy beyond.
 */
export async function startPieceServer(options: PieceServerOptions): Promise<{ active(): number }> {
  let active = 0;
  const pool = new BufferPool(SEND_CHUNK, { maxIdle: Math.min(options.uploadSlots * 4, MAX_IDLE_BUFFERS) });
  const readerTimeoutMs = options.budget.stallMs;
  const streamWindow = Math.max(MIN_STREAM_WINDOW, Math.ceil(options.maxPieceSize / SEND_CHUNK) * SEND_CHUNK);
  const handler = (stream: Stream, connection: Connection) => {
    void serve(stream, connection.remotePeer.toString()).catch((error: Error) => {
      options.logger.debug({ err: error.message }, 'piece request ended with an error');
      stream.abort(error);
    });
  };
  const limits = { maxInboundStreams: Math.max(64, options.uploadSlots * 4) };
  await options.node.handle(PIECE_PROTOCOL_SEQUENTIAL, handler, limits);
  await options.node.handle(PIECE_PROTOCOL, handler, limits);

  /** Answers requests on one stream until the requester closes its side (after one, on the 1.0.0 protocol). */
  async function serve(stream: Stream, requester: string): Promise<void> {
    const sequential = stream.protocol === PIECE_PROTOCOL_SEQUENTIAL;
    const bytes = byteStream(stream, { maxBufferSize: 64 * 1024 });
    // The stream's share of the send budget: a requester that takes none of its answer for the reader timeout is dropped.
    const sender = options.budget.open({
      windowBytes: streamWindow,
      group: requester,
      onStall: () => stream.abort(new ReaderStalledError(readerTimeoutMs)),
    });
    // However the stream ends, its share goes back (buffers of an aborted stream are left to the collector).
    stream.addEventListener('close', () => sender.close(), { once: true });
    /** buffers of the last answer, possibly still queued for encryption */
    let sent: HeldBuffer[] = [];
    /** The requester's side was still open once the last answer was handed over: its end means it read it. */
    let readBeforeEnd = true;
    for (let first = true; ; first = false) {
      // A requester that neither asks nor leaves is timed out.
      const timeoutMs = first ? REQUEST_TIMEOUT_MS : IDLE_TIMEOUT_MS;
      const frameBytes = await readFrameOrEnd(bytes, 1024, { signal: AbortSignal.timeout(timeoutMs) });
      if (frameBytes === undefined) {
        // The requester ended the stream: it read every answer, or never asks again.
        await finish(stream, sent, sender, readBeforeEnd);
        return;
      }
      // A requester asks again only once it has read the whole last answer: its bytes are delivered.
      giveBack(sent.splice(0), sender);
      const answer = await serveOne(stream, PieceRequest.decode(frameBytes), sender);
      sent = answer.buffers;
      readBeforeEnd = stream.remoteWriteStatus === 'writable';
      if (!sequential || answer.status === PieceStatus.badRequest) {
        await finish(stream, sent, sender, readBeforeEnd);
        return;
      }
    }
  }

  /** Answers one request; gives back the pooled buffers the answer's bytes were sent from. */
  async function serveOne(
    stream: Stream,
    request: PieceRequest,
    sender: Sender,
  ): Promise<{ status: number; buffers: HeldBuffer[] }> {
    const respond = async (status: number, message: string) => {
      await sendWithBackpressure(
        stream,
        frame(PieceResponse.encode({ status, length: 0, sha256: new Uint8Array(0), message })),
        { signal: AbortSignal.timeout(readerTimeoutMs) },
      );
      return { status, buffers: [] };
    };
    if (!isDigest(request.digest)) {
      options.onRequest?.('bad_request');
      return respond(PieceStatus.badRequest, 'invalid digest');
    }
    const digest = request.digest as Digest;
    // A piece size of the requester's choosing would make every answer as long as it likes.
    if (request.pieceSize > options.maxPieceSize && request.pieceSize !== ownPieceSize(digest)) {
      options.onRequest?.('bad_request');
      return respond(
        PieceStatus.badRequest,
        `piece size ${request.pieceSize} exceeds this peer's limit of ${options.maxPieceSize} bytes`,
      );
    }
    if (active >= options.uploadSlots) {
      options.onRequest?.('busy');
      return respond(PieceStatus.busy, 'all upload slots in use');
    }
    active++;
    try {
      const located =
        (await locate(digest, request.index, request.pieceSize)) ??
        ((await landed(stream, digest, request))
          ? await locate(digest, request.index, request.pieceSize)
          : undefined);
      const found = located && options.wrapPiece ? options.wrapPiece(located) : located;
      if (!found) {
        options.onRequest?.('not_found');
        return respond(PieceStatus.notFound, 'piece not here');
      }
      try {
        const { source, offset, length, blobSize } = found;
        // An answer within the stream's window is kept until read, for reuse; a longer one is not.
        const keepBytes = Math.ceil(length / options.budget.pageBytes) * options.budget.pageBytes;
        const keep =
          length > 0 &&
          keepBytes <= streamWindow &&
          keepBytes <= options.budget.largestGrant &&
          keepBytes <= options.budget.groupBytes;
        // A kept answer asks for all its memory at once: answers each holding part of theirs while
        // waiting for the rest would wait for one another. One its requester's own share cannot hold
        // is busy at once rather than queued: it would wait behind that requester's other answers, and
        // every answer queued after it (other peers' too) with it, until stopped readers were dropped.
        let prepaid = keep ? sender.tryAcquire(keepBytes) : 0;
        if (keep && prepaid === 0) {
          if (options.budget.groupRoom(sender) < keepBytes) {
            options.onRequest?.('busy');
            return respond(PieceStatus.busy, 'send memory of this requester in use');
          }
          prepaid = await sender.acquire(keepBytes, keepBytes);
        }
        options.onRequest?.('ok');
        const sha256 = source.sha256 ? Buffer.from(source.sha256, 'hex') : new Uint8Array(0);
        // The blob's size lets a requester without a scheduler lay the blob out from this answer alone.
        const header = { status: PieceStatus.ok, length, sha256, message: '', blobSize };
        await sendWithBackpressure(stream, frame(PieceResponse.encode(header)), {
          signal: AbortSignal.timeout(readerTimeoutMs),
        });
        const buffers: HeldBuffer[] = [];
        let check = source.recorded;
        for (let done = 0; done < length; ) {
          await options.limiter.take(Math.min(SEND_CHUNK, length - done));
          const grant = keep ? Math.min(SEND_CHUNK, prepaid) : await sender.acquire(SEND_CHUNK);
          if (keep) prepaid -= grant;
          const buffer = grant === pool.size ? pool.take() : Buffer.allocUnsafeSlow(grant);
          const size = Math.min(grant, length - done);
          const chunk = buffer.subarray(0, size);
          await source.readInto(chunk, offset + done);
          if (check && !(await checkRecordedPiece(request, check, chunk, done + size === length))) {
            check = undefined;
          }
          await sendWithBackpressure(stream, chunk);
          options.onUpload?.(size);
          done += size;
          // The muxer has the bytes: a buffer not kept is left to the collector.
          if (keep) buffers.push({ buffer, grant });
          else sender.release(grant);
        }
        if (prepaid > 0) sender.release(prepaid);
        // Every byte is handed over (the slot is free before the stream closes or the next request comes).
        return { status: PieceStatus.ok, buffers };
      } finally {
        await found.source.close();
      }
    } catch (error) {
      // The stream was dropped while the answer waited for memory.
      if (error instanceof SendClosedError) return { status: PieceStatus.ok, buffers: [] };
      throw error;
    } finally {
      active--;
    }
  }

  /**
   * A request with a wait for a piece this node is downloading: waits (on the upload slot the
   * scheduler gave the requester's lease) until the piece has landed, the download ends, the wait is
   * over or the requester leaves. True when the piece is here now.
   */
  async function landed(stream: Stream, digest: Digest, request: PieceRequest): Promise<boolean> {
    const task = request.waitMs > 0 ? options.findTask?.(digest) : undefined;
    const layout = task?.layout;
    if (!task || !layout || request.index >= layout.count) return false;
    if (request.pieceSize !== 0 && request.pieceSize !== layout.pieceSize) return false;
    const gone = new AbortController();
    const onClose = () => gone.abort();
    stream.addEventListener('close', onClose, { once: true });
    try {
      const wait = AbortSignal.timeout(Math.min(request.waitMs, MAX_PIECE_WAIT_MS));
      return await task.whenPresent(request.index, AbortSignal.any([wait, gone.signal]));
    } finally {
      stream.removeEventListener('close', onClose);
    }
  }

  /** The piece size of the layout this node holds the blob in (a partial's, or the default for its size). */
  function ownPieceSize(digest: Digest): number | undefined {
    const partial = options.findTask?.(digest)?.partial;
    if (partial) return partial.layout.pieceSize;
    const size = options.store.sizeOf(digest);
    return size === undefined ? undefined : pieceSizeFor(size);
  }

  /**
   * Back to the budget, and to the pool when the requester has read these buffers' bytes (`reuse`);
   * otherwise they may still be queued for encryption and are left to the collector.
   */
  function giveBack(buffers: HeldBuffer[], sender: Sender, reuse = true): void {
    for (const { buffer, grant } of buffers) {
      if (reuse) pool.give(buffer);
      sender.release(grant);
    }
  }

  /**
   * Feeds a cached piece's next bytes to its check, before they go out; false once the piece turned
   * out not to be what was recorded. The copy is then dropped here, and the answer still goes out as
   * read: the requester checks every piece against the piece table, strikes this node for it and the
   * scheduler takes it off the task, where a cut-off answer would only look like a busy parent.
   */
  async function checkRecordedPiece(
    request: PieceRequest,
    check: RecordedPieceCheck,
    chunk: Uint8Array,
    last: boolean,
  ): Promise<boolean> {
    try {
      check.feed(chunk);
      if (last) check.end();
      return true;
    } catch (error) {
      const detail = `piece ${request.index}: ${(error as Error).message}`;
      await options.store.discardCorrupt(request.digest as Digest, 'piece', detail);
      return false;
    }
  }

  async function locate(digest: Digest, index: number, pieceSize: number): Promise<ServedPiece | undefined> {
    const task = options.findTask?.(digest);
    const partial = task?.partial;
    const sameLayout = (size: number) => pieceSize === 0 || pieceSize === size;
    // A partial that is closing (its blob just completed) gives no lease: the store has the blob then.
    const lease =
      partial &&
      sameLayout(partial.layout.pieceSize) &&
      index < partial.layout.count &&
      partial.present.has(index)
        ? partial.lease()
        : undefined;
    if (partial && lease) {
      const hash = partial.pieceHashes.get(index);
      return {
        source: {
          readInto: (target, o) => lease.readInto(target, o),
          close: async () => lease.release(),
          ...(hash ? { sha256: hash } : {}),
        },
        offset: pieceStart(partial.layout, index),
        length: pieceLength(partial.layout, index),
        blobSize: partial.layout.size,
      };
    }
    const pin = await options.store.pinChecked(digest);
    if (!pin) {
      const manifest = index === 0 ? await options.findManifest?.(digest) : undefined;
      if (!manifest) return undefined;
      return {
        source: {
          readInto: async (target, offset) => {
            manifest.copy(target, 0, offset, offset + target.length);
          },
          close: async () => {},
        },
        offset: 0,
        length: manifest.length,
        blobSize: manifest.length,
      };
    }
    const valid = pieceSize === 0 || (pieceSize >= MIN_PIECE_SIZE && pieceSize <= MAX_PIECE_SIZE);
    const layout = valid ? pieceLayout(pin.size, pieceSize || undefined) : undefined;
    if (!layout || index >= layout.count) {
      pin.release();
      return undefined;
    }
    const file = await open(pin.path, 'r');
    const record = await options.store.record(digest);
    const offset = pieceStart(layout, index);
    const length = pieceLength(layout, index);
    const recorded =
      record && recordedPieceCheck(record, { index, offset, length, pieceSize: layout.pieceSize });
    return {
      source: {
        async readInto(target, offset) {
          for (let filled = 0; filled < target.length; ) {
            const { bytesRead } = await file.read(target, filled, target.length - filled, offset + filled);
            if (bytesRead === 0) throw new Error('blob file ended early');
            filled += bytesRead;
          }
        },
        async close() {
          await file.close();
          pin.release();
        },
        ...(recorded ? { recorded } : {}),
      },
      offset,
      length,
      blobSize: pin.size,
    };
  }

  /**
   * Closes this side of the stream once the last answer is handed over. The
   * sent bytes are views of `buffers` until they are encrypted, which may be
   * well after send() returned. The requester closes its side only after it
   * read the whole piece, so a stream closed cleanly both ways has delivered
   * every byte: only then are the buffers reused. A requester that ended its
   * side before the answer was handed over (`readBeforeEnd` false) proves
   * nothing: its buffers are not reused. A requester that does not close
   * within the reader timeout is dropped; aborted streams keep their buffers
   * (they are collected).
   */
  async function finish(
    stream: Stream,
    buffers: HeldBuffer[],
    sender: Sender,
    readBeforeEnd: boolean,
  ): Promise<void> {
    await stream.close({ signal: AbortSignal.timeout(readerTimeoutMs) });
    if (stream.status === 'closed') {
      giveBack(buffers, sender, readBeforeEnd);
      return;
    }
    const timer = setTimeout(() => stream.abort(new ReaderStalledError(readerTimeoutMs)), readerTimeoutMs);
    timer.unref();
    stream.addEventListener(
      'close',
      (event) => {
        clearTimeout(timer);
        if (!event.error) giveBack(buffers, sender, readBeforeEnd);
      },
      { once: true },
    );
  }

  return { active: () => active };
}
