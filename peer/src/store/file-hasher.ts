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
function schedule() {
  if (!scheduled && jobs.size > 0) { scheduled = true; setImmediate(turn); }
}
function close(job) {
  jobs.delete(job.id);
  try { fs.closeSync(job.fd); } catch {}
}
function fail(id, error) {
  parentPort.postMessage({ id, error: String(error && error.message), code: error && error.code });
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
      fail(job.id, error);
    }
  }
  schedule();
}
parentPort.on('message', (message) => {
  if (message.op === 'cancel') {
    const job = jobs.get(message.id);
    if (job) close(job);
    return;
  }
  try {
    const fd = fs.openSync(message.path, 'r');
    jobs.set(message.id, { id: message.id, fd, length: message.length, done: 0, hash: createHash('sha256') });
  } catch (error) {
    fail(message.id, error);
    return;
  }
  schedule();
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
 * node with more than one core hashes on one while it sends on another. One worker,
 * started on first use, keeping the process alive only while it owes an answer; if it dies, what it
 * was hashing fails and the next file starts a new one.
 */
export class FileHasher {
  #worker: Worker | undefined;
  /** Answers awaited, with the worker that owes them. */
  readonly #pending = new Map<number, { worker: Worker; answer: PromiseWithResolvers<WorkerAnswer> }>();
  #nextId = 0;

  /** sha256 of the first `length` bytes of the file at `path`; aborting `signal` gives the work up (and rejects). */
  async hash(path: string, length: number, signal?: AbortSignal): Promise<FileHash> {
    signal?.throwIfAborted();
    const worker = this.#started();
    const id = this.#nextId++;
    const onAbort = () => {
      if (!this.#pending.has(id)) return;
      worker.postMessage({ op: 'cancel', id });
      this.#settle(id, { id }, signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const answer = await this.#ask(worker, { op: 'hash', id, path, length });
      return { hex: answer.hex!, bytes: answer.bytes! };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Stops the worker; what it was hashing fails. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    this.#fail(worker, new Error('file hasher closed'));
    await worker.terminate();
  }

  #ask(worker: Worker, message: { op: string; id: number } & Record<string, unknown>): Promise<WorkerAnswer> {
    const answer = Promise.withResolvers<WorkerAnswer>();
    this.#pending.set(message.id, { worker, answer });
    // Kept alive while it owes an answer: a process with nothing else to do still awaits it.
    if (this.#pending.size === 1) worker.ref();
    worker.postMessage(message);
    return answer.promise;
  }

  /** Settles an awaited answer: with the worker's answer, or rejected with `error`. */
  #settle(id: number, message: WorkerAnswer, error?: unknown): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    if (this.#pending.size === 0) pending.worker.unref();
    if (error !== undefined) pending.answer.reject(error);
    else if (message.error !== undefined) {
      pending.answer.reject(
        Object.assign(new Error(message.error), message.code ? { code: message.code } : {}),
      );
    } else pending.answer.resolve(message);
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: WorkerAnswer) => this.#settle(message.id, message));
    const gone = (error: Error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#fail(worker, error);
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`file hasher worker exited with code ${code}`)));
    // After the listeners (adding a 'message' listener refs a worker again): idle, it keeps no process alive.
    worker.unref();
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
