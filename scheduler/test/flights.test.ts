import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIB } from '@shoal/protocol';
import fc from 'fast-check';
import type { Lease } from '../src/state/flights.ts';
import { SwarmState } from '../src/state/swarm-state.ts';
import type { SwarmTask } from '../src/state/task.ts';

const DIGESTS = [`sha256:${'e1'.repeat(32)}`, `sha256:${'f2'.repeat(32)}`];
/** 8 pieces of 1 MiB per task */
const SIZE = 8 * MIB;
const TIMEOUT = 15_000;

/** A swarm of connected hosts with room to upload, and one task of 8 pieces. */
function swarm(hosts = ['a', 'b', 'p', 'q', 'r'], slots = 4) {
  const state = new SwarmState();
  for (const id of hosts) state.hosts.upsert(id, { addrs: [], labels: {}, uploadSlots: slots }, 0);
  const task = state.task(DIGESTS[0]!, SIZE, MIB)!;
  return { state, task, flights: state.flights };
}

function uploads(state: SwarmState, ...hosts: string[]): number[] {
  return hosts.map((id) => state.hosts.get(id)!.activeUploads);
}

/** Nothing of the piece is on its way to the peer any more, and the parent has its slot back. */
function assertEnded(state: SwarmState, task: SwarmTask, peer: string, index: number, parent: string): void {
  assert.equal(task.peers.get(peer)!.inFlight.has(index), false);
  assert.equal(task.inFlightCounts[index], 0);
  assert.equal(state.hosts.get(parent)!.activeUploads, 0);
}

/** Piece index -> the parent of each fetch of it, first then second, for one peer. */
function fetchesOf(task: SwarmTask, peer: string): Record<number, string[]> {
  const out: Record<number, string[]> = {};
  for (const [index, flight] of task.peers.get(peer)?.inFlight ?? [])
    out[index] = flight.second ? [flight.parent, flight.second.parent] : [flight.parent];
  return out;
}

describe('Flights: one fetch', () => {
  it('starting a fetch counts it for the peer, the piece and the parent', () => {
    const { state, task, flights } = swarm();
    flights.start(task, task.peer('a'), 3, 'p', 100);
    assert.deepEqual(task.peers.get('a')!.inFlight.get(3), { parent: 'p', since: 100 });
    assert.equal(task.inFlightCounts[3], 1);
    assert.deepEqual(uploads(state, 'p'), [1]);
    flights.start(task, task.peer('b'), 3, 'p', 100);
    assert.equal(task.inFlightCounts[3], 2, 'two peers fetch the piece');
    assert.deepEqual(uploads(state, 'p'), [2]);
  });

  it('landing ends it and gives the slot back, once', () => {
    const { state, task, flights } = swarm();
    const a = task.peer('a');
    flights.start(task, a, 3, 'p', 100);
    flights.takeFreed();
    assert.deepEqual(flights.land(task, a, 3, 200), { parent: 'p', since: 100 });
    assertEnded(state, task, 'a', 3, 'p');
    assert.deepEqual([...flights.takeFreed()], ['p'], 'offered to starved peers');
    assert.equal(flights.land(task, a, 3, 200), undefined, 'a piece not on its way');
    assertEnded(state, task, 'a', 3, 'p');
    assert.deepEqual([...flights.takeFreed()], []);
  });

  it('failing ends it and gives the slot back', () => {
    const { state, task, flights } = swarm();
    const a = task.peer('a');
    flights.start(task, a, 3, 'p', 100);
    flights.fail(task, a, 3, 'p');
    assertEnded(state, task, 'a', 3, 'p');
    flights.fail(task, a, 3, 'p');
    assertEnded(state, task, 'a', 3, 'p');
  });

  it('a fetch silent past the timeout is given up, not before', () => {
    const { state, task, flights } = swarm();
    const a = task.peer('a');
    flights.start(task, a, 3, 'p', 0);
    assert.equal(flights.expire(task, a, TIMEOUT, TIMEOUT), false);
    assert.deepEqual(uploads(state, 'p'), [1]);
    assert.equal(flights.expire(task, a, TIMEOUT + 1, TIMEOUT), true);
    assertEnded(state, task, 'a', 3, 'p');
  });
});

