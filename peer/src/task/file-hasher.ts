import { Worker } from 'node:worker_threads';

/** Messages to the hashing worker (file-hash-worker.ts). */
export type HashRequest =
  | { type: 'open'; id: number; path: string }
  | { type: 'advance'; id: number; end: number }
  | { type: 'digest'; id: number }
  | { type: 'close'; id: number };

/** Its answers, to `digest` only. */
export type HashReply =
  | { id: number; type: 'digest'; hex: string; position: number }
  | { id: number; type: 'error'; message: string };

/** An idle worker is stopped after this long; it costs ~20 MB of memory while it lives. */
const IDLE_MS = 5_000;

type Waiter = { resolve: (hex: string) => void; reject: (error: Error) => void };

/**
 * The process's one hashing thread: started on first use, stopped once no
 * file is open for a while, restarted when needed again. If it dies, every
 * job it held fails.
 */
class HashThread {
  #worker: Worker | undefined;
  #nextId = 1;
  #open = new Set<number>();
  readonly #waiters = new Map<number, Waiter>();
  #idleTimer: NodeJS.Timeout | undefined;

  open(path: string): { id: number; worker: Worker } {
    clearTimeout(this.#idleTimer);
    this.#worker ??= this.#start();
    const worker = this.#worker;
    const id = this.#nextId++;
    this.#open.add(id);
    worker.postMessage({ type: 'open', id, path } satisfies HashRequest);
    return { id, worker };
  }

  send(worker: Worker, request: HashRequest): boolean {
    if (worker !== this.#worker) return false;
    worker.postMessage(request);
    return true;
  }

  digest(worker: Worker, id: number): Promise<string> {
    const answer = Promise.withResolvers<string>();
    this.#waiters.set(id, answer);
    if (!this.send(worker, { type: 'digest', id })) {
      this.#waiters.delete(id);
      answer.reject(new Error('the hashing thread stopped'));
    }
    return answer.promise;
  }

  close(worker: Worker, id: number): void {
    this.send(worker, { type: 'close', id });
    this.#open.delete(id);
    if (this.#open.size === 0 && this.#worker) {
      clearTimeout(this.#idleTimer);
      this.#idleTimer = setTimeout(() => this.#stop(), IDLE_MS);
      this.#idleTimer.unref();
    }
  }

  #start(): Worker {
    const worker = new Worker(new URL('./file-hash-worker.ts', import.meta.url));
    worker.unref();
    worker.on('message', (reply: HashReply) => {
      const waiter = this.#waiters.get(reply.id);
      if (!waiter) return;
      this.#waiters.delete(reply.id);
      if (reply.type === 'digest') waiter.resolve(reply.hex);
      else waiter.reject(new Error(`hashing failed: ${reply.message}`));
    });
    const lost = (error: Error) => {
      if (this.#worker !== worker) return;
      this.#worker = undefined;
      this.#open.clear();
      for (const waiter of this.#waiters.values()) waiter.reject(error);
      this.#waiters.clear();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`the hashing thread exited with code ${code}`)));
    return worker;
  }

  #stop(): void {
    const worker = this.#worker;
    if (!worker || this.#open.size > 0) return;
    this.#worker = undefined;
    void worker.terminate();
  }
}

const thread = new HashThread();

/**
 * sha256 of a file's prefix, computed on another thread that reads the file
 * itself: the caller names how far the file is final (`advance`), never hands
 * over bytes, and spends no time of its own hashing.
 */
export class FileHasher {
  readonly #id: number;
  readonly #worker: Worker;
  #position = 0;
  #closed = false;

  constructor(path: string) {
    ({ id: this.#id, worker: this.#worker } = thread.open(path));
  }

  /** How far the hash has been asked to go. */
  get position(): number {
    return this.#position;
  }

  /** Hashes on up to `end`; the bytes before `end` must be written already and stay as they are. */
  advance(end: number): void {
    if (this.#closed || end <= this.#position) return;
    this.#position = end;
    thread.send(this.#worker, { type: 'advance', id: this.#id, end });
  }

  /** Hex digest of everything asked for; rejects if a read failed or the thread died. */
  async digestHex(): Promise<string> {
    if (this.#closed) throw new Error('file hasher closed');
    return thread.digest(this.#worker, this.#id);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    thread.close(this.#worker, this.#id);
  }
}
