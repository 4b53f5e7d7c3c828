import { type FileHandle, open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { ReaderStalledError, type SendBudget, SendClosedError } from '../memory/send-budget.ts';
import type { BufferPool } from '../p2p/buffer-pool.ts';

/** A body read into the caller's buffers, in order: `fill` resolves with the bytes it put in `into`. */
export interface BodySource {
  /** Resolves once the source has bytes to give (a download's next piece); absent: always has. */
  ready?(): Promise<void>;
  fill(into: Buffer): Promise<number>;
  close(): Promise<void>;
}

/**
 * A response body goes out in buffers of this size, at most two per response
 * at once (one being filled while the other drains to the socket), each
 * granted by the node's send budget first. A buffer is given back to the
 * budget once the socket has taken it (the write callback), so a client that
 * does not read pins at most its window, and all of them together at most the
 * budget; under pressure the budget grants less than a buffer, and the body
 * goes on in smaller pieces. Reused buffers keep the data path free of
 * garbage (no fresh pages to fault in, no GC-driven RSS growth).
 */
export const SEND_CHUNK = 1024 * 1024;
const SEND_WINDOW = 2 * SEND_CHUNK;

/** What response bodies are sent with: the node's send budget and the buffers bodies are filled in. */
export interface BodySending {
  budget: SendBudget;
  /** Buffers of SEND_CHUNK bytes. */
  pool: BufferPool;
  /** Buffers of one page of the budget: what a response goes on with under pressure. */
  pages: BufferPool;
}

/** A buffer of exactly `bytes`: a reused one when a pool has that size. */
function bufferFor(sending: BodySending, bytes: number): Buffer {
  if (bytes === sending.pool.size) return sending.pool.take();
  if (bytes === sending.pages.size) return sending.pages.take();
  return Buffer.allocUnsafeSlow(bytes);
}

/** Bytes of a file from `start` on, read at their offset into the caller's buffers. */
export function fileSource(path: string, start: number): BodySource {
  let file: Promise<FileHandle> | undefined;
  let position = start;
  return {
    async fill(into) {
      file ??= open(path, 'r');
      const { bytesRead } = await (await file).read(into, 0, into.length, position);
      position += bytesRead;
      return bytesRead;
    },
    async close() {
      await file?.then(
        (handle) => handle.close(),
        () => {},
      );
    },
  };
}

/**
 * Sends `length` bytes of `source` as the response body through buffers the
 * send budget grants; a buffer is filled again only once the socket has taken
 * it (write callback), which is also the backpressure. A client that takes
 * nothing for the reader timeout is dropped (the budget's sweep destroys the
 * response). Returns false if the client went away. A source error, or a
 * source ending early, destroys the socket so the client never sees a clean
 * end of a short or wrong body. The source is closed in every case.
 */
export async function sendBody(
  res: ServerResponse,
  source: BodySource,
  length: number,
  sending: BodySending,
  onChunk?: (bytes: number) => void,
): Promise<boolean> {
  if (res.destroyed) {
    await source.close();
    return false;
  }
  const sender = sending.budget.open({
    windowBytes: SEND_WINDOW,
    onStall: () => res.destroy(new ReaderStalledError(sending.budget.stallMs)),
  });
  // Open until the response is done or dropped: the last writes still count, and can still stall.
  res.once('close', () => sender.close());
  try {
    let remaining = length;
    while (remaining > 0) {
      if (res.destroyed) return false;
      // Waiting for the source holds no send budget: only a reader that takes nothing counts as stalled,
      // not a download whose next piece is late.
      await source.ready?.();
      if (res.destroyed) return false;
      let grant: number;
      try {
        grant = await sender.acquire(SEND_CHUNK);
      } catch (error) {
        if (error instanceof SendClosedError) return false;
        throw error;
      }
      const buffer = bufferFor(sending, grant);
      const filled = await source.fill(remaining < buffer.length ? buffer.subarray(0, remaining) : buffer);
      if (filled <= 0) throw new Error(`body ended ${remaining} bytes early`);
      if (res.destroyed) return false;
      remaining -= filled;
      onChunk?.(filled);
      res.write(filled === buffer.length ? buffer : buffer.subarray(0, filled), (error) => {
        sender.release(grant);
        if (!error) (buffer.length === sending.pages.size ? sending.pages : sending.pool).give(buffer);
      });
    }
  } catch (error) {
    res.destroy(error as Error);
    throw error;
  } finally {
    // Gone already: nothing more leaves through this response.
    if (res.destroyed) sender.close();
    await source.close();
  }
  res.end();
  return true;
}

/**
 * Writes chunks to a response, waiting for drain when the socket buffer is
 * full. Returns false if the client went away (the source is closed early).
 * A source error destroys the socket, so the client never sees a clean end.
 */
export async function pipeToResponse(
  res: ServerResponse,
  chunks: AsyncIterable<Uint8Array>,
  onChunk?: (bytes: number) => void,
): Promise<boolean> {
  try {
    for await (const chunk of chunks) {
      if (res.destroyed) return false;
      onChunk?.(chunk.length);
      if (!res.write(chunk)) {
        const open = await drainedOrClosed(res);
        if (!open) return false;
      }
    }
  } catch (error) {
    res.destroy(error as Error);
    throw error;
  }
  res.end();
  return true;
}

/** Waits until the response can take more (true) or the client went away (false). */
export function drainedOrClosed(res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const onDrain = () => done(true);
    const onClose = () => done(false);
    const done = (open: boolean) => {
      res.off('drain', onDrain);
      res.off('close', onClose);
      resolve(open);
    };
    res.on('drain', onDrain);
    res.on('close', onClose);
  });
}

/**
 * Drops an upstream response body without reading it. Destroying an undici
 * body before its end emits an 'error' event; that error is expected here, and
 * without a listener it would be an uncaught exception that ends the process.
 */
export function discardBody(body: Readable): void {
  body.on('error', () => {});
  body.destroy();
}

/** Reads a whole (small) body, failing once it passes `limit` bytes. */
export async function readLimited(body: Readable, limit: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const chunk of body) {
    length += (chunk as Buffer).length;
    if (length > limit) {
      discardBody(body);
      throw new RangeError(`body exceeds ${limit} bytes`);
    }
    parts.push(chunk as Buffer);
  }
  return Buffer.concat(parts, length);
}

/** Reads what fits in `limit` for relaying an error body, and discards the rest. */
export async function readForRelay(body: Readable, limit = 64 * 1024): Promise<Buffer> {
  try {
    return await readLimited(body, limit);
  } catch {
    return Buffer.alloc(0);
  }
}
