import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  Bitfield,
  DEFAULT_PIECE_SIZE,
  FailureReason,
  type OpenTask,
  type PieceDone,
  type PieceFailed,
  pieceTimeoutMs,
  type Register,
  type SchedulerMessage,
  WAITING_NOTICE_MS,
} from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { Dispatcher } from '../src/dispatcher.ts';
import { createSchedulerMetrics } from '../src/metrics.ts';
import { ENDGAME_AFTER_MS } from '../src/policy/endgame.ts';
import { HOSTS_SENT, MEMBERS_TOLD_OF_NEWCOMER, TASK_MEMBERS_SENT } from '../src/policy/member-sample.ts';
import { CLUSTER_STRIKE_LIMIT } from '../src/state/hosts.ts';
import { SwarmState } from '../src/state/swarm-state.ts';

/** Default piece size of small blobs. */
const PIECE = DEFAULT_PIECE_SIZE;
const DIGEST = `sha256:${'ab'.repeat(32)}`;
const ORIGIN_TIMEOUT = 20_000;
const PIECE_TIMEOUT = 15_000;

function digestOf(n: number): string {
  return `sha256:${createHash('sha256').update(`blob-${n}`).digest('hex')}`;
}

function pieceHash(digest: string, index: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHash('sha256').update(`${digest}#${index}`).digest());
}

function addrsOf(host: string): string[] {
  return [`/ip4/10.0.0.1/tcp/4001/p2p/${host}`];
}

function registerMessage(host: string, fields: Partial<Register> = {}): Register {
  return {
    addrs: addrsOf(host),
    labels: new Map(),
    uploadSlots: 8,
    uploadRate: 0,
    downloadRate: 0,
    holdings: [],
    ...fields,
  };
}

function openMessage(pieces: number, want = 4, digest = DIGEST, holds: Iterable<number> = []): OpenTask {
  const have = new Bitfield(pieces);
  for (const index of holds) have.set(index);
  return {
    digest,
    size: pieces * PIECE,
    bitfield: have.count > 0 ? have.bytes : new Uint8Array(0),
    want,
  };
}

function originDone(index: number, digest = DIGEST): PieceDone {
  return { index, sha256: pieceHash(digest, index), parent: '', millis: 10, length: PIECE };
}

function peerDone(index: number, parent: string): PieceDone {
  return { index, sha256: new Uint8Array(0), parent, millis: 10, length: PIECE };
}

interface Sent {
  to: string;
  message: SchedulerMessage;
}

/**
 * A dispatcher on a manual clock. Most tests here are about how ranges are handed out, reassigned and
 * freed, and read best with full ranges from the first: `firstOriginRangePieces` defaults to the
 * range size (no ramp-up) unless a test asks for the daemon's ramp.
 */
function harness(
  options: {
    originRangePieces?: number;
    firstOriginRangePieces?: number;
    originFetchers?: number;
    leasePieces?: number;
    leaseMinPeers?: number;
    pendingPieces?: boolean;
  } = {},
) {
  let clock = 1_000_000;
  const sent: Sent[] = [];
  let read = 0;
  const state = new SwarmState();
  const registry = new Registry();
  const metrics = createSchedulerMetrics(registry, { peers: () => 0, tasks: () => 0 });
  const dispatcher = new Dispatcher({
    state,
    send: (to, message) => sent.push({ to, message }),
    logger: createLogger({ level: 'silent' }),
    metrics,
    now: () => clock,
    originRangePieces: options.originRangePieces ?? 4,
    firstOriginRangePieces: options.firstOriginRangePieces ?? options.originRangePieces ?? 4,
    ...(options.originFetchers ? { originFetchers: options.originFetchers } : {}),
    // One piece per assignment unless a test is about leases: the assignments it reads are then piece by piece.
    leasePieces: options.leasePieces ?? 1,
    ...(options.leaseMinPeers ? { leaseMinPeers: options.leaseMinPeers } : {}),
    ...(options.pendingPieces ? { pendingPieces: true } : {}),
    originTimeoutMs: ORIGIN_TIMEOUT,
    pieceTimeoutMs: PIECE_TIMEOUT,
  });
  const h = {
    state,
    dispatcher,
    sent,
    registry,
    advance(ms: number) {
      clock += ms;
    },
    /** Messages sent since the last call. */
    drain(): Sent[] {
      const out = sent.slice(read);
      read = sent.length;
      return out;
    },
    /** Registers hosts; the swarm lists they are sent are dropped (the registration test checks them). */
    register(...hosts: string[]) {
      for (const host of hosts) {
        const before = sent.length;
        dispatcher.register(host, registerMessage(host));
        const others = sent.splice(before).filter((m) => !m.message.swarm);
        sent.push(...others);
      }
    },
    /** `holds`: the pieces it says it holds as it opens */
    open(host: string, pieces: number, want = 4, digest = DIGEST, holds: Iterable<number> = []) {
      dispatcher.openTask(host, openMessage(pieces, want, digest, holds));
    },
    report(
      host: string,
      fields: { done?: PieceDone[]; failed?: PieceFailed[]; want?: number },
      digest = DIGEST,
    ) {
      dispatcher.report(host, {
        digest,
        done: fields.done ?? [],
        failed: fields.failed ?? [],
        want: fields.want ?? 4,
      });
    },
  };
  return h;
}

type Harness = ReturnType<typeof harness>;

/** A holding of a whole 4-piece blob, as announced at registration. */
function completeHolding(digest: string) {
  return { digest, size: 4 * PIECE, pieceSize: 0, bitfield: new Uint8Array(0), complete: true };
}

/** Parents of the pieces assigned to `to` since the last drain. */
function parentsAssigned(h: Harness, to: string): string[] {
  return pieceAssignments(h.drain(), to).map((p) => p.parent);
}

function originRanges(messages: Sent[], to?: string): { first: number; count: number }[] {
  return messages
    .filter((m) => (to === undefined || m.to === to) && m.message.assignments)
    .flatMap((m) => m.message.assignments!.origin.map(({ first, count }) => ({ first, count })));
}

function pieceAssignments(messages: Sent[], to?: string) {
  return messages
    .filter((m) => (to === undefined || m.to === to) && m.message.assignments)
    .flatMap((m) => m.message.assignments!.pieces.map((p) => ({ to: m.to, ...p })));
}

/** The scheduler telling a starved peer it waits its turn: an assignment of nothing. */
function isWaitingNotice(sent: Sent): boolean {
  const a = sent.message.assignments;
  return a !== undefined && a.pieces.length === 0 && a.origin.length === 0;
}

function range(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => first + i);
}

