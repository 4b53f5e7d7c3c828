/**
 * Memory for bytes on their way to readers (HTTP response bodies, pieces to
 * peers), shared by every connection of the node.
 *
 * A sender asks for a grant before it fills a buffer and gives it back once
 * the buffer has left (taken by the socket, or by the stream muxer). What a
 * reader that does not read can pin is therefore its sender's window, and
 * what all of them together can pin is the budget: never more, however many
 * connections there are.
 *
 * Grants are multiples of a page. One page per sender is kept in reserve for
 * up to `guaranteedSenders` senders: a grant beyond a sender's first page is
 * only made while that reserve stays free, so readers that stopped (each
 * holding its window) cannot take the memory every other sender needs to make
 * progress; under pressure senders go on a page at a time.
 *
 * Senders may name the requester they answer (a peer of the swarm): all the
 * senders of one requester hold at most `groupBytes`, so one that opens many
 * streams and stops reading them cannot take what other requesters need.
 *
 * A sender that holds bytes and gives none back for `stallMs` is stalled:
 * sweep() reports it (its transport drops the connection and closes it, which
 * returns what it held). Pure accounting: the clock is passed in, and nothing
 * here starts a timer.
 */
/** Unit of grants: under pressure a sender goes on with answers cut in pieces of this size. */
export const SEND_PAGE_BYTES = 32 * 1024;

export interface SendBudgetOptions {
  /** Bytes all senders together may hold. */
  totalBytes: number;
  /** Unit of grants. */
  pageBytes: number;
  /** Senders for which one page each is kept free (at most totalBytes / pageBytes). */
  guaranteedSenders: number;
  /** A sender holding bytes that gave none back for this long is stalled. */
  stallMs: number;
  /** Most bytes the senders of one requester may hold together; unlimited by default. */
  groupBytes?: number;
  now: () => number;
}

export interface SenderOptions {
  /** Most bytes this sender may hold at once. */
  windowBytes: number;
  /** Called once, from sweep(), when the sender stalls. */
  onStall: () => void;
  /** The requester answered, whose senders share `groupBytes`. */
  group?: string;
}

export class SendClosedError extends Error {
  readonly code = 'SEND_CLOSED';
  constructor() {
    super('the sender was closed while waiting for memory');
    this.name = 'SendClosedError';
  }
}

/** The reader took none of its answer for the reader timeout: its connection or stream is dropped. */
export class ReaderStalledError extends Error {
  readonly code = 'READER_STALLED';
  constructor(stallMs: number) {
    super(`the reader took no bytes for ${Math.round(stallMs / 1000)} s`);
    this.name = 'ReaderStalledError';
  }
}

interface Waiter {
  sender: Sender;
  minBytes: number;
  maxBytes: number;
  resolve: (bytes: number) => void;
  reject: (error: Error) => void;
}

export class SendBudget {
  readonly totalBytes: number;
  readonly pageBytes: number;
  readonly stallMs: number;
  readonly groupBytes: number;
  readonly #guaranteed: number;
  readonly #heldByGroup = new Map<string, number>();
  readonly #now: () => number;
  #held = 0;
  #holders = 0;
  #waiters: Waiter[] = [];
  readonly #senders = new Set<Sender>();

  constructor(options: SendBudgetOptions) {
    const { totalBytes, pageBytes, guaranteedSenders } = options;
    if (!(pageBytes > 0) || !(totalBytes >= pageBytes))
      throw new RangeError(`a send budget of ${totalBytes} bytes has no page of ${pageBytes} bytes`);
    if (guaranteedSenders * pageBytes > totalBytes)
      throw new RangeError(
        `${guaranteedSenders} pages of ${pageBytes} bytes do not fit a send budget of ${totalBytes} bytes`,
      );
    this.totalBytes = totalBytes;
    this.pageBytes = pageBytes;
    this.stallMs = options.stallMs;
    this.groupBytes = options.groupBytes ?? Number.POSITIVE_INFINITY;
    this.#guaranteed = guaranteedSenders;
    this.#now = options.now;
  }

