import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Bitfield, MIB } from '@shoal/protocol';
import fc from 'fast-check';
import { SwarmState } from '../src/state/swarm-state.ts';

const DIGESTS = [`sha256:${'a1'.repeat(32)}`, `sha256:${'b2'.repeat(32)}`];
const HOSTS = ['h0', 'h1', 'h2', 'h3'];
/** 4 pieces of 2 MiB per task */
const SIZE = 8 * MIB;

/** What freeHolders must be: peers of the task holding a piece, with an upload slot free. */
function expectedFreeHolders(state: SwarmState, digest: string): string[] {
  const task = state.tasks.get(digest);
  if (!task) return [];
  return [...task.peers.values()]
    .filter((peer) => peer.have.count > 0 && state.hosts.freeHosts.has(peer.id))
    .map((peer) => peer.id)
    .sort();
}

/** What freeHolderCounts must be: per piece, its holders whose host has an upload slot free. */
function expectedCounts(state: SwarmState, digest: string): number[] {
  const task = state.tasks.get(digest)!;
  return Array.from(
    { length: task.pieceCount },
    (_, index) =>
      [...task.peers.values()].filter((p) => p.have.has(index) && state.hosts.freeHosts.has(p.id)).length,
  );
}

const operation = fc.oneof(
  fc.record({
    kind: fc.constant('connect' as const),
    host: fc.constantFrom(...HOSTS),
    slots: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({
    kind: fc.constant('piece' as const),
    host: fc.constantFrom(...HOSTS),
    digest: fc.constantFrom(...DIGESTS),
    index: fc.integer({ min: 0, max: 3 }),
  }),
  fc.record({ kind: fc.constant('take' as const), host: fc.constantFrom(...HOSTS) }),
  fc.record({ kind: fc.constant('release' as const), host: fc.constantFrom(...HOSTS) }),
  fc.record({ kind: fc.constant('leave' as const), host: fc.constantFrom(...HOSTS) }),
  fc.record({ kind: fc.constant('reset' as const), digest: fc.constantFrom(...DIGESTS) }),
  fc.record({
    kind: fc.constant('complete' as const),
    host: fc.constantFrom(...HOSTS),
    digest: fc.constantFrom(...DIGESTS),
  }),
);

describe('SwarmTask.freeHolders and freeHolderCounts', () => {
  it('are always the task peers holding a piece whose host has an upload slot free, and their count per piece', () => {
    fc.assert(
      fc.property(fc.array(operation, { minLength: 20, maxLength: 150 }), (operations) => {
        const state = new SwarmState();
        for (const [i, host] of HOSTS.entries())
          state.hosts.upsert(host, { addrs: [], labels: {}, uploadSlots: 1 + (i % 2) }, 0);
        for (const op of operations) {
          switch (op.kind) {
            case 'connect':
              state.hosts.upsert(op.host, { addrs: [], labels: {}, uploadSlots: op.slots }, 0);
              break;
            case 'piece': {
              if (!state.hosts.get(op.host)) break;
              const task = state.task(op.digest, SIZE)!;
              task.markHas(task.peer(op.host), op.index);
              break;
            }
            case 'take':
              if (
                (state.hosts.get(op.host)?.activeUploads ?? 0) < (state.hosts.get(op.host)?.uploadSlots ?? 0)
              )
                state.hosts.takeSlot(op.host);
              break;
            case 'release':
              state.hosts.releaseSlot(op.host);
              break;
            case 'leave':
              state.removeHost(op.host);
              state.prune();
              break;
            case 'complete': {
              if (!state.hosts.get(op.host)) break;
              const task = state.task(op.digest, SIZE)!;
              task.addHolding(op.host, Bitfield.full(task.pieceCount));
              break;
            }
            case 'reset':
              state.tasks.get(op.digest)?.resetTable();
              break;
          }
          for (const digest of DIGESTS) {
            const task = state.tasks.get(digest);
            if (!task) continue;
            assert.deepEqual([...task.freeHolders].sort(), expectedFreeHolders(state, digest));
            assert.deepEqual([...task.freeHolderCounts], expectedCounts(state, digest));
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('follows a holder that fills its slots and frees one again, in every task it holds', () => {
    const state = new SwarmState();
    state.hosts.upsert('p', { addrs: [], labels: {}, uploadSlots: 2 }, 0);
    const [a, b] = DIGESTS.map((digest) => state.task(digest, SIZE)!);
    a!.addHolding('p', Bitfield.full(a!.pieceCount));
    assert.deepEqual([...a!.freeHolders], ['p']);
    assert.deepEqual([...a!.freeHolderCounts], [1, 1, 1, 1]);
    assert.deepEqual([...b!.freeHolders], [], 'holds nothing of b yet');
    state.hosts.takeSlot('p');
    state.hosts.takeSlot('p');
    assert.deepEqual([...a!.freeHolders], []);
    assert.deepEqual([...a!.freeHolderCounts], [0, 0, 0, 0]);
    // Its first piece of b arrives while every slot is taken: it is not a free parent there either.
    b!.markHas(b!.peer('p'), 2);
    assert.deepEqual([...b!.freeHolders], []);
    state.hosts.releaseSlot('p');
    assert.deepEqual([...a!.freeHolders], ['p']);
    assert.deepEqual([...b!.freeHolders], ['p']);
    assert.deepEqual([...b!.freeHolderCounts], [0, 0, 1, 0]);
    state.removeHost('p');
    assert.deepEqual([...a!.freeHolders], []);
    assert.deepEqual([...b!.freeHolders], []);
  });
});