async function counter(h: Harness, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = (await h.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as { value: number; labels: Record<string, string | number> }[];
  return values
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

describe('Dispatcher: registration and opening', () => {
  it('registers hosts with their addresses, labels and slots', () => {
    const h = harness();
    h.dispatcher.register('a', registerMessage('a', { labels: new Map([['zone', 'z1']]), uploadSlots: 3 }));
    h.dispatcher.register('b', registerMessage('b', { uploadSlots: 0 }));
    const a = h.state.hosts.get('a')!;
    assert.deepEqual(a.addrs, addrsOf('a'));
    assert.deepEqual(a.labels, { zone: 'z1' });
    assert.equal(a.uploadSlots, 3);
    assert.equal(h.state.hosts.get('b')!.uploadSlots, 8, 'unset slots get the default');
    assert.equal(h.state.hosts.size, 2);
    // Each newcomer hears who else is in the swarm, so it can keep in touch without the scheduler.
    assert.deepEqual(h.drain(), [
      { to: 'a', message: { swarm: { peers: [] } } },
      { to: 'b', message: { swarm: { peers: [{ id: 'a', addrs: addrsOf('a') }] } } },
      { to: 'a', message: { swarm: { peers: [{ id: 'b', addrs: addrsOf('b') }] } } },
    ]);
  });

  it('records holdings announced at registration', () => {
    const h = harness();
    h.dispatcher.register(
      'a',
      registerMessage('a', {
        holdings: [
          {
            digest: DIGEST,
            size: 3 * PIECE,
            pieceSize: 0,
            bitfield: new Uint8Array(0),
            complete: true,
          },
        ],
      }),
    );
    const task = h.state.tasks.get(DIGEST)!;
    assert.equal(task.pieceCount, 3);
    for (const holders of task.holders) assert.deepEqual([...holders], ['a']);
  });

  it('answers size 0 when nobody knows the size, without creating a task', () => {
    const h = harness();
    h.register('a');
    h.dispatcher.openTask('a', { digest: DIGEST, size: 0, bitfield: new Uint8Array(0), want: 4 });
    assert.deepEqual(h.drain(), [
      { to: 'a', message: { taskInfo: { digest: DIGEST, size: 0, pieceSize: 0, members: [] } } },
    ]);
    assert.equal(h.state.tasks.size, 0);
  });

  it('creates the task, answers taskInfo, then hands the first requester an origin range', () => {
    const h = harness();
    h.register('a');
    h.open('a', 10);
    const [info, assignments, ...rest] = h.drain();
    assert.deepEqual(info, {
      to: 'a',
      message: { taskInfo: { digest: DIGEST, size: 10 * PIECE, pieceSize: PIECE, members: [] } },
    });
    assert.equal(assignments?.to, 'a');
    assert.deepEqual(assignments?.message.assignments?.origin, [{ first: 0, count: 4 }]);
    assert.deepEqual(assignments?.message.assignments?.pieces, []);
    assert.deepEqual(rest, []);
    assert.equal(h.state.tasks.get(DIGEST)?.pieceCount, 10);
  });

  it('hands later requesters the next origin ranges, then nothing once all are taken', () => {
    const h = harness();
    h.register('a', 'b', 'c', 'd');
    h.open('a', 10);
    h.open('b', 10);
    h.open('c', 10);
    h.open('d', 10);
    const sent = h.drain();
    assert.deepEqual(originRanges(sent, 'a'), [{ first: 0, count: 4 }]);
    assert.deepEqual(originRanges(sent, 'b'), [{ first: 4, count: 4 }]);
    assert.deepEqual(originRanges(sent, 'c'), [{ first: 8, count: 2 }]);
    assert.deepEqual(originRanges(sent, 'd'), []);
    assert.deepEqual(
      sent.filter((m) => m.to === 'd').map((m) => Object.keys(m.message)),
      [['taskInfo']],
    );
  });

  it('an open with size 0 joins a task whose size is known', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 6);
    h.drain();
    h.dispatcher.openTask('b', { digest: DIGEST, size: 0, bitfield: new Uint8Array(0), want: 4 });
    const sent = h.drain();
    const { members, ...info } = sent[0]!.message.taskInfo!;
    assert.deepEqual(info, { digest: DIGEST, size: 6 * PIECE, pieceSize: PIECE });
    // The newcomer learns who else is in the task, and the others learn of it.
    assert.deepEqual(
      members.map((m) => m.id),
      ['a'],
    );
    const toA = sent.find((m) => m.to === 'a' && m.message.taskInfo);
    assert.deepEqual(
      toA?.message.taskInfo?.members.map((m) => m.id),
      ['b'],
    );
    assert.deepEqual(originRanges(sent, 'b'), [{ first: 4, count: 2 }]);
  });
});

describe('Dispatcher: who hears of a newcomer', () => {
  it('a newcomer learns of the first 16 members of a task, and 8 of them hear of it', () => {
    const h = harness();
    const hosts = Array.from({ length: 100 }, (_, i) => `h${i}`);
    h.register(...hosts, 'new');
    for (const host of hosts) h.open(host, 6);
    h.drain();
    h.open('new', 6);
    const sent = h.drain();
    const members = sent.find((m) => m.to === 'new' && m.message.taskInfo)!.message.taskInfo!.members;
    assert.equal(members.length, TASK_MEMBERS_SENT);
    assert.equal(new Set(members.map((m) => m.id)).size, TASK_MEMBERS_SENT);
    const told = sent.filter((m) => m.to !== 'new' && m.message.taskInfo).map((m) => m.to);
    assert.equal(told.length, MEMBERS_TOLD_OF_NEWCOMER);
    for (const host of told)
      assert.ok(
        members.some((m) => m.id === host),
        `${host} was not a listed member`,
      );
    for (const m of sent.filter((m) => m.to !== 'new' && m.message.taskInfo))
      assert.deepEqual(
        m.message.taskInfo!.members.map((x) => x.id),
        ['new'],
      );
  });

  it('a registering host learns of at most 64 hosts, and only 8 of them hear of it', () => {
    const h = harness();
    h.register(...Array.from({ length: 100 }, (_, i) => `h${i}`));
    h.drain();
    h.dispatcher.register('new', registerMessage('new'));
    const sent = h.drain();
    const known = sent.find((m) => m.to === 'new' && m.message.swarm)!.message.swarm!.peers;
    assert.equal(known.length, HOSTS_SENT);
    const told = sent.filter((m) => m.to !== 'new' && m.message.swarm);
    assert.equal(told.length, MEMBERS_TOLD_OF_NEWCOMER);
    for (const m of told)
      assert.deepEqual(
        m.message.swarm!.peers.map((p) => p.id),
        ['new'],
      );
  });
});

