import { Worker } from 'node:worker_threads';

/** What hashing a file found: the sha256 of its first `bytes` bytes (fewer than asked when the file is shorter). */
export interface FileHash {
  hex: string;
  bytes: number;
}

/** Bytes one file is hashed by before the next file's turn: a big blob does not hold a small one back. */
const SLICE_BYTES = 4 * 1024 * 1024;

/**
 * The worker's code (CommonJS, evaluated in the worker): files hashed with synchronous reads of 1 MiB,
 * the files asked for at once taking turns of SLICE_BYTES. Self-contained, so the peer's single-file
 * bundle needs no second file.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const buffer = Buffer.allocUnsafe(1024 * 1024);
const jobs = new Map();
let scheduled = false;
function close(job) {
  try { fs.closeSync(job.fd); } catch {}
  jobs.delete(job.id);
}
function turn() {
  scheduled = false;
  for (const job of [...jobs.values()]) {
    try {
      let slice = 0;
      let ended = false;
      while (slice < ${SLICE_BYTES} && job.done < job.length) {
        const n = fs.readSync(job.fd, buffer, 0, Math.min(buffer.length, job.length - job.done), job.done);
        if (n === 0) { ended = true; break; }
        job.hash.update(buffer.subarray(0, n));
        job.done += n;
        slice += n;
      }
      if (ended || job.done >= job.length) {
        close(job);
        parentPort.postMessage({ id: job.id, hex: job.hash.digest('hex'), bytes: job.done });
      }
    } catch (error) {
      close(job);
      parentPort.postMessage({ id: job.id, error: String(error && error.message), code: error && error.code });
    }
  }
  if (jobs.size > 0 && !scheduled) { scheduled = true; setImmediate(turn); }
}
parentPort.on('message', (message) => {
  if (message.cancel !== undefined) {
    const job = jobs.get(message.cancel);
    if (job) close(job);
    return;
  }
  try {
    const fd = fs.openSync(message.path, 'r');
    jobs.set(message.id, { id: message.id, fd, length: message.length, done: 0, hash: createHash('sha256') });
  } catch (error) {
    parentPort.postMessage({ id: message.id, error: String(error && error.message), code: error && error.code });
    return;
  }
  if (!scheduled) { scheduled = true; setImmediate(turn); }
});
`;

interface WorkerAnswer {
  id: number;
  hex?: string;
  bytes?: number;
  error?: string;
  code?: string;
}

/**
 * sha256 of files on a worker thread, so hashing a big blob does not hold the event loop, and a
 * node with more than one core hashes on one while it sends on another. One worker, started on
 * first use and not keeping the process alive; if it dies, what it was hashing fails and the next
 * file starts a new one.
 */
export class FileHasher {
  #worker: Worker | undefined;
  /** Answers awaited, with the worker that owes them. */
  readonly #pending = new Map<number, { worker: Worker; answer: PromiseWithResolvers<FileHash> }>();
  #nextId = 0;

  /** sha256 of the first `length` bytes of the file at `path`; aborting `signal` gives the work up (and rejects). */
  hash(path: string, length: number, signal?: AbortSignal): Promise<FileHash> {
    signal?.throwIfAborted();
    const worker = this.#started();
    const id = this.#nextId++;
    const answer = Promise.withResolvers<FileHash>();
    this.#pending.set(id, { worker, answer });
    const onAbort = () => {
      if (!this.#pending.delete(id)) return;
      worker.postMessage({ cancel: id });
      answer.reject(signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    worker.postMessage({ id, path, length });
    return answer.promise.finally(() => signal?.removeEventListener('abort', onAbort));
  }

  /** Stops the worker; what it was hashing fails. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    this.#fail(worker, new Error('file hasher closed'));
    await worker.terminate();
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.unref();
    worker.on('message', (message: WorkerAnswer) => {
      const pending = this.#pending.get(message.id);
      if (!pending) return;
      this.#pending.delete(message.id);
      if (message.error !== undefined) {
        const error = Object.assign(new Error(message.error), message.code ? { code: message.code } : {});
        pending.answer.reject(error);
      } else pending.answer.resolve({ hex: message.hex!, bytes: message.bytes! });
    });
    const gone = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#fail(worker, error);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`file hasher worker exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  /** What `worker` owed fails with `error`. */
  #fail(worker: Worker, error: Error): void {
    for (const [id, pending] of this.#pending) {
      if (pending.worker !== worker) continue;
      this.#pending.delete(id);
      pending.answer.reject(error);
    }
  }
}
