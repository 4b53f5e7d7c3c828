import {
  Bitfield,
  type Dropped,
  FailureReason,
  type OpenTask,
  PIECE_TIMEOUT_MS,
  type PieceAssignment,
  type PieceReport,
  pieceTimeoutMs,
  type Register,
  type SchedulerMessage,
  type TaskDone,
  type TaskInfo,
  WAITING_NOTICE_MS,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { SchedulerMetrics } from './metrics.ts';
import { type AssignInput, assignPieces, type RackView } from './policy/assign.ts';
import { ENDGAME_MISSING, endgamePieces, endgameWaitMs } from './policy/endgame.ts';
import { HOSTS_SENT, MEMBERS_TOLD_OF_NEWCOMER, sample, TASK_MEMBERS_SENT } from './policy/member-sample.ts';
import type { ParentView } from './policy/parent-score.ts';
import { dueSince, type Lease, type PeerFlights } from './state/flights.ts';
import type { HostRegistry } from './state/hosts.ts';
import type { RackTally } from './state/racks.ts';
import type { SwarmState } from './state/swarm-state.ts';
import type { SwarmTask, TaskPeer } from './state/task.ts';
import { ORIGIN, type SwarmTraffic } from './state/traffic.ts';

export interface DispatcherOptions {
  state: SwarmState;
  send: (hostId: string, message: SchedulerMessage) => void;
  logger: Logger;
  metrics: SchedulerMetrics;
  /** where the bytes reported moving between peers are counted, for the swarm view */
  traffic?: SwarmTraffic;
  now?: () => number;
  /** the most pieces in one back-to-source range */
  originRangePieces?: number;
  /** the most pieces in a peer's first back-to-source range of a blob; each next may double, up to originRangePieces */
  firstOriginRangePieces?: number;
  /** the most peers fetching one blob from the origin at once */
  originFetchers?: number;
  /** an origin range with no progress for this long is handed to someone else */
  originTimeoutMs?: number;
  /**
   * a piece assignment not reported for this long frees its slot and is reissued, at the least (default:
   * as long as peers fetch it); big pieces get as long as they need at MIN_PIECE_RATE
   */
  pieceTimeoutMs?: number;
  /** fixed piece size for new tasks; undefined = chosen from the blob size */
  pieceSize?: number;
  /** the most pieces in one lease (LEASE_PIECES): pieces a child fetches from one parent one after another */
  leasePieces?: number;
  /** peers a task needs before its assignments become leases (LEASE_MIN_PEERS) */
  leaseMinPeers?: number;
  /**
   * a lease its parent's held pieces leave short also takes the piece on its way to that parent
   * (pending: the child asks the parent to wait for it). Default false: in the cluster simulator it cut
   * messages per piece by a third or more at 10 GbE but made `wide`'s tail 2-4% longer (bench/RESULTS.md).
   */
  pendingPieces?: boolean;
}

/**
 * The scheduling loop: applies what peers report to the swarm state, asks the
 * pure policy for assignments and sends them. Event driven (every report can
 * unblock waiting peers) plus a periodic sweep for timeouts.
 */
export class Dispatcher {
  readonly #state: SwarmState;
  readonly #send: DispatcherOptions['send'];
  readonly #log: Logger;
  readonly #metrics: SchedulerMetrics;
  readonly #traffic: SwarmTraffic | undefined;
  readonly #now: () => number;
  readonly #originRangePieces: number;
  readonly #firstOriginRangePieces: number;
  readonly #originFetchers: number;
  readonly #originTimeoutMs: number;
  readonly #pieceTimeoutMs: number;
  readonly #pieceSize: number | undefined;
  readonly #leasePieces: number;
  readonly #leaseMinPeers: number;
  /**
   * Peers that still want pieces after their last decision, oldest first. A slot
   * freed anywhere can unblock them, whatever task reported it.
   */
  readonly #starved = new Map<TaskPeer, { task: SwarmTask; peer: TaskPeer }>();
  /** The same peers by task, oldest first: new pieces in a task are offered to its starved peers only. */
  readonly #starvedByTask = new Map<SwarmTask, Map<string, TaskPeer>>();
  /** The same peers by host: a report serves its sender's other starved blobs first. */
  readonly #starvedByHost = new Map<string, Map<TaskPeer, SwarmTask>>();
  /** When each peer of a task last heard from the scheduler about it (a starved one is told it waits). */
  readonly #toldAt = new WeakMap<TaskPeer, number>();
  /** What a decision shows the policy: one object, set anew for each decision (see DecisionInput). */
  readonly #input: DecisionInput;
  /** Whether a host may be a parent in the decision under way (the requester excluded). */
  readonly #eligible = (id: string) => this.#input.eligible(id);
  /** the starved peers the last sweep retries, and how many of them it has */
  #retries: { task: SwarmTask; peer: TaskPeer }[] = [];
  #retried = 0;

  constructor(options: DispatcherOptions) {
    this.#state = options.state;
    this.#send = options.send;
    this.#log = options.logger;
    this.#metrics = options.metrics;
    this.#traffic = options.traffic;
    this.#now = options.now ?? Date.now;
    this.#originRangePieces = options.originRangePieces ?? 4;
    this.#firstOriginRangePieces = options.firstOriginRangePieces ?? 1;
    this.#originFetchers = options.originFetchers ?? 8;
    this.#originTimeoutMs = options.originTimeoutMs ?? 20_000;
    this.#pieceTimeoutMs = options.pieceTimeoutMs ?? PIECE_TIMEOUT_MS;
    this.#pieceSize = options.pieceSize;
    this.#leasePieces = options.leasePieces ?? LEASE_PIECES;
    this.#leaseMinPeers = options.leaseMinPeers ?? LEASE_MIN_PEERS;
    this.#input = new DecisionInput(this.#state.hosts, {
      originFetchers: this.#originFetchers,
      originRangePieces: this.#originRangePieces,
      firstOriginRangePieces: this.#firstOriginRangePieces,
      pendingPieces: options.pendingPieces ?? false,
    });
  }

  register(hostId: string, message: Register): void {
    this.#state.hosts.upsert(
      hostId,
      {
        addrs: message.addrs,
        labels: Object.fromEntries(message.labels),
        uploadSlots: message.uploadSlots || 8,
      },
      this.#now(),
    );
    for (const holding of message.holdings) {
      // A complete copy serves any layout; a partial one only its own.
      const pieceSize = holding.complete ? this.#pieceSize : holding.pieceSize || this.#pieceSize;
      const task = this.#state.task(holding.digest, Number(holding.size), pieceSize);
      if (!task) continue;
      const have = holding.complete
        ? Bitfield.full(task.pieceCount)
        : safeBitfield(task.pieceCount, holding.bitfield);
      if (have) task.addHolding(hostId, have);
    }
    this.#log.info({ host: hostId, holdings: message.holdings.length }, 'host registered');
    const hosts = this.#state.hosts;
    const known = sample(hosts.values(), HOSTS_SENT, (h) => h.id !== hostId && !hosts.isBlocked(h.id));
    this.#send(hostId, { swarm: { peers: known.map((h) => ({ id: h.id, addrs: h.addrs })) } });
    // And a few of them hear of the newcomer, so knowledge of each other goes both ways.
    const newcomer = hosts.get(hostId)!;
    for (const peer of known.slice(0, MEMBERS_TOLD_OF_NEWCOMER))
      this.#send(peer.id, { swarm: { peers: [{ id: hostId, addrs: newcomer.addrs }] } });
  }

  openTask(hostId: string, message: OpenTask): void {
    const size = Number(message.size);
    const task = this.#state.task(message.digest, size > 0 ? size : undefined, this.#pieceSize);
    if (!task) {
      // Nobody knows the size yet: the requester learns it from the origin and opens again.
      this.#send(hostId, { taskInfo: { digest: message.digest, size: 0, pieceSize: 0, members: [] } });
      return;
    }
    if (size > 0 && size !== task.size) {
      this.#log.warn(
        { host: hostId, digest: task.digest, size, known: task.size },
        'size disagrees with task',
      );
    }
    const isNew = !task.peers.get(hostId)?.active;
    const peer = task.peer(hostId);
    peer.active = true;
    peer.want = message.want;
    peer.reading = readingIn(task, message.reading);
    const have = safeBitfield(task.pieceCount, message.bitfield);
    // What it opens with is what it holds: a peer evicts a blob without telling anyone, and counted
    // as its own holder it would be given none of the pieces it lacks.
    if (peer.have.count > 0 && (!have || peer.have.hasAnyNotIn(have))) task.dropHolding(hostId);
    if (have) for (const index of have.present()) task.markHas(peer, index);
    const info = this.#taskInfo(task, hostId);
    this.#send(hostId, { taskInfo: info });
    this.#toldAt.set(peer, this.#now());
    if (isNew) {
      // A few of the members it was told about hear of it too, so they know each other both ways and
      // carry on among themselves without a scheduler. Only a few: telling every member would cost
      // each open a message per peer of the task, and a rollout of N peers N^2.
      const newcomer = [{ id: hostId, addrs: this.#state.hosts.get(hostId)?.addrs ?? [] }];
      const told = sample(
        info.members,
        MEMBERS_TOLD_OF_NEWCOMER,
        (m) => task.peers.get(m.id)?.active === true,
      );
      for (const member of told) this.#send(member.id, { taskInfo: { ...info, members: newcomer } });
    }
    this.#dispatch(task, peer, 'open');
  }

  report(hostId: string, message: PieceReport): void {
    const task = this.#state.tasks.get(message.digest);
    if (!task) return;
    const peer = task.peer(hostId);
    const now = this.#now();
    const newPieces: number[] = [];
    for (const done of message.done) {
      if (done.index >= task.pieceCount) continue;
      const flight = this.#state.flights.land(task, peer, done.index, now);
      if (flight) {
        const from = flight.second?.parent === done.parent ? done.parent : flight.parent;
        this.#state.hosts.recordSpeed(from, done.length, done.millis);
      }
      if (done.parent !== '') this.#traffic?.piece(done.parent, hostId, done.length);
      if (done.parent === '') {
        this.#metrics.originPieces.inc();
        task.countOrigin(done.index);
        this.#traffic?.piece(ORIGIN, hostId, task.pieceBytes(done.index));
        if (task.originInFlight.get(done.index) === hostId) task.originInFlight.delete(done.index);
        if (peer.origin) {
          peer.origin.remaining.delete(done.index);
          peer.origin.lastProgress = now;
          task.endOrigin(peer);
        }
        if (!task.table[done.index] && done.sha256.length === 32) {
          task.table[done.index] = done.sha256;
          task.tableReporters.add(hostId);
        }
      }
      task.markHas(peer, done.index);
      newPieces.push(done.index);
    }
    for (const failed of message.failed) {
      const flight = peer.inFlight.get(failed.index);
      // A pending piece that did not come (the parent's own fetch of it failed) says nothing of what it holds.
      const wasPending = flight?.pending === true && flight.parent === failed.parent;
      this.#state.flights.fail(task, peer, failed.index, failed.parent);
      this.#metrics.pieceFailures.inc({ reason: reasonName(failed.reason) });
      if (failed.reason === FailureReason.origin) {
        if (task.originInFlight.get(failed.index) === hostId) task.originInFlight.delete(failed.index);
        peer.origin?.remaining.delete(failed.index);
        task.endOrigin(peer);
      } else if (failed.reason === FailureReason.absent && failed.parent && !wasPending) {
        // The parent evicted the blob or dropped its download since it reported the piece: asked
        // again it would answer the same, at once, for as long as the scheduler believed it.
        task.dropHolding(failed.parent);
      } else if (failed.reason === FailureReason.mismatch && failed.parent) {
        task.blocklist.add(failed.parent);
        this.#metrics.blocklistEvents.inc({ scope: 'task' });
        if (this.#state.hosts.strike(failed.parent)) {
          this.#metrics.blocklistEvents.inc({ scope: 'cluster' });
          this.#log.warn({ host: failed.parent }, 'host blocklisted cluster-wide after repeated bad pieces');
        }
      }
    }
    peer.want = message.want;
    peer.reading = readingIn(task, message.reading);
    this.#serveOwnStarved(task, peer);
    this.#dispatch(task, peer, 'report');
    // Failures can free origin pieces for anyone (a rare event): everyone waiting is asked. New
    // pieces only add what the reporter can upload: its starved fellows are offered them.
    if (message.failed.length > 0) this.#dispatchWaiting(task, hostId);
    else if (newPieces.length > 0) this.#offerHolder(task, hostId, 'new-holder', newPieces);
    this.#serveStarved();
  }

  taskDone(hostId: string, message: TaskDone): void {
    const task = this.#state.tasks.get(message.digest);
    if (!task) return;
    const peer = task.peer(hostId);
    peer.active = false;
    peer.want = 0;
    this.#unstarve(task, peer);
    task.releaseOrigin(peer);
    // Fetches it no longer reports (duplicates, pieces it got elsewhere) give their slots back.
    this.#state.flights.dropPeer(task, peer);
    if (message.ok) {
      for (let index = 0; index < task.pieceCount; index++) task.markHas(peer, index);
      task.sealed = true;
      // It holds every piece, so nothing is left for the origin: only its upload slots are new.
      this.#offerHolder(task, hostId, 'new-holder');
    } else {
      this.#log.warn(
        { host: hostId, digest: task.digest, error: message.error },
        'peer reports a failed task',
      );
      if (message.digestMismatch && !task.sealed) this.#poisoned(task, hostId);
    }
    this.#serveStarved();
  }

  /**
   * The host no longer holds these blobs (it evicted them): it is nobody's parent for them any more,
   * rather than until a child asks it for a piece and is told "not here".
   */
  dropped(hostId: string, message: Dropped): void {
    for (const digest of message.digests) this.#state.tasks.get(digest)?.dropHolding(hostId);
  }

  /**
   * Every piece of a blob matched the piece table, yet the blob did not match
   * its digest: the table was poisoned. It is dropped, the hosts that filled it
   * are blocklisted for the task and struck, and everyone starts over (from the
   * origin, since nobody holds a trusted piece any more).
   */
  #poisoned(task: SwarmTask, reportedBy: string): void {
    this.#log.warn(
      { digest: task.digest, reporters: [...task.tableReporters], reportedBy },
      'piece table poisoned',
    );
    this.#metrics.poisonedTables.inc();
    for (const reporter of task.tableReporters) {
      task.blocklist.add(reporter);
      this.#metrics.blocklistEvents.inc({ scope: 'task' });
      if (this.#state.hosts.strike(reporter)) this.#metrics.blocklistEvents.inc({ scope: 'cluster' });
    }
    for (const peer of task.peers.values()) {
      if (peer.active)
        this.#send(peer.id, { reset: { digest: task.digest, reason: 'piece table poisoned' } });
      peer.active = false;
      this.#unstarve(task, peer);
      this.#state.flights.dropPeer(task, peer);
    }
    task.resetTable();
  }

  hostLeft(hostId: string): void {
    // Tasks where its leaving puts pieces back to the origin: its range, pieces only it held.
    const toOrigin = new Set<SwarmTask>();
    for (const task of this.#state.tasks.values()) {
      const peer = task.peers.get(hostId);
      if (!peer) continue;
      this.#unstarve(task, peer);
      if (peer.origin) toOrigin.add(task);
      else for (const index of peer.have.present()) if (task.holders[index]!.size === 1) toOrigin.add(task);
    }
    const touched = this.#state.removeHost(hostId);
    this.#traffic?.forget(hostId);
    // Elsewhere it only takes capacity away: the slots it freed go to starved peers below.
    for (const task of touched) if (toOrigin.has(task)) this.#dispatchWaiting(task, hostId);
    this.#state.prune();
    this.#serveStarved();
  }

  /**
   * Periodic sweep: stalled origin ranges and silent piece assignments are
   * reissued, then the oldest starved peers are retried until `retryDeadline`
   * (performance.now() time). Returns whether retries are left, which
   * retryStarved() continues: a sweep of a thousand decisions at once would hold
   * every message behind it for hundreds of milliseconds.
   */
  sweep(retryDeadline = Number.POSITIVE_INFINITY): boolean {
    const now = this.#now();
    for (const task of this.#state.tasks.values()) {
      let changed = false;
      const stalled = new Set<string>();
      const timeoutMs = pieceTimeoutMs(task.pieceSize, this.#pieceTimeoutMs);
      for (const peer of task.peers.values()) {
        if (peer.origin && now - peer.origin.lastProgress > this.#originTimeoutMs) {
          this.#log.warn({ host: peer.id, digest: task.digest }, 'origin range stalled; reassigning');
          task.releaseOrigin(peer);
          stalled.add(peer.id);
          changed = true;
        }
        if (this.#state.flights.expire(task, peer, now, timeoutMs)) changed = true;
      }
      if (changed) this.#dispatchWaiting(task, '', stalled);
      else
        for (const peer of task.peers.values())
          if (this.#stuckInEndgame(task, peer, now)) this.#dispatch(task, peer, 'endgame');
    }
    this.#serveStarved();
    this.#noticeWaiting(now);
    this.#retries = [];
    this.#retried = 0;
    for (const entry of this.#starved.values()) {
      if (this.#retries.length >= STARVED_RETRIES_PER_SWEEP) break;
      this.#retries.push(entry);
    }
    return this.retryStarved(retryDeadline);
  }

  /**
   * The sweep's second chance for starved peers: a freed slot is offered to a few
   * of them only, so capacity that none of those could use would stay idle while
   * others wait and nothing else happens. The oldest starved peers (taken by the
   * last sweep) are decided for again, against every parent, until `deadline`;
   * whoever is still starved goes to the back, so the next sweeps reach the
   * others. Returns whether some are left for another call.
   */
  retryStarved(deadline = Number.POSITIVE_INFINITY): boolean {
    while (this.#retried < this.#retries.length) {
      if (this.#state.hosts.freeHosts.size === 0 || performance.now() >= deadline) break;
      const { task, peer } = this.#retries[this.#retried++]!;
      if (!this.#isCurrent(task, peer)) {
        this.#unstarve(task, peer);
        continue;
      }
      if (!this.#starved.has(peer)) continue;
      // No holder of the task with a slot free: a decision could only find nothing. It goes to the
      // back all the same, as a decision would put it, so the peers behind it get their turn.
      if (task.freeHolders.size > 0) this.#dispatch(task, peer, 'retry');
      else this.#starve(task, peer);
    }
    const more = this.#retried < this.#retries.length && this.#state.hosts.freeHosts.size > 0;
    if (!more) {
      this.#retries = [];
      this.#retried = 0;
    }
    return more;
  }

  /**
   * Offers freed upload slots to starved peers of every task, oldest first. Tries
   * at most a few peers per freed slot, so one report costs little however many
   * peers wait; whoever is not reached stays starved for the next freed slot.
   * Each try is a whole decision, with the freed hosts as its free parents: a
   * slot freed in one task can serve a peer waiting in another, and a peer
   * tried may get pieces from other holders with room too.
   */
  #serveStarved(): void {
    const given = this.#state.flights.takeFreed();
    if (given.size === 0 || this.#starved.size === 0) return;
    let free = 0;
    const freed = new Set<string>();
    for (const id of given) {
      const host = this.#state.hosts.get(id);
      const slots = host ? host.uploadSlots - host.activeUploads : 0;
      if (slots <= 0) continue;
      free += slots;
      freed.add(id);
    }
    // The oldest few that one of the freed hosts holds something for, taken before any is served:
    // a peer served and still starved goes to the back. Most starved peers lack only pieces the
    // freed hosts lack too; telling that from bitfields is much cheaper than a decision.
    const oldest: { task: SwarmTask; peer: TaskPeer }[] = [];
    const tries = free * STARVED_TRIES_PER_SLOT;
    let looked = 0;
    for (const entry of this.#starved.values()) {
      if (oldest.length >= tries || looked++ >= tries * STARVED_LOOKS_PER_TRY) break;
      if (holdsAnythingFor(entry.task, entry.peer, freed)) oldest.push(entry);
    }
    for (const { task, peer } of oldest) {
      if (free <= 0) break;
      if (!this.#isCurrent(task, peer)) {
        this.#unstarve(task, peer);
        continue;
      }
      free -= this.#dispatch(task, peer, 'freed-slot', freed);
    }
  }

  /**
   * A host gained pieces of a task (`pieces`; all it holds when absent): its
   * starved fellows there that lack one of those pieces, oldest first, are
   * offered them while it has upload slots free, a few tries per slot, so a
   * report costs little however many peers wait.
   */
  #offerHolder(task: SwarmTask, hostId: string, trigger: DecisionTrigger, pieces?: readonly number[]): void {
    const host = this.#state.hosts.get(hostId);
    const holder = task.peers.get(hostId);
    const starved = this.#starvedByTask.get(task);
    if (!host || !holder || !starved) return;
    const free = () => host.uploadSlots - host.activeUploads;
    const lacks = (peer: TaskPeer) =>
      pieces === undefined
        ? holder.have.hasAnyNotIn(peer.have)
        : pieces.some((i) => !peer.have.has(i) && !peer.inFlight.has(i));
    const oldest: TaskPeer[] = [];
    let looked = 0;
    for (const peer of starved.values()) {
      const tries = free() * STARVED_TRIES_PER_SLOT;
      if (oldest.length >= tries || looked++ >= tries * STARVED_LOOKS_PER_TRY) break;
      if (peer.id !== hostId && lacks(peer)) oldest.push(peer);
    }
    const only = new Set([hostId]);
    for (const peer of oldest) {
      if (free() <= 0) break;
      this.#dispatch(task, peer, trigger, only);
    }
  }

  /**
   * Starved peers told nothing for WAITING_NOTICE_MS hear that they wait their turn: an assignment of
   * nothing, which resets their stall timer. Without it a node of a slow or deep swarm, left without a
   * parent for the stall timeout while every holder's slots are busy, takes its blob to the origin.
   */
  #noticeWaiting(now: number): void {
    for (const { task, peer } of this.#starved.values()) {
      if (now - (this.#toldAt.get(peer) ?? Number.NEGATIVE_INFINITY) < WAITING_NOTICE_MS) continue;
      if (!peer.active || !this.#isCurrent(task, peer)) continue;
      this.#toldAt.set(peer, now);
      this.#metrics.waitingNotices.inc();
      this.#send(peer.id, { assignments: { digest: task.digest, pieces: [], origin: [] } });
    }
  }

  #starve(task: SwarmTask, peer: TaskPeer): void {
    // Keyed by the peer's state in the task, which is one object per task and host.
    // The entry is kept as it moves to the back: starving is what most decisions end in.
    const entry = this.#starved.get(peer) ?? { task, peer };
    this.#starved.delete(peer);
    this.#starved.set(peer, entry);
    let byTask = this.#starvedByTask.get(task);
    if (!byTask) {
      byTask = new Map();
      this.#starvedByTask.set(task, byTask);
    }
    byTask.delete(peer.id);
    byTask.set(peer.id, peer);
    let byHost = this.#starvedByHost.get(peer.id);
    if (!byHost) {
      byHost = new Map();
      this.#starvedByHost.set(peer.id, byHost);
    }
    byHost.set(peer, task);
  }

  /** Whether a starved entry still names a live task and this host's state in it (tasks and peers come and go). */
  #isCurrent(task: SwarmTask, peer: TaskPeer): boolean {
    return this.#state.tasks.get(task.digest) === task && task.peers.get(peer.id) === peer;
  }

  #unstarve(task: SwarmTask, peer: TaskPeer): void {
    this.#starved.delete(peer);
    const byTask = this.#starvedByTask.get(task);
    if (byTask?.delete(peer.id) && byTask.size === 0) this.#starvedByTask.delete(task);
    const byHost = this.#starvedByHost.get(peer.id);
    if (byHost?.delete(peer) && byHost.size === 0) this.#starvedByHost.delete(peer.id);
  }

  /**
   * A host reporting pieces of one blob is decided for first in the other blobs it waits for that are
   * further behind: a node is done when its last blob is, and otherwise the blob it lands pieces of
   * takes, report after report, the slots those reports free, while its other blobs wait behind every
   * starved peer. A blob ahead is left its place: serving it too cost messages and made the tail
   * longer (bench/RESULTS.md, `kraken`).
   */
  #serveOwnStarved(reported: SwarmTask, reporter: TaskPeer): void {
    const mine = this.#starvedByHost.get(reporter.id);
    if (!mine) return;
    const share = reporter.have.count / reported.pieceCount;
    for (const [peer, task] of [...mine]) {
      if (!this.#isCurrent(task, peer)) this.#unstarve(task, peer);
      else if (task !== reported && peer.have.count / task.pieceCount < share)
        this.#dispatch(task, peer, 'sibling');
    }
  }

  /** Dispatches every waiting peer but `except`; peers in `last` go after the others (a stalled range goes to someone else first). */
  #dispatchWaiting(task: SwarmTask, except: string, last: ReadonlySet<string> = new Set()): void {
    const waiting = [...task.peers.values()].filter(
      (peer) => peer.id !== except && peer.active && (peer.want > 0 || !peer.origin),
    );
    for (const peer of waiting)
      if (!last.has(peer.id)) this.#dispatch(task, peer, 'waiting', undefined, last);
    for (const peer of waiting) if (last.has(peer.id)) this.#dispatch(task, peer, 'waiting', undefined, last);
  }

  /**
   * Decides for one peer and sends what it gets; returns how many parent slots it took.
   * `among`: the only hosts with free slots that changed since it was last decided for
   * (a starved peer offered freed slots): parents are looked for among them.
   * `last`: peers whose origin range just stalled, not counted among those the
   * origin's pieces are split between (they get what the others leave).
   */
  #dispatch(
    task: SwarmTask,
    peer: TaskPeer,
    trigger: DecisionTrigger,
    among?: ReadonlySet<string>,
    last?: ReadonlySet<string>,
  ): number {
    if (!peer.active) {
      this.#unstarve(task, peer);
      return 0;
    }
    const started = performance.now();
    const hosts = this.#state.hosts;
    const requester = hosts.get(peer.id);
    if (!requester) return 0;
    const input = this.#input;
    input.set(task, peer, requester.labels, among, last);
    // At most #originFetchers peers fetch a blob from the origin at once: more would only share
    // the origin's bandwidth, each piece arriving later, and the swarm waiting longer for its first.
    input.requester.canTakeOrigin = peer.origin === undefined && task.originFetchers < this.#originFetchers;
    input.leasePieces =
      task.peers.size >= this.#leaseMinPeers ? leaseSize(this.#leasePieces, unclaimedBy(task, peer)) : 1;
    const output = assignPieces(input);
    for (const { index, parent } of output.busy) task.passOver(index, parent);
    const now = this.#now();
    const flights = this.#state.flights;
    let lease: Lease | undefined;
    let leases = 0;
    /** leases of more than a piece: what the metric counts as leases */
    let shared = 0;
    let pendingCount = 0;
    const pieces: PieceAssignment[] = output.pieces.map(({ index, parent, follows, pending }) => {
      if (!follows) {
        lease = input.leasePieces > 1 ? flights.startLease(parent, now) : undefined;
        leases++;
        if (lease) shared++;
      }
      flights.start(task, peer, index, parent, now, lease, pending === true && lease !== undefined);
      if (pending) pendingCount++;
      const host = hosts.get(parent)!;
      return {
        index,
        parent,
        parentAddrs: host.addrs,
        sha256: task.table[index] ?? new Uint8Array(0),
        lease: lease ? leases : 0,
        pending: pending === true,
      };
    });
    peer.want = Math.max(0, peer.want - leases);
    const seconds = output.origin ? [] : this.#endgame(task, peer, this.#eligible);
    for (const { index, parent } of seconds) {
      flights.startSecond(peer, index, parent, now);
      const host = hosts.get(parent)!;
      pieces.push({
        index,
        parent,
        parentAddrs: host.addrs,
        sha256: task.table[index] ?? new Uint8Array(0),
        lease: 0,
        pending: false,
      });
    }
    peer.want = Math.max(0, peer.want - seconds.length);
    const origin = output.origin ? [output.origin] : [];
    if (output.origin) {
      task.startOrigin(peer, output.origin.first, output.origin.count, now);
      this.#metrics.backToSource.inc();
    }
    this.#metrics.assignmentLatency.observe((performance.now() - started) / 1000);
    // Wanting more than it got, and missing pieces nobody fetches for it yet: it waits for a slot or
    // a piece. Re-queued at the back once served. A peer whose every missing piece is already on its
    // way waits for nothing the scheduler can give: offering it slots would be decisions in vain.
    if (peer.want > 0 && unclaimedBy(task, peer) > 0) this.#starve(task, peer);
    else this.#unstarve(task, peer);
    this.#metrics.decided(
      trigger,
      pieces.length - seconds.length,
      origin.length,
      seconds.length,
      shared,
      pendingCount,
    );
    if (pieces.length === 0 && origin.length === 0) return 0;
    this.#send(peer.id, { assignments: { digest: task.digest, pieces, origin } });
    this.#toldAt.set(peer, now);
    return leases + seconds.length;
  }

  /** It lacks its last few pieces, all on their way, one of them for long, and has a download slot free. */
  #stuckInEndgame(task: SwarmTask, peer: TaskPeer, now: number): boolean {
    const missing = task.pieceCount - peer.have.count;
    if (!peer.active || peer.want <= 0 || missing === 0 || missing > ENDGAME_MISSING) return false;
    if (peer.inFlight.size < missing) return false;
    const wait = endgameWaitMs(task.pieceSize, this.#state.hosts.fastestSpeed);
    for (const flight of peer.inFlight.values())
      if (!flight.second && now - dueSince(flight) >= wait) return true;
    return false;
  }

  /** Second parents for the requester's last pieces, once every piece it lacks is on its way. */
  #endgame(task: SwarmTask, peer: TaskPeer, eligible: (id: string) => boolean) {
    const missing = task.pieceCount - peer.have.count;
    if (peer.want <= 0 || missing > ENDGAME_MISSING) return [];
    const hosts = this.#state.hosts;
    return endgamePieces({
      pieceCount: task.pieceCount,
      missing,
      requester: { id: peer.id, labels: hosts.get(peer.id)?.labels ?? {} },
      want: peer.want,
      inFlight: dueTimes(peer.inFlight),
      doubled: { has: (index) => peer.inFlight.get(index)?.second !== undefined },
      before: this.#now() - endgameWaitMs(task.pieceSize, hosts.fastestSpeed),
      holdersOf: (index) => task.holders[index]!,
      parent: (id) => (eligible(id) ? hosts.get(id) : undefined),
      fastestSpeed: hosts.fastestSpeed,
    });
  }

  #taskInfo(task: SwarmTask, forHost: string): TaskInfo {
    // The task's first members, the same list for every newcomer: without a scheduler they split the
    // blob's pieces among themselves by rendezvous hashing, which needs them to agree on who is in.
    const hosts = this.#state.hosts;
    const members: { id: string; addrs: string[] }[] = [];
    for (const peer of task.peers.values()) {
      if (members.length >= TASK_MEMBERS_SENT) break;
      const host = hosts.get(peer.id);
      if (peer.id !== forHost && host && !hosts.isBlocked(peer.id))
        members.push({ id: peer.id, addrs: host.addrs });
    }
    return { digest: task.digest, size: task.size, pieceSize: task.pieceSize, members };
  }
}

