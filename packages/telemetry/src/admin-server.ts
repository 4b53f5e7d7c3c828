import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface AdminServerOptions {
  /** host:port to listen on. */
  listen: string;
  metrics: Registry;
  /** Body of GET /api/v1/info. */
  info: () => unknown;
  /** Readiness: null when ready, else the reason it is not. */
  notReadyReason: () => string | null;
  /** A service's own API: answers the request and returns true, or false to leave it to the built-in routes. */
  routes?: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;
}

export interface AdminServer {
  readonly address: string;
  close(): Promise<void>;
}

/** Admin HTTP: /healthz (the process answers), /readyz (it can do its job), /metrics, /api/v1/info. */
export async function startAdminServer(options: AdminServerOptions): Promise<AdminServer> {
  const server = createServer(async (req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const json = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      res.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(text),
      });
      res.end(text);
    };
    try {
      if (options.routes && (await options.routes(req, res))) return;
      if (req.method !== 'GET' && req.method !== 'HEAD') return json(405, { error: 'method not allowed' });
      switch (path) {
        case '/healthz':
          return json(200, { status: 'ok' });
        case '/readyz': {
          const reason = options.notReadyReason();
          return reason === null
            ? json(200, { status: 'ready' })
            : json(503, { status: 'not ready', reason });
        }
        case '/metrics': {
          const text = await options.metrics.metrics();
          res.writeHead(200, { 'content-type': options.metrics.contentType });
          return res.end(text);
        }
        case '/api/v1/info':
          return json(200, options.info());
        default:
          return json(404, { error: 'not found' });
      }
    } catch (error) {
      if (res.headersSent) return res.destroy();
      return json(500, { error: (error as Error).message });
    }
  });
  await listen(server, options.listen);
  const { address, port } = server.address() as AddressInfo;
  return {
    address: `${address.includes(':') ? `[${address}]` : address}:${port}`,
    close: () => closeServer(server),
  };
}

/** Splits host:port ([v6]:port allowed) and listens; resolves once bound. */
export function listen(server: Server, hostPort: string): Promise<void> {
  const { host, port } = parseHostPort(hostPort);
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function parseHostPort(value: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) throw new Error(`invalid address "${value}": expected host:port`);
  return { host: (match[1] ?? match[2])!, port };
}
