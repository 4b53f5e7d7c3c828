import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, describe, it } from 'node:test';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { createShoalNode, messageChannel, type ShoalNode } from '@shoal/p2p';
import { PeerMessage, SCHEDULER_PROTOCOL, SchedulerMessage } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import { type HostLookup, SchedulerClient } from '../src/p2p/scheduler-client.ts';
import type { ResolvedAddress } from '../src/p2p/scheduler-targets.ts';

/** A scheduler stand-in: counts registrations and the digests tasks are opened for. */
class FakeScheduler {
  readonly ip: string;
  node!: ShoalNode;
  port = 0;
  registrations = 0;
  readonly openedDigests: string[] = [];
  readonly droppedDigests: string[] = [];
  readonly #streams: Stream[] = [];

  constructor(ip: string) {
    this.ip = ip;
  }

  async start(port: number): Promise<this> {
    this.node = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: [`/ip4/${this.ip}/tcp/${port}`],
    });
    this.port = Number(this.node.getMultiaddrs()[0]!.toString().split('/')[4]);
    await this.node.handle(SCHEDULER_PROTOCOL, (stream: Stream) => {
      this.#streams.push(stream);
      const channel = messageChannel(stream, PeerMessage, SchedulerMessage);
      void (async () => {
        for (;;) {
          const message = await channel.read();
          if (message.register) this.registrations++;
          if (message.openTask) this.openedDigests.push(message.openTask.digest);
          if (message.dropped) this.droppedDigests.push(...message.dropped.digests);
        }
      })().catch(() => {});
    });
    return this;
  }

  get id(): string {
    return this.node.peerId.toString();
  }

  async stop(): Promise<void> {
    await this.node.stop();
  }
}

const NAME = 'schedulers.test';
const silent = createLogger({ level: 'silent' });

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function digest(): string {
  return `sha256:${randomBytes(32).toString('hex')}`;
}

