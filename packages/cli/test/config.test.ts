import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { peerOptions, peerSchema } from '../src/commands/peer.ts';
import {
  ConfigError,
  envOf,
  flagOf,
  type OptionSpec,
  resolveConfig,
  resolveConfigWithSources,
} from '../src/config.ts';
import { duration, labels } from '../src/options.ts';

let dir = '';

async function yamlFile(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

function resolvePeer(flags: Record<string, unknown>, env: NodeJS.ProcessEnv, file?: string) {
  return resolveConfig(peerSchema, peerOptions, flags, env, file);
}

function assertConfigError(fn: () => unknown, ...patterns: RegExp[]): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    for (const pattern of patterns) assert.match(error.message, pattern);
    return true;
  });
}

describe('resolveConfig with the peer schema', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-config-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('names flags and variables after the YAML keys', () => {
    const cacheSize = peerOptions.find((o) => o.key === 'cacheSize')!;
    assert.equal(flagOf(cacheSize), '--cache-size');
    assert.equal(envOf(cacheSize), 'SHOAL_CACHE_SIZE');
    assert.equal(envOf(peerOptions.find((o) => o.key === 'registryEndpoint')!), 'SHOAL_REGISTRY_ENDPOINT');
  });

  it('applies the defaults when nothing is given', () => {
    const config = resolvePeer({}, {});
    assert.equal(config.registry, '127.0.0.1:5050');
    assert.equal(config.http, '127.0.0.1:9090');
    assert.equal(config.dataDir, '/var/lib/shoal');
    assert.deepEqual(config.registryEndpoint, {});
    assert.equal(config.defaultRegistry, 'docker.io');
    assert.equal(config.cacheSize, 20 * 2 ** 30);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.dockerConfig, undefined);
    assert.equal(config.readerTimeout, 60_000);
    assert.equal(config.originStallTimeout, 30_000);
    assert.equal(config.maxPieceSize, 16 * 2 ** 20);
    assert.equal(config.staleTags, true);
    assert.deepEqual(config.listen, ['/ip4/0.0.0.0/tcp/4601']);
    assert.deepEqual(config.scheduler, []);
  });

  it("overrides a spec's default from the file, the environment or a flag", async () => {
    const file = await yamlFile('timeouts.yaml', 'readerTimeout: 90s\nuploadSlots: 3\n');
    assert.equal(resolvePeer({}, {}, file).readerTimeout, 90_000);
    assert.equal(resolvePeer({}, {}, file).uploadSlots, 3);
    assert.equal(resolvePeer({}, { SHOAL_READER_TIMEOUT: '2m' }, file).readerTimeout, 120_000);
    assert.equal(
      resolvePeer({ readerTimeout: '5s' }, { SHOAL_READER_TIMEOUT: '2m' }, file).readerTimeout,
      5000,
    );
    assert.equal(resolvePeer({ staleTags: 'false' }, {}).staleTags, false);
  });

  it('takes --default-registry none as no default registry', () => {
    assert.equal(resolvePeer({ defaultRegistry: 'none' }, {}).defaultRegistry, undefined);
    assert.equal(resolvePeer({}, { SHOAL_DEFAULT_REGISTRY: 'none' }).defaultRegistry, undefined);
    assert.equal(resolvePeer({ defaultRegistry: 'quay.io' }, {}).defaultRegistry, 'quay.io');
  });

  it('merges file < environment < flags, key by key', async () => {
    const file = await yamlFile(
      'layers.yaml',
      [
        'registry: 127.0.0.1:6001',
        'http: 127.0.0.1:6002',
        'dataDir: /from/file',
        'cacheSize: 1GiB',
        'defaultRegistry: file.example:5000',
        'logLevel: debug',
        'registryEndpoint:',
        '  file.example:5000: http://127.0.0.1:7001',
        '',
      ].join('\n'),
    );
    const env = {
      SHOAL_HTTP: '127.0.0.1:6102',
      SHOAL_DATA_DIR: '/from/env',
      SHOAL_CACHE_SIZE: '2GiB',
      SHOAL_REGISTRY_ENDPOINT: 'env.example=http://127.0.0.1:7101, other.example=https://10.0.0.1',
      PATH: '/usr/bin',
    };
    const flags = { dataDir: '/from/flag', logLevel: 'warn' };
    const config = resolvePeer(flags, env, file);
    assert.equal(config.registry, '127.0.0.1:6001', 'only in the file');
    assert.equal(config.http, '127.0.0.1:6102', 'env over file');
    assert.equal(config.cacheSize, 2 * 2 ** 30, 'env over file, parsed');
    assert.equal(config.dataDir, '/from/flag', 'flag over env and file');
    assert.equal(config.logLevel, 'warn', 'flag over file');
    assert.equal(config.defaultRegistry, 'file.example:5000');
    // A map-valued option adds up across layers, the higher layer winning per name.
    assert.deepEqual(config.registryEndpoint, {
      'file.example:5000': 'http://127.0.0.1:7001',
      'env.example': 'http://127.0.0.1:7101',
      'other.example': 'https://10.0.0.1',
    });
    const withFlagEndpoints = resolvePeer(
      { registryEndpoint: ['flag.example:5000=http://127.0.0.1:7201', 'env.example=http://127.0.0.1:7202'] },
      env,
      file,
    );
    assert.deepEqual(withFlagEndpoints.registryEndpoint, {
      'file.example:5000': 'http://127.0.0.1:7001',
      'env.example': 'http://127.0.0.1:7202',
      'other.example': 'https://10.0.0.1',
      'flag.example:5000': 'http://127.0.0.1:7201',
    });
  });

  it('ignores empty environment variables and unrelated ones', () => {
    const config = resolvePeer({}, { SHOAL_CACHE_SIZE: '', SHOAL_NOT_AN_OPTION: 'x', CACHE_SIZE: '1' });
    assert.equal(config.cacheSize, 20 * 2 ** 30);
  });

  it('accepts numbers and lists in YAML', async () => {
    const file = await yamlFile(
      'typed.yaml',
      'cacheSize: 3000000\nregistryEndpoint:\n  - a.example=http://127.0.0.1:1\n  - b.example=http://127.0.0.1:2\n',
    );
    const config = resolvePeer({}, {}, file);
    assert.equal(config.cacheSize, 3_000_000);
    assert.deepEqual(config.registryEndpoint, {
      'a.example': 'http://127.0.0.1:1',
      'b.example': 'http://127.0.0.1:2',
    });
  });

  it('rejects unknown YAML keys, naming the key and the file', async () => {
    const file = await yamlFile('unknown.yaml', 'registry: 127.0.0.1:6001\ncache_size: 1GiB\n');
    assertConfigError(() => resolvePeer({}, {}, file), /unknown option "cache_size"/, /unknown\.yaml/);
  });

  it('rejects a file that is not a mapping, or not YAML, or missing', async () => {
    const list = await yamlFile('list.yaml', '- a\n- b\n');
    assertConfigError(() => resolvePeer({}, {}, list), /must be a YAML mapping/);
    const broken = await yamlFile('broken.yaml', 'registry: [unclosed\n');
    assertConfigError(() => resolvePeer({}, {}, broken), /cannot read config file/);
    assertConfigError(() => resolvePeer({}, {}, join(dir, 'absent.yaml')), /cannot read config file/);
    const empty = await yamlFile('empty.yaml', '');
    assert.equal(resolvePeer({}, {}, empty).registry, '127.0.0.1:5050');
  });

  it('reports invalid values with the flag and where the value came from', async () => {
    assertConfigError(
      () => resolvePeer({ cacheSize: 'lots' }, {}),
      /--cache-size \(flag --cache-size\)/,
      /lots/,
    );
    assertConfigError(
      () => resolvePeer({}, { SHOAL_REGISTRY: 'nope' }),
      /--registry \(environment variable SHOAL_REGISTRY\)/,
    );
    const file = await yamlFile('bad-values.yaml', 'logLevel: loud\n');
    assertConfigError(() => resolvePeer({}, {}, file), /--log-level \(config file .*bad-values\.yaml\)/);
    assertConfigError(() => resolvePeer({ defaultRegistry: 'not a registry!' }, {}), /--default-registry/);
    assertConfigError(
      () => resolvePeer({ registryEndpoint: ['x.example=ftp://host'] }, {}),
      /--registry-endpoint/,
      /x\.example=ftp:\/\/host/,
    );
    assertConfigError(
      () => resolvePeer({ registryEndpoint: ['bad name=http://127.0.0.1:1'] }, {}),
      /--registry-endpoint/,
      /bad name/,
    );
    // Every problem is listed, not only the first.
    assertConfigError(() => resolvePeer({ cacheSize: 'lots', http: 'nope' }, {}), /--cache-size/, /--http/);
  });

  it('lets a valid flag override an invalid lower layer', async () => {
    const file = await yamlFile('overridden.yaml', 'cacheSize: lots\n');
    assert.equal(resolvePeer({ cacheSize: '5MB' }, { SHOAL_CACHE_SIZE: 'also bad' }, file).cacheSize, 5e6);
  });

  it('reads locality labels from --label-file: key=value lines, comments and blank lines skipped', async () => {
    const file = await yamlFile('labels', '# from node n1\nzone=eu-1a\n\n  rack=r12  \n');
    const config = resolvePeer({}, { SHOAL_LABEL_FILE: file });
    assert.deepEqual(config.labelFile, { zone: 'eu-1a', rack: 'r12' });
    assert.deepEqual(resolvePeer({}, { SHOAL_LABEL_FILE: await yamlFile('empty-labels', '') }).labelFile, {});
  });

  it('refuses a missing or malformed --label-file, naming the option, the file and the line', async () => {
    const missing = join(dir, 'no-such-labels');
    assertConfigError(
      () => resolvePeer({ labelFile: missing }, {}),
      /--label-file/,
      new RegExp(`cannot read ${missing}`),
    );
    const bad = await yamlFile('bad-labels', 'zone=eu-1a\njust-a-word\n');
    assertConfigError(
      () => resolvePeer({}, { SHOAL_LABEL_FILE: bad }),
      /--label-file \(environment variable SHOAL_LABEL_FILE\)/,
      /line 2: "just-a-word": expected key=value/,
    );
  });
});

