import assert from 'node:assert/strict';
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { sha256Digest } from '../src/digest.ts';
import { OciError, UpstreamUnavailableError } from '../src/errors.ts';
import { DEFAULT_MANIFEST_ACCEPT } from '../src/media-types.ts';
import { RegistryClient, type Upstream } from '../src/registry-client.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

interface Recorded {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

/** A plain node:http server whose behaviour each test sets, recording the requests it sees. */
class FakeRegistry {
  readonly server: Server;
  readonly requests: Recorded[] = [];
  handler: Handler = (_req, res) => {
    res.statusCode = 404;
    res.end();
  };
  url = '';

  constructor() {
    this.server = createServer((req, res) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
      Promise.resolve(this.handler(req, res)).catch((error: unknown) => res.destroy(error as Error));
    });
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.requests.length = 0;
    this.handler = (_req, res) => {
      res.statusCode = 404;
      res.end();
    };
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

async function text(body: AsyncIterable<unknown>): Promise<string> {
  let out = '';
  for await (const chunk of body) out += String(chunk);
  return out;
}

const DIGEST = sha256Digest('blob');
const REPO = 'team/app';

describe('RegistryClient', () => {
  const origin = new FakeRegistry();
  const storage = new FakeRegistry();
  let up: Upstream;
  const clients: RegistryClient[] = [];

  function client(options: ConstructorParameters<typeof RegistryClient>[0] = {}): RegistryClient {
    const c = new RegistryClient({
      retryBaseDelayMs: 1,
      headersTimeoutMs: 2_000,
      bodyTimeoutMs: 2_000,
      ...options,
    });
    clients.push(c);
    return c;
  }

  before(async () => {
    await origin.start();
    await storage.start();
    up = { registry: 'registry.test', url: origin.url };
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    origin.reset();
    storage.reset();
  });
  after(async () => {
    await origin.stop();
    await storage.stop();
  });

  it('retries 503 and returns the first success', async () => {
    let calls = 0;
    origin.handler = (_req, res) => {
      calls++;
      if (calls <= 2) {
        res.statusCode = 503;
        res.end('busy');
        return;
      }
      res.setHeader('content-type', 'application/octet-stream');
      res.end('blob');
    };
    const res = await client({ maxRetries: 3 }).getBlob(up, REPO, DIGEST);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'blob');
    assert.equal(origin.requests.length, 3);
    assert.equal(origin.requests[0]?.url, `/v2/${REPO}/blobs/${DIGEST}`);
    assert.match(origin.requests[0]?.headers['user-agent'] ?? '', /^shoal\//);
  });

  it('returns the last 5xx with its body once retries are exhausted; 501 and 404 are not retried', async () => {
    origin.handler = (req, res) => {
      res.statusCode = req.url?.includes('tags') ? 501 : 502;
      res.end(`status ${res.statusCode}`);
    };
    const c = client({ maxRetries: 2 });
    const res = await c.getBlob(up, REPO, DIGEST);
    assert.equal(res.status, 502);
    assert.equal(await text(res.body), 'status 502');
    assert.equal(origin.requests.length, 3);

    origin.requests.length = 0;
    const tags = await c.getTags(up, REPO, '');
    assert.equal(tags.status, 501);
    await text(tags.body);
    assert.equal(origin.requests.length, 1);

    origin.reset();
    origin.handler = (_req, res) => {
      res.statusCode = 404;
      res.setHeader('content-type', 'application/json');
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN"}]}');
    };
    const missing = await c.getManifest(up, REPO, 'v1');
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['content-type'], 'application/json');
    assert.match(await text(missing.body), /MANIFEST_UNKNOWN/);
    assert.equal(origin.requests.length, 1);
  });

  it('retries 429 and connection resets', async () => {
    let calls = 0;
    origin.handler = (req, res) => {
      calls++;
      if (calls === 1) {
        req.socket.destroy();
        return;
      }
      if (calls === 2) {
        res.statusCode = 429;
        res.setHeader('retry-after', '0');
        res.end();
        return;
      }
      res.end('ok');
    };
    const res = await client().ping(up);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'ok');
    assert.equal(calls, 3);
  });

  it('throws UpstreamUnavailableError after retries when nothing listens, without credentials in the message', async () => {
    const closed = new FakeRegistry();
    await closed.start();
    const deadUrl = closed.url;
    await closed.stop();
    const c = client({ maxRetries: 2, credentials: () => ({ username: 'user', password: 'hunter2' }) });
    await assert.rejects(
      c.getManifest({ registry: 'dead.test', url: deadUrl }, REPO, 'latest', {
        authorization: 'Bearer secret-token',
      }),
      (error: unknown) => {
        assert.ok(error instanceof UpstreamUnavailableError);
        assert.match(error.message, /connection refused \(ECONNREFUSED\), after 3 attempts/);
        assert.equal(error.kind, 'refused');
        assert.match(error.message, /ECONNREFUSED/);
        assert.doesNotMatch(error.message, /hunter2|secret-token/);
        return true;
      },
    );
  });

