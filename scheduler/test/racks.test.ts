import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield, MIB, type PieceDone, pieceSizeFor, type SchedulerMessage } from '@shoal/protocol';
import { createLogger } from '@shoal/telemetry';
import fc from 'fast-check';
import { Registry } from 'prom-client';
import { Dispatcher } from '../src/dispatcher.ts';
import { createSchedulerMetrics } from '../src/metrics.ts';
import { type AssignInput, assignPieces, type RackView } from '../src/policy/assign.ts';
import type { ParentView } from '../src/policy/parent-score.ts';
import { SwarmState } from '../src/state/swarm-state.ts';
import type { TaskPeer } from '../src/state/task.ts';

interface Host {
  rack?: string;
  freeSlots: number;
  speed?: number;
}

/**
 * A requester in rack A among `hosts`, who hold pieces as `holders` says; `coming`: piece index ->
 * peers of rack A fetching it now. `racks`: false leaves the rack out of the input (no labels).
 */
function input(s: {
  pieceCount: number;
  hosts: Record<string, Host>;
  holders: Record<number, string[]>;
  coming?: Record<number, number>;
  want?: number;
  racks?: boolean;
}): AssignInput {
  const views = new Map<string, ParentView>();
  for (const [id, h] of Object.entries(s.hosts))
    views.set(id, {
      id,
      uploadSlots: 8,
      activeUploads: 8 - h.freeSlots,
      speed: h.speed ?? 0,
      labels: h.rack ? { rack: h.rack } : {},
    });
  const holdersOf = (index: number) => s.holders[index] ?? [];
  const inRack = (id: string) => s.hosts[id]?.rack === 'A';
  const rack: RackView = {
    holderCount: (index) => holdersOf(index).filter(inRack).length,
    inFlightCount: (index) => s.coming?.[index] ?? 0,
    freeParents: new Set(
      [...views.values()].filter((v) => inRack(v.id) && v.activeUploads < 8).map((v) => v.id),
    ),
    has: inRack,
  };
  return {
    pieceCount: s.pieceCount,
    requester: {
      id: 'me',
      labels: s.racks === false ? {} : { rack: 'A' },
      has: () => false,
      inFlight: new Set<number>(),
      want: s.want ?? 8,
      canTakeOrigin: false,
    },
    holdersOf,
    holderCount: (index) => holdersOf(index).length,
    inFlightCount: (index) => s.coming?.[index] ?? 0,
    originInFlight: () => false,
    parent: (id) => views.get(id),
    fastestSpeed: Math.max(0, ...[...views.values()].map((v) => v.speed)),
    freeParents: new Set([...views.values()].filter((v) => v.activeUploads < 8).map((v) => v.id)),
    holds: (id, index) => holdersOf(index).includes(id),
    originRangePieces: 4,
    ...(s.racks === false ? {} : { rack }),
  };
}

