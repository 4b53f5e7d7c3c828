import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { UpstreamUnavailableError } from '../src/errors.ts';
import { RegistryClient } from '../src/registry-client.ts';
import { classifyTransportError, type UpstreamFailureKind } from '../src/upstream-failure.ts';

/** Certificates made with the real openssl: a self-signed one, and a leaf signed by a CA nobody trusts. */
function makeCertificates(dir: string): {
  selfSigned: { key: Buffer; cert: Buffer };
  unknownCa: { key: Buffer; cert: Buffer };
} {
  const ssl = (args: string) => execFileSync('openssl', args.split(' '), { cwd: dir, stdio: 'pipe' });
  const newKey = '-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes';
  ssl(
    `req -x509 ${newKey} -days 1 -keyout self.key -out self.crt -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1`,
  );
  ssl(`req -x509 ${newKey} -days 1 -keyout ca.key -out ca.crt -subj /CN=shoal-test-CA`);
  ssl(`req ${newKey} -keyout leaf.key -out leaf.csr -subj /CN=127.0.0.1`);
  ssl('x509 -req -in leaf.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out leaf.crt');
  const read = (name: string) => readFileSync(join(dir, name));
  return {
    selfSigned: { key: read('self.key'), cert: read('self.crt') },
    unknownCa: { key: read('leaf.key'), cert: read('leaf.crt') },
  };
}

async function listen(server: Server | TcpServer): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('upstream failures say what failed', () => {
  const servers: (Server | TcpServer)[] = [];
  let dir = '';
  let certs: ReturnType<typeof makeCertificates>;
  const client = new RegistryClient({ maxRetries: 0, headersTimeoutMs: 300, connectTimeoutMs: 2_000 });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'shoal-upstream-failure-'));
    certs = makeCertificates(dir);
  });

  after(async () => {
    await client.close();
    for (const server of servers) {
      (server as Server).closeAllConnections?.();
      server.close();
    }
    rmSync(dir, { recursive: true, force: true });
  });

  /** The failure of one manifest request to `url`. */
  async function failure(url: string): Promise<UpstreamUnavailableError> {
    try {
      const res = await client.getManifest({ registry: 'up.test', url }, 'team/app', 'v1');
      assert.fail(`answered ${res.status}`);
    } catch (error) {
      assert.ok(error instanceof UpstreamUnavailableError, String(error));
      return error;
    }
  }

  async function expectFailure(url: string, kind: UpstreamFailureKind, message: RegExp): Promise<void> {
    const error = await failure(url);
    assert.equal(error.kind, kind, error.message);
    assert.match(error.message, message);
  }

  it('DNS: a name that does not resolve', async () => {
    await expectFailure(
      'http://no-such-registry.invalid:5000',
      'dns',
      /DNS lookup failed \((ENOTFOUND|EAI_AGAIN)\)/,
    );
  });

  it('connection refused: nothing listens', async () => {
    const server = createTcpServer();
    const address = await listen(server);
    await new Promise((resolve) => server.close(resolve));
    await expectFailure(`http://${address}`, 'refused', /connection refused \(ECONNREFUSED\)/);
  });

  it('TLS: a self-signed certificate, one from an unknown authority, a port without TLS', async () => {
    const selfSigned = createHttpsServer(certs.selfSigned, (_req, res) => res.end());
    const unknownCa = createHttpsServer(certs.unknownCa, (_req, res) => res.end());
    const plain = createHttpServer((_req, res) => res.end());
    servers.push(selfSigned, unknownCa, plain);
    await expectFailure(
      `https://${await listen(selfSigned)}`,
      'tls',
      /TLS: the certificate is self-signed \(DEPTH_ZERO_SELF_SIGNED_CERT\)/,
    );
    await expectFailure(
      `https://${await listen(unknownCa)}`,
      'tls',
      /TLS: the certificate is signed by an unknown authority \(UNABLE_TO_VERIFY_LEAF_SIGNATURE\)/,
    );
    await expectFailure(
      `https://${await listen(plain)}`,
      'tls',
      /TLS: the server does not speak TLS on this port/,
    );
  });

  it('timeout: a server that accepts and never answers', async () => {
    const silent = createTcpServer(() => {});
    servers.push(silent);
    await expectFailure(
      `http://${await listen(silent)}`,
      'timeout',
      /timed out waiting for the response headers \(UND_ERR_HEADERS_TIMEOUT\)/,
    );
  });

  it('names the certificate problem for each verification code, found in causes and aggregates', () => {
    const coded = (code: string, message = code) => Object.assign(new Error(message), { code });
    const cases: [unknown, UpstreamFailureKind, RegExp][] = [
      [coded('CERT_HAS_EXPIRED'), 'tls', /has expired/],
      [coded('CERT_NOT_YET_VALID'), 'tls', /not valid yet/],
      [coded('ERR_TLS_CERT_ALTNAME_INVALID'), 'tls', /another host name/],
      [new TypeError('fetch failed', { cause: coded('ENOTFOUND') }), 'dns', /DNS/],
      [new AggregateError([coded('ECONNREFUSED'), coded('ECONNREFUSED')]), 'refused', /refused/],
      [coded('ECONNRESET'), 'connection', /connection cut/],
      [coded('UND_ERR_CONNECT_TIMEOUT'), 'timeout', /timed out connecting/],
      [new Error('something else'), 'other', /something else/],
    ];
    for (const [error, kind, detail] of cases) {
      const found = classifyTransportError(error);
      assert.equal(found.kind, kind, String(error));
      assert.match(found.detail, detail);
    }
  });
});
