import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, pngContent, pngSize, strictPage } from '../fixtures/browser.ts';
import { request } from '../fixtures/http.ts';
import { useImageSwarm } from '../fixtures/image-swarm.ts';
import { pullAll, SWARM_ORIGIN } from '../fixtures/swarm.ts';

const MiB = 1024 * 1024;
const PEERS = 5;
const REPO = 'view/app';
const VIEWPORT = { width: 1280, height: 900 };

interface TaskJson {
  digest: string;
  size: number;
  peers: number;
  completePeers: number;
  completion: number;
  originBytes: number;
  originPieces: number;
}

interface PullsJson {
  pulls: {
    image: string;
    reference: string;
    blobs: {
      digest: string;
      size: number;
      requests: number;
      bytes: { origin: number; cache: number; local: number; peers: Record<string, number> };
    }[];
  }[];
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await request(url);
  assert.match(String(res.headers['content-type']), /^application\/json/, url);
  return { status: res.status, body: JSON.parse(res.body.toString('utf8')) as T };
}

async function attr(page: Page, selector: string, name: string): Promise<string | null> {
  const element = page.locator(selector).first();
  if ((await element.count()) === 0) return null;
  return element.getAttribute(name);
}

async function attrs(page: Page, selector: string, name: string): Promise<number[]> {
  const values: number[] = [];
  for (const element of await page.locator(selector).all())
    values.push(Number(await element.getAttribute(name)));
  return values;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(150);
  }
}

/** The first frame of the server-sent events, parsed. */
function firstEvent(url: string): Promise<{ type: string; frame: { totals: { peers: number } } }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`events answered ${res.statusCode}`));
      assert.equal(res.headers['content-type'], 'text/event-stream');
      let text = '';
      res.on('data', (chunk: Buffer) => {
        text += chunk.toString('utf8');
        const match = /event: swarm\ndata: (.*)\n\n/.exec(text);
        if (!match) return;
        req.destroy();
        resolve({ type: 'swarm', frame: JSON.parse(match[1]!) });
      });
    });
    req.on('error', reject);
    req.setTimeout(10_000, () => req.destroy(new Error('no event within 10 s')));
  });
}

