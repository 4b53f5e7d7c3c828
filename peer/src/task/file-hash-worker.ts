/**
 * Worker thread of file-hasher.ts: sha256 of file prefixes, read straight
 * from the files with one reused buffer. Jobs are served one message at a
 * time, in order; each job owns its own file descriptor.
 */

import { createHash, type Hash } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import type { HashReply, HashRequest } from './file-hasher.ts';

const READ_BYTES = 1024 * 1024;

interface Job {
  fd: number;
  hash: Hash;
  position: number;
  /** First error; every later request of the job answers it. */
  error?: string;
}

const jobs = new Map<number, Job>();
const buffer = Buffer.allocUnsafe(READ_BYTES);
const port = parentPort!;

function reply(message: HashReply): void {
  port.postMessage(message);
}

function advance(job: Job, end: number): void {
  while (job.position < end) {
    const want = Math.min(READ_BYTES, end - job.position);
    const read = readSync(job.fd, buffer, 0, want, job.position);
    if (read === 0) throw new Error(`file ends at ${job.position}, before ${end}`);
    job.hash.update(buffer.subarray(0, read));
    job.position += read;
  }
}

port.on('message', (request: HashRequest) => {
  if (request.type === 'open') {
    try {
      jobs.set(request.id, { fd: openSync(request.path, 'r'), hash: createHash('sha256'), position: 0 });
    } catch (error) {
      jobs.set(request.id, {
        fd: -1,
        hash: createHash('sha256'),
        position: 0,
        error: (error as Error).message,
      });
    }
    return;
  }
  const job = jobs.get(request.id);
  if (!job) return;
  if (request.type === 'close') {
    jobs.delete(request.id);
    if (job.fd >= 0) closeSync(job.fd);
    return;
  }
  if (request.type === 'advance') {
    if (job.error) return;
    try {
      advance(job, request.end);
    } catch (error) {
      job.error = (error as Error).message;
    }
    return;
  }
  // digest: every earlier advance of this job is done, since requests are served in order.
  if (job.error) reply({ id: request.id, type: 'error', message: job.error });
  else reply({ id: request.id, type: 'digest', hex: job.hash.digest('hex'), position: job.position });
});
