import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { createMetricsRegistry } from '../src/metrics.ts';

async function openFds(text: Promise<string>): Promise<number> {
  const line = (await text).split('\n').find((l) => l.startsWith('process_open_fds'));
  assert.ok(line, 'process_open_fds is exported');
  return Number(line.split(' ').at(-1));
}

describe('createMetricsRegistry', () => {
  it('counts open file descriptors, one more for a file opened', {
    skip: process.platform !== 'linux',
  }, async () => {
    const registry = createMetricsRegistry({ service: 'test' });
    const before = await openFds(registry.metrics());
    const file = await open(import.meta.filename);
    try {
      assert.equal(await openFds(registry.metrics()), before + 1);
    } finally {
      await file.close();
    }
    assert.equal(await openFds(registry.metrics()), before);
  });

  it('leaves out the default gauges named like counters, and the handles listed one by one', async () => {
    const text = await createMetricsRegistry().metrics();
    assert.doesNotMatch(text, /^# TYPE nodejs_active_\w+_total gauge$/m);
    assert.doesNotMatch(text, /^# TYPE nodejs_active_handles gauge$/m);
    assert.match(text, /^# TYPE nodejs_active_resources gauge$/m);
    assert.match(text, /^# TYPE nodejs_active_requests gauge$/m);
  });
});
