import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  extractSection,
  METRICS_END,
  METRICS_START,
  metricsReferenceMarkdown,
} from '../../scripts/metrics-reference.ts';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import {
  type RunningPeer,
  type RunningScheduler,
  startPeer,
  startScheduler,
  sumSamples,
} from '../fixtures/shoal.ts';

const REGISTRY_NAME = 'registry.invalid:5000';

/** `promtool check metrics` with the exposition on stdin: its exit code and everything it printed. */
function promtoolCheck(exposition: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
    child.stdin.end(exposition);
  });
}

async function exposition(adminUrl: string): Promise<string> {
  const res = await request(`${adminUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return res.body.toString('utf8');
}

describe('metrics expositions pass promtool check metrics', { timeout: 240_000 }, () => {
  let registry: RunningRegistry | undefined;
  let scheduler: RunningScheduler | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;

  before(async () => {
    registry = await startRegistry();
    image = await smallImage('metrics-lint');
    await pushImage(registry.url, 'ops/lint', 'v1', image);
    scheduler = await startScheduler();
    peer = await startPeer({
      endpoints: { [REGISTRY_NAME]: registry.url },
      schedulers: [scheduler.multiaddrs[0]!],
    });
    // Some traffic, so that labelled series and histogram buckets have samples, not just HELP and TYPE.
    const ns = `?ns=${REGISTRY_NAME}`;
    const manifest = await request(`${peer.url}/v2/ops/lint/manifests/v1${ns}`, {
      headers: { accept: image.mediaType },
    });
    assert.equal(manifest.status, 200, manifest.body.toString('utf8'));
    for (const blob of image.blobs) {
      const res = await request(`${peer.url}/v2/ops/lint/blobs/${blob.digest}${ns}`);
      assert.equal(res.status, 200, `${blob.digest}: ${res.body.toString('utf8').slice(0, 300)}`);
    }
    assert.equal((await request(`${peer.url}/v2/ops/lint/blobs/sha256:${'0'.repeat(64)}${ns}`)).status, 404);
  });

  after(async () => {
    await peer?.stop();
    await scheduler?.stop();
    await registry?.stop();
  });

  it('shoal peer', async () => {
    const text = await exposition(peer!.adminUrl);
    assert.ok(sumSamples(text, 'shoal_endpoint_requests_total') > 0, 'the peer served requests');
    // libp2p's own metrics share the registry: the peer's connection to its scheduler is counted.
    assert.ok(
      sumSamples(text, 'libp2p_connection_manager_connections', { service: 'peer' }) >= 1,
      'libp2p connections in the peer exposition',
    );
    assert.ok(
      sumSamples(text, 'libp2p_data_transfer_bytes_total') > 0,
      'libp2p bytes in the peer exposition',
    );
    const { code, output } = await promtoolCheck(text);
    assert.equal(output.trim(), '', `promtool reported problems in the peer's /metrics:\n${output}`);
    assert.equal(code, 0, `promtool exited ${code}`);
  });

  it('shoal scheduler', async () => {
    const text = await exposition(scheduler!.adminUrl);
    assert.ok(sumSamples(text, 'shoal_scheduler_assignments_total') > 0, 'the scheduler assigned pieces');
    assert.ok(
      sumSamples(text, 'libp2p_connection_manager_connections', { service: 'scheduler' }) >= 1,
      'libp2p connections in the scheduler exposition',
    );
    assert.ok(
      sumSamples(text, 'libp2p_protocol_streams', { protocol: 'inbound /shoal/sched/2.0.0' }) >= 1,
      "the peer's scheduler stream in libp2p's stream counts",
    );
    const { code, output } = await promtoolCheck(text);
    assert.equal(output.trim(), '', `promtool reported problems in the scheduler's /metrics:\n${output}`);
    assert.equal(code, 0, `promtool exited ${code}`);
  });

  it('promtool does report a misnamed metric (the check is live)', async () => {
    const { code, output } = await promtoolCheck(
      '# HELP shoal_bad_total A gauge named like a counter\n# TYPE shoal_bad_total gauge\nshoal_bad_total 1\n',
    );
    assert.notEqual(code, 0);
    assert.match(output, /shoal_bad_total non-counter metrics should not have "_total" suffix/);
  });
});

describe('metrics reference', () => {
  it("README.md's section is the generated one (run: node scripts/gen-metrics-reference.ts --write)", async () => {
    const readme = await readFile(resolve(import.meta.dirname, '../../README.md'), 'utf8');
    const section = extractSection(readme, METRICS_START, METRICS_END);
    assert.ok(section !== undefined, `README.md must contain ${METRICS_START} ... ${METRICS_END}`);
    assert.equal(
      section,
      await metricsReferenceMarkdown(),
      'README.md is out of date: run node scripts/gen-metrics-reference.ts --write',
    );
  });
});
