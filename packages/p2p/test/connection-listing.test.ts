import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { flattenConnections, listConnectionsInOnePass } from '../src/connection-listing.ts';
import { createShoalNode, type ShoalNode } from '../src/index.ts';

describe('flattenConnections', () => {
  it('lists every connection of every peer once, in order', () => {
    assert.deepEqual(flattenConnections([['a'], [], ['b', 'c'], ['d']]), ['a', 'b', 'c', 'd']);
    assert.deepEqual(flattenConnections([]), []);
  });
});

describe("a shoal node's connection listing", { timeout: 30_000 }, () => {
  const nodes: ShoalNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const make = async () => {
    const node = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
    nodes.push(node);
    return node;
  };

  it('is the one-pass listing, and lists what each peer has', async () => {
    const [node, ...others] = await Promise.all([make(), make(), make(), make()]);
    const manager = (node as unknown as { components: { connectionManager: object } }).components
      .connectionManager;
    // createShoalNode installed it: libp2p's own is on the prototype.
    assert.ok(Object.hasOwn(manager, 'getConnections'), 'the listing of this libp2p version was replaced');

    await node.dial(others[0]!.getMultiaddrs()[0]!);
    await node.dial(others[1]!.getMultiaddrs()[0]!);
    await others[2]!.dial(node.getMultiaddrs()[0]!);
    for (let i = 0; i < 100 && node.getConnections().length < 3; i++)
      await new Promise((r) => setTimeout(r, 50));

    const all = node.getConnections();
    assert.equal(all.length, 3);
    assert.equal(new Set(all).size, 3, 'each connection once');
    assert.deepEqual(
      new Set(all.map((c) => c.remotePeer.toString())),
      new Set(others.map((o) => o.peerId.toString())),
    );
    for (const other of others) {
      const ofPeer = node.getConnections(other.peerId);
      assert.equal(ofPeer.length, 1);
      assert.ok(all.includes(ofPeer[0]!));
    }
    assert.deepEqual(all.map((c) => c.direction).sort(), ['inbound', 'outbound', 'outbound']);
  });

  it('leaves a node of another shape alone', () => {
    assert.equal(listConnectionsInOnePass({} as ShoalNode), false);
  });
});
