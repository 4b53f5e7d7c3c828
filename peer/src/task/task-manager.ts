import type { Digest } from '@shoal/oci';
import type { Logger } from '@shoal/telemetry';
import { type BlobStore, refusedWriteCode } from '../store/blob-store.ts';
import { BlobTask } from './blob-task.ts';
import { TaskAbortedError } from './errors.ts';
import type { OriginSource } from './origin-download.ts';

/** How a task gets its pieces: from the origin alone, or through the swarm. */
export type TaskRunner = (task: BlobTask, origin: OriginSource) => Promise<void>;

/** Fetches the pieces covering bytes [start, end) of a running task ahead of its order. */
export type FirstFetcher = (
  task: BlobTask,
  origin: OriginSource,
  start: number,
  end: number,
) => Promise<void>;

export interface TaskManagerOptions {
  store: BlobStore;
  logger: Logger;
  runner: TaskRunner;
  /** How a client's Range of a running task is fetched first; without it, the range waits its turn. */
  fetchFirst?: FirstFetcher;
  /** Called once per task; a failed task passes its reason (DigestMismatchError for wrong content). */
  onTaskEnd?: (digest: Digest, result: 'complete' | 'failed', reason?: Error) => void;
}

/** At most one download task per digest on this node, however many clients ask. */
export class TaskManager {
  readonly #tasks = new Map<Digest, BlobTask>();
  /** The origin each running task fetches from. */
  readonly #origins = new Map<BlobTask, OriginSource>();
  /** Per digest, the end of the latest run (cleanup included). */
  readonly #ending = new Map<Digest, Promise<void>>();
  readonly #options: TaskManagerOptions;

  constructor(options: TaskManagerOptions) {
    this.#options = options;
  }

  get active(): number {
    return this.#tasks.size;
  }

  get(digest: Digest): BlobTask | undefined {
    return this.#tasks.get(digest);
  }

  /**
   * Joins the running task for `digest`, or starts one fetching from `origin`.
   * A task started here logs through `logger` (the starting request's, so its
   * lines carry that request's id).
   */
  join(digest: Digest, origin: OriginSource, logger: Logger = this.#options.logger): BlobTask {
    const running = this.#tasks.get(digest);
    if (running && running.state !== 'failed') return running;
    // A failed task may still be closing its partial: the new attempt starts once it has.
    const previous = this.#ending.get(digest) ?? Promise.resolve();
    const task = new BlobTask(digest, this.#options.store);
    this.#tasks.set(digest, task);
    this.#origins.set(task, origin);
    const ended = previous.then(() => this.#run(task, origin, logger));
    this.#ending.set(digest, ended);
    void ended.finally(() => {
      if (this.#ending.get(digest) === ended) this.#ending.delete(digest);
    });
    return task;
  }

  /**
   * A client wants bytes [start, end) of a running task now: the pieces covering them are fetched
   * ahead of the task's order. Never rejects: a failed fetch ahead leaves the range to the task.
   */
  async fetchFirst(task: BlobTask, start: number, end: number): Promise<void> {
    const origin = this.#origins.get(task);
    if (!origin || !this.#options.fetchFirst) return;
    try {
      await this.#options.fetchFirst(task, origin, start, end);
    } catch (error) {
      this.#options.logger.info(
        { digest: task.digest, start, end, err: { message: (error as Error).message } },
        'fetching a range ahead failed; it comes with the rest of the blob',
      );
    }
  }

  async #run(task: BlobTask, origin: OriginSource, logger: Logger): Promise<void> {
    const log = logger.child({ digest: task.digest });
    const started = Date.now();
    try {
      await this.#options.runner(task, origin);
      await task.finished;
      log.info({ size: task.layout?.size, ms: Date.now() - started }, 'blob complete');
      this.#options.onTaskEnd?.(task.digest, 'complete');
    } catch (error) {
      const refused = refusedWriteCode(error);
      if (refused) this.#options.store.noteRefusedWrite(refused);
      await task.fail(error as Error);
      const reason = task.error ?? (error as Error);
      log.warn(
        { err: { message: reason.message, code: (reason as { code?: string }).code } },
        'blob task failed',
      );
      this.#options.onTaskEnd?.(task.digest, 'failed', reason);
    } finally {
      this.#origins.delete(task);
      if (this.#tasks.get(task.digest) === task) this.#tasks.delete(task.digest);
    }
  }

  /** Stops every task; partials stay on disk for the next run. */
  async shutdown(): Promise<void> {
    const tasks = [...this.#tasks.values()];
    await Promise.all(tasks.map((t) => t.fail(new TaskAbortedError('shutting down'))));
    await Promise.all(tasks.map((t) => t.finished.catch(() => {})));
  }
}
