import { framed, varintLength } from './streams.ts';
import { atTurnEnd } from './turn-end.ts';

/** The part of a libp2p stream an outbox writes to. */
export interface OutboxStream {
  send(data: Uint8Array): boolean;
  onDrain(): Promise<void>;
  abort(error: Error): void;
}

export class OutboxOverflowError extends Error {
  readonly code = 'OUTBOX_OVERFLOW';
  constructor(pendingBytes: number, limit: number) {
    super(`peer is not reading: ${pendingBytes} bytes of messages waiting, limit ${limit}`);
    this.name = 'OutboxOverflowError';
  }
}

export interface Outbox<T> {
  /** Queues a message; it goes out with the others queued in the same turn of the event loop. */
  push(message: T): void;
  /** Bytes queued and not yet handed to the stream. */
  readonly pendingBytes: number;
}

/**
 * Length-prefixed messages to one stream, written together.
 *
 * A busy server produces many small messages for one peer in one turn of the
 * event loop; each written on its own costs a yamux frame, a TLS record and a
 * socket write, and awaiting each write costs promises. Here every message
 * queued in a turn goes out as one buffer at the end of the turn, and while
 * the stream waits for drain (send() returned false) messages collect behind
 * it. What waits is bounded: past `limitBytes` the peer is not reading, the
 * stream is aborted with an OutboxOverflowError and later messages are
 * dropped, rather than memory growing without end.
 */
export function createOutbox<T>(
  stream: OutboxStream,
  encode: (message: T) => Uint8Array,
  limitBytes: number,
): Outbox<T> {
  let queued: Uint8Array[] = [];
  let pendingBytes = 0;
  let scheduled = false;
  let waitingForDrain = false;
  let failed = false;

  const flush = (): void => {
    scheduled = false;
    if (failed || waitingForDrain || queued.length === 0) return;
    const batch = framed(queued, pendingBytes);
    queued = [];
    pendingBytes = 0;
    let accepted: boolean;
    try {
      accepted = stream.send(batch);
    } catch (error) {
      fail(error as Error);
      return;
    }
    if (accepted) return;
    waitingForDrain = true;
    stream.onDrain().then(
      () => {
        waitingForDrain = false;
        flush();
      },
      (error: Error) => fail(error),
    );
  };

  const fail = (error: Error): void => {
    if (failed) return;
    failed = true;
    queued = [];
    pendingBytes = 0;
    stream.abort(error);
  };

  return {
    push(message: T): void {
      if (failed) return;
      const bytes = encode(message);
      queued.push(bytes);
      pendingBytes += varintLength(bytes.length) + bytes.length;
      if (pendingBytes > limitBytes) {
        fail(new OutboxOverflowError(pendingBytes, limitBytes));
        return;
      }
      if (!scheduled && !waitingForDrain) {
        scheduled = true;
        atTurnEnd('write', flush);
      }
    },
    get pendingBytes(): number {
      return pendingBytes;
    },
  };
}