describe('Dispatcher: pieces from peers', () => {
  it('after origin pieces are reported, waiting requesters get them from the reporter with the table hash', () => {
    const h = harness();
    h.register('a', 'b', 'c');
    h.open('a', 8);
    h.open('b', 8);
    h.open('c', 8, 3);
    h.drain();
    h.report('a', { done: range(0, 4).map((i) => originDone(i)) });
    const sent = h.drain();

    const task = h.state.tasks.get(DIGEST)!;
    for (const i of range(0, 4)) {
      assert.deepEqual(task.table[i], pieceHash(DIGEST, i));
      assert.ok(task.holders[i]!.has('a'));
    }
    const toB = pieceAssignments(sent, 'b');
    const toC = pieceAssignments(sent, 'c');
    assert.deepEqual(
      toB.map((p) => p.index),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      toC.map((p) => p.index),
      [0, 1, 2],
    );
    for (const p of [...toB, ...toC]) {
      assert.equal(p.parent, 'a');
      assert.deepEqual(p.parentAddrs, addrsOf('a'));
      assert.deepEqual(p.sha256, pieceHash(DIGEST, p.index));
    }
    assert.deepEqual(pieceAssignments(sent, 'a'), [], 'a holds them: never its own parent');
  });

  it('never gives a parent more assignments than its upload slots', () => {
    const h = harness();
    h.dispatcher.register('p', registerMessage('p', { uploadSlots: 2 }));
    h.register('a', 'b');
    h.open('p', 4);
    h.report('p', { done: range(0, 4).map((i) => originDone(i)) });
    h.drain();
    h.open('a', 4, 4);
    h.open('b', 4, 4);
    const sent = h.drain();
    assert.equal(pieceAssignments(sent).length, 2);
    assert.equal(pieceAssignments(sent, 'a').length, 2);
    // a reports one done and wants no more: that slot goes to b.
    const first = pieceAssignments(sent, 'a')[0]!;
    h.report('a', { done: [peerDone(first.index, 'p')], want: 0 });
    assert.deepEqual(
      pieceAssignments(h.drain())
        .filter((p) => p.parent === 'p')
        .map((p) => p.to),
      ['b'],
    );
    assert.equal(h.state.hosts.get('p')!.activeUploads, 2);
  });

  it('drops a poisoned piece table: reporters blocklisted and struck, everyone reset', async () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4);
    h.drain();
    // a fetched pieces 0-3 from the origin and filled the table; b built its copy from them.
    h.report('a', { done: [0, 1, 2, 3].map((i) => originDone(i)) });
    h.drain();
    h.dispatcher.taskDone('b', { digest: DIGEST, ok: false, error: 'mismatch', digestMismatch: true });
    const sent = h.drain();
    assert.deepEqual(
      sent.filter((m) => m.message.reset).map((m) => m.to),
      ['a'],
      'the peers still downloading are told to start over',
    );
    const task = h.state.tasks.get(DIGEST)!;
    assert.ok(
      task.table.every((entry) => entry === undefined),
      'the table is gone',
    );
    assert.ok(task.blocklist.has('a'), 'its reporter is blocklisted for the task');
    assert.equal(h.state.hosts.get('a')!.strikes, 1);
    assert.ok(
      task.holders.every((holders) => holders.size === 0),
      'nobody holds a trusted piece',
    );
    assert.equal(await counter(h, 'shoal_scheduler_poisoned_tables_total'), 1);
  });

  it("a mismatch after the table was sealed by a verified copy is the reporter's own fault", async () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4);
    h.report('a', { done: [0, 1, 2, 3].map((i) => originDone(i)) });
    h.dispatcher.taskDone('a', { digest: DIGEST, ok: true, error: '', digestMismatch: false });
    h.dispatcher.taskDone('b', { digest: DIGEST, ok: false, error: 'mismatch', digestMismatch: true });
    assert.ok(h.state.tasks.get(DIGEST)!.table.every((entry) => entry !== undefined));
    assert.equal(await counter(h, 'shoal_scheduler_poisoned_tables_total'), 0);
  });

  it('taskDone ok marks the host as holding every piece and serves waiting requesters', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4, 4);
    h.drain();
    h.dispatcher.taskDone('a', { digest: DIGEST, ok: true, error: '', digestMismatch: false });
    const task = h.state.tasks.get(DIGEST)!;
    for (const holders of task.holders) assert.ok(holders.has('a'));
    assert.equal(task.originInFlight.size, 0);
    const toB = pieceAssignments(h.drain(), 'b');
    assert.deepEqual(
      toB.map((p) => [p.index, p.parent]),
      [
        [0, 'a'],
        [1, 'a'],
        [2, 'a'],
        [3, 'a'],
      ],
    );
  });
});

