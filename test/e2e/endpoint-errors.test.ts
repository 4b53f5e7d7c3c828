import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { freePort } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { rawExchange, type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';

const UNREACHABLE = 'registry.invalid:5000';
const DOWN = 'down.invalid:5000';

/** Asserts a distribution-spec error answer: status, JSON content type and `{"errors":[{code,message}]}`. */
function assertOciError(res: StreamedResponse, status: number, code?: string, what = ''): void {
  const label = `${what} -> ${res.status} ${res.body?.toString('utf8').slice(0, 300)}`;
  assert.equal(res.error, undefined, `${label}: ${res.error?.message}`);
  assert.equal(res.status, status, label);
  assert.equal(res.complete, true, label);
  assert.match(String(res.headers['content-type']), /^application\/json/, label);
  const body = JSON.parse(res.body!.toString('utf8')) as { errors?: { code?: unknown; message?: unknown }[] };
  assert.ok(Array.isArray(body.errors) && body.errors.length > 0, label);
  for (const error of body.errors) {
    assert.equal(typeof error.code, 'string', label);
    assert.equal(typeof error.message, 'string', label);
  }
  if (code !== undefined) assert.equal(body.errors[0]!.code, code, label);
}

describe('the endpoint refuses hostile and malformed requests and stays up', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;

  const get = (path: string, opts: { method?: string; headers?: Record<string, string> } = {}) =>
    streamGet({ host: peer!.host, path }, { ...opts, keepBody: true, timeoutMs: 30_000 });

  before(async () => {
    registry = await startRegistry();
    const reg = registry;
    const [small, downPort] = await Promise.all([smallImage('errors'), freePort()]);
    image = small;
    await pushImage(reg.url, 'errors/small', 'v1', small);
    peer = await startPeer({
      defaultRegistry: UNREACHABLE,
      // DOWN maps to a port nobody listens on.
      endpoints: { [UNREACHABLE]: reg.url, [DOWN]: `http://127.0.0.1:${downPort}` },
    });
  });

  afterEach(async () => {
    // Whatever a test sent, the daemon is alive and answers.
    assert.equal(peer!.daemon.hasExited, false, `peer exited:\n${peer!.daemon.output}`);
    assert.equal((await request(`${peer!.adminUrl}/healthz`)).status, 200);
  });

  after(async () => {
    await peer?.stop();
    await registry?.stop();
  });

  it('rejects invalid repository names with NAME_INVALID', async () => {
    for (const path of [
      '/v2/Errors/small/manifests/v1',
      '/v2/errors/SMALL/blobs/sha256:' + 'a'.repeat(64),
      '/v2/errors/../small/manifests/v1',
      '/v2/errors/%2e%2e/small/manifests/v1',
      '/v2/errors//small/manifests/v1',
      '/v2/_errors/small/manifests/v1',
      `/v2/${'n'.repeat(300)}/manifests/v1`,
      `/v2/${'n/'.repeat(1500)}x/manifests/v1`,
    ]) {
      assertOciError(await get(path), 400, 'NAME_INVALID', path.slice(0, 80));
    }
  });

  it('rejects invalid digests with DIGEST_INVALID', async () => {
    for (const path of [
      `/v2/errors/small/blobs/sha512:${'a'.repeat(128)}`,
      `/v2/errors/small/manifests/sha512:${'a'.repeat(128)}`,
      '/v2/errors/small/blobs/sha256:abc123',
      `/v2/errors/small/blobs/sha256:${'g'.repeat(64)}`,
      `/v2/errors/small/blobs/sha256:${'A'.repeat(64)}`,
      '/v2/errors/small/blobs/latest',
      '/v2/errors/small/blobs/%00%01garbage',
      `/v2/errors/small/manifests/sha256:${'a'.repeat(65)}`,
    ]) {
      assertOciError(await get(path), 400, 'DIGEST_INVALID', path.slice(0, 80));
    }
  });

  it('rejects invalid tags with TAG_INVALID', async () => {
    for (const path of [
      '/v2/errors/small/manifests/-v1',
      '/v2/errors/small/manifests/.v1',
      `/v2/errors/small/manifests/${'t'.repeat(129)}`,
      '/v2/errors/small/manifests/v1%20latest',
      '/v2/errors/small/manifests/v1%3Bx',
    ]) {
      assertOciError(await get(path), 400, 'TAG_INVALID', path);
    }
  });

  for (const where of ['stored', 'not yet local']) {
    it(`rejects malformed (400) and unsatisfiable (416) ranges of a ${where} blob`, async () => {
      const blob = image.blobs[where === 'stored' ? 1 : 2]!;
      const path = `/v2/errors/small/blobs/${blob.digest}`;
      if (where === 'stored') {
        const whole = await get(path);
        assert.equal(whole.status, 200);
        assert.equal(whole.digest, blob.digest);
      }
      for (const range of [
        'bytes=abc',
        'bytes=5-2',
        'bytes=0-1,4-5',
        'bytes=0-99,50-149',
        'pages=0-1',
        'bytes=-',
      ]) {
        assertOciError(await get(path, { headers: { range } }), 400, 'RANGE_INVALID', range);
      }
      for (const range of [`bytes=${blob.size}-`, `bytes=${blob.size + 10}-${blob.size + 20}`, 'bytes=-0']) {
        const res = await get(path, { headers: { range } });
        assertOciError(res, 416, 'RANGE_INVALID', range);
        assert.equal(res.headers['content-range'], `bytes */${blob.size}`, range);
      }
      // A valid range still works after all that.
      const tail = await get(path, { headers: { range: `bytes=${blob.size - 10}-` } });
      assert.equal(tail.status, 206);
      assert.equal(tail.bytes, 10);
      assert.equal(tail.headers['content-range'], `bytes ${blob.size - 10}-${blob.size - 1}/${blob.size}`);
    });
  }

  it('answers 431 to oversized request headers', async () => {
    const big = 'x'.repeat(64 * 1024);
    const answer = await rawExchange(
      peer!.host,
      `GET /v2/errors/small/manifests/v1 HTTP/1.1\r\nHost: ${peer!.host}\r\nX-Padding: ${big}\r\n\r\n`,
    );
    assert.match(answer, /^HTTP\/1\.1 431 /);
    const [head, body] = answer.split('\r\n\r\n') as [string, string];
    assert.match(head, /^content-type: application\/json$/im);
    const parsed = JSON.parse(body) as { errors: { code: string; message: string }[] };
    assert.equal(typeof parsed.errors[0]!.code, 'string');
    assert.equal(typeof parsed.errors[0]!.message, 'string');

    // Many headers that add up past the limit are refused the same way.
    const many = Array.from({ length: 2000 }, (_, i) => `X-H${i}: ${'v'.repeat(30)}\r\n`).join('');
    const answer2 = await rawExchange(peer!.host, `GET /v2/ HTTP/1.1\r\nHost: x\r\n${many}\r\n`);
    assert.match(answer2, /^HTTP\/1\.1 431 /);
  });

  it('answers 400 to requests that are not HTTP', async () => {
    const answer = await rawExchange(peer!.host, 'HELLO THERE\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"errors":\[\{"code":/);
  });

  it('refuses write methods with 405 on every path', async () => {
    const paths = [
      '/v2/',
      '/v2/errors/small/manifests/v1',
      `/v2/errors/small/manifests/${image.digest}`,
      `/v2/errors/small/blobs/${image.blobs[0]!.digest}`,
      '/v2/errors/small/blobs/uploads/',
      '/v2/errors/small/blobs/uploads/some-session-id',
      '/v2/errors/small/tags/list',
      '/somewhere/else',
    ];
    for (const method of ['PUT', 'POST', 'PATCH', 'DELETE']) {
      for (const path of paths) {
        const res = await get(path, { method });
        assertOciError(res, 405, 'UNSUPPORTED', `${method} ${path}`);
        assert.match(String(res.headers.allow), /GET/, `${method} ${path}`);
      }
    }
    // Nothing was written upstream: the tag still points at the pushed manifest.
    const check = await request(`${registry!.url}/v2/errors/small/manifests/v1`, {
      headers: { accept: image.mediaType },
    });
    assert.equal(check.headers['docker-content-digest'], image.digest);
  });

  it('answers 404 to paths that are not API routes', async () => {
    for (const path of [
      '/',
      '/v1/_ping',
      '/v2/errors/small',
      '/v2/errors/small/manifests',
      '/v2/errors/small/tags/all',
      '/v2/errors/small/blobs/uploads/',
      '/metrics',
    ]) {
      assertOciError(await get(path), 404, undefined, path);
    }
  });

  it('rejects a garbage ns parameter with 400', async () => {
    for (const ns of [
      'not a host',
      'a/b',
      '\u0000',
      'host:port',
      `${'x'.repeat(64)}.example`,
      `${'x.'.repeat(130)}example`,
      'registry.example:99999',
      'registry.example:0',
      '-registry.example',
      'http://registry.example',
    ]) {
      const path = `/v2/errors/small/manifests/v1?ns=${encodeURIComponent(ns)}`;
      assertOciError(await get(path), 400, 'NAME_INVALID', `ns=${ns.slice(0, 40)}`);
    }
    // The ns of a mapped registry works, and an empty one means the default registry.
    for (const ns of [UNREACHABLE, '']) {
      const res = await get(`/v2/errors/small/manifests/v1?ns=${encodeURIComponent(ns)}`, {
        headers: { accept: image.mediaType },
      });
      assert.equal(res.status, 200, `ns=${ns}`);
      assert.deepEqual(res.body, image.bytes);
    }
  });

  it('relays upstream 404 answers for unknown repositories, tags and blobs', async () => {
    const unknownDigest = `sha256:${'0'.repeat(64)}`;
    for (const path of [
      '/v2/errors/nothing-here/manifests/v1',
      '/v2/errors/small/manifests/no-such-tag',
      `/v2/errors/small/manifests/${unknownDigest}`,
      `/v2/errors/small/blobs/${unknownDigest}`,
      `/v2/errors/nothing-here/blobs/${image.blobs[0]!.digest}`,
    ]) {
      const direct = await request(`${registry!.url}${path}`);
      assert.equal(direct.status, 404, `the registry itself answers 404 to ${path}`);
      const res = await get(path);
      assertOciError(res, 404, undefined, path);
      assert.deepEqual(
        JSON.parse(res.body!.toString('utf8')),
        JSON.parse(direct.body.toString('utf8')),
        `relayed error body of ${path}`,
      );
      const head = await get(path, { method: 'HEAD' });
      assert.equal(head.status, 404, `HEAD ${path}`);
      assert.equal(head.bytes, 0, `HEAD ${path}`);
    }
    assert.equal(await peer!.metric('shoal_active_tasks'), 0);
  });

  it('answers OCI 1.1 referrers as upstream does: distribution 2.8 has no such API, its 404 relayed as given', async () => {
    for (const path of [
      `/v2/errors/small/referrers/${image.digest}`,
      `/v2/errors/small/referrers/${image.digest}?artifactType=application%2Fspdx%2Bjson`,
    ]) {
      const direct = await request(`${registry!.url}${path}`);
      assert.equal(direct.status, 404, `distribution 2.8 answers ${path} with 404`);
      const res = await get(path);
      assert.equal(res.status, 404, path);
      assert.equal(
        res.body!.toString('utf8'),
        direct.body.toString('utf8'),
        `the body of ${path} as upstream gave it`,
      );
    }
    // Through the endpoint as well, a subject that is no digest is the client's error.
    assertOciError(await get('/v2/errors/small/referrers/v1'), 400, 'DIGEST_INVALID', 'referrers of a tag');
  });

  it('answers 503 when the upstream cannot be reached', async () => {
    const res = await get(`/v2/errors/small/manifests/v1?ns=${DOWN}`);
    assertOciError(res, 503, undefined, 'manifest of an unreachable upstream');
  });

  it('still serves a normal pull after all of the above', async () => {
    const manifest = await get('/v2/errors/small/manifests/v1', { headers: { accept: image.mediaType } });
    assert.equal(manifest.status, 200);
    assert.deepEqual(manifest.body, image.bytes);
    for (const blob of image.blobs) {
      const res = await get(`/v2/errors/small/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      assert.equal(res.digest, blob.digest);
    }
  });
});
