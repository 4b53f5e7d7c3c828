import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpstreamResolver } from '@shoal/oci';
import { createLogger } from '@shoal/telemetry';
import type { EndpointContext } from '../src/endpoint/context.ts';
import {
  DEFAULT_HEADERS_TIMEOUT_MS,
  DEFAULT_MAX_REQUESTS,
  DEFAULT_MAX_REQUESTS_PER_CLIENT,
  type RegistryServer,
  startRegistryServer,
} from '../src/endpoint/registry-server.ts';

const LIMIT = 8;
const HEADERS_TIMEOUT_MS = 400;

/** An endpoint whose upstream holds every tags/list request until `release()`. */
function stalledContext() {
  let release!: () => void;
  let gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const counts = { upstreamCalls: 0, refused: 0 };
  const noop = () => {};
  const ctx = {
    upstreams: new UpstreamResolver({ endpoints: {}, defaultRegistry: 'registry.test:5000' }),
    client: {
      async getTags() {
        counts.upstreamCalls++;
        await gate;
        return {
          status: 200,
          headers: { 'content-type': 'application/json' },
          body: Readable.from([Buffer.from('{"name":"a","tags":[]}')]),
        };
      },
    },
    access: { registryChallenge: async () => undefined },
    metrics: {
      requests: {
        inc: (labels: { status: string }) => {
          if (labels.status === '429' || labels.status === '503') counts.refused++;
        },
      },
      requestDuration: { observe: noop },
    },
    logger: createLogger({ level: 'silent' }),
  } as unknown as EndpointContext;
  return {
    ctx,
    counts,
    release() {
      release();
      gate = new Promise<void>((resolve) => {
        release = resolve;
      });
    },
  };
}

function get(port: number, path: string, localAddress?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, agent: false, localAddress }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('timed out')));
    req.end();
  });
}

/** A raw connection; resolves with everything the server sent once it closes the connection. */
function rawConnection(port: number): { socket: Socket; closed: Promise<{ data: string; ms: number }> } {
  const started = performance.now();
  const socket = connect({ host: '127.0.0.1', port });
  let data = '';
  socket.on('data', (chunk: Buffer) => {
    data += chunk.toString('utf8');
  });
  const closed = new Promise<{ data: string; ms: number }>((resolve) => {
    socket.on('error', () => {});
    socket.on('close', () => resolve({ data, ms: performance.now() - started }));
  });
  return { socket, closed };
}