describe('Dispatcher: every piece leaves the origin once', () => {
  it('never hands a piece to the origin twice while its range is live', () => {
    const h = harness();
    const hosts = ['a', 'b', 'c', 'd', 'e'];
    h.register(...hosts);
    for (const host of hosts) h.open(host, 12);
    let sent = h.drain();
    for (const host of hosts) {
      for (const r of originRanges(sent, host))
        h.report(host, { done: range(r.first, r.count).map((i) => originDone(i)) });
    }
    sent = [...sent, ...h.drain()];
    const handed = originRanges(sent).flatMap((r) => range(r.first, r.count));
    assert.deepEqual(
      [...handed].sort((x, y) => x - y),
      range(0, 12),
    );
  });

  it('peers that open together take a piece of the origin each; alone, a peer ramps up to full ranges', () => {
    const h = harness({ originRangePieces: 4, firstOriginRangePieces: 1 });
    const hosts = ['a', 'b', 'c', 'd', 'e', 'f'];
    h.register(...hosts);
    for (const host of hosts) h.open(host, 6);
    const sent = h.drain();
    for (const host of hosts)
      assert.deepEqual(originRanges(sent, host), [{ first: hosts.indexOf(host), count: 1 }], host);

    const alone = harness({ originRangePieces: 4, firstOriginRangePieces: 1 });
    alone.register('a');
    alone.open('a', 16);
    const sizes: number[] = [];
    for (
      let next = originRanges(alone.drain(), 'a');
      next.length > 0;
      next = originRanges(alone.drain(), 'a')
    ) {
      const r = next[0]!;
      sizes.push(r.count);
      alone.report('a', { done: range(r.first, r.count).map((i) => originDone(i)), want: 0 });
    }
    assert.deepEqual(sizes, [1, 2, 4, 4, 4, 1], 'one, two, then full ranges to the end');
  });

  it('lets at most --origin-fetchers peers fetch a blob from the origin at once; a freed place goes on', () => {
    const h = harness({ originRangePieces: 4, firstOriginRangePieces: 1, originFetchers: 2 });
    h.register('a', 'b', 'c');
    for (const host of ['a', 'b', 'c']) h.open(host, 8);
    const sent = h.drain();
    assert.deepEqual(originRanges(sent, 'a'), [{ first: 0, count: 1 }]);
    assert.deepEqual(originRanges(sent, 'b'), [{ first: 1, count: 1 }]);
    assert.deepEqual(originRanges(sent, 'c'), [], 'two fetch already');
    assert.equal(h.state.tasks.get(DIGEST)!.originFetchers, 2);
    // a lands its piece: it goes on with a longer range, still two at once.
    h.report('a', { done: [originDone(0)], want: 0 });
    assert.deepEqual(originRanges(h.drain(), 'a'), [{ first: 2, count: 2 }]);
    assert.equal(h.state.tasks.get(DIGEST)!.originFetchers, 2);
    // b leaves: its place (and its piece) go to c.
    h.dispatcher.hostLeft('b');
    assert.deepEqual(originRanges(h.drain(), 'c'), [{ first: 1, count: 1 }]);
    assert.equal(h.state.tasks.get(DIGEST)!.originFetchers, 2);
  });

  it('reassigns a piece reported failed from the origin to a requester that can take it', () => {
    const h = harness();
    h.register('a', 'b', 'c');
    h.open('a', 8);
    h.open('b', 8);
    h.open('c', 8);
    assert.deepEqual(originRanges(h.drain(), 'c'), []);
    h.report('a', { failed: [{ index: 1, parent: '', reason: FailureReason.origin }] });
    const sent = h.drain();
    assert.deepEqual(originRanges(sent), [{ first: 1, count: 1 }]);
    assert.deepEqual(originRanges(sent, 'c'), [{ first: 1, count: 1 }]);
    assert.equal(h.state.tasks.get(DIGEST)!.originInFlight.get(1), 'c');
  });

  it('reassigns a whole failed range exactly once', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4);
    h.drain();
    h.report('a', {
      failed: range(0, 4).map((index) => ({ index, parent: '', reason: FailureReason.origin })),
    });
    const again = originRanges(h.drain());
    assert.deepEqual(
      again.flatMap((r) => range(r.first, r.count)),
      [0, 1, 2, 3],
    );
  });

  it('hands a stalled origin range to another requester after the timeout', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4);
    assert.deepEqual(originRanges(h.drain()), [{ first: 0, count: 4 }]);

    h.advance(ORIGIN_TIMEOUT);
    h.dispatcher.sweep();
    // b, waiting all this while, is told so (an assignment of nothing); nothing else happens.
    assert.deepEqual(
      h.drain().filter((m) => !isWaitingNotice(m)),
      [],
      'not stalled yet',
    );

    h.advance(1);
    h.dispatcher.sweep();
    const sent = h.drain();
    assert.deepEqual(originRanges(sent, 'a'), [], 'the stalled peer does not get its range back');
    assert.deepEqual(originRanges(sent, 'b'), [{ first: 0, count: 4 }]);
  });

  it('progress on a range keeps it from timing out', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.open('b', 4);
    h.drain();
    h.advance(ORIGIN_TIMEOUT - 1000);
    h.report('a', { done: [originDone(0)] });
    h.advance(ORIGIN_TIMEOUT - 1000);
    h.dispatcher.sweep();
    assert.deepEqual(originRanges(h.drain()), []);
    assert.deepEqual([...h.state.tasks.get(DIGEST)!.originInFlight.keys()], [1, 2, 3]);
  });

  it('keeps the origin-once rule under random opens, completions, failures and departures (property)', () => {
    const hostArb = fc.integer({ min: 0, max: 4 });
    const command = fc.oneof(
      fc.record({ kind: fc.constant('open' as const), host: hostArb, want: fc.integer({ min: 0, max: 4 }) }),
      fc.record({ kind: fc.constant('done' as const), host: hostArb, n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('fail' as const), host: hostArb, n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant('leave' as const), host: hostArb }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 16 }),
        fc.integer({ min: 1, max: 5 }),
        fc.array(command, { maxLength: 40 }),
        (pieces, rangePieces, commands) => {
          const h = harness({ originRangePieces: rangePieces, firstOriginRangePieces: 1, originFetchers: 2 });
          /** piece -> host fetching it from the origin, as told by the assignments */
          const live = new Map<number, string>();
          const have = new Map<string, Set<number>>();
          const joined = new Set<string>();
          const absorb = () => {
            for (const m of h.drain()) {
              for (const r of m.message.assignments?.origin ?? []) {
                for (const i of range(r.first, r.count)) {
                  assert.ok(i >= 0 && i < pieces, `origin piece ${i} out of range`);
                  assert.ok(!live.has(i), `piece ${i} handed to ${m.to} while ${live.get(i)} fetches it`);
                  for (const [host, set] of have) {
                    assert.ok(!set.has(i), `piece ${i} handed to the origin though ${host} holds it`);
                  }
                  live.set(i, m.to);
                }
              }
            }
          };
          const mine = (host: string) => [...live].filter(([, h2]) => h2 === host).map(([i]) => i);
          for (const c of commands) {
            const host = `h${c.host}`;
            if (c.kind === 'open') {
              if (!joined.has(host)) h.register(host);
              joined.add(host);
              have.set(host, have.get(host) ?? new Set());
              h.open(host, pieces, c.want, DIGEST, have.get(host));
            } else if (!joined.has(host)) {
              continue;
            } else if (c.kind === 'done') {
              const done = mine(host).slice(0, c.n);
              for (const i of done) {
                live.delete(i);
                have.get(host)!.add(i);
              }
              h.report(host, { done: done.map((i) => originDone(i)), want: 0 });
            } else if (c.kind === 'fail') {
              const failed = mine(host).slice(0, c.n);
              for (const i of failed) live.delete(i);
              h.report(host, {
                failed: failed.map((index) => ({ index, parent: '', reason: FailureReason.origin })),
                want: 0,
              });
            } else {
              for (const i of mine(host)) live.delete(i);
              have.delete(host);
              joined.delete(host);
              h.dispatcher.hostLeft(host);
            }
            absorb();
            const task = h.state.tasks.get(DIGEST);
            for (let i = 0; task && i < task.pieceCount; i++) {
              const copies = [...task.peers.values()].filter((peer) => peer.inFlight.has(i)).length;
              assert.equal(task.inFlightCounts[i], copies, `piece ${i}: copies in flight counted`);
            }
            if (task) {
              const fetchers = [...task.peers.values()].filter((peer) => peer.origin).length;
              assert.equal(task.originFetchers, fetchers, 'origin fetchers counted');
            }
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Dispatcher: bad parents', () => {
  it('a mismatch blocklists the parent for the task: no further assignments from it', async () => {
    const h = harness();
    h.register('a', 'b', 'c');
    h.open('a', 4);
    h.report('a', { done: range(0, 4).map((i) => originDone(i)) });
    h.open('b', 4, 2);
    const toB = pieceAssignments(h.drain(), 'b');
    assert.deepEqual(
      toB.map((p) => [p.index, p.parent]),
      [
        [0, 'a'],
        [1, 'a'],
      ],
    );
    h.report('b', { failed: [{ index: 0, parent: 'a', reason: FailureReason.mismatch }], want: 4 });
    h.open('c', 4, 4);
    const sent = h.drain();
    assert.deepEqual(pieceAssignments(sent), [], 'a is blocklisted for this task');
    assert.ok(h.state.tasks.get(DIGEST)!.blocklist.has('a'));
    // Pieces only the blocklisted parent holds go back to the origin, once.
    const handed = originRanges(sent).flatMap((r) => range(r.first, r.count));
    assert.equal(new Set(handed).size, handed.length);
    assert.ok(handed.includes(0));
    assert.equal(await counter(h, 'shoal_scheduler_blocklist_events_total', { scope: 'task' }), 1);
    assert.equal(await counter(h, 'shoal_scheduler_blocklist_events_total', { scope: 'cluster' }), 0);
  });

  it('a parent that answers it no longer holds a piece is not named as its parent again', () => {
    const h = harness();
    h.register('a', 'b', 'c');
    h.open('a', 4);
    h.report('a', { done: range(0, 4).map((i) => originDone(i)) });
    h.open('b', 4, 2);
    assert.deepEqual(
      pieceAssignments(h.drain(), 'b').map((p) => p.parent),
      ['a', 'a'],
    );
    // a evicted the blob since: it answers "not here", which b reports.
    h.report('b', { failed: [{ index: 0, parent: 'a', reason: FailureReason.absent }], want: 4 });
    const sent = h.drain();
    assert.ok(
      pieceAssignments(sent, 'b').every((p) => p.parent !== 'a'),
      'a is no longer counted as a holder',
    );
    assert.ok(
      originRanges(sent, 'b')
        .flatMap((r) => range(r.first, r.count))
        .includes(0),
      'piece 0 goes to the origin',
    );
    const task = h.state.tasks.get(DIGEST)!;
    assert.equal(task.peers.get('a')!.have.count, 0);
    assert.equal(task.blocklist.has('a'), false, 'not a bad parent: it may hold the blob again');
  });

  it('a holder that evicted a blob and asks for it again is given it: what it opens with is what it holds', () => {
    const h = harness();
    h.register('a', 'b');
    h.open('a', 4);
    h.report('a', { done: range(0, 4).map((i) => originDone(i)) });
    h.dispatcher.taskDone('a', { digest: DIGEST, ok: true, error: '', digestMismatch: false });
    h.drain();
    // a evicted the blob without a word, and a client asks it for the blob again: it opens with nothing.
    h.open('a', 4, 4);
    const sent = h.drain();
    const origin = originRanges(sent, 'a').flatMap((r) => range(r.first, r.count));
    assert.ok(origin.includes(0), 'the opener holds nothing, so its first pieces come from the origin');
    const task = h.state.tasks.get(DIGEST)!;
    assert.equal(task.peers.get('a')!.have.count, 0);
    assert.equal(task.holders[0]!.size, 0, 'nobody else is named a holder of piece 0 either');
  });

  it(`after ${CLUSTER_STRIKE_LIMIT} strikes the parent is blocklisted cluster-wide`, async () => {
    const h = harness();
    const complete = (n: number) => ({
      digest: digestOf(n),
      size: 2 * PIECE,
      pieceSize: 0,
      bitfield: new Uint8Array(0),
      complete: true,
    });
    // x holds a blob per strike plus two more to probe with.
    const probes = [CLUSTER_STRIKE_LIMIT, CLUSTER_STRIKE_LIMIT + 1];
    h.dispatcher.register(
      'x',
      registerMessage('x', { holdings: [...range(0, CLUSTER_STRIKE_LIMIT), ...probes].map(complete) }),
    );
    h.register('r', 'before', 'after');
    const strike = (n: number) => {
      h.open('r', 2, 1, digestOf(n));
      const got = pieceAssignments(h.drain(), 'r');
      assert.deepEqual(
        got.map((p) => p.parent),
        ['x'],
      );
      h.report(
        'r',
        { failed: [{ index: got[0]!.index, parent: 'x', reason: FailureReason.mismatch }], want: 0 },
        digestOf(n),
      );
      h.drain();
    };
    for (let n = 0; n < CLUSTER_STRIKE_LIMIT - 1; n++) strike(n);
    h.open('before', 2, 2, digestOf(probes[0]!));
    assert.deepEqual(parentsAssigned(h, 'before'), ['x', 'x'], 'still trusted in other tasks');
    assert.equal(h.state.hosts.isBlocked('x'), false);

    strike(CLUSTER_STRIKE_LIMIT - 1);
    assert.equal(h.state.hosts.isBlocked('x'), true);
    h.open('after', 2, 2, digestOf(probes[1]!));
    const sent = h.drain();
    assert.deepEqual(pieceAssignments(sent), [], 'blocklisted in a task it was never struck in');
    assert.deepEqual(originRanges(sent, 'after'), [{ first: 0, count: 2 }]);
    assert.equal(await counter(h, 'shoal_scheduler_blocklist_events_total', { scope: 'cluster' }), 1);
  });
});

describe('Dispatcher: hosts leaving', () => {
  it('removes its pieces from the holders and frees its origin range for others', () => {
    const h = harness();
    h.register('a', 'b', 'c');
    h.open('a', 8);
    h.open('b', 8);
    h.report('b', { done: [originDone(4)] });
    h.open('c', 8, 4);
    const before = h.drain();
    assert.deepEqual(
      pieceAssignments(before, 'c').map((p) => [p.index, p.parent]),
      [[4, 'b']],
    );
    assert.deepEqual(originRanges(before, 'c'), []);

    h.dispatcher.hostLeft('b');
    const task = h.state.tasks.get(DIGEST)!;
    assert.equal(task.holders[4]!.has('b'), false);
    assert.equal(h.state.hosts.get('b'), undefined);
    const sent = h.drain();
    assert.deepEqual(originRanges(sent, 'c'), [{ first: 4, count: 4 }]);
    assert.deepEqual(originRanges(sent, 'a'), []);
    for (const i of range(4, 4)) assert.equal(task.originInFlight.get(i), 'c');
  });

  it('puts pieces only the departing host held back to the origin, for peers waiting without a range', () => {
    const h = harness({ originRangePieces: 2 });
    h.register('a', 'b', 'c');
    h.open('a', 4); // origin 0..1
    h.open('b', 4); // origin 2..3
    h.report('a', { done: [originDone(0), originDone(1)], want: 0 });
    h.report('b', { done: [originDone(2), originDone(3)], want: 0 });
    h.open('c', 4, 0); // wants nothing from peers yet, holds no range
    h.drain();
    h.dispatcher.hostLeft('a');
    // Pieces 0 and 1 have no holder left (b was still fetching them from a): b and c share them, each
    // fetched from the origin once.
    assert.deepEqual(
      originRanges(h.drain())
        .flatMap((r) => range(r.first, r.count))
        .sort(),
      [0, 1],
    );
  });

  it('asks no one for origin work when what the departing host held is held elsewhere too', () => {
    const h = harness({ originRangePieces: 2 });
    h.register('a', 'b', 'c');
    h.open('a', 2); // origin 0..1
    h.report('a', { done: [originDone(0), originDone(1)], want: 0 });
    h.dispatcher.taskDone('a', { digest: DIGEST, ok: true, error: '', digestMismatch: false });
    h.open('b', 2, 0);
    h.report('b', { done: [peerDone(0, 'a'), peerDone(1, 'a')], want: 0 });
    h.open('c', 2, 0);
    h.drain();
    h.dispatcher.hostLeft('a');
    assert.deepEqual(originRanges(h.drain()), []);
  });

  it("frees the parents' upload slots a departing downloader held", () => {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', {
        uploadSlots: 1,
        holdings: [
          {
            digest: DIGEST,
            size: 4 * PIECE,
            pieceSize: 0,
            bitfield: new Uint8Array(0),
            complete: true,
          },
        ],
      }),
    );
    h.register('a', 'b');
    h.open('a', 4, 4);
    h.open('b', 4, 4);
    const sent = h.drain();
    assert.equal(pieceAssignments(sent, 'a').length, 1);
    assert.equal(pieceAssignments(sent, 'b').length, 0, 'p has a single slot');

    h.dispatcher.hostLeft('a');
    assert.deepEqual(parentsAssigned(h, 'b'), ['p']);
    // The single slot is now b's, and only b's.
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
  });

  it('forgets a task once its last peer left', () => {
    const h = harness();
    h.register('a');
    h.open('a', 4);
    h.dispatcher.hostLeft('a');
    assert.equal(h.state.tasks.size, 0);
    assert.equal(h.state.hosts.size, 0);
  });
});

