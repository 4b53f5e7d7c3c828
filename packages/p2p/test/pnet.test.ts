import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { noise } from '@chainsafe/libp2p-noise';
import { yamux } from '@chainsafe/libp2p-yamux';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { preSharedKey } from '@libp2p/pnet';
import { tcp } from '@libp2p/tcp';
import { tls } from '@libp2p/tls';
import { multiaddr } from '@multiformats/multiaddr';
import { createLibp2p } from 'libp2p';
import { createShoalNode, loadOrCreateIdentity, type ShoalNode } from '../src/index.ts';
import { answerWithHash, ECHO_HASH_PROTOCOL, exchange } from './echo-hash.ts';

/** A libp2p swarm.key in the standard v1 format. */
function swarmKey(): string {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`;
}

const TURNS_PROTOCOL = '/shoal-test/turns/1.0.0';
const TURN_BYTES = 1024 * 1024;
const TURNS = 96;

/** Acknowledges every TURN_BYTES read with one byte; at the end, sends the sha256 of all it read. */
async function answerEachChunk(stream: Stream): Promise<void> {
  const hash = createHash('sha256');
  let unacknowledged = 0;
  for await (const chunk of stream) {
    hash.update(chunk.subarray());
    unacknowledged += chunk.byteLength;
    for (; unacknowledged >= TURN_BYTES; unacknowledged -= TURN_BYTES) stream.send(new Uint8Array(1));
  }
  stream.send(hash.digest());
  await stream.close();
}

async function node(pskFile?: string): Promise<ShoalNode> {
  return createShoalNode({
    privateKey: await generateKeyPair('Ed25519'),
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(pskFile ? { pskFile } : {}),
  });
}

describe('private swarm (pnet pre-shared key)', () => {
  let dir = '';
  let clusterKey = '';
  let otherKey = '';
  const nodes: ShoalNode[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-pnet-'));
    clusterKey = join(dir, 'cluster.key');
    otherKey = join(dir, 'other.key');
    await writeFile(clusterKey, swarmKey());
    await writeFile(otherKey, swarmKey());
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  const track = async (n: Promise<ShoalNode>) => {
    const started = await n;
    nodes.push(started);
    return started;
  };
  const dial = (from: ShoalNode, to: ShoalNode) =>
    from.dial(multiaddr(`${to.getMultiaddrs()[0]!.toString()}`), { signal: AbortSignal.timeout(5000) });

  it('lets members of the swarm connect to each other', async () => {
    const [a, b] = await Promise.all([track(node(clusterKey)), track(node(clusterKey))]);
    const connection = await dial(a, b);
    assert.equal(connection.remotePeer.toString(), b.peerId.toString());
  });

  it('carries data over several connections taking turns, every byte intact', async () => {
    // XSalsa20 of @libp2p/pnet 3 (xsalsa20 1.2) shares one WebAssembly memory between all its
    // ciphers: connections taking turns grew it until Memory.grow() threw inside the data
    // handler, which took the process down.
    const [sender, ...receivers] = (await Promise.all([1, 2, 3].map(() => track(node(clusterKey))))) as [
      ShoalNode,
      ...ShoalNode[],
    ];
    for (const receiver of receivers) await receiver.handle(TURNS_PROTOCOL, answerEachChunk);
    const streams = await Promise.all(
      receivers.map((receiver) =>
        sender.dialProtocol(receiver.getMultiaddrs()[0]!, TURNS_PROTOCOL, {
          signal: AbortSignal.timeout(5000),
        }),
      ),
    );
    const acks = streams.map((stream) => stream[Symbol.asyncIterator]());
    const sent = streams.map(() => createHash('sha256'));
    for (let turn = 0; turn < TURNS; turn++) {
      for (const [i, stream] of streams.entries()) {
        const chunk = randomBytes(TURN_BYTES);
        sent[i]!.update(chunk);
        if (!stream.send(chunk)) await stream.onDrain();
        // The next connection's turn only once this one's bytes have all been deciphered.
        assert.equal((await acks[i]!.next()).done, false, 'the receiver acknowledges every chunk');
      }
    }
    for (const stream of streams) await stream.close();
    for (const [i, ack] of acks.entries()) {
      const rest: Uint8Array[] = [];
      for (let next = await ack.next(); !next.done; next = await ack.next()) rest.push(next.value.subarray());
      assert.equal(
        Buffer.concat(rest).toString('hex'),
        sent[i]!.digest('hex'),
        'the receiver read the bytes sent',
      );
    }
  });

  it('interoperates with @libp2p/pnet: either side dials, bytes cross both ways intact', async () => {
    const psk = await readFile(clusterKey);
    const theirs = await createLibp2p({
      privateKey: await generateKeyPair('Ed25519'),
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [tls(), noise()],
      // shoal's stream window (a default yamux would reset a stream that shoal fills to 4 MiB)
      streamMuxers: [
        yamux({
          streamOptions: { initialStreamWindowSize: 4 * 1024 * 1024, maxStreamWindowSize: 4 * 1024 * 1024 },
        }),
      ],
      connectionProtector: preSharedKey({ psk }),
    });
    try {
      const ours = await track(node(clusterKey));
      for (const n of [theirs, ours]) await n.handle(ECHO_HASH_PROTOCOL, answerWithHash);
      await exchange(ours, theirs, 5 * 1024 * 1024 + 7);
      await theirs.hangUp(ours.peerId);
      await exchange(theirs, ours, 5 * 1024 * 1024 + 7);
    } finally {
      await theirs.stop();
    }
  });

  it('keeps a node without the key out, in both directions', async () => {
    const [member, outsider] = await Promise.all([track(node(clusterKey)), track(node())]);
    await assert.rejects(dial(outsider, member));
    await assert.rejects(dial(member, outsider));
  });

  it('keeps a node with another key out, in both directions', async () => {
    const [member, stranger] = await Promise.all([track(node(clusterKey)), track(node(otherKey))]);
    await assert.rejects(dial(stranger, member));
    await assert.rejects(dial(member, stranger));
  });
});

describe('node identity', () => {
  it('is created once and the same after a restart', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-identity-'));
    try {
      const first = await loadOrCreateIdentity(dir);
      const second = await loadOrCreateIdentity(dir);
      assert.deepEqual(second.publicKey.raw, first.publicKey.raw);
      await writeFile(join(dir, 'identity.key'), 'garbage');
      await assert.rejects(loadOrCreateIdentity(dir), /cannot read node identity/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
