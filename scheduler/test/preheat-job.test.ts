import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type PreheatItem, PreheatJob, type PreheatResolution } from '../src/preheat/job.ts';
import { type CandidatePeer, choosePreheatPeers } from '../src/preheat/peer-choice.ts';
import { checkPreheatRequest } from '../src/preheat/request.ts';

const digest = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const INDEX: PreheatItem = { digest: digest(1), kind: 'manifest', size: 300, tag: 'v1' };
const MANIFEST: PreheatItem = { digest: digest(2), kind: 'manifest', size: 500 };
const CONFIG: PreheatItem = { digest: digest(3), kind: 'blob', size: 1_000 };
const LAYER: PreheatItem = { digest: digest(4), kind: 'blob', size: 1_000_000 };
const RESOLUTION: PreheatResolution = {
  items: [INDEX, MANIFEST, CONFIG, LAYER],
  digest: INDEX.digest,
  manifest: MANIFEST.digest,
  platform: 'linux/amd64',
};
const TARGET = {
  image: 'registry.test:5000/team/app:v1',
  registry: 'registry.test:5000',
  repository: 'team/app',
  scope: 'all' as const,
};

function newJob(): PreheatJob {
  return new PreheatJob('job-1', TARGET, 1_000);
}

/** Answers everything `peer` was handed, until nothing is left. */
function answerAll(job: PreheatJob, peer: string, now: number, ok = (_: PreheatItem) => true): void {
  for (let items = job.take(peer, 2); items.length > 0; items = job.take(peer, 2)) {
    for (const item of items) job.settle(peer, item.digest, ok(item), ok(item) ? '' : 'boom', now);
  }
}

