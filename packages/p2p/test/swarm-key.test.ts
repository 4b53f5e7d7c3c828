import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeSwarmKey } from '../src/swarm-key.ts';

const HEX = 'dffb7e3135399a8b1612b2aaca1c36a3a8ac2cd0cca51ceeb2ced87d308cac6d';

describe('swarm key file', () => {
  it('reads the libp2p v1 format, with or without a final newline, LF or CRLF, either case', () => {
    const expected = Uint8Array.from(Buffer.from(HEX, 'hex'));
    for (const text of [
      `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}`,
      `/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\n`,
      `/key/swarm/psk/1.0.0/\r\n/base16/\r\n${HEX.toUpperCase()}\r\n`,
    ]) {
      assert.deepEqual(decodeSwarmKey(new TextEncoder().encode(text), 'swarm.key'), expected);
    }
  });

  it('names the file and what is wrong', () => {
    const cases: [string, RegExp][] = [
      ['', /first line/],
      [`/key/swarm/psk/2.0.0/\n/base16/\n${HEX}`, /first line/],
      [`/key/swarm/psk/1.0.0/\n/base64/\n${HEX}`, /second line is not \/base16\//],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}`, /64 hex digits/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX.slice(2)}zz`, /64 hex digits/],
      [`/key/swarm/psk/1.0.0/\n/base16/\n${HEX}\nmore`, /text after the key/],
    ];
    for (const [text, why] of cases) {
      assert.throws(
        () => decodeSwarmKey(text, '/etc/shoal/swarm.key'),
        (error: Error) => {
          assert.match(error.message, /^\/etc\/shoal\/swarm\.key: not a swarm key/);
          assert.match(error.message, why);
          return true;
        },
      );
    }
  });
});
