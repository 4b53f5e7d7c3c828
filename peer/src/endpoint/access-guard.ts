import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest, Upstream } from '@shoal/oci';
import { API_VERSION_HEADER, noteAnsweredError, ociErrorBody } from './oci-response.ts';

/** An answer refusing a client, relayed as is: upstream's status, auth challenge and error body. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Why, when the refusal is shoal's own rather than upstream's (for the log). */
  reason?: string;
}

export type ContentKind = 'blob' | 'manifest';

/** One content-addressed object as a client names it: a digest under a repository of a registry. */
export interface ContentRef {
  upstream: Upstream;
  repository: string;
  digest: Digest;
  kind: ContentKind;
}

/** What upstream said when asked whether a repository holds a digest for some (or no) credentials. */
export type ProbeOutcome =
  /** 2xx: the repository holds it and these credentials may read it; a blob's size when the answer told it. */
  | { kind: 'readable'; size?: number }
  /** 404 or another non-auth refusal: the repository does not hold it (or does not exist); upstream's answer when it had a body. */
  | { kind: 'absent'; refusal?: Refusal }
  /** 401/403: not readable with these credentials. */
  | { kind: 'refused'; refusal: Refusal }
  /** Transport failure, 5xx or 429 after retries: nothing learnt. `reason`: DNS, refused, TLS, timeout, status... */
  | { kind: 'unreachable'; reason?: string };

export interface AccessProbe {
  /**
   * Asks upstream whether `ref.repository` holds `ref.digest` for a client presenting `authorization`.
   * Without it the request goes as this node (anonymous, or the node's own configured credentials);
   * with it, the client's header is relayed as is.
   */
  content(ref: ContentRef, authorization: string | undefined): Promise<ProbeOutcome>;
  /**
   * Whether the registry's API root answers a request that carries no credentials at all; when it
   * refuses with a challenge, the refusal to relay to clients that ping the endpoint.
   */
  registry(upstream: Upstream): Promise<RegistryOutcome>;
}

export type RegistryOutcome =
  | { kind: 'open' }
  | { kind: 'closed'; challenge?: Refusal }
  | { kind: 'unreachable'; reason?: string };

/** Other nodes of the swarm, asked while upstream is unreachable: what is public is not secret. */
export interface PublicPairingSource {
  /** When a node of the swarm learnt that upstream serves the digest under the repository to anyone; undefined if none did. */
  publicSince(registry: string, repository: string, digest: Digest): Promise<number | undefined>;
}

/** Allowed, with the blob's size when this check asked upstream just now and upstream told it. */
export type AccessDecision = { allowed: true; size?: number } | { allowed: false; refusal: Refusal };

export interface AccessGuardOptions {
  probe: AccessProbe;
  /** Asked while upstream is unreachable, for pairings this node never learnt itself. */
  swarm?: PublicPairingSource;
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
  /** How long a public pairing (upstream serves the digest under the repository to anyone) is trusted before it is probed again. */
  publicTtlMs?: number;
  /** How long a client's Authorization accepted by upstream for a digest under a repository is trusted without asking again. */
  credentialTtlMs?: number;
  /** How long an anonymous refusal (and its challenge) for a repository is reused before upstream is asked again. */
  privateTtlMs?: number;
  /** After upstream could not be reached, decide from what is known for this long before probing again. */
  retryMs?: number;
  /** Entries kept per table; the oldest go first. */
  maxEntries?: number;
}

interface Pairing {
  /** When upstream (or, for public pairings, a node of the swarm) confirmed it. */
  learnedAt: number;
  freshUntil: number;
}

interface PrivateRepository {
  freshUntil: number;
  /** The anonymous refusal, relayed to clients that present no credentials. */
  refusal: Refusal;
}

interface RegistryState {
  /** The API root answered without credentials: the registry asks for none. */
  open: boolean;
  freshUntil: number;
  /** Upstream's challenge at its API root, relayed to clients pinging `/v2/`. */
  challenge?: Refusal;
}

const ALLOWED: AccessDecision = { allowed: true };
/** Stands for "no credentials" in pairing keys: a public pairing. */
const ANYONE = '*';

