import type { HostRegistry } from './hosts.ts';
import type { SwarmTask, TaskPeer } from './task.ts';

/** One fetch of a piece from a parent, and since when (the scheduler's clock). */
export interface Fetch {
  readonly parent: string;
  readonly since: number;
}

/**
 * Pieces a peer fetches from one parent one after another, holding one of the
 * parent's upload slots until the last of them ends.
 */
export interface Lease {
  readonly parent: string;
  /** its pieces still on their way */
  open: number;
  /** when it started, or last landed a piece: its next piece is due a piece timeout after */
  progressAt: number;
}

/** A piece on its way to a peer. */
export interface Flight extends Fetch {
  /** the lease it is part of, when it shares its parent's slot with other pieces */
  lease?: Lease;
  /** the same piece asked of a second parent in the requester's endgame: the first copy to land wins */
  second?: Fetch;
  /** the parent did not hold it when it was assigned: it was on its way to the parent (the child waits there) */
  pending?: true;
}

/** Since when a piece has been due: a piece of a lease waits for those before it in the lease. */
export function dueSince(flight: Readonly<Flight>): number {
  return flight.lease ? flight.lease.progressAt : flight.since;
}

/** A peer's pieces on their way, piece index -> flight. Read anywhere; only Flights changes it. */
export type PeerFlights = ReadonlyMap<number, Readonly<Flight>>;

/**
 * The one writer of fetches in flight. A fetch is counted in three places that
 * must agree: the requester's in-flight map, the task's per-piece tally of peers
 * fetching each piece (`SwarmTask.inFlightCounts` and its rack's tally, through
 * `SwarmTask.countFlight`: rarity without a scan of the peers) and the parent's taken upload slots (`Host.activeUploads`: who is a free
 * parent). Every start and end of a fetch goes through here, so they cannot drift.
 * Hosts whose slots come back are collected for the dispatcher, which offers
 * them to starved peers.
 */
export class Flights {
  readonly #hosts: HostRegistry;
  #freed = new Set<string>();

  constructor(hosts: HostRegistry) {
    this.#hosts = hosts;
  }

  /** A lease from `parent` starts, taking one of its slots; its pieces are started with it. */
  startLease(parent: string, now: number): Lease {
    this.#hosts.takeSlot(parent);
    return { parent, open: 0, progressAt: now };
  }

  /**
   * The peer starts fetching a piece (not already on its way to it) from a parent: in `lease`, from
   * the lease's parent and slot, or else on a slot of its own. `pending`: in a lease, a piece the
   * parent does not hold yet.
   */
  start(
    task: SwarmTask,
    peer: TaskPeer,
    index: number,
    parent: string,
    now: number,
    lease?: Lease,
    pending = false,
  ): void {
    const flights = writable(peer);
    if (!flights.has(index)) task.countFlight(peer, index, 1);
    if (lease) {
      lease.open++;
      flights.set(index, pending ? { parent, since: now, lease, pending } : { parent, since: now, lease });
    } else {
      flights.set(index, { parent, since: now });
      this.#hosts.takeSlot(parent);
    }
  }

  /**
   * In its endgame the peer asks a second parent for a piece already on its way
   * (and not yet asked twice). The piece's tally is unchanged: it counts peers, not copies.
   */
  startSecond(peer: TaskPeer, index: number, parent: string, now: number): void {
    writable(peer).get(index)!.second = { parent, since: now };
    this.#hosts.takeSlot(parent);
  }

  /**
   * The piece landed: its flight ends and both slots come back (in the endgame the
   * requester drops the other copy itself). Returns the flight, undefined when none was on its way.
   */
  land(task: SwarmTask, peer: TaskPeer, index: number, now: number): Readonly<Flight> | undefined {
    const flight = writable(peer).get(index);
    if (!flight) return undefined;
    this.#forget(task, peer, index);
    if (flight.lease) flight.lease.progressAt = now;
    this.#releaseFirst(flight);
    if (flight.second) this.#release(flight.second.parent);
    return flight;
  }

  /** The fetch of a piece from `parent` failed; in the endgame the other fetch of it goes on alone. */
  fail(task: SwarmTask, peer: TaskPeer, index: number, parent: string): void {
    const flight = writable(peer).get(index);
    if (!flight) return;
    if (flight.second?.parent === parent) this.#endSecond(flight);
    else this.#endFirst(task, peer, index, flight);
  }

  /** Fetches not landed `timeoutMs` after they started are given up. Returns whether any was. */
  expire(task: SwarmTask, peer: TaskPeer, now: number, timeoutMs: number): boolean {
    let expired = false;
    for (const [index, flight] of writable(peer)) {
      if (flight.second && now - flight.second.since > timeoutMs) {
        this.#endSecond(flight);
        expired = true;
      }
      if (now - dueSince(flight) > timeoutMs) {
        this.#endFirst(task, peer, index, flight);
        expired = true;
      }
    }
    return expired;
  }

  /** The peer fetches nothing more (done, reset or gone): every slot its fetches hold comes back. */
  dropPeer(task: SwarmTask, peer: TaskPeer): void {
    const flights = writable(peer);
    for (const flight of flights.values()) {
      this.#releaseFirst(flight);
      if (flight.second) this.#release(flight.second.parent);
    }
    for (const index of flights.keys()) task.countFlight(peer, index, -1);
    flights.clear();
  }

  /**
   * The parent left: the fetches from it will fail, so they end now. A piece the
   * endgame also asked of another parent goes on from that one. Its own slots
   * come back only if it is still registered (the scheduler forgets it first).
   */
  dropParent(task: SwarmTask, parent: string): void {
    for (const peer of task.peers.values()) {
      for (const [index, flight] of writable(peer)) {
        if (flight.second?.parent === parent) this.#endSecond(flight);
        else if (flight.parent === parent) this.#endFirst(task, peer, index, flight);
      }
    }
  }

  /** The hosts that got upload slots back since the last call, in the order they did. */
  takeFreed(): ReadonlySet<string> {
    const freed = this.#freed;
    this.#freed = new Set();
    return freed;
  }

  /** The first fetch of a piece ended: the endgame's second one, if any, takes its place. */
  #endFirst(task: SwarmTask, peer: TaskPeer, index: number, flight: Flight): void {
    this.#releaseFirst(flight);
    if (flight.second) writable(peer).set(index, flight.second);
    else this.#forget(task, peer, index);
  }

  /** The endgame's second fetch of a piece ended: the first goes on. */
  #endSecond(flight: Flight): void {
    this.#release(flight.second!.parent);
    delete flight.second;
  }

  /** The piece is on its way to the peer no more. */
  #forget(task: SwarmTask, peer: TaskPeer, index: number): void {
    if (writable(peer).delete(index)) task.countFlight(peer, index, -1);
  }

  /** A piece's first fetch ended: its slot comes back, or, in a lease, once the lease's last piece ended. */
  #releaseFirst(flight: Flight): void {
    if (!flight.lease) this.#release(flight.parent);
    else if (--flight.lease.open === 0) this.#release(flight.lease.parent);
  }

  /** A slot back makes the host one to offer starved peers (a host that left has none to give). */
  #release(parent: string): void {
    if (this.#hosts.releaseSlot(parent)) this.#freed.add(parent);
  }
}

/** The peer's in-flight map as its only writer sees it. */
function writable(peer: TaskPeer): Map<number, Flight> {
  return peer.inFlight as Map<number, Flight>;
}
