import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Connection, Libp2p, Stream } from '@libp2p/interface';
import { Registry } from 'prom-client';
import { emptyTally, registerConnectionCensus, tallyConnections } from '../src/connection-census.ts';
import { createShoalNode, type ShoalNode } from '../src/index.ts';

const PROTOCOL = '/shoal-test/census/1.0.0';

/** The value of the one sample of `name` whose labels contain `label`, or undefined. */
function sample(text: string, name: string, label: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(label));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (await condition()) return;
    await sleep(50);
  }
  assert.fail(`timed out waiting until ${what}`);
}

describe('tallyConnections', () => {
  it('counts connections by direction and streams by direction and protocol', () => {
    const stream = (direction: 'inbound' | 'outbound', protocol?: string) =>
      ({ direction, protocol }) as Stream;
    const tally = emptyTally();
    tallyConnections(
      [
        {
          direction: 'inbound',
          streams: [stream('inbound', '/a'), stream('inbound', '/a'), stream('outbound', '/b')],
        },
        { direction: 'outbound', streams: [] },
        { direction: 'inbound', streams: [stream('inbound')] },
      ],
      tally,
    );
    tallyConnections([{ direction: 'outbound', streams: [stream('inbound', '/a')] }], tally);
    assert.equal(tally.inbound, 2);
    assert.equal(tally.outbound, 2);
    assert.deepEqual([...tally.streams].sort(), [
      ['inbound /a', 3],
      ['inbound unnegotiated', 1],
      ['outbound /b', 1],
    ]);
  });
});

describe('registerConnectionCensus', () => {
  it('does not count a connection that closed without its close event, and forgets it', async () => {
    // A stand-in for the node: the census reads its connections and listens to its events.
    const connection = (direction: 'inbound' | 'outbound', status: string) =>
      ({ direction, status, streams: [] }) as unknown as Connection;
    const closed = connection('outbound', 'closed');
    const connections = [connection('outbound', 'open'), closed, connection('inbound', 'closing')];
    const node = Object.assign(new EventTarget(), { getConnections: () => connections });
    const registry = new Registry();
    registerConnectionCensus(node as unknown as Libp2p, registry);

    const text = await registry.metrics();
    assert.equal(sample(text, 'libp2p_connection_manager_connections', '"outbound"'), 1, text);
    assert.equal(sample(text, 'libp2p_connection_manager_connections', '"inbound"'), 1, text);
    // Forgotten: were it still held, it would be counted now that it reads as open.
    (closed as { status: string }).status = 'open';
    const later = await registry.metrics();
    assert.equal(sample(later, 'libp2p_connection_manager_connections', '"outbound"'), 1, later);
    node.dispatchEvent(new CustomEvent('connection:open', { detail: closed }));
    const reopened = await registry.metrics();
    assert.equal(sample(reopened, 'libp2p_connection_manager_connections', '"outbound"'), 2, reopened);
  });
});

describe('the connection census of a real node', { timeout: 30_000 }, () => {
  const nodes: ShoalNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });
  const make = async (registry?: Registry) => {
    const node = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      ...(registry ? { metricsRegistry: registry } : {}),
    });
    nodes.push(node);
    return node;
  };

  it('counts open streams by protocol, and forgets a protocol whose streams all closed', async () => {
    const [dialerRegistry, listenerRegistry] = [new Registry(), new Registry()];
    const [dialer, listener] = await Promise.all([make(dialerRegistry), make(listenerRegistry)]);
    const held: Stream[] = [];
    await listener.handle(PROTOCOL, (stream: Stream) => {
      held.push(stream);
    });
    const outbound = await Promise.all(
      [1, 2].map(() => dialer.dialProtocol(listener.getMultiaddrs()[0]!, PROTOCOL)),
    );
    await until(() => held.length === 2, 'the listener holds both streams');

    const streams = 'libp2p_protocol_streams';
    await until(
      async () => sample(await listenerRegistry.metrics(), streams, `"inbound ${PROTOCOL}"`) === 2,
      'the listener counts two inbound streams',
    );
    assert.equal(sample(await dialerRegistry.metrics(), streams, `"outbound ${PROTOCOL}"`), 2);

    for (const stream of outbound) stream.abort(new Error('done'));
    await until(
      async () => sample(await listenerRegistry.metrics(), streams, PROTOCOL) === undefined,
      "the listener's series of the protocol is gone",
    );
    assert.equal(sample(await dialerRegistry.metrics(), streams, PROTOCOL), undefined);
  });

  it('gives the event loop back between slices of connections', async () => {
    const counted = await make();
    const others = await Promise.all([make(), make(), make()]);
    for (const other of others) await counted.dial(other.getMultiaddrs()[0]!);
    const registry = new Registry();
    registerConnectionCensus(counted, registry, 1);

    let turned = false;
    const scrape = registry.metrics();
    setImmediate(() => {
      turned = true;
    });
    const text = await scrape;
    assert.ok(turned, 'a turn of the event loop ran while the census walked the connections');
    assert.equal(sample(text, 'libp2p_connection_manager_connections', '"outbound"'), 3, text);
    assert.equal(sample(text, 'libp2p_connection_manager_connections', '"inbound"'), 0, text);

    // A connection closed is no longer counted.
    await counted.hangUp(others[0]!.peerId);
    const after = await registry.metrics();
    assert.equal(sample(after, 'libp2p_connection_manager_connections', '"outbound"'), 2, after);
  });
});