describe('Dispatcher: piece timeouts', () => {
  it('frees the slot of a silent piece assignment once the piece had as long as it needs at the slowest rate waited for', () => {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', {
        uploadSlots: 1,
        holdings: [
          {
            digest: DIGEST,
            size: 2 * PIECE,
            pieceSize: 0,
            bitfield: new Bitfield(2, new Uint8Array([0b1100_0000])).bytes,
            complete: false,
          },
        ],
      }),
    );
    h.register('a');
    h.open('a', 2, 1);
    assert.equal(pieceAssignments(h.drain(), 'a').length, 1);
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
    // 2 MiB at 64 KiB/s: longer than the floor of 15 s, which would fail every piece of a slow link.
    const deadline = pieceTimeoutMs(PIECE, PIECE_TIMEOUT);
    assert.equal(deadline, 32_000);
    h.advance(deadline);
    h.dispatcher.sweep();
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1, 'not timed out yet');
    h.advance(1);
    h.dispatcher.sweep();
    const task = h.state.tasks.get(DIGEST)!;
    assert.equal(task.peers.get('a')!.inFlight.size, 0);
    assert.equal(h.state.hosts.get('p')!.activeUploads, 0);
    // The piece can be issued again.
    h.report('a', { want: 1 });
    assert.deepEqual(parentsAssigned(h, 'a'), ['p']);
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
  });
});

describe('Dispatcher: peers kept waiting', () => {
  it(`tells a starved peer it waits its turn every ${WAITING_NOTICE_MS} ms, by an assignment of nothing`, async () => {
    const h = harness();
    h.dispatcher.register('p', registerMessage('p', { uploadSlots: 1, holdings: [completeHolding(DIGEST)] }));
    h.register('a', 'b');
    h.open('a', 4, 1); // takes p's only slot
    h.open('b', 4, 1); // waits for it
    assert.equal(pieceAssignments(h.drain(), 'b').length, 0);
    const notices = () =>
      h
        .drain()
        .filter((m) => m.to === 'b' && m.message.assignments && m.message.assignments.pieces.length === 0);
    h.advance(WAITING_NOTICE_MS - 1);
    h.dispatcher.sweep();
    assert.equal(notices().length, 0, 'not yet');
    h.advance(1);
    h.dispatcher.sweep();
    const told = notices();
    assert.equal(told.length, 1);
    assert.deepEqual(told[0]!.message.assignments, { digest: DIGEST, pieces: [], origin: [] });
    h.advance(WAITING_NOTICE_MS - 1);
    h.dispatcher.sweep();
    assert.equal(notices().length, 0, 'once per period');
    // a, which has its piece on its way, wants nothing more: it is not told anything.
    assert.equal(h.drain().filter((m) => m.to === 'a').length, 0);
    h.advance(1);
    h.dispatcher.sweep();
    assert.equal(notices().length, 1);
    assert.equal(await counter(h, 'shoal_scheduler_waiting_notices_total'), 2);
  });

  it('a peer that got pieces lately is not told it waits', () => {
    const h = harness();
    h.dispatcher.register('p', registerMessage('p', { uploadSlots: 1, holdings: [completeHolding(DIGEST)] }));
    h.register('a');
    h.open('a', 4, 2); // one piece from p's only slot; it wants another
    assert.equal(pieceAssignments(h.drain(), 'a').length, 1);
    h.advance(WAITING_NOTICE_MS / 2);
    const piece = h.state.tasks.get(DIGEST)!.peers.get('a')!.inFlight.keys().next().value!;
    h.report('a', { done: [peerDone(piece, 'p')], want: 2 });
    assert.equal(pieceAssignments(h.drain(), 'a').length, 1, 'the freed slot again');
    h.advance(WAITING_NOTICE_MS - 1);
    h.dispatcher.sweep();
    assert.deepEqual(
      h.drain().filter((m) => m.to === 'a'),
      [],
    );
  });
});

