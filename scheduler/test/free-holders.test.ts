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
);

describe('SwarmTask.freeHolders', () => {
  it('is always the task peers holding a piece whose host has an upload slot free', () => {
    fc.assert(
      fc.property(fc.array(operation, { maxLength: 80 }), (operations) => {
        const state = new SwarmState();
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
            case 'reset':
              state.tasks.get(op.digest)?.resetTable();
              break;
          }
          for (const digest of DIGESTS) {
            const task = state.tasks.get(digest);
            if (task) assert.deepEqual([...task.freeHolders].sort(), expectedFreeHolders(state, digest));
          }
        }
      }),
      { numRuns: 300 },
    );
  });

  it('follows a holder that fills its slots and frees one again, in every task it holds', () => {
    const state = new SwarmState();
    state.hosts.upsert('p', { addrs: [], labels: {}, uploadSlots: 2 }, 0);
    const [a, b] = DIGESTS.map((digest) => state.task(digest, SIZE)!);
    a!.addHolding('p', Bitfield.full(a!.pieceCount));
    assert.deepEqual([...a!.freeHolders], ['p']);
    assert.deepEqual([...b!.freeHolders], [], 'holds nothing of b yet');
    state.hosts.takeSlot('p');
    state.hosts.takeSlot('p');
    assert.deepEqual([...a!.freeHolders], []);
    // Its first piece of b arrives while every slot is taken: it is not a free parent there either.
    b!.markHas(b!.peer('p'), 2);
    assert.deepEqual([...b!.freeHolders], []);
    state.hosts.releaseSlot('p');
    assert.deepEqual([...a!.freeHolders], ['p']);
    assert.deepEqual([...b!.freeHolders], ['p']);
    state.removeHost('p');
    assert.deepEqual([...a!.freeHolders], []);
    assert.deepEqual([...b!.freeHolders], []);
  });
});
