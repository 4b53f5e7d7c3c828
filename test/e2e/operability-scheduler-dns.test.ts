import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { request } from '../fixtures/http.ts';
import { type ImageDescription, pushImage, smallImage } from '../fixtures/images.ts';
import { freePort, waitFor } from '../fixtures/net.ts';
import { type RunningRegistry, startRegistry } from '../fixtures/registry.ts';
import { type RunningPeer, type RunningScheduler, startPeer, startScheduler } from '../fixtures/shoal.ts';

const REGISTRY_NAME = 'registry.invalid:5000';

function sha256(bytes: Buffer): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

async function schedulersConnected(peer: RunningPeer): Promise<number> {
  const info = JSON.parse((await request(`${peer.adminUrl}/api/v1/info`)).body.toString('utf8')) as {
    schedulersConnected: number;
  };
  return info.schedulersConnected;
}

describe('a scheduler named by DNS', { timeout: 180_000 }, () => {
  let registry: RunningRegistry | undefined;
  let scheduler: RunningScheduler | undefined;
  let peer: RunningPeer | undefined;
  let image: ImageDescription;
  let port = 0;

  before(async () => {
    registry = await startRegistry();
    image = await smallImage('scheduler-dns');
    await pushImage(registry.url, 'ops/dns', 'v1', image);
    port = await freePort();
    scheduler = await startScheduler({ listen: `/ip4/127.0.0.1/tcp/${port}` });
    // localhost comes from /etc/hosts: the peer resolves it as every other program on the node does.
    peer = await startPeer({
      endpoints: { [REGISTRY_NAME]: registry.url },
      schedulers: [`/dns4/localhost/tcp/${port}`],
      extraArgs: ['--log-level', 'info'],
    });
  });

  after(async () => {
    await peer?.stop();
    await scheduler?.stop();
    await registry?.stop();
  });

  it('joins the scheduler at the address the name resolves to', async () => {
    await waitFor('the peer registered with the scheduler', async () => {
      return (
        (await schedulersConnected(peer!)) === 1 && (await scheduler!.metric('shoal_scheduler_peers')) === 1
      );
    });
    assert.match(peer!.daemon.output, /"msg":"scheduler name resolved"/);
    assert.ok(
      peer!.daemon.output.includes(`"resolved":["/ip4/127.0.0.1/tcp/${port}"]`),
      'localhost resolved to its /etc/hosts address',
    );
    assert.ok(peer!.daemon.output.includes(`"schedulerId":"${scheduler!.peerId}"`));
  });

  it('pulls through the scheduler: digests match, the scheduler assigned the pieces', async () => {
    const ns = `?ns=${REGISTRY_NAME}`;
    const manifest = await request(`${peer!.url}/v2/ops/dns/manifests/v1${ns}`, {
      headers: { accept: image.mediaType },
    });
    assert.equal(manifest.status, 200, manifest.body.toString('utf8'));
    assert.equal(sha256(manifest.body), image.digest);
    for (const blob of image.blobs) {
      const res = await request(`${peer!.url}/v2/ops/dns/blobs/${blob.digest}${ns}`);
      assert.equal(res.status, 200);
      assert.equal(sha256(res.body), blob.digest);
    }
    assert.ok((await scheduler!.metric('shoal_scheduler_assignments_total')) > 0, 'assignments were made');
  });
});
