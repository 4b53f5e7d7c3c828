import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Stream } from '@libp2p/interface';
import { type ByteStream, byteStream, streamPair } from '@libp2p/utils';
import { MAX_MESSAGE_BYTES, PieceRequest } from '@shoal/protocol';
import fc from 'fast-check';
import { Uint8ArrayList } from 'uint8arraylist';
import { FrameError, frame, messageChannel, readFrame } from '../src/index.ts';

/** A ByteStream over fixed bytes that records how much each read asked for; EOF is an Error, as on a real stream. */
function bufferStream(input: Uint8Array): { stream: ByteStream<Stream>; largestRead: () => number } {
  let position = 0;
  let largest = 0;
  const stream = {
    async read(options?: { bytes?: number }) {
      const wanted = options?.bytes ?? input.length - position;
      largest = Math.max(largest, wanted);
      if (position + wanted > input.length) {
        position = input.length;
        throw new Error('unexpected end of stream');
      }
      const out = new Uint8ArrayList(input.subarray(position, position + wanted));
      position += wanted;
      return out;
    },
  } as unknown as ByteStream<Stream>;
  return { stream, largestRead: () => largest };
}

/** Reads the varint prefix the way readFrame does, for the oracle. */
function expectedFrame(input: Uint8Array, max: number): Uint8Array | 'reject' | 'too-long' {
  let length = 0;
  let offset = 0;
  for (let shift = 0; ; shift += 7) {
    if (shift > 28) return 'too-long';
    if (offset >= input.length) return 'reject';
    const byte = input[offset++]!;
    length += (byte & 0x7f) * 2 ** shift;
    if ((byte & 0x80) === 0) break;
  }
  if (length > max) return 'too-long';
  if (offset + length > input.length) return 'reject';
  return input.subarray(offset, offset + length);
}

const maxLength = fc.oneof(fc.nat({ max: 64 }), fc.constantFrom(1024, 4096, MAX_MESSAGE_BYTES));
/** Arbitrary bytes, real frames, frames cut short and varints claiming huge lengths. */
const wireBytes = fc.oneof(
  fc.uint8Array({ maxLength: 200 }),
  fc.uint8Array({ maxLength: 200 }).map((payload) => frame(payload)),
  fc
    .tuple(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.nat())
    .map(([payload, cut]) => frame(payload).subarray(0, cut % (payload.length + 1))),
  fc
    .tuple(fc.array(fc.integer({ min: 0x80, max: 0xff }), { maxLength: 6 }), fc.nat({ max: 0x7f }))
    .map(([continued, last]) => Uint8Array.from([...continued, last])),
);

async function withDeadline<T>(what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

describe('fuzzing frame readers', () => {
  it('readFrame returns exactly the framed bytes or rejects with an Error, never reading past max', async () => {
    await fc.assert(
      fc.asyncProperty(wireBytes, maxLength, async (input, max) => {
        const { stream, largestRead } = bufferStream(input);
        const expected = expectedFrame(input, max);
        let result: Uint8Array | undefined;
        try {
          result = await readFrame(stream, max);
        } catch (error) {
          assert.ok(error instanceof Error, String(error));
        }
        if (typeof expected === 'string') assert.equal(result, undefined);
        else assert.deepEqual(result, expected);
        // One varint byte at a time, then at most `max` bytes: no allocation from a claimed length.
        assert.ok(largestRead() <= Math.max(1, max), `asked for ${largestRead()} with max ${max}`);
      }),
      { numRuns: 3000 },
    );
  });

  it('readFrame round-trips frames up to max and refuses longer ones with FrameError', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 5000 }), fc.nat({ max: 6000 }), async (payload, max) => {
        const { stream } = bufferStream(frame(payload));
        if (payload.length <= max) assert.deepEqual(await readFrame(stream, max), payload);
        else await assert.rejects(readFrame(stream, max), FrameError);
      }),
      { numRuns: 2000 },
    );
  });

  it('on real streams: a huge length claim is refused at once, a truncated frame ends with an Error', async () => {
    await fc.assert(
      fc.asyncProperty(wireBytes, fc.boolean(), async (input, closeAfter) => {
        const [outbound, inbound] = await streamPair({ delay: 0 });
        try {
          outbound.send(input);
          if (closeAfter) await outbound.close();
          const expected = expectedFrame(input, 1024);
          // An open stream with an incomplete frame waits for more: the caller's signal bounds that.
          const signal = AbortSignal.timeout(closeAfter ? 5000 : 50);
          const outcome = await withDeadline(
            'readFrame',
            6000,
            readFrame(byteStream(inbound), 1024, { signal }).then(
              (bytes) => ({ bytes }),
              (error: unknown) => ({ error }),
            ),
          );
          if ('bytes' in outcome) {
            assert.deepEqual(outcome.bytes, expected);
          } else {
            assert.ok(outcome.error instanceof Error, String(outcome.error));
            if (closeAfter) assert.equal(typeof expected, 'string', `rejected ${outcome.error.message}`);
            // Refused on the prefix alone, whether or not more bytes could follow.
            if (expected === 'too-long')
              assert.ok(outcome.error instanceof FrameError, outcome.error.message);
          }
        } finally {
          outbound.abort(new Error('done'));
          inbound.abort(new Error('done'));
        }
      }),
      { numRuns: 120 },
    );
  });

  it('messageChannel rejects frames above MAX_MESSAGE_BYTES without waiting for their bytes', async () => {
    for (const claimed of [MAX_MESSAGE_BYTES + 1, 100 * 1024 * 1024, 2 ** 34]) {
      const [outbound, inbound] = await streamPair({ delay: 0 });
      // Only the length prefix and a few bytes: the claimed body never comes.
      const varint: number[] = [];
      for (let rest = claimed; ; rest = Math.floor(rest / 0x80)) {
        if (rest < 0x80) {
          varint.push(rest);
          break;
        }
        varint.push((rest % 0x80) | 0x80);
      }
      outbound.send(Uint8Array.from([...varint, 1, 2, 3]));
      const channel = messageChannel(inbound, PieceRequest, PieceRequest);
      await withDeadline(
        `a ${claimed} byte claim`,
        3000,
        assert.rejects(channel.read(), (error: unknown) => error instanceof Error),
      );
      outbound.abort(new Error('done'));
      inbound.abort(new Error('done'));
    }
  });

  it('messageChannel decodes or rejects arbitrary bytes with an Error', async () => {
    await fc.assert(
      fc.asyncProperty(wireBytes, async (input) => {
        const [outbound, inbound] = await streamPair({ delay: 0 });
        try {
          outbound.send(input);
          await outbound.close();
          const channel = messageChannel(inbound, PieceRequest, PieceRequest);
          await withDeadline(
            'messageChannel.read',
            5000,
            channel.read().then(
              (message) => assert.equal(typeof message.digest, 'string'),
              (error: unknown) => assert.ok(error instanceof Error, String(error)),
            ),
          );
        } finally {
          outbound.abort(new Error('done'));
          inbound.abort(new Error('done'));
        }
      }),
      { numRuns: 150 },
    );
  });
});
