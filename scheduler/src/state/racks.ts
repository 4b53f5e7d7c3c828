/**
 * The label whose value names a host's rack (the simulator and the peer's
 * `--label rack=...` set it; LOCALITY_WEIGHTS weighs the same key).
 */
export const RACK_LABEL = 'rack';

/**
 * One rack's share of a task: how many of the rack's peers hold and fetch each
 * piece, and which of its holders have an upload slot free. SwarmTask keeps it
 * in step with its peers' bitfields and free slots, Flights (through SwarmTask)
 * with their fetches; nothing else writes it.
 */
export interface RackTally {
  readonly name: string;
  /** the task's peers in this rack */
  readonly peers: number;
  /** piece index -> its holders in this rack */
  readonly holders: Uint32Array;
  /** piece index -> peers of this rack fetching it from a parent now */
  readonly inFlight: Uint32Array;
  /** the rack's holders of some piece of the task with an upload slot free */
  readonly freeHolders: ReadonlySet<string>;
}

interface Tally extends RackTally {
  peers: number;
  readonly freeHolders: Set<string>;
}

/**
 * A task's racks, by name. A rack's tables are allocated when its first peer
 * joins the task and dropped when its last one leaves, so the memory is
 * pieces x racks the task's peers are in, never more racks than peers.
 */
export class TaskRacks {
  readonly #pieceCount: number;
  readonly #racks = new Map<string, Tally>();

  constructor(pieceCount: number) {
    this.#pieceCount = pieceCount;
  }

  get size(): number {
    return this.#racks.size;
  }

  get(name: string): RackTally | undefined {
    return this.#racks.get(name);
  }

  values(): IterableIterator<RackTally> {
    return this.#racks.values();
  }

  /** A peer of the rack joins the task. */
  join(name: string): RackTally {
    let rack = this.#racks.get(name);
    if (!rack) {
      rack = {
        name,
        peers: 0,
        holders: new Uint32Array(this.#pieceCount),
        inFlight: new Uint32Array(this.#pieceCount),
        freeHolders: new Set(),
      };
      this.#racks.set(name, rack);
    }
    rack.peers++;
    return rack;
  }

  /** A peer of the rack left the task (its holdings and fetches were counted out first). */
  leave(rack: RackTally): void {
    const tally = rack as Tally;
    if (--tally.peers === 0) this.#racks.delete(tally.name);
  }

  /** Every holding is forgotten (the task's piece table proved poisoned); fetches are Flights' to end. */
  clearHoldings(): void {
    for (const rack of this.#racks.values()) {
      rack.holders.fill(0);
      rack.freeHolders.clear();
    }
  }
}

/** The tally's writable side, for SwarmTask alone. */
export function writableRack(rack: RackTally): {
  holders: Uint32Array;
  inFlight: Uint32Array;
  freeHolders: Set<string>;
} {
  return rack as Tally;
}
