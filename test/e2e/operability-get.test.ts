import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ociLayoutDigests, sha256File } from '../fixtures/clients.ts';
import {
  dockerV2Image,
  type ImageDescription,
  layeredImage,
  multiArchImage,
  pushImage,
} from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { CommandError, Daemon, run } from '../fixtures/proc.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { startTcpProxy } from '../fixtures/tcp-proxy.ts';

const SHOAL_BIN = resolve(import.meta.dirname, '../../packages/cli/bin/shoal.js');
/** The name images carry; it does not resolve, so everything comes through the peer. */
const ORIGIN = 'registry.invalid:5000';
const MiB = 1024 * 1024;

interface Result {
  code: number | string | null;
  stdout: string;
  stderr: string;
}

async function shoal(args: string[]): Promise<Result> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
  try {
    const { stdout, stderr } = await run(process.execPath, [SHOAL_BIN, ...args], { env, timeoutMs: 120_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    if (!(error instanceof CommandError)) throw error;
    return { code: error.exitCode, stdout: error.stdout, stderr: error.stderr };
  }
}

function sorted(values: Iterable<string>): string[] {
  return [...new Set(values)].sort();
}

async function skopeo(args: string[]): Promise<string> {
  return (await run('skopeo', ['--insecure-policy', ...args], { timeoutMs: 60_000 })).stdout;
}

describe('shoal get: an image as an OCI layout, or one blob, through a peer', { timeout: 240_000 }, () => {
  let work = '';
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let liar: Server | undefined;
  let liarUrl = '';
  let multi: ImageDescription;
  let layered: ImageDescription;
  let docker: ImageDescription;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'shoal-e2e-get-'));
    [registry, multi, layered, docker] = await Promise.all([
      startRegistry(),
      multiArchImage('get'),
      layeredImage([9 * MiB, 2 * MiB], 'get'),
      dockerV2Image('get'),
    ]);
    await pushImage(registry.url, 'get/multi', 'v1', multi);
    await pushImage(registry.url, 'get/layered', 'v1', layered);
    await pushImage(registry.url, 'get/docker', 'v1', docker);
    peer = await startPeer({ defaultRegistry: ORIGIN, endpoints: { [ORIGIN]: registry.url } });
    // An endpoint that answers every blob request with the wrong bytes.
    liar = createServer((req, res) => {
      const body = Buffer.from(`not the blob you asked for: ${req.url}`);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length });
      res.end(body);
    });
    await new Promise<void>((r) => liar!.listen(0, '127.0.0.1', r));
    liarUrl = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`;
  });

  after(async () => {
    liar?.closeAllConnections();
    liar?.close();
    await peer?.stop();
    await registry?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('writes a layout that skopeo reads, holding the platform manifest and blobs of the pushed image', async () => {
    const amd64 = multi.manifests.find((m) => m.platform.architecture === 'amd64')!;
    const arm64 = multi.manifests.find((m) => m.platform.architecture === 'arm64')!;
    const dir = join(work, 'multi');
    const result = await shoal(['get', `${ORIGIN}/get/multi:v1`, '-o', dir, '--endpoint', peer!.url]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      new RegExp(`wrote ${ORIGIN}/get/multi:v1 \\(${amd64.digest}, linux/amd64\\)`),
    );
    assert.deepEqual(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8')), {
      imageLayoutVersion: '1.0.0',
    });
    const layout = await ociLayoutDigests(dir, { verify: true });
    assert.deepEqual(layout.roots, [{ digest: amd64.digest, mediaType: amd64.mediaType, ref: 'v1' }]);
    assert.deepEqual(
      layout.all,
      sorted([amd64.digest, amd64.config.digest, ...amd64.layers.map((l) => l.digest)]),
    );
    assert.deepEqual(await readFile(join(dir, 'blobs', 'sha256', amd64.digest.slice(7))), amd64.bytes);
    // No temporary file is left behind.
    assert.ok((await readdir(join(dir, 'blobs', 'sha256'))).every((name) => /^[a-f0-9]{64}$/.test(name)));

    // skopeo reads the layout, and copying it out checks every blob's digest again.
    const raw = await skopeo(['inspect', '--raw', `oci:${dir}:v1`]);
    assert.equal(raw, amd64.bytes.toString('utf8'));
    const inspected = JSON.parse(await skopeo(['inspect', `oci:${dir}:v1`])) as {
      Digest: string;
      Layers: string[];
    };
    assert.equal(inspected.Digest, amd64.digest);
    assert.deepEqual(
      inspected.Layers,
      amd64.layers.map((l) => l.digest),
    );
    await skopeo(['copy', '--preserve-digests', `oci:${dir}:v1`, `oci:${join(work, 'multi-copy')}:v1`]);

    // Another platform, and the same image by digest, into layouts of their own.
    const armDir = join(work, 'multi-arm');
    const arm = await shoal([
      'get',
      `${ORIGIN}/get/multi@${multi.digest}`,
      '-o',
      armDir,
      '--platform',
      'linux/arm64',
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(arm.code, 0, arm.stderr);
    const armLayout = await ociLayoutDigests(armDir, { verify: true });
    assert.deepEqual(armLayout.roots, [{ digest: arm64.digest, mediaType: arm64.mediaType, ref: undefined }]);
    assert.deepEqual(armLayout.blobs, sorted([arm64.config.digest, ...arm64.layers.map((l) => l.digest)]));
    const noSuchPlatform = await shoal([
      'get',
      `${ORIGIN}/get/multi:v1`,
      '-o',
      join(work, 'none'),
      '--platform',
      'linux/s390x',
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(noSuchPlatform.code, 1);
    assert.match(
      noSuchPlatform.stderr,
      /no linux\/s390x manifest \(it has: linux\/amd64, linux\/arm64\/v8\)/,
    );
  });

  it('stopped midway, leaves no partial blob: removed on SIGINT/SIGTERM, swept after SIGKILL', async () => {
    // A slow origin (2 MB/s for an image of 11 MiB) keeps the download going for seconds.
    const proxy = await startTcpProxy({ target: registry!.host, rateBytesPerSecond: 2e6 });
    const slow = await startPeer({ defaultRegistry: ORIGIN, endpoints: { [ORIGIN]: proxy.url } });
    const dir = join(work, 'interrupted');
    const blobs = join(dir, 'blobs', 'sha256');
    const partials = async () =>
      (await readdir(blobs).catch(() => [])).filter((n) => n.includes('.partial-'));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('SHOAL_')));
    /** `shoal get` started, and waited for until a partial blob with some bytes in it is on disk. */
    const startGet = async () => {
      const args = [SHOAL_BIN, 'get', `${ORIGIN}/get/layered:v1`, '-o', dir, '--endpoint', slow.url];
      const get = new Daemon('shoal get', process.execPath, args, { env });
      await waitFor(
        'a partial blob',
        async () => {
          for (const name of await partials()) {
            if ((await stat(join(blobs, name)).catch(() => undefined))?.size) return true;
          }
          return false;
        },
        { timeoutMs: 30_000, abort: () => get.exitError() },
      );
      return get;
    };
    try {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        const get = await startGet();
        process.kill(get.pid, signal);
        const exit = await get.exited;
        assert.equal(exit.code, signal === 'SIGINT' ? 130 : 143, get.output);
        assert.match(get.output, new RegExp(`interrupted by ${signal}; partial downloads removed`));
        assert.deepEqual(await partials(), [], `after ${signal}`);
      }
      // SIGKILL leaves no chance to clean up: the next run sweeps what the dead one left.
      const killed = await startGet();
      process.kill(killed.pid, 'SIGKILL');
      await killed.exited;
      assert.ok((await partials()).length > 0, 'the killed run left its partial blob');
      const again = await shoal(['get', `${ORIGIN}/get/layered:v1`, '-o', dir, '--endpoint', slow.url]);
      assert.equal(again.code, 0, again.stderr);
      assert.deepEqual(await partials(), []);
      const layout = await ociLayoutDigests(dir, { verify: true });
      assert.deepEqual(layout.blobs, sorted(layered.blobs.map((b) => b.digest)));
    } finally {
      await slow.stop();
      await proxy.stop();
    }
  });

  it('adds to an existing layout, keeps intact blobs, and keeps Docker media types as pushed', async () => {
    const dir = join(work, 'shared');
    const first = await shoal(['get', `${ORIGIN}/get/layered:v1`, '-o', dir, '--endpoint', peer!.url]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(JSON.parse(await skopeo(['inspect', `oci:${dir}:v1`])).Digest, layered.digest);
    // A Docker schema 2 image keeps its manifest byte for byte (skopeo 1.9 reads only OCI-typed ones).
    const second = await shoal(['get', `${ORIGIN}/get/docker:v1`, '-o', dir, '--endpoint', peer!.url]);
    assert.equal(second.code, 0, second.stderr);
    // Same tag: the later image replaced the entry, the blobs of both are there.
    const layout = await ociLayoutDigests(dir, { verify: true });
    assert.deepEqual(
      layout.roots.map((r) => [r.digest, r.mediaType, r.ref]),
      [[docker.digest, docker.mediaType, 'v1']],
    );
    assert.deepEqual(await readFile(join(dir, 'blobs', 'sha256', docker.digest.slice(7))), docker.bytes);
    const files = await readdir(join(dir, 'blobs', 'sha256'));
    for (const blob of [...layered.blobs, ...docker.blobs])
      assert.ok(files.includes(blob.digest.slice(7)), blob.digest);

    // Again into a layout that has every blob: nothing but manifests crosses the endpoint.
    const served = await peer!.metric('shoal_endpoint_served_bytes_total');
    const again = await shoal(['get', `${ORIGIN}/get/layered:v1`, '-o', dir, '--endpoint', peer!.url]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal(
      await peer!.metric('shoal_endpoint_served_bytes_total'),
      served,
      'no blob was downloaded again',
    );
    assert.equal(JSON.parse(await skopeo(['inspect', `oci:${dir}:v1`])).Digest, layered.digest);
  });

  it('downloads one blob to a file, or into a directory under its digest', async () => {
    const layer = layered.manifests[0]!.layers[0]!;
    const file = join(work, 'layer.tar');
    const result = await shoal([
      'get',
      '--blob',
      `${ORIGIN}/get/layered@${layer.digest}`,
      '-o',
      file,
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, new RegExp(`wrote ${layer.digest} \\(9\\.\\d+ MB\\) to ${file}`));
    assert.equal((await stat(file)).size, layer.size);
    assert.equal(await sha256File(file), layer.digest);

    const into = join(work, 'blobs-here');
    await mkdir(into);
    const config = layered.manifests[0]!.config;
    const inDir = await shoal([
      'get',
      '--blob',
      `${ORIGIN}/get/layered@${config.digest}`,
      '-o',
      into,
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(inDir.code, 0, inDir.stderr);
    assert.deepEqual(await readFile(join(into, config.digest.slice(7))), config.bytes);
  });

  it('refuses content that does not match its digest, leaving no file behind; exit codes', async () => {
    const layer = layered.manifests[0]!.layers[1]!;
    const dir = join(work, 'lies');
    await mkdir(dir);
    const lied = await shoal([
      'get',
      '--blob',
      `${ORIGIN}/get/layered@${layer.digest}`,
      '-o',
      join(dir, 'layer'),
      '--endpoint',
      liarUrl,
    ]);
    assert.equal(lied.code, 1);
    assert.match(lied.stderr, new RegExp(`${layer.digest}: the bytes received hash to sha256:`));
    assert.deepEqual(await readdir(dir), [], 'neither the file nor a temporary one');

    const unknown = `sha256:${'0'.repeat(64)}`;
    const missing = await shoal([
      'get',
      '--blob',
      `${ORIGIN}/get/layered@${unknown}`,
      '-o',
      join(dir, 'x'),
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /registry answered 404/);
    const noTag = await shoal([
      'get',
      `${ORIGIN}/get/layered:v9`,
      '-o',
      join(work, 'v9'),
      '--endpoint',
      peer!.url,
    ]);
    assert.equal(noTag.code, 1);
    assert.match(noTag.stderr, /get\/layered:v9: registry answered 404/);
    const down = await shoal([
      'get',
      `${ORIGIN}/get/layered:v1`,
      '-o',
      join(work, 'down'),
      '--endpoint',
      'http://127.0.0.1:1',
    ]);
    assert.equal(down.code, 1);

    const notLayout = join(work, 'not-a-layout');
    await mkdir(notLayout);
    await writeFile(join(notLayout, 'notes.txt'), 'mine');
    const usage: [string[], RegExp][] = [
      [['get', `${ORIGIN}/get/layered:v1`], /--output .*required/],
      [['get', '--blob', `${ORIGIN}/get/layered:v1`, '-o', 'x'], /--blob needs a digest/],
      [['get', 'Not/An Image', '-o', 'x'], /invalid/],
      [['get', `${ORIGIN}/get/layered:v1`, '-o', 'x', '--platform', 'amd64'], /invalid platform "amd64"/],
      [
        ['get', `${ORIGIN}/get/layered:v1`, '-o', notLayout, '--endpoint', peer!.url],
        /neither empty nor an OCI layout/,
      ],
    ];
    for (const [args, message] of usage) {
      const bad = await shoal(args);
      assert.equal(bad.code, 2, `${args.join(' ')}: ${bad.stderr}`);
      assert.match(bad.stderr, message);
    }
    assert.deepEqual(await readdir(notLayout), ['notes.txt']);
  });
});