/**
 * Decides whether a client may read a digest under the (registry, repository) it names, when this node
 * serves it without upstream's own check (cache hits, peers, a download task another client started).
 * Content is keyed by digest alone, so the question is always about the **pairing** of digest and
 * repository: a digest is served under a repository only when upstream confirmed that the repository
 * holds it for this client — for anyone (a public pairing: the node's own request, without the client's
 * credentials, was served), or for the client's Authorization header (a credential pairing, keyed by the
 * header's sha256, never the header itself). A repository upstream does not know, or that does not hold
 * the digest, gets upstream's 404; a private one without credentials gets upstream's challenge, so the
 * client can authenticate at upstream's realm and come back with a token.
 *
 * Pairings are learnt by probing upstream (`AccessProbe.content`) or from content upstream itself served
 * (`noteObtained`), and cached: public ones for `publicTtlMs`, credential ones for `credentialTtlMs`.
 * While upstream cannot be reached: a public pairing is used however old (the last word), and one this
 * node never learnt may come from the swarm; a credential pairing only within its TTL; anything else 503.
 * Concurrent identical probes are shared.
 */
export class AccessGuard {
  readonly #probe: AccessProbe;
  readonly #swarm: PublicPairingSource | undefined;
  readonly #now: () => number;
  readonly #publicTtlMs: number;
  readonly #credentialTtlMs: number;
  readonly #privateTtlMs: number;
  readonly #retryMs: number;
  readonly #maxEntries: number;
  readonly #pairings = new Map<string, Pairing>();
  readonly #privateRepositories = new Map<string, PrivateRepository>();
  readonly #registries = new Map<string, RegistryState>();
  readonly #unreachableUntil = new Map<string, number>();
  /** Why each registry was last found unreachable, for the 503's message. */
  readonly #unreachableReason = new Map<string, string>();
  readonly #pending = new Map<string, Promise<ProbeOutcome>>();
  readonly #pendingRegistries = new Map<string, Promise<RegistryState | undefined>>();

