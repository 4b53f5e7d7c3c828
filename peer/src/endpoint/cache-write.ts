import { refusedWriteCode } from '../store/blob-store.ts';
import type { EndpointContext } from './context.ts';

/**
 * Caches something already verified and about to be answered anyway: when
 * the data directory refuses the write (read-only, full), the answer still
 * goes out, uncached; the store logs and counts the refusal.
 */
export async function cacheUnlessRefused(ctx: EndpointContext, write: () => Promise<void>): Promise<void> {
  try {
    await write();
  } catch (error) {
    const code = refusedWriteCode(error);
    if (code === undefined) throw error;
    ctx.store.noteRefusedWrite(code);
  }
}
