import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { SendBudget, SendClosedError, type Sender } from '../src/memory/send-budget.ts';

const KiB = 1024;
const PAGE = 32 * KiB;

function budget(options: { totalPages: number; guaranteed: number; stallMs?: number }) {
  const clock = { now: 0 };
  const stalls: string[] = [];
  const b = new SendBudget({
    totalBytes: options.totalPages * PAGE,
    pageBytes: PAGE,
    guaranteedSenders: options.guaranteed,
    stallMs: options.stallMs ?? 1_000,
    now: () => clock.now,
  });
  const open = (name: string, windowPages: number) =>
    b.open({ windowBytes: windowPages * PAGE, onStall: () => stalls.push(name) });
  return { budget: b, clock, stalls, open };
}

/** Whether a promise has settled after the current microtasks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('SendBudget', () => {
  it('grants up to the window, then makes the sender wait for its own bytes to leave', async () => {
    const { budget: b, open } = budget({ totalPages: 64, guaranteed: 4 });
    const sender = open('a', 4);
    assert.equal(await sender.acquire(2 * PAGE), 2 * PAGE);
    assert.equal(await sender.acquire(4 * PAGE), 2 * PAGE, 'only what is left of the window');
    const next = sender.acquire(PAGE);
    assert.equal(await settled(next), false);
    sender.release(PAGE);
    assert.equal(await next, PAGE);
    assert.equal(b.heldBytes, 4 * PAGE);
    sender.close();
    assert.equal(b.heldBytes, 0);
  });

  it('never holds more than the total: a sender waits until others give back', async () => {
    const { budget: b, open } = budget({ totalPages: 8, guaranteed: 0 });
    const a = open('a', 8);
    const c = open('c', 8);
    assert.equal(await a.acquire(8 * PAGE), 8 * PAGE);
    const waiting = c.acquire(4 * PAGE, 2 * PAGE);
    assert.equal(await settled(waiting), false);
    assert.equal(b.waiting, 1);
    a.release(PAGE);
    assert.equal(await settled(waiting), false, 'one page does not make the two asked for');
    a.release(3 * PAGE);
    assert.equal(await waiting, 4 * PAGE);
    assert.equal(b.heldBytes, 8 * PAGE);
  });

  it('keeps a page for every guaranteed sender: readers that stop cannot starve the others', async () => {
    // 64 pages, 16 guaranteed senders, windows of 8 pages.
    const { budget: b, open } = budget({ totalPages: 64, guaranteed: 16 });
    const stalled: Sender[] = [];
    for (let i = 0; i < 15; i++) {
      const sender = open(`stalled-${i}`, 8);
      stalled.push(sender);
      // Each takes all it can get and never gives anything back.
      for (;;) {
        const bytes = b.grantable(sender, PAGE, 8 * PAGE);
        if (bytes === 0) break;
        await sender.acquire(bytes);
      }
      assert.ok(sender.held >= PAGE);
    }
    assert.ok(b.heldBytes <= 64 * PAGE);
    // The sixteenth still gets its page at once, though no more than that.
    const last = open('reader', 8);
    assert.equal(await last.acquire(8 * PAGE), PAGE);
    // It goes on a page at a time as its bytes leave.
    for (let i = 0; i < 5; i++) {
      last.release(PAGE);
      assert.equal(await last.acquire(8 * PAGE), PAGE);
    }
  });

  it('tryAcquire grants all it asks for at once, or nothing, and never waits', async () => {
    const { open } = budget({ totalPages: 16, guaranteed: 0 });
    const a = open('a', 16);
    const c = open('c', 16);
    assert.equal(a.tryAcquire(12 * PAGE), 12 * PAGE);
    assert.equal(c.tryAcquire(8 * PAGE), 0, 'only 4 pages are free');
    assert.equal(c.held, 0, 'nothing taken for a refused ask');
    assert.equal(c.tryAcquire(4 * PAGE), 4 * PAGE);
    a.release(12 * PAGE);
    assert.equal(c.tryAcquire(8 * PAGE), 8 * PAGE);
  });

  it('the senders of one requester hold at most the group limit together; others still get theirs', async () => {
    const b = new SendBudget({
      totalBytes: 64 * PAGE,
      pageBytes: PAGE,
      guaranteedSenders: 0,
      stallMs: 1_000,
      groupBytes: 16 * PAGE,
      now: () => 0,
    });
    const open = (group: string | undefined) => b.open({ windowBytes: 16 * PAGE, onStall: () => {}, group });
    const hostile = Array.from({ length: 8 }, () => open('hostile'));
    assert.equal(hostile[0]!.tryAcquire(12 * PAGE), 12 * PAGE);
    assert.equal(hostile[1]!.tryAcquire(8 * PAGE), 0, 'past the limit of its requester');
    assert.equal(b.groupRoom(hostile[1]!), 4 * PAGE);
    assert.equal(await hostile[1]!.acquire(8 * PAGE), 4 * PAGE, 'what is left of it');
    assert.equal(b.groupRoom(hostile[2]!), 0, "the limit is its requester's, whichever sender asks");
    const waiting = hostile[2]!.acquire(PAGE);
    assert.equal(await settled(waiting), false);
    // Another requester, and an ungrouped sender, are not held back by it.
    assert.equal(open('other').tryAcquire(16 * PAGE), 16 * PAGE);
    const ungrouped = open(undefined);
    assert.equal(b.groupRoom(ungrouped), Number.POSITIVE_INFINITY);
    assert.equal(ungrouped.tryAcquire(16 * PAGE), 16 * PAGE);
    hostile[0]!.close();
    assert.equal(await waiting, PAGE, 'a sender of the requester goes on once another of its senders let go');
  });

  it('property: the total is never exceeded and every guaranteed sender can always start', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            op: fc.constantFrom('open', 'acquire', 'acquire', 'acquire', 'release', 'close'),
            who: fc.nat(40),
            pages: fc.integer({ min: 1, max: 32 }),
          }),
          { minLength: 40, maxLength: 300 },
        ),
        (ops) => {
          const total = 64;
          const guaranteed = 24;
          const { budget: b, open } = budget({ totalPages: total, guaranteed });
          const senders: Sender[] = [];
          for (const { op, who, pages } of ops) {
            const sender = senders[who % Math.max(1, senders.length)];
            if (op === 'open' || !sender) {
              senders.push(open(`s${senders.length}`, 1 + (pages % 16)));
            } else if (op === 'acquire' && !sender.closed) {
              // Greedy: as much as the sender may have.
              const bytes = b.grantable(sender, PAGE, sender.windowBytes);
              if (bytes > 0) void sender.acquire(bytes);
            } else if (op === 'release') {
              sender.release(pages * PAGE);
            } else if (op === 'close') {
              sender.close();
            }
            assert.ok(b.heldBytes <= total * PAGE, `held ${b.heldBytes}`);
            assert.ok(b.heldBytes >= 0);
            const holders = senders.filter((s) => !s.closed && s.held > 0).length;
            if (holders < guaranteed) {
              const fresh = open('probe', 1);
              assert.equal(b.grantable(fresh, PAGE, PAGE), PAGE, `${holders} holders`);
              fresh.close();
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('reports a sender that holds bytes and gives none back for the stall time, once', async () => {
    const { budget: b, clock, stalls, open } = budget({ totalPages: 16, guaranteed: 2, stallMs: 1_000 });
    const slow = open('slow', 4);
    const idle = open('idle', 4);
    await slow.acquire(2 * PAGE);
    clock.now = 600;
    slow.release(PAGE);
    clock.now = 1_500;
    assert.equal(b.sweep(), 0, 'a release is progress');
    clock.now = 1_600;
    assert.equal(b.sweep(), 1);
    assert.deepEqual(stalls, ['slow']);
    clock.now = 10_000;
    assert.equal(b.sweep(), 0, 'reported once');
    assert.equal(idle.held, 0);
    assert.deepEqual(stalls, ['slow'], 'a sender holding nothing is never stalled');
  });

  it('starts the stall clock when a sender starts holding, not while it waits for memory', async () => {
    const { budget: b, clock, stalls, open } = budget({ totalPages: 2, guaranteed: 0, stallMs: 1_000 });
    const first = open('first', 2);
    const second = open('second', 2);
    await first.acquire(2 * PAGE);
    const waiting = second.acquire(PAGE);
    clock.now = 5_000;
    first.release(2 * PAGE);
    assert.equal(await waiting, PAGE);
    clock.now = 5_900;
    assert.equal(b.sweep(), 0);
    clock.now = 6_000;
    assert.equal(b.sweep(), 1);
    assert.deepEqual(stalls, ['second']);
  });

  it('close gives everything back, rejects a waiting ask and ignores later releases', async () => {
    const { budget: b, open } = budget({ totalPages: 4, guaranteed: 0 });
    const holder = open('holder', 4);
    const other = open('other', 4);
    await holder.acquire(4 * PAGE);
    const waiting = other.acquire(PAGE);
    other.close();
    await assert.rejects(waiting, SendClosedError);
    assert.equal(b.waiting, 0);
    holder.close();
    assert.equal(b.heldBytes, 0);
    holder.release(4 * PAGE);
    assert.equal(b.heldBytes, 0);
    await assert.rejects(holder.acquire(PAGE), SendClosedError);
    assert.equal(b.senders, 0);
  });

  it('refuses shapes that cannot work', () => {
    const common = { pageBytes: PAGE, stallMs: 1, now: () => 0 };
    assert.throws(
      () => new SendBudget({ ...common, totalBytes: 4 * PAGE, guaranteedSenders: 5 }),
      /5 pages of 32768 bytes do not fit/,
    );
    assert.throws(
      () => new SendBudget({ ...common, totalBytes: PAGE / 2, guaranteedSenders: 0 }),
      RangeError,
    );
    const b = new SendBudget({ ...common, totalBytes: 4 * PAGE, guaranteedSenders: 1 });
    assert.throws(() => b.open({ windowBytes: PAGE / 2, onStall: () => {} }), RangeError);
  });
});
