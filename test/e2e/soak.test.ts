import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runSoak } from '../../bench/soak/soak.ts';

describe('a two-minute soak', { timeout: 420_000 }, () => {
  it('keeps every daemon up, every digest right, and descriptors and streams bounded', async () => {
    const result = await runSoak({
      minutes: 2,
      sampleEveryMs: 20_000,
      restartEveryMs: 50_000,
      warmupMs: 40_000,
    });
    assert.equal(result.blobs.wrong, 0, 'a blob ended cleanly with wrong bytes');
    assert.equal(result.manifests.wrong, 0, 'a manifest answered with wrong bytes');
    assert.ok(result.blobs.exact >= 50, `only ${result.blobs.exact} blobs pulled whole`);
    assert.ok(result.pulls.disconnects >= 10, `only ${result.pulls.disconnects} clients went away mid-blob`);
    assert.ok(result.restarts >= 1, 'no peer was restarted');
    assert.ok(result.samples.length >= 4, `${result.samples.length} samples`);
    // Cut-off blobs come from the restarted peer and from load; most pulls complete.
    assert.ok(result.blobs.cut <= result.blobs.exact / 4, JSON.stringify(result.blobs));
    for (const [name, fds] of Object.entries(result.fds)) {
      assert.ok(fds.max - fds.min <= 40, `${name}: descriptors ${fds.min}..${fds.max}`);
    }
    for (const [name, streams] of Object.entries(result.streams)) {
      assert.ok(streams.max <= 64, `${name}: ${streams.max} streams open`);
    }
  });
});
