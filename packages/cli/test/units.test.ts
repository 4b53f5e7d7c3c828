import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, parseDuration } from '../src/durations.ts';
import { formatSize } from '../src/sizes.ts';

describe('durations and sizes for people', () => {
  it('parses 90s, 10m, 1h, 500ms and plain seconds; refuses the rest by name', () => {
    assert.equal(parseDuration('90s'), 90_000);
    assert.equal(parseDuration('10m'), 600_000);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('500ms'), 500);
    assert.equal(parseDuration('1.5m'), 90_000);
    assert.equal(parseDuration('30'), 30_000);
    assert.equal(parseDuration(45), 45_000);
    for (const bad of ['', '0', '-5s', '10 minutes', 'soon', '1d']) {
      assert.throws(() => parseDuration(bad), new RegExp(`invalid duration "${bad}"`));
    }
  });

  it('formats durations and sizes', () => {
    assert.equal(formatDuration(850), '850 ms');
    assert.equal(formatDuration(4_240), '4.2 s');
    assert.equal(formatDuration(185_000), '3 min 5 s');
    assert.equal(formatSize(512), '512 B');
    assert.equal(formatSize(12_345_678), '12.3 MB');
    assert.equal(formatSize(1_050_000_000), '1.05 GB');
    assert.equal(formatSize(999_999), '1.00 MB', 'never "1000 kB"');
  });
});
