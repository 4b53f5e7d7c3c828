/**
 * Small reads of a cached blob, as a lazy-pulling snapshotter makes them on a node that holds the
 * layer: each read through the peer (which checks every check block the read touches against the
 * CRC32s recorded with the digest) against the same read asked of the registry directly, one read
 * after another on a kept-open connection, the two sides alternating in rounds.
 *
 *   node bench/lazy/cached-ranges.ts [--runs 3] [--size-mib 256] [--reads 400] [--read-kib 4]
 *
 * Per side and run: median time to the last byte of a read, and (peer) CPU seconds per read. The
 * offsets are the same on both sides (deterministic, spread over the blob). JSON to stdout.
 */

import { Agent } from 'node:http';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { pushBlob, rawBlob } from '../../test/fixtures/images.ts';
import { readRange } from '../../test/fixtures/range-client.ts';
import { type RunningRegistry, startRegistry } from '../../test/fixtures/registry.ts';
import { type RunningPeer, startPeer } from '../../test/fixtures/shoal.ts';
import { streamGet } from '../../test/fixtures/stream-get.ts';
import { log, machineFacts, positiveInt } from '../common.ts';
import { cpuSeconds, median, round } from '../measure.ts';

const REPOSITORY = 'bench/cached-ranges';
const MIB = 1024 * 1024;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    'size-mib': { type: 'string', default: '256' },
    reads: { type: 'string', default: '400' },
    'read-kib': { type: 'string', default: '4' },
  },
});
const RUNS = positiveInt(args.runs, '--runs');
const SIZE = positiveInt(args['size-mib'], '--size-mib') * MIB;
const READS = positiveInt(args.reads, '--reads');
const READ_BYTES = positiveInt(args['read-kib'], '--read-kib') * 1024;

/** Offsets spread over the blob, the same every run (a multiplicative step, not a fresh random). */
const offsets = Array.from({ length: READS }, (_, i) => ((i * 2_654_435_761) % (SIZE - READ_BYTES)) >>> 0);

/** Time to the last byte of each read, one after another on one kept-open connection. */
async function readAll(url: string): Promise<number[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const times: number[] = [];
    for (const offset of offsets)
      times.push((await readRange(url, offset, READ_BYTES, { agent })).lastByteMs);
    return times;
  } finally {
    agent.destroy();
  }
}

async function main(): Promise<void> {
  let registry: RunningRegistry | undefined;
  let peer: RunningPeer | undefined;
  const loadBefore = loadavg()[0]!;
  try {
    const blob = await rawBlob('bench/cached-ranges', SIZE);
    registry = await startRegistry();
    await pushBlob(registry.url, REPOSITORY, blob, { timeoutMs: 600_000 });
    peer = await startPeer({ endpoints: { [registry.host]: registry.url }, defaultRegistry: registry.host });
    const path = `/v2/${REPOSITORY}/blobs/${blob.digest}`;
    const whole = await streamGet(`${peer.url}${path}`, { timeoutMs: 600_000 });
    if (whole.digest !== blob.digest)
      throw new Error(`caching the blob: ${whole.error?.message ?? whole.digest}`);
    // Cached once the whole GET is over; a warm-up pass on each side compiles and fills the page cache.
    await readAll(`${peer.url}${path}`);
    await readAll(`${registry.url}${path}`);
    const direct: number[] = [];
    const endpoint: number[] = [];
    const cpuPerRead: number[] = [];
    for (let run = 0; run < RUNS; run++) {
      for (const side of run % 2 === 0 ? ['direct', 'endpoint'] : ['endpoint', 'direct']) {
        log(`run ${run + 1}/${RUNS}: ${READS} reads of ${READ_BYTES} bytes, ${side}`);
        if (side === 'direct') {
          direct.push(median(await readAll(`${registry.url}${path}`)));
          continue;
        }
        const cpuBefore = await cpuSeconds(peer.daemon.pid);
        endpoint.push(median(await readAll(`${peer.url}${path}`)));
        cpuPerRead.push(((await cpuSeconds(peer.daemon.pid)) - cpuBefore) / READS);
      }
    }
    const result = {
      bench: 'lazy-cached-ranges',
      command: `node bench/lazy/cached-ranges.ts --runs ${RUNS} --size-mib ${SIZE / MIB} --reads ${READS} --read-kib ${READ_BYTES / 1024}`,
      date: new Date().toISOString(),
      machine: machineFacts(loadBefore),
      readMs: {
        direct: { median: round(median(direct)), runs: direct.map((v) => round(v)) },
        endpoint: { median: round(median(endpoint)), runs: endpoint.map((v) => round(v)) },
        ratio: round(median(endpoint) / median(direct)),
      },
      peerCpuMsPerRead: {
        median: round(median(cpuPerRead) * 1000),
        runs: cpuPerRead.map((v) => round(v * 1000)),
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    await peer?.stop();
    await registry?.stop();
  }
}

await main();
