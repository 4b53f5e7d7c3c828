import type { Stream } from '@libp2p/interface';
import { Uint8ArrayList } from 'uint8arraylist';

export class StreamEndedError extends Error {
  readonly code = 'STREAM_ENDED';
  constructor() {
    super('stream closed (EOF)');
    this.name = 'StreamEndedError';
  }
}

export interface FrameReader {
  /** The next whole frame; rejects when the stream ended or sent a frame above the limit. */
  read(options?: { signal?: AbortSignal }): Promise<Uint8ArrayList>;
}

/**
 * Length-prefixed frames of a long-lived message stream, decoded as the bytes
 * arrive: a frame that is already here is returned without further reads of
 * a byte stream (libp2p's lpStream reads each length byte with its own
 * awaited read, three promises a message, which a scheduler handling
 * thousands of messages a second pays for in CPU).
 *
 * A length above `maxFrameBytes` is an error as soon as its prefix arrives.
 * Frames the caller has not read yet are bounded: past `maxQueuedBytes` the
 * stream is paused, so yamux stops granting the sender window, and resumed
 * once the caller has read half of them.
 */
export function createFrameReader(
  stream: Stream,
  limits: { maxFrameBytes: number; maxQueuedBytes: number },
): FrameReader {
  /** bytes of the frame not yet complete (at most one frame's worth: whole ones move to `frames`) */
  const pending = new Uint8ArrayList();
  const frames: Uint8ArrayList[] = [];
  let head = 0;
  let queuedBytes = 0;
  let paused = false;
  let ended = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;

  const notify = () => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  const onMessage = (event: { data: Uint8Array | Uint8ArrayList }) => {
    if (failure) return;
    try {
      pending.append(event.data);
      for (;;) {
        const prefix = framePrefix(pending, limits.maxFrameBytes);
        if (prefix === undefined || pending.byteLength < prefix.bytes + prefix.length) break;
        const frame = pending.sublist(prefix.bytes, prefix.bytes + prefix.length);
        pending.consume(prefix.bytes + prefix.length);
        frames.push(frame);
        queuedBytes += frame.byteLength;
      }
    } catch (error) {
      failure = error as Error;
    }
    if (queuedBytes > limits.maxQueuedBytes && !paused && stream.readStatus === 'readable') {
      paused = true;
      stream.pause();
    }
    notify();
  };
  const onEnd = (event: Event) => {
    ended = true;
    const error = (event as Event & { error?: Error }).error;
    if (error) failure ??= error;
    notify();
  };
  stream.addEventListener('message', onMessage);
  stream.addEventListener('remoteCloseWrite', onEnd);
  stream.addEventListener('close', onEnd);

  return {
    async read(options) {
      for (;;) {
        if (head < frames.length) {
          const frame = frames[head]!;
          frames[head++] = undefined as unknown as Uint8ArrayList;
          if (head === frames.length) {
            frames.length = 0;
            head = 0;
          }
          queuedBytes -= frame.byteLength;
          if (paused && queuedBytes <= limits.maxQueuedBytes / 2) {
            paused = false;
            // Dispatches what waited in the stream, which may queue frames again at once.
            if (stream.readStatus === 'paused') stream.resume();
          }
          return frame;
        }
        if (failure) throw failure;
        if (ended) throw new StreamEndedError();
        options?.signal?.throwIfAborted();
        await new Promise<void>((resolve, reject) => {
          const signal = options?.signal;
          const onAbort = () => reject(signal!.reason);
          signal?.addEventListener('abort', onAbort, { once: true });
          wake = () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
        });
      }
    },
  };
}

export class FrameError extends Error {
  readonly code = 'FRAME_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'FrameError';
  }
}

/** The unsigned-varint length prefix at the start of `bytes`; undefined until all of it has arrived. */
function framePrefix(bytes: Uint8ArrayList, max: number): { bytes: number; length: number } | undefined {
  let length = 0;
  for (let i = 0; ; i++) {
    if (i >= bytes.byteLength) return undefined;
    if (i >= 5) throw new FrameError('frame length varint too long');
    const byte = bytes.get(i);
    length += (byte & 0x7f) * 2 ** (7 * i);
    if ((byte & 0x80) === 0) {
      if (length > max) throw new FrameError(`frame of ${length} bytes exceeds the ${max} byte limit`);
      return { bytes: i + 1, length };
    }
  }
}
