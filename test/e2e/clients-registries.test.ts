import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, skopeoCopyToOci } from '../fixtures/clients.ts';
import { type ContainersClient, containersClient } from '../fixtures/engines.ts';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { CommandError } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, runShoal, startPeer } from '../fixtures/shoal.ts';

/** Two registries as clients name them; neither resolves (RFC 2606), so only the peer can answer. */
const ALPHA = 'alpha.registry.invalid';
const BETA = 'beta.registry.invalid';
const MANIFEST_ACCEPT = 'application/vnd.oci.image.manifest.v1+json';

type Client = 'skopeo' | 'podman' | 'buildah';
const CLIENTS: readonly Client[] = ['skopeo', 'podman', 'buildah'];

let work = '';
let alpha: RunningRegistry | undefined;
let beta: RunningRegistry | undefined;
let peer: RunningPeer | undefined;
/** The drop-in `shoal registries-config` wrote, used as each client's whole registries.conf. */
let conf = '';
const engines = new Map<Client, ContainersClient>();
/** shared/app:1 on each registry: the same name, different images. */
let alphaApp: ImageDescription;
let betaApp: ImageDescription;
/** shared/app:2, on beta only. */
let betaOnly: ImageDescription;

/** Pulls IMAGE with a client and answers the manifest digest it got. */
async function pull(client: Client, image: string): Promise<string> {
  if (client === 'skopeo') {
    const dest = await mkdtemp(join(work, 'skopeo-'));
    try {
      await skopeoCopyToOci({ image, destDir: join(dest, 'layout'), registriesConf: conf, tag: 'pulled' });
      const layout = await ociLayoutDigests(join(dest, 'layout'), { verify: true });
      assert.equal(layout.roots.length, 1);
      return layout.roots[0]!.digest;
    } finally {
      await rm(dest, { recursive: true, force: true });
    }
  }
  const engine = engines.get(client)!;
  await engine.pull(image, conf);
  return engine.imageDigest(image);
}

/** The pull's failure, or a test failure naming what it got instead. */
async function pullFails(client: Client, image: string): Promise<CommandError> {
  try {
    const digest = await pull(client, image);
    assert.fail(`${client} pulled ${image} as ${digest}: it must fail`);
  } catch (error) {
    if (error instanceof CommandError) return error;
    throw error;
  }
}

function manifestDigest(
  path: string,
): Promise<{ status: number; digest: string | undefined; code?: string }> {
  return request(`${peer!.url}${path}`, { headers: { accept: MANIFEST_ACCEPT } }).then((res) => ({
    status: res.status,
    digest: res.headers['docker-content-digest'] as string | undefined,
    ...(res.status >= 400
      ? { code: (JSON.parse(res.body.toString('utf8')) as { errors: { code: string }[] }).errors[0]?.code }
      : {}),
  }));
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-registries-'));
  alpha = await startRegistry();
  beta = await startRegistry();
  [alphaApp, betaApp, betaOnly] = await Promise.all([
    smallImage('alpha'),
    smallImage('beta'),
    smallImage('beta-2'),
  ]);
  assert.notEqual(alphaApp.digest, betaApp.digest);
  await pushImage(alpha.url, 'shared/app', '1', alphaApp);
  await pushImage(beta.url, 'shared/app', '1', betaApp);
  await pushImage(beta.url, 'shared/app', '2', betaOnly);
  // No default registry: a request that names none is refused, never answered from either.
  peer = await startPeer({ endpoints: { [ALPHA]: alpha.url, [BETA]: beta.url }, defaultRegistry: 'none' });
  const dir = join(work, 'registries.conf.d');
  const { code, stdout, stderr } = await runShoal([
    'registries-config',
    '--dir',
    dir,
    '--registry',
    ALPHA,
    '--registry',
    BETA,
    '--endpoint',
    peer.url,
  ]);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /wrote .*shoal\.conf/);
  conf = join(dir, 'shoal.conf');
  for (const tool of ['podman', 'buildah'] as const) engines.set(tool, await containersClient(tool));
});

after(async () => {
  for (const engine of engines.values()) await engine.cleanup();
  await peer?.stop();
  await alpha?.stop();
  await beta?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('one endpoint mirrors two registries for containers/image clients', { timeout: 600_000 }, () => {
  it('registries-config names each registry in its mirror location', async () => {
    const text = await readFile(conf, 'utf8');
    assert.match(text, /^# Managed by shoal registries-config\./);
    for (const name of [ALPHA, BETA]) {
      assert.ok(text.includes(`prefix = "${name}"\nlocation = "${name}"\n`), text);
      assert.ok(text.includes(`location = "${peer!.host}/${name}"\ninsecure = true\n`), text);
    }
  });

  it('answers the registry the request names, by ?ns= or in the path, and refuses a request that names none', async () => {
    assert.deepEqual(await manifestDigest(`/v2/${ALPHA}/shared/app/manifests/1`), {
      status: 200,
      digest: alphaApp.digest,
    });
    assert.deepEqual(await manifestDigest(`/v2/${BETA}/shared/app/manifests/1`), {
      status: 200,
      digest: betaApp.digest,
    });
    assert.deepEqual(await manifestDigest(`/v2/shared/app/manifests/1?ns=${BETA}`), {
      status: 200,
      digest: betaApp.digest,
    });
    assert.deepEqual(await manifestDigest('/v2/shared/app/manifests/1'), {
      status: 404,
      digest: undefined,
      code: 'NAME_UNKNOWN',
    });
  });

  for (const client of CLIENTS) {
    it(`${client} pulls shared/app:1 from each registry through the one endpoint and gets that registry's image`, async () => {
      assert.equal(await pull(client, `${ALPHA}/shared/app:1`), alphaApp.digest);
      assert.equal(await pull(client, `${BETA}/shared/app:1`), betaApp.digest);
    });
  }

  it('with alpha down, nothing of beta is served for alpha', async () => {
    await alpha!.stop();
    // shared/app:2 exists on beta only: asked of alpha, it must not be found anywhere.
    const missing = await manifestDigest(`/v2/${ALPHA}/shared/app/manifests/2`);
    assert.equal(missing.status, 503, JSON.stringify(missing));
    for (const client of CLIENTS) {
      const error = await pullFails(client, `${ALPHA}/shared/app:2`);
      assert.doesNotMatch(error.stderr, new RegExp(betaOnly.digest.slice(7)));
      // Alpha's own tag is still answered from alpha's last answer, never from beta's.
      assert.equal(await pull(client, `${ALPHA}/shared/app:1`), alphaApp.digest, client);
      // Beta is unaffected.
      assert.equal(await pull(client, `${BETA}/shared/app:2`), betaOnly.digest, client);
    }
  });
});
