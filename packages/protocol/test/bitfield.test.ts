import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { Bitfield } from '../src/index.ts';

function fieldOf(length: number, bits: boolean[]): Bitfield {
  const field = new Bitfield(length);
  for (const [i, on] of bits.entries()) if (on) field.set(i);
  return field;
}

describe('Bitfield.hasAnyNotIn', () => {
  it('is true exactly when some bit set in one is clear in the other', () => {
    fc.assert(
      fc.property(
        fc
          .integer({ min: 0, max: 70 })
          .chain((n) =>
            fc.tuple(
              fc.constant(n),
              fc.array(fc.boolean(), { minLength: n, maxLength: n }),
              fc.array(fc.boolean(), { minLength: n, maxLength: n }),
            ),
          ),
        ([n, a, b]) => {
          const expected = a.some((on, i) => on && !b[i]);
          assert.equal(fieldOf(n, a).hasAnyNotIn(fieldOf(n, b)), expected);
        },
      ),
    );
  });

  it('refuses fields of different lengths', () => {
    assert.throws(() => new Bitfield(8).hasAnyNotIn(new Bitfield(9)), RangeError);
  });
});
