import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { basicAuthorization, type Credentials, parseWwwAuthenticate, TokenCache } from './auth.ts';
import { discardBody, readBodyLimited } from './body.ts';
import { type Digest, parseDigest } from './digest.ts';
import { OciError, UpstreamUnavailableError } from './errors.ts';
import { DEFAULT_MANIFEST_ACCEPT, MediaType } from './media-types.ts';
import { validateRepository, validateTag } from './reference.ts';
import { classifyTransportError } from './upstream-failure.ts';

export interface Upstream {
  /** Canonical registry name, e.g. docker.io; the key for credentials and tokens. */
  registry: string;
  /** Base URL, e.g. http://127.0.0.1:5000 or https://registry-1.docker.io. */
  url: string;
  /**
   * A mirror in front of the registry: every request carries `?ns=<registry>` so the mirror
   * knows which registry is meant (containerd's convention, which shoal's endpoint follows).
   */
  viaMirror?: boolean;
}

export interface UpstreamRequestOptions {
  /** The client's Authorization header, relayed as-is; the client then handles any 401 itself. */
  authorization?: string;
  accept?: string;
  /** Byte range, `end` inclusive. */
  range?: { start: number; end?: number };
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  /** Lowercased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The body as sent by the upstream, with backpressure. The caller must consume or destroy it. */
  body: Readable;
}

export interface RegistryClientOptions {
  /** Credentials for a registry (canonical name), used for Basic auth and at token realms. */
  credentials?: (registry: string) => Credentials | undefined;
  userAgent?: string;
  connectTimeoutMs?: number;
  /** Time to wait for response headers, per request sent. */
  headersTimeoutMs?: number;
  /**
   * Longest wait for an answer, from the call to its response headers: retries, redirects and
   * token requests included. The body is not bounded by it.
   */
  answerTimeoutMs?: number;
  /** Longest pause between two body chunks. */
  bodyTimeoutMs?: number;
  /** Retries after the first attempt on transport errors, 429 and 5xx (but 501). */
  maxRetries?: number;
  retryBaseDelayMs?: number;
  /** Cap of one backoff delay, Retry-After included. */
  maxRetryDelayMs?: number;
  /** Token cache; a private one by default. */
  tokenCache?: TokenCache;
}

export const DEFAULT_USER_AGENT = 'shoal/0.1.0';
/** Well under containerd's own timeouts: a client gets an answer it can act on (fall back) first. */
export const DEFAULT_ANSWER_TIMEOUT_MS = 20_000;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const MAX_REDIRECTS = 5;
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;
/**
 * Bytes a response body buffers before the socket is paused. Above undici's
 * 64 KiB default so a large blob body is not paused and resumed for every
 * socket read while its consumer writes to disk (measured: about a quarter
 * less CPU per GiB); a small body never comes near it.
 */
const BODY_HIGH_WATER_MARK = 1024 * 1024;

interface BearerRealm {
  realm: string;
  service?: string;
}

interface IssuedToken {
  token: string;
  expiresIn?: number;
}

interface FollowResult {
  response: UpstreamResponse;
  url: URL;
}

/** A failure worth another attempt that is not a transport error (a token endpoint answering 5xx). */
class TransientError extends Error {}

/**
 * Client of upstream registries (distribution API v2) on one keep-alive undici Agent.
 *
 * Non-2xx answers are returned with their body, for the caller to relay; only transport failure (after
 * retries) throws, as UpstreamUnavailableError. Without a relayed Authorization header the client
 * authenticates on its own: anonymous first, then the Bearer token flow or Basic with configured
 * credentials, remembering which registries need it so later requests authenticate up front.
 */
export class RegistryClient {
  private readonly agent: Agent;
  private readonly credentials: (registry: string) => Credentials | undefined;
  private readonly userAgent: string;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;
  private readonly answerTimeoutMs: number;
  private readonly tokens: TokenCache;
  private readonly bearerRealms = new Map<string, BearerRealm>();
  private readonly basicRegistries = new Set<string>();
  private readonly pendingTokens = new Map<string, Promise<IssuedToken | undefined>>();

