import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { rssOf } from '../fixtures/memory.ts';
import { waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../fixtures/shoal.ts';
import { type StreamedResponse, streamGet } from '../fixtures/stream-get.ts';

const ORIGIN = 'registry.invalid:5000';
/** An upstream that holds every request until released. */
const STALLED = 'stalled.invalid:5000';
const REPO = 'hostile/clients';
const MAX_PER_CLIENT = 256;
const MiB = 1024 * 1024;

describe('the endpoint stays available to hostile HTTP clients', { timeout: 120_000 }, () => {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  let stalled: Server | undefined;
  let image: ImageDescription;
  let stalledRequests = 0;
  let releaseStalled: () => void = () => {};
  /** A slowloris started with the peer: it must be cut off after the headers timeout. */
  let loris:
    | { socket: Socket; timer: NodeJS.Timeout; closed: Promise<{ data: string; ms: number }> }
    | undefined;

  const get = (path: string, timeoutMs = 30_000): Promise<StreamedResponse> =>
    streamGet({ host: peer!.host, path }, { keepBody: true, timeoutMs });

  before(async () => {
    registry = await startRegistry();
    image = await smallImage('hostile-clients');
    await pushImage(registry.url, REPO, 'v1', image);
    const gate = { open: false, waiting: [] as (() => void)[] };
    releaseStalled = () => {
      gate.open = true;
      for (const go of gate.waiting.splice(0)) go();
    };
    stalled = createServer((req, res) => {
      stalledRequests++;
      const answer = () => {
        const body = JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'not here' }] });
        res.writeHead(req.url === '/v2/' ? 200 : 404, { 'content-type': 'application/json' });
        res.end(req.url === '/v2/' ? '{}' : body);
      };
      if (gate.open) answer();
      else gate.waiting.push(answer);
    });
    await new Promise<void>((resolve) => stalled!.listen(0, '127.0.0.1', resolve));
    const stalledPort = (stalled.address() as AddressInfo).port;
    peer = await startPeer({
      defaultRegistry: ORIGIN,
      endpoints: { [ORIGIN]: registry.url, [STALLED]: `http://127.0.0.1:${stalledPort}` },
    });
    {
      const started = performance.now();
      const socket = connect(Number(peer.host.split(':')[1]), '127.0.0.1');
      let data = '';
      socket.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1');
      });
      socket.on('error', () => {});
      const closed = new Promise<{ data: string; ms: number }>((resolve) =>
        socket.on('close', () => resolve({ data, ms: performance.now() - started })),
      );
      const text = `GET /v2/ HTTP/1.1\r\nhost: ${peer.host}\r\n${'x-slow: y\r\n'.repeat(1000)}`;
      let at = 0;
      const timer = setInterval(() => {
        if (socket.writable) socket.write(text[at++ % text.length]!);
      }, 500);
      loris = { socket, timer, closed };
    }
    // The manifest is cached, so by-digest requests are answered by the peer alone.
    const first = await get(`/v2/${REPO}/manifests/${image.digest}`);
    assert.equal(first.status, 200);
  });

  afterEach(async () => {
    assert.equal(peer!.daemon.hasExited, false, `peer exited:\n${peer!.daemon.output}`);
    assert.equal((await request(`${peer!.adminUrl}/healthz`)).status, 200);
    const rss = await rssOf(peer!.daemon.pid);
    assert.ok(rss < 400 * MiB, `peer RSS ${(rss / MiB).toFixed(0)} MiB`);
  });

  after(async () => {
    if (loris) {
      clearInterval(loris.timer);
      loris.socket.destroy();
    }
    releaseStalled();
    stalled?.closeAllConnections();
    await new Promise<void>((resolve) => (stalled ? stalled.close(() => resolve()) : resolve()));
    await peer?.stop();
    await registry?.stop();
  });

  it('slowloris clients dribbling request heads do not block other clients', async () => {
    const [host, port] = [peer!.host.split(':')[0]!, Number(peer!.host.split(':')[1])];
    const head = `GET /v2/${REPO}/manifests/${image.digest} HTTP/1.1\r\nhost: ${peer!.host}\r\n`;
    const sockets: Socket[] = [];
    for (let i = 0; i < 100; i++) {
      const socket = connect(port, host);
      socket.on('error', () => {});
      sockets.push(socket);
    }
    let sent = 0;
    const timer = setInterval(() => {
      for (const socket of sockets)
        if (socket.writable) socket.write(`${head}x-pad-${sent}: y\r\n`.slice(sent % 8, (sent % 8) + 1));
      sent++;
    }, 200);
    try {
      await sleep(500);
      for (let i = 0; i < 10; i++) {
        const started = performance.now();
        const [base, manifest] = await Promise.all([
          get('/v2/', 10_000),
          get(`/v2/${REPO}/manifests/${image.digest}`, 10_000),
        ]);
        assert.equal(base.status, 200);
        assert.equal(manifest.status, 200);
        assert.equal(manifest.digest, image.digest);
        assert.ok(performance.now() - started < 5_000);
      }
      assert.ok(
        sockets.every((socket) => !socket.destroyed),
        'the slow clients are still connected',
      );
    } finally {
      clearInterval(timer);
      for (const socket of sockets) socket.destroy();
    }
  });

  it('500 concurrent connections from one client are all answered', async () => {
    const path = `/v2/${REPO}/manifests/${image.digest}`;
    const answers = await Promise.all(Array.from({ length: 500 }, () => get(path, 60_000)));
    const statuses = new Map<number, number>();
    for (const answer of answers) {
      assert.equal(answer.error, undefined, answer.error?.message);
      assert.ok(answer.status === 200 || answer.status === 429, `status ${answer.status}`);
      if (answer.status === 200) assert.equal(answer.digest, image.digest);
      statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
    }
    // A request is refused only while MAX_PER_CLIENT others are in flight, and those succeed.
    assert.ok((statuses.get(200) ?? 0) >= MAX_PER_CLIENT, `answers: ${JSON.stringify([...statuses])}`);
  });

  it(`answers 429 TOOMANYREQUESTS beyond ${MAX_PER_CLIENT} requests in flight from one client`, async () => {
    const extra = 40;
    const all = Array.from({ length: MAX_PER_CLIENT + extra }, (_, i) =>
      get(`/v2/${REPO}/manifests/t${i}?ns=${STALLED}`, 60_000),
    );
    let refused = 0;
    for (const answer of all) {
      void answer.then((a) => {
        if (a.status === 429) refused++;
      });
    }
    await waitFor('the requests beyond the limit to be refused', async () => refused >= extra, {
      timeoutMs: 30_000,
    });
    // The refusals are answered at once; on a busy machine they can arrive before the first held request reaches upstream.
    await waitFor('the held requests to reach upstream', async () => stalledRequests > 0, {
      timeoutMs: 30_000,
    });
    // While the limit is reached, this client is refused, with the distribution error body.
    const more = await get('/v2/', 10_000);
    assert.equal(more.status, 429);
    assert.equal(more.headers['retry-after'], '1');
    const body = JSON.parse(more.body!.toString('utf8')) as { errors: { code: string }[] };
    assert.equal(body.errors[0]!.code, 'TOOMANYREQUESTS');
    releaseStalled();
    const answers = await Promise.all(all);
    const counts = { refused: 0, answered: 0 };
    for (const answer of answers) {
      assert.equal(answer.error, undefined, answer.error?.message);
      if (answer.status === 429) counts.refused++;
      else if (answer.status === 404) counts.answered++;
      else assert.fail(`unexpected ${answer.status} ${answer.body?.toString('utf8').slice(0, 200)}`);
    }
    assert.deepEqual(counts, { refused: extra, answered: MAX_PER_CLIENT });
    // The slots are free again.
    assert.equal((await get(`/v2/${REPO}/manifests/${image.digest}`)).status, 200);
  });

  it('drops a slowloris once the 30 s headers timeout has passed', async () => {
    const { data, ms } = await loris!.closed;
    assert.match(data, /^HTTP\/1\.1 408 /);
    assert.ok(ms > 29_000 && ms < 45_000, `dropped after ${(ms / 1000).toFixed(1)} s`);
  });
});
