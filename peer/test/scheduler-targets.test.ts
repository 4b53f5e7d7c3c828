import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { dnsNameOf, expandTarget } from '../src/p2p/scheduler-targets.ts';

const ID = '12D3KooWRBy97UB99e3J6hiPesre1MZeuNQvfan4gBziswrRJsNK';
const v4 = (address: string) => ({ address, family: 4 });
const v6 = (address: string) => ({ address, family: 6 });

describe('dnsNameOf', () => {
  it('finds the name and family of /dns4, /dns6 and /dns addresses', () => {
    assert.deepEqual(dnsNameOf('/dns4/shoal-scheduler/tcp/4600'), { name: 'shoal-scheduler', family: 4 });
    assert.deepEqual(dnsNameOf(`/dns6/s.example/tcp/4600/p2p/${ID}`), { name: 's.example', family: 6 });
    assert.deepEqual(dnsNameOf('/dns/localhost/tcp/1'), { name: 'localhost', family: 0 });
  });

  it('has none for IP addresses and /dnsaddr (TXT records, left to libp2p)', () => {
    assert.equal(dnsNameOf('/ip4/10.0.0.5/tcp/4600'), undefined);
    assert.equal(dnsNameOf('/ip6/::1/tcp/4600'), undefined);
    assert.equal(dnsNameOf('/dnsaddr/bootstrap.example'), undefined);
  });
});

describe('expandTarget', () => {
  it('leaves an address without a name as it is', () => {
    for (const address of [
      '/ip4/10.0.0.5/tcp/4600',
      `/ip4/10.0.0.5/tcp/4600/p2p/${ID}`,
      '/dnsaddr/x.example',
    ]) {
      assert.deepEqual(expandTarget(address, [v4('10.9.9.9')]), [{ key: address, addrs: [address] }]);
    }
  });

  it('makes every instance behind a name a scheduler of its own (headless Service)', () => {
    const targets = expandTarget('/dns4/shoal-scheduler/tcp/4600', [
      v4('10.0.0.7'),
      v4('10.0.0.5'),
      v4('10.0.0.7'),
    ]);
    assert.deepEqual(targets, [
      { key: '/ip4/10.0.0.5/tcp/4600', addrs: ['/ip4/10.0.0.5/tcp/4600'] },
      { key: '/ip4/10.0.0.7/tcp/4600', addrs: ['/ip4/10.0.0.7/tcp/4600'] },
    ]);
  });

  it('keeps a /p2p/ id on every address, as alternatives of the one scheduler it names', () => {
    const address = `/dns4/s.example/tcp/4600/p2p/${ID}`;
    assert.deepEqual(expandTarget(address, [v4('10.0.0.5'), v4('10.0.0.6')]), [
      { key: address, addrs: [`/ip4/10.0.0.5/tcp/4600/p2p/${ID}`, `/ip4/10.0.0.6/tcp/4600/p2p/${ID}`] },
    ]);
  });

  it('keeps the families asked for: /dns4 IPv4 only, /dns6 IPv6 only, /dns both', () => {
    const resolved = [v4('127.0.0.1'), v6('::1')];
    assert.deepEqual(
      expandTarget('/dns4/localhost/tcp/1', resolved).map((t) => t.key),
      ['/ip4/127.0.0.1/tcp/1'],
    );
    assert.deepEqual(
      expandTarget('/dns6/localhost/tcp/1', resolved).map((t) => t.key),
      ['/ip6/::1/tcp/1'],
    );
    assert.deepEqual(
      expandTarget('/dns/localhost/tcp/1', resolved).map((t) => t.key),
      ['/ip4/127.0.0.1/tcp/1', '/ip6/::1/tcp/1'],
    );
  });

  it('has no target while a name resolves to nothing', () => {
    assert.deepEqual(expandTarget('/dns4/gone/tcp/4600', []), []);
    assert.deepEqual(expandTarget(`/dns4/gone/tcp/4600/p2p/${ID}`, [v6('::1')]), []);
  });

  it('gives distinct keys, in an order that does not depend on the resolver', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.ipV4(), { maxLength: 8 }), (ips) => {
        const targets = expandTarget('/dns4/s/tcp/4600', ips.map(v4));
        assert.equal(targets.length, ips.length);
        assert.equal(new Set(targets.map((t) => t.key)).size, ips.length);
        assert.deepEqual(expandTarget('/dns4/s/tcp/4600', [...ips].reverse().map(v4)), targets);
        for (const target of targets) assert.match(target.key, /^\/ip4\/[\d.]+\/tcp\/4600$/);
      }),
    );
  });
});