/**
 * One decision's view of the swarm for the policy, as methods of one object the dispatcher reuses:
 * decisions come with every report and freed slot, most find nothing, and building a dozen closures
 * for each was a good share of what they cost. #dispatch sets it before each decision; the policy
 * is pure and keeps nothing of it.
 */
class DecisionInput implements AssignInput {
  readonly #hosts: HostRegistry;
  readonly #originFetchers: number;
  readonly originRangePieces: number;
  /** set for each decision (see leaseSize) */
  leasePieces = 1;
  readonly firstOriginRangePieces: number;
  /** with pending pieces (DispatcherOptions.pendingPieces): what a lease's parent is fetching from holders */
  readonly parentFetching: ((id: string) => Iterable<number>) | undefined;
  readonly requester = new RequesterInput();
  readonly #rack = new RackInput(this);
  #task!: SwarmTask;
  #peer!: TaskPeer;
  #last: ReadonlySet<string> | undefined;
  /** some host is blocklisted, for the task or cluster-wide: holders are counted one by one */
  anyBlocked = false;
  pieceCount = 0;
  fastestSpeed = 0;
  freeParents: ReadonlySet<string> = new Set();
  rack: RackView | undefined;

  constructor(
    hosts: HostRegistry,
    limits: {
      originFetchers: number;
      originRangePieces: number;
      firstOriginRangePieces: number;
      pendingPieces: boolean;
    },
  ) {
    this.#hosts = hosts;
    this.#originFetchers = limits.originFetchers;
    this.originRangePieces = limits.originRangePieces;
    this.firstOriginRangePieces = limits.firstOriginRangePieces;
    this.parentFetching = limits.pendingPieces ? (id) => this.#fetchingFromHolders(id) : undefined;
  }