  constructor(options: RegistryClientOptions = {}) {
    this.credentials = options.credentials ?? (() => undefined);
    this.userAgent = options.userAgent ?? DEFAULT_USER_AGENT;
    this.maxRetries = options.maxRetries ?? 3;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 250;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 10_000;
    this.answerTimeoutMs = options.answerTimeoutMs ?? DEFAULT_ANSWER_TIMEOUT_MS;
    this.tokens = options.tokenCache ?? new TokenCache();
    this.agent = new Agent({
      connect: { timeout: options.connectTimeoutMs ?? 10_000 },
      headersTimeout: options.headersTimeoutMs ?? 30_000,
      bodyTimeout: options.bodyTimeoutMs ?? 30_000,
      keepAliveTimeout: 30_000,
    });
  }

  /** `GET /v2/`: API version check, and the challenge a client needs to log in. */
  async ping(up: Upstream, opts: UpstreamRequestOptions = {}): Promise<UpstreamResponse> {
    return this.send(up, 'GET', '/v2/', undefined, opts);
  }

  async getManifest(
    up: Upstream,
    repository: string,
    reference: string,
    opts: UpstreamRequestOptions = {},
  ): Promise<UpstreamResponse> {
    const path = manifestPath(repository, reference);
    return this.send(up, 'GET', path, repository, {
      ...opts,
      accept: opts.accept ?? DEFAULT_MANIFEST_ACCEPT,
    });
  }

  async headManifest(
    up: Upstream,
    repository: string,
    reference: string,
    opts: UpstreamRequestOptions = {},
  ): Promise<UpstreamResponse> {
    const path = manifestPath(repository, reference);
    return this.send(up, 'HEAD', path, repository, {
      ...opts,
      accept: opts.accept ?? DEFAULT_MANIFEST_ACCEPT,
    });
  }

  async getBlob(
    up: Upstream,
    repository: string,
    digest: Digest | string,
    opts: UpstreamRequestOptions = {},
  ): Promise<UpstreamResponse> {
    const path = `/v2/${validateRepository(repository)}/blobs/${parseDigest(digest)}`;
    return this.send(up, 'GET', path, repository, opts);
  }

  /** `GET /v2/<name>/tags/list`; `query` is the client's raw query string (`n=10&last=x`), possibly empty. */
  async getTags(
    up: Upstream,
    repository: string,
    query: string,
    opts: UpstreamRequestOptions = {},
  ): Promise<UpstreamResponse> {
    const path = withQuery(`/v2/${validateRepository(repository)}/tags/list`, query);
    return this.send(up, 'GET', path, repository, opts);
  }

  /**
   * `GET /v2/<name>/referrers/<digest>` (OCI distribution 1.1); `query` is the client's raw query string
   * (`artifactType=…`), possibly empty.
   */
  async getReferrers(
    up: Upstream,
    repository: string,
    digest: Digest | string,
    query: string,
    opts: UpstreamRequestOptions = {},
  ): Promise<UpstreamResponse> {
    const path = withQuery(`/v2/${validateRepository(repository)}/referrers/${parseDigest(digest)}`, query);
    return this.send(up, 'GET', path, repository, { ...opts, accept: opts.accept ?? MediaType.ociIndex });
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private async send(
    up: Upstream,
    method: 'GET' | 'HEAD',
    path: string,
    repository: string | undefined,
    opts: UpstreamRequestOptions,
  ): Promise<UpstreamResponse> {
    const url = joinUrl(up, path);
    const headers: Record<string, string> = { 'user-agent': this.userAgent };
    if (opts.accept !== undefined) headers.accept = opts.accept;
    if (opts.range !== undefined) headers.range = rangeHeader(opts.range);
    // The deadline stops waiting for an answer; once headers came it is cleared, and the body is the caller's.
    const deadline = new AbortController();
    const timer = setTimeout(() => {
      deadline.abort(
        new UpstreamUnavailableError(
          `${method} ${describeUrl(url)} (${up.registry}): no answer within ${this.answerTimeoutMs / 1000} s`,
          { kind: 'timeout' },
        ),
      );
    }, this.answerTimeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, deadline.signal]) : deadline.signal;
    try {
      return await this.sendWithRetries(up, method, url, headers, repository, { ...opts, signal });
    } finally {
      clearTimeout(timer);
    }
  }

