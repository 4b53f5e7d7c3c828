import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Digest, Upstream } from '@shoal/oci';
import {
  type AccessDecision,
  AccessGuard,
  type AccessProbe,
  type ContentRef,
  type ProbeOutcome,
  type Refusal,
  type RegistryOutcome,
} from '../src/endpoint/access-guard.ts';

const UP: Upstream = { registry: 'registry.example:5000', url: 'http://127.0.0.1:1' };
const OTHER_REGISTRY: Upstream = { registry: 'other.example', url: 'http://127.0.0.1:2' };
const GOOD = 'Bearer good-token';
const BAD = 'Bearer bad-token';
const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}` as Digest;
const SECRET = digestOf(1);
const OPEN = digestOf(2);
const NOWHERE = digestOf(3);

const CHALLENGE: Refusal = {
  status: 401,
  headers: {
    'www-authenticate':
      'Bearer realm="http://auth.example/token",service="registry",scope="repository:x:pull"',
    'content-type': 'application/json',
  },
  body: Buffer.from('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'),
};

const PING_CHALLENGE: Refusal = {
  status: 401,
  headers: { 'www-authenticate': 'Bearer realm="http://auth.example/token",service="registry"' },
  body: Buffer.from('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'),
};

interface FakeRepository {
  visibility: 'public' | 'private';
  digests: Digest[];
}

/** A fake upstream: repositories with their visibility and contents, one accepted header; counts probes. */
class FakeUpstream implements AccessProbe {
  registries = new Map<string, Map<string, FakeRepository>>([[UP.registry, new Map()]]);
  accepted = new Set<string>([GOOD]);
  down = false;
  registryOpen = false;
  calls: { repository: string; digest: Digest; authorization: string | undefined }[] = [];
  registryCalls = 0;
  /** When set, probes wait for it (to test sharing of concurrent probes). */
  gate: Promise<void> | undefined;

  async content(ref: ContentRef, authorization: string | undefined): Promise<ProbeOutcome> {
    this.calls.push({ repository: ref.repository, digest: ref.digest, authorization });
    await this.gate;
    if (this.down) return { kind: 'unreachable' };
    const repo = this.registries.get(ref.upstream.registry)?.get(ref.repository);
    if (!repo) return { kind: 'absent' };
    const allowed =
      repo.visibility === 'public' || (authorization !== undefined && this.accepted.has(authorization));
    if (!allowed) {
      return {
        kind: 'refused',
        refusal:
          authorization === undefined
            ? CHALLENGE
            : {
                ...CHALLENGE,
                headers: { ...CHALLENGE.headers, 'www-authenticate': 'Bearer error="invalid_token"' },
              },
      };
    }
    return repo.digests.includes(ref.digest) ? { kind: 'readable', size: 42 } : { kind: 'absent' };
  }

  async registry(): Promise<RegistryOutcome> {
    this.registryCalls++;
    if (this.down) return { kind: 'unreachable' };
    return this.registryOpen ? { kind: 'open' } : { kind: 'closed', challenge: PING_CHALLENGE };
  }

  probesOf(repository: string): number {
    return this.calls.filter((c) => c.repository === repository).length;
  }
}

function setup(options: { swarm?: Map<string, number> } = {}) {
  const upstream = new FakeUpstream();
  const repos = upstream.registries.get(UP.registry)!;
  repos.set('priv', { visibility: 'private', digests: [SECRET] });
  repos.set('other-priv', { visibility: 'private', digests: [OPEN] });
  repos.set('pub', { visibility: 'public', digests: [OPEN] });
  let time = 1_000_000;
  const swarmAsked: string[] = [];
  const guard = new AccessGuard({
    probe: upstream,
    now: () => time,
    publicTtlMs: 300_000,
    credentialTtlMs: 60_000,
    privateTtlMs: 60_000,
    retryMs: 5_000,
    ...(options.swarm
      ? {
          swarm: {
            async publicSince(registry: string, repository: string, digest: Digest) {
              const key = `${registry}/${repository}@${digest}`;
              swarmAsked.push(key);
              return options.swarm!.get(key);
            },
          },
        }
      : {}),
  });
  const ref = (repository: string, digest: Digest, upstreamOf = UP): ContentRef => ({
    upstream: upstreamOf,
    repository,
    digest,
    kind: 'blob',
  });
  return {
    upstream,
    guard,
    swarmAsked,
    ref,
    now: () => time,
    advance(ms: number) {
      time += ms;
    },
    check: (repository: string, digest: Digest, authorization?: string, offline = false) =>
      guard.check(ref(repository, digest), authorization, { offline }),
  };
}

function assertAllowed(decision: AccessDecision, what = ''): void {
  assert.equal(decision.allowed, true, `${what}: ${decision.allowed ? '' : decision.refusal.status}`);
}

function refusalOf(decision: AccessDecision): Refusal {
  assert.equal(decision.allowed, false, 'expected a refusal');
  return (decision as { refusal: Refusal }).refusal;
}

/** Lets background work (the registry probe) settle. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('AccessGuard', () => {
  it('lets everyone read a digest a public repository holds, probing the pairing once per TTL', async () => {
    const t = setup();
    assertAllowed(await t.check('pub', OPEN));
    assertAllowed(await t.check('pub', OPEN, BAD), 'a header does not matter for a public pairing');
    t.advance(299_000);
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(t.upstream.probesOf('pub'), 1);
    assert.deepEqual(t.upstream.calls[0], { repository: 'pub', digest: OPEN, authorization: undefined });
    t.advance(2_000);
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(t.upstream.probesOf('pub'), 2, 're-probed after the TTL');
  });

  it("never serves a digest under a repository that does not hold it: upstream's 404, every time", async () => {
    const t = setup();
    // SECRET is private content; naming a public repository, one that does not exist, or another
    // registry does not make it readable, with or without credentials.
    for (const [repository, upstream] of [
      ['pub', UP],
      ['no-such-repo', UP],
      ['priv', OTHER_REGISTRY],
    ] as const) {
      for (const authorization of [undefined, GOOD, BAD]) {
        const refusal = refusalOf(await t.guard.check(t.ref(repository, SECRET, upstream), authorization));
        assert.equal(refusal.status, 404, `${upstream.registry}/${repository} with ${authorization}`);
        assert.match(refusal.body.toString('utf8'), /"code":"BLOB_UNKNOWN"/);
      }
    }
    // A public repository's other digest is fine, and the refusal is asked again (not cached).
    assertAllowed(await t.check('pub', OPEN));
    const probes = t.upstream.probesOf('pub');
    refusalOf(await t.check('pub', SECRET));
    assert.equal(t.upstream.probesOf('pub'), probes + 1);
    const manifest = refusalOf(
      await t.guard.check({ ...t.ref('pub', NOWHERE), kind: 'manifest' }, undefined),
    );
    assert.match(manifest.body.toString('utf8'), /"code":"MANIFEST_UNKNOWN"/);
  });

  it("relays the anonymous probe's challenge to a client without credentials, and reuses it briefly", async () => {
    const t = setup();
    const refusal = refusalOf(await t.check('priv', SECRET));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers['www-authenticate'], CHALLENGE.headers['www-authenticate']);
    assert.deepEqual(refusal.body, CHALLENGE.body);
    assert.equal(refusalOf(await t.check('priv', SECRET)).status, 401);
    assert.equal(refusalOf(await t.check('priv', NOWHERE)).status, 401, 'the same repository');
    assert.equal(t.upstream.probesOf('priv'), 1);
    t.advance(61_000);
    assert.equal(refusalOf(await t.check('priv', SECRET)).status, 401);
    assert.equal(t.upstream.probesOf('priv'), 2);
  });

  it('accepts a header upstream accepts, cached per header, repository and digest for the credential TTL', async () => {
    const t = setup();
    assertAllowed(await t.check('priv', SECRET, GOOD));
    assert.deepEqual(
      t.upstream.calls.map((c) => c.authorization),
      [undefined, GOOD],
      'anonymous probe first, then the header relayed as is',
    );
    for (let i = 0; i < 5; i++) assertAllowed(await t.check('priv', SECRET, GOOD));
    assert.equal(t.upstream.probesOf('priv'), 2, 'no probe while the answer is fresh');

    // Another repository is a separate question, even with the same header; so is another digest.
    assertAllowed(await t.check('other-priv', OPEN, GOOD));
    assert.equal(t.upstream.probesOf('other-priv'), 2);
    assert.equal(refusalOf(await t.check('other-priv', SECRET, GOOD)).status, 404);

    // The acceptance of one header says nothing about another.
    t.upstream.accepted.add('Bearer second');
    assertAllowed(await t.check('priv', SECRET, 'Bearer second'));
    assert.equal(t.upstream.probesOf('priv'), 3, 'the repository is known private: header probe only');

    // Past the TTL the header is checked again, and a revoked one is refused.
    t.advance(61_000);
    t.upstream.accepted.delete(GOOD);
    assert.equal(refusalOf(await t.check('priv', SECRET, GOOD)).status, 401);
  });

  it("refuses a header upstream refuses with upstream's own answer, and does not cache the refusal", async () => {
    const t = setup();
    const refusal = refusalOf(await t.check('priv', SECRET, BAD));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers['www-authenticate'], 'Bearer error="invalid_token"');
    const probes = t.upstream.probesOf('priv');
    refusalOf(await t.check('priv', SECRET, BAD));
    assert.equal(t.upstream.probesOf('priv'), probes + 1, 'a refused header is asked about again');
    assertAllowed(await t.check('priv', SECRET, GOOD), 'the refusal of one header does not taint another');
  });

  it("tells the blob's size when it asked upstream just now, and nothing from its memory", async () => {
    const t = setup();
    assert.deepEqual(await t.check('pub', OPEN), { allowed: true, size: 42 });
    assert.deepEqual(await t.check('pub', OPEN), { allowed: true });
    assert.deepEqual(await t.check('priv', SECRET, GOOD), { allowed: true, size: 42 });
  });

  it('content upstream itself served is paired: to anyone without a header, else to that header only', async () => {
    const t = setup();
    t.guard.noteObtained({ upstream: UP, repository: 'seen', digest: OPEN }, undefined);
    assertAllowed(await t.check('seen', OPEN));
    t.guard.noteObtained({ upstream: UP, repository: 'priv', digest: SECRET }, GOOD);
    assertAllowed(await t.check('priv', SECRET, GOOD));
    assert.equal(t.upstream.calls.length, 0, 'no probe for what upstream served');
    assert.equal(refusalOf(await t.check('priv', SECRET)).status, 401, 'not to anyone else');
    assert.equal(refusalOf(await t.check('pub', SECRET)).status, 404, 'not under another name');
    assert.equal(t.guard.publicSince(UP.registry, 'seen', OPEN), t.now());
    assert.equal(
      t.guard.publicSince(UP.registry, 'priv', SECRET),
      undefined,
      'a credential pairing is no public one',
    );
  });

  it('while upstream is unreachable: a public pairing however old, a header accepted within its TTL, else 503', async () => {
    const t = setup();
    assertAllowed(await t.check('pub', OPEN));
    assertAllowed(await t.check('priv', SECRET, GOOD));
    t.upstream.down = true;

    t.advance(30_000);
    assertAllowed(await t.check('priv', SECRET, GOOD), 'header accepted 30 s ago');
    const unknown = refusalOf(await t.check('never-seen', OPEN));
    assert.equal(unknown.status, 503);
    assert.match(unknown.body.toString('utf8'), /"code":"UNAVAILABLE"/);
    assert.equal(refusalOf(await t.check('pub', SECRET)).status, 503, 'a pairing never confirmed');
    assert.equal(
      refusalOf(await t.check('priv', SECRET)).status,
      401,
      'a fresh anonymous refusal is relayed',
    );

    t.advance(600_000);
    assertAllowed(await t.check('pub', OPEN), 'last known public, long ago');
    assert.equal(refusalOf(await t.check('priv', SECRET, GOOD)).status, 503, 'header acceptance expired');
    assert.equal(refusalOf(await t.check('priv', SECRET)).status, 503, 'private, unconfirmable');
  });

  it('while upstream is unreachable, learns public pairings from the swarm, never private ones', async () => {
    const swarm = new Map([[`${UP.registry}/pub@${OPEN}`, 900_000]]);
    const t = setup({ swarm });
    t.upstream.down = true;
    assertAllowed(await t.check('pub', OPEN), 'public per the swarm');
    assert.equal(t.guard.publicSince(UP.registry, 'pub', OPEN), 900_000, 'as of when the swarm learnt it');
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(t.swarmAsked.length, 1, 'remembered');
    assert.equal(refusalOf(await t.check('pub', SECRET)).status, 503, 'not a pairing the swarm knows');
    assert.equal(refusalOf(await t.check('priv', SECRET, GOOD)).status, 503, 'credentials need upstream');
    // Once upstream is back, a pairing learnt from the swarm long ago is confirmed again.
    t.upstream.down = false;
    t.advance(10_000);
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(t.upstream.probesOf('pub'), 1);
    // A time in the future is no answer.
    const liar = setup({ swarm: new Map([[`${UP.registry}/pub@${OPEN}`, 9e15]]) });
    liar.upstream.down = true;
    assert.equal(refusalOf(await liar.check('pub', OPEN)).status, 503);
  });

  it('after upstream was unreachable, decides from what it knows for a while without probing', async () => {
    const t = setup();
    assertAllowed(await t.check('pub', OPEN));
    t.advance(301_000);
    t.upstream.down = true;
    assertAllowed(await t.check('pub', OPEN));
    const probes = t.upstream.calls.length;
    t.advance(1_000);
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(refusalOf(await t.check('never-seen', OPEN)).status, 503);
    assert.equal(t.upstream.calls.length, probes, 'no probe within the retry interval');
    t.advance(5_000);
    t.upstream.down = false;
    assertAllowed(await t.check('pub', OPEN));
    assert.equal(t.upstream.calls.length, probes + 1, 'probed again after it');
  });

  it('offline checks never probe', async () => {
    const t = setup();
    assertAllowed(await t.check('pub', OPEN));
    assertAllowed(await t.check('priv', SECRET, GOOD));
    const probes = t.upstream.calls.length;
    t.advance(400_000);
    assertAllowed(await t.check('pub', OPEN, undefined, true));
    assert.equal(refusalOf(await t.check('priv', SECRET, GOOD, true)).status, 503);
    assert.equal(refusalOf(await t.check('never-seen', OPEN, undefined, true)).status, 503);
    assert.equal(t.upstream.calls.length, probes);
  });

  it('shares one probe among concurrent checks', async () => {
    const t = setup();
    const { promise: gate, resolve } = Promise.withResolvers<void>();
    t.upstream.gate = gate;
    const pending = [
      ...Array.from({ length: 5 }, () => t.check('pub', OPEN)),
      ...Array.from({ length: 5 }, () => t.check('priv', SECRET, GOOD)),
    ];
    resolve();
    for (const decision of await Promise.all(pending)) assertAllowed(decision);
    assert.equal(t.upstream.probesOf('pub'), 1);
    assert.equal(t.upstream.probesOf('priv'), 2, 'one anonymous probe, one with the header');
  });

  it("gives a /v2/ ping upstream's challenge while upstream's API root asks for credentials", async () => {
    const t = setup();
    assert.deepEqual(await t.guard.registryChallenge(UP), PING_CHALLENGE);
    assert.deepEqual(await t.guard.registryChallenge(UP), PING_CHALLENGE);
    assert.equal(t.upstream.registryCalls, 1, 'cached');
    t.advance(301_000);
    t.upstream.registryOpen = true;
    assert.equal(await t.guard.registryChallenge(UP), undefined, 'open registry: no challenge');
    t.advance(301_000);
    t.upstream.down = true;
    assert.equal(await t.guard.registryChallenge(UP), undefined, 'unreachable: no challenge');
    assert.equal(t.upstream.registryCalls, 3);
    await settle();
  });
});