  it('relays the 401 when the caller passes its own Authorization, without a token dance', async () => {
    origin.handler = (req, res) => {
      if (req.url?.startsWith('/token')) {
        res.end('{"token":"ours"}');
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="${origin.url}/token",service="test"`);
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
    };
    const c = client({ credentials: () => ({ username: 'u', password: 'p' }) });
    const res = await c.getManifest(up, REPO, 'latest', { authorization: 'Bearer client-token' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['www-authenticate'], `Bearer realm="${origin.url}/token",service="test"`);
    assert.match(await text(res.body), /UNAUTHORIZED/);
    assert.deepEqual(
      origin.requests.map((r) => [r.url, r.headers.authorization]),
      [[`/v2/${REPO}/manifests/latest`, 'Bearer client-token']],
    );
    assert.equal(origin.requests[0]?.headers.accept, DEFAULT_MANIFEST_ACCEPT);
  });

  it('does the Bearer token dance with Basic credentials at the realm and reuses the cached token', async () => {
    let issued = 0;
    origin.handler = (req, res) => {
      const url = new URL(req.url ?? '/', origin.url);
      if (url.pathname === '/token') {
        issued++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ token: `tok-${issued}`, expires_in: 300 }));
        return;
      }
      if (req.headers.authorization === 'Bearer tok-1') {
        res.end(`content of ${url.pathname}`);
        return;
      }
      res.statusCode = 401;
      res.setHeader(
        'www-authenticate',
        `Bearer realm="${origin.url}/token",service="registry.test",scope="repository:${REPO}:pull"`,
      );
      res.end();
    };
    const c = client({
      credentials: (registry) =>
        registry === 'registry.test' ? { username: 'alice', password: 's3cret' } : undefined,
    });

    const first = await c.getManifest(up, REPO, 'latest');
    assert.equal(first.status, 200);
    assert.equal(await text(first.body), `content of /v2/${REPO}/manifests/latest`);
    assert.equal(origin.requests.length, 3);
    const [anonymous, tokenRequest, retried] = origin.requests;
    assert.equal(anonymous?.headers.authorization, undefined);
    const tokenUrl = new URL(tokenRequest?.url ?? '', origin.url);
    assert.equal(tokenUrl.pathname, '/token');
    assert.equal(tokenUrl.searchParams.get('service'), 'registry.test');
    assert.deepEqual(tokenUrl.searchParams.getAll('scope'), [`repository:${REPO}:pull`]);
    assert.equal(
      tokenRequest?.headers.authorization,
      `Basic ${Buffer.from('alice:s3cret').toString('base64')}`,
    );
    assert.equal(retried?.headers.authorization, 'Bearer tok-1');

    origin.requests.length = 0;
    const blob = await c.getBlob(up, REPO, DIGEST);
    assert.equal(blob.status, 200);
    await text(blob.body);
    assert.deepEqual(
      origin.requests.map((r) => [r.url, r.headers.authorization]),
      [[`/v2/${REPO}/blobs/${DIGEST}`, 'Bearer tok-1']],
    );
    assert.equal(issued, 1);
  });

  it('accepts access_token, sends no credentials to the realm without any, and returns 401 when the realm refuses', async () => {
    let realmRefuses = false;
    origin.handler = (req, res) => {
      const url = new URL(req.url ?? '/', origin.url);
      if (url.pathname === '/token') {
        if (realmRefuses) {
          res.statusCode = 401;
          res.end();
          return;
        }
        res.end(JSON.stringify({ access_token: 'acc' }));
        return;
      }
      if (req.headers.authorization === 'Bearer acc') {
        res.end('ok');
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="${origin.url}/token",service="svc"`);
      res.end('denied');
    };
    const c = client();
    const res = await c.ping(up);
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(origin.requests[1]?.headers.authorization, undefined);
    assert.equal(new URL(origin.requests[1]?.url ?? '', origin.url).searchParams.has('scope'), false);

    realmRefuses = true;
    const other = client();
    const refused = await other.getManifest(up, 'other/repo', 'latest');
    assert.equal(refused.status, 401);
    assert.equal(await text(refused.body), 'denied');
  });

