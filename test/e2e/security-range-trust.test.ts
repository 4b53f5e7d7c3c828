import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { streamGet } from '../fixtures/stream-get.ts';

/**
 * A Range of a blob still downloading is answered from the origin's bytes before the whole digest is
 * known: the same trust as the origin's own Range answer, counted in a metric. Once the blob fails its
 * digest, no byte of it is served again before a download verifies it.
 */
const LIAR = 'liar.invalid';
const SIZE = 3 * 1024 * 1024;
const truth = randomBytes(SIZE);
const DIGEST = `sha256:${createHash('sha256').update(truth).digest('hex')}`;
/** What the upstream sends instead: the same length, other bytes. */
const lie = Buffer.from(truth.map((byte) => byte ^ 0xff));

let upstream: Server | undefined;
let peer: RunningPeer | undefined;
/** The Range header of every request for DIGEST the upstream got, in order ('' for none). */
const blobRequests: string[] = [];

/** An upstream that serves the wrong bytes for DIGEST, with Range support, as a registry would. */
function startLyingUpstream(): Promise<Server> {
  const server = createServer((req, res) => {
    if (!req.url?.endsWith(`/blobs/${DIGEST}`)) {
      res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    blobRequests.push(req.headers.range ?? '');
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    if (!range) {
      res.writeHead(200, { 'content-length': SIZE }).end(lie);
      return;
    }
    const start = Number(range[1]);
    const end = range[2] ? Math.min(Number(range[2]), SIZE - 1) : SIZE - 1;
    res
      .writeHead(206, { 'content-length': end - start + 1, 'content-range': `bytes ${start}-${end}/${SIZE}` })
      .end(lie.subarray(start, end + 1));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  upstream = await startLyingUpstream();
  peer = await startPeer({
    defaultRegistry: LIAR,
    endpoints: { [LIAR]: `http://127.0.0.1:${(upstream.address() as AddressInfo).port}` },
  });
});

after(async () => {
  await peer?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('ranges before the digest is known', { timeout: 120_000 }, () => {
  it("carry the origin's trust and are counted; after the digest fails, none is served unverified", async () => {
    const url = `${peer!.url}/v2/lies/app/blobs/${DIGEST}`;
    const early = await streamGet(url, { headers: { range: 'bytes=0-1023' }, keepBody: true });
    assert.equal(early.status, 206);
    assert.deepEqual(early.body, lie.subarray(0, 1024), "the origin's own bytes");
    // A cold range is asked of upstream as the client asked it: the answer is the access check too.
    assert.equal(blobRequests[0], 'bytes=0-1023', `upstream was asked ${blobRequests.join(', ')}`);
    assert.ok((await peer!.metric('shoal_endpoint_range_bytes_before_verification_total')) >= 1024);

    // The whole blob fails its digest: the response is cut off, never a clean end.
    const whole = await streamGet(url);
    assert.ok(whole.status !== 200 || !whole.complete, 'no clean end of a wrong body');
    for (let i = 0; i < 50 && (await peer!.metric('shoal_verification_failures_total')) < 1; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.ok((await peer!.metric('shoal_verification_failures_total')) >= 1);

    // From now on a range waits for a verified whole, which the liar never provides.
    const before = await peer!.metric('shoal_endpoint_range_bytes_before_verification_total');
    const again = await streamGet(url, { headers: { range: 'bytes=0-1023' }, keepBody: true });
    assert.equal(again.status, 502, again.body?.toString('utf8'));
    assert.match(String(again.headers['content-type']), /json/);
    assert.equal(await peer!.metric('shoal_endpoint_range_bytes_before_verification_total'), before);
    assert.equal(peer!.daemon.hasExited, false);
  });
});
