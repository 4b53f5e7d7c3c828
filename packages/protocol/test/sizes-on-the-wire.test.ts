import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PeerMessage, PieceResponse, SchedulerMessage } from '../src/index.ts';

/**
 * Every 64-bit field carries a blob size or a rate: each must survive encoding
 * whatever its value, in particular between 2^31 and 2^32 (blobs of 2 to 4 GiB),
 * where a varint writer that keeps the low 32 bits signed writes a broken
 * message the other side cannot decode.
 */
const SIZES = [0, 1, 2 ** 31 - 1, 2 ** 31, 3e9, 2 ** 32 - 1, 2 ** 32, 20e9, Number.MAX_SAFE_INTEGER];
const digest = `sha256:${'e0'.repeat(32)}`;

describe('sizes on the wire', () => {
  for (const size of SIZES) {
    it(`a size of ${size} round-trips in every message that carries one`, () => {
      const open = PeerMessage.decode(
        PeerMessage.encode({ openTask: { digest, size, bitfield: new Uint8Array(0), want: 4 } }),
      );
      assert.equal(Number(open.openTask?.size), size);
      const register = PeerMessage.decode(
        PeerMessage.encode({
          register: {
            addrs: [],
            labels: new Map(),
            uploadSlots: 4,
            uploadRate: size,
            downloadRate: size,
            holdings: [{ digest, size, pieceSize: 0, bitfield: new Uint8Array(0), complete: true }],
          },
        }),
      );
      assert.equal(Number(register.register?.holdings[0]?.size), size);
      assert.equal(Number(register.register?.uploadRate), size);
      assert.equal(Number(register.register?.downloadRate), size);
      const info = SchedulerMessage.decode(
        SchedulerMessage.encode({ taskInfo: { digest, size, pieceSize: 2 ** 21, members: [] } }),
      );
      assert.equal(Number(info.taskInfo?.size), size);
      const answer = PieceResponse.decode(
        PieceResponse.encode({
          status: 0,
          length: 0,
          sha256: new Uint8Array(0),
          message: '',
          blobSize: size,
        }),
      );
      assert.equal(Number(answer.blobSize), size);
    });
  }
});