describe('resolveConfig with defaults from the option specs', () => {
  const specs: OptionSpec[] = [
    { key: 'stallTimeout', arg: '<duration>', description: 'd', default: 30_000, unit: 'ms' },
    { key: 'slots', arg: '<n>', description: 'n', default: 6 },
    { key: 'label', arg: '<k=v>', description: 'p', repeatable: true, pairs: true, default: { zone: 'a' } },
    { key: 'name', arg: '<name>', description: 's' },
  ];
  // No .default() here: the specs are where defaults live.
  const schema = z.strictObject({
    stallTimeout: duration,
    slots: z.coerce.number().int().min(1),
    label: labels,
    name: z.string({ error: 'required, e.g. --name x' }),
  });
  const resolve = (flags: Record<string, unknown>, env: NodeJS.ProcessEnv = {}, file?: string) =>
    resolveConfig(schema, specs, flags, env, file);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-defaults-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("gives an option nobody sets its spec's default", () => {
    assert.deepEqual(resolve({ name: 'x' }), {
      stallTimeout: 30_000,
      slots: 6,
      label: { zone: 'a' },
      name: 'x',
    });
  });

  it('lets the file, the environment and a flag override a default, each over the one below', async () => {
    const file = await yamlFile('demo.yaml', 'slots: 2\nstallTimeout: 90s\nname: x\n');
    assert.equal(resolve({}, {}, file).slots, 2);
    assert.equal(resolve({}, {}, file).stallTimeout, 90_000);
    assert.equal(resolve({}, { SHOAL_SLOTS: '3' }, file).slots, 3);
    assert.equal(resolve({ slots: '4' }, { SHOAL_SLOTS: '3' }, file).slots, 4);
    assert.equal(resolve({ name: 'x' }, { SHOAL_STALL_TIMEOUT: '45' }).stallTimeout, 45_000);
  });

  it("adds pairs to the default's, a higher source winning per name", async () => {
    assert.deepEqual(resolve({ name: 'x', label: ['rack=r1'] }).label, { zone: 'a', rack: 'r1' });
    assert.deepEqual(resolve({ name: 'x' }, { SHOAL_LABEL: 'zone=b' }).label, { zone: 'b' });
    const file = await yamlFile('labels.yaml', 'label:\n  rack: r2\n');
    assert.deepEqual(resolve({ name: 'x' }, {}, file).label, { zone: 'a', rack: 'r2' });
  });

  it('hands out a copy of a default mapping, never the spec itself', () => {
    const first = resolve({ name: 'x' });
    first.label.zone = 'changed';
    assert.deepEqual(resolve({ name: 'x' }).label, { zone: 'a' });
    assert.deepEqual(specs[2]!.default, { zone: 'a' });
  });

  it('still requires an option without a default, naming it as not set', () => {
    assertConfigError(() => resolve({}), /--name \(not set\): required, e.g. --name x/);
  });

  it('labels a value that came from the default as the default, and lists only the sources that set one', () => {
    const broken = specs.map((s) => (s.key === 'slots' ? { ...s, default: 0 } : s));
    assertConfigError(
      () => resolveConfig(schema, broken, { name: 'x' }, {}, undefined),
      /--slots \(default\)/,
    );
    const { sources } = resolveConfigWithSources(
      schema,
      specs,
      { name: 'x' },
      { SHOAL_SLOTS: '2' },
      undefined,
    );
    assert.deepEqual(sources, { slots: 'environment variable SHOAL_SLOTS', name: 'flag --name' });
  });
});
