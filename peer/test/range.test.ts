import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answeredRange, boundedRange, parseRange } from '../src/endpoint/range.ts';

describe('parseRange', () => {
  it('means the whole blob without a header', () => {
    assert.deepEqual(parseRange(undefined, 100), { kind: 'whole' });
  });

  it('parses closed, open-ended and suffix ranges', () => {
    assert.deepEqual(parseRange('bytes=0-9', 100), { kind: 'partial', range: { start: 0, end: 9 } });
    assert.deepEqual(parseRange('bytes=10-', 100), { kind: 'partial', range: { start: 10, end: 99 } });
    assert.deepEqual(parseRange('bytes=-10', 100), { kind: 'partial', range: { start: 90, end: 99 } });
    assert.deepEqual(parseRange('bytes=99-99', 100), { kind: 'partial', range: { start: 99, end: 99 } });
    assert.deepEqual(parseRange('  bytes=5-6 ', 100), { kind: 'partial', range: { start: 5, end: 6 } });
  });

  it('clamps an end past the blob and a suffix longer than the blob', () => {
    assert.deepEqual(parseRange('bytes=50-1000', 100), { kind: 'partial', range: { start: 50, end: 99 } });
    assert.deepEqual(parseRange('bytes=-1000', 100), { kind: 'partial', range: { start: 0, end: 99 } });
  });

  it('calls ranges starting at or after the end unsatisfiable', () => {
    assert.deepEqual(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=100-200', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
    assert.deepEqual(parseRange('bytes=-5', 0), { kind: 'unsatisfiable' });
  });

  it('calls everything else malformed, with a reason', () => {
    for (const header of [
      'bytes=5-2',
      'bytes=-',
      'bytes=a-b',
      'bytes=0-1,5-6',
      'items=0-1',
      'bytes 0-1',
      'bytes=0x10-',
      '',
      `bytes=${'9'.repeat(17)}-`,
    ]) {
      const result = parseRange(header, 100);
      assert.equal(result.kind, 'malformed', header);
      assert.ok(result.kind === 'malformed' && result.reason.length > 0, header);
    }
  });

  it('bounds the header excerpt in its reason', () => {
    const result = parseRange(`bytes=${'x'.repeat(10_000)}`, 100);
    assert.ok(result.kind === 'malformed' && result.reason.length < 200);
  });
});

describe('boundedRange', () => {
  it('takes bytes=a-b of at most the limit', () => {
    assert.deepEqual(boundedRange('bytes=900-1023', 1024), { start: 900, end: 1023 });
    assert.deepEqual(boundedRange(' bytes=0-1023 ', 1024), { start: 0, end: 1023 });
    assert.deepEqual(boundedRange('bytes=7-7', 1), { start: 7, end: 7 });
  });

  it('refuses open-ended, suffix, reversed, too long and malformed ranges', () => {
    for (const header of [
      undefined,
      'bytes=5-',
      'bytes=-5',
      'bytes=9-3',
      'bytes=0-1024',
      'bytes=0-1,5-6',
      'items=0-1',
    ]) {
      assert.equal(boundedRange(header, 1024), undefined, String(header));
    }
  });
});

describe('answeredRange', () => {
  const asked = { start: 100, end: 199 };

  it('accepts exactly the asked range, with the blob size', () => {
    assert.deepEqual(answeredRange(asked, 'bytes 100-199/1000', '100'), {
      range: { start: 100, end: 199 },
      size: 1000,
    });
  });

  it('accepts a range cut at the blob end', () => {
    assert.deepEqual(answeredRange(asked, 'bytes 100-149/150', '50'), {
      range: { start: 100, end: 149 },
      size: 150,
    });
  });

  it('refuses another start, another end, a wrong length or no Content-Range', () => {
    assert.equal(answeredRange(asked, 'bytes 0-199/1000', '200'), undefined);
    assert.equal(answeredRange(asked, 'bytes 100-150/1000', '51'), undefined);
    assert.equal(answeredRange(asked, 'bytes 100-199/1000', '99'), undefined);
    assert.equal(answeredRange(asked, 'bytes 100-199/*', '100'), undefined);
    assert.equal(answeredRange(asked, undefined, '100'), undefined);
    assert.equal(answeredRange(asked, 'bytes 100-199/1000', undefined), undefined);
    assert.equal(answeredRange(asked, 'bytes 100-149/120', '50'), undefined);
  });
});
