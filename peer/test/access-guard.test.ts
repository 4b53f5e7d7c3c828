import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Upstream } from '@shoal/oci';
import {
  type AccessDecision,
  AccessGuard,
  type AccessProbe,
  type ProbeOutcome,
  type Refusal,
  type RegistryOutcome,
} from '../src/endpoint/access-guard.ts';

const UP: Upstream = { registry: 'registry.example:5000', url: 'http://127.0.0.1:1' };
const GOOD = 'Bearer good-token';
const BAD = 'Bearer bad-token';

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

type Upstreamish = 'public' | 'private' | 'missing' | 'down';

/** A fake upstream: per-repository visibility, one accepted header, a registry that may be open; counts probes. */
class FakeUpstream implements AccessProbe {
  repos = new Map<string, Upstreamish>();
  accepted = new Set<string>([GOOD]);
  down = false;
  registryOpen = false;
  calls: { repository: string; authorization: string | undefined }[] = [];
  registryCalls = 0;
  /** When set, probes wait for it (to test sharing of concurrent probes). */
  gate: Promise<void> | undefined;

  async repository(
    _: Upstream,
    repository: string,
    authorization: string | undefined,
  ): Promise<ProbeOutcome> {
    this.calls.push({ repository, authorization });
    await this.gate;
    const kind = this.repos.get(repository) ?? 'missing';
    if (this.down || kind === 'down') return { kind: 'unreachable' };
    if (kind === 'missing') return { kind: 'open' };
    if (kind === 'public') return { kind: 'readable' };
    if (authorization !== undefined && this.accepted.has(authorization)) return { kind: 'readable' };
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

  async registry(): Promise<RegistryOutcome> {
    this.registryCalls++;
    if (this.down) return { kind: 'unreachable' };
    return this.registryOpen ? { kind: 'open' } : { kind: 'closed', challenge: PING_CHALLENGE };
  }

  probesOf(repository: string): number {
    return this.calls.filter((c) => c.repository === repository).length;
  }
}

function setup(options: { repos?: Record<string, Upstreamish> } = {}) {
  const upstream = new FakeUpstream();
  for (const [name, kind] of Object.entries(options.repos ?? {})) upstream.repos.set(name, kind);
  let time = 1_000_000;
  const guard = new AccessGuard({
    probe: upstream,
    now: () => time,
    publicTtlMs: 300_000,
    credentialTtlMs: 60_000,
    privateTtlMs: 60_000,
    retryMs: 5_000,
  });
  return {
    upstream,
    guard,
    advance(ms: number) {
      time += ms;
    },
    check: (repository: string, authorization?: string, offline = false) =>
      guard.check(UP, repository, authorization, { offline }),
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
  it('lets everyone read an anonymously readable repository, probing it once per TTL', async () => {
    const t = setup({ repos: { pub: 'public' } });
    assertAllowed(await t.check('pub'));
    assertAllowed(await t.check('pub', BAD), 'a header does not matter on a public repository');
    t.advance(299_000);
    assertAllowed(await t.check('pub'));
    assert.equal(t.upstream.probesOf('pub'), 1);
    assert.deepEqual(t.upstream.calls[0], { repository: 'pub', authorization: undefined });
    t.advance(2_000);
    assertAllowed(await t.check('pub'));
    assert.equal(t.upstream.probesOf('pub'), 2, 're-probed after the TTL');
  });

  it("relays the anonymous probe's challenge to a client without credentials, and reuses it briefly", async () => {
    const t = setup({ repos: { priv: 'private' } });
    const refusal = refusalOf(await t.check('priv'));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers['www-authenticate'], CHALLENGE.headers['www-authenticate']);
    assert.deepEqual(refusal.body, CHALLENGE.body);
    assert.equal(refusalOf(await t.check('priv')).status, 401);
    assert.equal(t.upstream.probesOf('priv'), 1);
    t.advance(61_000);
    assert.equal(refusalOf(await t.check('priv')).status, 401);
    assert.equal(t.upstream.probesOf('priv'), 2);
  });

  it('accepts a header upstream accepts, cached per header and repository for the credential TTL', async () => {
    const t = setup({ repos: { priv: 'private', other: 'private' } });
    assertAllowed(await t.check('priv', GOOD));
    assert.deepEqual(
      t.upstream.calls.map((c) => c.authorization),
      [undefined, GOOD],
      'anonymous probe first, then the header relayed as is',
    );
    for (let i = 0; i < 5; i++) assertAllowed(await t.check('priv', GOOD));
    assert.equal(t.upstream.probesOf('priv'), 2, 'no probe while both answers are fresh');

    // Another repository is a separate question, even with the same header.
    assertAllowed(await t.check('other', GOOD));
    assert.equal(t.upstream.probesOf('other'), 2);

    // The acceptance of one header says nothing about another.
    t.upstream.accepted.add('Bearer second');
    assertAllowed(await t.check('priv', 'Bearer second'));
    assert.equal(t.upstream.probesOf('priv'), 3);

    // Past the TTL the header is checked again, and a revoked one is refused.
    t.advance(61_000);
    t.upstream.accepted.delete(GOOD);
    const refusal = refusalOf(await t.check('priv', GOOD));
    assert.equal(refusal.status, 401);
  });

  it("refuses a header upstream refuses with upstream's own answer, and does not cache the refusal", async () => {
    const t = setup({ repos: { priv: 'private' } });
    const refusal = refusalOf(await t.check('priv', BAD));
    assert.equal(refusal.status, 401);
    assert.equal(refusal.headers['www-authenticate'], 'Bearer error="invalid_token"');
    const probes = t.upstream.probesOf('priv');
    refusalOf(await t.check('priv', BAD));
    assert.equal(t.upstream.probesOf('priv'), probes + 1, 'a refused header is asked about again');
    // The refusal of one header does not taint another.
    assertAllowed(await t.check('priv', GOOD));
  });

  it('treats an answer that is no auth refusal (404 of an unknown name) as open, re-checked sooner', async () => {
    const t = setup();
    assertAllowed(await t.check('nothing-here'));
    t.advance(59_000);
    assertAllowed(await t.check('nothing-here'));
    assert.equal(t.upstream.probesOf('nothing-here'), 1);
    t.advance(2_000);
    assertAllowed(await t.check('nothing-here'));
    assert.equal(t.upstream.probesOf('nothing-here'), 2);
  });

  it('while upstream is unreachable: open if last known public, a header accepted within its TTL, else 503', async () => {
    const t = setup({ repos: { pub: 'public', priv: 'private' } });
    assertAllowed(await t.check('pub'));
    assertAllowed(await t.check('priv', GOOD));
    t.upstream.down = true;

    t.advance(30_000);
    assertAllowed(await t.check('priv', GOOD), 'header accepted 30 s ago');
    const unknown = refusalOf(await t.check('never-seen'));
    assert.equal(unknown.status, 503);
    assert.match(unknown.body.toString('utf8'), /"code":"UNAVAILABLE"/);
    assert.equal(refusalOf(await t.check('priv')).status, 401, 'a fresh anonymous refusal is still relayed');

    t.advance(600_000);
    assertAllowed(await t.check('pub'), 'last known public, long ago');
    assert.equal(refusalOf(await t.check('priv', GOOD)).status, 503, 'header acceptance expired');
    assert.equal(refusalOf(await t.check('priv')).status, 503, 'private, unconfirmable');
    assert.equal(refusalOf(await t.check('priv', BAD)).status, 503);
  });

  it('after upstream was unreachable, decides from what it knows for a while without probing', async () => {
    const t = setup({ repos: { pub: 'public' } });
    assertAllowed(await t.check('pub'));
    t.advance(301_000);
    t.upstream.down = true;
    assertAllowed(await t.check('pub'));
    const probes = t.upstream.calls.length;
    t.advance(1_000);
    assertAllowed(await t.check('pub'));
    assert.equal(refusalOf(await t.check('never-seen')).status, 503);
    assert.equal(t.upstream.calls.length, probes, 'no probe within the retry interval');
    t.advance(5_000);
    t.upstream.down = false;
    assertAllowed(await t.check('pub'));
    assert.equal(t.upstream.calls.length, probes + 1, 'probed again after it');
  });

  it('offline checks never probe', async () => {
    const t = setup({ repos: { pub: 'public', priv: 'private' } });
    assertAllowed(await t.check('pub'));
    assertAllowed(await t.check('priv', GOOD));
    const probes = t.upstream.calls.length;
    t.advance(400_000);
    assertAllowed(await t.check('pub', undefined, true));
    assert.equal(refusalOf(await t.check('priv', GOOD, true)).status, 503);
    assert.equal(refusalOf(await t.check('never-seen', undefined, true)).status, 503);
    assert.equal(t.upstream.calls.length, probes);
  });

  it('falls back to a registry that asks for no credentials at all for repositories it never probed', async () => {
    const open = setup({ repos: { pub: 'public' } });
    open.upstream.registryOpen = true;
    assertAllowed(await open.check('pub'));
    await settle();
    assert.equal(open.upstream.registryCalls, 1);
    open.upstream.down = true;
    assertAllowed(await open.check('never-seen'), 'open registry');
    assertAllowed(await open.check('never-seen', undefined, true), 'open registry, offline');

    const closed = setup({ repos: { pub: 'public', priv: 'private' } });
    assertAllowed(await closed.check('pub'));
    await closed.check('priv');
    await settle();
    closed.upstream.down = true;
    assert.equal(refusalOf(await closed.check('never-seen')).status, 503);
    // A repository known private stays closed even on an open registry.
    closed.upstream.registryOpen = true;
    closed.advance(400_000);
    closed.upstream.down = false;
    await closed.check('pub');
    await settle();
    closed.upstream.down = true;
    closed.advance(10_000);
    assert.equal(refusalOf(await closed.check('priv', undefined, true)).status, 503);
  });

  it('shares one probe among concurrent checks', async () => {
    const t = setup({ repos: { pub: 'public', priv: 'private' } });
    const { promise: gate, resolve } = Promise.withResolvers<void>();
    t.upstream.gate = gate;
    const pending = [
      ...Array.from({ length: 5 }, () => t.check('pub')),
      ...Array.from({ length: 5 }, () => t.check('priv', GOOD)),
    ];
    resolve();
    for (const decision of await Promise.all(pending)) assertAllowed(decision);
    assert.equal(t.upstream.probesOf('pub'), 1);
    assert.equal(t.upstream.probesOf('priv'), 2, 'one anonymous probe, one with the header');
  });

  it('a repository upstream served without credentials counts as public', async () => {
    const t = setup({ repos: { priv: 'private' } });
    t.guard.notePublic(UP, 'seen');
    assertAllowed(await t.check('seen'));
    assert.equal(t.upstream.calls.length, 0);
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
  });
});
