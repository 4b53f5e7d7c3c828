import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTag, OciError, UpstreamResolver, validateRepository } from '@shoal/oci';
import fc from 'fast-check';
import { parseRange } from '../src/endpoint/range.ts';
import { parseRequestUrl } from '../src/endpoint/routes.ts';

const RUNS = 3000;
const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** Runs `fn`; a thrown error must be an OciError, anything else fails the property. */
function acceptOrOciError<T>(fn: () => T): { value: T } | undefined {
  try {
    return { value: fn() };
  } catch (error) {
    if (error instanceof OciError) return undefined;
    throw new Error(`threw ${(error as Error)?.name ?? typeof error} instead of OciError: ${error}`);
  }
}

const hexDigest = fc
  .array(fc.constantFrom(...'0123456789abcdef'), { minLength: 64, maxLength: 64 })
  .map((chars) => `sha256:${chars.join('')}`);

/** Percent-encodes some characters of a string, sometimes wrongly (bad hex, truncated escapes, encoded '/'). */
const percentNoise = (value: string) =>
  fc
    .array(
      fc.constantFrom('%', '%2', '%2f', '%2F', '%2e', '%zz', '%00', '%C3%A9', '%ED%A0%80', '%E2%82', '%%'),
      {
        maxLength: 4,
      },
    )
    .chain((escapes) =>
      fc
        .array(fc.nat({ max: value.length }), { minLength: escapes.length, maxLength: escapes.length })
        .map((positions) => {
          let out = value;
          escapes.forEach((insert, i) => {
            const at = Math.min(positions[i]!, out.length);
            out = out.slice(0, at) + insert + out.slice(at);
          });
          return out;
        }),
    );

const segment = fc.oneof(
  fc.stringMatching(/^[a-z0-9]{1,10}$/),
  fc.constantFrom(
    '..',
    '.',
    '',
    'A',
    '_x',
    'a__b',
    'a---b',
    'a.b',
    'v2',
    'manifests',
    'blobs',
    'tags',
    'uploads',
  ),
  fc.string({ maxLength: 12 }),
);
const repoPath = fc.array(segment, { minLength: 1, maxLength: 8 }).map((parts) => parts.join('/'));
const lastSegment = fc.oneof(
  hexDigest,
  fc.stringMatching(/^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,20}$/),
  fc.constantFrom('list', 'uploads', 'latest', 'sha512:abcd', 'sha256:ABC', ''),
  fc.string({ maxLength: 80 }),
);
const nsValue = fc.oneof(
  fc.domain(),
  fc.tuple(fc.domain(), fc.integer({ min: 0, max: 70000 })).map(([host, port]) => `${host}:${port}`),
  fc.ipV6().map((ip) => `[${ip}]:5000`),
  fc.string({ maxLength: 60 }),
  fc.string({ unit: 'binary', maxLength: 30 }),
  fc.constantFrom('', 'docker.io', 'localhost:5000', 'a..b', '-a', 'a:99999', 'x'.repeat(300)),
);
const query = fc.oneof(
  fc.constant(''),
  nsValue.map((ns) => `?ns=${encodeURIComponent(ns)}`),
  nsValue.map((ns) => `?ns=${ns}`),
  fc
    .tuple(nsValue, fc.string({ maxLength: 30 }))
    .map(([ns, rest]) => `?n=10&ns=${encodeURIComponent(ns)}&last=${encodeURIComponent(rest)}`),
  fc.string({ maxLength: 100 }).map((raw) => `?${raw}`),
);

/** Distribution-API-shaped URLs with noise in every part, plus entirely arbitrary strings. */
const urlLike = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('/v2/', '/v2', '/V2/', '//v2/', '/v2//', ''),
      repoPath,
      fc.constantFrom('/manifests/', '/blobs/', '/tags/', '/', '/manifests'),
      lastSegment,
      query,
    )
    .chain(([base, repo, kind, last, q]) =>
      percentNoise(`${base}${repo}${kind}${last}`).map((p) => `${p}${q}`),
    ),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }).map((s) => `/v2/${s}`),
  fc
    .tuple(fc.integer({ min: 3000, max: 6000 }), fc.constantFrom('a/', 'a', '%2f', '%'))
    .map(([length, unit]) => `/v2/${unit.repeat(Math.ceil(length / unit.length))}/manifests/latest`),
);

