import { readFile } from 'node:fs/promises';
import { normalizeRegistry } from './reference.ts';

export interface Credentials {
  username: string;
  password: string;
}

/** One challenge of a WWW-Authenticate header. Parameter names are lowercased. */
export interface Challenge {
  /** `Bearer` and `Basic` in this spelling whatever the header's case; other schemes as sent. */
  scheme: string;
  params: Record<string, string>;
  /** The token68 form (`Basic dXNlcg==`) when the challenge has one instead of parameters. */
  token68?: string;
}

const MAX_HEADER_LENGTH = 16 * 1024;
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*/;

/**
 * Parses a WWW-Authenticate header value (RFC 9110 §11.6.1): comma-separated challenges, each a scheme
 * followed by `name=value` parameters (values as tokens or quoted strings with backslash escapes) or a
 * token68. Unquoted values are read up to the next comma or space, which tolerates servers that send
 * URLs unquoted. Malformed input yields [] rather than an exception.
 */
export function parseWwwAuthenticate(header: string): Challenge[] {
  if (typeof header !== 'string' || header.length > MAX_HEADER_LENGTH) return [];
  try {
    return new ChallengeParser(header).parse();
  } catch {
    return [];
  }
}

class MalformedHeader extends Error {}

class ChallengeParser {
  private readonly s: string;
  private i = 0;

  constructor(s: string) {
    this.s = s;
  }

  parse(): Challenge[] {
    const challenges: Challenge[] = [];
    for (;;) {
      this.skip(/[\s,]/);
      if (this.i >= this.s.length) return challenges;
      const scheme = this.token();
      if (scheme.length === 0) throw new MalformedHeader();
      const challenge: Challenge = { scheme: canonicalScheme(scheme), params: {} };
      challenges.push(challenge);
      const afterScheme = this.i;
      this.skip(/[ \t]/);
      if (this.i >= this.s.length || this.s[this.i] === ',') continue;
      if (this.i === afterScheme) throw new MalformedHeader();
      this.parseParamsOrToken68(challenge);
    }
  }

  private parseParamsOrToken68(challenge: Challenge): void {
    const start = this.i;
    if (!this.tryParam(challenge)) {
      this.i = start;
      const match = TOKEN68.exec(this.s.slice(start));
      if (!match) throw new MalformedHeader();
      this.i = start + match[0].length;
      this.skip(/[ \t]/);
      if (this.i < this.s.length && this.s[this.i] !== ',') throw new MalformedHeader();
      challenge.token68 = match[0];
      return;
    }
    // More parameters follow a comma; a token not followed by `=` starts the next challenge.
    for (;;) {
      this.skip(/[ \t]/);
      if (this.i >= this.s.length) return;
      if (this.s[this.i] !== ',') throw new MalformedHeader();
      const beforeComma = this.i;
      this.skip(/[\s,]/);
      if (this.i >= this.s.length) return;
      if (!this.tryParam(challenge)) {
        this.i = beforeComma;
        return;
      }
    }
  }

