import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { freePort, waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';

/** A registry that answers; and one whose address refuses connections. */
const UP = 'registry.invalid:5000';
const DOWN = 'down.invalid:5000';
/** Credentials a client sends; they must reach upstream but never the log. */
const BEARER = 'Bearer e2e-secret-token-7f3a9c1d5b';
const BASIC = `Basic ${Buffer.from('e2e-user:e2e-secret-password-0b1d').toString('base64')}`;
const SECRETS = ['e2e-secret-token-7f3a9c1d5b', BASIC.slice('Basic '.length), 'e2e-secret-password-0b1d'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  [field: string]: unknown;
}

/** The daemon's JSON log lines. */
function logLines(peer: RunningPeer): LogLine[] {
  return peer.daemon.output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);
}

/** Waits until the daemon logged a line for `reqId` with message `msg`, and returns it. */
async function logged(peer: RunningPeer, reqId: string, msg: string): Promise<LogLine> {
  let found: LogLine | undefined;
  await waitFor(`a log line "${msg}" with reqId ${reqId}`, async () => {
    found = logLines(peer).find((line) => line.reqId === reqId && line.msg === msg);
    return found !== undefined;
  });
  return found!;
}

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

describe('request ids in the peer endpoint log', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;

  before(async () => {
    registry = await startRegistry();
    image = await smallImage('request-ids');
    await pushImage(registry.url, 'ops/ids', 'v1', image);
    const closedPort = await freePort();
    peer = await startPeer({
      endpoints: { [UP]: registry.url, [DOWN]: `http://127.0.0.1:${closedPort}` },
      // Debug: every request is logged, the most chances for a header to slip into a line.
      extraArgs: ['--log-level', 'debug'],
    });
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
  });

  it("keeps a sane X-Request-Id: in the response and on the request's log line about an upstream error", async () => {
    const res = await request(`${peer!.url}/v2/ops/ids/manifests/v1?ns=${DOWN}`, {
      headers: { 'x-request-id': 'e2e-upstream-down-1', authorization: BEARER },
    });
    assert.equal(res.status, 503, res.body.toString('utf8'));
    assert.equal(res.headers['x-request-id'], 'e2e-upstream-down-1');
    const line = await logged(peer!, 'e2e-upstream-down-1', 'request answered with a server error');
    assert.equal(line.level, 40, 'warn');
    assert.equal(line.status, 503);
    assert.match(String(line.error), new RegExp(`${DOWN}.*connection refused \\(ECONNREFUSED\\)`));
  });

  it("generates one otherwise, and the download task a request starts logs with the request's id", async () => {
    // A blob upstream does not hold is refused by the access check: no task starts for it.
    const missing = `sha256:${'0'.repeat(64)}`;
    const refused = await request(`${peer!.url}/v2/ops/ids/blobs/${missing}?ns=${UP}`, {
      headers: { authorization: BASIC },
    });
    assert.equal(refused.status, 404, refused.body.toString('utf8'));
    assert.match(String(refused.headers['x-request-id']), UUID);
    // One it holds starts a download task, whose log lines carry the request's id.
    const blob = image.blobs[0]!;
    const res = await request(`${peer!.url}/v2/ops/ids/blobs/${blob.digest}?ns=${UP}`, {
      headers: { authorization: BASIC },
    });
    assert.equal(res.status, 200, res.body.toString('utf8'));
    assert.equal(sha256(res.body), blob.digest);
    const id = String(res.headers['x-request-id']);
    assert.match(id, UUID);
    const done = await logged(peer!, id, 'blob complete');
    assert.equal(done.digest, blob.digest);
    assert.equal((await logged(peer!, id, 'request')).status, 200);
  });

  it('replaces an id that is not sane', async () => {
    const res = await request(`${peer!.url}/v2/`, { headers: { 'x-request-id': 'two words {"x":1}' } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['x-request-id']), UUID);
  });

  it('gives every answer an id, refusals included, and logs each request once', async () => {
    const ns = `?ns=${UP}`;
    const manifest = await request(`${peer!.url}/v2/ops/ids/manifests/v1${ns}`, {
      headers: { accept: image.mediaType, authorization: BEARER, 'x-request-id': 'e2e-pull-manifest' },
    });
    assert.equal(manifest.status, 200, manifest.body.toString('utf8'));
    assert.equal(sha256(manifest.body), image.digest);
    for (const [i, blob] of image.blobs.entries()) {
      const res = await request(`${peer!.url}/v2/ops/ids/blobs/${blob.digest}${ns}`, {
        headers: { authorization: BASIC, 'x-request-id': `e2e-pull-blob-${i}` },
      });
      assert.equal(res.status, 200);
      assert.equal(sha256(res.body), blob.digest);
      assert.equal(res.headers['x-request-id'], `e2e-pull-blob-${i}`);
      const line = await logged(peer!, `e2e-pull-blob-${i}`, 'request');
      assert.equal(line.status, 200);
      assert.equal(line.route, 'blob');
    }
    const refused = await request(`${peer!.url}/v2/ops/ids/blobs/uploads/${ns}`, { method: 'POST' });
    assert.equal(refused.status, 405);
    assert.match(String(refused.headers['x-request-id']), UUID);
    assert.equal(
      logLines(peer!).filter((line) => line.reqId === 'e2e-pull-manifest').length,
      1,
      'one line for the manifest request',
    );
  });

  it('never writes a credential to the log', () => {
    const output = peer!.daemon.output;
    assert.ok(
      logLines(peer!).some((line) => line.reqId !== undefined),
      'the log has request lines',
    );
    for (const secret of SECRETS) assert.ok(!output.includes(secret), `the log holds ${secret}`);
  });
});
