import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, skopeoCopyToOci } from '../fixtures/clients.ts';
import { type ImageDescription, smallImage } from '../fixtures/images.ts';
import { type RunningPeer, runShoal, startPeer } from '../fixtures/shoal.ts';
import {
  pushImageWithToken,
  startTokenAuthRegistry,
  TOKEN_PASSWORD,
  TOKEN_USER,
  type TokenAuthRegistry,
} from '../fixtures/token-auth.ts';

/** The private registry as clients name it; it does not resolve, so only the peer can answer. */
const PRIVATE_REGISTRY = 'private.registry.invalid';

let work = '';
let auth: TokenAuthRegistry | undefined;
let peer: RunningPeer | undefined;
let image: ImageDescription;

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-registries-private-'));
  auth = await startTokenAuthRegistry({ publicRepositories: [] });
  image = await smallImage('registries-private');
  await pushImageWithToken(auth, 'private/app', 'v1', image);
  // containers/image takes its challenge from the mirror's /v2/ answer, which names no registry: the
  // peer answers it with the default registry's, so the private registry is the default here.
  peer = await startPeer({
    defaultRegistry: PRIVATE_REGISTRY,
    endpoints: { [PRIVATE_REGISTRY]: auth.registry.url },
  });
});

after(async () => {
  await peer?.stop();
  await auth?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a private registry through a mirror location that names it', { timeout: 180_000 }, () => {
  it('skopeo pulls with the credentials it holds for the mirror', async () => {
    const written = await runShoal([
      'registries-config',
      '--dir',
      work,
      '--registry',
      PRIVATE_REGISTRY,
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(written.code, 0, written.stderr);
    const basic = Buffer.from(`${TOKEN_USER}:${TOKEN_PASSWORD}`).toString('base64');
    const authFile = join(work, 'auth.json');
    await writeFile(authFile, JSON.stringify({ auths: { [peer!.host]: { auth: basic } } }));
    const dest = join(work, 'layout');
    await skopeoCopyToOci({
      image: `${PRIVATE_REGISTRY}/private/app:v1`,
      destDir: dest,
      registriesConf: join(work, 'shoal.conf'),
      srcAuthFile: authFile,
    });
    const layout = await ociLayoutDigests(dest, { verify: true });
    assert.equal(layout.roots[0]?.digest, image.digest);
    assert.equal(
      await peer!.metric('shoal_downloaded_bytes_total', { source: 'origin' }),
      image.totalBlobBytes,
    );
  });
});
