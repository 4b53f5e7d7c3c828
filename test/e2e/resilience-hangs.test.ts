import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readlink } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';

/**
 * One registry name per case, all at the same upstream: the endpoint remembers an unreachable
 * registry for a few seconds, and each case must meet the upstream itself.
 */
const REGISTRIES = [
  'silent.invalid:5000',
  'token.invalid:5000',
  'drip.invalid:5000',
  'through.invalid:5000',
] as const;
type Registry = (typeof REGISTRIES)[number];
const KiB = 1024;

/**
 * What the upstream does with blob requests:
 * - `silent`: reads the request and never answers;
 * - `token-hang`: asks for a Bearer token at a token endpoint that never answers;
 * - `drip`: answers 200 with the blob's length and then sends one byte a second;
 * - `missing`: answers 404 with an OCI error, as a registry does for a blob it does not have.
 */
type Behaviour = 'silent' | 'token-hang' | 'drip' | 'missing';

/** A malicious upstream registry: a small HTTP server that misbehaves in one of the ways above. */
class HostileUpstream {
  behaviour: Behaviour = 'silent';
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #blobs = new Map<string, Buffer>();

  constructor() {
    this.#server = createServer((request, response) => this.#answer(request, response));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
  }

  get url(): string {
    const address = this.#server.address();
    if (address === null || typeof address === 'string') throw new Error('not listening');
    return `http://127.0.0.1:${address.port}`;
  }

  /** A new blob, under its digest: each test asks for its own (the endpoint remembers outcomes per digest). */
  addBlob(size: number): string {
    const blob = randomBytes(size);
    const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
    this.#blobs.set(digest, blob);
    return digest;
  }

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    for (const timer of this.#timers) clearInterval(timer);
    for (const socket of this.#sockets) socket.destroy();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #answer(request: IncomingMessage, response: ServerResponse): void {
    if (request.url?.startsWith('/token')) return; // never answers
    if (this.behaviour === 'silent') return;
    if (this.behaviour === 'token-hang') {
      response.writeHead(401, {
        'www-authenticate': `Bearer realm="${this.url}/token",service="hostile",scope="repository:hangs/app:pull"`,
        'content-type': 'application/json',
      });
      response.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    if (this.behaviour === 'missing') {
      response.writeHead(404, { 'content-type': 'application/json' });
      response.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry (hostile)"}]}');
      return;
    }
    const blob = this.#blobs.get(request.url?.split('/blobs/')[1]?.split('?')[0] ?? '');
    if (!blob) {
      response.writeHead(404).end();
      return;
    }
    // Range requests are ignored: the whole blob, a byte at a time.
    response.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(blob.length),
    });
    let sent = 0;
    const timer = setInterval(() => {
      if (sent >= blob.length || response.destroyed) {
        clearInterval(timer);
        return;
      }
      response.write(blob.subarray(sent, sent + 1));
      sent++;
    }, 1000);
    this.#timers.add(timer);
  }
}

/** Descriptors the process holds open on files under `dir`. */
async function openFilesUnder(pid: number, dir: string): Promise<string[]> {
  const open: string[] = [];
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    if (target.startsWith(dir)) open.push(target);
  }
  return open;
}

/** Log lines may come a moment after the client saw the end of its response. */
async function waitForOutput(peer: RunningPeer, pattern: RegExp): Promise<void> {
  for (let i = 0; i < 40 && !pattern.test(peer.daemon.output); i++) await sleep(50);
  assert.match(peer.daemon.output, pattern);
}

interface Outcome {
  /** 0: the connection closed before any answer */
  status: number;
  /** The whole body arrived (false: the response was cut off). */
  complete: boolean;
  body: string;
  seconds: number;
}

async function getBlob(peer: RunningPeer, registry: Registry, digest: string): Promise<Outcome> {
  const started = performance.now();
  // The test's own bound: far above what the peer may take, far below a hang.
  const response = await fetch(`${peer.url}/v2/hangs/app/blobs/${digest}?ns=${registry}`, {
    signal: AbortSignal.timeout(90_000),
  }).catch((error: Error) => {
    if (error.name === 'TimeoutError') throw error;
    return undefined;
  });
  if (!response)
    return { status: 0, complete: false, body: '', seconds: (performance.now() - started) / 1000 };
  let body = '';
  let complete = true;
  try {
    body = Buffer.from(await response.arrayBuffer()).toString('utf8', 0, 500);
  } catch {
    complete = false;
  }
  return { status: response.status, complete, body, seconds: (performance.now() - started) / 1000 };
}

