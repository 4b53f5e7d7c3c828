/**
 * What a blob download needs from the world, declared by the download logic
 * itself: a line to the scheduler, pieces from parents, the origin, content
 * routing and a clock. The daemon plugs in libp2p- and HTTP-backed
 * implementations (peer/src/p2p/); unit tests and bench/cluster plug in fakes
 * and a simulated network. Nothing here names libp2p.
 */
import type { Digest } from '@shoal/oci';
import type { PeerMessage, PieceLayout, SchedulerMessage } from '@shoal/protocol';

/** Time, and timers on it: the system's in the daemon, a virtual one in tests and the simulator. */
export interface Clock {
  /** milliseconds, monotonic */
  now(): number;
  setTimer(fn: () => void, ms: number): Timer;
  /** Waits `ms`; rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface Timer {
  cancel(): void;
}

/** What a task hears from its scheduler. */
export interface TaskListener {
  onMessage(message: SchedulerMessage): void;
  /** The scheduler connection dropped; the task must carry on without it. */
  onDisconnect(): void;
}

/** A task's line to the scheduler responsible for its digest. */
export interface TaskLine {
  send(message: PeerMessage): void;
  close(): void;
}

/** The scheduler link: a line per task, or none when no scheduler is reachable. */
export interface SchedulerLink {
  /** Resolves once the link has had its first chance to connect after start (at once, ever after). */
  ready(): Promise<void>;
  openTask(digest: string, listener: TaskListener): TaskLine | undefined;
}

/** A peer that holds (part of) a blob, as the scheduler or content routing names it. */
export interface Provider {
  id: string;
  addrs: string[];
}

/**
 * UNAVAILABLE: unreachable, busy, too slow or cut off; ABSENT: the parent answered that it does not
 * hold the piece; MISMATCH: its bytes failed the piece table.
 */
export type PieceFetchErrorCode = 'UNAVAILABLE' | 'ABSENT' | 'MISMATCH';

export class PieceFetchError extends Error {
  readonly code: PieceFetchErrorCode;
  /** the parent could not be dialled at all (gone), as opposed to answering without the piece */
  readonly unreachable: boolean;
  constructor(
    code: PieceFetchErrorCode,
    message: string,
    options?: ErrorOptions & { unreachable?: boolean },
  ) {
    super(message, options);
    this.name = 'PieceFetchError';
    this.code = code;
    this.unreachable = options?.unreachable ?? false;
  }
}

export interface FetchedPiece {
  /** The piece's bytes, in order; valid until release(). */
  chunks: Uint8Array[];
  /** Gives the chunks' memory back for reuse; the caller must not touch them afterwards. */
  release(): void;
  length: number;
  /** size of the whole blob, as the parent knows it */
  blobSize: number;
  sha256Hex: string;
  millis: number;
}

export interface ParentPieceRequest {
  parent: string;
  parentAddrs: string[];
  digest: string;
  index: number;
  /** the requester's piece size; 0 when it has no layout yet */
  pieceSize: number;
  /** undefined when the layout is not known yet (a first contact without a scheduler) */
  expectedLength: number | undefined;
  expectedSha256: Uint8Array;
  /** the whole piece's deadline */
  timeoutMs: number;
  /**
   * The parent does not hold the piece yet but is fetching it: it answers once the piece has landed
   * there, or that it does not hold it after waiting this long (within `timeoutMs`). Absent: at once.
   */
  waitMs?: number;
  /** told as bytes of the piece arrive: a slow piece is progress all the same */
  onBytes?: (bytes: number) => void;
  /** ends the fetch early (the piece came from elsewhere) */
  signal?: AbortSignal;
}

/**
 * Verified pieces from parents. Rejects with PieceFetchError: MISMATCH when
 * the bytes fail the piece table entry, UNAVAILABLE for anything else.
 */
export interface ParentPieces {
  fetch(request: ParentPieceRequest): Promise<FetchedPiece>;
}

/** Content routing: announcing what this node holds, and finding who holds a blob. */
export interface ContentRouting {
  provide(digest: string, options?: { urgent?: boolean }): void;
  findProviders(digest: string): Promise<Provider[]>;
}

/** The origin as one task sees it: its size, and pieces filled from ranges of it. */
export interface OriginPieces {
  /** The blob's size, checking on the way that upstream lets this client read it. */
  probeSize(signal: AbortSignal): Promise<number>;
  /** The size upstream gave a moment ago, if it did, without asking again. */
  knownSize?(): number | undefined;
  /**
   * Fills the task's pieces [first, first + count) (the whole blob when no
   * range is given), calling onPiece for each piece landed here with its
   * sha256, before it lands.
   */
  fill(
    range: { first: number; count: number } | undefined,
    onPiece?: (index: number, sha256Hex: string) => void,
  ): Promise<void>;
}

/** The part of a download task (peer/src/task/blob-task.ts) the download logic touches. */
export interface DownloadTarget {
  readonly digest: Digest;
  readonly abort: AbortController;
  readonly state: 'preparing' | 'downloading' | 'complete' | 'failed';
  readonly error: Error | undefined;
  readonly layout: PieceLayout | undefined;
  /** resolves when every piece landed and the blob matched its digest */
  readonly finished: Promise<void>;
  /** the first piece a client reading the blob through this node has yet to read, if one does */
  readingFrom?(): number | undefined;
  /** the pieces present, as a bitfield (empty before the layout is known) */
  presentBitfield(): Uint8Array<ArrayBuffer>;
  resume(): Promise<boolean>;
  create(size: number, pieceSize?: number): Promise<void>;
  has(index: number): boolean;
  writeChunks(offset: number, chunks: readonly Uint8Array[]): Promise<void>;
  /** `source` names where the piece came from: a parent's id, or the origin */
  landPiece(index: number, sha256Hex: string, source: string): Promise<void>;
  fail(error: Error): Promise<void>;
}
