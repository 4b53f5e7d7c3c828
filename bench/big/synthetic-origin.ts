/**
 * An origin for blobs too big to keep twice on one disk: a read-only registry
 * (`/v2/`, blob HEAD and GET with one Range) serving one blob of deterministic
 * bytes that it computes at any offset instead of storing them. The bytes are
 * the fixtures' `deterministicBytes(seed, size)` (an AES-256-CTR keystream), so
 * a CTR counter positioned at the offset yields them without reading the rest.
 */

import { createCipheriv, createHash } from 'node:crypto';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deterministicBytes, type Seed } from '../../test/fixtures/images.ts';

const CHUNK = 1024 * 1024;
const ZEROS = Buffer.alloc(CHUNK);
const AES_BLOCK = 16;

export interface SyntheticOrigin {
  /** 127.0.0.1:PORT */
  host: string;
  url: string;
  digest: string;
  size: number;
  stop(): Promise<void>;
}

/** sha256 of `deterministicBytes(seed, size)`, computed once by streaming them (no disk). */
export async function syntheticDigest(seed: Seed, size: number): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of deterministicBytes(seed, size)) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

/** The bytes [start, end) of `deterministicBytes(seed, ...)`, in chunks of at most 1 MiB. */
export async function* bytesAt(seed: Seed, start: number, end: number): AsyncGenerator<Buffer> {
  const key = createHash('sha256')
    .update(`shoal-fixture-content:${String(seed)}`)
    .digest();
  const counter = Buffer.alloc(AES_BLOCK);
  counter.writeBigUInt64BE(BigInt(Math.floor(start / AES_BLOCK)), 8);
  const cipher = createCipheriv('aes-256-ctr', key, counter);
  let skip = start % AES_BLOCK;
  for (let position = start; position < end; ) {
    const n = Math.min(CHUNK, end - position + skip);
    const block = cipher.update(n === CHUNK ? ZEROS : ZEROS.subarray(0, n));
    const out = skip > 0 ? block.subarray(skip) : block;
    skip = 0;
    position += out.length;
    yield out;
  }
}

export async function startSyntheticOrigin(options: {
  repository: string;
  seed: Seed;
  size: number;
  digest: string;
}): Promise<SyntheticOrigin> {
  const { repository, seed, size, digest } = options;
  const blobPath = `/v2/${repository}/blobs/${digest}`;
  const server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      return;
    }
    if (path !== blobPath || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"}]}');
      return;
    }
    const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = match ? Number(match[1]) : 0;
    const end = match?.[2] ? Math.min(Number(match[2]) + 1, size) : size;
    if (start >= size || end <= start) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    const headers = {
      'content-type': 'application/octet-stream',
      'docker-content-digest': digest,
      'content-length': end - start,
      ...(match ? { 'content-range': `bytes ${start}-${end - 1}/${size}` } : {}),
    };
    res.writeHead(match ? 206 : 200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    void send(res, bytesAt(seed, start, end));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    host: `127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    digest,
    size,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Writes the chunks with backpressure; stops when the client goes away. */
async function send(res: ServerResponse, chunks: AsyncIterable<Buffer>): Promise<void> {
  for await (const chunk of chunks) {
    if (res.destroyed) return;
    if (!res.write(chunk)) {
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
  }
  res.end();
}
