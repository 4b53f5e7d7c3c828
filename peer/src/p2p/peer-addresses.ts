import type { PeerId } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import type { ShoalNode } from '@shoal/p2p';

/**
 * Tells libp2p where `peer` listens before it is dialled. A connected peer needs no addresses, and
 * updating the peer store costs a write per call, so it is skipped then.
 */
export async function learnAddresses(node: ShoalNode, peer: PeerId, addrs: readonly string[]): Promise<void> {
  if (addrs.length === 0 || node.getConnections(peer).length > 0) return;
  await node.peerStore.merge(peer, { multiaddrs: addrs.map((a) => multiaddr(a)) });
}
