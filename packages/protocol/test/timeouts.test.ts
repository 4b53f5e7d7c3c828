import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_PIECE_RATE, PIECE_TIMEOUT_MS, pieceTimeoutMs, slotsForRate } from '../src/index.ts';

describe('pieceTimeoutMs', () => {
  it('gives small pieces the floor and big ones as long as they need at the minimum rate', () => {
    assert.equal(pieceTimeoutMs(256 * 1024), PIECE_TIMEOUT_MS);
    assert.equal(pieceTimeoutMs(2 * 1024 * 1024), 32_000);
    assert.equal(pieceTimeoutMs(16 * 1024 * 1024), 256_000);
  });
});

describe('slotsForRate', () => {
  it('keeps the slots of a link that is not capped, or fast enough for all of them', () => {
    assert.equal(slotsForRate(8, 0), 8);
    assert.equal(slotsForRate(6, 125e6), 6);
    assert.equal(slotsForRate(8, 8 * MIN_PIECE_RATE), 8);
  });

  it('gives a slow link only as many as each can have the minimum rate, at least one', () => {
    assert.equal(slotsForRate(8, 8 * MIN_PIECE_RATE - 1), 7);
    assert.equal(slotsForRate(6, 250e3), 3);
    assert.equal(slotsForRate(8, 500e3), 7);
    assert.equal(slotsForRate(8, 10e3), 1);
  });
});
