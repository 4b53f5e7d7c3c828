import type { Digest } from '@shoal/oci';
import {
  FailureReason,
  type PieceAssignment,
  type PieceDone,
  type PieceFailed,
  pieceLength,
  pieceStart,
  pieceTimeoutMs,
  type SchedulerMessage,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { PeerMetrics } from '../metrics.ts';
import { SerialQueue } from '../serial-queue.ts';
import { DigestMismatchError, UntrustedPiecesError, UpstreamStatusError } from '../task/errors.ts';
import {
  type Clock,
  type DownloadTarget,
  type OriginPieces,
  type ParentPieces,
  PieceFetchError,
  type PieceFetchErrorCode,
  type Provider,
  type SchedulerLink,
  type TaskLine,
  type TaskListener,
  type Timer,
} from './ports.ts';
import type { SwarmProgress } from './swarm-progress.ts';

/** What a scheduled download reaches the world through, and how it paces itself. */
export interface SessionOptions {
  parents: ParentPieces;
  origin: OriginPieces;
  clock: Clock;
  metrics: PeerMetrics;
  logger: Logger;
  /** concurrent piece fetches from parents */
  downloadSlots: number;
  /** a piece fetch's deadline, at the least: big pieces get as long as they need at MIN_PIECE_RATE */
  pieceTimeoutMs: number;
  /** no progress for this long with the scheduler (in this download and, when given, in the node's others): fetch the rest without it */
  stallTimeoutMs: number;
  /** the node's scheduled downloads together: while one of them lands pieces, none of them is stalled */
  swarmProgress?: SwarmProgress;
  /**
   * How long landed pieces wait to be reported while leases run (default REPORT_DELAY_MS): one report
   * then tells of several. A download slot left idle is reported at once.
   */
  reportDelayMs?: number;
  /** The sha256 reported for a piece fetched from the origin (default: the one computed). */
  reportedPieceHash?: (digest: Digest, index: number, sha256Hex: string) => string;
}

/**
 * Pieces landed within this long of each other go to the scheduler in one report, while a lease goes
 * on (a download slot left idle is reported at once). Each report is scheduler work; the delay is also
 * how long a new holder's pieces are hidden from its fellows. 20 ms: with leases of 4, p99 as good as
 * at 5 ms or better in the simulator, and a fifth fewer messages (bench/RESULTS.md, "Leases").
 */
export const REPORT_DELAY_MS = 20;
/** What the scheduler hears of a failed fetch: an absent piece makes it stop counting that parent as a holder. */
const FAILURE_REASONS: Record<PieceFetchErrorCode, FailureReason> = {
  UNAVAILABLE: FailureReason.unavailable,
  ABSENT: FailureReason.absent,
  MISMATCH: FailureReason.mismatch,
};
/** Pause after a failed origin range before someone (maybe this node) is handed it again. */
const ORIGIN_RETRY_PAUSE_MS = 250;

/**
 * Runs one blob download with the scheduler: opens the task on its line,
 * fetches assigned pieces from parents and assigned ranges from the origin,
 * reports progress in batches and asks for more. When the scheduler goes away
 * or stalls, `fallback` finishes the blob (with the peers met so far) before
 * the task is reported done. Returns false, having done nothing, when no
 * scheduler line could be opened.
 */
export async function downloadWithScheduler(
  task: DownloadTarget,
  link: SchedulerLink,
  options: SessionOptions & { fallback: (knownParents: Provider[]) => Promise<void> },
): Promise<boolean> {
  const done = Promise.withResolvers<'complete' | 'fallback'>();
  let line: TaskLine | undefined;
  const session = new TaskSession(task, options, () => line, done);
  await link.ready();
  line = link.openTask(task.digest, session);
  if (!line) return false;
  try {
    await task.resume();
    // A size upstream gave already spares the scheduler's "size unknown" answer and a second open.
    await session.open(task.layout?.size ?? options.origin.knownSize?.() ?? 0);
    const outcome = await Promise.race([done.promise, task.finished.then(() => 'complete' as const)]);
    if (outcome === 'fallback' && (task.state === 'downloading' || task.state === 'preparing')) {
      session.stop();
      await options.fallback(session.knownParents());
    }
    await task.finished;
    // The last pieces' hashes go out before the news that the task is done: they are piece-table entries.
    session.flushFinalReport();
    line.send({ taskDone: { digest: task.digest, ok: true, error: '', digestMismatch: false } });
  } catch (error) {
    const reason = task.error ?? (error as Error);
    line.send({
      taskDone: {
        digest: task.digest,
        ok: false,
        error: reason.message,
        digestMismatch: reason instanceof DigestMismatchError,
      },
    });
    throw error;
  } finally {
    session.stop();
    line.close();
  }
  return true;
}

/** State of one task's conversation with the scheduler. */
class TaskSession implements TaskListener {
  readonly #task: DownloadTarget;
  readonly #options: SessionOptions;
  readonly #clock: Clock;
  readonly #line: () => TaskLine | undefined;
  readonly #done: PromiseWithResolvers<'complete' | 'fallback'>;
  /** leases waiting for a download slot, each its pieces in the order they are fetched */
  readonly #queue: PieceAssignment[][] = [];
  /** leases running, one per download slot taken */
  #activeLeases = 0;
  /**
   * Fetches from parents by piece. In the endgame the scheduler asks a second
   * parent for a piece already on its way: the first copy to land ends the other.
   */
  readonly #fetching = new Map<number, Set<AbortController>>();
  /** pieces being written and landed: a second copy arriving meanwhile is dropped, not written again */
  readonly #landing = new Set<number>();
  #originActive = false;
  #pendingDone: PieceDone[] = [];
  #pendingFailed: PieceFailed[] = [];
  #reportTimer: Timer | undefined;
  #stallTimer: Timer | undefined;
  /** when bytes of a piece last arrived in this download */
  #progressAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  #probing = false;
  readonly #openedAt: number;
  #assigned = false;
  readonly #inbox = new SerialQueue();
  readonly #originQueue: { first: number; count: number }[] = [];
  /** Peers the scheduler named for this blob (members and parents): they hold or fetch it too. */
  readonly #parents = new Map<string, Provider>();

  constructor(
    task: DownloadTarget,
    options: SessionOptions,
    line: () => TaskLine | undefined,
    done: PromiseWithResolvers<'complete' | 'fallback'>,
  ) {
    this.#task = task;
    this.#options = options;
    this.#clock = options.clock;
    this.#line = line;
    this.#done = done;
    this.#openedAt = this.#clock.now();
  }

  /** Milestones of the conversation, at debug level, timed from the task's opening: where a slow start goes. */
  #trace(message: string, fields: Record<string, unknown> = {}): void {
    this.#options.logger.debug(
      { digest: this.#task.digest, ms: Math.round(this.#clock.now() - this.#openedAt), ...fields },
      message,
    );
  }

  async open(size: number): Promise<void> {
    this.#trace('task opened with the scheduler', { size });
    this.#line()?.send({
      openTask: {
        digest: this.#task.digest,
        size: size,
        bitfield: this.#task.presentBitfield(),
        want: this.#options.downloadSlots,
        reading: this.#task.readingFrom?.(),
      },
    });
    this.#armStallTimer();
  }

  onMessage(message: SchedulerMessage): void {
    // In order: assignments must not be acted on before the task info that precedes them has set up the partial.
    // A message that cannot be handled ends the task; the messages after it are still handled.
    this.#inbox
      .run(() => this.#handle(message))
      .catch((error: Error) => this.#task.fail(error))
      .catch(() => {});
  }

  async #handle(message: SchedulerMessage): Promise<void> {
    if (this.#stopped) return;
    if (message.taskInfo) {
      for (const member of message.taskInfo.members)
        this.#parents.set(member.id, { id: member.id, addrs: member.addrs });
      this.#trace('task info', {
        size: Number(message.taskInfo.size),
        pieceSize: message.taskInfo.pieceSize,
        members: message.taskInfo.members.length,
      });
      await this.#onTaskInfo(Number(message.taskInfo.size), message.taskInfo.pieceSize);
    }
    if (message.assignments && this.#task.layout) {
      // An assignment of nothing says the scheduler keeps this node waiting for a parent: the stall timer is re-armed all the same.
      const given = message.assignments.pieces.length + message.assignments.origin.length;
      if (!this.#assigned && given > 0) {
        this.#assigned = true;
        this.#trace('first assignments', {
          pieces: message.assignments.pieces.length,
          originRanges: message.assignments.origin.length,
        });
      }
      this.#armStallTimer();
      this.#queue.push(...leasesOf(message.assignments.pieces));
      for (const piece of message.assignments.pieces) {
        this.#parents.set(piece.parent, { id: piece.parent, addrs: piece.parentAddrs });
      }
      this.#originQueue.push(...message.assignments.origin);
      void this.#drainOriginQueue();
      this.#pump();
    }
    if (message.reset) {
      this.#options.logger.warn(
        { digest: this.#task.digest, reason: message.reset.reason },
        'scheduler reset the task',
      );
      // Its pieces were checked against the table now found poisoned: none may be served or kept.
      await this.#task.fail(new UntrustedPiecesError(this.#task.digest, message.reset.reason));
    }
  }

  knownParents(): Provider[] {
    return [...this.#parents.values()];
  }

  onDisconnect(): void {
    this.#done.resolve('fallback');
  }

  stop(): void {
    this.#stopped = true;
    this.#reportTimer?.cancel();
    this.#stallTimer?.cancel();
  }

  async #onTaskInfo(size: number, pieceSize: number): Promise<void> {
    try {
      if (size === 0) {
        // Nobody in the swarm knows this blob yet: learn its size (and the client's right to it) from the origin.
        if (this.#probing) return;
        this.#probing = true;
        let probed: number;
        try {
          probed = await this.#options.origin.probeSize(this.#task.abort.signal);
          this.#trace('size from the origin', { size: probed });
        } catch (error) {
          // The origin's answer (401, 404) goes back to the client; an unreachable origin leaves the DHT to try.
          if (error instanceof UpstreamStatusError) throw error;
          this.#done.resolve('fallback');
          return;
        }
        if (probed === 0) {
          this.#done.resolve('fallback');
          return;
        }
        await this.open(probed);
        return;
      }
      const layout = this.#task.layout;
      if (!layout) {
        await this.#task.create(size, pieceSize);
      } else if (layout.size !== size || layout.pieceSize !== pieceSize) {
        this.#options.logger.warn(
          { digest: this.#task.digest, size, pieceSize },
          'swarm disagrees with local partial',
        );
        this.#done.resolve('fallback');
      }
    } catch (error) {
      await this.#task.fail(error as Error);
    }
  }

  #pump(): void {
    while (!this.#stopped && this.#task.layout && this.#activeLeases < this.#options.downloadSlots) {
      const lease = this.#queue.shift();
      if (!lease) return;
      this.#activeLeases++;
      void this.#runLease(lease);
    }
  }

  /** A lease on one of the download slots, which it gives back once its last piece is done. */
  async #runLease(lease: PieceAssignment[]): Promise<void> {
    try {
      await this.#fetchLease(lease);
    } finally {
      // In the same step as its last piece's news: a report in between would ask for a slot too few.
      this.#activeLeases--;
      this.#pump();
      this.#scheduleReport();
    }
  }

  /**
   * A lease's pieces, one after another from its parent. A parent that cannot be reached or sent
   * wrong bytes gets no more of them: the rest are reported failed at once, for the scheduler to
   * give elsewhere, rather than each waiting out its own timeout.
   */
  async #fetchLease(lease: PieceAssignment[]): Promise<void> {
    for (let at = 0; at < lease.length; at++) {
      const assignment = lease[at]!;
      if (this.#stopped) return;
      if (this.#task.has(assignment.index)) {
        this.#pendingDone.push({
          index: assignment.index,
          sha256: new Uint8Array(0),
          parent: assignment.parent,
          millis: 0,
          length: 0,
        });
        this.#scheduleReport(false);
        continue;
      }
      const failure = await this.#fetchFromParent(assignment);
      // The lease goes on: its slot is not idle, and what landed waits for the report timer.
      if (at < lease.length - 1) this.#scheduleReport(false);
      if (failure === 'MISMATCH' || failure === 'UNREACHABLE') {
        for (const rest of lease.slice(at + 1)) {
          if (this.#task.has(rest.index)) continue;
          this.#pendingFailed.push({
            index: rest.index,
            parent: rest.parent,
            reason: FailureReason.unavailable,
          });
        }
        return;
      }
    }
  }

  /** Fetches, writes and lands one piece; says how it failed, undefined when it did not. */
  async #fetchFromParent(
    assignment: PieceAssignment,
  ): Promise<PieceFetchErrorCode | 'UNREACHABLE' | undefined> {
    const task = this.#task;
    const layout = task.layout!;
    const { metrics } = this.#options;
    const { index } = assignment;
    const timer = metrics.pieceFetchDuration.startTimer();
    const control = new AbortController();
    const others = this.#fetching.get(index) ?? new Set();
    this.#fetching.set(index, others.add(control));
    /** The piece landed from another fetch (or is landing): this one is dropped, without a report. */
    const superseded = () => task.has(index) || this.#landing.has(index);
    const timeoutMs = pieceTimeoutMs(layout.pieceSize, this.#options.pieceTimeoutMs);
    try {
      const piece = await this.#options.parents.fetch({
        parent: assignment.parent,
        parentAddrs: assignment.parentAddrs,
        digest: task.digest,
        index: assignment.index,
        pieceSize: layout.pieceSize,
        expectedLength: pieceLength(layout, assignment.index),
        expectedSha256: assignment.sha256,
        // A pending piece: the parent waits for it as long as a piece may take, then it still has that long to send it.
        ...(assignment.pending ? { waitMs: timeoutMs, timeoutMs: 2 * timeoutMs } : { timeoutMs }),
        onBytes: this.#progressed,
        signal: control.signal,
      });
      if (this.#stopped || superseded() || task.state !== 'downloading') {
        piece.release();
        if (superseded()) metrics.pieces.inc({ result: 'superseded' });
        return undefined;
      }
      this.#landing.add(index);
      try {
        try {
          await task.writeChunks(pieceStart(layout, index), piece.chunks);
        } finally {
          piece.release();
        }
        await task.landPiece(index, piece.sha256Hex, assignment.parent);
      } finally {
        this.#landing.delete(index);
      }
      for (const other of others) if (other !== control) other.abort();
      timer();
      metrics.pieces.inc({ result: 'ok' });
      this.#options.swarmProgress?.touch();
      this.#armStallTimer();
      this.#pendingDone.push({
        index: assignment.index,
        sha256: Buffer.from(piece.sha256Hex, 'hex'),
        parent: assignment.parent,
        millis: piece.millis,
        length: piece.length,
      });
      return undefined;
    } catch (error) {
      const code = error instanceof PieceFetchError ? error.code : 'UNAVAILABLE';
      const mismatch = code === 'MISMATCH';
      // A parent that sent wrong bytes is reported whatever became of the piece.
      if (superseded() && !mismatch) {
        metrics.pieces.inc({ result: 'superseded' });
        return undefined;
      }
      metrics.pieces.inc({ result: code.toLowerCase() });
      if (mismatch) metrics.verificationFailures.inc({ kind: 'piece' });
      this.#options.logger.debug(
        { digest: task.digest, index: assignment.index, err: (error as Error).message },
        'piece fetch failed',
      );
      this.#pendingFailed.push({
        index: assignment.index,
        parent: assignment.parent,
        reason: FAILURE_REASONS[code],
      });
      return error instanceof PieceFetchError && error.unreachable ? 'UNREACHABLE' : code;
    } finally {
      others.delete(control);
      if (others.size === 0) this.#fetching.delete(index);
    }
  }

  /** Back-to-source ranges run one after another, in the order they were assigned. */
  async #drainOriginQueue(): Promise<void> {
    if (this.#originActive) return;
    this.#originActive = true;
    try {
      for (
        let range = this.#originQueue.shift();
        range && !this.#stopped;
        range = this.#originQueue.shift()
      ) {
        await this.#fetchOriginRange(range.first, range.count);
      }
    } finally {
      this.#originActive = false;
    }
  }

  async #fetchOriginRange(first: number, count: number): Promise<void> {
    this.#trace('origin range', { first, count });
    try {
      await this.#options.origin.fill({ first, count }, (index, sha256Hex) => {
        this.#options.metrics.pieces.inc({ result: 'origin' });
        this.#options.swarmProgress?.touch();
        this.#armStallTimer();
        this.#pendingDone.push({
          index,
          sha256: Buffer.from(
            this.#options.reportedPieceHash?.(this.#task.digest, index, sha256Hex) ?? sha256Hex,
            'hex',
          ),
          parent: '',
          millis: 0,
          length: 0,
        });
        this.#scheduleReport();
      });
    } catch (error) {
      this.#options.logger.warn(
        { digest: this.#task.digest, first, count, err: (error as Error).message },
        'origin range failed',
      );
      for (let index = first; index < first + count; index++) {
        if (!this.#task.has(index))
          this.#pendingFailed.push({ index, parent: '', reason: FailureReason.origin });
      }
      await this.#clock.sleep(ORIGIN_RETRY_PAUSE_MS);
    } finally {
      this.#scheduleReport();
    }
  }

  /**
   * Reports what landed or failed, after the report delay. `freed`: a download slot just came back
   * (a lease ended, an origin piece landed): with nothing queued it idles until the scheduler
   * answers, so the report goes at once. A piece landed within a running lease frees nothing.
   */
  #scheduleReport(freed = true): void {
    if (this.#stopped) return;
    const idleSlot = freed && this.#queue.length === 0 && this.#activeLeases < this.#options.downloadSlots;
    if (idleSlot && (this.#pendingDone.length > 0 || this.#pendingFailed.length > 0)) {
      this.#reportTimer?.cancel();
      this.#reportTimer = undefined;
      this.#flushReport();
      return;
    }
    if (this.#reportTimer) return;
    this.#reportTimer = this.#clock.setTimer(() => {
      this.#reportTimer = undefined;
      this.#flushReport();
    }, this.#options.reportDelayMs ?? REPORT_DELAY_MS);
  }

  /** What landed since the last report, with nothing more wanted: the task is complete. */
  flushFinalReport(): void {
    this.#reportTimer?.cancel();
    this.#reportTimer = undefined;
    if (this.#pendingDone.length > 0) this.#sendReport(0);
  }

  #flushReport(): void {
    if (this.#stopped || this.#task.state !== 'downloading') return;
    this.#sendReport(Math.max(0, this.#options.downloadSlots - this.#activeLeases - this.#queue.length));
  }

  #sendReport(want: number): void {
    const report = {
      digest: this.#task.digest,
      done: this.#pendingDone,
      failed: this.#pendingFailed,
      want,
      reading: this.#task.readingFrom?.(),
    };
    this.#pendingDone = [];
    this.#pendingFailed = [];
    this.#line()?.send({ report });
  }

  /** Bytes of a piece arrived: on a slow link a piece can take longer than the stall timeout. */
  readonly #progressed = () => {
    this.#progressAt = this.#clock.now();
    this.#options.swarmProgress?.touch();
  };

  #armStallTimer(ms = this.#options.stallTimeoutMs): void {
    this.#stallTimer?.cancel();
    if (this.#stopped) return;
    this.#stallTimer = this.#clock.setTimer(() => {
      const idle = Math.min(
        this.#clock.now() - this.#progressAt,
        this.#options.swarmProgress?.idleMs() ?? Number.POSITIVE_INFINITY,
      );
      if (idle < this.#options.stallTimeoutMs) {
        // Pieces are arriving, here or in its siblings: the scheduler is there and it is waiting its turn.
        this.#armStallTimer(this.#options.stallTimeoutMs - idle);
        return;
      }
      this.#options.logger.warn(
        { digest: this.#task.digest },
        'no progress from the swarm; falling back to the origin',
      );
      this.#done.resolve('fallback');
    }, ms);
  }
}

/**
 * The leases of one Assignments message: pieces with the same non-zero lease number, in the order
 * given; a piece with none is a lease of its own.
 */
function leasesOf(pieces: readonly PieceAssignment[]): PieceAssignment[][] {
  const leases: PieceAssignment[][] = [];
  const byNumber = new Map<number, PieceAssignment[]>();
  for (const piece of pieces) {
    if (piece.lease === 0) {
      leases.push([piece]);
      continue;
    }
    const lease = byNumber.get(piece.lease);
    if (lease) lease.push(piece);
    else {
      const started = [piece];
      byNumber.set(piece.lease, started);
      leases.push(started);
    }
  }
  return leases;
}