describe('SchedulerClient with a scheduler name', { timeout: 60_000 }, () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const fn of cleanup.reverse()) await fn().catch(() => {});
  });

  /** Two schedulers on the same port of two loopback addresses, as behind a headless Service. */
  async function twoSchedulers(): Promise<[FakeScheduler, FakeScheduler]> {
    const a = await new FakeScheduler('127.0.0.1').start(0);
    cleanup.push(() => a.stop());
    const b = await new FakeScheduler('127.0.0.2').start(a.port);
    cleanup.push(() => b.stop());
    return [a, b];
  }

  /** A client whose resolver answers what `answer()` says at the time. */
  async function client(address: string, answer: () => ResolvedAddress[] | Error) {
    const node = await createShoalNode({
      privateKey: await generateKeyPair('Ed25519'),
      listen: ['/ip4/127.0.0.1/tcp/0'],
    });
    const lookups: string[] = [];
    const lookup: HostLookup = async (name, family) => {
      lookups.push(`${name}/${family}`);
      const result = answer();
      if (result instanceof Error) throw result;
      return result;
    };
    const scheduler = new SchedulerClient({
      node,
      addresses: [address],
      lookup,
      resolveIntervalMs: 200,
      registration: async () => ({
        addrs: [],
        labels: new Map(),
        uploadSlots: 1,
        uploadRate: 0,
        downloadRate: 0,
        holdings: [],
      }),
      logger: silent,
    });
    scheduler.start();
    cleanup.push(async () => {
      await scheduler.stop();
      await node.stop();
    });
    return { scheduler, lookups };
  }

  const at = (...ips: string[]) => ips.map((address) => ({ address, family: 4 }));

  it('connects to every instance the name resolves to, and hashes digests over them', async () => {
    const [a, b] = await twoSchedulers();
    const { scheduler, lookups } = await client(`/dns4/${NAME}/tcp/${a.port}`, () => at(a.ip, b.ip));
    await until('two sessions', () => scheduler.connected === 2);
    assert.equal(lookups[0], `${NAME}/4`);
    await until('both registered', () => a.registrations === 1 && b.registrations === 1);
    for (let i = 0; i < 40; i++) {
      const line = scheduler.openTask(digest(), { onMessage() {}, onDisconnect() {} });
      assert.ok(line, 'a line for every digest');
      line.send({ openTask: { digest: `d${i}`, size: 0, bitfield: new Uint8Array(0), want: 1 } });
    }
    await until('every task opened', () => a.openedDigests.length + b.openedDigests.length === 40);
    assert.ok(a.openedDigests.length > 0 && b.openedDigests.length > 0, 'both schedulers own digests');
  });

  it('joins an instance that appears later, and fails over when one goes', async () => {
    const [a, b] = await twoSchedulers();
    let resolved = at(a.ip);
    const { scheduler } = await client(`/dns4/${NAME}/tcp/${a.port}`, () => resolved);
    await until('the first session', () => scheduler.connected === 1);
    assert.equal(b.registrations, 0);
    resolved = at(a.ip, b.ip);
    await until('the new instance joined', () => scheduler.connected === 2 && b.registrations === 1);

    let disconnected = 0;
    const lines = Array.from({ length: 20 }, () =>
      scheduler.openTask(digest(), {
        onMessage() {},
        onDisconnect: () => disconnected++,
      }),
    );
    assert.ok(lines.every((line) => line !== undefined));
    // A leaves the Service and stops: its tasks are told, new tasks all go to B.
    resolved = at(b.ip);
    await a.stop();
    await until('the session to A closed', () => scheduler.connected === 1);
    assert.ok(disconnected > 0, 'the tasks on A were told');
    for (let i = 0; i < 20; i++) {
      scheduler
        .openTask(digest(), { onMessage() {}, onDisconnect() {} })!
        .send({ openTask: { digest: `after-${i}`, size: 0, bitfield: new Uint8Array(0), want: 1 } });
    }
    await until(
      'every new task on B',
      () => b.openedDigests.filter((d) => d.startsWith('after-')).length === 20,
    );
  });

  it('keeps its schedulers while the resolver fails, and none once the name is gone', async () => {
    const [a] = await twoSchedulers();
    let answer: ResolvedAddress[] | Error = at(a.ip);
    const { scheduler, lookups } = await client(`/dns4/${NAME}/tcp/${a.port}`, () => answer);
    await until('the session', () => scheduler.connected === 1);
    answer = Object.assign(new Error('queryA ETIMEOUT'), { code: 'ETIMEOUT' });
    const asked = lookups.length;
    await until('two more lookups', () => lookups.length >= asked + 2);
    assert.equal(scheduler.connected, 1, 'a resolver timeout drops nothing');
    // The name is gone: the open session is kept while it lasts, but once it ends it is not reopened.
    answer = Object.assign(new Error(`getaddrinfo ENOTFOUND ${NAME}`), { code: 'ENOTFOUND' });
    const gone = lookups.length;
    await until('two lookups without the name', () => lookups.length >= gone + 2);
    assert.equal(scheduler.connected, 1, 'a live session outlasts its name');
    await a.stop();
    await until('the session closed', () => scheduler.connected === 0);
    const again = await new FakeScheduler(a.ip).start(a.port);
    cleanup.push(() => again.stop());
    const now = lookups.length;
    await until('two more lookups', () => lookups.length >= now + 2);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(again.registrations, 0, 'a scheduler the name no longer gives is not joined');
    answer = at(a.ip);
    await until('joined once the name gives it again', () => again.registrations === 1);
  });

  it('is ready once its first session is up, or at once when its first attempts failed', async () => {
    const [a] = await twoSchedulers();
    const up = await client(`/dns4/${NAME}/tcp/${a.port}`, () => at('127.0.0.1'));
    await up.scheduler.ready();
    assert.ok(
      up.scheduler.openTask(digest(), { onMessage() {}, onDisconnect() {} }),
      'a line right after ready',
    );
    // Nothing listens on 127.0.0.3: ready well before the start grace (5 s).
    const started = Date.now();
    const down = await client(`/dns4/${NAME}/tcp/${a.port}`, () => at('127.0.0.3'));
    await down.scheduler.ready();
    assert.ok(Date.now() - started < 4_000, `ready after ${Date.now() - started} ms`);
    assert.equal(down.scheduler.openTask(digest(), { onMessage() {}, onDisconnect() {} }), undefined);
  });

  it('tells every scheduler of a blob the node no longer holds', async () => {
    const [a, b] = await twoSchedulers();
    const { scheduler } = await client(`/dns4/${NAME}/tcp/${a.port}`, () => at('127.0.0.1', '127.0.0.2'));
    await until('both sessions', () => scheduler.connected === 2);
    const evicted = digest();
    scheduler.dropped(evicted);
    await until(
      'both schedulers told',
      () => a.droppedDigests.includes(evicted) && b.droppedDigests.includes(evicted),
    );
  });

  it('with a /p2p/ id, joins that scheduler only, at whichever address it answers', async () => {
    const [a, b] = await twoSchedulers();
    const { scheduler } = await client(`/dns4/${NAME}/tcp/${a.port}/p2p/${b.id}`, () => at(a.ip, b.ip));
    await until('the session', () => scheduler.connected === 1 && b.registrations === 1);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(a.registrations, 0, 'the other instance is not joined');
    assert.equal(scheduler.connected, 1);
  });
});
