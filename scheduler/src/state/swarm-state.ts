import { isDigest } from '@shoal/oci';
import { MAX_PIECE_SIZE, MIN_PIECE_SIZE, pieceSizeFor } from '@shoal/protocol';
import { Flights } from './flights.ts';
import { HostRegistry } from './hosts.ts';
import { RACK_LABEL } from './racks.ts';
import { type HolderEvents, SwarmTask } from './task.ts';

/**
 * Largest task the scheduler keeps state for (4 TiB at the largest piece size).
 * Its per-piece tables are allocated up front, so a peer announcing a huge
 * size or a tiny piece size must not make it allocate gigabytes.
 */
export const MAX_TASK_PIECES = 65_536;

/** The scheduler's one home of state: hosts and tasks. */
export class SwarmState {
  readonly hosts = new HostRegistry((id, free) => {
    for (const task of this.#heldBy.get(id) ?? []) task.holderFreeChanged(id, free);
  });
  readonly tasks = new Map<string, SwarmTask>();
  /** Fetches in flight: the only writer of the peers' in-flight maps and of the hosts' taken upload slots. */
  readonly flights = new Flights(this.hosts);
  /** host -> the tasks it holds a piece of: where its upload slots count as free parents */
  readonly #heldBy = new Map<string, Set<SwarmTask>>();
  readonly #holderEvents: HolderEvents = {
    isFree: (id) => this.hosts.freeHosts.has(id),
    firstPiece: (id, task) => {
      let tasks = this.#heldBy.get(id);
      if (!tasks) {
        tasks = new Set();
        this.#heldBy.set(id, tasks);
      }
      tasks.add(task);
    },
    rackOf: (id) => this.hosts.get(id)?.labels[RACK_LABEL],
  };

  /**
   * The task for a digest, created when the size is known; undefined while
   * nobody knows the size, and for digests, sizes or piece sizes no real blob has.
   */
  task(digest: string, size?: number, pieceSize?: number): SwarmTask | undefined {
    const existing = this.tasks.get(digest);
    if (existing) return existing;
    if (size === undefined || size <= 0) return undefined;
    if (!isDigest(digest) || !Number.isSafeInteger(size)) return undefined;
    if (pieceSize !== undefined && !(pieceSize >= MIN_PIECE_SIZE && pieceSize <= MAX_PIECE_SIZE))
      return undefined;
    if (Math.ceil(size / (pieceSize ?? pieceSizeFor(size))) > MAX_TASK_PIECES) return undefined;
    const task = new SwarmTask(digest, size, pieceSize, this.#holderEvents);
    this.tasks.set(digest, task);
    return task;
  }

  /** Removes a host from every task; returns the tasks it took part in. */
  removeHost(id: string): SwarmTask[] {
    const touched: SwarmTask[] = [];
    // Every fetch from a host holds one of its upload slots: with none taken, no peer of any task
    // is fetching from it, and the scan of every peer below (a rack leaving at once made that
    // quadratic) is skipped.
    const uploading = (this.hosts.get(id)?.activeUploads ?? 0) > 0;
    // Forgotten first: the fetches from it dropped below have no slots left to give back, and it is
    // not among the hosts offered to starved peers.
    this.hosts.remove(id);
    for (const task of this.tasks.values()) {
      const peer = task.peers.get(id);
      if (peer) {
        // Its own fetches end with it: their parents get the upload slots back.
        this.flights.dropPeer(task, peer);
        task.removePeer(id);
        touched.push(task);
      }
      // Its children's in-flight fetches from it will fail; they end now (a second fetch of the same
      // piece goes on alone).
      if (uploading) this.flights.dropParent(task, id);
    }
    this.#heldBy.delete(id);
    return touched;
  }

  /** Tasks with no peer left are forgotten. */
  prune(): void {
    for (const [digest, task] of this.tasks) if (task.peers.size === 0) this.tasks.delete(digest);
  }
}
