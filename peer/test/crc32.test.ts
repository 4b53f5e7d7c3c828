import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { crc32, crc32Implementation } from '../src/store/crc32.ts';

test('the SIMD CRC32 loads on linux x64, where the project ships', () => {
  if (process.platform === 'linux' && process.arch === 'x64') assert.equal(crc32Implementation, 'simd');
});

test('crc32 gives zlib its values: sums stored by either check with the other', () => {
  const bytes = randomBytes(3 * 1024 * 1024 + 17);
  assert.equal(crc32(bytes, 0), zlibCrc32(bytes, 0));
  assert.equal(crc32(new Uint8Array(0), 12345), zlibCrc32(new Uint8Array(0), 12345));
  // Continued over uneven chunks, from views that are plain Uint8Arrays at odd offsets.
  let ours = 0;
  let theirs = 0;
  for (let at = 0; at < bytes.length; at += 65_537) {
    const part = new Uint8Array(bytes.buffer, bytes.byteOffset + at, Math.min(65_537, bytes.length - at));
    ours = crc32(part, ours);
    theirs = zlibCrc32(part, theirs);
  }
  assert.equal(ours, theirs);
  assert.equal(ours, zlibCrc32(bytes, 0));
});