describe("Flights: the endgame's second fetch", () => {
  /** Peer a fetches piece 5 from p since 0, and a second time from q since 6000. */
  function doubled() {
    const s = swarm();
    const a = s.task.peer('a');
    s.flights.start(s.task, a, 5, 'p', 0);
    s.flights.startSecond(a, 5, 'q', 6_000);
    s.flights.takeFreed();
    return { ...s, a };
  }

  it('takes a second slot, but the piece is counted once', () => {
    const { state, task, a } = doubled();
    assert.deepEqual(fetchesOf(task, 'a'), { 5: ['p', 'q'] });
    assert.deepEqual(uploads(state, 'p', 'q'), [1, 1]);
    assert.equal(task.inFlightCounts[5], 1);
    assert.equal(a.inFlight.size, 1);
  });

  it('the first copy to land gives both slots back', () => {
    const { state, task, flights, a } = doubled();
    assert.equal(
      flights.land(task, a, 5, 200)?.second?.parent,
      'q',
      'the caller can tell which parent sent it',
    );
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 0]);
    assert.equal(task.inFlightCounts[5], 0);
    assert.deepEqual([...flights.takeFreed()], ['p', 'q']);
  });

  it('is promoted when the first fetch fails, keeping its own start', () => {
    const { state, task, flights, a } = doubled();
    flights.fail(task, a, 5, 'p');
    assert.deepEqual(a.inFlight.get(5), { parent: 'q', since: 6_000 });
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 1]);
    assert.equal(task.inFlightCounts[5], 1, 'still on its way');
    assert.deepEqual([...flights.takeFreed()], ['p']);
  });

  it('failing leaves the first fetch going on', () => {
    const { state, task, flights, a } = doubled();
    flights.fail(task, a, 5, 'q');
    assert.deepEqual(a.inFlight.get(5), { parent: 'p', since: 0 });
    assert.deepEqual(uploads(state, 'p', 'q'), [1, 0]);
    assert.equal(task.inFlightCounts[5], 1);
  });

  it('is promoted when the first times out, and times out on its own clock', () => {
    const { state, task, flights, a } = doubled();
    assert.equal(flights.expire(task, a, TIMEOUT + 1, TIMEOUT), true);
    assert.deepEqual(a.inFlight.get(5), { parent: 'q', since: 6_000 });
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 1]);
    assert.equal(flights.expire(task, a, 6_000 + TIMEOUT, TIMEOUT), false);
    assert.equal(flights.expire(task, a, 6_000 + TIMEOUT + 1, TIMEOUT), true);
    assertEnded(state, task, 'a', 5, 'q');
  });

  it('when either parent leaves the swarm, the fetch from the other goes on (promoted if it was the second)', () => {
    for (const [leaving, stays] of [
      ['p', { parent: 'q', since: 6_000 }],
      ['q', { parent: 'p', since: 0 }],
    ] as const) {
      const { state, task, a } = doubled();
      state.removeHost(leaving);
      assert.deepEqual(a.inFlight.get(5), stays);
      assert.deepEqual(uploads(state, stays.parent), [1]);
      assert.equal(task.inFlightCounts[5], 1);
      assert.deepEqual([...state.flights.takeFreed()], [], 'a host that left is offered to nobody');
    }
  });

  it('a parent dropped while still registered gets its slots back', () => {
    const { state, task, flights, a } = doubled();
    flights.start(task, a, 6, 'q', 0);
    flights.startSecond(a, 6, 'p', 0);
    flights.start(task, a, 7, 'p', 0);
    flights.dropParent(task, 'p');
    assert.deepEqual(fetchesOf(task, 'a'), { 5: ['q'], 6: ['q'] });
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 2]);
    assert.deepEqual([...task.inFlightCounts], [0, 0, 0, 0, 0, 1, 1, 0]);
    assert.deepEqual([...flights.takeFreed()], ['p']);
  });
});