  private async sendWithRetries(
    up: Upstream,
    method: 'GET' | 'HEAD',
    url: URL,
    headers: Record<string, string>,
    repository: string | undefined,
    opts: UpstreamRequestOptions & { signal: AbortSignal },
  ): Promise<UpstreamResponse> {
    const signal = opts.signal;
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      let response: UpstreamResponse;
      try {
        response = await this.attempt(up, method, url, headers, repository, opts);
      } catch (error) {
        if (signal.aborted) throw signal.reason;
        if (!isRetryable(error)) throw error;
        if (attempt >= this.maxRetries) {
          const failure = classifyTransportError(error);
          const detail = failure.kind === 'other' ? describeError(error) : failure.detail;
          throw new UpstreamUnavailableError(
            `${method} ${describeUrl(url)} (${up.registry}): ${detail}, after ${attempt + 1} attempts`,
            { cause: error, kind: failure.kind },
          );
        }
        await this.backoff(attempt, undefined, signal);
        continue;
      }
      if (attempt < this.maxRetries && isRetryableStatus(response.status)) {
        discardBody(response.body);
        await this.backoff(attempt, response.headers['retry-after'], signal);
        continue;
      }
      return response;
    }
  }

  /** One attempt: redirects followed, and at most one authentication round trip. */
  private async attempt(
    up: Upstream,
    method: 'GET' | 'HEAD',
    url: URL,
    baseHeaders: Record<string, string>,
    repository: string | undefined,
    opts: UpstreamRequestOptions,
  ): Promise<UpstreamResponse> {
    const signal = opts.signal;
    if (opts.authorization !== undefined) {
      return (await this.follow(method, url, { ...baseHeaders, authorization: opts.authorization }, signal))
        .response;
    }
    const registry = up.registry;
    const requestScopes = repository === undefined ? [] : [`repository:${repository}:pull`];
    const upfront = await this.upfrontAuthorization(registry, requestScopes, signal);
    const first = await this.follow(
      method,
      url,
      upfront === undefined ? baseHeaders : { ...baseHeaders, authorization: upfront },
      signal,
    );
    const refused = first.response;
    // Only the registry's own 401 starts authentication, not one from a storage backend it redirected to.
    if (refused.status !== 401 || first.url.origin !== url.origin) return refused;

    let authorization: string | undefined;
    try {
      const challenges = parseWwwAuthenticate(refused.headers['www-authenticate'] ?? '');
      const bearer = challenges.find((c) => c.scheme === 'Bearer' && c.params.realm);
      const credentials = this.credentials(registry);
      if (bearer) {
        const realm: BearerRealm = { realm: bearer.params.realm! };
        if (bearer.params.service !== undefined) realm.service = bearer.params.service;
        const scope = bearer.params.scope;
        const challengeScopes = scope ? scope.split(' ').filter((s) => s.length > 0) : requestScopes;
        if (upfront?.startsWith('Bearer ')) {
          // The token sent was refused: never offer it again.
          this.tokens.delete(registry, requestScopes);
          this.tokens.delete(registry, challengeScopes);
        }
        const issued = await abortable(this.obtainToken(registry, realm, challengeScopes), signal);
        if (issued === undefined) return refused;
        this.bearerRealms.set(registry, realm);
        if (requestScopes.length > 0 && !sameScopes(requestScopes, challengeScopes)) {
          this.tokens.set(registry, requestScopes, issued.token, issued.expiresIn);
        }
        authorization = `Bearer ${issued.token}`;
      } else if (credentials && challenges.some((c) => c.scheme === 'Basic')) {
        if (upfront?.startsWith('Basic ')) return refused;
        this.basicRegistries.add(registry);
        authorization = basicAuthorization(credentials);
      } else {
        return refused;
      }
    } catch (error) {
      discardBody(refused.body);
      throw error;
    }
    discardBody(refused.body);
    return (await this.follow(method, url, { ...baseHeaders, authorization }, signal)).response;
  }

  /** Authorization to send before any challenge, for registries known to require it. */
  private async upfrontAuthorization(
    registry: string,
    scopes: string[],
    signal: AbortSignal | undefined,
  ): Promise<string | undefined> {
    const realm = this.bearerRealms.get(registry);
    if (realm) {
      const cached = this.tokens.get(registry, scopes);
      if (cached !== undefined) return `Bearer ${cached}`;
      const issued = await abortable(this.obtainToken(registry, realm, scopes), signal);
      return issued === undefined ? undefined : `Bearer ${issued.token}`;
    }
    if (this.basicRegistries.has(registry)) {
      const credentials = this.credentials(registry);
      if (credentials) return basicAuthorization(credentials);
    }
    return undefined;
  }

  /** A fresh token from the realm, cached; concurrent requests for the same token share one fetch. */
  private obtainToken(
    registry: string,
    realm: BearerRealm,
    scopes: string[],
  ): Promise<IssuedToken | undefined> {
    const key = [registry, realm.realm, realm.service ?? '', ...[...scopes].sort()].join('\n');
    const pending = this.pendingTokens.get(key);
    if (pending) return pending;
    const promise = this.fetchToken(registry, realm, scopes)
      .then((issued) => {
        if (issued) this.tokens.set(registry, scopes, issued.token, issued.expiresIn);
        return issued;
      })
      .finally(() => this.pendingTokens.delete(key));
    this.pendingTokens.set(key, promise);
    return promise;
  }

  private async fetchToken(
    registry: string,
    realm: BearerRealm,
    scopes: string[],
  ): Promise<IssuedToken | undefined> {
    let url: URL;
    try {
      url = new URL(realm.realm);
    } catch {
      return undefined;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
    if (realm.service !== undefined) url.searchParams.set('service', realm.service);
    for (const scope of scopes) url.searchParams.append('scope', scope);
    const headers: Record<string, string> = { 'user-agent': this.userAgent, accept: 'application/json' };
    const credentials = this.credentials(registry);
    if (credentials) headers.authorization = basicAuthorization(credentials);

    // Shared by every request waiting for this token: bounded by its own deadline, not theirs.
    const { response } = await this.follow('GET', url, headers, AbortSignal.timeout(this.answerTimeoutMs));
    if (isRetryableStatus(response.status)) {
      discardBody(response.body);
      throw new TransientError(`token endpoint ${describeUrl(url)} answered ${response.status}`);
    }
    if (response.status < 200 || response.status > 299) {
      discardBody(response.body);
      return undefined;
    }
    const text = (await readBodyLimited(response.body, MAX_TOKEN_RESPONSE_BYTES))?.toString('utf8');
    if (text === undefined) return undefined;
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (typeof doc !== 'object' || doc === null) return undefined;
    const { token, access_token: accessToken, expires_in: expiresIn } = doc as Record<string, unknown>;
    const value = typeof token === 'string' && token.length > 0 ? token : accessToken;
    if (typeof value !== 'string' || value.length === 0) return undefined;
    const issued: IssuedToken = { token: value };
    if (typeof expiresIn === 'number') issued.expiresIn = expiresIn;
    return issued;
  }

  /** Sends a request and follows up to MAX_REDIRECTS redirects, dropping Authorization on a change of origin. */
  private async follow(
    method: 'GET' | 'HEAD',
    start: URL,
    headers: Record<string, string>,
    signal: AbortSignal | undefined,
  ): Promise<FollowResult> {
    let url = start;
    let current = headers;
    for (let redirects = 0; ; redirects++) {
      const res = await request(url, {
        method,
        headers: current,
        dispatcher: this.agent,
        signal,
        highWaterMark: BODY_HIGH_WATER_MARK,
      });
      const response: UpstreamResponse = {
        status: res.statusCode,
        headers: flattenHeaders(res.headers),
        body: res.body,
      };
      const location = response.headers.location;
      if (!REDIRECT_STATUSES.has(response.status) || location === undefined) return { response, url };
      discardBody(response.body);
      if (redirects >= MAX_REDIRECTS) {
        throw new UpstreamUnavailableError(`${describeUrl(start)}: more than ${MAX_REDIRECTS} redirects`);
      }
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new UpstreamUnavailableError(`${describeUrl(url)} redirected to an invalid location`);
      }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new UpstreamUnavailableError(
          `${describeUrl(url)} redirected to an unsupported ${next.protocol} URL`,
        );
      }
      if (next.origin !== url.origin && current.authorization !== undefined) {
        const { authorization: _dropped, ...rest } = current;
        current = rest;
      }
      url = next;
    }
  }

  private async backoff(attempt: number, retryAfter: string | undefined, signal: AbortSignal | undefined) {
    const exponential = Math.min(this.maxRetryDelayMs, this.retryBaseDelayMs * 2 ** attempt);
    let delay = exponential / 2 + (Math.random() * exponential) / 2;
    const requested = parseRetryAfter(retryAfter);
    if (requested !== undefined) delay = Math.max(delay, Math.min(requested, this.maxRetryDelayMs));
    try {
      await sleep(delay, undefined, { signal });
    } catch (error) {
      throw signal?.reason ?? error;
    }
  }
}

