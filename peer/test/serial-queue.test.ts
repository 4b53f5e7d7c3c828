import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import { SerialQueue } from '../src/serial-queue.ts';

describe('SerialQueue', () => {
  it('runs jobs one at a time, in the order they were added', async () => {
    const queue = new SerialQueue();
    const events: string[] = [];
    let running = 0;
    const job = (name: string, ms: number) => async () => {
      running++;
      assert.equal(running, 1, 'two jobs ran at once');
      events.push(`start ${name}`);
      await sleep(ms);
      events.push(`end ${name}`);
      running--;
      return name;
    };
    const results = await Promise.all([
      queue.run(job('a', 20)),
      queue.run(job('b', 1)),
      queue.run(job('c', 5)),
    ]);
    assert.deepEqual(results, ['a', 'b', 'c']);
    assert.deepEqual(events, ['start a', 'end a', 'start b', 'end b', 'start c', 'end c']);
    assert.equal(queue.pending, 0);
  });

  it('gives a failure to its own caller only: later jobs run, and the queue keeps working', async () => {
    const queue = new SerialQueue();
    const first = queue.run(async () => {
      throw new Error('disk says no');
    });
    const second = queue.run(() => 'after');
    const thrown = queue.run(() => {
      throw new Error('sync failure');
    });
    await assert.rejects(first, /disk says no/);
    assert.equal(await second, 'after');
    await assert.rejects(thrown, /sync failure/);
    assert.equal(await queue.run(async () => 42), 42);
    await queue.idle();
    assert.equal(queue.pending, 0);
  });

  it('whatever fails, every job runs exactly once, in order, and each caller gets its own outcome', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ fails: fc.boolean(), async: fc.boolean() }), { maxLength: 30 }),
        async (jobs) => {
          const queue = new SerialQueue();
          const ran: number[] = [];
          const outcomes = jobs.map((spec, index) =>
            queue
              .run(async () => {
                if (spec.async) await Promise.resolve();
                ran.push(index);
                if (spec.fails) throw new Error(`job ${index}`);
                return index;
              })
              .then(
                (value) => ({ ok: true, value }),
                (error: Error) => ({ ok: false, value: error.message }),
              ),
          );
          const settled = await Promise.all(outcomes);
          assert.deepEqual(
            ran,
            jobs.map((_, index) => index),
          );
          settled.forEach((outcome, index) => {
            assert.deepEqual(
              outcome,
              jobs[index]!.fails ? { ok: false, value: `job ${index}` } : { ok: true, value: index },
            );
          });
          await queue.idle();
          assert.equal(queue.pending, 0);
        },
      ),
    );
  });
});
