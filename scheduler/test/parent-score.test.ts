import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ParentView, scoreParent } from '../src/policy/parent-score.ts';

const FASTEST = 1000;
const HERE = { zone: 'z1', rack: 'r1', 'topology.kubernetes.io/zone': 'z1' };
const ELSEWHERE = { zone: 'z2', rack: 'r2', 'topology.kubernetes.io/zone': 'z2' };

type ParentSpec = Partial<Omit<ParentView, 'activeUploads'>> & { freeSlots?: number };

function parent({ freeSlots = 8, ...fields }: ParentSpec): ParentView {
  const uploadSlots = fields.uploadSlots ?? 8;
  return {
    id: 'p',
    speed: FASTEST,
    labels: {},
    ...fields,
    uploadSlots,
    activeUploads: uploadSlots - freeSlots,
  };
}

function score(fields: ParentSpec, requester: Record<string, string> = HERE, fastest = FASTEST) {
  return scoreParent(parent(fields), requester, fastest);
}

describe('scoreParent', () => {
  it('rises with free capacity when everything else is equal', () => {
    const scores = [0, 1, 4, 7, 8].map((freeSlots) => score({ freeSlots }));
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i]! > scores[i - 1]!, `${scores}`);
  });

  it('rises with measured speed when everything else is equal', () => {
    const scores = [1, 100, 500, FASTEST].map((speed) => score({ speed }));
    for (let i = 1; i < scores.length; i++) assert.ok(scores[i]! > scores[i - 1]!, `${scores}`);
  });

  it('gives an unmeasured parent a middle speed weight', () => {
    const unmeasured = score({ speed: 0 });
    assert.ok(unmeasured > score({ speed: FASTEST / 10 }), 'unmeasured should beat a slow parent');
    assert.ok(unmeasured < score({ speed: FASTEST }), 'unmeasured should lose to the fastest');
    assert.equal(unmeasured, score({ speed: FASTEST / 2 }));
    // Nobody measured yet: all parents weigh the same.
    assert.equal(score({ speed: 0 }, HERE, 0), score({ speed: 0 }, HERE, 0));
    assert.ok(Number.isFinite(score({ speed: 0 }, HERE, 0)));
  });

  it('adds for matching zone and rack labels, rack more than zone', () => {
    const none = score({ labels: ELSEWHERE });
    const zone = score({ labels: { ...ELSEWHERE, zone: 'z1' } });
    const rack = score({ labels: { ...ELSEWHERE, rack: 'r1' } });
    const zoneAndRack = score({ labels: { ...ELSEWHERE, zone: 'z1', rack: 'r1' } });
    const all = score({ labels: HERE });
    assert.ok(zone > none);
    assert.ok(rack > zone);
    assert.ok(zoneAndRack > rack);
    assert.ok(all > zoneAndRack);
    assert.ok(score({ labels: { ...ELSEWHERE, 'topology.kubernetes.io/zone': 'z1' } }) > none);
  });

  it('adds nothing for labels the requester lacks or the parent lacks', () => {
    const base = score({ labels: {} }, {});
    assert.equal(score({ labels: HERE }, {}), base);
    assert.equal(score({ labels: {} }, HERE), base);
    assert.equal(score({ labels: { other: 'x' } }, { other: 'x' }), base);
  });

  it('lets free capacity dominate: an idle parent beats an almost busy one, however fast and close', () => {
    const idleSlowFar = score({ freeSlots: 8, speed: 1, labels: ELSEWHERE });
    const busyFastNear = score({ freeSlots: 1, speed: FASTEST, labels: HERE });
    assert.ok(idleSlowFar > busyFastNear, `${idleSlowFar} <= ${busyFastNear}`);
  });

  it('ranks speed before locality: a fast remote parent beats a slow local one at equal capacity', () => {
    const fastFar = score({ freeSlots: 4, speed: FASTEST, labels: ELSEWHERE });
    const slowNear = score({ freeSlots: 4, speed: FASTEST / 10, labels: HERE });
    assert.ok(fastFar > slowNear, `${fastFar} <= ${slowNear}`);
  });

  it('uses locality to break a tie in capacity and speed', () => {
    assert.ok(score({ freeSlots: 3, speed: 200, labels: HERE }) > score({ freeSlots: 3, speed: 200 }));
  });

  it('scores a parent without upload slots as having no capacity', () => {
    assert.equal(score({ freeSlots: 0, uploadSlots: 0 }), score({ freeSlots: 0, uploadSlots: 8 }));
  });

  it('orders by capacity, then speed, then locality over wide gaps (property)', () => {
    const labels = fc.constantFrom(HERE, ELSEWHERE, {}, { zone: 'z1' }, { rack: 'r1' });
    const view = fc.record({
      freeSlots: fc.integer({ min: 0, max: 8 }),
      speed: fc.integer({ min: 0, max: FASTEST }),
      labels,
    });
    const capacityOf = (v: { freeSlots: number }) => v.freeSlots / 8;
    const speedOf = (v: { speed: number }) => (v.speed === 0 ? 0.5 : v.speed / FASTEST);
    fc.assert(
      fc.property(view, view, (a, b) => {
        const sa = score({ ...a, id: 'a' });
        const sb = score({ ...b, id: 'b' });
        // Three quarters of the slots more free wins regardless of speed and locality.
        if (capacityOf(a) - capacityOf(b) >= 0.75) assert.ok(sa > sb, `capacity: ${sa} <= ${sb}`);
        // At equal capacity, a speed gap of half the fastest wins regardless of locality.
        if (a.freeSlots === b.freeSlots && speedOf(a) - speedOf(b) >= 0.5) {
          assert.ok(sa > sb, `speed: ${sa} <= ${sb}`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
