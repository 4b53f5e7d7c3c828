import type { Stream } from '@libp2p/interface';
import { type ByteStream, UnexpectedEOFError } from '@libp2p/utils';
import { MAX_MESSAGE_BYTES } from '@shoal/protocol';
import type { Uint8ArrayList } from 'uint8arraylist';
import { createFrameReader, FrameError } from './frame-reader.ts';

/**
 * Sends bytes, waiting for drain whenever the stream's write buffer is full
 * (send() returned false); `signal` bounds that wait (a reader that never
 * reads never drains).
 */
export async function sendWithBackpressure(
  stream: Stream,
  data: Uint8Array | Uint8ArrayList,
  options?: { signal?: AbortSignal },
): Promise<void> {
  if (!stream.send(data)) await stream.onDrain(options);
}

export interface MessageCodec<T> {
  encode(message: T): Uint8Array;
  decode(bytes: Uint8Array | Uint8ArrayList): T;
}

/**
 * Length-prefixed protobuf messages on a long-lived stream, both ways, with a
 * size cap on what is read. Reads reject on oversized frames and when the
 * stream ends; callers treat that as the end of the session or a protocol
 * error and reset the stream.
 */
export function messageChannel<In, Out>(
  stream: Stream,
  incoming: MessageCodec<In>,
  outgoing: MessageCodec<Out>,
) {
  const frames = createFrameReader(stream, {
    maxFrameBytes: MAX_MESSAGE_BYTES,
    maxQueuedBytes: 2 * MAX_MESSAGE_BYTES,
  });
  return {
    async read(options?: { signal?: AbortSignal }): Promise<In> {
      return incoming.decode(await frames.read(options));
    },
    async write(message: Out): Promise<void> {
      await sendWithBackpressure(stream, frame(outgoing.encode(message)));
    },
  };
}

/** Prefixes a message with its unsigned-varint length, as lpStream does. */
export function frame(message: Uint8Array): Uint8Array {
  return framed([message], varintLength(message.length) + message.length);
}

/** The messages, each behind its unsigned-varint length as lpStream reads them, in one buffer. */
export function framed(messages: Uint8Array[], totalBytes: number): Uint8Array {
  const out = new Uint8Array(totalBytes);
  let offset = 0;
  for (const message of messages) {
    let length = message.length;
    while (length >= 0x80) {
      out[offset++] = (length & 0x7f) | 0x80;
      length >>>= 7;
    }
    out[offset++] = length;
    out.set(message, offset);
    offset += message.length;
  }
  return out;
}

/** Bytes of the unsigned varint that encodes `value`. */
export function varintLength(value: number): number {
  let bytes = 1;
  while (value >= 0x80) {
    value >>>= 7;
    bytes++;
  }
  return bytes;
}

/**
 * Reads one length-prefixed frame from a byte stream (which may carry raw
 * bytes after it, as piece responses do). Rejects lengths above `max`.
 */
export async function readFrame(
  bytes: ByteStream<Stream>,
  max: number,
  options?: { signal?: AbortSignal },
): Promise<Uint8Array> {
  const first = (await bytes.read({ bytes: 1, ...options })).get(0);
  return readFrameFrom(first, bytes, max, options);
}

/**
 * As readFrame, but undefined when the stream ends cleanly before the
 * frame's first byte: the end of a stream that carries requests one after
 * another. An end inside a frame still rejects.
 */
export async function readFrameOrEnd(
  bytes: ByteStream<Stream>,
  max: number,
  options?: { signal?: AbortSignal },
): Promise<Uint8Array | undefined> {
  let first: number;
  try {
    first = (await bytes.read({ bytes: 1, ...options })).get(0);
  } catch (error) {
    if (error instanceof UnexpectedEOFError) return undefined;
    throw error;
  }
  return readFrameFrom(first, bytes, max, options);
}

/** The rest of a frame whose first length byte was `first`. */
async function readFrameFrom(
  first: number,
  bytes: ByteStream<Stream>,
  max: number,
  options?: { signal?: AbortSignal },
): Promise<Uint8Array> {
  let length = first & 0x7f;
  for (let shift = 7, byte = first; (byte & 0x80) !== 0; shift += 7) {
    if (shift > 28) throw new FrameError('frame length varint too long');
    byte = (await bytes.read({ bytes: 1, ...options })).get(0);
    length += (byte & 0x7f) * 2 ** shift;
  }
  if (length > max) throw new FrameError(`frame of ${length} bytes exceeds the ${max} byte limit`);
  if (length === 0) return new Uint8Array(0);
  return (await bytes.read({ bytes: length, ...options })).subarray();
}