  it('retries with Basic on a Basic challenge when credentials are configured, then sends it up front', async () => {
    const expected = `Basic ${Buffer.from('bob:pw').toString('base64')}`;
    origin.handler = (req, res) => {
      if (req.headers.authorization === expected) {
        res.end('ok');
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', 'Basic realm="Registry Realm"');
      res.end();
    };
    const c = client({ credentials: () => ({ username: 'bob', password: 'pw' }) });
    const first = await c.getManifest(up, REPO, 'latest');
    assert.equal(first.status, 200);
    await text(first.body);
    assert.deepEqual(
      origin.requests.map((r) => r.headers.authorization),
      [undefined, expected],
    );
    origin.requests.length = 0;
    const second = await c.getManifest(up, REPO, 'v2');
    await text(second.body);
    assert.deepEqual(
      origin.requests.map((r) => r.headers.authorization),
      [expected],
    );

    const anonymous = client();
    const refused = await anonymous.getManifest(up, REPO, 'latest');
    assert.equal(refused.status, 401);
    await text(refused.body);
  });

  it('follows redirects, dropping Authorization when the origin changes', async () => {
    origin.handler = (req, res) => {
      if (req.url?.startsWith('/v2/')) {
        res.statusCode = 307;
        res.setHeader('location', '/same-origin-hop');
        res.end();
        return;
      }
      res.statusCode = 302;
      res.setHeader('location', `${storage.url}/bucket/blob?X-Signature=abc`);
      res.end();
    };
    storage.handler = (_req, res) => {
      res.end('from storage');
    };
    const res = await client().getBlob(up, REPO, DIGEST, { authorization: 'Bearer client-token' });
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'from storage');
    assert.deepEqual(
      origin.requests.map((r) => [r.url, r.headers.authorization]),
      [
        [`/v2/${REPO}/blobs/${DIGEST}`, 'Bearer client-token'],
        ['/same-origin-hop', 'Bearer client-token'],
      ],
    );
    assert.equal(storage.requests.length, 1);
    assert.equal(storage.requests[0]?.url, '/bucket/blob?X-Signature=abc');
    assert.equal(storage.requests[0]?.headers.authorization, undefined);
  });

  it('gives up after 5 redirects', async () => {
    origin.handler = (_req, res) => {
      res.statusCode = 302;
      res.setHeader('location', '/loop');
      res.end();
    };
    await assert.rejects(client().getBlob(up, REPO, DIGEST), (error: unknown) => {
      assert.ok(error instanceof UpstreamUnavailableError);
      assert.match(error.message, /redirects/);
      return true;
    });
    assert.equal(origin.requests.length, 6);
  });

  it('sends Range as bytes=start-end or start-', async () => {
    origin.handler = (req, res) => {
      res.statusCode = 206;
      res.setHeader('content-range', `${req.headers.range}/100`);
      res.end('partial');
    };
    const c = client();
    const closed = await c.getBlob(up, REPO, DIGEST, { range: { start: 10, end: 19 } });
    assert.equal(closed.status, 206);
    assert.equal(await text(closed.body), 'partial');
    const open = await c.getBlob(up, REPO, DIGEST, { range: { start: 5 } });
    await text(open.body);
    assert.deepEqual(
      origin.requests.map((r) => r.headers.range),
      ['bytes=10-19', 'bytes=5-'],
    );
    await assert.rejects(c.getBlob(up, REPO, DIGEST, { range: { start: 5, end: 4 } }), (error: unknown) => {
      return error instanceof OciError && error.code === 'RANGE_INVALID';
    });
  });

  it('streams the body: the first bytes arrive before the upstream has finished', async () => {
    const { promise: released, resolve: release } = Promise.withResolvers<void>();
    origin.handler = async (_req, res) => {
      res.setHeader('content-length', String(2 * 65_536));
      res.write(Buffer.alloc(65_536, 'a'));
      await released;
      res.end(Buffer.alloc(65_536, 'b'));
    };
    const res = await client().getBlob(up, REPO, DIGEST);
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-length'], String(2 * 65_536));
    const iterator = res.body[Symbol.asyncIterator]();
    const first = await iterator.next();
    assert.equal(first.done, false);
    assert.equal((first.value as Buffer)[0], 'a'.charCodeAt(0));
    release();
    let total = (first.value as Buffer).byteLength;
    let last = 0;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
      total += (next.value as Buffer).byteLength;
      last = (next.value as Buffer).at(-1) ?? 0;
    }
    assert.equal(total, 2 * 65_536);
    assert.equal(last, 'b'.charCodeAt(0));
  });