  /** A new sender, holding nothing. */
  open(options: SenderOptions): Sender {
    if (options.windowBytes < this.pageBytes)
      throw new RangeError(`a window of ${options.windowBytes} bytes holds no page`);
    const sender = new Sender(this, options, this.#now());
    this.#senders.add(sender);
    return sender;
  }

  get heldBytes(): number {
    return this.#held;
  }

  /** The largest grant a sender can ever have at once: what the reserve leaves when no one else holds anything. */
  get largestGrant(): number {
    return this.totalBytes - Math.max(0, this.#guaranteed - 1) * this.pageBytes;
  }

  /** Senders waiting for memory others hold. */
  get waiting(): number {
    return this.#waiters.length;
  }

  get senders(): number {
    return this.#senders.size;
  }

  /** Reports every sender that held bytes without giving any back for stallMs; returns how many. */
  sweep(): number {
    const now = this.#now();
    let stalled = 0;
    for (const sender of this.#senders) {
      if (sender.stalledAt(now, this.stallMs)) {
        stalled++;
        sender.reportStall();
      }
    }
    return stalled;
  }

  /** The largest grant in [minBytes, maxBytes] the sender may have now, or 0. */
  grantable(sender: Sender, minBytes: number, maxBytes: number): number {
    const page = this.pageBytes;
    const holdersAfter = this.#holders + (sender.held === 0 ? 1 : 0);
    const reserve = page * Math.max(0, this.#guaranteed - holdersAfter);
    const room = Math.min(
      maxBytes,
      this.groupRoom(sender),
      sender.windowBytes - sender.held,
      this.totalBytes - this.#held - reserve,
    );
    const bytes = Math.floor(room / page) * page;
    return bytes >= minBytes ? bytes : 0;
  }

  /** What the limit of the sender's requester still leaves it (unlimited for a sender of no requester). */
  groupRoom(sender: Sender): number {
    if (sender.group === undefined) return Number.POSITIVE_INFINITY;
    return this.groupBytes - (this.#heldByGroup.get(sender.group) ?? 0);
  }

  /** @internal */
  clock(): number {
    return this.#now();
  }

  /** @internal: a grant of `bytes` to `sender`, whose holding was `before`. */
  take(sender: Sender, before: number, bytes: number): void {
    if (before === 0) this.#holders++;
    this.#held += bytes;
    this.#addToGroup(sender.group, bytes);
  }

  /** @internal: `bytes` given back by `sender`, now holding `after`. */
  give(sender: Sender, bytes: number, after: number): void {
    this.#held -= bytes;
    if (after === 0 && bytes > 0) this.#holders--;
    this.#addToGroup(sender.group, -bytes);
    this.#serveWaiters();
  }

  #addToGroup(group: string | undefined, bytes: number): void {
    if (group === undefined || bytes === 0) return;
    const held = (this.#heldByGroup.get(group) ?? 0) + bytes;
    if (held > 0) this.#heldByGroup.set(group, held);
    else this.#heldByGroup.delete(group);
  }

  /** @internal */
  wait(waiter: Waiter): void {
    this.#waiters.push(waiter);
  }

  /** @internal: the sender is gone; its waiter (if any) is rejected. */
  forget(sender: Sender): void {
    this.#senders.delete(sender);
    const index = this.#waiters.findIndex((waiter) => waiter.sender === sender);
    if (index >= 0) this.#waiters.splice(index, 1)[0]!.reject(new SendClosedError());
  }

  /** Grants to waiters in the order they came, each that fits now (a first page may pass a larger ask). */
  #serveWaiters(): void {
    for (let i = 0; i < this.#waiters.length; ) {
      const waiter = this.#waiters[i]!;
      const bytes = this.grantable(waiter.sender, waiter.minBytes, waiter.maxBytes);
      if (bytes === 0) {
        i++;
        continue;
      }
      this.#waiters.splice(i, 1);
      waiter.sender.granted(bytes);
      waiter.resolve(bytes);
    }
  }
}

/** One reader's share of a SendBudget. */
export class Sender {
  readonly windowBytes: number;
  readonly group: string | undefined;
  readonly #budget: SendBudget;
  readonly #onStall: () => void;
  #held = 0;
  #lastProgress: number;
  #stallReported = false;
  #closed = false;

  /** @internal: made by SendBudget.open */
  constructor(budget: SendBudget, options: SenderOptions, now: number) {
    this.#budget = budget;
    this.windowBytes = options.windowBytes;
    this.group = options.group;
    this.#onStall = options.onStall;
    this.#lastProgress = now;
  }

  get held(): number {
    return this.#held;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Resolves with a grant of at least `minBytes` (a page by default) and at
   * most `maxBytes`, a multiple of the page, as soon as one fits. Rejects
   * with SendClosedError if the sender is closed first. One ask at a time.
   */
  acquire(maxBytes: number, minBytes = this.#budget.pageBytes): Promise<number> {
    if (this.#closed) return Promise.reject(new SendClosedError());
    const min = Math.max(this.#budget.pageBytes, minBytes);
    if (min > this.windowBytes || min > maxBytes)
      return Promise.reject(new RangeError(`a grant of ${min} bytes exceeds the window or the ask`));
    const bytes = this.#budget.grantable(this, min, maxBytes);
    if (bytes > 0) {
      this.granted(bytes);
      return Promise.resolve(bytes);
    }
    return new Promise((resolve, reject) => {
      this.#budget.wait({ sender: this, minBytes: min, maxBytes, resolve, reject });
    });
  }

  /** A grant of exactly `bytes` if it fits now, else 0 (nothing waits). */
  tryAcquire(bytes: number): number {
    if (this.#closed || this.#budget.grantable(this, bytes, bytes) !== bytes) return 0;
    this.granted(bytes);
    return bytes;
  }

  /** Bytes of earlier grants have left (delivered to the socket or the muxer): progress. */
  release(bytes: number): void {
    if (this.#closed) return;
    const given = Math.min(bytes, this.#held);
    this.#held -= given;
    this.#lastProgress = this.#budget.clock();
    this.#budget.give(this, given, this.#held);
  }

  /** Gives back everything held and rejects a waiting ask; later releases are ignored. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const held = this.#held;
    this.#held = 0;
    this.#budget.forget(this);
    this.#budget.give(this, held, 0);
  }

  /** @internal */
  granted(bytes: number): void {
    const before = this.#held;
    // The stall clock starts when a sender starts holding: time spent waiting for memory is not the reader's.
    if (before === 0) this.#lastProgress = this.#budget.clock();
    this.#held += bytes;
    this.#budget.take(this, before, bytes);
  }

  /** @internal */
  stalledAt(now: number, stallMs: number): boolean {
    return !this.#closed && !this.#stallReported && this.#held > 0 && now - this.#lastProgress >= stallMs;
  }

  /** @internal */
  reportStall(): void {
    this.#stallReported = true;
    this.#onStall();
  }
}

export const DEFAULT_SEND_BUFFER_BYTES = 64 * 1024 * 1024;
export const DEFAULT_READER_TIMEOUT_MS = 60_000;

/**
 * A node's budget: pages of SEND_PAGE_BYTES, half of them kept in reserve for
 * as many senders (1024 for the default 64 MiB), the other half widening the
 * windows of readers that keep up; one requester holds at most a quarter.
 */
export function nodeSendBudget(
  options: { bufferBytes?: number; readerTimeoutMs?: number; now?: () => number } = {},
): SendBudget {
  const totalBytes = options.bufferBytes ?? DEFAULT_SEND_BUFFER_BYTES;
  return new SendBudget({
    totalBytes,
    pageBytes: SEND_PAGE_BYTES,
    guaranteedSenders: Math.floor(totalBytes / 2 / SEND_PAGE_BYTES),
    stallMs: options.readerTimeoutMs ?? DEFAULT_READER_TIMEOUT_MS,
    groupBytes: Math.floor(totalBytes / 4 / SEND_PAGE_BYTES) * SEND_PAGE_BYTES,
    now: options.now ?? (() => performance.now()),
  });
}