describe('Dispatcher: upload slots shared across tasks', () => {
  /** p holds two complete blobs and serves one piece at a time. */
  function oneSlotParent(): Harness {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', {
        uploadSlots: 1,
        holdings: [completeHolding(digestOf(1)), completeHolding(digestOf(2))],
      }),
    );
    h.register('a', 'b');
    return h;
  }

  it('a slot freed by a report in one task serves a peer waiting in another', () => {
    const h = oneSlotParent();
    h.open('a', 4, 1, digestOf(1));
    h.open('b', 4, 1, digestOf(2));
    const first = h.drain();
    assert.equal(pieceAssignments(first, 'a').length, 1);
    assert.equal(pieceAssignments(first, 'b').length, 0, 'p has no free slot yet');
    const piece = pieceAssignments(first, 'a')[0]!;
    h.report('a', { done: [peerDone(piece.index, 'p')], want: 0 }, digestOf(1));
    const next = h.drain();
    assert.deepEqual(
      pieceAssignments(next, 'b').map((p) => p.parent),
      ['p'],
      'b, waiting in the other task, gets the freed slot',
    );
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
  });

  it('a report serves its sender in the other blobs it waits for before the one it reports, when they are behind', () => {
    const h = oneSlotParent();
    h.open('a', 4, 1, digestOf(1));
    h.open('a', 4, 1, digestOf(2));
    const first = h.drain();
    const pieces = pieceAssignments(first, 'a');
    assert.equal(pieces.length, 1, 'p has one slot: a waits in blob 2');
    // a lands its blob-1 piece and wants the next one: blob 2, waiting longer, gets p's freed slot.
    h.report('a', { done: [peerDone(pieces[0]!.index, 'p')], want: 1 }, digestOf(1));
    const next = h.drain().filter((m) => m.message.assignments && m.message.assignments.pieces.length > 0);
    assert.deepEqual(
      next.map((m) => [m.message.assignments!.digest, m.message.assignments!.pieces.map((p) => p.parent)]),
      [[digestOf(2), ['p']]],
    );
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
  });

  it('a report serves its sender in another blob first only when that blob is further behind', () => {
    const h = oneSlotParent();
    h.open('a', 4, 1, digestOf(1));
    h.open('a', 4, 1, digestOf(2), [0, 1, 2]); // blob 2: three of four pieces already
    const pieces = pieceAssignments(h.drain(), 'a');
    assert.equal(pieces.length, 1);
    h.report('a', { done: [peerDone(pieces[0]!.index, 'p')], want: 1 }, digestOf(1));
    const next = h.drain().filter((m) => m.message.assignments && m.message.assignments.pieces.length > 0);
    assert.deepEqual(
      next.map((m) => m.message.assignments!.digest),
      [digestOf(1)],
      'blob 1 (one of four) is behind blob 2 (three of four): the reported blob keeps the slot',
    );
  });

  it('taskDone gives back the slots of fetches the peer no longer reports', () => {
    const h = oneSlotParent();
    h.open('a', 4, 1, digestOf(1));
    h.open('b', 4, 1, digestOf(2));
    assert.equal(pieceAssignments(h.drain(), 'a').length, 1);
    // a finished the blob another way (its in-flight piece is never reported).
    h.dispatcher.taskDone('a', { digest: digestOf(1), ok: true, error: '', digestMismatch: false });
    assert.equal(h.state.tasks.get(digestOf(1))!.peers.get('a')!.inFlight.size, 0);
    assert.deepEqual(parentsAssigned(h, 'b'), ['p']);
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1);
  });

  /** p alone holds blob 1, r alone blob 2, one upload slot each; `waitingForR` peers wait for r, then x for p. */
  function slotFreedBehind(waitingForR: number) {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', { uploadSlots: 1, holdings: [completeHolding(digestOf(1))] }),
    );
    h.dispatcher.register(
      'r',
      registerMessage('r', { uploadSlots: 1, holdings: [completeHolding(digestOf(2))] }),
    );
    const waiting = Array.from({ length: waitingForR + 1 }, (_, i) => `b${i}`);
    h.register(...waiting, 'q', 'x');
    for (const b of waiting) h.open(b, 4, 1, digestOf(2)); // b0 takes r's slot, the others wait for r
    h.open('q', 4, 1, digestOf(1)); // takes p's slot
    h.open('x', 4, 1, digestOf(1)); // waits for p, behind the others
    h.drain();
    return h;
  }

  it('a freed slot passes over starved peers its host holds nothing for', () => {
    const h = slotFreedBehind(4);
    // p's slot comes back: the four waiting for r are older, but p holds nothing they lack.
    h.dispatcher.hostLeft('q');
    assert.deepEqual(
      pieceAssignments(h.drain()).map((a) => [a.to, a.parent]),
      [['x', 'p']],
    );
  });

  it('the sweep serves a starved peer that a freed slot was not offered to', () => {
    // More peers wait for r than a freed slot looks at (4 tries x 4 looks): x is not reached.
    const h = slotFreedBehind(20);
    h.dispatcher.hostLeft('q');
    assert.deepEqual(pieceAssignments(h.drain()), []);
    h.dispatcher.sweep();
    assert.deepEqual(
      pieceAssignments(h.drain()).map((a) => [a.to, a.parent]),
      [['x', 'p']],
    );
  });

  /** x waits for p's only slot; then n registers holding the blob, which no event offers to x. */
  function capacityWithoutAnEvent() {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', { uploadSlots: 1, holdings: [completeHolding(digestOf(1))] }),
    );
    h.register('q', 'x');
    h.open('q', 4, 1, digestOf(1)); // takes p's slot
    h.open('x', 4, 1, digestOf(1)); // waits for p
    h.drain();
    h.dispatcher.register(
      'n',
      registerMessage('n', { uploadSlots: 1, holdings: [completeHolding(digestOf(1))] }),
    );
    return h;
  }

  it('the sweep serves a starved peer when capacity arrives without an event that offers it', () => {
    const h = capacityWithoutAnEvent();
    // Registration hands out nothing, the sweep finds it.
    assert.deepEqual(pieceAssignments(h.drain()), []);
    h.dispatcher.sweep();
    assert.deepEqual(
      pieceAssignments(h.drain()).map((a) => [a.to, a.parent]),
      [['x', 'n']],
    );
  });

  it('the sweep leaves retries past its deadline to retryStarved, which serves them', () => {
    const h = capacityWithoutAnEvent();
    // A deadline already past: nothing is retried yet, and the sweep says so.
    assert.equal(h.dispatcher.sweep(0), true);
    assert.deepEqual(pieceAssignments(h.drain()), []);
    assert.equal(h.dispatcher.retryStarved(), false);
    assert.deepEqual(
      pieceAssignments(h.drain()).map((a) => [a.to, a.parent]),
      [['x', 'n']],
    );
    assert.equal(h.dispatcher.retryStarved(), false, 'nothing is left to retry');
  });

  it('a departing downloader frees slots for peers waiting in other tasks', () => {
    const h = oneSlotParent();
    h.open('a', 4, 1, digestOf(1));
    h.open('b', 4, 1, digestOf(2));
    h.drain();
    h.dispatcher.hostLeft('a');
    assert.deepEqual(parentsAssigned(h, 'b'), ['p']);
  });
});

