/**
 * The link benchmark's baselines: one file between two Node processes on
 * loopback, the receiver doing the work a downloading peer must do at least
 * once per byte (sha256 and a file write), over either
 *
 *   tcp     a raw TCP connection: the machine's ceiling;
 *   libp2p  one stream of shoal's own libp2p node (TCP, TLS on the socket,
 *           yamux; packages/p2p): what the transport alone costs, without
 *           the piece protocol, the scheduler or the endpoint.
 *
 *   node bench/link/baseline-transfer.ts receive tcp|libp2p OUT_FILE
 *        prints {"target"} (a port or a multiaddr), takes one connection or
 *        stream, hashes every byte, writes it to OUT_FILE, then prints its result
 *   node bench/link/baseline-transfer.ts send tcp|libp2p FILE TARGET
 *        reads FILE and sends it, with backpressure
 *
 * The receiver's result (one JSON line): bytes, sha256 hex, seconds from the
 * accepted connection (or stream) to the file being closed, and its CPU seconds.
 */

import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { connect, createServer, type Socket } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { generateKeyPair } from '@libp2p/crypto/keys';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { createShoalNode, type ShoalNode, sendWithBackpressure } from '@shoal/p2p';

const CHUNK = 1024 * 1024;
const PROTOCOL = '/shoal-bench/transfer/1.0.0';
type Transport = 'tcp' | 'libp2p';

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const used = process.cpuUsage(since);
  return (used.user + used.system) / 1e6;
};

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value)}\n`);

/** Hashes and writes what `source` yields, then prints the result. */
async function consume(source: AsyncIterable<Uint8Array>, outFile: string): Promise<void> {
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const hash = createHash('sha256');
  let bytes = 0;
  async function* hashed() {
    for await (const chunk of source) {
      hash.update(chunk);
      bytes += chunk.length;
      yield chunk;
    }
  }
  await pipeline(hashed, createWriteStream(outFile, { highWaterMark: CHUNK }));
  print({
    bytes,
    sha256: hash.digest('hex'),
    seconds: (performance.now() - started) / 1000,
    cpuSeconds: cpuSeconds(cpuBefore),
  });
}

/** A libp2p stream's messages (a Uint8Array or a list of them) as plain chunks. */
async function* chunksOf(stream: Stream): AsyncIterable<Uint8Array> {
  for await (const message of stream) {
    if (message instanceof Uint8Array) yield message;
    else yield* message;
  }
}

async function libp2pNode(): Promise<ShoalNode> {
  return createShoalNode({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'] });
}

async function receive(transport: Transport, outFile: string): Promise<void> {
  if (transport === 'libp2p') {
    const node = await libp2pNode();
    const done = Promise.withResolvers<void>();
    await node.handle(PROTOCOL, (stream) => {
      // Closing its side tells the sender that every byte arrived.
      consume(chunksOf(stream), outFile)
        .then(() => stream.close())
        .then(done.resolve, done.reject);
    });
    print({ target: node.getMultiaddrs()[0]!.toString() });
    await done.promise;
    await node.stop();
    return;
  }
  const server = createServer();
  const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('no port');
  print({ target: String(address.port) });
  const socket = await accepted;
  server.close();
  await consume(socket, outFile);
}

async function send(transport: Transport, file: string, target: string): Promise<void> {
  if (transport === 'libp2p') {
    const node = await libp2pNode();
    const stream = await node.dialProtocol(multiaddr(target), PROTOCOL);
    const cpuBefore = process.cpuUsage();
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
      await sendWithBackpressure(stream, chunk as Buffer);
    }
    await stream.close();
    // Stopping the node while bytes are still on their way would cut them off: wait for the receiver's close.
    if (stream.status !== 'closed') {
      await new Promise((resolve) => stream.addEventListener('close', resolve, { once: true }));
    }
    print({ cpuSeconds: cpuSeconds(cpuBefore) });
    await node.stop();
    return;
  }
  const socket = connect({ host: '127.0.0.1', port: Number(target) });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const cpuBefore = process.cpuUsage();
  await pipeline(createReadStream(file, { highWaterMark: CHUNK }), socket);
  print({ cpuSeconds: cpuSeconds(cpuBefore) });
}

const [role, transport, a, b] = process.argv.slice(2);
if (transport !== 'tcp' && transport !== 'libp2p') throw new Error(`unknown transport ${transport}`);
if (role === 'receive' && a) await receive(transport, a);
else if (role === 'send' && a && b) await send(transport, a, b);
else throw new Error('usage: baseline-transfer.ts receive tcp|libp2p OUT_FILE | send tcp|libp2p FILE TARGET');
