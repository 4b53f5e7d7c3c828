import assert from 'node:assert/strict';
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { MediaType, RegistryClient, sha256Digest, UpstreamResolver } from '@shoal/oci';
import { createLogger, createMetricsRegistry } from '@shoal/telemetry';
import { AccessGuard } from '../src/endpoint/access-guard.ts';
import { upstreamAccessProbe } from '../src/endpoint/access-probe.ts';
import type { EndpointContext } from '../src/endpoint/context.ts';
import { RecentReferrers } from '../src/endpoint/recent-referrers.ts';
import { STALE_REFERRERS_HEADER } from '../src/endpoint/referrers-handler.ts';
import { type RegistryServer, startRegistryServer } from '../src/endpoint/registry-server.ts';
import { createPeerMetrics } from '../src/metrics.ts';

const REGISTRY = 'up.test:5000';
const SUBJECT = sha256Digest('subject manifest');
const SBOM = 'application/spdx+json';
const SIGNATURE = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const referrers = [SBOM, SIGNATURE].map((artifactType) => ({
  mediaType: MediaType.ociManifest,
  digest: sha256Digest(artifactType),
  size: 400,
  artifactType,
}));
const INDEX = JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: referrers });

type Mode = 'index' | 'not-an-index' | 'status-503' | 'not-found';

/**
 * Unit test of the handler's logic: the upstream is a node:http stand-in for a registry implementing
 * OCI 1.1 referrers (no such registry is installable here; the e2e test uses distribution 2.8, which
 * answers 404). The endpoint, registry client and access guard are the real ones.
 */
describe('referrers endpoint', () => {
  let mode: Mode = 'index';
  const seen: { url: string; authorization: string | undefined }[] = [];
  let upstream: Server;
  let upstreamUrl = '';
  let endpoint: RegistryServer;
  let port = 0;
  let ctx: EndpointContext;
  let client: RegistryClient;

  const answer = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    if (url.includes('/referrers/')) seen.push({ url, authorization: req.headers.authorization });
    if (url.startsWith('/v2/team/app/tags/list')) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"team/app","tags":["v1"]}');
    } else if (!url.includes('/referrers/') || mode === 'not-found') {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"errors":[{"code":"NOT_FOUND"}]}');
    } else if (mode === 'status-503') {
      res.writeHead(503).end();
    } else if (mode === 'not-an-index') {
      res.writeHead(200, { 'content-type': MediaType.ociIndex }).end('{"schemaVersion":2,"layers":[]}');
    } else {
      res.writeHead(200, { 'content-type': MediaType.ociIndex }).end(INDEX);
    }
  };

  before(async () => {
    upstream = createServer(answer);
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    client = new RegistryClient({ maxRetries: 0 });
    ctx = {
      upstreams: new UpstreamResolver({ endpoints: { [REGISTRY]: upstreamUrl }, defaultRegistry: REGISTRY }),
      client,
      access: new AccessGuard({ probe: upstreamAccessProbe(client) }),
      referrers: new RecentReferrers(),
      metrics: createPeerMetrics(createMetricsRegistry(), {
        activeTasks: () => 0,
        storeBytes: () => 0,
        storeBlobs: () => 0,
        storeCapacity: () => 0,
        schedulersConfigured: () => 0,
        schedulersConnected: () => 0,
        sendBufferBytes: () => 0,
        sendWaiting: () => 0,
      }),
      logger: createLogger({ level: 'silent' }),
    } as unknown as EndpointContext;
    endpoint = await startRegistryServer(ctx, '127.0.0.1:0');
    port = (endpoint.server.address() as AddressInfo).port;
  });

  after(async () => {
    await endpoint.close();
    await client.close();
    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
  });

  function get(path: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
      (resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks).toString('utf8'),
            }),
          );
        });
        req.on('error', reject);
        req.end();
      },
    );
  }

  it("passes the client's credentials and filter upstream and answers the verified index", async () => {
    mode = 'index';
    const all = await get(`/v2/team/app/referrers/${SUBJECT}`, { authorization: 'Bearer client-token' });
    assert.equal(all.status, 200, all.body);
    assert.equal(all.headers['content-type'], MediaType.ociIndex);
    assert.equal(all.body, INDEX);
    assert.equal(all.headers['oci-filters-applied'], undefined);
    assert.deepEqual(seen.at(-1), {
      url: `/v2/team/app/referrers/${SUBJECT}`,
      authorization: 'Bearer client-token',
    });

    // This upstream ignores the filter: the endpoint applies it and says so.
    const sboms = await get(`/v2/team/app/referrers/${SUBJECT}?artifactType=${encodeURIComponent(SBOM)}`);
    assert.equal(sboms.status, 200, sboms.body);
    assert.equal(sboms.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((JSON.parse(sboms.body) as { manifests: unknown[] }).manifests, [referrers[0]]);
    assert.equal(new URL(seen.at(-1)!.url, upstreamUrl).searchParams.get('artifactType'), SBOM);
  });

  it('refuses an upstream answer that is not an OCI image index with 502', async () => {
    mode = 'not-an-index';
    const before = await ctx.metrics.verificationFailures.get();
    const res = await get(`/v2/team/app/referrers/${sha256Digest('other subject')}`);
    assert.equal(res.status, 502);
    assert.match(res.body, /MANIFEST_INVALID/);
    const after = await ctx.metrics.verificationFailures.get();
    const count = (m: typeof after) => m.values.find((v) => v.labels.kind === 'referrers')?.value ?? 0;
    assert.equal(count(after) - count(before), 1);
  });

  it("relays upstream's 404 as it gave it", async () => {
    mode = 'not-found';
    const res = await get(`/v2/team/app/referrers/${SUBJECT}`);
    assert.equal(res.status, 404);
    assert.equal(res.body, '{"errors":[{"code":"NOT_FOUND"}]}');
  });

  it('serves the last answer, marked, while upstream fails or is down; 503 for one never answered', async () => {
    // As after a pull of the subject: upstream served it to anyone.
    const upstreamOf = ctx.upstreams.resolve(REGISTRY);
    ctx.access.noteObtained({ upstream: upstreamOf, repository: 'team/app', digest: SUBJECT }, undefined);
    mode = 'index';
    const fresh = await get(`/v2/team/app/referrers/${SUBJECT}`);
    assert.equal(fresh.status, 200);
    assert.equal(fresh.headers[STALE_REFERRERS_HEADER], undefined);

    mode = 'status-503';
    const failing = await get(`/v2/team/app/referrers/${SUBJECT}`);
    assert.equal(failing.status, 200, failing.body);
    assert.equal(failing.body, INDEX);
    assert.ok(!Number.isNaN(Date.parse(String(failing.headers[STALE_REFERRERS_HEADER]))));
    const neverAnswered = await get(`/v2/team/app/referrers/${sha256Digest('unknown')}`);
    assert.equal(neverAnswered.status, 503, 'upstream 503 relayed when nothing is remembered');

    upstream.closeAllConnections();
    await new Promise((resolve) => upstream.close(resolve));
    const down = await get(`/v2/team/app/referrers/${SUBJECT}`);
    assert.equal(down.status, 200, down.body);
    assert.equal(down.body, INDEX);
    assert.ok(down.headers[STALE_REFERRERS_HEADER]);
    const unknown = await get(`/v2/team/app/referrers/${sha256Digest('unknown')}`);
    assert.equal(unknown.status, 503);
    assert.match(unknown.body, /connection refused/);
  });
});