describe('assignPieces: racks', () => {
  it('takes a piece from a parent in its rack even when one outside scores higher on capacity and speed', () => {
    const scenario = {
      pieceCount: 1,
      hosts: {
        near: { rack: 'A', freeSlots: 1, speed: 10 },
        far: { rack: 'B', freeSlots: 8, speed: 1000 },
      },
      holders: { 0: ['far', 'near'] },
    };
    assert.deepEqual(assignPieces(input(scenario)).pieces, [{ index: 0, parent: 'near' }]);
    // Without the rack, capacity and speed win.
    assert.deepEqual(assignPieces(input({ ...scenario, racks: false })).pieces, [
      { index: 0, parent: 'far' },
    ]);
  });

  it('waits for a slot in its rack rather than fetching across racks a piece the rack holds', () => {
    const out = assignPieces(
      input({
        pieceCount: 1,
        hosts: { near: { rack: 'A', freeSlots: 0 }, far: { rack: 'B', freeSlots: 8 } },
        holders: { 0: ['far', 'near'] },
      }),
    );
    assert.deepEqual(out.pieces, []);
  });

  it('brings a piece nobody in the rack holds across racks once: a second peer of the rack waits for it, or takes another', () => {
    const hosts = { near: { rack: 'A', freeSlots: 8 }, far: { rack: 'B', freeSlots: 8 } };
    // Piece 0: only outside the rack. The first peer of rack A to ask fetches it from outside.
    const first = assignPieces(input({ pieceCount: 1, hosts, holders: { 0: ['far'] } }));
    assert.deepEqual(first.pieces, [{ index: 0, parent: 'far' }]);
    // Once it is on its way into the rack, the next peer of the rack does not fetch it again...
    const second = assignPieces(input({ pieceCount: 1, hosts, holders: { 0: ['far'] }, coming: { 0: 1 } }));
    assert.deepEqual(second.pieces, []);
    // ...but takes what else there is: another piece new to the rack, or one held in it.
    const other = assignPieces(
      input({
        pieceCount: 3,
        hosts,
        holders: { 0: ['far'], 1: ['far'], 2: ['near', 'far'] },
        coming: { 0: 1 },
      }),
    );
    assert.deepEqual(other.pieces, [
      { index: 1, parent: 'far' },
      { index: 2, parent: 'near' },
    ]);
  });

  it('fetches pieces new to the rack first, then the rarest in the rack', () => {
    const out = assignPieces(
      input({
        pieceCount: 4,
        hosts: {
          a1: { rack: 'A', freeSlots: 8 },
          a2: { rack: 'A', freeSlots: 8 },
          b1: { rack: 'B', freeSlots: 8 },
          b2: { rack: 'B', freeSlots: 8 },
        },
        // Piece 0: two holders in the rack; piece 1: one; piece 2: none but three outside; 3: nowhere near.
        holders: { 0: ['a1', 'a2'], 1: ['a1', 'b1', 'b2'], 2: ['b1', 'b2'], 3: ['b1'] },
      }),
    );
    assert.deepEqual(
      out.pieces.map((p) => p.index),
      [3, 2, 1, 0],
    );
    for (const p of out.pieces)
      assert.equal(p.parent.startsWith('a'), p.index <= 1, `piece ${p.index} from ${p.parent}`);
  });

  it('decides for a requester without a rack as before, whatever its parents are labelled', () => {
    const scenario = {
      pieceCount: 3,
      hosts: { near: { rack: 'A', freeSlots: 1 }, far: { rack: 'B', freeSlots: 8, speed: 100 } },
      holders: { 0: ['far'], 1: ['far', 'near'], 2: ['near'] },
      coming: { 0: 3 },
      racks: false,
    };
    assert.deepEqual(assignPieces(input(scenario)).pieces, [
      { index: 2, parent: 'near' },
      { index: 1, parent: 'far' },
      { index: 0, parent: 'far' },
    ]);
  });
});

const DIGEST = `sha256:${'ab'.repeat(32)}`;
const HOSTS = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5'];
/** h0-h1 in rack r0, h2-h3 in r1, h4 in r2, h5 without a rack */
const rackOf = (i: number) => (i < 5 ? `r${i >> 1}` : undefined);
const PIECES = 6;

const host = fc.integer({ min: 0, max: HOSTS.length - 1 });
const piece = fc.integer({ min: 0, max: PIECES - 1 });
const operation = fc.oneof(
  fc.record({ kind: fc.constant('has'), peer: host, index: piece }),
  fc.record({ kind: fc.constant('start'), peer: host, parent: host, index: piece }),
  fc.record({ kind: fc.constant('land'), peer: host, index: piece }),
  fc.record({ kind: fc.constant('fail'), peer: host, parent: host, index: piece }),
  fc.record({ kind: fc.constant('expire'), peer: host }),
  fc.record({ kind: fc.constant('drop'), peer: host }),
  fc.record({ kind: fc.constant('evict'), peer: host }),
  fc.record({ kind: fc.constant('leave'), host }),
  fc.record({ kind: fc.constant('connect'), host }),
  fc.record({ kind: fc.constant('reset') }),
  fc.record({ kind: fc.constant('tick'), ms: fc.integer({ min: 0, max: 10_000 }) }),
);

