import type { SwarmState } from '../state/swarm-state.ts';
import type { SwarmTraffic } from '../state/traffic.ts';
import { pieceMap, type SwarmSnapshot, type TaskDetail, takeSnapshot, taskRow } from './swarm-view.ts';

export interface SwarmFeedOptions {
  state: SwarmState;
  traffic: SwarmTraffic;
  now?: () => number;
  /** a snapshot younger than this is reused, however many viewers and API calls ask */
  maxAgeMs?: number;
}

/**
 * The swarm view's snapshots, taken at most once per `maxAgeMs` and shared by
 * every viewer, so the work the view takes from the scheduler's event loop is
 * bounded by time, not by how many ask.
 */
export class SwarmFeed {
  readonly #state: SwarmState;
  readonly #traffic: SwarmTraffic;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  #snapshot: SwarmSnapshot | undefined;
  /** piece maps of the current snapshot, by digest: viewers of the same task share one */
  readonly #details = new Map<string, TaskDetail>();

  constructor(options: SwarmFeedOptions) {
    this.#state = options.state;
    this.#traffic = options.traffic;
    this.#now = options.now ?? Date.now;
    this.#maxAgeMs = options.maxAgeMs ?? 500;
  }

  snapshot(): SwarmSnapshot {
    const now = this.#now();
    if (this.#snapshot && now - this.#snapshot.at < this.#maxAgeMs) return this.#snapshot;
    const hosts = this.#state.hosts;
    this.#details.clear();
    this.#snapshot = takeSnapshot({
      hosts: hosts.values(),
      isBlocked: (id) => hosts.isBlocked(id),
      tasks: this.#state.tasks.values(),
      traffic: this.#traffic.window(),
      served: (id) => this.#traffic.served(id),
      now,
    });
    return this.#snapshot;
  }

  /** One task with its piece map, as of the current snapshot; undefined when there is no such task. */
  detail(digest: string): TaskDetail | undefined {
    this.snapshot();
    const cached = this.#details.get(digest);
    if (cached) return cached;
    const task = this.#state.tasks.get(digest);
    if (!task) return undefined;
    const detail = { ...taskRow(task), pieceMap: pieceMap(task) };
    this.#details.set(digest, detail);
    return detail;
  }
}
