import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { multiaddrConnectionPair } from '@libp2p/utils';
import { type Keystream, XorConnection } from '../src/psk-protector.ts';
import { XSalsa20Stream } from '../src/xsalsa20-stream.ts';

/** Both ends of an in-memory connection, protected; the second end's inbound keystream is `poison` if given. */
function protectedPair(poison?: Keystream): [XorConnection, XorConnection] {
  const [outbound, inbound] = multiaddrConnectionPair();
  const psk = randomBytes(32);
  const [nonceA, nonceB] = [randomBytes(24), randomBytes(24)];
  const a = new XorConnection({
    inbound: new XSalsa20Stream(psk, nonceB),
    outbound: new XSalsa20Stream(psk, nonceA),
    maConn: outbound,
    log: outbound.log,
  });
  const b = new XorConnection({
    inbound: poison ?? new XSalsa20Stream(psk, nonceA),
    outbound: new XSalsa20Stream(psk, nonceB),
    maConn: inbound,
    log: inbound.log,
  });
  return [a, b];
}

function collect(connection: XorConnection): Buffer[] {
  const received: Buffer[] = [];
  connection.addEventListener('message', (event) => received.push(Buffer.from(event.data.subarray())));
  return received;
}

describe('a pnet-protected connection', () => {
  it('carries plaintext both ways through the keystreams', async () => {
    const [a, b] = protectedPair();
    const [atA, atB] = [collect(a), collect(b)];
    const [toB, toA] = [randomBytes(200_001), randomBytes(77)];
    a.send(toB);
    b.send(toA);
    for (let i = 0; i < 100 && (Buffer.concat(atB).length < toB.length || atA.length === 0); i++)
      await sleep(10);
    assert.deepEqual(Buffer.concat(atB), toB);
    assert.deepEqual(Buffer.concat(atA), toA);
  });

  it('ends with the error when a chunk cannot be deciphered; the process and other connections go on', async () => {
    let chunks = 0;
    const poison: Keystream = {
      update(data) {
        if (++chunks === 3) throw new RangeError('WebAssembly.Memory.grow(): Maximum memory size exceeded');
        return data;
      },
    };
    const [a, b] = protectedPair(poison);
    const [healthyA, healthyB] = protectedPair();
    const received = collect(healthyB);
    const closed = new Promise<Event & { error?: Error }>((resolve) => b.addEventListener('close', resolve));
    for (let i = 0; i < 5; i++) a.send(randomBytes(1000));
    const event = await closed;
    assert.match(String(event.error), /Maximum memory size exceeded/);
    assert.equal(b.status, 'aborted');
    for (let i = 0; i < 100 && a.status === 'open'; i++) await sleep(10);
    assert.notEqual(a.status, 'open', 'the other end sees the connection go');
    const bytes = randomBytes(5000);
    healthyA.send(bytes);
    for (let i = 0; i < 100 && Buffer.concat(received).length < bytes.length; i++) await sleep(10);
    assert.deepEqual(Buffer.concat(received), bytes);
    assert.equal(healthyB.status, 'open');
  });
});
