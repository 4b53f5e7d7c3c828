import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDuration, formatDurationOption, parseDuration } from '../src/durations.ts';
import { formatSize, formatSizeOption, parseSize } from '../src/sizes.ts';

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

  it('writes sizes and durations as options are written, which the parsers read back', () => {
    const sizes: [number, string][] = [
      [0, '0'],
      [1500, '1500'],
      [4096, '4KiB'],
      [8 * 2 ** 20, '8MiB'],
      [20 * 2 ** 30, '20GiB'],
      [3 * 2 ** 40, '3TiB'],
      [1536 * 2 ** 20, '1536MiB'],
    ];
    for (const [bytes, text] of sizes) {
      assert.equal(formatSizeOption(bytes), text);
      assert.equal(parseSize(text), bytes);
    }
    const durations: [number, string][] = [
      [500, '500ms'],
      [1000, '1s'],
      [1500, '1500ms'],
      [30_000, '30s'],
      [60_000, '60s'],
      [90_000, '90s'],
      [120_000, '2m'],
      [15 * 60_000, '15m'],
      [3_600_000, '60m'],
      [2 * 3_600_000, '2h'],
    ];
    for (const [ms, text] of durations) {
      assert.equal(formatDurationOption(ms), text);
      assert.equal(parseDuration(text), ms);
    }
  });
});
