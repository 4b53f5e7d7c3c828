import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Upstream } from '@shoal/oci';
import { API_VERSION_HEADER, noteAnsweredError, ociErrorBody } from './oci-response.ts';

/** An answer refusing a client, relayed as is: upstream's status, auth challenge and error body. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Why, when the refusal is shoal's own rather than upstream's (for the log). */
  reason?: string;
}

/** What upstream said when asked whether a repository may be read with some (or no) credentials. */
export type ProbeOutcome =
  /** 2xx: readable. */
  | { kind: 'readable' }
  /** Answered, but not with an auth refusal (404 for an unknown name, an unsupported probe): not an access matter. */
  | { kind: 'open' }
  /** 401/403: not readable with these credentials. */
  | { kind: 'refused'; refusal: Refusal }
  /** Transport failure, 5xx or 429 after retries: nothing learnt. `reason`: DNS, refused, TLS, timeout, status... */
  | { kind: 'unreachable'; reason?: string };

export interface AccessProbe {
  /**
   * Asks upstream whether `repository` may be read. Without `authorization` the request is anonymous
   * (the upstream client may fetch an anonymous token itself); with it, the client's header is relayed as is.
   */
  repository(
    upstream: Upstream,
    repository: string,
    authorization: string | undefined,
  ): Promise<ProbeOutcome>;
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

export type AccessDecision = { allowed: true } | { allowed: false; refusal: Refusal };

export interface AccessGuardOptions {
  probe: AccessProbe;
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
  /** How long an anonymously readable repository is trusted to stay so before it is probed again. */
  publicTtlMs?: number;
  /** How long a client's Authorization accepted by upstream for a repository is trusted without asking again. */
  credentialTtlMs?: number;
  /** How long an anonymous refusal (and its challenge) is reused before upstream is asked again. */
  privateTtlMs?: number;
  /** After upstream could not be reached, decide from what is known for this long before probing again. */
  retryMs?: number;
  /** Entries kept per table; the oldest go first. */
  maxEntries?: number;
}

interface RepositoryState {
  /** What the last anonymous probe found. Kept past its freshness: the last word while upstream is unreachable. */
  kind: 'public' | 'private';
  freshUntil: number;
  /** The anonymous refusal, relayed to clients that present no credentials. */
  refusal?: Refusal;
}

interface RegistryState {
  /** The API root answered without credentials: the registry asks for none. */
  open: boolean;
  freshUntil: number;
  /** Upstream's challenge at its API root, relayed to clients pinging `/v2/`. */
  challenge?: Refusal;
}

const ALLOWED: AccessDecision = { allowed: true };

/**
 * Decides whether a client may read content of (registry, repository) that this node serves without
 * asking upstream (cache hits, peers, a download task another client started). A repository that is
 * anonymously readable upstream is open to everyone; otherwise the client must present an Authorization
 * header that upstream accepts for that repository, and is otherwise given upstream's refusal with its
 * challenge, so it can authenticate at upstream's realm and come back with a token.
 *
 * Answers are cached: "public" for `publicTtlMs`, an accepted header (by its sha256, never the header
 * itself) per repository for `credentialTtlMs`. While upstream cannot be reached, a repository last known
 * public (or, never probed, on a registry last known to ask for no credentials) stays open and a header
 * accepted within its TTL stays accepted; anything else gets 503. Concurrent identical probes are shared.
 */
export class AccessGuard {
  readonly #probe: AccessProbe;
  readonly #now: () => number;
  readonly #publicTtlMs: number;
  readonly #credentialTtlMs: number;
  readonly #privateTtlMs: number;
  readonly #retryMs: number;
  readonly #maxEntries: number;
  readonly #repositories = new Map<string, RepositoryState>();
  readonly #credentials = new Map<string, number>();
  readonly #registries = new Map<string, RegistryState>();
  readonly #unreachableUntil = new Map<string, number>();
  /** Why each registry was last found unreachable, for the 503's message. */
  readonly #unreachableReason = new Map<string, string>();
  readonly #pending = new Map<string, Promise<ProbeOutcome>>();
  readonly #pendingRegistries = new Map<string, Promise<RegistryState | undefined>>();

  constructor(options: AccessGuardOptions) {
    this.#probe = options.probe;
    this.#now = options.now ?? Date.now;
    this.#publicTtlMs = options.publicTtlMs ?? 5 * 60_000;
    this.#credentialTtlMs = options.credentialTtlMs ?? 60_000;
    this.#privateTtlMs = options.privateTtlMs ?? 60_000;
    this.#retryMs = options.retryMs ?? 5_000;
    this.#maxEntries = options.maxEntries ?? 10_000;
  }