describe('racks: kept in step', () => {
  it("each rack's peers, holders, fetches and free holders equal a recount over the task's peers after any sequence", () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 20, maxLength: 150 }), (operations) => {
        const state = new SwarmState();
        const connect = (i: number, now: number) => {
          const rack = rackOf(i);
          state.hosts.upsert(HOSTS[i]!, { addrs: [], labels: rack ? { rack } : {}, uploadSlots: 2 }, now);
        };
        let now = 0;
        for (let i = 0; i < HOSTS.length; i++) connect(i, 0);
        const task = () => state.task(DIGEST, PIECES * MIB, MIB)!;
        for (const op of operations) {
          const connected = (h: number) => state.hosts.get(HOSTS[h]!) !== undefined;
          if (op.kind === 'tick') now += op.ms;
          else if (op.kind === 'connect') connect(op.host, now);
          else if (op.kind === 'leave') state.removeHost(HOSTS[op.host]!);
          else if (op.kind === 'reset') {
            const t = task();
            for (const peer of t.peers.values()) state.flights.dropPeer(t, peer);
            t.resetTable();
          } else {
            const t = task();
            if (!connected(op.peer)) continue;
            const peer = t.peer(HOSTS[op.peer]!);
            if (op.kind === 'has') {
              state.flights.land(t, peer, op.index, now);
              t.markHas(peer, op.index);
            } else if (op.kind === 'start') {
              if (!connected(op.parent) || op.parent === op.peer || peer.inFlight.has(op.index)) continue;
              state.flights.start(t, peer, op.index, HOSTS[op.parent]!, now);
            } else if (op.kind === 'land') state.flights.land(t, peer, op.index, now);
            else if (op.kind === 'fail') state.flights.fail(t, peer, op.index, HOSTS[op.parent]!);
            else if (op.kind === 'expire') state.flights.expire(t, peer, now, 15_000);
            else if (op.kind === 'drop') state.flights.dropPeer(t, peer);
            else t.dropHolding(peer.id);
          }
          const t = state.tasks.get(DIGEST);
          if (!t) continue;
          const names = new Set<string>();
          for (const peer of t.peers.values()) {
            const i = HOSTS.indexOf(peer.id);
            assert.equal(peer.rack?.name, rackOf(i), `${peer.id}: its rack`);
            if (peer.rack) names.add(peer.rack.name);
          }
          assert.deepEqual(new Set([...t.racks.values()].map((r) => r.name)), names, 'racks with peers');
          for (const rack of t.racks.values()) {
            const members: TaskPeer[] = [...t.peers.values()].filter((p) => p.rack === rack);
            assert.equal(rack.peers, members.length, `${rack.name}: peers`);
            for (let index = 0; index < PIECES; index++) {
              const holding = members.filter((p) => p.have.has(index)).length;
              const fetching = members.filter((p) => p.inFlight.has(index)).length;
              assert.equal(rack.holders[index], holding, `${rack.name}, piece ${index}: holders`);
              assert.equal(rack.inFlight[index], fetching, `${rack.name}, piece ${index}: fetching`);
            }
            const free = members
              .filter((p) => p.have.count > 0 && state.hosts.freeHosts.has(p.id))
              .map((p) => p.id);
            assert.deepEqual(new Set(rack.freeHolders), new Set(free), `${rack.name}: free holders`);
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('a holding registered whole is counted in its rack', () => {
    const state = new SwarmState();
    state.hosts.upsert('x', { addrs: [], labels: { rack: 'r9' }, uploadSlots: 2 }, 0);
    const task = state.task(DIGEST, PIECES * MIB, MIB)!;
    task.addHolding('x', Bitfield.full(PIECES));
    const rack = task.racks.get('r9')!;
    assert.deepEqual([...rack.holders], Array(PIECES).fill(1));
    assert.deepEqual([...rack.freeHolders], ['x']);
  });
});

/**
 * A rollout of one blob through the real dispatcher, every assignment carried out at once and in the
 * order sent: host i registers with `labels(i)`. Returns the assignments as sent, and the hosts.
 */
function rollout(labels: (i: number) => Record<string, string>, hosts = 12, size = 48 * MIB) {
  const digest = `sha256:${'cd'.repeat(32)}`;
  const queue: { to: string; message: SchedulerMessage }[] = [];
  const dispatcher = new Dispatcher({
    state: new SwarmState(),
    send: (to, message) => queue.push({ to, message }),
    logger: createLogger({ level: 'silent' }),
    metrics: createSchedulerMetrics(new Registry(), { peers: () => 0, tasks: () => 0 }),
    now: () => 0,
  });
  const ids = Array.from({ length: hosts }, (_, i) => `host-${i}`);
  ids.forEach((id, i) => {
    dispatcher.register(id, {
      addrs: [],
      labels: new Map(Object.entries(labels(i))),
      uploadSlots: 2,
      uploadRate: 0,
      downloadRate: 0,
      holdings: [],
    });
  });
  for (const id of ids) dispatcher.openTask(id, { digest, size, bitfield: new Uint8Array(0), want: 4 });
  const assigned: { to: string; pieces: { index: number; parent: string }[]; origin: string[] }[] = [];
  for (let step = 0, sweeps = 0; step < 10_000; step++) {
    // Nothing left to carry out: the periodic sweep hands out what is left.
    if (queue.length === 0 && sweeps++ < 20) dispatcher.sweep();
    if (queue.length === 0) break;
    const { to, message } = queue.shift()!;
    const a = message.assignments;
    if (!a) continue;
    assigned.push({
      to,
      pieces: a.pieces.map((p) => ({ index: p.index, parent: p.parent })),
      origin: a.origin.map((o) => `${o.first}+${o.count}`),
    });
    const done: PieceDone[] = a.pieces.map((p) => ({
      index: p.index,
      sha256: new Uint8Array(0),
      parent: p.parent,
      millis: 10,
      length: pieceSizeFor(size),
    }));
    for (const o of a.origin)
      for (let index = o.first; index < o.first + o.count; index++)
        done.push({
          index,
          sha256: new Uint8Array(32).fill(index),
          parent: '',
          millis: 10,
          length: pieceSizeFor(size),
        });
    dispatcher.report(to, { digest, done, failed: [], want: 4 });
  }
  return { assigned, ids, pieceCount: Math.ceil(size / pieceSizeFor(size)) };
}

describe('racks: through the dispatcher', () => {
  it('a swarm all in one rack is assigned exactly what an unlabelled one is', () => {
    const plain = rollout(() => ({}));
    const oneRack = rollout(() => ({ rack: 'r1', zone: 'z' }));
    assert.ok(plain.assigned.length > 12);
    assert.deepEqual(oneRack.assigned, plain.assigned);
  });

  it('two racks: each piece enters each rack from outside at most once, and everyone gets every piece', () => {
    const rackOf = (i: number) => `r${i % 2}`;
    const { assigned, ids, pieceCount } = rollout((i) => ({ rack: rackOf(i) }));
    const crossings = new Map<string, number>();
    const got = new Map<string, Set<number>>(ids.map((id) => [id, new Set<number>()]));
    for (const { to, pieces, origin } of assigned) {
      for (const { index, parent } of pieces) {
        got.get(to)!.add(index);
        const from = ids.indexOf(parent);
        const into = ids.indexOf(to);
        if (rackOf(from) === rackOf(into)) continue;
        const key = `${rackOf(into)}/${index}`;
        crossings.set(key, (crossings.get(key) ?? 0) + 1);
      }
      for (const range of origin) {
        const [first, count] = range.split('+').map(Number) as [number, number];
        for (let index = first; index < first + count; index++) got.get(to)!.add(index);
      }
    }
    for (const [key, n] of crossings) assert.equal(n, 1, `${key}: fetched from outside the rack ${n} times`);
    assert.ok(crossings.size > 0 && pieceCount > 12);
    for (const [id, pieces] of got) assert.equal(pieces.size, pieceCount, `${id} got every piece`);
  });
});
