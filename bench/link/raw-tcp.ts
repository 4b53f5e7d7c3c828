/**
 * The link benchmark's ceiling: raw TCP between two Node processes on
 * loopback doing the work a downloading peer must do at least once per byte.
 *
 *   node bench/link/raw-tcp.ts receive OUT_FILE      listens on a free port, prints {"port"} on stdout,
 *                                                    takes one connection, hashes every byte (sha256),
 *                                                    writes it to OUT_FILE, then prints its result
 *   node bench/link/raw-tcp.ts send FILE PORT        reads FILE and sends it to 127.0.0.1:PORT
 *
 * The receiver's result (one JSON line): bytes, sha256 hex, seconds from the
 * accepted connection to the file being closed, and its CPU seconds.
 */

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';

const CHUNK = 1024 * 1024;

async function receive(outFile: string): Promise<void> {
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  process.stdout.write(`${JSON.stringify({ port: address.port })}\n`);
  const socket = await accepted;
  server.close();
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const hash = createHash('sha256');
  let bytes = 0;
  async function* hashed(source: AsyncIterable<Buffer>) {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  await pipeline(socket, hashed, createWriteStream(outFile, { highWaterMark: CHUNK }));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(
    `${JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds, cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`,
  );
}

async function send(file: string, port: number): Promise<void> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const cpuBefore = process.cpuUsage();
  await pipeline(createReadStream(file, { highWaterMark: CHUNK }), socket);
  const cpu = process.cpuUsage(cpuBefore);
  process.stdout.write(`${JSON.stringify({ cpuSeconds: (cpu.user + cpu.system) / 1e6 })}\n`);
}

const [role, a, b] = process.argv.slice(2);
if (role === 'receive' && a) await receive(a);
else if (role === 'send' && a && b) await send(a, Number(b));
else throw new Error('usage: raw-tcp.ts receive OUT_FILE | send FILE PORT');