  /**
   * May a client presenting `authorization` (its Authorization header, if any) read `repository`?
   * `offline`: upstream is known to be unreachable right now; decide from what is known.
   */
  async check(
    upstream: Upstream,
    repository: string,
    authorization: string | undefined,
    options: { offline?: boolean; offlineReason?: string } = {},
  ): Promise<AccessDecision> {
    const repoKey = `${upstream.registry}/${repository}`;
    const credentialKey = authorization ? `${sha256(authorization)} ${repoKey}` : undefined;
    let state = this.#repositories.get(repoKey);
    if (state?.kind === 'public' && this.#now() < state.freshUntil) return ALLOWED;
    if (credentialKey !== undefined && this.#credentialFresh(credentialKey)) return ALLOWED;
    // Known private and no credentials: the challenge, without asking upstream again.
    if (state?.kind === 'private' && this.#now() < state.freshUntil && credentialKey === undefined) {
      return refuse(state.refusal!);
    }
    if (options.offline || this.#now() < (this.#unreachableUntil.get(upstream.registry) ?? 0)) {
      return this.#withoutUpstream(upstream, repository, state, options.offlineReason);
    }

    if (state === undefined || this.#now() >= state.freshUntil) {
      void this.#learnRegistry(upstream);
      const outcome = await this.#shared(repoKey, () =>
        this.#probe.repository(upstream, repository, undefined),
      );
      if (outcome.kind === 'unreachable') {
        this.#markUnreachable(upstream.registry, outcome.reason);
        return this.#withoutUpstream(upstream, repository, state);
      }
      state = this.#rememberRepository(repoKey, outcome);
    }
    if (state.kind === 'public') return ALLOWED;
    if (authorization === undefined || credentialKey === undefined) return refuse(state.refusal!);

    const outcome = await this.#shared(credentialKey, () =>
      this.#probe.repository(upstream, repository, authorization),
    );
    switch (outcome.kind) {
      case 'readable':
      case 'open':
        remember(this.#credentials, credentialKey, this.#now() + this.#credentialTtlMs, this.#maxEntries);
        return ALLOWED;
      case 'refused':
        return refuse(outcome.refusal);
      case 'unreachable':
        this.#markUnreachable(upstream.registry, outcome.reason);
        return unavailable(upstream, repository, outcome.reason);
    }
  }

  /**
   * The challenge a client pinging `/v2/` without credentials should get: upstream's own, when its API
   * root asks for credentials (clients such as skopeo and Docker only authenticate after a challenge
   * there). Undefined when upstream asks for none or cannot be reached.
   */
  async registryChallenge(upstream: Upstream): Promise<Refusal | undefined> {
    if (this.#now() < (this.#unreachableUntil.get(upstream.registry) ?? 0)) return undefined;
    const state = await this.#learnRegistry(upstream);
    return state?.open === false ? state.challenge : undefined;
  }

  /** Upstream itself served this repository to a request without the client's credentials. */
  notePublic(upstream: Upstream, repository: string): void {
    this.#rememberRepository(`${upstream.registry}/${repository}`, { kind: 'readable' });
  }

  #withoutUpstream(
    upstream: Upstream,
    repository: string,
    state: RepositoryState | undefined,
    reason = this.#unreachableReason.get(upstream.registry),
  ): AccessDecision {
    if (state?.kind === 'public') return ALLOWED;
    if (state === undefined && this.#registries.get(upstream.registry)?.open) return ALLOWED;
    return unavailable(upstream, repository, reason);
  }

  #rememberRepository(repoKey: string, outcome: ProbeOutcome): RepositoryState {
    const now = this.#now();
    let state: RepositoryState;
    switch (outcome.kind) {
      case 'readable':
        state = { kind: 'public', freshUntil: now + this.#publicTtlMs };
        break;
      case 'open':
        // Not an auth refusal, but not a proof of readability either: re-checked sooner.
        state = { kind: 'public', freshUntil: now + Math.min(this.#publicTtlMs, this.#credentialTtlMs) };
        break;
      case 'refused':
        state = { kind: 'private', freshUntil: now + this.#privateTtlMs, refusal: outcome.refusal };
        break;
      default:
        throw new Error('an unreachable upstream teaches nothing about a repository');
    }
    remember(this.#repositories, repoKey, state, this.#maxEntries);
    return state;
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

  #credentialFresh(key: string): boolean {
    const until = this.#credentials.get(key);
    if (until === undefined) return false;
    if (this.#now() < until) return true;
    this.#credentials.delete(key);
    return false;
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
 * Lets the request through if the guard allows it; otherwise answers with the refusal and returns false.
 * The client's Authorization header goes to the guard (and from there only to upstream).
 */
export async function admit(
  guard: AccessGuard,
  req: IncomingMessage,
  res: ServerResponse,
  upstream: Upstream,
  repository: string,
  options: { offline?: boolean; offlineReason?: string } = {},
): Promise<boolean> {
  const header = req.headers.authorization;
  const decision = await guard.check(upstream, repository, header ? header : undefined, options);
  if (decision.allowed) return true;
  sendRefusal(res, decision.refusal);
  return false;
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

function refuse(refusal: Refusal): AccessDecision {
  return { allowed: false, refusal };
}

function unavailable(upstream: Upstream, repository: string, why: string | undefined): AccessDecision {
  const reason = `upstream registry ${upstream.registry} is unreachable${why ? ` (${why})` : ''}: cannot check read access to ${repository}`;
  return refuse({
    status: 503,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(ociErrorBody('UNAVAILABLE', reason)),
    reason,
  });
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
