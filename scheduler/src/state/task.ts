import { Bitfield, pieceLayout, pieceSizeFor } from '@shoal/protocol';
import type { PeerFlights } from './flights.ts';
import { HolderRing } from './holder-ring.ts';
import { type RackTally, TaskRacks, writableRack } from './racks.ts';

export interface OriginRangeState {
  remaining: Set<number>;
  lastProgress: number;
}

/** A peer's view inside one task. */
export interface TaskPeer {
  readonly id: string;
  have: Bitfield;
  /** pieces on their way to it from parents (started and ended by Flights) */
  readonly inFlight: PeerFlights;
  origin: OriginRangeState | undefined;
  /** back-to-source ranges it was given in this task */
  originRangesTaken: number;
  want: number;
  /** a client reads the blob through it from this piece on (its next pieces go first), if one does */
  reading: number | undefined;
  /** it is downloading (has the task open), as opposed to only holding pieces */
  active: boolean;
  /** its rack's tally in this task, for the rack its host named when it joined; undefined: no rack label */
  readonly rack: RackTally | undefined;
}

/** What a task is told of hosts beyond its own peers. */
export interface HolderEvents {
  /** whether the host has an upload slot free */
  isFree(id: string): boolean;
  /** the host holds its first piece of the task */
  firstPiece(id: string, task: SwarmTask): void;
  /** the rack the host's labels name, if any */
  rackOf?(id: string): string | undefined;
}

const NO_HOST_EVENTS: HolderEvents = { isFree: () => false, firstPiece: () => {} };

/**
 * Everything the scheduler knows about one blob: its piece table, who holds
 * which pieces, what is in flight from parents and from the origin.
 */
export class SwarmTask {
  readonly digest: string;
  readonly size: number;
  readonly pieceSize: number;
  readonly pieceCount: number;
  /** piece index -> sha256, from back-to-source reports */
  readonly table: (Uint8Array<ArrayBuffer> | undefined)[];
  /** hosts whose origin reports filled the table (suspects if it proves poisoned) */
  readonly tableReporters = new Set<string>();
  sealed = false;
  readonly peers = new Map<string, TaskPeer>();
  /** piece index -> its holders (kept in step with the peers' bitfields) */
  readonly holders: HolderRing[];
  /**
   * Piece index -> how many hold it (the size of its holder ring), in one flat table kept in step
   * with the rings: a decision reads it for every piece the requester lacks.
   */
  readonly holderCounts: Uint32Array;
  /** piece index -> host fetching it from the origin */
  readonly originInFlight = new Map<number, string>();
  /** peers holding a back-to-source range now (kept by startOrigin, endOrigin and releaseOrigin) */
  originFetchers = 0;
  /** hosts blocklisted for this task only */
  readonly blocklist = new Set<string>();
  /**
   * Holders of at least one piece with an upload slot free: the only parents a
   * decision can use. Kept in step as slots are taken and freed (SwarmState
   * calls holderFreeChanged), so a decision where every holder is busy, the
   * common case in a swarm short of upload capacity, looks at nobody instead
   * of at busy holders or free hosts that hold nothing of the blob.
   */
  readonly freeHolders = new Set<string>();
  /**
   * Piece index -> how many of its holders have an upload slot free, kept in
   * step with freeHolders: a piece with none is not searched for at all, which
   * is what most decisions in a swarm short of upload slots would find.
   */
  readonly freeHolderCounts: Uint32Array;
  /**
   * The pieces whose freeHolderCounts are above zero, as a bitfield kept in step with them: a
   * decision steps through those the requester lacks a byte at a time (Bitfield.nextMissingFrom).
   */
  readonly freeHeld: Bitfield;
  /** Piece index -> how many peers are fetching it from a parent now (kept by Flights, through countFlight). */
  readonly inFlightCounts: Uint32Array;
  /**
   * The racks of the task's peers: per rack and piece, holders and peers fetching it, and the
   * rack's free holders. Kept in step here (holdings, free slots) and through countFlight (fetches).
   */
  readonly racks: TaskRacks;
  /** Pieces held summed over the task's peers, kept in step with their bitfields: completion without a scan. */
  heldPieces = 0;
  /** Peers holding every piece. */
  completePeers = 0;
  /** Pieces and bytes reported fetched from the origin so far. */
  originPieces = 0;
  originBytes = 0;
  readonly #hosts: HolderEvents;

