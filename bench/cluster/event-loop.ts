/**
 * Virtual time for the simulator: a heap of timed callbacks, run in time
 * order (ties in the order scheduled). After each instant the promise
 * continuations the callbacks started all run before time moves on, so the
 * real download logic's async code sees time stand still while it computes.
 */
import type { Clock, Timer } from '../../peer/src/download/ports.ts';

interface Event {
  at: number;
  seq: number;
  fn: (() => void) | undefined;
}

export class EventLoop implements Clock {
  #now = 0;
  #seq = 0;
  #heap: Event[] = [];
  /** cancelled events still in the heap: dropped in bulk once they are most of it */
  #cancelled = 0;
  /** callbacks run so far */
  events = 0;

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const event: Event = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#push(event);
    return {
      cancel: () => {
        if (!event.fn) return;
        event.fn = undefined;
        if (++this.#cancelled > 4096 && this.#cancelled * 2 > this.#heap.length) this.#compact();
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const timer = this.setTimer(resolve, ms);
      signal?.addEventListener(
        'abort',
        () => {
          timer.cancel();
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /**
   * Runs events until none is left, `stop()` says so, virtual time passes
   * `untilMs`, or `wallDeadline` (performance.now() time) passes. Returns why it stopped.
   */
  async run(options: {
    stop: () => boolean;
    untilMs: number;
    wallDeadline: number;
    onInstant?: () => void;
  }): Promise<'done' | 'idle' | 'virtual-limit' | 'wall-limit'> {
    let checks = 0;
    for (;;) {
      if (options.stop()) return 'done';
      const next = this.#heap[0];
      if (!next) {
        // Continuations may still schedule timers.
        await new Promise((resolve) => setImmediate(resolve));
        if (!this.#heap[0]) return 'idle';
        continue;
      }
      if (next.at > options.untilMs) return 'virtual-limit';
      this.#now = next.at;
      while (this.#heap[0] && this.#heap[0].at === this.#now) {
        const event = this.#pop()!;
        const fn = event.fn;
        if (!fn) {
          this.#cancelled--;
          continue;
        }
        event.fn = undefined;
        this.events++;
        fn();
      }
      options.onInstant?.();
      await new Promise((resolve) => setImmediate(resolve));
      if (++checks % 1024 === 0 && performance.now() > options.wallDeadline) return 'wall-limit';
    }
  }

  /** Rebuilds the heap without its cancelled events (timeouts re-armed per piece leave many). */
  #compact(): void {
    const live = this.#heap.filter((e) => e.fn);
    this.#heap = live;
    this.#cancelled = 0;
    for (let i = (live.length >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #less(a: Event, b: Event): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(event: Event): void {
    const heap = this.#heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(event, heap[parent]!)) break;
      heap[i] = heap[parent]!;
      i = parent;
    }
    heap[i] = event;
  }

  #pop(): Event | undefined {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      this.#down(0);
    }
    return top;
  }

  #down(start: number): void {
    const heap = this.#heap;
    let i = start;
    const item = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= heap.length) break;
      const r = l + 1;
      const m = r < heap.length && this.#less(heap[r]!, heap[l]!) ? r : l;
      if (!this.#less(heap[m]!, item)) break;
      heap[i] = heap[m]!;
      i = m;
    }
    heap[i] = item;
  }
}