describe('registry server limits', { timeout: 30_000 }, () => {
  let server: RegistryServer;
  let port = 0;
  const stalled = stalledContext();

  before(async () => {
    server = await startRegistryServer(stalled.ctx, '127.0.0.1:0', {
      maxRequestsPerClient: LIMIT,
      headersTimeoutMs: HEADERS_TIMEOUT_MS,
    });
    port = (server.server.address() as AddressInfo).port;
  });

  after(async () => {
    stalled.release();
    await server.close();
  });

  it('has sensible defaults', () => {
    assert.equal(DEFAULT_MAX_REQUESTS_PER_CLIENT, 256);
    assert.equal(DEFAULT_MAX_REQUESTS, 1024);
    assert.equal(DEFAULT_HEADERS_TIMEOUT_MS, 30_000);
  });

  it('answers 429 TOOMANYREQUESTS beyond the in-flight limit of one client, and serves it again after', async () => {
    const held = Array.from({ length: LIMIT }, (_, i) => get(port, `/v2/a/tags/list?n=${i}`));
    while (stalled.counts.upstreamCalls < LIMIT) await sleep(10);
    const refused = await Promise.all(Array.from({ length: 5 }, () => get(port, '/v2/a/tags/list')));
    for (const answer of refused) {
      assert.equal(answer.status, 429);
      const body = JSON.parse(answer.body) as { errors: { code: string }[] };
      assert.equal(body.errors[0]!.code, 'TOOMANYREQUESTS');
    }
    assert.equal(stalled.counts.refused, 5);
    assert.equal(stalled.counts.upstreamCalls, LIMIT, 'refused requests never reach a handler');
    stalled.release();
    for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    // The slots are free again.
    const again = Array.from({ length: LIMIT }, () => get(port, '/v2/a/tags/list'));
    while (stalled.counts.upstreamCalls < 2 * LIMIT) await sleep(10);
    stalled.release();
    for (const answer of await Promise.all(again)) assert.equal(answer.status, 200);
  });

  it('counts a request as done when its client goes away', async () => {
    const before = stalled.counts.upstreamCalls;
    const sockets = Array.from({ length: LIMIT }, () => {
      const { socket } = rawConnection(port);
      socket.write('GET /v2/a/tags/list HTTP/1.1\r\nhost: x\r\n\r\n');
      return socket;
    });
    while (stalled.counts.upstreamCalls < before + LIMIT) await sleep(10);
    for (const socket of sockets) socket.destroy();
    await sleep(100);
    const next = get(port, '/v2/a/tags/list');
    while (stalled.counts.upstreamCalls < before + LIMIT + 1) await sleep(10);
    stalled.release();
    assert.equal((await next).status, 200);
  });

  it('drops a client that dribbles its request head, with 408, while others are served', async () => {
    const slow = rawConnection(port);
    const dribble = 'GET /v2/ HTTP/1.1\r\nhost: x\r\nx-slow: 1\r\n';
    let sent = 0;
    const timer = setInterval(() => {
      if (!slow.socket.writable) return;
      slow.socket.write(dribble[sent % dribble.length]!);
      sent++;
    }, 50);
    try {
      // Others are answered meanwhile.
      for (let i = 0; i < 3; i++) assert.equal((await get(port, '/v2/')).status, 200);
      const { data, ms } = await slow.closed;
      assert.match(data, /^HTTP\/1\.1 408 /);
      assert.ok(ms >= HEADERS_TIMEOUT_MS * 0.9, `dropped after ${ms.toFixed(0)} ms`);
      assert.ok(ms < HEADERS_TIMEOUT_MS * 3 + 500, `dropped after ${ms.toFixed(0)} ms`);
    } finally {
      clearInterval(timer);
      slow.socket.destroy();
    }
  });

  it('drops a connection that never sends anything', async () => {
    const idle = rawConnection(port);
    const { ms } = await idle.closed;
    assert.ok(ms < HEADERS_TIMEOUT_MS * 3 + 500, `dropped after ${ms.toFixed(0)} ms`);
  });
});

describe('registry server limit across clients', { timeout: 30_000 }, () => {
  const TOTAL = 6;
  let server: RegistryServer;
  let port = 0;
  const stalled = stalledContext();

  before(async () => {
    server = await startRegistryServer(stalled.ctx, '127.0.0.1:0', {
      maxRequests: TOTAL,
      maxRequestsPerClient: LIMIT,
    });
    port = (server.server.address() as AddressInfo).port;
  });

  after(async () => {
    stalled.release();
    await server.close();
  });

  it('answers 503 beyond the in-flight limit of all clients together, whatever their addresses', async () => {
    // Three addresses, two requests each: every one under its own limit, all of them at the total.
    const held = ['127.0.0.2', '127.0.0.3', '127.0.0.4'].flatMap((address) =>
      [0, 1].map(() => get(port, '/v2/a/tags/list', address)),
    );
    while (stalled.counts.upstreamCalls < TOTAL) await sleep(10);
    const refused = await get(port, '/v2/a/tags/list', '127.0.0.5');
    assert.equal(refused.status, 503);
    const body = JSON.parse(refused.body) as { errors: { code: string; message: string }[] };
    assert.equal(body.errors[0]!.code, 'UNAVAILABLE');
    assert.match(body.errors[0]!.message, /more than 6 requests in flight on this endpoint/);
    assert.equal(stalled.counts.upstreamCalls, TOTAL, 'the refused request never reached a handler');
    stalled.release();
    for (const answer of await Promise.all(held)) assert.equal(answer.status, 200);
    const again = get(port, '/v2/a/tags/list', '127.0.0.5');
    while (stalled.counts.upstreamCalls < TOTAL + 1) await sleep(10);
    stalled.release();
    assert.equal((await again).status, 200);
  });
});