describe('Dispatcher: the endgame', () => {
  /** A holding of the whole 8-piece blob, as announced at registration. */
  const whole = {
    digest: DIGEST,
    size: 8 * PIECE,
    pieceSize: 0,
    bitfield: new Uint8Array(0),
    complete: true,
  };

  /** p holds the whole 8-piece blob and sends all of it to a; q, which holds it too, arrives after. */
  function lastPiecesFromP() {
    const h = harness();
    h.dispatcher.register('p', registerMessage('p', { holdings: [whole] }));
    h.register('a');
    h.open('a', 8, 8);
    assert.deepEqual(parentsAssigned(h, 'a'), Array(8).fill('p'));
    h.dispatcher.register('q', registerMessage('q', { holdings: [whole] }));
    h.drain();
    return h;
  }

  /** Then a has landed pieces 0-3 from p, wants `want` more, and its last four have been on their way long. */
  function stuckWithP(want: number) {
    const h = lastPiecesFromP();
    h.report('a', { done: range(0, 4).map((i) => peerDone(i, 'p')), want });
    h.advance(ENDGAME_AFTER_MS);
    h.dispatcher.sweep();
    h.drain();
    return { h, a: h.state.tasks.get(DIGEST)!.peers.get('a')! };
  }

  it("asks a second parent for a requester's last pieces, all long on their way, and counts it", async () => {
    const h = lastPiecesFromP();
    h.report('a', { done: range(0, 4).map((i) => peerDone(i, 'p')), want: 4 });
    assert.deepEqual(pieceAssignments(h.drain(), 'a'), [], 'not yet: the pieces only just left');
    h.advance(ENDGAME_AFTER_MS - 1);
    h.dispatcher.sweep();
    assert.deepEqual(pieceAssignments(h.drain(), 'a'), [], 'not yet');
    h.advance(1);
    h.dispatcher.sweep();
    const seconds = pieceAssignments(h.drain(), 'a');
    assert.deepEqual(
      seconds.map((p) => [p.index, p.parent]),
      range(4, 4).map((i) => [i, 'q']),
    );
    for (const p of seconds) assert.deepEqual(p.parentAddrs, addrsOf('q'));
    assert.equal(h.state.hosts.get('p')!.activeUploads, 4);
    assert.equal(h.state.hosts.get('q')!.activeUploads, 4);
    assert.equal(await counter(h, 'shoal_scheduler_assignments_total', { kind: 'endgame' }), 4);
    assert.equal(await counter(h, 'shoal_scheduler_assignments_total', { kind: 'peer' }), 8);
    assert.equal(
      await counter(h, 'shoal_scheduler_decisions_total', { trigger: 'endgame', outcome: 'assigned' }),
      1,
    );

    // Asked again, it doubles no piece twice.
    h.report('a', { want: 4 });
    assert.deepEqual(pieceAssignments(h.drain(), 'a'), []);
  });

  it('the first copy to land frees both slots; a failed fetch leaves the other going on', () => {
    const { h, a } = stuckWithP(4);
    const uploads = () => [h.state.hosts.get('p')!.activeUploads, h.state.hosts.get('q')!.activeUploads];

    h.report('a', { done: [peerDone(4, 'q')], want: 0 });
    assert.deepEqual(uploads(), [3, 3]);
    assert.equal(a.inFlight.has(4), false);

    h.report('a', { failed: [{ index: 5, parent: 'q', reason: FailureReason.unavailable }], want: 0 });
    assert.deepEqual(uploads(), [3, 2]);
    assert.deepEqual({ ...a.inFlight.get(5)!, since: 0 }, { parent: 'p', since: 0 });

    h.report('a', { failed: [{ index: 6, parent: 'p', reason: FailureReason.unavailable }], want: 0 });
    assert.deepEqual(uploads(), [2, 2]);
    assert.equal(a.inFlight.get(6)!.parent, 'q', "q's fetch of it is the one left");
    assert.equal(a.inFlight.get(6)!.second, undefined);

    h.dispatcher.taskDone('a', { digest: DIGEST, ok: true, error: '', digestMismatch: false });
    assert.deepEqual(uploads(), [0, 0]);
  });

  it('a parent leaving hands its pieces to their second fetches', () => {
    const { h, a } = stuckWithP(2);
    assert.deepEqual(
      [4, 5].map((i) => a.inFlight.get(i)!.second?.parent),
      ['q', 'q'],
    );
    h.dispatcher.hostLeft('p');
    assert.deepEqual(
      [4, 5, 6, 7].map((i) => a.inFlight.get(i)?.parent),
      ['q', 'q', undefined, undefined],
    );
    assert.equal(h.state.hosts.get('q')!.activeUploads, 2);
  });

  it('does not start while the requester lacks pieces nobody sends it yet', () => {
    const h = harness();
    const bits = (...pieces: number[]) => {
      const b = new Bitfield(8);
      for (const i of pieces) b.set(i);
      return b.bytes;
    };
    h.dispatcher.register('p', registerMessage('p', { holdings: [whole], uploadSlots: 2 }));
    // q holds piece 4 alone, with every slot free.
    const four = {
      digest: DIGEST,
      size: 8 * PIECE,
      pieceSize: PIECE,
      bitfield: bits(4),
      complete: false,
    };
    h.dispatcher.register('q', registerMessage('q', { holdings: [four] }));
    h.register('a');
    // a lacks four pieces: p sends two, nobody the other two.
    h.dispatcher.openTask('a', {
      digest: DIGEST,
      size: 8 * PIECE,
      bitfield: bits(0, 1, 2, 3),
      want: 6,
    });
    const sent = pieceAssignments(h.drain(), 'a');
    assert.deepEqual(sent.map((p) => [p.index, p.parent]).sort(), [
      [4, 'q'],
      [5, 'p'],
      [6, 'p'],
    ]);
    h.advance(ENDGAME_AFTER_MS);
    h.dispatcher.sweep();
    h.report('a', { want: 3 });
    assert.deepEqual(pieceAssignments(h.drain(), 'a'), [], 'piece 7 has no sender: no second fetches');
    assert.equal(
      [...h.state.tasks.get(DIGEST)!.peers.get('a')!.inFlight.values()].some((f) => f.second),
      false,
    );
  });
});

describe('Dispatcher: a holder that dropped a blob', () => {
  it('is no longer named as its parent, and still is for the blobs it kept', () => {
    const h = harness();
    h.dispatcher.register(
      'p',
      registerMessage('p', { holdings: [completeHolding(digestOf(1)), completeHolding(digestOf(2))] }),
    );
    h.register('a');
    h.dispatcher.dropped('p', { digests: [digestOf(1), digestOf(9), 'not a digest'] });
    h.open('a', 4, 4, digestOf(1));
    const first = h.drain();
    assert.deepEqual(pieceAssignments(first, 'a'), [], 'nothing from p');
    assert.ok(originRanges(first, 'a').length > 0, 'the origin instead');
    h.open('a', 4, 4, digestOf(2));
    const kept = parentsAssigned(h, 'a');
    assert.ok(kept.length > 0 && kept.every((parent) => parent === 'p'), `parents ${kept}`);
  });
});

