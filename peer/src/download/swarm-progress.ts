import type { Clock } from './ports.ts';

/**
 * When this node last landed a piece, or received bytes of one, of any blob
 * through its scheduled downloads. One per node, shared by its sessions: a session the scheduler
 * leaves waiting while its siblings take every parent slot it could use (a
 * multi-layer image on a slow link) is waiting its turn, not stalled, and
 * falling back would send its blob to the origin again.
 */
export class SwarmProgress {
  readonly #clock: Clock;
  #last = Number.NEGATIVE_INFINITY;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** A piece landed, or bytes of one arrived. */
  touch(): void {
    this.#last = this.#clock.now();
  }

  /** Milliseconds since the last progress (Infinity: never). */
  idleMs(): number {
    return this.#clock.now() - this.#last;
  }
}