  constructor(digest: string, size: number, pieceSize = pieceSizeFor(size), hosts = NO_HOST_EVENTS) {
    const layout = pieceLayout(size, pieceSize);
    this.digest = digest;
    this.size = size;
    this.pieceSize = layout.pieceSize;
    this.pieceCount = layout.count;
    this.table = new Array(layout.count).fill(undefined);
    this.holders = Array.from({ length: layout.count }, () => new HolderRing());
    this.holderCounts = new Uint32Array(layout.count);
    this.freeHolderCounts = new Uint32Array(layout.count);
    this.freeHeld = new Bitfield(layout.count);
    this.inFlightCounts = new Uint32Array(layout.count);
    this.racks = new TaskRacks(layout.count);
    this.#hosts = hosts;
  }

  /** Bytes of one piece (the last one may be short). */
  pieceBytes(index: number): number {
    return Math.min(this.pieceSize, this.size - index * this.pieceSize);
  }

  /** A piece fetched from the origin was reported. */
  countOrigin(index: number): void {
    this.originPieces++;
    this.originBytes += this.pieceBytes(index);
  }

  peer(id: string): TaskPeer {
    let peer = this.peers.get(id);
    if (!peer) {
      const rack = this.#hosts.rackOf?.(id);
      peer = {
        id,
        have: new Bitfield(this.pieceCount),
        inFlight: new Map(),
        origin: undefined,
        originRangesTaken: 0,
        want: 0,
        reading: undefined,
        active: false,
        rack: rack === undefined ? undefined : this.racks.join(rack),
      };
      this.peers.set(id, peer);
    }
    return peer;
  }

  addHolding(id: string, have: Bitfield): void {
    const peer = this.peer(id);
    for (let index = have.nextPresent(); index !== -1; index = have.nextPresent(index + 1))
      this.markHas(peer, index);
  }

  markHas(peer: TaskPeer, index: number): void {
    if (!peer.have.set(index)) return;
    this.heldPieces++;
    if (peer.have.complete) this.completePeers++;
    this.holders[index]!.add(peer.id);
    this.holderCounts[index]!++;
    const rack = peer.rack && writableRack(peer.rack);
    if (rack) rack.holders[index]!++;
    const free = this.#hosts.isFree(peer.id);
    if (free) this.#countFreeHolder(index, 1);
    if (peer.have.count !== 1) return;
    this.#hosts.firstPiece(peer.id, this);
    if (!free) return;
    this.freeHolders.add(peer.id);
    rack?.freeHolders.add(peer.id);
  }

  /**
   * A fetch of a piece from a parent starts (+1) or ends (-1) for the peer: the piece's tally of
   * peers fetching it, and its rack's. Flights alone calls it, once per piece on its way to a peer.
   */
  countFlight(peer: TaskPeer, index: number, delta: 1 | -1): void {
    this.inFlightCounts[index]! += delta;
    if (peer.rack) writableRack(peer.rack).inFlight[index]! += delta;
  }

  /** A host got its first free upload slot, or lost its last one. */
  holderFreeChanged(id: string, free: boolean): void {
    const peer = this.peers.get(id);
    if (!peer || peer.have.count === 0) return;
    const rackFree = peer.rack && writableRack(peer.rack).freeHolders;
    if (free) {
      this.freeHolders.add(id);
      rackFree?.add(id);
    } else {
      this.freeHolders.delete(id);
      rackFree?.delete(id);
    }
    this.#countFree(peer, free ? 1 : -1);
  }

