import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { xsalsa20 } from '@noble/ciphers/salsa.js';
import fc from 'fast-check';
import { XSalsa20Stream } from '../src/xsalsa20-stream.ts';

describe('XSalsa20 as a stream', () => {
  it('XORs chunks of any length and alignment as one call over their concatenation would', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.uint8Array({ minLength: 24, maxLength: 24 }),
        fc.array(fc.tuple(fc.nat(700), fc.nat(3)), { maxLength: 12 }),
        (key, nonce, chunks) => {
          const stream = new XSalsa20Stream(key, nonce);
          const inputs = chunks.map(([length, offset]) => randomBytes(length + offset).subarray(offset));
          const outputs = inputs.map((input) => {
            const before = Buffer.from(input);
            const output = stream.update(input);
            assert.deepEqual(Buffer.from(input), before, 'the input is left as it was');
            return output;
          });
          const whole = Buffer.concat(inputs);
          assert.deepEqual(Buffer.concat(outputs), Buffer.from(xsalsa20(key, nonce, whole)));
        },
      ),
      { numRuns: 300 },
    );
  });

  it('deciphers what it enciphered, across megabytes in uneven chunks', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(24);
    const plain = randomBytes(3 * 1024 * 1024 + 17);
    const sender = new XSalsa20Stream(key, nonce);
    const receiver = new XSalsa20Stream(key, nonce);
    const cipher = [];
    for (let offset = 0; offset < plain.length; offset += 65_521)
      cipher.push(sender.update(plain.subarray(offset, offset + 65_521)));
    const all = Buffer.concat(cipher);
    assert.notDeepEqual(all.subarray(0, 64), plain.subarray(0, 64));
    const back = [];
    for (let offset = 0; offset < all.length; offset += 4099)
      back.push(receiver.update(all.subarray(offset, offset + 4099)));
    assert.deepEqual(Buffer.concat(back), plain);
  });

  it('refuses keys and nonces of the wrong length', () => {
    assert.throws(() => new XSalsa20Stream(new Uint8Array(16), new Uint8Array(24)), /key must be 32 bytes/);
    assert.throws(() => new XSalsa20Stream(new Uint8Array(32), new Uint8Array(8)), /nonce must be 24 bytes/);
  });
});
