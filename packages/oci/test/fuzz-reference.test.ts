import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isDigest, parseDigest } from '../src/digest.ts';
import { OciError } from '../src/errors.ts';
import {
  formatReference,
  isTag,
  normalizeRegistry,
  parseReference,
  validateRepository,
  validateTag,
} from '../src/reference.ts';

const RUNS = 3000;
const SHA256 = /^sha256:[a-f0-9]{64}$/;
const REPOSITORY = /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

/** Runs `fn`; a thrown error must be an OciError, anything else fails the property. */
function acceptOrOciError<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (error) {
    if (error instanceof OciError) return undefined;
    throw new Error(`threw ${(error as Error)?.name ?? typeof error} instead of OciError: ${error}`);
  }
}

const hex = fc.constantFrom(...'0123456789abcdefABCDEF');
const hexString = (min: number, max: number) =>
  fc.array(hex, { minLength: min, maxLength: max }).map((chars) => chars.join(''));

/** Strings close to digests: right and wrong algorithms, lengths, cases and separators. */
const digestLike = fc.oneof(
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'binary', maxLength: 100 }),
  fc
    .tuple(
      fc.constantFrom('sha256', 'SHA256', 'sha512', 'sha256+b64', 'sha-256', '', 'md5'),
      fc.constantFrom(':', '', '::', '=', ': '),
      hexString(0, 130),
    )
    .map(([alg, sep, body]) => `${alg}${sep}${body}`),
  hexString(64, 64).map((h) => `sha256:${h}`),
  fc.string({ unit: 'grapheme', maxLength: 64 }).map((tail) => `sha256:${tail}`),
);

const nameChar = fc.constantFrom(...'abcz09._-/ABZ:@%~ \t\n\u00e9\u0000'.split(''));
/** Strings over the characters that matter to repository, tag and reference grammars. */
const nameLike = fc.oneof(
  fc.array(nameChar, { maxLength: 80 }).map((chars) => chars.join('')),
  fc.string({ maxLength: 300 }),
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc
    .array(fc.stringMatching(/^[a-z0-9]{1,8}$/), { minLength: 1, maxLength: 6 })
    .map((parts) => parts.join('/')),
);

const hostLike = fc.oneof(
  fc.domain(),
  fc.ipV4(),
  fc.ipV6().map((ip) => `[${ip}]`),
  fc.constantFrom('localhost', 'LOCALHOST', 'docker.io', 'index.docker.io', 'Registry-1.Docker.IO'),
  fc.string({ maxLength: 40 }),
);
const portLike = fc.oneof(
  fc.constant(''),
  fc.integer({ min: 0, max: 99999 }).map((port) => `:${port}`),
  fc.string({ maxLength: 6 }).map((s) => `:${s}`),
);
const registryLike = fc.tuple(hostLike, portLike).map(([host, port]) => `${host}${port}`);

const word = fc
  .array(fc.constantFrom(...'abcdefxyz0189'.split('')), { minLength: 1, maxLength: 6 })
  .map((chars) => chars.join(''));
const component = fc
  .tuple(word, fc.option(fc.tuple(fc.constantFrom('.', '_', '__', '-', '---'), word), { nil: undefined }))
  .map(([head, tail]) => (tail === undefined ? head : `${head}${tail[0]}${tail[1]}`));
/** References that follow the grammar, so the accepting paths are exercised too. */
const wellFormedReference = fc
  .tuple(
    fc.option(
      fc.tuple(
        fc.oneof(fc.domain(), fc.constant('localhost')),
        fc.option(fc.integer({ min: 1, max: 65535 })),
      ),
      { nil: undefined },
    ),
    fc.array(component, { minLength: 1, maxLength: 4 }),
    fc.option(fc.stringMatching(TAG), { nil: undefined }),
    fc.option(
      hexString(64, 64).map((h) => `sha256:${h.toLowerCase()}`),
      { nil: undefined },
    ),
  )
  .map(([registry, parts, tag, digest]) => {
    const host =
      registry === undefined ? '' : `${registry[0]}${registry[1] === null ? '' : `:${registry[1]}`}/`;
    return `${host}${parts.join('/')}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`;
  });

/** Whole references: optional registry, repository, optional tag and digest, with noise mixed in. */
const referenceLike = fc.oneof(
  wellFormedReference,
  fc
    .tuple(
      fc.option(registryLike, { nil: undefined }),
      nameLike,
      fc.option(fc.oneof(fc.stringMatching(TAG), fc.string({ maxLength: 20 })), { nil: undefined }),
      fc.option(digestLike, { nil: undefined }),
    )
    .map(
      ([registry, name, tag, digest]) =>
        `${registry === undefined ? '' : `${registry}/`}${name}${tag === undefined ? '' : `:${tag}`}${digest === undefined ? '' : `@${digest}`}`,
    ),
  fc.string({ maxLength: 600 }),
);

