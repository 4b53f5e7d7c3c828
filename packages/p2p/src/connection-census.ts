import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Connection, Libp2p } from '@libp2p/interface';
import { Gauge, type Registry } from 'prom-client';

/** What one walk over the open connections counts. */
export interface ConnectionTally {
  inbound: number;
  outbound: number;
  /** Open streams by `<direction> <protocol>` (`unnegotiated` before a protocol is agreed), libp2p's keys. */
  streams: Map<string, number>;
}

export function emptyTally(): ConnectionTally {
  return { inbound: 0, outbound: 0, streams: new Map() };
}

/** Adds `connections` to `tally`: each by direction, each of its streams by direction and protocol. Pure but for `tally`. */
export function tallyConnections(
  connections: Iterable<Pick<Connection, 'direction' | 'streams'>>,
  tally: ConnectionTally,
): void {
  for (const connection of connections) {
    tally[connection.direction]++;
    for (const stream of connection.streams) {
      const key = `${stream.direction} ${stream.protocol ?? 'unnegotiated'}`;
      tally.streams.set(key, (tally.streams.get(key) ?? 0) + 1);
    }
  }
}

/** Connections counted per turn of the event loop: at 2,000 connections a scrape yields ten times. */
const SLICE = 200;

/**
 * `libp2p_connection_manager_connections` and `libp2p_protocol_streams`, the
 * gauges libp2p computes itself by walking every connection and stream in one
 * synchronous pass at each scrape (with a third, a percentile, that sorts):
 * 20 ms and more of a stalled event loop at 2,000 connections, every answer
 * in that time waiting. Here a scrape walks the connections in slices, giving
 * the loop back between them, and both gauges share one walk. The connections
 * are tracked by libp2p's open and close events, since listing them
 * (`getConnections()`) copies its list once per peer. Same names and labels as
 * libp2p's, without its `pending` counts, which it does not make public.
 */
export function registerConnectionCensus(node: Libp2p, registry: Registry, slice = SLICE): void {
  const open = new Set<Connection>(node.getConnections());
  node.addEventListener('connection:open', (event) => open.add(event.detail));
  node.addEventListener('connection:close', (event) => open.delete(event.detail));

  // Both gauges are collected in the same scrape: the first starts the walk, the second awaits it.
  let walk: Promise<ConnectionTally> | undefined;
  const census = (): Promise<ConnectionTally> => {
    walk ??= walkInSlices(open, slice).finally(() => {
      walk = undefined;
    });
    return walk;
  };

  const connectionsLabel = 'libp2p_connection_manager_connections';
  new Gauge({
    name: 'libp2p_connection_manager_connections',
    help: 'Open connections by direction',
    labelNames: [connectionsLabel],
    registers: [registry],
    async collect() {
      const tally = await census();
      this.set({ [connectionsLabel]: 'inbound' }, tally.inbound);
      this.set({ [connectionsLabel]: 'outbound' }, tally.outbound);
    },
  });
  new Gauge({
    name: 'libp2p_protocol_streams',
    help: 'Open streams by direction and protocol',
    labelNames: ['protocol'],
    registers: [registry],
    async collect() {
      const tally = await census();
      // A protocol with no open stream left has no series, not the count it had when it last had one.
      this.reset();
      for (const [protocol, count] of tally.streams) this.set({ protocol }, count);
    },
  });
}

/**
 * Tallies the connections of `open` as they are when the walk starts. One that
 * is closed by the time the walk reaches it is not counted, and is dropped
 * from `open` should its close event never have come.
 */
async function walkInSlices(open: Set<Connection>, slice: number): Promise<ConnectionTally> {
  const connections = [...open];
  const tally = emptyTally();
  for (let from = 0; from < connections.length; from += slice) {
    if (from > 0) await nextTurn();
    const live = connections.slice(from, from + slice).filter((connection) => {
      if (connection.status !== 'closed') return true;
      open.delete(connection);
      return false;
    });
    tallyConnections(live, tally);
  }
  return tally;
}
