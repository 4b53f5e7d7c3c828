import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { multiaddr } from '@multiformats/multiaddr';
import { createShoalNode, loadOrCreateIdentity, type ShoalNode } from '../src/index.ts';

/** A libp2p swarm.key in the standard v1 format. */
function swarmKey(): string {
  return `/key/swarm/psk/1.0.0/\n/base16/\n${randomBytes(32).toString('hex')}`;
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
