/**
 * Virtual time for the simulator: a heap of timed callbacks, run in time
 * order (ties in the order scheduled). After each instant the promise
 * continuations the callbacks started all run before time moves on, so the
 * real download logic's async code sees time stand still while it computes.
 */
import type { Clock, Timer } from '../../peer/src/download/ports.ts';

/**
 * Something due at a virtual time: the Timer the clock hands out, which its
 * owner may also arm again (a flow's last byte moves with every re-rating).
 */
export abstract class Alarm implements Timer {
  /** the sequence number of the heap entry that rings it; -1 while not armed */
  ticket = -1;
  readonly #loop: EventLoop;

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  /** What happens when it rings. */
  abstract ring(): void;

  get armed(): boolean {
    return this.ticket >= 0;
  }

  cancel(): void {
    this.#loop.disarm(this);
  }
}

class CallbackAlarm extends Alarm {
  readonly #fn: () => void;

  constructor(loop: EventLoop, fn: () => void) {
    super(loop);
    this.#fn = fn;
  }

  ring(): void {
    this.#fn();
  }
}

export class EventLoop implements Clock {
  #now = 0;
  #seq = 0;
  /**
   * A binary heap of entries (at, seq, alarm) on (at, seq): at and seq side by side in `#keys`,
   * so sifting reads one flat array rather than an object per comparison. An entry whose
   * alarm was cancelled or armed again since (its ticket is another seq) is stale: skipped
   * when it surfaces, and swept out once most entries are.
   */
  #keys = new Float64Array(2 * 1024);
  readonly #alarms: Alarm[] = [];
  #stale = 0;
  /** callbacks run so far */
  events = 0;

  now(): number {
    return this.#now;
  }

  setTimer(fn: () => void, ms: number): Timer {
    const alarm = new CallbackAlarm(this, fn);
    this.arm(alarm, ms);
    return alarm;
  }

  /** (Re)arms `alarm` to ring `ms` from now, after the alarms already due then. */
  arm(alarm: Alarm, ms: number): void {
    if (alarm.ticket >= 0) this.#dropped();
    const seq = this.#seq++;
    alarm.ticket = seq;
    this.#push(this.#now + Math.max(0, ms), seq, alarm);
  }

  disarm(alarm: Alarm): void {
    if (alarm.ticket < 0) return;
    alarm.ticket = -1;
    this.#dropped();
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
  run(options: {
    stop: () => boolean;
    untilMs: number;
    wallDeadline: number;
    onInstant?: () => void;
  }): Promise<'done' | 'idle' | 'virtual-limit' | 'wall-limit'> {
    const alarms = this.#alarms;
    let instants = 0;
    return new Promise((resolve) => {
      // `step` only ever runs as a microtask, and queues the next one through a tick: Node runs
      // a tick queued from a microtask once the microtask queue is empty, so every continuation
      // the instant started (and all they started) has run before time moves. That holds while
      // the simulated code defers work only through promises and this clock, never through
      // process.nextTick; a macrotask per instant (setImmediate) cost more than the flows.
      const resume = (fn: () => void) => () => queueMicrotask(fn);
      const step = () => {
        if (options.stop()) return resolve('done');
        this.#dropStaleTop();
        if (alarms.length === 0) {
          // Nothing is due: a turn of the event loop, then look again.
          setImmediate(resume(() => (alarms.length > 0 ? step() : resolve('idle'))));
          return;
        }
        const at = this.#keys[0]!;
        if (at > options.untilMs) return resolve('virtual-limit');
        this.#now = at;
        while (alarms.length > 0 && this.#keys[0] === at) {
          const alarm = alarms[0]!;
          const live = alarm.ticket === this.#keys[1];
          this.#pop();
          if (!live) {
            this.#stale--;
            continue;
          }
          alarm.ticket = -1;
          this.events++;
          alarm.ring();
        }
        options.onInstant?.();
        // Now and then a full turn of the event loop, and a look at the wall clock.
        if (++instants % 1024 === 0) setImmediate(afterTurn);
        else process.nextTick(afterInstant);
      };
      const afterInstant = resume(step);
      const afterTurn = resume(() =>
        performance.now() > options.wallDeadline ? resolve('wall-limit') : step(),
      );
      queueMicrotask(step);
    });
  }

  /** An armed entry went stale; when most are, they are swept out. */
  #dropped(): void {
    if (++this.#stale > 4096 && this.#stale * 2 > this.#alarms.length) this.#sweep();
  }

  #dropStaleTop(): void {
    const alarms = this.#alarms;
    while (alarms.length > 0 && alarms[0]!.ticket !== this.#keys[1]) {
      this.#pop();
      this.#stale--;
    }
  }

  /** Keeps the live entries and heapifies them (the order of equal keys is seq's: unchanged). */
  #sweep(): void {
    const keys = this.#keys;
    const alarms = this.#alarms;
    let kept = 0;
    for (let i = 0; i < alarms.length; i++) {
      const alarm = alarms[i]!;
      if (alarm.ticket !== keys[2 * i + 1]) continue;
      keys[2 * kept] = keys[2 * i]!;
      keys[2 * kept + 1] = keys[2 * i + 1]!;
      alarms[kept++] = alarm;
    }
    alarms.length = kept;
    this.#stale = 0;
    for (let i = (kept >> 1) - 1; i >= 0; i--) this.#down(i);
  }

  #push(at: number, seq: number, alarm: Alarm): void {
    const alarms = this.#alarms;
    if (2 * alarms.length === this.#keys.length) {
      const grown = new Float64Array(2 * this.#keys.length);
      grown.set(this.#keys);
      this.#keys = grown;
    }
    const keys = this.#keys;
    let i = alarms.length;
    alarms.push(alarm);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const parentAt = keys[2 * parent]!;
      if (parentAt < at || (parentAt === at && keys[2 * parent + 1]! < seq)) break;
      keys[2 * i] = parentAt;
      keys[2 * i + 1] = keys[2 * parent + 1]!;
      alarms[i] = alarms[parent]!;
      i = parent;
    }
    keys[2 * i] = at;
    keys[2 * i + 1] = seq;
    alarms[i] = alarm;
  }

  #pop(): void {
    const alarms = this.#alarms;
    const keys = this.#keys;
    const last = alarms.pop()!;
    const n = alarms.length;
    if (n === 0) return;
    alarms[0] = last;
    keys[0] = keys[2 * n]!;
    keys[1] = keys[2 * n + 1]!;
    this.#down(0);
  }

  #down(start: number): void {
    const keys = this.#keys;
    const alarms = this.#alarms;
    const n = alarms.length;
    let i = start;
    const at = keys[2 * i]!;
    const seq = keys[2 * i + 1]!;
    const alarm = alarms[i]!;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      let childAt = keys[2 * child]!;
      let childSeq = keys[2 * child + 1]!;
      if (child + 1 < n) {
        const rightAt = keys[2 * child + 2]!;
        const rightSeq = keys[2 * child + 3]!;
        if (rightAt < childAt || (rightAt === childAt && rightSeq < childSeq)) {
          child++;
          childAt = rightAt;
          childSeq = rightSeq;
        }
      }
      if (at < childAt || (at === childAt && seq < childSeq)) break;
      keys[2 * i] = childAt;
      keys[2 * i + 1] = childSeq;
      alarms[i] = alarms[child]!;
      i = child;
    }
    keys[2 * i] = at;
    keys[2 * i + 1] = seq;
    alarms[i] = alarm;
  }
}