describe('an upstream that hangs or crawls', { timeout: 300_000 }, () => {
  const upstream = new HostileUpstream();
  let peer: RunningPeer | undefined;

  before(async () => {
    await upstream.start();
    peer = await startPeer({
      endpoints: Object.fromEntries(REGISTRIES.map((registry) => [registry, upstream.url])),
      extraArgs: [
        ...['--upstream-timeout', '3s', '--origin-stall-timeout', '3s', '--log-level', 'info'],
        // A blob over 0.9 MiB does not fit: it is streamed through, uncached.
        ...['--cache-size', '1MiB'],
      ],
    });
  });

  after(async () => {
    await peer?.stop();
    await upstream.stop();
  });

  // Unreachable for the endpoint: 502, or 503 when it could not even check the client's access.
  it('never sending headers: the client gets an error within the upstream timeout', async () => {
    upstream.behaviour = 'silent';
    const outcome = await getBlob(peer!, 'silent.invalid:5000', upstream.addBlob(KiB));
    assert.ok(outcome.status === 502 || outcome.status === 503, `${outcome.status}: ${outcome.body}`);
    assert.match(outcome.body, /no answer within 3 s/);
    assert.ok(outcome.seconds < 10, `answered after ${outcome.seconds} s`);
  });

  it('a token endpoint that never answers: the client gets an error within the upstream timeout', async () => {
    upstream.behaviour = 'token-hang';
    const outcome = await getBlob(peer!, 'token.invalid:5000', upstream.addBlob(KiB));
    assert.ok(outcome.status === 502 || outcome.status === 503, `${outcome.status}: ${outcome.body}`);
    assert.match(outcome.body, /no answer within 3 s/);
    assert.ok(outcome.seconds < 10, `answered after ${outcome.seconds} s`);
  });

  it('one byte a second: the download is given up, its files closed; a later 404 reaches the client as such', async () => {
    upstream.behaviour = 'drip';
    const digest = upstream.addBlob(256 * KiB);
    const outcome = await getBlob(peer!, 'drip.invalid:5000', digest);
    assert.ok(outcome.seconds < 20, `held the client ${outcome.seconds} s`);
    // Never a clean end of a short body: an error status, or a cut-off response.
    assert.ok(
      outcome.status >= 500 || !outcome.complete,
      `status ${outcome.status}, complete ${outcome.complete}`,
    );
    await waitForOutput(peer!, /the origin sent less than 65536 bytes in 3 s/);

    // The failed download keeps no file open (its partial stays on disk, closed, for a resume).
    let open: string[] = [];
    for (let i = 0; i < 20; i++) {
      open = await openFilesUnder(peer!.daemon.pid, peer!.dataDir);
      if (open.length === 0) break;
      await sleep(250);
    }
    assert.deepEqual(open, []);

    // The blob is gone upstream now: the client gets the upstream's own 404, not an empty reply.
    upstream.behaviour = 'missing';
    const missing = await getBlob(peer!, 'drip.invalid:5000', digest);
    assert.equal(missing.status, 404, missing.body);
    assert.match(missing.body, /BLOB_UNKNOWN/);
    assert.equal(peer!.daemon.child.exitCode, null, 'the daemon is still running');
  });

  it('one byte a second to a blob streamed through uncached: the response is cut off within the stall timeout', async () => {
    upstream.behaviour = 'drip';
    const outcome = await getBlob(peer!, 'through.invalid:5000', upstream.addBlob(2 * 1024 * KiB));
    assert.ok(outcome.seconds < 20, `held the client ${outcome.seconds} s`);
    assert.ok(!outcome.complete, `status ${outcome.status}: a crawling body is never ended cleanly`);
    await waitForOutput(peer!, /streamed-through blob cut off/);
  });
});
