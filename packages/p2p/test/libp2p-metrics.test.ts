import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import { Registry } from 'prom-client';
import { createShoalNode, type ShoalNode } from '../src/index.ts';
import { exportedMetricName } from '../src/libp2p-metrics.ts';

/** Sum of the samples of `name` whose label set contains `label`, from a text exposition. */
function sample(text: string, name: string, label: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) && line.includes(label))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('exportedMetricName', () => {
  it('keeps conforming libp2p names', () => {
    assert.equal(
      exportedMetricName('libp2p_data_transfer_bytes_total', 'counter'),
      'libp2p_data_transfer_bytes_total',
    );
  });

  it("leaves out the gauges the census counts in slices (libp2p's walk every connection at once)", () => {
    for (const name of [
      'libp2p_connection_manager_connections',
      'libp2p_protocol_streams_total',
      'libp2p_connection_manager_protocol_streams_per_connection_90th_percentile',
    ])
      assert.equal(exportedMetricName(name, 'gauge'), undefined, name);
  });

  it('drops _total from gauges, unless that leaves a histogram suffix', () => {
    assert.equal(
      exportedMetricName('libp2p_tcp_inbound_connections_total', 'gauge'),
      'libp2p_tcp_inbound_connections',
    );
    assert.equal(exportedMetricName('libp2p_kad_dht_routing_table_kad_bucket_total', 'gauge'), undefined);
  });

  it('leaves out metrics in milliseconds and metrics that are not libp2p_*', () => {
    assert.equal(
      exportedMetricName('libp2p_kad_dht_network_message_send_times_milliseconds', 'gauge'),
      undefined,
    );
    assert.equal(exportedMetricName('nodejs_memory_usage_bytes', 'gauge'), undefined);
  });
});

describe("libp2p's metrics in the service's registry", { timeout: 30_000 }, () => {
  const nodes: ShoalNode[] = [];
  after(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
  });

  it('gives two nodes in one process their own series, in their own registries', async () => {
    const [dialerRegistry, listenerRegistry] = [new Registry(), new Registry()];
    const make = async (registry: Registry) => {
      const node = await createShoalNode({
        privateKey: await generateKeyPair('Ed25519'),
        listen: ['/ip4/127.0.0.1/tcp/0'],
        metricsRegistry: registry,
      });
      nodes.push(node);
      return node;
    };
    const dialer = await make(dialerRegistry);
    const listener = await make(listenerRegistry);
    await dialer.dial(listener.getMultiaddrs()[0]!);
    // The listener counts the connection once its side of the upgrade is done, a moment after the dialer.
    for (let i = 0; i < 100 && listener.getConnections().length === 0; i++) await sleep(50);

    const dialerText = await dialerRegistry.metrics();
    const listenerText = await listenerRegistry.metrics();
    const connections = 'libp2p_connection_manager_connections';
    assert.equal(sample(dialerText, connections, '="outbound"'), 1, dialerText);
    assert.equal(sample(dialerText, connections, '="inbound"'), 0);
    assert.equal(sample(listenerText, connections, '="inbound"'), 1, listenerText);
    assert.equal(sample(listenerText, connections, '="outbound"'), 0);
    for (const text of [dialerText, listenerText]) {
      for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
        assert.ok(name!.startsWith('libp2p_'), `${name}: only libp2p's own metrics`);
        if (type !== 'counter')
          assert.ok(!name!.endsWith('_total'), `${name} is a ${type} named like a counter`);
      }
    }
  });
});