/** `path?query`, the client's raw query string re-encoded (a leading `?` allowed), or `path` when empty. */
function withQuery(path: string, query: string): string {
  const search = new URLSearchParams(query.startsWith('?') ? query.slice(1) : query).toString();
  return search ? `${path}?${search}` : path;
}

function manifestPath(repository: string, reference: string): string {
  const ref = reference.includes(':') ? parseDigest(reference) : validateTag(reference);
  return `/v2/${validateRepository(repository)}/manifests/${ref}`;
}

function joinUrl(up: Upstream, path: string): URL {
  let base: URL;
  try {
    base = new URL(up.url);
  } catch {
    throw new TypeError(`invalid upstream URL for registry ${up.registry}`);
  }
  if ((base.protocol !== 'http:' && base.protocol !== 'https:') || base.username || base.password) {
    throw new TypeError(`upstream URL for registry ${up.registry} must be http(s) without user info`);
  }
  const url = new URL(`${base.origin}${base.pathname.replace(/\/+$/, '')}${path}`);
  if (up.viaMirror) url.searchParams.set('ns', up.registry);
  return url;
}

function rangeHeader(range: { start: number; end?: number }): string {
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new OciError('RANGE_INVALID', 'range start must be >= 0');
  }
  if (end === undefined) return `bytes=${start}-`;
  if (!Number.isSafeInteger(end) || end < start) {
    throw new OciError('RANGE_INVALID', 'range end must be >= start');
  }
  return `bytes=${start}-${end}`;
}