describe('preheat job state', () => {
  it('is pending until resolved, then hands out manifests first, at most maxInFlight at a time', () => {
    const job = newJob();
    assert.equal(job.state, 'pending');
    assert.deepEqual(job.take('a', 4), [], 'nothing to hand out before the image is resolved');
    job.start(RESOLUTION, ['a', 'b'], 2_000);
    assert.equal(job.state, 'running');
    assert.deepEqual(job.take('a', 2), [INDEX, MANIFEST]);
    assert.deepEqual(job.take('a', 2), [], 'two are unanswered');
    assert.equal(job.settle('a', INDEX.digest, true, '', 2_100), true);
    assert.deepEqual(job.take('a', 2), [CONFIG]);
    assert.deepEqual(job.take('stranger', 2), [], 'a peer not in the job gets nothing');
  });

  it('succeeds once every peer cached every object, and counts progress over (peer, object) pairs', () => {
    const job = newJob();
    job.start(RESOLUTION, ['a', 'b'], 2_000);
    answerAll(job, 'a', 3_000);
    let view = job.view();
    assert.equal(view.state, 'running');
    assert.deepEqual(view.blobs, { total: 4, done: 2, failed: 0 });
    assert.deepEqual(view.manifests, { total: 4, done: 2, failed: 0 });
    const perPeer = 300 + 500 + 1_000 + 1_000_000;
    assert.deepEqual(view.bytes, { total: 2 * perPeer, done: perPeer });
    answerAll(job, 'b', 4_000);
    view = job.view();
    assert.equal(view.state, 'succeeded');
    assert.deepEqual(view.bytes, { total: 2 * perPeer, done: 2 * perPeer });
    assert.equal(view.finishedAt, new Date(4_000).toISOString());
    assert.equal(view.digest, INDEX.digest);
    assert.equal(view.manifest, MANIFEST.digest);
    assert.equal(view.platform, 'linux/amd64');
    assert.deepEqual(
      view.peers.map((p) => [p.id, p.objects]),
      [
        ['a', { total: 4, done: 4, failed: 0 }],
        ['b', { total: 4, done: 4, failed: 0 }],
      ],
    );
    assert.equal(job.settle('a', LAYER.digest, false, 'late', 5_000), false, 'a finished job stays finished');
    assert.equal(job.view().state, 'succeeded');
  });

  it('fails, naming the first failure, when a peer could not fetch something; the others still finish', () => {
    const job = newJob();
    job.start(RESOLUTION, ['a', 'b'], 2_000);
    answerAll(job, 'a', 3_000, (item) => item !== LAYER);
    assert.equal(job.state, 'running', 'b still has work');
    answerAll(job, 'b', 3_500);
    const view = job.view();
    assert.equal(view.state, 'failed');
    assert.deepEqual(view.blobs, { total: 4, done: 3, failed: 1 });
    assert.match(view.error!, /^1 of 8 fetches failed; first: peer a, sha256:0+4: boom$/);
    assert.deepEqual(view.failures, [{ peer: 'a', digest: LAYER.digest, error: 'boom' }]);
  });

  it('ignores answers nobody asked for: unknown digests, unasked objects, repeated answers', () => {
    const job = newJob();
    job.start(RESOLUTION, ['a'], 2_000);
    assert.equal(job.settle('a', LAYER.digest, true, '', 2_100), false, 'not asked yet');
    job.take('a', 1);
    assert.equal(job.settle('a', digest(99), true, '', 2_100), false);
    assert.equal(job.settle('b', INDEX.digest, true, '', 2_100), false);
    assert.equal(job.settle('a', INDEX.digest, true, '', 2_100), true);
    assert.equal(job.settle('a', INDEX.digest, true, '', 2_100), false, 'answered twice');
    assert.deepEqual(job.view().manifests, { total: 2, done: 1, failed: 0 });
  });

  it('a peer leaving fails its outstanding objects; silence past the idle time fails the rest', () => {
    const job = newJob();
    job.start(RESOLUTION, ['a', 'b'], 2_000);
    job.take('a', 2);
    job.take('b', 2);
    job.dropPeer('a', 3_000);
    assert.equal(job.state, 'running');
    assert.deepEqual(job.view().peers[0]!.objects, { total: 4, done: 0, failed: 4 });
    assert.equal(job.expire(10_000, 60_000), false, 'not idle long enough');
    job.settle('b', INDEX.digest, true, '', 50_000);
    assert.equal(job.expire(100_000, 60_000), false, 'the answer at 50 s counts as progress');
    assert.equal(job.expire(110_001, 60_000), true);
    const view = job.view();
    assert.equal(view.state, 'failed');
    assert.equal(view.failures[0]!.error, 'the peer left the scheduler');
    assert.ok(
      view.failures.some((f) => f.peer === 'b' && /no answer from the peer within 60 s/.test(f.error)),
    );
    assert.deepEqual(view.blobs, { total: 4, done: 0, failed: 4 });
  });

  it('fails at once without peers, or when the image cannot be resolved', () => {
    const lonely = newJob();
    lonely.start(RESOLUTION, [], 2_000);
    assert.equal(lonely.state, 'failed');
    assert.equal(lonely.view().error, 'no peers are registered with this scheduler');
    const unresolvable = newJob();
    unresolvable.fail('cannot resolve registry.test:5000/team/app:v1: registry answered 404', 2_000);
    assert.equal(unresolvable.state, 'failed');
    assert.equal(unresolvable.view().startedAt, undefined);
    unresolvable.start(RESOLUTION, ['a'], 3_000);
    assert.equal(unresolvable.state, 'failed', 'a failed job does not start');
  });

  it('any order of answers, departures and expiry ends in a consistent state', () => {
    const step = fc.oneof(
      fc.record({ kind: fc.constant('answer' as const), peer: fc.nat(2), ok: fc.boolean() }),
      fc.record({ kind: fc.constant('leave' as const), peer: fc.nat(2) }),
      fc.record({ kind: fc.constant('expire' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), (steps) => {
        const job = newJob();
        const peers = ['p0', 'p1', 'p2'];
        job.start(RESOLUTION, peers, 0);
        let now = 0;
        const asked = new Map(peers.map((p) => [p, job.take(p, 2)]));
        for (const s of steps) {
          now += 1_000;
          if (s.kind === 'answer') {
            const peer = peers[s.peer]!;
            const item = asked.get(peer)!.shift();
            if (item) job.settle(peer, item.digest, s.ok, 'no', now);
            asked.get(peer)!.push(...job.take(peer, 2));
          } else if (s.kind === 'leave') {
            job.dropPeer(peers[s.peer]!, now);
          } else {
            job.expire(now, 5_000);
          }
        }
        const view = job.view();
        for (const counts of [view.blobs, view.manifests]) {
          assert.equal(counts.total, 6);
          assert.ok(counts.done + counts.failed <= counts.total);
        }
        const settled = view.blobs.done + view.blobs.failed + view.manifests.done + view.manifests.failed;
        if (view.state === 'succeeded') assert.equal(view.blobs.done + view.manifests.done, 12);
        if (view.state === 'failed') assert.equal(settled, 12);
        if (view.state === 'running') assert.ok(settled < 12);
        assert.ok(view.bytes.done <= view.bytes.total);
      }),
    );
  });
});

describe('preheat peer choice', () => {
  const peer = (id: string, zone?: string): CandidatePeer => ({ id, labels: zone ? { zone } : {} });

  it('"all" asks every peer; "seed" asks the given number, spread over zones', () => {
    const peers = [peer('a1', 'a'), peer('a2', 'a'), peer('a3', 'a'), peer('b1', 'b'), peer('n1')];
    assert.deepEqual(choosePreheatPeers(peers, 'all', 1), ['a1', 'a2', 'a3', 'b1', 'n1']);
    const two = choosePreheatPeers(peers, 'seed', 2);
    assert.equal(two.length, 2);
    assert.notEqual(two[0]![0], two[1]![0], `two zones: ${two.join(', ')}`);
    const three = choosePreheatPeers(peers, 'seed', 3);
    assert.deepEqual(new Set(three.map((id) => id[0])), new Set(['a', 'b', 'n']));
    assert.equal(choosePreheatPeers(peers, 'seed', 10).length, 5, 'no more than there are');
    assert.deepEqual(choosePreheatPeers([], 'seed', 2), []);
  });
});

describe('preheat request', () => {
  it('takes an image reference, an optional platform and scope (seed by default)', () => {
    const check = checkPreheatRequest({
      image: 'registry.test:5000/team/app:v1',
      platform: 'linux/arm64/v8',
    });
    assert.ok(check.ok);
    assert.deepEqual(check.request, {
      reference: { registry: 'registry.test:5000', repository: 'team/app', tag: 'v1' },
      platform: { os: 'linux', architecture: 'arm64', variant: 'v8' },
      scope: 'seed',
    });
    const all = checkPreheatRequest({ image: 'alpine', scope: 'all' });
    assert.ok(all.ok);
    assert.deepEqual(all.request.reference, {
      registry: 'docker.io',
      repository: 'library/alpine',
      tag: 'latest',
    });
  });

  it('names every field that is wrong', () => {
    const errorOf = (body: unknown) => {
      const check = checkPreheatRequest(body);
      assert.ok(!check.ok, JSON.stringify(body));
      return check.error;
    };
    assert.match(errorOf({}), /^image: required: an image reference/);
    assert.match(errorOf({ image: 'Bad Name' }), /^image: invalid/);
    assert.match(errorOf({ image: 'alpine', scope: 'some' }), /^scope: expected "seed" or "all"$/);
    assert.match(errorOf({ image: 'alpine', platform: 'amd64' }), /^platform: invalid platform "amd64"/);
    assert.match(errorOf({ image: 'alpine', extra: 1 }), /extra/);
    assert.match(errorOf([]), /expected object/);
    assert.match(errorOf({ image: 'x', scope: 'none', platform: '' }), /platform: .*; scope: /);
  });
});
