import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { fillDisk } from '../fixtures/disk.ts';
import { request } from '../fixtures/http.ts';
import { pushBlob, rawBlob } from '../fixtures/images.ts';
import { waitFor } from '../fixtures/net.ts';
import { run } from '../fixtures/proc.ts';
import { rangeRequest } from '../fixtures/range-client.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';
import { startTcpProxy, type TcpProxy } from '../fixtures/tcp-proxy.ts';

const MiB = 1024 * 1024;
const LIAR = 'liar.invalid';
/** What the lying upstream claims its blobs weigh. */
const CLAIMED = 20_000_000_000;
/** Junk it sends before it stops (then cuts the connection). */
const SENT_BEFORE_STOP = 8 * MiB;
const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
/** A layer a manifest names with its true size (4 MiB); upstream claims 20 GB for it. */
const NAMED = digestOf('named layer');
/** A blob no manifest names; upstream claims 20 GB for it. */
const UNNAMED = digestOf('unnamed blob');
/** A blob upstream sends without saying its size (chunked, Content-Range with `*`). */
const SIZELESS = digestOf('sizeless blob');
const CONFIG = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const MANIFEST = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: digestOf(CONFIG.toString()),
      size: CONFIG.length,
    },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: NAMED, size: 4 * MiB }],
  }),
);

interface Liar {
  server: Server;
  url: string;
  /** Body bytes sent so far, all blobs. */
  sent(): number;
}

/** Junk until SENT_BEFORE_STOP, then the connection is cut (a lie cannot go on for 20 GB in a test). */
async function sendJunk(res: ServerResponse, count: (bytes: number) => void): Promise<void> {
  const chunk = Buffer.alloc(256 * 1024, 0x5a);
  for (let sent = 0; sent < SENT_BEFORE_STOP && !res.destroyed; sent += chunk.length) {
    count(chunk.length);
    if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve));
  }
  res.destroy();
}

function startLiar(): Promise<Liar> {
  let sent = 0;
  const count = (bytes: number) => {
    sent += bytes;
  };
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (/\/manifests\/(v1|sha256:)/.test(url)) {
      res.writeHead(200, {
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'content-length': MANIFEST.length,
        'docker-content-digest': digestOf(MANIFEST.toString()),
      });
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
      return;
    }
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(url)?.[1];
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (digest === NAMED || digest === UNNAMED) {
      const start = range ? Number(range[1]) : 0;
      const end = range?.[2] ? Number(range[2]) : CLAIMED - 1;
      res.writeHead(range ? 206 : 200, {
        'content-type': 'application/octet-stream',
        'content-length': end - start + 1,
        ...(range ? { 'content-range': `bytes ${start}-${end}/${CLAIMED}` } : {}),
      });
      if (req.method === 'HEAD') res.end();
      else if (end === start) res.end(Buffer.from([0x5a]));
      else void sendJunk(res, count);
      return;
    }
    if (digest === SIZELESS) {
      // No Content-Length (chunked), and a Content-Range whose total is unknown.
      res.writeHead(range ? 206 : 200, {
        'content-type': 'application/octet-stream',
        ...(range ? { 'content-range': `bytes ${range[1]}-${range[2] || '1023'}/*` } : {}),
      });
      res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(range?.[2] === '0' ? 1 : 1024, 1));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"BLOB_UNKNOWN"}]}');
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () =>
      resolve({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        sent: () => sent,
      }),
    ),
  );
}

function assertOciError(
  res: { status: number; body: Buffer | undefined },
  status: number,
  pattern: RegExp,
): void {
  assert.equal(res.status, status, res.body?.toString('utf8'));
  const body = JSON.parse(res.body!.toString('utf8')) as { errors: { code: string; message: string }[] };
  assert.match(body.errors[0]!.message, pattern);
}

const filesIn = async (dir: string) =>
  (await readdir(dir, { recursive: true })).filter((name) => name.includes('.'));

