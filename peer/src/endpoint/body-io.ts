import { open } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/** Large reads keep syscalls few; two in flight overlap disk and socket. */
const FILE_CHUNK = 4 * 1024 * 1024;

/** Bytes [start, end] (inclusive) of a file, read ahead one chunk while the previous one is sent. */
export async function* fileRange(path: string, start: number, end: number): AsyncGenerator<Buffer> {
  const file = await open(path, 'r');
  try {
    const readAt = (position: number) => {
      const length = Math.min(FILE_CHUNK, end + 1 - position);
      return file.read(Buffer.allocUnsafe(length), 0, length, position);
    };
    let position = start;
    let next = position <= end ? readAt(position) : undefined;
    while (next) {
      const { bytesRead, buffer } = await next;
      if (bytesRead === 0) throw new Error(`file ${path} ended early`);
      position += bytesRead;
      next = position <= end ? readAt(position) : undefined;
      yield bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
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

function drainedOrClosed(res: ServerResponse): Promise<boolean> {
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
