import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { peerIdFromPrivateKey } from '@libp2p/peer-id';
import { tcp } from '@libp2p/tcp';
import { tls } from '@libp2p/tls';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p';
import { socketTls } from '../src/socket-tls.ts';
import { answerWithHash, ECHO_HASH_PROTOCOL, exchange } from './echo-hash.ts';

const MIB = 1024 * 1024;

type Encrypter = NonNullable<Libp2pOptions['connectionEncrypters']>[number];

const nodes: Libp2p[] = [];

async function node(encrypter: Encrypter): Promise<Libp2p> {
  const started = await createLibp2p({
    privateKey: await generateKeyPair('Ed25519'),
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [encrypter],
    streamMuxers: [yamux()],
  });
  await started.handle(ECHO_HASH_PROTOCOL, answerWithHash);
  nodes.push(started);
  return started;
}

describe('TLS on the TCP socket', { timeout: 60_000 }, () => {
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('moves bytes intact both ways between two nodes', async () => {
    const [a, b] = await Promise.all([node(socketTls()), node(socketTls())]);
    await exchange(a, b, 16 * MIB);
    await exchange(b, a, 5 * MIB + 123);
    const [connection] = a.getConnections(b.peerId);
    assert.equal(connection?.encryption, '/tls/1.0.0');
  });

  it('speaks the same protocol as @libp2p/tls, dialling and dialled', async () => {
    const [ours, stock] = await Promise.all([node(socketTls()), node(tls())]);
    await exchange(ours, stock, 4 * MIB);
    const closed = new Promise<void>((resolve) =>
      stock.addEventListener('connection:close', () => resolve(), { once: true }),
    );
    await ours.hangUp(stock.peerId);
    await closed;
    await exchange(stock, ours, 4 * MIB);
  });

  it('refuses a remote whose certificate names another peer than the one dialled', async () => {
    const [a, b] = await Promise.all([node(socketTls()), node(socketTls())]);
    const someoneElse = peerIdFromPrivateKey(await generateKeyPair('Ed25519'));
    const address = multiaddr(`${b.getMultiaddrs()[0]!.decapsulateCode(421).toString()}/p2p/${someoneElse}`);
    await assert.rejects(a.dial(address, { signal: AbortSignal.timeout(10_000) }));
    assert.equal(a.getConnections().length, 0);
  });

  it('closes the connection on both ends', async () => {
    const [a, b] = await Promise.all([node(socketTls()), node(socketTls())]);
    await exchange(a, b, MIB);
    const closedAtB = new Promise<void>((resolve) =>
      b.addEventListener('connection:close', () => resolve(), { once: true }),
    );
    await a.hangUp(b.peerId);
    await closedAtB;
    assert.equal(a.getConnections(b.peerId).length, 0);
    assert.equal(b.getConnections(a.peerId).length, 0);
    // And a new connection works afterwards.
    await exchange(b, a, MIB);
  });
});
