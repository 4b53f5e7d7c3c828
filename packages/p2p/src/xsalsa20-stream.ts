import { xsalsa20 } from '@noble/ciphers/salsa.js';

const BLOCK = 64;
/** noble counts blocks in 32 bits and refuses the last value: this many blocks per key and nonce. */
const MAX_BLOCKS = 2 ** 32 - 1;

export class KeystreamExhaustedError extends Error {
  readonly code = 'KEYSTREAM_EXHAUSTED';
  constructor() {
    super(`XSalsa20 keystream exhausted after ${MAX_BLOCKS} blocks of 64 bytes (256 GiB); reconnect`);
    this.name = 'KeystreamExhaustedError';
  }
}

/**
 * One direction of an XSalsa20 stream: chunks of any length are XORed with
 * the keystream where the previous chunk left off, as one call over their
 * concatenation would. The keystream comes from @noble/ciphers (plain
 * JavaScript, no state shared between instances); whole blocks are computed
 * in place in a fresh output buffer laid out 4-byte aligned, which is
 * noble's fast path.
 */
export class XSalsa20Stream {
  readonly #key: Uint8Array;
  readonly #nonce: Uint8Array;
  /** keystream of the block in use; its bytes from #used on are still unused */
  readonly #block = new Uint8Array(BLOCK);
  #used = BLOCK;
  /** the next block to compute */
  #counter = 0;

  constructor(key: Uint8Array, nonce: Uint8Array) {
    if (key.length !== 32) throw new RangeError(`XSalsa20 key must be 32 bytes, not ${key.length}`);
    if (nonce.length !== 24) throw new RangeError(`XSalsa20 nonce must be 24 bytes, not ${nonce.length}`);
    this.#key = Uint8Array.from(key);
    this.#nonce = Uint8Array.from(nonce);
  }

  /** `data` XOR the next `data.length` bytes of keystream, in a new buffer (`data` is not touched). */
  update(data: Uint8Array): Uint8Array {
    const length = data.length;
    const fromBlock = Math.min(BLOCK - this.#used, length);
    const wholeBlocks = Math.floor((length - fromBlock) / BLOCK);
    const tail = length - fromBlock - wholeBlocks * BLOCK;
    if (this.#counter + wholeBlocks + (tail > 0 ? 1 : 0) > MAX_BLOCKS) throw new KeystreamExhaustedError();
    // The whole blocks start 4-byte aligned in the backing buffer.
    const shift = (4 - (fromBlock % 4)) % 4;
    const output = new Uint8Array(length + shift).subarray(shift);
    output.set(data);
    for (let i = 0; i < fromBlock; i++) output[i]! ^= this.#block[this.#used++]!;
    if (wholeBlocks > 0) {
      const blocks = output.subarray(fromBlock, fromBlock + wholeBlocks * BLOCK);
      xsalsa20(this.#key, this.#nonce, blocks, blocks, this.#counter);
      this.#counter += wholeBlocks;
    }
    if (tail > 0) {
      this.#block.fill(0);
      xsalsa20(this.#key, this.#nonce, this.#block, this.#block, this.#counter++);
      this.#used = 0;
      const start = length - tail;
      for (let i = 0; i < tail; i++) output[start + i]! ^= this.#block[this.#used++]!;
    }
    return output;
  }
}
