import type { Connection, Libp2p, PeerId } from '@libp2p/interface';

/** Every connection of the per-peer lists, in one pass. Pure. */
export function flattenConnections<C>(byPeer: Iterable<readonly C[]>): C[] {
  const all: C[] = [];
  for (const list of byPeer) for (const connection of list) all.push(connection);
  return all;
}

/** What of libp2p's connection manager (internal to libp2p 3.x) the listing below touches. */
interface ConnectionManagerInternals {
  getConnections(peerId?: PeerId): Connection[];
  getConnectionsMap(): { values(): Iterable<Connection[]> };
}

/**
 * Has `node` list all its connections in one pass. libp2p 3's connection
 * manager builds that list by concatenating each peer's list onto a copy of
 * the ones before, and asks for it at every inbound connection (its limit
 * check) and every connection opened (its pruner): quadratic in the peers.
 * A scheduler that 2,000 peers connect to spent 4 of its 20 CPU seconds there.
 * A connection manager of another shape is left as it is (the result is the
 * same either way): returns whether the listing was replaced.
 */
export function listConnectionsInOnePass(node: Libp2p): boolean {
  const components = (node as unknown as { components?: { connectionManager?: unknown } }).components;
  const manager = components?.connectionManager as Partial<ConnectionManagerInternals> | undefined;
  if (typeof manager?.getConnections !== 'function' || typeof manager.getConnectionsMap !== 'function')
    return false;
  const ofPeer = manager.getConnections.bind(manager);
  const byPeer = manager.getConnectionsMap.bind(manager);
  manager.getConnections = (peerId?: PeerId) =>
    peerId != null ? ofPeer(peerId) : flattenConnections(byPeer().values());
  return true;
}
