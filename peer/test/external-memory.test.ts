import assert from 'node:assert/strict';
import { constants, PerformanceObserver } from 'node:perf_hooks';
import { test } from 'node:test';
import { v8Collector } from '@shoal/telemetry';
import { shouldCollect, startExternalMemoryCollector } from '../src/memory/external-memory.ts';

const MiB = 1024 * 1024;
const external = () => process.memoryUsage().arrayBuffers;

function countFullCollections(): { count(): number; stop(): void } {
  let count = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR)
        count++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { count: () => count, stop: () => observer.disconnect() };
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; ) {
    if (condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return condition();
}

test('a full collection is due only past the limit of growth', () => {
  assert.equal(shouldCollect(40 * MiB, 30 * MiB, 16 * MiB), false);
  assert.equal(shouldCollect(46 * MiB, 30 * MiB, 16 * MiB), false);
  assert.equal(shouldCollect(47 * MiB, 30 * MiB, 16 * MiB), true);
  // Less than after the last collection (buffers given back since): nothing to do.
  assert.equal(shouldCollect(10 * MiB, 30 * MiB, 16 * MiB), false);
});

test('dead buffers in the old generation are freed once they pass the limit', async () => {
  const collect = v8Collector();
  assert.ok(collect, "V8's gc extension is reachable");
  // No cycle of V8's own under way (one that marked the buffers live before they died would keep them),
  // and its notice delivered, so it cannot reset the collector's mark once the buffers are there.
  collect({ type: 'major' });
  await new Promise((resolve) => setTimeout(resolve, 50));
  const stop = startExternalMemoryCollector({ limitBytes: 16 * MiB, intervalMs: 10 });
  try {
    // 32 MiB of buffers that live through two young collections (promoted), then die.
    let buffers: Buffer[] = Array.from({ length: 32 }, () => Buffer.allocUnsafeSlow(MiB));
    collect({ type: 'minor' });
    collect({ type: 'minor' });
    const withBuffers = external();
    assert.equal(buffers.length, 32);
    buffers = [];
    // Young collections alone do not free them.
    collect({ type: 'minor' });
    assert.ok(external() > withBuffers - 8 * MiB, 'promoted buffers outlive young collections');
    assert.ok(
      await until(() => external() < withBuffers - 24 * MiB, 5000),
      `external memory at ${external()} bytes, ${withBuffers} with the buffers`,
    );
  } finally {
    stop();
  }
});

test('live buffers cost one collection, not one per look', async () => {
  const stop = startExternalMemoryCollector({ limitBytes: 8 * MiB, intervalMs: 5 });
  const full = countFullCollections();
  try {
    const live = Array.from({ length: 24 }, () => Buffer.allocUnsafeSlow(MiB));
    assert.ok(await until(() => full.count() >= 1, 5000), 'growth past the limit starts a full collection');
    const after = full.count();
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(full.count(), after, 'memory that survived a full collection does not start another');
    assert.equal(live.length, 24);
  } finally {
    full.stop();
    stop();
  }
});

test('without a collector it does nothing', () => {
  let looked = 0;
  const stop = startExternalMemoryCollector({
    limitBytes: MiB,
    intervalMs: 1,
    collector: null,
    bufferBytes: () => ++looked,
  });
  stop();
  assert.equal(looked, 0);
});
