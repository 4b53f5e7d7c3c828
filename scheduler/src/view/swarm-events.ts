import type { ServerResponse } from 'node:http';
import type { SwarmFeed } from './swarm-feed.ts';
import { type ViewQuery, viewFrame } from './swarm-view.ts';

export interface SwarmEventsOptions {
  feed: SwarmFeed;
  /** time between updates */
  intervalMs?: number;
  /** viewers at once; more are refused */
  maxViewers?: number;
}

interface Viewer {
  res: ServerResponse;
  query: ViewQuery;
}

/**
 * Server-sent events of the swarm view: every viewer gets a frame (its own
 * pages of the shared snapshot) once per interval. A viewer that has not read
 * the previous frame yet skips this one, so a slow browser costs a bounded
 * buffer, never a growing one.
 */
export class SwarmEvents {
  readonly #feed: SwarmFeed;
  readonly #intervalMs: number;
  readonly #maxViewers: number;
  readonly #viewers = new Set<Viewer>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: SwarmEventsOptions) {
    this.#feed = options.feed;
    this.#intervalMs = options.intervalMs ?? 1000;
    this.#maxViewers = options.maxViewers ?? 32;
  }

  get viewers(): number {
    return this.#viewers.size;
  }

  get full(): boolean {
    return this.#viewers.size >= this.#maxViewers;
  }

  /** Streams frames to `res` until the viewer goes away; the first one at once. */
  open(res: ServerResponse, query: ViewQuery): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-store',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // A reconnecting EventSource waits this long: about one update.
    res.write(`retry: ${this.#intervalMs}\n\n`);
    const viewer = { res, query };
    this.#viewers.add(viewer);
    res.on('close', () => {
      this.#viewers.delete(viewer);
      if (this.#viewers.size === 0) this.#stopTimer();
    });
    this.#send(viewer);
    this.#timer ??= setInterval(() => this.#tick(), this.#intervalMs);
    this.#timer.unref();
  }

  close(): void {
    this.#stopTimer();
    for (const viewer of this.#viewers) viewer.res.end();
    this.#viewers.clear();
  }

  #tick(): void {
    for (const viewer of this.#viewers) if (!viewer.res.writableNeedDrain) this.#send(viewer);
  }

  #send(viewer: Viewer): void {
    const frame = viewFrame(this.#feed.snapshot(), viewer.query, (digest) => this.#feed.detail(digest));
    viewer.res.write(`event: swarm\ndata: ${JSON.stringify(frame)}\n\n`);
  }

  #stopTimer(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
