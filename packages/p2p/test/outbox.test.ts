import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { streamPair } from '@libp2p/utils';
import { PieceRequest } from '@shoal/protocol';
import { createOutbox, messageChannel, OutboxOverflowError, type OutboxStream } from '../src/index.ts';

const codec = { encode: PieceRequest.encode, decode: PieceRequest.decode };

/** A stream that records each send, refuses more while `full`, and resolves onDrain on demand. */
function recordingStream() {
  const sends: Uint8Array[] = [];
  let drain: (() => void) | undefined;
  const state = { full: false, aborted: undefined as Error | undefined };
  const stream: OutboxStream = {
    send(data) {
      sends.push(data);
      return !state.full;
    },
    onDrain: () => new Promise<void>((resolve) => (drain = resolve)),
    abort(error) {
      state.aborted = error;
    },
  };
  return { stream, sends, state, drain: () => drain?.() };
}

describe('outbox', () => {
  it('writes the messages of one turn as one buffer that the other end reads in order', async () => {
    const [outbound, inbound] = await streamPair();
    const outbox = createOutbox(outbound, PieceRequest.encode, 1 << 20);
    const reader = messageChannel(inbound, codec, codec);
    const sent = Array.from({ length: 50 }, (_, i) => ({ digest: `sha256:${i}`, index: i, pieceSize: 1 }));
    for (const message of sent) outbox.push(message);
    assert.equal(outbox.pendingBytes > 0, true, 'nothing goes out before the turn ends');
    for (const message of sent) {
      const got = await reader.read();
      assert.equal(got.digest, message.digest);
      assert.equal(got.index, message.index);
    }
    assert.equal(outbox.pendingBytes, 0);
  });

  it('sends once per turn and holds later messages until the stream drains', async () => {
    const { stream, sends, state, drain } = recordingStream();
    const outbox = createOutbox(stream, PieceRequest.encode, 1 << 20);
    outbox.push({ digest: 'a', index: 1, pieceSize: 1 });
    outbox.push({ digest: 'b', index: 2, pieceSize: 1 });
    await nextTurn();
    assert.equal(sends.length, 1, 'two messages of one turn, one send');
    state.full = true;
    outbox.push({ digest: 'c', index: 3, pieceSize: 1 });
    await nextTurn();
    assert.equal(sends.length, 2);
    outbox.push({ digest: 'd', index: 4, pieceSize: 1 });
    outbox.push({ digest: 'e', index: 5, pieceSize: 1 });
    await nextTurn();
    assert.equal(sends.length, 2, 'nothing is sent while the stream waits for drain');
    assert.ok(outbox.pendingBytes > 0);
    state.full = false;
    drain();
    await nextTurn();
    assert.equal(sends.length, 3, 'what waited goes out together after the drain');
    assert.equal(outbox.pendingBytes, 0);
    assert.equal(state.aborted, undefined);
  });

  it('aborts the stream and drops further messages once the peer falls too far behind', async () => {
    const { stream, sends, state } = recordingStream();
    const outbox = createOutbox(stream, PieceRequest.encode, 200);
    state.full = true;
    outbox.push({ digest: 'first', index: 0, pieceSize: 1 });
    await nextTurn();
    for (let i = 0; i < 20; i++) outbox.push({ digest: `waiting-${i}`, index: i, pieceSize: 1 });
    assert.ok(state.aborted instanceof OutboxOverflowError);
    assert.equal(outbox.pendingBytes, 0, 'what waited is released');
    outbox.push({ digest: 'late', index: 99, pieceSize: 1 });
    await nextTurn();
    assert.equal(sends.length, 1);
    assert.equal(outbox.pendingBytes, 0);
  });

  it('aborts the stream when a send throws', async () => {
    const { stream, state } = recordingStream();
    const failure = new Error('stream closed');
    const outbox = createOutbox(
      {
        ...stream,
        send() {
          throw failure;
        },
      },
      PieceRequest.encode,
      1 << 20,
    );
    outbox.push({ digest: 'a', index: 1, pieceSize: 1 });
    await nextTurn();
    assert.equal(state.aborted, failure);
  });
});
