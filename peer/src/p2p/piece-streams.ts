import type { Stream } from '@libp2p/interface';
import { peerIdFromString } from '@libp2p/peer-id';
import { type ByteStream, byteStream } from '@libp2p/utils';
import type { ShoalNode } from '@shoal/p2p';
import { PIECE_PROTOCOL, PIECE_PROTOCOL_SEQUENTIAL } from '@shoal/protocol';
import { learnAddresses } from './peer-addresses.ts';

/** A piece stream to one parent, with the reader that owns its incoming bytes. */
export interface PieceStream {
  readonly parent: string;
  readonly stream: Stream;
  readonly bytes: ByteStream<Stream>;
  /** It carried an answer before: failing before the next answer may only mean the parent let it go. */
  readonly reused: boolean;
  /** The largest answer it takes: unread bytes beyond it (and its header) reset the stream. */
  readonly maxAnswerBytes: number;
}

export interface PieceStreamsOptions {
  /** An idle stream is closed after this long (well under the server's own idle limit). */
  idleMs?: number;
  /** Idle streams kept per parent; more than the download slots gains nothing. */
  maxIdlePerParent?: number;
  /** Told of every stream a fetch goes on: a new one, or one kept from an earlier piece. */
  onStream?: (reused: boolean) => void;
}

const DEFAULT_IDLE_MS = 5_000;
const DEFAULT_MAX_IDLE_PER_PARENT = 8;
/** Room for an answer's header on top of its bytes. */
const HEADER_ROOM = 64 * 1024;

interface IdleStream {
  piece: PieceStream;
  timer: NodeJS.Timeout;
}

/**
 * Piece streams to parents, kept open between pieces. Opening a stream per
 * piece cost both peers a yamux stream, a protocol negotiation, two peer-store
 * updates and a close handshake; a stream whose answer was read in full is
 * taken again by the next fetch from the same parent instead. Parents that
 * only speak the one-request protocol get a stream per piece as before.
 */
export class PieceStreams {
  readonly #node: ShoalNode;
  readonly #idleMs: number;
  readonly #maxIdlePerParent: number;
  readonly #onStream: (reused: boolean) => void;
  readonly #idle = new Map<string, IdleStream[]>();

  constructor(node: ShoalNode, options: PieceStreamsOptions = {}) {
    this.#node = node;
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
    this.#maxIdlePerParent = options.maxIdlePerParent ?? DEFAULT_MAX_IDLE_PER_PARENT;
    this.#onStream = options.onStream ?? (() => {});
  }

  /**
   * An idle stream to `parent` if one is still open, else a new one (dialling
   * the parent if needed). A stream buffers at most one answer of
   * `maxAnswerBytes` unread, and is only taken again for answers of that bound.
   */
  async open(
    parent: string,
    parentAddrs: string[],
    options: { signal: AbortSignal; maxAnswerBytes: number; fresh?: boolean },
  ): Promise<PieceStream> {
    const { maxAnswerBytes } = options;
    if (!options.fresh) {
      const idle = this.#takeIdle(idleKey(parent, maxAnswerBytes));
      if (idle) {
        this.#onStream(true);
        return idle;
      }
    }
    const peerId = peerIdFromString(parent);
    await learnAddresses(this.#node, peerId, parentAddrs);
    const stream = await this.#node.dialProtocol(peerId, [PIECE_PROTOCOL_SEQUENTIAL, PIECE_PROTOCOL], {
      signal: options.signal,
    });
    this.#onStream(false);
    const bytes = byteStream(stream, { maxBufferSize: maxAnswerBytes + HEADER_ROOM });
    return { parent, stream, bytes, reused: false, maxAnswerBytes };
  }

  /**
   * The answer on `piece` was read to its last byte: keep the stream for the
   * next piece from the same parent, or close it.
   */
  finished(piece: PieceStream): void {
    const key = idleKey(piece.parent, piece.maxAnswerBytes);
    const list = this.#idle.get(key) ?? [];
    if (
      piece.stream.protocol !== PIECE_PROTOCOL_SEQUENTIAL ||
      !isUsable(piece) ||
      list.length >= this.#maxIdlePerParent
    ) {
      void piece.stream.close().catch(() => {});
      return;
    }
    const entry: IdleStream = {
      piece: { ...piece, reused: true },
      timer: setTimeout(() => {
        const current = this.#idle.get(key);
        const at = current?.indexOf(entry) ?? -1;
        if (at >= 0) current!.splice(at, 1);
        if (current?.length === 0) this.#idle.delete(key);
        void piece.stream.close().catch(() => {});
      }, this.#idleMs),
    };
    entry.timer.unref();
    list.push(entry);
    this.#idle.set(key, list);
  }

  /** The stream broke or carries bytes nobody will read: reset it. */
  discard(piece: PieceStream, error: Error): void {
    piece.stream.abort(error);
  }

  /** Idle streams to `parent` right now. */
  idleCount(parent: string): number {
    let count = 0;
    for (const list of this.#idle.values())
      count += list.filter(({ piece }) => piece.parent === parent).length;
    return count;
  }

  /** Closes every idle stream. */
  close(): void {
    for (const list of this.#idle.values()) {
      for (const { piece, timer } of list) {
        clearTimeout(timer);
        void piece.stream.close().catch(() => {});
      }
    }
    this.#idle.clear();
  }

  #takeIdle(key: string): PieceStream | undefined {
    const list = this.#idle.get(key);
    while (list && list.length > 0) {
      // The most recently used first: the oldest are the nearest to closing.
      const { piece, timer } = list.pop()!;
      clearTimeout(timer);
      if (isUsable(piece)) return piece;
      piece.stream.abort(new Error('piece stream went away while idle'));
    }
    this.#idle.delete(key);
    return undefined;
  }
}

function idleKey(parent: string, maxAnswerBytes: number): string {
  return `${parent} ${maxAnswerBytes}`;
}

/**
 * Open both ways. (Bytes a parent sends beyond an answer are not read here:
 * the next request on the stream then fails to decode its answer and resets it.)
 */
function isUsable(piece: PieceStream): boolean {
  const { stream } = piece;
  return (
    stream.status === 'open' && stream.writeStatus === 'writable' && stream.remoteWriteStatus === 'writable'
  );
}
