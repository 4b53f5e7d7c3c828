import { Worker } from 'node:worker_threads';

/** What hashing a file found: the sha256 of its first `bytes` bytes (fewer than asked when the file is shorter). */
export interface FileHash {
  hex: string;
  bytes: number;
}

/** Bytes one file is hashed by before the next file's turn: a big blob does not hold a small one back. */
const SLICE_BYTES = 4 * 1024 * 1024;

/** A raise of a job's allowance smaller than this waits for the next: a few messages per blob, not one per read. */
const ALLOW_STEP_BYTES = 4 * 1024 * 1024;

/**
 * The worker's code (CommonJS, evaluated in the worker): files hashed with synchronous reads of 1 MiB,
 * the files asked for at once taking turns of SLICE_BYTES, each no further than its allowance. Self-contained,
 * so the peer's single-file bundle needs no second file.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const buffer = Buffer.allocUnsafe(1024 * 1024);
const jobs = new Map();
let scheduled = false;
const runnable = (job) => job.done < Math.min(job.allowed, job.length);
function schedule() {
  if (scheduled) return;
  for (const job of jobs.values()) {
    if (runnable(job)) { scheduled = true; setImmediate(turn); return; }
  }
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
    if (!runnable(job)) continue;
    try {
      const until = Math.min(job.allowed, job.length);
      let slice = 0;
      let ended = false;
      while (slice < ${SLICE_BYTES} && job.done < until) {
        const n = fs.readSync(job.fd, buffer, 0, Math.min(buffer.length, until - job.done), job.done);
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
  const job = jobs.get(message.id);
  if (message.op === 'cancel') {
    if (job) close(job);
    return;
  }
  if (message.op === 'allow') {
    if (job) job.allowed = Math.max(job.allowed, message.allowed);
    schedule();
    return;
  }
  try {
    const fd = fs.openSync(message.path, 'r');
    // Nothing to read: the answer needs no turn.
    if (message.length === 0) {
      fs.closeSync(fd);
      parentPort.postMessage({ id: message.id, hex: createHash('sha256').digest('hex'), bytes: 0 });
      return;
    }
    jobs.set(message.id, {
      id: message.id, fd, length: message.length, allowed: message.allowed, done: 0, hash: createHash('sha256'),
    });
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

/** One file being hashed on the worker, for everyone who asked for it meanwhile. */
interface Job {
  id: number;
  key: string;
  worker: Worker;
  length: number;
  /** The furthest byte anyone let it hash to, and what the worker was last told. */
  allowed: number;
  told: number;
  waiting: Set<PromiseWithResolvers<FileHash>>;
}

/** A file's hash under way: its answer, and a way to let it go further (see `FileHasher.start`). */
export interface FileHashing {
  result: Promise<FileHash>;
  /** Lets the hash read the file up to `bytes` (it never goes back). */
  allow(bytes: number): void;
}

export interface FileHashOptions {
  signal?: AbortSignal;
  /** How far the hash may read before `allow` lets it further; the whole file by default. */
  allowed?: number;
}

/**
 * sha256 of files on a worker thread, so hashing a big blob does not hold the event loop, and a
 * node with more than one core hashes on one while it sends on another. Callers that ask for the
 * same file while it is being hashed share one pass over it, which reads as far as the furthest
 * caller allows: hundreds of clients of one blob, or clients that never read, cost one hash paced
 * by the fastest reader, not one each. One worker, started on first use, keeping the process alive
 * only while it owes an answer; if it dies, what it was hashing fails and the next file starts a new one.
 */
export class FileHasher {
  #worker: Worker | undefined;
  readonly #jobs = new Map<number, Job>();
  readonly #jobsByFile = new Map<string, Job>();
  #nextId = 0;

  /** sha256 of the first `length` bytes of the file at `path`; aborting `signal` gives the work up (and rejects). */
  hash(path: string, length: number, signal?: AbortSignal): Promise<FileHash> {
    return this.start(path, length, { signal }).result;
  }

  /** Starts hashing the first `length` bytes of the file at `path`, or joins a pass over it under way. */
  start(path: string, length: number, options: FileHashOptions = {}): FileHashing {
    const { signal } = options;
    if (signal?.aborted) return { result: Promise.reject(signal.reason), allow: () => {} };
    const job = this.#jobFor(path, length);
    const answer = Promise.withResolvers<FileHash>();
    job.waiting.add(answer);
    this.#allow(job, options.allowed ?? Number.POSITIVE_INFINITY);
    const onAbort = () => {
      if (!job.waiting.delete(answer)) return;
      answer.reject(signal!.reason);
      if (job.waiting.size === 0) {
        job.worker.postMessage({ op: 'cancel', id: job.id });
        this.#forget(job);
      }
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const result = answer.promise.finally(() => signal?.removeEventListener('abort', onAbort));
    return { result, allow: (bytes) => this.#allow(job, bytes) };
  }

  /** Stops the worker; what it was hashing fails. */
  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    if (!worker) return;
    this.#fail(worker, new Error('file hasher closed'));
    await worker.terminate();
  }

  #jobFor(path: string, length: number): Job {
    const key = `${length}:${path}`;
    const running = this.#jobsByFile.get(key);
    if (running) return running;
    const worker = this.#started();
    const job: Job = { id: this.#nextId++, key, worker, length, allowed: 0, told: 0, waiting: new Set() };
    this.#jobs.set(job.id, job);
    this.#jobsByFile.set(key, job);
    // Kept alive while it owes an answer: a process with nothing else to do still awaits it.
    if (this.#jobs.size === 1) worker.ref();
    worker.postMessage({ op: 'hash', id: job.id, path, length, allowed: 0 });
    return job;
  }

  #allow(job: Job, bytes: number): void {
    const allowed = Math.min(bytes, job.length);
    if (allowed <= job.allowed) return;
    job.allowed = allowed;
    if (allowed < job.told + ALLOW_STEP_BYTES && allowed < job.length) return;
    job.told = job.allowed;
    job.worker.postMessage({ op: 'allow', id: job.id, allowed: job.allowed });
  }

  #forget(job: Job): void {
    this.#jobs.delete(job.id);
    if (this.#jobsByFile.get(job.key) === job) this.#jobsByFile.delete(job.key);
    if (this.#jobs.size === 0) job.worker.unref();
  }

  /** Settles a job with the worker's answer. */
  #answered(message: WorkerAnswer): void {
    const job = this.#jobs.get(message.id);
    if (!job) return;
    this.#forget(job);
    const error =
      message.error === undefined
        ? undefined
        : Object.assign(new Error(message.error), message.code ? { code: message.code } : {});
    for (const answer of job.waiting) {
      if (error) answer.reject(error);
      else answer.resolve({ hex: message.hex!, bytes: message.bytes! });
    }
  }

  #started(): Worker {
    if (this.#worker) return this.#worker;
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    worker.on('message', (message: WorkerAnswer) => this.#answered(message));
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
    for (const job of [...this.#jobs.values()]) {
      if (job.worker !== worker) continue;
      this.#forget(job);
      for (const answer of job.waiting) answer.reject(error);
    }
  }
}