function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** Transport failures are retried; errors of our own (bad input, redirect loops) and aborts are not. */
function isRetryable(error: unknown): boolean {
  if (error instanceof TransientError) return true;
  if (error instanceof OciError || error instanceof UpstreamUnavailableError) return false;
  if (!(error instanceof Error)) return false;
  if (error.name === 'AbortError') return false;
  const code = (error as { code?: unknown }).code;
  return code !== 'UND_ERR_INVALID_ARG' && code !== 'UND_ERR_ABORTED' && code !== 'ERR_INVALID_URL';
}

function parseRetryAfter(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function flattenHeaders(raw: Record<string, string | string[] | undefined>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (value === undefined) continue;
    headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

async function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  signal.throwIfAborted();
  const { promise: aborted, reject } = Promise.withResolvers<never>();
  const onAbort = () => reject(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    return await Promise.race([promise, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

function sameScopes(a: readonly string[], b: readonly string[]): boolean {
  const left = [...new Set(a)].sort();
  const right = [...new Set(b)].sort();
  return left.length === right.length && left.every((scope, i) => scope === right[i]);
}

/** Origin and path only: query strings of storage redirects carry signatures. */
function describeUrl(url: URL): string {
  return `${url.origin}${url.pathname}`;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const message = error.message || (error instanceof AggregateError ? 'connection failed' : error.name);
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}