  it('HEAD, tags query and input validation', async () => {
    origin.handler = (req, res) => {
      res.setHeader('docker-content-digest', DIGEST);
      res.end(req.method === 'HEAD' ? undefined : '{"tags":[]}');
    };
    const c = client();
    const head = await c.headManifest(up, REPO, DIGEST, {
      accept: 'application/vnd.oci.image.manifest.v1+json',
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], DIGEST);
    await text(head.body);
    const tags = await c.getTags(up, REPO, 'n=10&last=v1');
    assert.equal(await text(tags.body), '{"tags":[]}');
    assert.deepEqual(
      origin.requests.map((r) => [r.method, r.url, r.headers.accept]),
      [
        ['HEAD', `/v2/${REPO}/manifests/${DIGEST}`, 'application/vnd.oci.image.manifest.v1+json'],
        ['GET', `/v2/${REPO}/tags/list?n=10&last=v1`, undefined],
      ],
    );
    const code = (expected: string) => (error: unknown) =>
      error instanceof OciError && error.code === expected;
    await assert.rejects(c.getManifest(up, '../x', 'latest'), code('NAME_INVALID'));
    await assert.rejects(c.getManifest(up, REPO, 'bad tag'), code('TAG_INVALID'));
    await assert.rejects(c.getBlob(up, REPO, 'sha256:nope'), code('DIGEST_INVALID'));
    assert.equal(origin.requests.length, 2);
  });

  it('names the registry with ?ns= on every request to a mirror', async () => {
    origin.handler = (_req, res) => {
      res.end('{}');
    };
    const c = client();
    const mirror: Upstream = { registry: 'registry.test:5000', url: origin.url, viaMirror: true };
    await text((await c.getManifest(mirror, REPO, 'v1')).body);
    await text((await c.getBlob(mirror, REPO, DIGEST)).body);
    await text((await c.getTags(mirror, REPO, 'n=1')).body);
    assert.deepEqual(
      origin.requests.map((r) => r.url),
      [
        `/v2/${REPO}/manifests/v1?ns=registry.test%3A5000`,
        `/v2/${REPO}/blobs/${DIGEST}?ns=registry.test%3A5000`,
        `/v2/${REPO}/tags/list?n=1&ns=registry.test%3A5000`,
      ],
    );
  });

  it('retries a request whose headers time out', async () => {
    let calls = 0;
    origin.handler = (_req, res) => {
      calls++;
      if (calls === 1) return; // never answers
      res.end('late but fine');
    };
    const res = await client({ headersTimeoutMs: 100 }).getBlob(up, REPO, DIGEST);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'late but fine');
    assert.equal(calls, 2);
  });

  it('concurrent requests needing the same token share one token fetch', async () => {
    let issued = 0;
    origin.handler = async (req, res) => {
      if (req.url?.startsWith('/token')) {
        issued++;
        await new Promise((resolve) => setTimeout(resolve, 20));
        res.end(JSON.stringify({ token: 'shared' }));
        return;
      }
      if (req.headers.authorization === 'Bearer shared') {
        res.end('ok');
        return;
      }
      res.statusCode = 401;
      res.setHeader('www-authenticate', `Bearer realm="${origin.url}/token",scope="repository:${REPO}:pull"`);
      res.end();
    };
    const c = client();
    const responses = await Promise.all([1, 2, 3, 4].map(() => c.getBlob(up, REPO, DIGEST)));
    for (const res of responses) {
      assert.equal(res.status, 200);
      await text(res.body);
    }
    assert.equal(issued, 1);
  });

  it('stops at once when the caller aborts', async () => {
    origin.handler = (_req, res) => {
      res.statusCode = 503;
      res.end();
    };
    const controller = new AbortController();
    const pending = client({ retryBaseDelayMs: 10_000 }).getBlob(up, REPO, DIGEST, {
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(), 50);
    const started = Date.now();
    await assert.rejects(pending, (error: unknown) => error instanceof Error && error.name === 'AbortError');
    assert.ok(Date.now() - started < 1_000);
  });

  it('waits for an answer no longer than the answer timeout, retries included, then throws UpstreamUnavailableError', async () => {
    origin.handler = () => {}; // never answers
    const started = Date.now();
    await assert.rejects(
      client({ headersTimeoutMs: 200, answerTimeoutMs: 500 }).getBlob(up, REPO, DIGEST),
      (error: unknown) =>
        error instanceof UpstreamUnavailableError &&
        error.kind === 'timeout' &&
        /no answer within 0.5 s/.test(error.message),
    );
    assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
  });

  it('bounds a token endpoint that never answers by the answer timeout', async () => {
    origin.handler = (req, res) => {
      if (req.url?.startsWith('/token')) return; // never answers
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${origin.url}/token",service="test"` });
      res.end();
    };
    const started = Date.now();
    await assert.rejects(
      client({ answerTimeoutMs: 500 }).getBlob(up, REPO, DIGEST),
      (error: unknown) => error instanceof UpstreamUnavailableError && error.kind === 'timeout',
    );
    assert.ok(Date.now() - started < 1_500, `took ${Date.now() - started} ms`);
  });

  it('does not bound the body by the answer timeout', async () => {
    origin.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '2' });
      res.write('a');
      setTimeout(() => res.end('b'), 400);
    };
    const res = await client({ answerTimeoutMs: 200 }).getBlob(up, REPO, DIGEST);
    assert.equal(await text(res.body), 'ab');
  });
});