describe('Flights: a peer that stops fetching', () => {
  it('gives every parent its slots back, in every task, when it leaves', () => {
    const { state, task, flights } = swarm();
    const other = state.task(DIGESTS[1]!, SIZE, MIB)!;
    const a = task.peer('a');
    flights.start(task, a, 0, 'p', 0);
    flights.start(task, a, 1, 'q', 0);
    flights.startSecond(a, 1, 'r', 0);
    flights.start(other, other.peer('a'), 0, 'p', 0);
    flights.start(task, task.peer('b'), 0, 'p', 0);
    flights.takeFreed();
    assert.deepEqual(uploads(state, 'p', 'q', 'r'), [3, 1, 1]);
    assert.deepEqual(state.removeHost('a'), [task, other]);
    assert.deepEqual(uploads(state, 'p', 'q', 'r'), [1, 0, 0], "b's fetch from p goes on");
    assert.deepEqual([...task.inFlightCounts], [1, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...other.inFlightCounts], [0, 0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual([...flights.takeFreed()], ['p', 'q', 'r']);
  });

  it('gives them back when it is done with the task', () => {
    const { state, task, flights } = swarm();
    const a = task.peer('a');
    flights.start(task, a, 0, 'p', 0);
    flights.start(task, a, 1, 'p', 0);
    flights.startSecond(a, 0, 'q', 0);
    flights.dropPeer(task, a);
    assert.equal(a.inFlight.size, 0);
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 0]);
    assert.deepEqual([...task.inFlightCounts], [0, 0, 0, 0, 0, 0, 0, 0]);
    flights.dropPeer(task, a);
    assert.deepEqual(uploads(state, 'p', 'q'), [0, 0], 'nothing twice');
  });
});

type Op =
  | { kind: 'start'; task: number; peer: number; parent: number; index: number }
  | { kind: 'second'; task: number; peer: number; parent: number; index: number }
  | { kind: 'land'; task: number; peer: number; index: number }
  | { kind: 'fail'; task: number; peer: number; parent: number; index: number }
  | { kind: 'lease'; task: number; peer: number; parent: number; indices: number[] }
  | { kind: 'expire'; task: number; peer: number }
  | { kind: 'drop'; task: number; peer: number }
  | { kind: 'leave'; host: number }
  | { kind: 'connect'; host: number }
  | { kind: 'tick'; ms: number };

const HOSTS = ['h0', 'h1', 'h2', 'h3', 'h4'];
const host = fc.nat(HOSTS.length - 1);
const taskIndex = fc.nat(DIGESTS.length - 1);
/** the first pieces only, so that fetches meet: a second fetch, a failure or a landing of a piece on its way */
const piece = fc.nat(2);
const operation: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('start'),
      task: taskIndex,
      peer: host,
      parent: host,
      index: piece,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('second'),
      task: taskIndex,
      peer: host,
      parent: host,
      index: piece,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('land'), task: taskIndex, peer: host, index: piece }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('fail'),
      task: taskIndex,
      peer: host,
      parent: host,
      index: piece,
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('lease'),
      task: taskIndex,
      peer: host,
      parent: host,
      indices: fc.array(piece, { minLength: 1, maxLength: 5 }),
    }),
  },
  fc.record({ kind: fc.constant('expire'), task: taskIndex, peer: host }),
  fc.record({ kind: fc.constant('drop'), task: taskIndex, peer: host }),
  fc.record({ kind: fc.constant('leave'), host }),
  fc.record({ kind: fc.constant('connect'), host }),
  fc.record({ kind: fc.constant('tick'), ms: fc.integer({ min: 0, max: 10_000 }) }),
);

