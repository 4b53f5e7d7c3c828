import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_PIECE_SIZE, MAX_PIECE_SIZE, MIB, MIN_PIECE_SIZE } from '@shoal/protocol';
import { MAX_TASK_PIECES, SwarmState } from '../src/state/swarm-state.ts';

const DIGEST = `sha256:${'cd'.repeat(32)}`;

describe('SwarmState refuses tasks no real blob has', () => {
  it('creates tasks for valid digests, sizes and piece sizes', () => {
    const state = new SwarmState();
    assert.equal(state.task(DIGEST, 10 * MIB)?.pieceCount, Math.ceil((10 * MIB) / DEFAULT_PIECE_SIZE));
    const fixed = new SwarmState().task(DIGEST, 10 * MIB, MIN_PIECE_SIZE);
    assert.equal(fixed?.pieceCount, 10);
    // The largest: MAX_TASK_PIECES pieces of the largest size.
    assert.equal(
      new SwarmState().task(DIGEST, MAX_TASK_PIECES * MAX_PIECE_SIZE, MAX_PIECE_SIZE)?.pieceCount,
      MAX_TASK_PIECES,
    );
  });

  it('refuses malformed digests', () => {
    for (const digest of [
      '',
      'garbage',
      `sha512:${'a'.repeat(128)}`,
      `sha256:${'A'.repeat(64)}`,
      'x'.repeat(1e5),
    ]) {
      const state = new SwarmState();
      assert.equal(state.task(digest, MIB), undefined, digest.slice(0, 40));
      assert.equal(state.tasks.size, 0);
    }
  });

  it('refuses sizes and piece sizes that would allocate per-piece state without bound', () => {
    const cases: [number, number | undefined][] = [
      [2 ** 53, undefined],
      [Number.MAX_SAFE_INTEGER, undefined],
      [2 ** 50, undefined],
      [MAX_TASK_PIECES * MAX_PIECE_SIZE + 1, MAX_PIECE_SIZE],
      [1e9, 1],
      [1e9, MIN_PIECE_SIZE - 1],
      [1e9, MAX_PIECE_SIZE + 1],
      [1.5, undefined],
    ];
    for (const [size, pieceSize] of cases) {
      const state = new SwarmState();
      const started = performance.now();
      assert.equal(state.task(DIGEST, size, pieceSize), undefined, `${size} / ${pieceSize}`);
      assert.ok(performance.now() - started < 100);
    }
  });
});
