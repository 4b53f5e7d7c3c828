import type { TLSSocket } from 'node:tls';
import { atTurnEnd } from './turn-end.ts';

/** Writes at least this large go out at once: they fill TLS records on their own. */
export const COALESCE_BELOW_BYTES = 16 * 1024;

/**
 * Makes the small writes a TLS socket gets in one turn of the event loop go out
 * together: one TLS record and one socket write at the end of the turn instead
 * of one each.
 *
 * yamux writes a frame as two writes (its 12-byte header, then the payload) and
 * answers every data frame it receives with a window-update frame of its own.
 * A scheduler answering thousands of small messages paid a record, an
 * encryption and a syscall for each of those pieces: a fifth of its CPU while
 * a rollout's reports arrived together. A write of `COALESCE_BELOW_BYTES` or
 * more first sends what is waiting, then goes out at once as before, so bulk
 * transfers are not held back. Order is kept; backpressure is the socket's own
 * (write() still returns false above its high-water mark).
 */
export function coalesceSmallWrites(socket: TLSSocket): void {
  let corked = false;
  const flush = () => {
    if (!corked) return;
    corked = false;
    socket.uncork();
  };
  const write = socket.write;
  // The instance's own write: libp2p's TLS message stream calls socket.write for every buffer.
  socket.write = function coalescingWrite(this: TLSSocket, ...args: Parameters<TLSSocket['write']>) {
    const chunk = args[0];
    const size = typeof chunk === 'string' ? Buffer.byteLength(chunk) : (chunk as Uint8Array).byteLength;
    if (size >= COALESCE_BELOW_BYTES) {
      flush();
    } else if (!corked) {
      corked = true;
      socket.cork();
      // After the turn's batched messages are written (turn-end.ts), so they share the record.
      atTurnEnd('release', flush);
    }
    return write.apply(this, args);
  } as TLSSocket['write'];
}