describe('Dispatcher: leases', () => {
  /** p holds all 64 pieces of a blob; c opens it wanting `want` leases. */
  function leased(want: number, leasePieces = 4) {
    const h = harness({ leasePieces, leaseMinPeers: 1 });
    h.register('p', 'c');
    h.dispatcher.register(
      'p',
      registerMessage('p', { holdings: [{ ...completeHolding(DIGEST), size: 64 * PIECE }] }),
    );
    h.drain();
    h.open('c', 64, want);
    const pieces = pieceAssignments(h.drain(), 'c');
    return { h, pieces };
  }

  it('hands out leases of several pieces, numbered within the message, one parent slot each', () => {
    const { h, pieces } = leased(2);
    assert.equal(pieces.length, 8, 'two leases of four pieces');
    assert.deepEqual(
      pieces.map((p) => p.lease),
      [1, 1, 1, 1, 2, 2, 2, 2],
    );
    assert.ok(pieces.every((p) => p.parent === 'p'));
    assert.equal(new Set(pieces.map((p) => p.index)).size, 8, 'no piece twice');
    assert.equal(h.state.hosts.get('p')!.activeUploads, 2, 'a slot per lease, not per piece');
  });

  it("gives the parent's slot back when the lease's last piece is reported, not before", () => {
    const { h, pieces } = leased(1);
    const lease = pieces.map((p) => p.index);
    h.report('c', { done: lease.slice(0, 3).map((i) => peerDone(i, 'p')), want: 0 });
    assert.equal(h.state.hosts.get('p')!.activeUploads, 1, 'three of four landed: the slot is still taken');
    h.report('c', {
      failed: [{ index: lease[3]!, parent: 'p', reason: FailureReason.unavailable }],
      want: 0,
    });
    assert.equal(h.state.hosts.get('p')!.activeUploads, 0);
  });

  it("times a lease's pieces from its last progress: a lease that lands pieces is not expired", () => {
    const { h, pieces } = leased(1);
    const timeout = pieceTimeoutMs(PIECE, PIECE_TIMEOUT);
    for (const [n, index] of pieces
      .map((p) => p.index)
      .slice(0, 3)
      .entries()) {
      h.advance(timeout - 1);
      h.report('c', { done: [peerDone(index, 'p')], want: 0 });
      h.dispatcher.sweep();
      assert.equal(
        h.state.tasks.get(DIGEST)!.peers.get('c')!.inFlight.size,
        3 - n,
        'the rest still on its way',
      );
    }
    h.advance(timeout + 1);
    h.dispatcher.sweep();
    assert.equal(h.state.tasks.get(DIGEST)!.peers.get('c')!.inFlight.has(pieces[3]!.index), false);
    assert.equal(h.state.hosts.get('p')!.activeUploads, 0, 'the silent lease gave its slot back');
  });

  it('spreads the last pieces over leases of one piece', () => {
    const h = harness({ leasePieces: 16, leaseMinPeers: 1 });
    h.register('p', 'c');
    h.dispatcher.register('p', registerMessage('p', { holdings: [completeHolding(DIGEST)] }));
    h.drain();
    h.open('c', 4, 4);
    const pieces = pieceAssignments(h.drain(), 'c');
    assert.deepEqual(
      pieces.map((p) => p.lease),
      [0, 0, 0, 0],
      'four pieces left for four slots: one each, side by side',
    );
  });
});

describe('Dispatcher: pending pieces', () => {
  /**
   * q holds all 64 pieces and has one upload slot, which p's lease of four takes; p also holds piece
   * 63. c then finds p the only free parent: its lease holds p's piece 63 and, pending, pieces on
   * their way to p.
   */
  function pendingLease(pendingPieces = true) {
    const h = harness({ leasePieces: 4, leaseMinPeers: 1, pendingPieces });
    h.register('p', 'c');
    h.dispatcher.register(
      'q',
      registerMessage('q', { uploadSlots: 1, holdings: [{ ...completeHolding(DIGEST), size: 64 * PIECE }] }),
    );
    h.drain();
    h.open('p', 64, 1, DIGEST, [63]);
    // The table entries origin reports would have filled in: a pending piece is handed out only with one.
    const task = h.state.tasks.get(DIGEST)!;
    for (let index = 0; index < 64; index++) task.table[index] = pieceHash(DIGEST, index);
    const toP = pieceAssignments(h.drain(), 'p');
    assert.equal(toP.length, 4);
    assert.ok(toP.every((a) => a.parent === 'q' && !a.pending));
    h.open('c', 64, 1);
    return { h, toP, toC: pieceAssignments(h.drain(), 'c') };
  }

  it('puts the piece on its way to a parent in a lease from it, marked pending, with its table entry', () => {
    const { toP, toC } = pendingLease();
    // Of p's lease of four, only the piece under way: the others wait behind it at p.
    assert.deepEqual(
      toC.map((a) => ({ index: a.index, parent: a.parent, pending: a.pending })),
      [
        { index: 63, parent: 'p', pending: false },
        { index: toP[0]!.index, parent: 'p', pending: true },
      ],
    );
    for (const a of toC) assert.deepEqual(a.sha256, pieceHash(DIGEST, a.index));
  });

  it('hands out none unless the scheduler is told to', () => {
    const { toC } = pendingLease(false);
    assert.deepEqual(
      toC.map((a) => ({ index: a.index, pending: a.pending })),
      [{ index: 63, pending: false }],
    );
  });

  it('keeps a parent as holder when a pending piece did not come, not when a held one did not', () => {
    const { h, toC } = pendingLease();
    const task = h.state.tasks.get(DIGEST)!;
    const pending = toC.find((a) => a.pending)!;
    h.report('c', { failed: [{ index: pending.index, parent: 'p', reason: FailureReason.absent }], want: 0 });
    assert.equal(task.peers.get('p')!.have.has(63), true, 'a pending piece says nothing of what p holds');
    h.report('c', { failed: [{ index: 63, parent: 'p', reason: FailureReason.absent }], want: 0 });
    assert.equal(
      task.peers.get('p')!.have.has(63),
      false,
      'p said it lacks a piece it was counted as holding',
    );
  });
});

describe('Dispatcher: leases in a small swarm', () => {
  it('gives one piece per assignment while a task has fewer than leaseMinPeers peers, leases from then on', () => {
    const h = harness({ leasePieces: 4, leaseMinPeers: 3 });
    h.register('p', 'c', 'd');
    h.dispatcher.register(
      'p',
      registerMessage('p', { holdings: [{ ...completeHolding(DIGEST), size: 64 * PIECE }] }),
    );
    h.drain();
    h.open('c', 64, 2);
    assert.deepEqual(
      pieceAssignments(h.drain(), 'c').map((p) => p.lease),
      [0, 0],
      'two peers in the task: a piece each',
    );
    h.open('d', 64, 1);
    assert.deepEqual(
      pieceAssignments(h.drain(), 'd').map((p) => p.lease),
      [1, 1, 1, 1],
      'three: a lease of four',
    );
  });
});

describe('Dispatcher: a client reading through a peer', () => {
  it('gives the peer the pieces its client reads next first, from what it reports', () => {
    const h = harness();
    h.register('p', 'c');
    h.dispatcher.register(
      'p',
      registerMessage('p', { holdings: [{ ...completeHolding(DIGEST), size: 16 * PIECE }] }),
    );
    h.drain();
    h.dispatcher.openTask('c', { ...openMessage(16, 1), reading: 9 });
    assert.deepEqual(
      pieceAssignments(h.drain(), 'c').map((p) => p.index),
      [9],
    );
    h.report('c', { done: [peerDone(9, 'p')], want: 2 });
    assert.deepEqual(
      pieceAssignments(h.drain(), 'c').map((p) => p.index),
      [0, 1],
      'no reader any more: lowest index among equally rare pieces',
    );
    h.dispatcher.report('c', { digest: DIGEST, done: [], failed: [], want: 1, reading: 12 });
    assert.deepEqual(
      pieceAssignments(h.drain(), 'c').map((p) => p.index),
      [12],
    );
  });
});