describe('fuzzing the endpoint parsers', () => {
  it('parseRequestUrl returns a well-formed route, undefined, or throws OciError', () => {
    fc.assert(
      fc.property(urlLike, (url) => {
        const outcome = acceptOrOciError(() => parseRequestUrl(url));
        if (outcome === undefined || outcome.value === undefined) return;
        const { route, registry, query } = outcome.value;
        assert.ok(registry === undefined || registry.length > 0);
        assert.equal(typeof query, 'string');
        assert.ok(!new URLSearchParams(query).has('ns'), `ns left in ${query}`);
        assert.ok(url.length <= 4096);
        if (route.kind === 'base') return;
        assert.equal(validateRepository(route.name), route.name);
        assert.ok(!route.name.split('/').includes('..'));
        if (route.kind === 'blob') assert.match(route.digest, SHA256);
        if (route.kind === 'manifest') {
          if ('digest' in route.reference) assert.match(route.reference.digest, SHA256);
          else assert.ok(isTag(route.reference.tag), route.reference.tag);
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('UpstreamResolver.resolve maps any ns to a registry and an http(s) URL, or throws OciError', () => {
    const resolver = new UpstreamResolver({
      endpoints: {
        'localhost:5000': 'http://127.0.0.1:5000/',
        'Mirror.Example:443': 'https://mirror.example',
      },
      defaultRegistry: 'docker.io',
    });
    fc.assert(
      fc.property(fc.option(nsValue, { nil: undefined }), (ns) => {
        const outcome = acceptOrOciError(() => resolver.resolve(ns));
        if (ns === undefined || ns === '') assert.ok(outcome, 'the default registry always resolves');
        if (outcome === undefined) return;
        const { registry, url } = outcome.value;
        assert.equal(registry, registry.toLowerCase());
        assert.ok(registry.length > 0 && registry.length <= 260, registry);
        assert.doesNotMatch(registry, /[/?#@\s]/);
        const parsed = new URL(url);
        assert.ok(parsed.protocol === 'https:' || parsed.protocol === 'http:', url);
        assert.equal(parsed.pathname, '/', url);
        assert.equal(parsed.search, '');
        assert.equal(parsed.username, '');
      }),
      { numRuns: RUNS },
    );
  });

  it('parseRange only accepts ranges inside the blob', () => {
    const size = fc.oneof(
      fc.constantFrom(0, 1, 2, 100),
      fc.nat({ max: 10_000 }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    );
    const number = fc.oneof(
      fc.nat({ max: 200 }).map(String),
      fc.bigInt({ min: 0n, max: 10n ** 20n }).map(String),
      fc.constantFrom(
        '',
        '0',
        '00',
        '-1',
        '1e3',
        '0x10',
        ' 1',
        '9007199254740993',
        '9'.repeat(16),
        '9'.repeat(17),
      ),
    );
    const header = fc.oneof(
      fc.tuple(number, number).map(([a, b]) => `bytes=${a}-${b}`),
      fc.tuple(number, number, number).map(([a, b, c]) => `bytes=${a}-${b},${c}-`),
      fc
        .tuple(fc.constantFrom('bytes', 'Bytes', 'items', ' bytes', 'bytes '), number, number)
        .map(([unit, a, b]) => `${unit}=${a}-${b}`),
      fc.string({ maxLength: 40 }),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(header, size, (value, blobSize) => {
        const result = parseRange(value, blobSize);
        switch (result.kind) {
          case 'whole':
            assert.equal(value, undefined);
            break;
          case 'partial': {
            const { start, end } = result.range;
            assert.ok(
              Number.isSafeInteger(start) && Number.isSafeInteger(end),
              `${value} -> ${start}-${end}`,
            );
            assert.ok(
              0 <= start && start <= end && end < blobSize,
              `${value} on ${blobSize} -> ${start}-${end}`,
            );
            break;
          }
          case 'unsatisfiable':
            break;
          case 'malformed':
            assert.equal(typeof result.reason, 'string');
            assert.ok(result.reason.length < 200);
            break;
        }
      }),
      { numRuns: RUNS },
    );
  });
});
