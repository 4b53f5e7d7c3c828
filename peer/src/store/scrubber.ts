import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { Logger } from '@shoal/telemetry';
import type { BlobStore } from './blob-store.ts';
import { BlockChecksummer } from './check-blocks.ts';

export interface ScrubberOptions {
  store: BlobStore;
  /** Bytes read per second at most (the I/O budget). */
  bytesPerSecond: number;
  /** A blob is hashed again this long after its last check at the earliest. */
  reverifyAfterMs?: number;
  /** With nothing due, how long to wait before looking again. */
  idleMs?: number;
  logger: Logger;
  onBytes?: (bytes: number) => void;
  now?: () => number;
  /** Waits `ms`, or rejects once `signal` aborts. */
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
}

const READ_CHUNK = 1024 * 1024;
const DAY_MS = 24 * 60 * 60 * 1000;

/** How long to wait after reading `bytes` in `tookMs` so the reading stays within `bytesPerSecond`. */
export function pauseAfter(bytes: number, tookMs: number, bytesPerSecond: number): number {
  return Math.max(0, (bytes / bytesPerSecond) * 1000 - tookMs);
}

/**
 * Re-hashes cached blobs in the background, the one verified longest ago
 * first, within an I/O budget: disk rot in a blob nobody requests is found
 * and the blob evicted before a peer or a Range client reads it. After a
 * restart every blob is due (nothing is known verified yet).
 */
export function startScrubber(options: ScrubberOptions): { stop(): Promise<void> } {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms, signal) => sleepFor(ms, undefined, { signal }));
  const reverifyAfterMs = options.reverifyAfterMs ?? DAY_MS;
  const idleMs = options.idleMs ?? 60_000;
  const stopping = new AbortController();
  const buffer = Buffer.allocUnsafeSlow(READ_CHUNK);

  async function scrubOne(digest: Parameters<BlobStore['markVerified']>[0], size: number): Promise<void> {
    const file = await open(options.store.paths.blob(digest), 'r').catch(async (error: Error) => {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      // Indexed, but its file is gone.
      if (options.store.sizeOf(digest) === size)
        await options.store.discardCorrupt(digest, 'scrub', 'no file');
      return undefined;
    });
    if (!file) return;
    const hash = createHash('sha256');
    const blocks = new BlockChecksummer();
    let done = 0;
    try {
      for (;;) {
        const started = now();
        const { bytesRead } = await file.read(buffer, 0, buffer.length, done);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        blocks.feed(buffer.subarray(0, bytesRead));
        done += bytesRead;
        options.onBytes?.(bytesRead);
        await sleep(pauseAfter(bytesRead, now() - started, options.bytesPerSecond), stopping.signal);
      }
    } finally {
      await file.close();
    }
    // Evicted (or replaced) while it was read: what was read says nothing about what is there now.
    if (options.store.sizeOf(digest) !== size) return;
    const actual = `sha256:${hash.digest('hex')}`;
    if (actual === digest && done === size) {
      options.store.markVerified(digest);
      blocks.end();
      await options.store.recordCheckBlocks(digest, blocks.sums());
    } else await options.store.discardCorrupt(digest, 'scrub', `read ${done} bytes hashing to ${actual}`);
  }

  async function run(): Promise<void> {
    while (!stopping.signal.aborted) {
      const due = options.store.leastRecentlyVerified(now() - reverifyAfterMs);
      try {
        if (due) await scrubOne(due.digest, due.size);
        else await sleep(idleMs, stopping.signal);
      } catch (error) {
        if (stopping.signal.aborted) return;
        options.logger.warn({ err: { message: (error as Error).message } }, 'scrub read failed');
        await sleep(idleMs, stopping.signal).catch(() => {});
      }
    }
  }

  const running = run();
  return {
    async stop() {
      stopping.abort();
      await running;
    },
  };
}
