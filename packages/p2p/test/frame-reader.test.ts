import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { streamPair } from '@libp2p/utils';
import fc from 'fast-check';
import { createFrameReader, FrameError, frame, StreamEndedError } from '../src/index.ts';

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill);

describe('createFrameReader', () => {
  it('returns every frame in order however the bytes were cut into chunks', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 300 }), { minLength: 1, maxLength: 20 }),
        fc.array(fc.integer({ min: 1, max: 97 }), { minLength: 1, maxLength: 10 }),
        async (messages, cuts) => {
          const [outbound, inbound] = await streamPair({ delay: 0 });
          const reader = createFrameReader(inbound, { maxFrameBytes: 1024, maxQueuedBytes: 1 << 20 });
          const wire = Buffer.concat(messages.map((m) => frame(m)));
          for (let at = 0, i = 0; at < wire.length; i++) {
            const next = Math.min(wire.length, at + cuts[i % cuts.length]!);
            outbound.send(wire.subarray(at, next));
            at = next;
          }
          await outbound.close();
          for (const message of messages) assert.deepEqual((await reader.read()).subarray(), message);
          await assert.rejects(reader.read(), StreamEndedError);
          inbound.abort(new Error('done'));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('rejects a frame above the limit as soon as its length arrives', async () => {
    const [outbound, inbound] = await streamPair({ delay: 0 });
    const reader = createFrameReader(inbound, { maxFrameBytes: 100, maxQueuedBytes: 1000 });
    outbound.send(frame(bytes(101, 1)).subarray(0, 3));
    await assert.rejects(
      reader.read(),
      (error: unknown) => error instanceof FrameError && /101 bytes exceeds/.test(error.message),
    );
    outbound.abort(new Error('done'));
    inbound.abort(new Error('done'));
  });

  it('pauses the stream while unread frames exceed the queue limit and resumes once half are read', async () => {
    const [outbound, inbound] = await streamPair({ delay: 0 });
    const reader = createFrameReader(inbound, { maxFrameBytes: 1000, maxQueuedBytes: 3000 });
    for (let i = 0; i < 8; i++) outbound.send(frame(bytes(1000, i)));
    await nextTurn();
    await nextTurn();
    assert.equal(inbound.readStatus, 'paused');
    for (let i = 0; i < 8; i++) {
      const got = await reader.read();
      assert.deepEqual(got.subarray(), bytes(1000, i), `frame ${i}`);
    }
    assert.equal(inbound.readStatus, 'readable');
    outbound.abort(new Error('done'));
    inbound.abort(new Error('done'));
  });

  it('gives up waiting when its signal aborts', async () => {
    const [outbound, inbound] = await streamPair({ delay: 0 });
    const reader = createFrameReader(inbound, { maxFrameBytes: 100, maxQueuedBytes: 1000 });
    await assert.rejects(reader.read({ signal: AbortSignal.timeout(20) }), /timeout|abort/i);
    outbound.send(frame(bytes(5, 9)));
    assert.deepEqual((await reader.read()).subarray(), bytes(5, 9));
    outbound.abort(new Error('done'));
    inbound.abort(new Error('done'));
  });
});
