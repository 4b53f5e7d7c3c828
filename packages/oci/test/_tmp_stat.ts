import fc from 'fast-check';
import { normalizeRegistry, parseReference, validateRepository } from '../src/reference.ts';

const TAG = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
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

const component = fc
  .tuple(fc.stringMatching(/^[a-z0-9]{1,6}$/), fc.constantFrom('', '.', '_', '__', '-', '---'))
  .map(([word, sep]) => `${word}${sep}`)
  .chain((head) => fc.stringMatching(/^[a-z0-9]{1,4}$/).map((tail) => `${head}${tail}`));
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
let ok = 0,
  okName = 0,
  okReg = 0,
  dig = 0;
for (const v of fc.sample(referenceLike, 3000)) {
  try {
    const r = parseReference(v);
    ok++;
    if (r.digest) dig++;
  } catch {}
}
console.log({ ok, dig });