describe('Flights: kept in step', () => {
  it('the piece tallies and the upload slots equal a recount over the peers (so never drop below zero) after any sequence', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 20, maxLength: 150 }), (operations) => {
        const state = new SwarmState();
        const flights = state.flights;
        let now = 0;
        for (const id of HOSTS) state.hosts.upsert(id, { addrs: [], labels: {}, uploadSlots: 3 }, 0);
        for (const op of operations) {
          if (op.kind === 'tick') now += op.ms;
          else if (op.kind === 'connect')
            state.hosts.upsert(HOSTS[op.host]!, { addrs: [], labels: {}, uploadSlots: 3 }, now);
          else if (op.kind === 'leave') state.removeHost(HOSTS[op.host]!);
          else {
            const task = state.task(DIGESTS[op.task]!, SIZE, MIB)!;
            const id = HOSTS[op.peer]!;
            // Fetches are started only as the dispatcher starts them: by connected peers, from
            // another connected host, for a piece not already on its way (the second from a new parent).
            const connected = (h: string) => state.hosts.get(h) !== undefined;
            if (op.kind === 'start' || op.kind === 'second') {
              const parent = HOSTS[op.parent]!;
              if (!connected(id) || !connected(parent) || parent === id) continue;
              const peer = task.peer(id);
              const flight = peer.inFlight.get(op.index);
              if (op.kind === 'start' && !flight) flights.start(task, peer, op.index, parent, now);
              else if (op.kind === 'second' && flight && !flight.second && flight.parent !== parent)
                flights.startSecond(peer, op.index, parent, now);
              continue;
            }
            if (op.kind === 'lease') {
              const parent = HOSTS[op.parent]!;
              if (!connected(id) || !connected(parent) || parent === id) continue;
              const peer = task.peer(id);
              const indices = [...new Set(op.indices)].filter((index) => !peer.inFlight.has(index));
              if (indices.length === 0) continue;
              const lease = flights.startLease(parent, now);
              for (const index of indices) flights.start(task, peer, index, parent, now, lease);
              continue;
            }
            const peer = task.peers.get(id);
            if (!peer) continue;
            if (op.kind === 'land') flights.land(task, peer, op.index, now);
            else if (op.kind === 'fail') flights.fail(task, peer, op.index, HOSTS[op.parent]!);
            else if (op.kind === 'expire') flights.expire(task, peer, now, TIMEOUT);
            else flights.dropPeer(task, peer);
          }
          const uses = new Map<string, number>();
          for (const task of state.tasks.values()) {
            for (let index = 0; index < task.pieceCount; index++) {
              const fetching = [...task.peers.values()].filter((p) => p.inFlight.has(index)).length;
              assert.equal(task.inFlightCounts[index], fetching, `piece ${index}: peers fetching it`);
            }
            // A lease holds one slot of its parent however many of its pieces are on their way.
            const leases = new Set<Lease>();
            for (const peer of task.peers.values())
              for (const flight of peer.inFlight.values()) {
                if (flight.lease) {
                  assert.equal(flight.lease.parent, flight.parent, 'a lease has one parent');
                  leases.add(flight.lease);
                } else uses.set(flight.parent, (uses.get(flight.parent) ?? 0) + 1);
                if (flight.second) uses.set(flight.second.parent, (uses.get(flight.second.parent) ?? 0) + 1);
              }
            for (const lease of leases) {
              const open = [...task.peers.values()].flatMap((p) =>
                [...p.inFlight.values()].filter((f) => f.lease === lease),
              ).length;
              assert.equal(lease.open, open, 'a lease counts its pieces on their way');
              uses.set(lease.parent, (uses.get(lease.parent) ?? 0) + 1);
            }
          }
          for (const h of state.hosts.values()) {
            assert.equal(h.activeUploads, uses.get(h.id) ?? 0, `${h.id}: slots taken`);
            uses.delete(h.id);
          }
          assert.deepEqual([...uses.keys()], [], 'nothing is fetched from a host that left');
          for (const id of flights.takeFreed()) assert.ok(state.hosts.get(id), `${id} offered while gone`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
