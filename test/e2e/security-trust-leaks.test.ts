import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { rawExchange, type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';

/**
 * Small leaks of trust: answers that must be OCI errors of shoal's own, never a clean answer carrying
 * the requested digest, an upstream status passed through as is, a local path, or a bodyless refusal.
 */
const EVIL = 'evil.invalid';
const GOOD = 'good.invalid';
const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
/** Blobs the lying upstream claims, each with its lie. */
/** A blob the upstream serves honestly, and how often it was asked for. */
const HONEST_BYTES = Buffer.from('honest bytes, served as they are');
const HONEST = digestOf(HONEST_BYTES.toString());
let honestRequests = 0;
const LIES = {
  empty: digestOf('not empty at all'),
  status299: digestOf('two hundred ninety nine'),
  status999: digestOf('nine hundred ninety nine'),
  status500: digestOf('five hundred'),
};

let evil: Server | undefined;
let registry: RunningRegistry | undefined;
let peer: RunningPeer | undefined;
let dataDir = '';
let image: ImageDescription;

function startLyingUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    const url = req.url ?? '';
    if (url === '/v2/' || url === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})/.exec(url)?.[1];
    if (digest === HONEST) {
      honestRequests++;
      const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      if (!range) {
        res.writeHead(200, { 'content-length': HONEST_BYTES.length }).end(HONEST_BYTES);
        return;
      }
      const [start, end] = [Number(range[1]), Math.min(Number(range[2]), HONEST_BYTES.length - 1)];
      res
        .writeHead(206, {
          'content-length': end - start + 1,
          'content-range': `bytes ${start}-${end}/${HONEST_BYTES.length}`,
        })
        .end(HONEST_BYTES.subarray(start, end + 1));
      return;
    }
    switch (digest) {
      case LIES.empty:
        // A clean, empty answer for a digest whose content is not empty.
        res.writeHead(200, { 'content-length': '0', 'docker-content-digest': digest }).end();
        return;
      case LIES.status299:
        res.writeHead(299, { 'content-type': 'text/plain' }).end('two ninety nine');
        return;
      case LIES.status999:
        res.writeHead(999, { 'content-type': 'text/plain' }).end('nine nine nine');
        return;
      case LIES.status500:
        res.writeHead(500, { 'content-type': 'text/plain' }).end('boom');
        return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  [evil, registry, image] = await Promise.all([
    startLyingUpstream(),
    startRegistry(),
    smallImage('trust-leaks'),
  ]);
  await pushImage(registry.url, 'good/app', 'v1', image);
  dataDir = await mkdtemp(join(tmpdir(), 'shoal-trust-leaks-'));
  peer = await startPeer({
    dataDir,
    defaultRegistry: GOOD,
    endpoints: {
      [EVIL]: `http://127.0.0.1:${(evil.address() as AddressInfo).port}`,
      [GOOD]: registry.url,
    },
  });
});

after(async () => {
  await peer?.stop();
  await registry?.stop();
  await new Promise((resolve) => evil?.close(resolve));
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

function assertOwnOciError(res: StreamedResponse, status: number, what: string): void {
  assert.equal(res.status, status, what);
  if (res.body && res.body.length > 0) {
    const body = JSON.parse(res.body.toString('utf8')) as { errors: { code: string; message: string }[] };
    assert.ok(body.errors[0]?.code, `${what}: an OCI error`);
  }
}

describe('no leak of trust in answers', { timeout: 120_000 }, () => {
  // First: the 5xx cases below leave the registry marked unreachable for a few seconds.
  it("an uncached HEAD asks upstream once: the access check's answer gives the size", async () => {
    const before = honestRequests;
    const res = await streamGet(`${peer!.url}/v2/honest/app/blobs/${HONEST}?ns=${EVIL}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(Number(res.headers['content-length']), HONEST_BYTES.length);
    assert.equal(res.headers['docker-content-digest'], HONEST);
    assert.equal(honestRequests - before, 1, 'one request upstream');
  });

  it('an empty 200 for a non-empty digest is a 502, never a clean empty answer carrying the digest', async () => {
    for (const method of ['GET', 'HEAD'] as const) {
      const res = await streamGet(`${peer!.url}/v2/lies/app/blobs/${LIES.empty}?ns=${EVIL}`, {
        method,
        keepBody: true,
      });
      assertOwnOciError(res, 502, `${method} of an empty lie`);
      assert.notEqual(res.headers['docker-content-digest'], LIES.empty, method);
      if (method === 'GET') assert.match(res.body!.toString('utf8'), /empty/);
    }
  });

  it("upstream's 299 is a 502, its 500 and 999 a 503: none passed through as is", async () => {
    const expected: [string, number][] = [
      [LIES.status299, 502],
      [LIES.status999, 503],
      [LIES.status500, 503],
    ];
    for (const [digest, status] of expected) {
      for (const method of ['GET', 'HEAD'] as const) {
        const res = await streamGet(`${peer!.url}/v2/lies/app/blobs/${digest}?ns=${EVIL}`, {
          method,
          keepBody: true,
        });
        assertOwnOciError(res, status, `${method} ${digest}`);
        if (method === 'GET') assert.match(res.body!.toString('utf8'), /HTTP (299|999|500)/, digest);
      }
    }
  });

  it('a failure of local storage names no local path', async () => {
    // The partial directory becomes a file: nothing can be written there any more.
    await rm(join(dataDir, 'partial'), { recursive: true, force: true });
    await writeFile(join(dataDir, 'partial'), 'not a directory');
    for (const blob of image.blobs) {
      const res = await streamGet(`${peer!.url}/v2/good/app/blobs/${blob.digest}`, { keepBody: true });
      const text = res.body?.toString('latin1') ?? '';
      if (res.status === 200) assert.equal(res.digest, blob.digest, 'streamed through intact');
      else assert.match(String(res.headers['content-type']), /json/);
      assert.ok(!text.includes(dataDir), `a local path in the answer: ${text.slice(0, 200)}`);
      assert.ok(!text.includes(tmpdir()), `a local path in the answer: ${text.slice(0, 200)}`);
    }
    await rm(join(dataDir, 'partial'), { force: true });
  });

  it('what Node would answer itself is an OCI error: no Host, an unknown Expect, CONNECT', async () => {
    const cases: [string, number][] = [
      ['GET /v2/ HTTP/1.1\r\nConnection: close\r\n\r\n', 400],
      [`GET /v2/ HTTP/1.1\r\nHost: ${peer!.host}\r\nExpect: 100-wiggle\r\nConnection: close\r\n\r\n`, 417],
      ['CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n', 405],
    ];
    for (const [payload, status] of cases) {
      const answer = await rawExchange(peer!.host, payload);
      const [head = '', body = ''] = answer.split('\r\n\r\n');
      assert.match(head, new RegExp(`^HTTP/1\\.1 ${status} `), payload);
      assert.match(head, /content-type: application\/json/i, payload);
      assert.ok(JSON.parse(body).errors[0].code, payload);
    }
    assert.equal(peer!.daemon.hasExited, false);
  });
});