  constructor(options: AccessGuardOptions) {
    this.#probe = options.probe;
    this.#swarm = options.swarm;
    this.#now = options.now ?? Date.now;
    this.#publicTtlMs = options.publicTtlMs ?? 5 * 60_000;
    this.#credentialTtlMs = options.credentialTtlMs ?? 60_000;
    this.#privateTtlMs = options.privateTtlMs ?? 60_000;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /**
   * May a client presenting `authorization` (its Authorization header, if any) read `ref`?
   * `offline`: upstream is known to be unreachable right now; decide from what is known.
   */
  async check(
    ref: ContentRef,
    authorization: string | undefined,
    options: { offline?: boolean; offlineReason?: string } = {},
  ): Promise<AccessDecision> {
    const publicKey = pairingKey(ANYONE, ref);
    if (this.#fresh(publicKey)) return ALLOWED;
    const credentialKey = authorization ? pairingKey(sha256(authorization), ref) : undefined;
    if (credentialKey !== undefined && this.#fresh(credentialKey)) return ALLOWED;
    const repoKey = repositoryKey(ref);
    const known = this.#privateRepositories.get(repoKey);
    // Known private and no credentials: the challenge, without asking upstream again.
    if (credentialKey === undefined && known && this.#now() < known.freshUntil) return refuse(known.refusal);
    if (options.offline || !this.reachable(ref.upstream.registry)) {
      return this.#withoutUpstream(ref, options.offlineReason);
    }

    void this.#learnRegistry(ref.upstream);
    // A repository known to refuse anonymous reads is asked with the client's credentials alone.
    const anonymous: ProbeOutcome =
      known && this.#now() < known.freshUntil
        ? { kind: 'refused', refusal: known.refusal }
        : await this.#shared(publicKey, () => this.#probe.content(ref, undefined));
    switch (anonymous.kind) {
      case 'readable':
        this.#remember(publicKey, this.#now(), this.#publicTtlMs);
        return allowedWith(anonymous.size);
      case 'unreachable':
        this.#markUnreachable(ref.upstream.registry, anonymous.reason);
        return this.#withoutUpstream(ref);
      case 'refused':
        if (!(known && this.#now() < known.freshUntil)) {
          remember(
            this.#privateRepositories,
            repoKey,
            { freshUntil: this.#now() + this.#privateTtlMs, refusal: anonymous.refusal },
            this.#maxEntries,
          );
        }
        if (credentialKey === undefined) return refuse(anonymous.refusal);
        break;
      case 'absent':
        if (credentialKey === undefined) return refuse(anonymous.refusal ?? absent(ref));
        break;
    }

    const outcome = await this.#shared(credentialKey!, () => this.#probe.content(ref, authorization));
    switch (outcome.kind) {
      case 'readable':
        this.#remember(credentialKey!, this.#now(), this.#credentialTtlMs);
        return allowedWith(outcome.size);
      case 'refused':
        return refuse(outcome.refusal);
      case 'absent':
        return refuse(outcome.refusal ?? absent(ref));
      case 'unreachable':
        this.#markUnreachable(ref.upstream.registry, outcome.reason);
        return unavailable(ref, outcome.reason);
    }
  }

  /**
   * Upstream itself served `digest` under the repository: to this node's own request when
   * `authorization` is undefined (a public pairing), else to the client presenting it.
   */
  noteObtained(ref: Omit<ContentRef, 'kind'>, authorization: string | undefined): void {
    const who = authorization ? sha256(authorization) : ANYONE;
    this.#remember(
      pairingKey(who, ref),
      this.#now(),
      authorization ? this.#credentialTtlMs : this.#publicTtlMs,
    );
  }

  /** False while `registry` is known to be unreachable (a request failed lately): decisions come from what is known. */
  reachable(registry: string): boolean {
    return this.#now() >= (this.#unreachableUntil.get(registry) ?? 0);
  }

  /** A request to `registry` outside this guard found it unreachable: checks decide without it for a while. */
  noteUnreachable(registry: string, reason: string): void {
    this.#markUnreachable(registry, reason);
  }

  /** When this node learnt that upstream serves the digest under the repository to anyone, however long ago. */
  publicSince(registry: string, repository: string, digest: Digest): number | undefined {
    return this.#pairings.get(`${ANYONE} ${registry}/${repository}@${digest}`)?.learnedAt;
  }

  /**
   * The challenge a client pinging `/v2/` without credentials should get: upstream's own, when its API
   * root asks for credentials (clients such as skopeo and Docker only authenticate after a challenge
   * there). Undefined when upstream asks for none or cannot be reached.
   */
  async registryChallenge(upstream: Upstream): Promise<Refusal | undefined> {
    if (!this.reachable(upstream.registry)) return undefined;
    const state = await this.#learnRegistry(upstream);
    return state?.open === false ? state.challenge : undefined;
  }

  /** Upstream cannot be asked: a public pairing however old, else one the swarm knows; credential pairings only while fresh (checked before). */
  async #withoutUpstream(
    ref: ContentRef,
    reason = this.#unreachableReason.get(ref.upstream.registry),
  ): Promise<AccessDecision> {
    const publicKey = pairingKey(ANYONE, ref);
    if (this.#pairings.has(publicKey)) return ALLOWED;
    const since = await this.#swarm
      ?.publicSince(ref.upstream.registry, ref.repository, ref.digest)
      .catch(() => undefined);
    if (since !== undefined && since <= this.#now()) {
      this.#remember(publicKey, since, this.#publicTtlMs);
      return ALLOWED;
    }
    return unavailable(ref, reason);
  }

  #fresh(key: string): boolean {
    const pairing = this.#pairings.get(key);
    return pairing !== undefined && this.#now() < pairing.freshUntil;
  }

  #remember(key: string, learnedAt: number, ttlMs: number): void {
    remember(this.#pairings, key, { learnedAt, freshUntil: learnedAt + ttlMs }, this.#maxEntries);
  }

  /** What is known of the registry's API root, asked again once stale; concurrent callers share one probe. */
  #learnRegistry(upstream: Upstream): Promise<RegistryState | undefined> {
    const registry = upstream.registry;
    const known = this.#registries.get(registry);
    if (known && this.#now() < known.freshUntil) return Promise.resolve(known);
    const pending = this.#pendingRegistries.get(registry);
    if (pending) return pending;
    const promise = this.#probe
      .registry(upstream)
      .then(
        (answer): RegistryState | undefined => {
          if (answer.kind === 'unreachable') {
            this.#markUnreachable(registry, answer.reason);
            return undefined;
          }
          const state: RegistryState = {
            open: answer.kind === 'open',
            freshUntil: this.#now() + this.#publicTtlMs,
          };
          if (answer.kind === 'closed' && answer.challenge) state.challenge = answer.challenge;
          remember(this.#registries, registry, state, this.#maxEntries);
          return state;
        },
        () => undefined,
      )
      .finally(() => this.#pendingRegistries.delete(registry));
    this.#pendingRegistries.set(registry, promise);
    return promise;
  }

  #markUnreachable(registry: string, reason: string | undefined): void {
    remember(this.#unreachableUntil, registry, this.#now() + this.#retryMs, this.#maxEntries);
    if (reason !== undefined) remember(this.#unreachableReason, registry, reason, this.#maxEntries);
  }

  #shared(key: string, probe: () => Promise<ProbeOutcome>): Promise<ProbeOutcome> {
    const pending = this.#pending.get(key);
    if (pending) return pending;
    const promise = probe().finally(() => this.#pending.delete(key));
    this.#pending.set(key, promise);
    return promise;
  }
}

/**
 * Lets the request through if the guard allows it (with the blob's size when the check learnt it);
 * otherwise answers with the refusal and returns undefined. The client's Authorization header goes to
 * the guard (and from there only to upstream).
 */
export async function admit(
  guard: AccessGuard,
  req: IncomingMessage,
  res: ServerResponse,
  ref: ContentRef,
  options: { offline?: boolean; offlineReason?: string } = {},
): Promise<{ size?: number } | undefined> {
  const header = req.headers.authorization;
  const decision = await guard.check(ref, header ? header : undefined, options);
  if (decision.allowed) return decision;
  sendRefusal(res, decision.refusal);
  return undefined;
}

export function sendRefusal(res: ServerResponse, refusal: Refusal): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (refusal.reason) noteAnsweredError(res, refusal.reason);
  res.writeHead(refusal.status, {
    ...API_VERSION_HEADER,
    ...refusal.headers,
    'content-length': refusal.body.length,
  });
  res.end(res.req.method === 'HEAD' ? undefined : refusal.body);
}

function allowedWith(size: number | undefined): AccessDecision {
  return size === undefined ? ALLOWED : { allowed: true, size };
}

function refuse(refusal: Refusal): AccessDecision {
  return { allowed: false, refusal };
}

function absent(ref: ContentRef): Refusal {
  const reason = `${ref.kind} ${ref.digest} is unknown to repository ${ref.repository} of ${ref.upstream.registry}`;
  return {
    status: 404,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(ociErrorBody(ref.kind === 'blob' ? 'BLOB_UNKNOWN' : 'MANIFEST_UNKNOWN', reason)),
    reason,
  };
}

function unavailable(ref: ContentRef, why: string | undefined): AccessDecision {
  const reason = `upstream registry ${ref.upstream.registry} is unreachable${why ? ` (${why})` : ''}: cannot check read access to ${ref.digest} in ${ref.repository}`;
  return refuse({
    status: 503,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(ociErrorBody('UNAVAILABLE', reason)),
    reason,
  });
}

function repositoryKey(ref: Pick<ContentRef, 'upstream' | 'repository'>): string {
  return `${ref.upstream.registry}/${ref.repository}`;
}

function pairingKey(who: string, ref: Omit<ContentRef, 'kind'>): string {
  return `${who} ${repositoryKey(ref)}@${ref.digest}`;
}

function sha256(value: string): string {
  return createHash('sha256').update(value).digest('hex');
}

/** Sets a key as the newest entry of a bounded map, dropping the oldest beyond `max`. */
function remember<V>(map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key);
  map.set(key, value);
  while (map.size > max) {
    const oldest = map.keys().next().value;
    if (oldest === undefined) break;
    map.delete(oldest);
  }
}