describe('the swarm view: a real browser follows a rollout on the scheduler page', {
  timeout: 300_000,
}, () => {
  const suite = useImageSwarm({
    layerBytes: [40 * MiB, 8 * MiB],
    salt: 'swarm-view',
    repo: REPO,
    count: PEERS,
    // Slow enough that the rollout lasts several updates of the page.
    originRate: 8e6,
    peer: (i) => ({
      extraArgs: ['--label', `zone=zone-${i % 2 === 0 ? 'a' : 'b'}`, '--label', `name=node-${i}`],
    }),
  });
  let browser: Browser | undefined;

  before(async () => {
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
  });

  it('shows completion, pieces and flows moving during the rollout, and ends matching the JSON API and the metrics', async () => {
    const { swarm, image, layer } = suite;
    const scheduler = swarm.scheduler;
    const { page, errors, foreign } = await strictPage(browser!, VIEWPORT);
    await page.goto(`${scheduler.adminUrl}/`);
    await until(
      'the page to count the peers',
      async () => (await page.textContent('#total-peers')) === String(PEERS),
    );

    const rollout = Promise.all(
      swarm.peers.map(async (peer) => {
        const manifest = await request(`${peer.url}/v2/${REPO}/manifests/v1`, {
          headers: { accept: image.mediaType },
        });
        assert.equal(manifest.status, 200);
        assert.equal(manifest.headers['docker-content-digest'], image.digest);
        return pullAll(peer, REPO, image);
      }),
    );
    let settled = false;
    void rollout.finally(() => {
      settled = true;
    });
    const completions: number[] = [];
    const pieceFills: number[] = [];
    let peerToPeer = false;
    let uploadSeen = 0;
    let screenshot: Buffer | undefined;
    while (!settled) {
      const completion = await attr(page, `tr[data-digest="${layer.digest}"]`, 'data-completion');
      if (completion !== null && completions.at(-1) !== Number(completion))
        completions.push(Number(completion));
      if ((await attr(page, '#piece-map', 'data-digest')) === layer.digest) {
        const held = await attrs(page, '#piece-map .cell', 'data-held');
        const fill = held.reduce((a, b) => a + b, 0);
        if (pieceFills.at(-1) !== fill) pieceFills.push(fill);
      }
      peerToPeer ||= (await page.locator('#flow-graph line:not([data-from="origin"])').count()) > 0;
      uploadSeen = Math.max(uploadSeen, ...(await attrs(page, '#peers-body tr[data-peer]', 'data-upload')));
      const now = completions.at(-1) ?? 0;
      if (!screenshot && peerToPeer && now >= 0.3 && now <= 0.9) screenshot = await page.screenshot();
      await sleep(200);
    }
    assert.deepEqual(
      await rollout,
      Array(PEERS).fill(true),
      'every peer got every blob, each digest checked',
    );
    screenshot ??= await page.screenshot();

    // The numbers moved while the rollout ran: completion rose through several updates, the piece
    // map filled, and pieces went from peer to peer.
    assert.ok(completions.length >= 3, `completion seen: ${completions.join(', ')}`);
    for (let i = 1; i < completions.length; i++)
      assert.ok(completions[i]! > completions[i - 1]!, `completion went down: ${completions.join(', ')}`);
    assert.ok(completions[0]! < 0.9, `the first completion seen was already ${completions[0]}`);
    assert.ok(pieceFills.length >= 3, `piece map fills seen: ${pieceFills.join(', ')}`);
    assert.ok(peerToPeer, 'the flow graph showed a peer sending to a peer');
    assert.ok(uploadSeen > 0, 'some peer showed an upload rate');

    // Once still, the page shows what the JSON API and the metrics say.
    await until('every task to show complete', async () => {
      const shown = await attrs(page, '#tasks-body tr[data-digest]', 'data-completion');
      return shown.length === image.blobs.length && shown.every((c) => c === 1);
    });
    await sleep(1500);
    const tasks = (
      await getJson<{ total: number; items: TaskJson[] }>(`${scheduler.adminUrl}/api/v1/tasks?limit=50`)
    ).body;
    assert.equal(tasks.total, image.blobs.length);
    for (const task of tasks.items) {
      const row = `tr[data-digest="${task.digest}"]`;
      assert.equal(Number(await attr(page, row, 'data-completion')), task.completion);
      assert.equal(Number(await attr(page, row, 'data-origin-bytes')), task.originBytes);
      assert.equal(Number(await attr(page, row, 'data-complete-peers')), task.completePeers);
      assert.equal(task.completion, 1);
      assert.equal(task.completePeers, PEERS);
      assert.ok(
        task.originBytes >= task.size,
        `${task.digest}: the origin sent ${task.originBytes} of ${task.size}`,
      );
    }
    const body = (name: string) => attr(page, 'body', name).then(Number);
    assert.equal(await body('data-peers'), await scheduler.metric('shoal_scheduler_peers'));
    assert.equal(await body('data-tasks'), await scheduler.metric('shoal_scheduler_tasks'));
    assert.equal(
      await body('data-origin-pieces'),
      await scheduler.metric('shoal_scheduler_origin_pieces_total'),
    );
    const served = (await attrs(page, '#peers-body tr[data-peer]', 'data-served')).reduce((a, b) => a + b, 0);
    let fetchedFromPeers = 0;
    for (const peer of swarm.peers)
      fetchedFromPeers += await peer.metric('shoal_pieces_total', { result: 'ok' });
    assert.equal(
      served,
      fetchedFromPeers,
      'pieces served on the page = pieces the peers fetched from parents',
    );
    assert.ok(served > 0);
    const detail = (
      await getJson<TaskJson & { pieceMap: { held: number[] } }>(
        `${scheduler.adminUrl}/api/v1/tasks/${layer.digest}`,
      )
    ).body;
    assert.ok(detail.pieceMap.held.every((held) => held === 1));
    assert.deepEqual(await attrs(page, '#piece-map .cell', 'data-held'), detail.pieceMap.held);

    // The screenshot, taken mid-rollout, saved and read back: its size, and not blank.
    const dir = process.env.SHOAL_SCREENSHOT_DIR ?? (await mkdtemp(join(tmpdir(), 'shoal-swarm-view-')));
    const file = join(dir, 'swarm-view.png');
    await writeFile(file, screenshot);
    const png = await readFile(file);
    if (!process.env.SHOAL_SCREENSHOT_DIR) await rm(dir, { recursive: true, force: true });
    const { width, height } = pngSize(png);
    assert.deepEqual({ width, height }, VIEWPORT);
    const content = await pngContent(browser!, png);
    assert.ok(content.colours > 40, `the screenshot has ${content.colours} colours`);
    assert.ok(
      content.busy > 0.05,
      `only ${(content.busy * 100).toFixed(1)} % of the screenshot is not background`,
    );

    assert.deepEqual(errors, [], 'the page reported no errors');
    assert.deepEqual(foreign, [], 'the page loaded nothing from anywhere but the daemon');
    await page.close();
  });

  it('answers the JSON API with pages and clear errors, and streams events', async () => {
    const admin = suite.swarm.scheduler.adminUrl;
    const page = await getJson<{ total: number; offset: number; items: { id: string }[] }>(
      `${admin}/api/v1/peers?offset=1&limit=2`,
    );
    assert.equal(page.status, 200);
    assert.equal(page.body.total, PEERS);
    assert.equal(page.body.offset, 1);
    assert.equal(page.body.items.length, 2);
    const all = await getJson<{ items: { id: string }[] }>(`${admin}/api/v1/peers`);
    assert.deepEqual(
      new Set(all.body.items.map((p) => p.id)),
      new Set(suite.swarm.peers.map((p) => p.peerId)),
    );
    for (const [path, status, message] of [
      ['/api/v1/tasks/sha256:abc', 400, /is not a digest/],
      ['/api/v1/tasks/not-a-digest', 400, /is not a digest/],
      ['/api/v1/tasks/%E0%A4%A', 400, /percent-encoding/],
      [`/api/v1/tasks/sha256:${'0'.repeat(64)}`, 404, /no task/],
      ['/api/v1/peers?limit=0', 400, /"limit" must be a whole number/],
      ['/api/v1/tasks?offset=-3', 400, /"offset" must be a whole number/],
      ['/api/v1/events?peersLimit=100000', 400, /"peersLimit"/],
      ['/api/v1/events?task=sha256:zz', 400, /"task" must be a digest/],
    ] as const) {
      const answer = await getJson<{ error: string }>(`${admin}${path}`);
      assert.equal(answer.status, status, path);
      assert.match(answer.body.error, message, path);
    }
    const post = await request(`${admin}/api/v1/peers`, { method: 'POST' });
    assert.equal(post.status, 405);
    const event = await firstEvent(`${admin}/api/v1/events?peersLimit=2`);
    assert.equal(event.frame.totals.peers, PEERS);
  });

  it("answers on each peer's admin port where its pulls came from, on a page and as JSON", async () => {
    const { swarm, image, layer } = suite;
    const ids = new Set(swarm.peers.map((p) => p.peerId));
    let fromPeers = 0;
    let fromOrigin = 0;
    for (const peer of swarm.peers) {
      const { body } = await getJson<PullsJson>(`${peer.adminUrl}/api/v1/pulls`);
      assert.equal(body.pulls.length, 1);
      const [pull] = body.pulls;
      assert.equal(pull!.image, `${SWARM_ORIGIN}/${REPO}`);
      assert.equal(pull!.reference, 'v1');
      assert.deepEqual(new Set(pull!.blobs.map((b) => b.digest)), new Set(image.blobs.map((b) => b.digest)));
      let peerBytes = 0;
      let originBytes = 0;
      for (const blob of pull!.blobs) {
        const expected = image.blobs.find((b) => b.digest === blob.digest)!;
        assert.equal(blob.size, expected.size);
        const { origin, cache, local, peers } = blob.bytes;
        const sum = origin + cache + local + Object.values(peers).reduce((a, b) => a + b, 0);
        assert.equal(sum, expected.size, `${blob.digest}: the sources add up to the blob`);
        for (const id of Object.keys(peers)) {
          assert.ok(ids.has(id) && id !== peer.peerId, `${id} is another peer of the swarm`);
        }
        peerBytes += Object.values(peers).reduce((a, b) => a + b, 0);
        originBytes += origin;
      }
      // What landed is at most what was fetched (a second copy of a last piece is fetched and dropped).
      assert.ok(peerBytes <= (await peer.metric('shoal_downloaded_bytes_total', { source: 'peer' })));
      assert.ok(originBytes <= (await peer.metric('shoal_downloaded_bytes_total', { source: 'origin' })));
      fromPeers += peerBytes;
      fromOrigin += originBytes;
    }
    assert.ok(fromPeers > 0, 'some bytes came from peers');
    assert.ok(fromOrigin >= layer.size, 'and the origin sent each at least once');

    // Asked again, a blob is answered from the cache; the pull still says where it came from.
    const peer = swarm.peers[0]!;
    const again = await request(`${peer.url}/v2/${REPO}/blobs/${layer.digest}`, { maxBodyBytes: 64 * MiB });
    assert.equal(again.status, 200);
    const { body } = await getJson<PullsJson>(`${peer.adminUrl}/api/v1/pulls`);
    const blob = body.pulls[0]!.blobs.find((b) => b.digest === layer.digest)!;
    assert.equal(blob.digest, body.pulls[0]!.blobs[0]!.digest, 'the blob asked for last comes first');
    assert.equal(blob.requests, 2);
    assert.equal(blob.bytes.cache, 0);

    const { page, errors, foreign } = await strictPage(browser!);
    await page.goto(`${peer.adminUrl}/pulls`);
    const section = `section[data-image="${SWARM_ORIGIN}/${REPO}"]`;
    await until(
      'the pulls page to show the image',
      async () => (await page.locator(`${section} tr[data-digest]`).count()) === image.blobs.length,
    );
    assert.match((await page.textContent(`${section} h2`)) ?? '', /view\/app:v1/);
    for (const shown of body.pulls[0]!.blobs) {
      const row = `${section} tr[data-digest="${shown.digest}"]`;
      assert.equal(Number(await attr(page, row, 'data-origin')), shown.bytes.origin);
      assert.equal(
        Number(await attr(page, row, 'data-peers')),
        Object.values(shown.bytes.peers).reduce((a, b) => a + b, 0),
      );
    }
    const png = await page.screenshot();
    assert.ok((await pngContent(browser!, png)).colours > 20);
    assert.deepEqual(errors, []);
    assert.deepEqual(foreign, []);
    await page.close();
  });
});
