import { Worker } from 'node:worker_threads';

/** What hashing a file found: the sha256 of its first `bytes` bytes (fewer than asked when the file is shorter). */
export interface FileHash {
  hex: string;
  bytes: number;
}

/**
 * A sha256 over a file from its start, taken further as the file is written (a download's whole-blob
 * digest): bytes already hashed are never read again.
 */
export interface RunningFileHash {
  /** Hashes the file on up to `end` (a no-op when it is there already); resolves with how far it got. */
  extend(end: number): Promise<number>;
  /** The digest of what was hashed (after `extend(size)`); the running hash ends. */
  digest(): Promise<FileHash>;
  /** Forgets it without a digest (the download failed). */
  drop(): void;
}

/** Bytes one file is hashed by before the next file's turn: a big blob does not hold a small one back. */
const SLICE_BYTES = 4 * 1024 * 1024;

/**
 * The worker's code (CommonJS, evaluated in the worker): files hashed with synchronous reads of 1 MiB;
 * the jobs asked for at once take turns of SLICE_BYTES. A job hashes a file's first bytes once (`hash`)
 * or takes a running hash further (`extend`; `digest` ends it). Self-contained, so the peer's
 * single-file bundle needs no second file.
 */
const WORKER_SOURCE = `
'use strict';
const { parentPort } = require('node:worker_threads');
const fs = require('node:fs');
const { createHash } = require('node:crypto');
const buffer = Buffer.allocUnsafe(1024 * 1024);
const jobs = new Map();
const running = new Map();
let scheduled = false;
function schedule() {
  if (!scheduled && jobs.size > 0) { scheduled = true; setImmediate(turn); }
}
function closeFile(file) {
  if (file.fd === undefined) return;
  try { fs.closeSync(file.fd); } catch {}
  file.fd = undefined;
}
function fail(id, error) {
  parentPort.postMessage({ id, error: String(error && error.message), code: error && error.code });
}
function newFile(path) {
  return { fd: fs.openSync(path, 'r'), hash: createHash('sha256'), position: 0, ended: false };
}
function turn() {
  scheduled = false;
  for (const job of [...jobs.values()]) {
    const file = job.file;
    try {
      if (file.fd === undefined) throw new Error('the running hash was ended');
      let slice = 0;
      while (slice < ${SLICE_BYTES} && file.position < job.end) {
        const n = fs.readSync(file.fd, buffer, 0, Math.min(buffer.length, job.end - file.position), file.position);
        if (n === 0) { file.ended = true; break; }
        file.hash.update(buffer.subarray(0, n));
        file.position += n;
        slice += n;
      }
      if (file.position >= job.end || file.ended) {
        jobs.delete(job.id);
        if (job.once) {
          closeFile(file);
          parentPort.postMessage({ id: job.id, hex: file.hash.digest('hex'), bytes: file.position });
        } else if (file.position < job.end) {
          fail(job.id, new Error('the file ends at byte ' + file.position + ', before ' + job.end));
        } else parentPort.postMessage({ id: job.id, bytes: file.position });
      }
    } catch (error) {
      jobs.delete(job.id);
      if (job.once) closeFile(file);
      fail(job.id, error);
    }
  }
  schedule();
}
parentPort.on('message', (message) => {
  try {
    switch (message.op) {
      case 'hash':
        jobs.set(message.id, { id: message.id, once: true, end: message.length, file: newFile(message.path) });
        break;
      case 'extend': {
        let file = running.get(message.key);
        if (!file) { file = newFile(message.path); running.set(message.key, file); }
        if (file.position >= message.end) {
          parentPort.postMessage({ id: message.id, bytes: file.position });
          return;
        }
        jobs.set(message.id, { id: message.id, once: false, end: message.end, file });
        break;
      }
      case 'digest': {
        const file = running.get(message.key);
        running.delete(message.key);
        if (!file || file.fd === undefined) throw new Error('no running hash to end');
        closeFile(file);
        parentPort.postMessage({ id: message.id, hex: file.hash.digest('hex'), bytes: file.position });
        return;
      }
      case 'drop': {
        const file = running.get(message.key);
        running.delete(message.key);
        if (file) closeFile(file);
        return;
      }
      case 'cancel': {
        const job = jobs.get(message.id);
        jobs.delete(message.id);
        if (job && job.once) closeFile(job.file);
        return;
      }
    }
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
 * node with more than one core hashes on one while it sends or receives on another. One worker,
 * started on first use, keeping the process alive only while it owes an answer; if it dies, what it
 * was hashing fails (running hashes too) and the next file starts a new one.
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
      this.#settle(id, { id, error: String(signal!.reason?.message ?? signal!.reason) }, signal!.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const answer = await this.#ask(worker, { op: 'hash', id, path, length });
      return { hex: answer.hex!, bytes: answer.bytes! };
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  /** A running hash of the file at `path`, taken further with `extend` as the file is written. */
  running(path: string): RunningFileHash {
    const key = this.#nextId++;
    let owner: Worker | undefined;
    const worker = () => {
      const current = this.#started();
      owner ??= current;
      // A worker that died took the running hash with it.
      if (owner !== current) throw new Error('the file hasher restarted: the running hash is lost');
      return current;
    };
    return {
      extend: async (end) => {
        const id = this.#nextId++;
        return (await this.#ask(worker(), { op: 'extend', id, key, path, end })).bytes!;
      },
      digest: async () => {
        const id = this.#nextId++;
        const answer = await this.#ask(worker(), { op: 'digest', id, key });
        return { hex: answer.hex!, bytes: answer.bytes! };
      },
      drop: () => {
        if (owner && owner === this.#worker) owner.postMessage({ op: 'drop', key });
      },
    };
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

/** The file hasher of a process that was given none of its own (one worker for all its users). */
export const defaultFileHasher = new FileHasher();