describe('bad input on big blobs: clear errors, nothing corrupt kept or served, daemon up', {
  timeout: 240_000,
}, () => {
  let liar: Liar | undefined;
  let peer: RunningPeer | undefined;
  const mounts: string[] = [];
  const dirs: string[] = [];

  before(async () => {
    liar = await startLiar();
  });

  afterEach(async () => {
    await peer?.stop();
    peer = undefined;
    for (const mount of mounts.splice(0).reverse()) await run('umount', [mount]).catch(() => {});
    for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
  });

  after(async () => {
    await new Promise((resolve) => liar?.server.close(resolve));
  });

  /** A data directory on a tmpfs of `size` (mounted here, unmounted after the test). */
  async function smallDisk(size: string): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-small-disk-'));
    dirs.push(dir);
    await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
    mounts.push(dir);
    return dir;
  }

  const startOn = async (dataDir?: string) => {
    peer = await startPeer({
      defaultRegistry: LIAR,
      endpoints: { [LIAR]: liar!.url },
      extraArgs: ['--log-level', 'info'],
      ...(dataDir ? { dataDir } : {}),
    });
    return peer;
  };
  const blobUrl = (p: RunningPeer, digest: string) => `${p.url}/v2/lies/app/blobs/${digest}`;

  it('a 20 GB Content-Length for a layer its manifest gives 4 MiB: refused before a byte is written', async () => {
    const p = await startOn();
    const manifest = await request(`${p.url}/v2/lies/app/manifests/v1`, {
      headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
    });
    assert.equal(manifest.status, 200);
    const sentBefore = liar!.sent();
    const started = performance.now();
    assertOciError(
      await streamGet(blobUrl(p, NAMED), { keepBody: true }),
      502,
      /20000000000 bytes; its manifest says 4194304/,
    );
    const ranged = await rangeRequest(blobUrl(p, NAMED), 'bytes=1048576-2097151');
    assertOciError(ranged, 502, /its manifest says 4194304/);
    assert.ok(performance.now() - started < 10_000, 'refused at once, not after retries');
    // Each connection is dropped at the lie: upstream got rid of no more than the loopback socket
    // buffers took, short of the 8 MiB it would send to a reader on each of the two.
    const sent = liar!.sent() - sentBefore;
    assert.ok(sent < 2 * SENT_BEFORE_STOP, `upstream sent ${sent} bytes`);
    assert.deepEqual(await filesIn(join(p.dataDir, 'partial')), []);
    assert.deepEqual(await filesIn(join(p.dataDir, 'blobs')), []);
    assert.match(p.daemon.output, /its manifest says 4194304/);
    assert.equal((await request(`${p.adminUrl}/healthz`)).status, 200);
  });

  it('a 20 GB Content-Length no manifest contradicts, on a small disk: refused up front, streamed through, cut off when upstream stops', async () => {
    const dataDir = await smallDisk('32m');
    const p = await startOn(dataDir);
    const before = await statfs(dataDir);
    const res = await streamGet(blobUrl(p, UNNAMED));
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(CLAIMED));
    assert.equal(res.complete, false, 'never a clean end');
    assert.ok(res.error, 'the client sees the body cut off');
    assert.ok(res.bytes <= SENT_BEFORE_STOP, `${res.bytes} bytes relayed`);
    assert.match(p.daemon.output, /data directory does not take writes|cannot be cached/);
    // Nothing reserved or written for it: the disk is as it was, no partial, no blob.
    const afterwards = await statfs(dataDir);
    assert.ok(afterwards.bfree * afterwards.bsize >= before.bfree * before.bsize - MiB);
    assert.deepEqual(await filesIn(join(dataDir, 'partial')), []);
    assert.deepEqual(await filesIn(join(dataDir, 'blobs')), []);
    assert.equal((await request(`${p.adminUrl}/healthz`)).status, 200);
  });

  it('a Range of a blob whose size upstream does not tell: a clear 502, nothing kept', async () => {
    const p = await startOn();
    for (const range of ['bytes=0-99', 'bytes=-100', 'bytes=10-']) {
      const res = await rangeRequest(blobUrl(p, SIZELESS), range);
      assertOciError(res, 502, /size|Content-Length|Content-Range/);
    }
    const whole = await streamGet(blobUrl(p, SIZELESS), { keepBody: true });
    assertOciError(whole, 502, /size|Content-Length|Content-Range/);
    assert.deepEqual(await filesIn(join(p.dataDir, 'partial')), []);
    assert.deepEqual(await filesIn(join(p.dataDir, 'blobs')), []);
    assert.equal((await request(`${p.adminUrl}/healthz`)).status, 200);
  });
});

describe('a disk that fills during a big download', { timeout: 240_000 }, () => {
  let registry: RunningRegistry | undefined;
  let proxy: TcpProxy | undefined;
  let peer: RunningPeer | undefined;
  let dataDir = '';
  let blob: { digest: string; size: number; path: string };

  before(async () => {
    registry = await startRegistry();
    blob = await rawBlob('disk-fills', 48 * MiB);
    await pushBlob(registry.url, 'fill/model', blob);
    // Slow enough that the disk can be filled while the download runs.
    proxy = await startTcpProxy({ target: registry.host, rateBytesPerSecond: 8e6 });
    dataDir = await mkdtemp(join(tmpdir(), 'shoal-filling-disk-'));
    await run('mount', ['-t', 'tmpfs', '-o', 'size=64m', 'tmpfs', dataDir]);
  });

  after(async () => {
    await peer?.stop();
    await run('umount', [dataDir]).catch(() => {});
    await rm(dataDir, { recursive: true, force: true });
    await proxy?.stop();
    await registry?.stop();
  });

  it('cuts the download off with a clear log line, keeps only verified pieces, stays up and completes once there is room', async () => {
    peer = await startPeer({
      defaultRegistry: 'registry.invalid:5000',
      endpoints: { 'registry.invalid:5000': proxy!.url },
      dataDir,
      extraArgs: ['--log-level', 'info'],
    });
    const url = `${peer.url}/v2/fill/model/blobs/${blob.digest}`;
    const first = streamGet(url);
    await waitFor(
      'the download to be under way',
      async () => (await peer!.metric('shoal_downloaded_bytes_total', { source: 'origin' })) > 8 * MiB,
      { timeoutMs: 30_000 },
    );
    // Fill the rest of the disk: the partial (sparse) cannot grow any more.
    const fillerPath = await fillDisk(dataDir);

    const cut = await first;
    assert.equal(cut.status, 200);
    assert.equal(cut.complete, false, 'a body that could not be stored is cut off, never ended cleanly');
    assert.ok(cut.bytes < blob.size);
    // The log line is written as the download fails, which may be just after the client saw the cut.
    await waitFor('ENOSPC in the log', async () => /ENOSPC/.test(peer!.daemon.output), { timeoutMs: 10_000 });
    assert.deepEqual(await readdir(join(dataDir, 'blobs', 'sha256')), [], 'nothing stored as complete');
    assert.equal((await request(`${peer.adminUrl}/healthz`)).status, 200);

    // Room again: the next request gets the whole blob, right.
    await rm(fillerPath);
    const again = await streamGet(url);
    assert.equal(again.status, 200);
    assert.equal(again.complete, true, again.error?.message);
    assert.equal(again.digest, blob.digest);
    assert.equal(peer.daemon.hasExited, false);
  });
});
