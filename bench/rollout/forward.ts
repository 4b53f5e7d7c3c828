/**
 * A plain TCP forwarder, for the network-namespace origin of the rollout
 * benchmark: `node bench/rollout/forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT`
 * prints `ready` once listening and runs until SIGTERM.
 */
import { createConnection, createServer, type Server } from 'node:net';

export function splitHostPort(value: string): [string, number] {
  const colon = value.lastIndexOf(':');
  const port = Number(value.slice(colon + 1));
  if (colon < 0 || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`expected host:port, got ${value}`);
  }
  return [value.slice(0, colon).replace(/^\[|\]$/g, ''), port];
}

/** Listens on `listen` and pipes every connection to `target`, both ways. */
export function forward(listen: string, target: string): Promise<Server> {
  const [listenHost, listenPort] = splitHostPort(listen);
  const [targetHost, targetPort] = splitHostPort(target);
  const server = createServer((client) => {
    const upstream = createConnection(targetPort, targetHost);
    const close = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(listenPort, listenHost, () => resolve(server));
  });
}

if (import.meta.main) {
  const [listen, target] = process.argv.slice(2);
  if (!listen || !target) {
    process.stderr.write('usage: node bench/rollout/forward.ts LISTEN_HOST:PORT TARGET_HOST:PORT\n');
    process.exit(2);
  }
  const server = await forward(listen, target);
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
  process.stdout.write('ready\n');
}