  /** For a decision for `peer` (see #dispatch for `among` and `last`); the caller sets canTakeOrigin and rack. */
  set(
    task: SwarmTask,
    peer: TaskPeer,
    labels: Readonly<Record<string, string>>,
    among: ReadonlySet<string> | undefined,
    last: ReadonlySet<string> | undefined,
  ): void {
    this.#task = task;
    this.#peer = peer;
    this.#last = last;
    // Without any blocklist every holder counts: a piece's rarity is the size of its holder set.
    this.anyBlocked = task.blocklist.size > 0 || this.#hosts.blockedCount > 0;
    this.pieceCount = task.pieceCount;
    this.fastestSpeed = this.#hosts.fastestSpeed;
    this.freeParents = among ?? task.freeHolders;
    this.requester.set(peer, labels);
    // Its rack, unless it names none or every peer of the task is in it (then it decides as without racks).
    const rack = peer.rack;
    this.rack = rack && rack.peers < task.peers.size ? this.#rack.set(task, peer, rack, among) : undefined;
  }

  eligible(id: string): boolean {
    if (id === this.#peer.id) return false;
    return !this.anyBlocked || (!this.#task.blocklist.has(id) && !this.#hosts.isBlocked(id));
  }

  holdersOf(index: number): Iterable<string> {
    return this.#task.holders[index]!;
  }

  holderCount(index: number): number {
    const task = this.#task;
    if (!this.anyBlocked) return task.holderCounts[index]! - (this.#peer.have.has(index) ? 1 : 0);
    let count = 0;
    for (const id of task.holders[index]!) if (this.eligible(id)) count++;
    return count;
  }

  inFlightCount(index: number): number {
    return this.#task.inFlightCounts[index]!;
  }

  originInFlight(index: number): boolean {
    return this.#task.originInFlight.has(index);
  }

  /** The host record is the parent's view as it is: nothing is copied per candidate looked at. */
  parent(id: string): ParentView | undefined {
    return this.eligible(id) ? this.#hosts.get(id) : undefined;
  }

  holds(id: string, index: number): boolean {
    return this.#task.peers.get(id)?.have.has(index) ?? false;
  }

  /**
   * The pieces `id` is fetching now from holders (of each of its leases, the one under way: a piece
   * further back in a lease may be a long wait), with a table entry to check them by, and not on
   * their way to the requester from the origin.
   */
  *#fetchingFromHolders(id: string): Iterable<number> {
    const parent = this.#task.peers.get(id);
    if (!parent || parent.inFlight.size === 0) return;
    const fromOrigin = this.#peer.origin?.remaining;
    const current = new Set<Lease>();
    for (const [index, flight] of parent.inFlight) {
      if (flight.lease) {
        if (current.has(flight.lease)) continue;
        current.add(flight.lease);
      }
      if (flight.pending || !this.#task.table[index] || fromOrigin?.has(index)) continue;
      yield index;
    }
  }

  freeHolderCount(index: number): number {
    return this.#task.freeHolderCounts[index]!;
  }

  nextFreeHeld(from: number): number {
    return this.#peer.have.nextMissingFrom(this.#task.freeHeld, from);
  }

  originTakers(): number {
    let takers = 0;
    for (const other of this.#task.peers.values())
      if (other.active && !other.origin && !this.#last?.has(other.id)) takers++;
    return Math.min(takers, this.#originFetchers - this.#task.originFetchers);
  }
}

/** The requester's rack as the policy sees it, part of DecisionInput. */
class RackInput implements RackView {
  readonly #input: DecisionInput;
  #task!: SwarmTask;
  #peer!: TaskPeer;
  #rack!: RackTally;
  #among: ReadonlySet<string> | undefined;
  #amongInRack: ReadonlySet<string> | undefined;

  constructor(input: DecisionInput) {
    this.#input = input;
  }

  /** `among`: the only free parents to look through (a starved peer offered freed slots). */
  set(task: SwarmTask, peer: TaskPeer, rack: RackTally, among: ReadonlySet<string> | undefined): this {
    this.#task = task;
    this.#peer = peer;
    this.#rack = rack;
    this.#among = among;
    this.#amongInRack = undefined;
    return this;
  }

  has(id: string): boolean {
    return this.#task.peers.get(id)?.rack === this.#rack;
  }

  holderCount(index: number): number {
    if (!this.#input.anyBlocked) return this.#rack.holders[index]! - (this.#peer.have.has(index) ? 1 : 0);
    let count = 0;
    for (const id of this.#task.holders[index]!) if (this.#input.eligible(id) && this.has(id)) count++;
    return count;
  }

  inFlightCount(index: number): number {
    return this.#rack.inFlight[index]!;
  }

  /** Among the freed hosts, filtered only when a search reads it: most such decisions search nothing. */
  get freeParents(): ReadonlySet<string> {
    if (!this.#among) return this.#rack.freeHolders;
    this.#amongInRack ??= new Set([...this.#among].filter((id) => this.has(id)));
    return this.#amongInRack;
  }
}

/** The requester as the policy sees it, part of DecisionInput. */
class RequesterInput {
  #peer!: TaskPeer;
  id = '';
  labels: Readonly<Record<string, string>> = {};
  inFlight: PeerFlights = new Map();
  want = 0;
  canTakeOrigin = false;
  originRangesTaken = 0;
  readingFrom: number | undefined;

  set(peer: TaskPeer, labels: Readonly<Record<string, string>>): void {
    this.#peer = peer;
    this.id = peer.id;
    this.readingFrom = peer.reading;
    this.labels = labels;
    this.inFlight = peer.inFlight;
    this.want = peer.want;
    this.originRangesTaken = peer.originRangesTaken;
  }

  has(index: number): boolean {
    return this.#peer.have.has(index);
  }

  nextMissing(from: number): number {
    return this.#peer.have.nextMissing(from);
  }
}

/**
 * The most pieces in one lease, by default. Longer leases mean fewer decisions
 * and messages per piece, but a lease only takes pieces its parent already
 * holds and ties them to that parent. Chosen with the simulator (bench/RESULTS.md,
 * "Leases"): at 4 the scheduler's work per TB fell by 4-54% and p99 moved by -4%
 * to +3% across the scenarios; 8 and 16 were slower.
 */
export const LEASE_PIECES = 4;

/**
 * Peers a task needs (holders and downloaders) before its assignments become leases: below it the
 * scheduler's work is small anyway, and one piece per assignment was faster in the simulator (p99 over
 * the bound 1.05 against 1.12 with leases of 4 at 10 nodes, 1.15 against 1.18 at 100).
 */
export const LEASE_MIN_PEERS = 256;

/**
 * Leases a peer's last unclaimed pieces are spread over, at the least: its download slots (6 by
 * default) then fetch them side by side rather than one lease after another from one parent.
 */
const LEASE_SPREAD = 8;

/** How many pieces the next lease of a peer with `unclaimed` pieces nobody fetches for it may hold. */
function leaseSize(most: number, unclaimed: number): number {
  return Math.max(1, Math.min(most, Math.ceil(unclaimed / LEASE_SPREAD)));
}

/** Pieces the peer lacks that nothing is on its way for: neither a parent nor its origin range. */
function unclaimedBy(task: SwarmTask, peer: TaskPeer): number {
  return task.pieceCount - peer.have.count - peer.inFlight.size - (peer.origin?.remaining.size ?? 0);
}

/** The peer's pieces on their way with, as `since`, when each has been due (see dueSince). */
function dueTimes(inFlight: PeerFlights): ReadonlyMap<number, { parent: string; since: number }> {
  const due = new Map<number, { parent: string; since: number }>();
  for (const [index, flight] of inFlight) due.set(index, { parent: flight.parent, since: dueSince(flight) });
  return due;
}

/** What asked for a decision, as the decisions metric counts it. */
type DecisionTrigger =
  | 'open'
  | 'report'
  | 'sibling'
  | 'waiting'
  | 'freed-slot'
  | 'new-holder'
  | 'retry'
  | 'endgame';

/** Starved peers offered one freed slot before it is left for the next event. */
const STARVED_TRIES_PER_SLOT = 4;
/** Starved peers decided for again after one sweep (one per second), in slices of the event loop. */
const STARVED_RETRIES_PER_SWEEP = 1024;
/** Starved peers looked at per try for one that lacks a newly held piece (a cheap check, unlike a decision). */
const STARVED_LOOKS_PER_TRY = 4;

/** Whether one of `hosts` holds, in `task`, a piece `peer` lacks (whether it is on its way is the decision's to see). */
function holdsAnythingFor(task: SwarmTask, peer: TaskPeer, hosts: ReadonlySet<string>): boolean {
  for (const id of hosts) {
    const holder = id === peer.id ? undefined : task.peers.get(id);
    if (holder?.have.hasAnyNotIn(peer.have)) return true;
  }
  return false;
}

/** A reported reading position, if it names a piece of the task. */
function readingIn(task: SwarmTask, reading: number | undefined): number | undefined {
  return reading !== undefined && reading < task.pieceCount ? reading : undefined;
}

function safeBitfield(count: number, bytes: Uint8Array): Bitfield | undefined {
  if (bytes.length === 0) return undefined;
  try {
    return new Bitfield(count, bytes);
  } catch {
    return undefined;
  }
}

function reasonName(reason: number): string {
  switch (reason) {
    case FailureReason.mismatch:
      return 'mismatch';
    case FailureReason.origin:
      return 'origin';
    case FailureReason.absent:
      return 'absent';
    default:
      return 'unavailable';
  }
}