  /** The peer's holdings leave the swarm view: holders, free holders and counts, its rack's too. */
  #forgetHolding(peer: TaskPeer): void {
    const rack = peer.rack && writableRack(peer.rack);
    const have = peer.have;
    for (let index = have.nextPresent(); index !== -1; index = have.nextPresent(index + 1)) {
      if (this.holders[index]!.delete(peer.id)) this.holderCounts[index]!--;
      if (rack) rack.holders[index]!--;
    }
    rack?.freeHolders.delete(peer.id);
    if (this.freeHolders.delete(peer.id)) this.#countFree(peer, -1);
    this.heldPieces -= peer.have.count;
    if (peer.have.complete) this.completePeers--;
  }

  #countFree(peer: TaskPeer, delta: 1 | -1): void {
    if (peer.have.complete) for (let i = 0; i < this.pieceCount; i++) this.#countFreeHolder(i, delta);
    else
      for (let index = peer.have.nextPresent(); index !== -1; index = peer.have.nextPresent(index + 1))
        this.#countFreeHolder(index, delta);
  }

  /** One more (+1) or one fewer (-1) holder of a piece has an upload slot free. */
  #countFreeHolder(index: number, delta: 1 | -1): void {
    const counts = this.freeHolderCounts;
    counts[index]! += delta;
    if (counts[index] === 0) this.freeHeld.clear(index);
    else this.freeHeld.set(index);
  }

  /** A search found this holder of a piece busy: the next search, which looks at the first few, starts after it. */
  passOver(index: number, id: string): void {
    this.holders[index]?.passOver(id);
  }

  /**
   * Forgets what a peer holds of the blob (it said it no longer has a piece it reported), keeping
   * its own download: pieces it lands from now on are counted again.
   */
  dropHolding(id: string): void {
    const peer = this.peers.get(id);
    if (!peer || peer.have.count === 0) return;
    this.#forgetHolding(peer);
    peer.have = new Bitfield(this.pieceCount);
  }

  /**
   * Forgets a peer entirely (it left): its pieces vanish from the swarm view, its origin range is freed.
   * Its fetches from parents are Flights.dropPeer's to end first, which gives their slots back.
   */
  removePeer(id: string): TaskPeer | undefined {
    const peer = this.peers.get(id);
    if (!peer) return undefined;
    this.#forgetHolding(peer);
    this.releaseOrigin(peer);
    this.peers.delete(id);
    if (peer.rack) this.racks.leave(peer.rack);
    return peer;
  }

  /** The peer takes a back-to-source range of these pieces. */
  startOrigin(peer: TaskPeer, first: number, count: number, now: number): void {
    this.releaseOrigin(peer);
    const remaining = new Set<number>();
    for (let index = first; index < first + count; index++) {
      this.originInFlight.set(index, peer.id);
      remaining.add(index);
    }
    peer.origin = { remaining, lastProgress: now };
    peer.originRangesTaken++;
    this.originFetchers++;
  }

  /** The peer's range has no piece left to fetch. */
  endOrigin(peer: TaskPeer): void {
    if (!peer.origin || peer.origin.remaining.size > 0) return;
    peer.origin = undefined;
    this.originFetchers--;
  }

  /** The peer gives its range up (stalled, left, failed): what it did not fetch goes back to the origin. */
  releaseOrigin(peer: TaskPeer): void {
    if (!peer.origin) return;
    for (const index of peer.origin.remaining) {
      if (this.originInFlight.get(index) === peer.id) this.originInFlight.delete(index);
    }
    peer.origin = undefined;
    this.originFetchers--;
  }

  /**
   * Drops the piece table and every piece that was only vouched for by it (it proved poisoned). The
   * peers' fetches from parents are Flights.dropPeer's to end first.
   */
  resetTable(): void {
    this.table.fill(undefined);
    this.tableReporters.clear();
    this.sealed = false;
    for (const holders of this.holders) holders.clear();
    this.holderCounts.fill(0);
    this.freeHolders.clear();
    this.freeHolderCounts.fill(0);
    for (let index = 0; index < this.pieceCount; index++) this.freeHeld.clear(index);
    this.racks.clearHoldings();
    this.heldPieces = 0;
    this.completePeers = 0;
    for (const peer of this.peers.values()) {
      peer.have = new Bitfield(this.pieceCount);
      peer.origin = undefined;
    }
    this.originInFlight.clear();
    this.originFetchers = 0;
  }
}