  /** Reads `name BWS = BWS value`; returns false, with the position unspecified, when it is not one. */
  private tryParam(challenge: Challenge): boolean {
    const name = this.token();
    if (name.length === 0) return false;
    this.skip(/[ \t]/);
    if (this.s[this.i] !== '=') return false;
    this.i++;
    this.skip(/[ \t]/);
    let value: string;
    if (this.s[this.i] === '"') {
      value = this.quoted();
    } else {
      const start = this.i;
      while (this.i < this.s.length && !/[\s,"=]/.test(this.s[this.i]!)) this.i++;
      if (this.i === start) return false;
      value = this.s.slice(start, this.i);
    }
    const key = name.toLowerCase();
    if (key !== '__proto__' && !Object.hasOwn(challenge.params, key)) challenge.params[key] = value;
    return true;
  }

  private quoted(): string {
    this.i++; // opening quote
    let value = '';
    while (this.i < this.s.length) {
      const c = this.s[this.i++]!;
      if (c === '"') return value;
      if (c === '\\') {
        if (this.i >= this.s.length) break;
        value += this.s[this.i++];
      } else {
        value += c;
      }
    }
    throw new MalformedHeader();
  }

  private token(): string {
    const start = this.i;
    while (this.i < this.s.length && TCHAR.test(this.s[this.i]!)) this.i++;
    return this.s.slice(start, this.i);
  }

  private skip(chars: RegExp): void {
    while (this.i < this.s.length && chars.test(this.s[this.i]!)) this.i++;
  }
}

function canonicalScheme(scheme: string): string {
  const lower = scheme.toLowerCase();
  if (lower === 'bearer') return 'Bearer';
  if (lower === 'basic') return 'Basic';
  return scheme;
}

/** Lifetime of a token whose response carries no usable `expires_in` (distribution token spec default). */
export const DEFAULT_TOKEN_LIFETIME_SECONDS = 60;

export interface TokenCacheOptions {
  /** Milliseconds clock; Date.now by default. */
  now?: () => number;
  /** Entries kept at most; the oldest is evicted beyond it. */
  maxEntries?: number;
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/**
 * Bearer tokens keyed by registry and scope set (order and duplicates of scopes do not matter).
 * A token is dropped a little before its expiry (10% of its lifetime, at most 10 s) so it is not
 * sent just as it lapses.
 */
export class TokenCache {
  private readonly now: () => number;
  private readonly maxEntries: number;
  private readonly entries = new Map<string, CachedToken>();

  constructor(options: TokenCacheOptions = {}) {
    this.now = options.now ?? Date.now;
    this.maxEntries = options.maxEntries ?? 1024;
  }

  get(registry: string, scopes: readonly string[]): string | undefined {
    const key = cacheKey(registry, scopes);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (this.now() >= entry.expiresAt) {
      this.entries.delete(key);
      return undefined;
    }
    return entry.token;
  }

  /** Stores a token; `expiresInSeconds` as received (`expires_in`), the default lifetime when absent or invalid. */
  set(registry: string, scopes: readonly string[], token: string, expiresInSeconds?: number): void {
    const lifetime =
      typeof expiresInSeconds === 'number' && Number.isFinite(expiresInSeconds) && expiresInSeconds > 0
        ? expiresInSeconds
        : DEFAULT_TOKEN_LIFETIME_SECONDS;
    const lifetimeMs = lifetime * 1000;
    const margin = Math.min(lifetimeMs / 10, 10_000);
    const key = cacheKey(registry, scopes);
    this.entries.delete(key);
    this.entries.set(key, { token, expiresAt: this.now() + lifetimeMs - margin });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  delete(registry: string, scopes: readonly string[]): void {
    this.entries.delete(cacheKey(registry, scopes));
  }

  clear(): void {
    this.entries.clear();
  }

  get size(): number {
    return this.entries.size;
  }
}

function cacheKey(registry: string, scopes: readonly string[]): string {
  return `${registry}\n${[...new Set(scopes)].sort().join(' ')}`;
}

/** Entry of the `auths` map of a Docker `config.json`. */
export interface DockerAuthEntry {
  auth?: string;
  username?: string;
  password?: string;
}

export interface DockerConfig {
  auths: Record<string, DockerAuthEntry>;
}

/**
 * Reads a Docker `config.json` and keeps its `auths` map. Credential helpers (`credsStore`,
 * `credHelpers`) and identity tokens are not supported. Error messages never quote the file's content.
 */
export async function loadDockerConfig(path: string): Promise<DockerConfig> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'read error';
    throw new Error(`cannot read docker config ${path}: ${code}`);
  }
  return parseDockerConfig(text, path);
}

/** Parses the text of a Docker `config.json`; `source` names it in error messages. */
export function parseDockerConfig(text: string, source = 'docker config'): DockerConfig {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`${source} is not valid JSON`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new Error(`${source} must be a JSON object`);
  }
  const auths: Record<string, DockerAuthEntry> = {};
  const rawAuths = (doc as { auths?: unknown }).auths;
  if (rawAuths === undefined) return { auths };
  if (typeof rawAuths !== 'object' || rawAuths === null || Array.isArray(rawAuths)) {
    throw new Error(`${source}: "auths" must be an object`);
  }
  for (const [key, value] of Object.entries(rawAuths)) {
    if (typeof value !== 'object' || value === null || key === '__proto__') continue;
    const entry: DockerAuthEntry = {};
    const { auth, username, password } = value as Record<string, unknown>;
    if (typeof auth === 'string') entry.auth = auth;
    if (typeof username === 'string') entry.username = username;
    if (typeof password === 'string') entry.password = password;
    auths[key] = entry;
  }
  return { auths };
}

/**
 * Credentials of `config` for a registry. Keys may be bare hosts or URLs (`https://host/v2/`); Docker Hub
 * keys such as `https://index.docker.io/v1/` match `docker.io`. An exact key match wins over a normalised one.
 */
export function credentialsFor(config: DockerConfig, registry: string): Credentials | undefined {
  const exact = Object.hasOwn(config.auths, registry) ? config.auths[registry] : undefined;
  if (exact) {
    const credentials = entryCredentials(exact);
    if (credentials) return credentials;
  }
  const wanted = registryKey(registry);
  if (wanted === undefined) return undefined;
  for (const [key, entry] of Object.entries(config.auths)) {
    if (registryKey(key) !== wanted) continue;
    const credentials = entryCredentials(entry);
    if (credentials) return credentials;
  }
  return undefined;
}

/** `https://index.docker.io/v1/` -> `docker.io`, `http://Host:5000/v2/` -> `host:5000`; undefined when not a registry. */
function registryKey(value: string): string | undefined {
  let host = value.trim();
  const scheme = host.indexOf('://');
  if (scheme >= 0) host = host.slice(scheme + 3);
  const slash = host.indexOf('/');
  if (slash >= 0) host = host.slice(0, slash);
  try {
    return normalizeRegistry(host);
  } catch {
    return undefined;
  }
}

function entryCredentials(entry: DockerAuthEntry): Credentials | undefined {
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined) {
    return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** `Authorization` header value for HTTP Basic. */
export function basicAuthorization(credentials: Credentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`, 'utf8').toString('base64')}`;
}
