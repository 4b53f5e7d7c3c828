import type { Readable } from 'node:stream';

/** Bytes of a body read before a discarded one is cut off instead (its connection closed). */
const DISCARD_LIMIT = 64 * 1024;

/** Throws the body away without waiting for it; a large body closes its connection instead of being read. */
export function discardBody(body: Readable): void {
  const dumpable = body as Readable & { dump?: (opts: { limit: number }) => Promise<void> };
  if (typeof dumpable.dump === 'function') {
    dumpable.dump({ limit: DISCARD_LIMIT }).catch(() => {});
  } else {
    body.on('error', () => {});
    body.destroy();
  }
}

/** The whole body, or undefined (and the body destroyed) once it grows past `limit` bytes. */
export async function readBodyLimited(body: Readable, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of body) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    total += buffer.byteLength;
    if (total > limit) {
      // undici's body emits an error when destroyed before its end: expected, not a crash.
      body.on('error', () => {});
      body.destroy();
      return undefined;
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
}
