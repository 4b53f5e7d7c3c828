import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RateLimiter } from '../src/p2p/rate-limiter.ts';

const KIB = 1024;
const MIB = 1024 * KIB;

async function elapsed(run: () => Promise<void>): Promise<number> {
  const started = performance.now();
  await run();
  return (performance.now() - started) / 1000;
}

describe('RateLimiter', () => {
  it('never waits when unlimited', async () => {
    const limiter = new RateLimiter(0);
    assert.equal(limiter.unlimited, true);
    const seconds = await elapsed(async () => {
      for (let i = 0; i < 1000; i++) await limiter.take(64 * MIB);
    });
    // 64 GiB at any rate would take minutes: a second leaves room for a loaded machine.
    assert.ok(seconds < 1, `took ${seconds} s`);
  });

  it('lets a burst through at once', async () => {
    const limiter = new RateLimiter(MIB);
    assert.equal(limiter.unlimited, false);
    // The burst is at least 256 KiB.
    const seconds = await elapsed(() => limiter.take(256 * KIB));
    assert.ok(seconds < 0.05, `took ${seconds} s`);
  });

  it('paces bytes to the rate, less the burst', async () => {
    const rate = 4 * MIB;
    const burst = rate / 10;
    const total = 2 * MIB;
    const limiter = new RateLimiter(rate);
    const seconds = await elapsed(async () => {
      for (let sent = 0; sent < total; sent += 64 * KIB) await limiter.take(64 * KIB);
    });
    const expected = (total - burst) / rate; // 0.4 s
    assert.ok(seconds >= expected * 0.8, `too fast: ${seconds} s, expected about ${expected} s`);
    assert.ok(seconds <= expected + 0.35, `too slow: ${seconds} s, expected about ${expected} s`);
  });

  it('paces concurrent takers together, not each on its own', async () => {
    const rate = 4 * MIB;
    const limiter = new RateLimiter(rate);
    const total = 2 * MIB;
    const seconds = await elapsed(async () => {
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          for (let sent = 0; sent < total / 4; sent += 64 * KIB) await limiter.take(64 * KIB);
        }),
      );
    });
    const expected = (total - rate / 10) / rate;
    assert.ok(seconds >= expected * 0.8, `too fast: ${seconds} s, expected about ${expected} s`);
    assert.ok(seconds <= expected + 0.35, `too slow: ${seconds} s, expected about ${expected} s`);
  });

  it('rejects a waiting take when its signal aborts', async () => {
    const limiter = new RateLimiter(MIB);
    await limiter.take(256 * KIB); // burst spent
    const controller = new AbortController();
    const waiting = limiter.take(MIB, controller.signal); // about 1 s of debt
    setTimeout(() => controller.abort(), 20);
    await assert.rejects(waiting, { name: 'AbortError' });
  });
});