describe('fuzzing the OCI parsers', () => {
  it('parseDigest accepts exactly sha256:<64 lowercase hex> and throws OciError otherwise', () => {
    fc.assert(
      fc.property(digestLike, (value) => {
        const digest = acceptOrOciError(() => parseDigest(value));
        assert.equal(digest !== undefined, SHA256.test(value));
        if (digest !== undefined) {
          assert.equal(digest, value);
          assert.ok(isDigest(digest));
        }
      }),
      { numRuns: RUNS },
    );
  });

  it('validateRepository and validateTag agree with the distribution grammar', () => {
    fc.assert(
      fc.property(nameLike, (value) => {
        const name = acceptOrOciError(() => validateRepository(value));
        assert.equal(name !== undefined, value.length <= 255 && REPOSITORY.test(value));
        const tag = acceptOrOciError(() => validateTag(value));
        assert.equal(tag !== undefined, TAG.test(value));
        assert.equal(isTag(value), tag !== undefined);
      }),
      { numRuns: RUNS },
    );
  });

  it('normalizeRegistry returns a lowercase host[:port] or throws OciError', () => {
    fc.assert(
      fc.property(registryLike, (value) => {
        const registry = acceptOrOciError(() => normalizeRegistry(value));
        if (registry === undefined) return;
        assert.equal(registry, registry.toLowerCase());
        assert.ok(registry.length <= 253 + 6, registry);
        const port = /:(\d+)$/.exec(registry)?.[1];
        if (port !== undefined && !registry.endsWith(']')) {
          assert.ok(Number(port) >= 1 && Number(port) <= 65535, registry);
        }
        // Canonical names are fixed points, and name the URL host they are used as.
        assert.equal(normalizeRegistry(registry), registry);
        const url = new URL(`https://${registry}`);
        assert.equal(url.hostname, port === undefined ? registry : registry.slice(0, -port.length - 1));
      }),
      { numRuns: RUNS },
    );
  });

  it('normalizeRegistry refuses hosts a URL would reject or respell', () => {
    for (const registry of [
      'a.0',
      'A.0:5000',
      'x.1.2',
      '1.2.3',
      '01.2.3.4',
      '0x7f.1',
      '[:::]',
      '[0::1]',
      '1.2.3.256',
    ]) {
      assert.throws(
        () => normalizeRegistry(registry),
        (error: unknown) => error instanceof OciError && error.code === 'NAME_INVALID',
        registry,
      );
    }
    for (const registry of ['1.2.3.4', '[::1]:5000', 'a0.b1', 'localhost', 'ghcr.io', 'A.b-c.IO:443']) {
      assert.equal(normalizeRegistry(registry), registry.toLowerCase());
    }
  });

  it('parseReference returns a well-formed reference that round-trips, or throws OciError', () => {
    fc.assert(
      fc.property(referenceLike, (value) => {
        const ref = acceptOrOciError(() => parseReference(value));
        if (ref === undefined) return;
        assert.ok(REPOSITORY.test(ref.repository), ref.repository);
        assert.equal(normalizeRegistry(ref.registry), ref.registry);
        assert.ok(ref.tag !== undefined || ref.digest !== undefined);
        if (ref.tag !== undefined) assert.ok(TAG.test(ref.tag), ref.tag);
        if (ref.digest !== undefined) assert.match(ref.digest, SHA256);
        assert.deepEqual(parseReference(formatReference(ref)), ref);
      }),
      { numRuns: RUNS },
    );
  });

  it('stays fast on long adversarial inputs (no catastrophic backtracking)', () => {
    const inputs = [
      `${'a-'.repeat(2000)}!`,
      `${'a_'.repeat(2000)}A`,
      `${'a.'.repeat(2000)}.`,
      `${'a/'.repeat(2000)}/`,
      `${'a'.repeat(5000)}:`,
      `${'a.'.repeat(120)}a:${'1'.repeat(3000)}/x`,
      `sha256+${'a+'.repeat(90)}:`,
    ];
    for (const input of inputs) {
      const started = performance.now();
      acceptOrOciError(() => validateRepository(input));
      acceptOrOciError(() => parseReference(input));
      acceptOrOciError(() => normalizeRegistry(input));
      acceptOrOciError(() => parseDigest(input));
      const ms = performance.now() - started;
      assert.ok(ms < 200, `${input.slice(0, 30)}… took ${ms.toFixed(0)} ms`);
    }
  });
});
