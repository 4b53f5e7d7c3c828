import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { type AddressInfo, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect, TLSSocket } from 'node:tls';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { createOutbox } from '../src/outbox.ts';
import { framed, varintLength } from '../src/streams.ts';
import { COALESCE_BELOW_BYTES, coalesceSmallWrites } from '../src/write-coalescing.ts';

// @libp2p/tls's certificate helper, loaded by file as socket-tls.ts does.
const helpers = (await import(new URL('./utils.js', import.meta.resolve('@libp2p/tls')).href)) as {
  generateCertificate(key: unknown): Promise<{ cert: string; key: string }>;
};

interface Received {
  sha256: string;
  plaintextBytes: number;
  /** ciphertext after the handshake: plaintext plus 22 bytes per TLS 1.3 record */
  wireBytes: number;
}

const sha256 = (chunks: Buffer[]) => createHash('sha256').update(Buffer.concat(chunks)).digest('hex');
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('coalesceSmallWrites: the small writes of one turn share a TLS record', () => {
  let server: Server;
  let received: Promise<Received> | undefined;
  let port = 0;

  before(async () => {
    const certificate = await helpers.generateCertificate(await generateKeyPair('Ed25519'));
    // A plain TCP server wrapping each socket in TLS, so the raw socket counts the ciphertext.
    server = createServer((raw) => {
      const secure = new TLSSocket(raw, { isServer: true, ...certificate, minVersion: 'TLSv1.3' });
      received = new Promise((resolve, reject) => {
        let afterHandshake = 0;
        const chunks: Buffer[] = [];
        secure.once('secure', () => {
          afterHandshake = raw.bytesRead;
        });
        secure.on('data', (chunk: Buffer) => chunks.push(chunk));
        secure.on('end', () => {
          resolve({
            sha256: sha256(chunks),
            plaintextBytes: chunks.reduce((n, c) => n + c.length, 0),
            wireBytes: raw.bytesRead - afterHandshake,
          });
          secure.end();
        });
        secure.on('error', reject);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  async function connected(): Promise<TLSSocket> {
    received = undefined;
    const client = connect({ port, host: '127.0.0.1', rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    await new Promise<void>((resolve, reject) => {
      client.once('secureConnect', resolve);
      client.once('error', reject);
    });
    while (!received) await nextTurn();
    return client;
  }

  async function finish(client: TLSSocket): Promise<Received> {
    client.end();
    const result = await received!;
    client.destroy();
    return result;
  }

  /** Connects and writes each turn's buffers in a turn of its own, as a muxer answering messages does. */
  async function send(turns: Buffer[][], coalesce: boolean): Promise<Received> {
    const client = await connected();
    if (coalesce) coalesceSmallWrites(client);
    for (const turn of turns) {
      for (const chunk of turn) client.write(chunk);
      await nextTurn();
    }
    return finish(client);
  }

  /** A 12-byte frame header, then a small payload: a yamux frame as it is written. */
  const frames = (count: number) =>
    Array.from({ length: count }, (_, i) => [randomBytes(12), randomBytes(20 + i)]);
  const overheadPerTurn = (r: Received, turns: number) => (r.wireBytes - r.plaintextBytes) / turns;

  it('one record per turn instead of one per write, every byte in order', async () => {
    const turns = frames(100);
    const plain = await send(turns, false);
    const coalesced = await send(turns, true);
    const expected = sha256(turns.flat());
    assert.equal(plain.sha256, expected);
    assert.equal(coalesced.sha256, expected);
    // A TLS 1.3 record costs 22 bytes: two records per turn without coalescing, one with it.
    assert.ok(overheadPerTurn(plain, 100) >= 40, `plain: ${overheadPerTurn(plain, 100)} bytes per turn`);
    assert.ok(
      overheadPerTurn(coalesced, 100) <= 25,
      `coalesced: ${overheadPerTurn(coalesced, 100)} bytes per turn`,
    );
  });

  it("a turn's outbox batch shares the record of the turn's small writes", async () => {
    // As a server reading a request and answering it: yamux writes a window update at once, the
    // answer is batched by the outbox until the end of the turn.
    const client = await connected();
    coalesceSmallWrites(client);
    const outbox = createOutbox(
      {
        send: (data) => client.write(data),
        onDrain: async () => {},
        abort: (error) => client.destroy(error),
      },
      (message: Uint8Array) => message,
      1 << 20,
    );
    const written: Uint8Array[] = [];
    for (let turn = 0; turn < 100; turn++) {
      const windowUpdate = randomBytes(12);
      const answers = [randomBytes(40 + turn), randomBytes(7)];
      client.write(windowUpdate);
      for (const answer of answers) outbox.push(answer);
      written.push(
        windowUpdate,
        framed(
          answers,
          answers.reduce((n, a) => n + varintLength(a.length) + a.length, 0),
        ),
      );
      // Until the next request: nothing else is written meanwhile to carry a late answer along.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    const result = await finish(client);
    assert.equal(result.sha256, sha256(written.map((w) => Buffer.from(w))));
    assert.ok(overheadPerTurn(result, 100) <= 25, `${overheadPerTurn(result, 100)} bytes per turn`);
  });

  it('a large write sends what waits first; order holds across large and small writes', async () => {
    const turns = [
      [...frames(30).flat(), randomBytes(COALESCE_BELOW_BYTES * 5 + 17), ...frames(30).flat()],
      [randomBytes(COALESCE_BELOW_BYTES), randomBytes(3)],
      frames(10).flat(),
    ];
    const coalesced = await send(turns, true);
    assert.equal(coalesced.sha256, sha256(turns.flat()));
  });
});
