import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { MAX_REQUEST_ID_LENGTH, requestIdFor } from '../src/endpoint/request-id.ts';

const fresh = () => 'generated';

describe('requestIdFor', () => {
  it("keeps a sane incoming id: a proxy's UUID, a load balancer's trace id", () => {
    for (const id of [
      '0f6c7a34-5d1e-4c52-9a51-7b3c3f0e2b11',
      'Root=1-67891233-abcdef012345678912345678',
      'a',
    ]) {
      assert.equal(requestIdFor(id, fresh), id);
    }
    assert.equal(requestIdFor('x'.repeat(MAX_REQUEST_ID_LENGTH), fresh), 'x'.repeat(MAX_REQUEST_ID_LENGTH));
  });

  it('replaces a missing, repeated, empty, overlong or odd one', () => {
    for (const header of [
      undefined,
      ['a', 'b'],
      '',
      'x'.repeat(MAX_REQUEST_ID_LENGTH + 1),
      'two words',
      'line\nbreak',
      '{"json":1}',
      'quote"d',
    ]) {
      assert.equal(requestIdFor(header, fresh), 'generated', JSON.stringify(header));
    }
  });

  it('generates distinct UUIDs by default', () => {
    const a = requestIdFor(undefined);
    const b = requestIdFor(undefined);
    assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a, b);
  });

  it('never returns anything but a short id of plain characters', () => {
    fc.assert(
      fc.property(fc.option(fc.string({ maxLength: 300 }), { nil: undefined }), (header) => {
        const id = requestIdFor(header);
        assert.ok(id.length >= 1 && id.length <= MAX_REQUEST_ID_LENGTH);
        assert.match(id, /^[A-Za-z0-9._:@/+=-]+$/);
      }),
      { numRuns: 500 },
    );
  });
});
