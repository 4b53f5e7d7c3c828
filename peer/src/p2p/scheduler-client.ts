import { lookup } from 'node:dns/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Stream } from '@libp2p/interface';
import { multiaddr } from '@multiformats/multiaddr';
import { messageChannel, type ShoalNode } from '@shoal/p2p';
import {
  PeerMessage,
  type Preheat,
  type Register,
  SCHEDULER_PROTOCOL,
  SchedulerMessage,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { TaskLine, TaskListener } from '../download/ports.ts';
import { SerialQueue } from '../serial-queue.ts';
import { pickScheduler } from './scheduler-pick.ts';
import { dnsNameOf, expandTarget, type ResolvedAddress, type SchedulerTarget } from './scheduler-targets.ts';

type Channel = ReturnType<typeof messageChannel<SchedulerMessage, PeerMessage>>;

export type { TaskLine, TaskListener } from '../download/ports.ts';

interface Session {
  /** the target's key */
  address: string;
  /** the scheduler's peer id: what digests are hashed to, however a peer names the scheduler */
  schedulerId: string;
  /** the stream ended; listeners were told */
  closed: boolean;
  channel: Channel;
  stream: Stream;
  /** messages to write, in order */
  sending: SerialQueue;
  listeners: Map<string, TaskListener>;
}

/** Resolves a host name to its addresses (node:dns lookup() with `all`). */
export type HostLookup = (name: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>;

/** getaddrinfo: /etc/hosts, then DNS with the resolver's search domains, as every other program on the node. */
export const systemLookup: HostLookup = (name, family) => lookup(name, { all: true, family });

/** Names are resolved again this often, so that new scheduler instances are found. */
export const RESOLVE_INTERVAL_MS = 30_000;
/** A failed connection asks for an early resolution, at most this often. */
const MIN_RESOLVE_GAP_MS = 1_000;

/**
 * How long a pull that comes right after start waits for the first scheduler
 * session at most; a node restarted on a busy cluster must not take the blob
 * from the origin only because its session was still coming up.
 */
export const START_GRACE_MS = 5_000;

/** Errors meaning the name has no address now (as opposed to a resolver that could not answer). */
const NAME_HAS_NO_ADDRESS = new Set(['ENOTFOUND', 'ENODATA']);

interface TargetState {
  target: SchedulerTarget;
  /** no longer resolved: its session may finish, but is not reopened */
  retired: boolean;
}

export interface SchedulerClientOptions {
  node: ShoalNode;
  /** scheduler multiaddrs, with or without /p2p/<id>; /dns4, /dns6 and /dns names are resolved here */
  addresses: string[];
  /** Host name resolution; systemLookup by default. */
  lookup?: HostLookup;
  /** How often names are resolved again; RESOLVE_INTERVAL_MS by default. */
  resolveIntervalMs?: number;
  /** How long ready() waits for a first session at most; START_GRACE_MS by default. */
  startGraceMs?: number;
  /** Register message sent on every (re)connection: addresses, labels, slots, holdings. */
  registration: () => Promise<Register>;
  /** Other peers of the swarm, as the scheduler lists them on registration. */
  onSwarm?: (peers: { id: string; addrs: string[] }[]) => void;
  /** The scheduler asks this node to cache an object; `reply` answers on the same session. */
  onPreheat?: (request: Preheat, reply: (message: PeerMessage) => void) => void;
  logger: Logger;
}

/**
 * Keeps one long-lived stream to each scheduler, re-registering on reconnect,
 * and routes messages by digest to the task that opened them. A name stands
 * for every scheduler it resolves to (see scheduler-targets.ts); names are
 * resolved again periodically and after a failed connection, so that new
 * instances are joined and replaced ones dropped.
 */
export class SchedulerClient {
  readonly #options: SchedulerClientOptions;
  readonly #lookup: HostLookup;
  readonly #sessions = new Map<string, Session>();
  readonly #targets = new Map<string, TargetState>();
  /** per configured name, the targets it last resolved to, and the last resolution error */
  readonly #lastTargets = new Map<string, SchedulerTarget[]>();
  readonly #lastErrors = new Map<string, string>();
  #wakeResolver: (() => void) | undefined;
  /** Settles when a session opens, when every first connection attempt has failed, or after the start grace. */
  readonly #firstAttempts = Promise.withResolvers<void>();
  /** Targets of the first resolution whose first attempt has not ended; undefined before that resolution. */
  #firstAttemptsLeft: number | undefined;
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(options: SchedulerClientOptions) {
    this.#options = options;
    this.#lookup = options.lookup ?? systemLookup;
  }

  start(): void {
    const grace = setTimeout(
      () => this.#firstAttempts.resolve(),
      this.#options.startGraceMs ?? START_GRACE_MS,
    );
    grace.unref();
    void this.#firstAttempts.promise.then(() => clearTimeout(grace));
    void this.#watchNames();
  }

  /** Resolves once the client has had its first chance to connect (at once, ever after). */
  ready(): Promise<void> {
    return this.#firstAttempts.promise;
  }

  /** Schedulers with an open session. */
  get connected(): number {
    return new Set([...this.#sessions.values()].map((s) => s.schedulerId)).size;
  }

  /** Opens a line for a task with the scheduler responsible for its digest, or undefined when none is connected. */
  openTask(digest: string, listener: TaskListener): TaskLine | undefined {
    const sessions = [...this.#sessions.values()];
    const schedulerId = pickScheduler(digest, [...new Set(sessions.map((s) => s.schedulerId))]);
    const session = sessions.find(
      (s) => s.schedulerId === schedulerId && !s.closed && s.stream.status === 'open',
    );
    if (!session) return undefined;
    session.listeners.set(digest, listener);
    return {
      send: (message) => this.#send(session, message),
      close: () => {
        if (session.listeners.get(digest) === listener) session.listeners.delete(digest);
      },
    };
  }

  /** The node no longer holds a blob (evicted): every scheduler stops naming it as a parent of it. */
  dropped(digest: string): void {
    for (const session of this.#sessions.values())
      if (!session.closed) this.#send(session, { dropped: { digests: [digest] } });
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    this.#wakeResolver?.();
    for (const session of this.#sessions.values()) await session.stream.close().catch(() => {});
  }

  #send(session: Session, message: PeerMessage): void {
    session.sending
      .run(() => session.channel.write(message))
      .catch((error: Error) => session.stream.abort(error));
  }

  /** Resolves the configured names now, then again every interval or sooner after a failure. */
  async #watchNames(): Promise<void> {
    const watched = this.#options.addresses.some((address) => dnsNameOf(address) !== undefined);
    while (!this.#stopped) {
      await this.#resolveTargets();
      if (!watched || this.#stopped) return;
      const wait = new AbortController();
      this.#wakeResolver = () => wait.abort();
      await sleep(this.#options.resolveIntervalMs ?? RESOLVE_INTERVAL_MS, undefined, {
        signal: AbortSignal.any([wait.signal, this.#abort.signal]),
      }).catch(() => {});
      this.#wakeResolver = undefined;
      await sleep(MIN_RESOLVE_GAP_MS, undefined, { signal: this.#abort.signal }).catch(() => {});
    }
  }

  /** Starts a session loop for every new target and retires the targets no longer resolved. */
  async #resolveTargets(): Promise<void> {
    const current = new Map<string, SchedulerTarget>();
    for (const address of this.#options.addresses) {
      for (const target of await this.#targetsOf(address)) current.set(target.key, target);
    }
    if (this.#stopped) return;
    if (this.#firstAttemptsLeft === undefined) {
      this.#firstAttemptsLeft = current.size;
      if (current.size === 0) this.#firstAttempts.resolve();
    }
    for (const [key, target] of current) {
      const state = this.#targets.get(key);
      if (state) {
        state.target = target;
        state.retired = false;
        continue;
      }
      const fresh: TargetState = { target, retired: false };
      this.#targets.set(key, fresh);
      void this.#maintain(key, fresh);
    }
    for (const [key, state] of this.#targets) if (!current.has(key)) state.retired = true;
  }

  async #targetsOf(address: string): Promise<SchedulerTarget[]> {
    const dns = dnsNameOf(address);
    if (!dns) return expandTarget(address, []);
    const log = this.#options.logger;
    let targets: SchedulerTarget[];
    try {
      targets = expandTarget(address, await this.#lookup(dns.name, dns.family));
      this.#lastErrors.delete(address);
    } catch (error) {
      const { code, message } = error as NodeJS.ErrnoException;
      // Said once per new error: a broken name is retried every few seconds.
      const level = this.#lastErrors.get(address) === message ? 'debug' : 'warn';
      this.#lastErrors.set(address, message);
      log[level]({ scheduler: address, err: message }, 'cannot resolve the scheduler name');
      // A resolver that did not answer says nothing about the schedulers: keep what the name gave before.
      if (!NAME_HAS_NO_ADDRESS.has(code ?? '')) return this.#lastTargets.get(address) ?? [];
      targets = [];
    }
    const before = this.#lastTargets.get(address);
    const keys = (list: SchedulerTarget[] | undefined) => JSON.stringify(list?.map((t) => t.addrs));
    if (keys(before) !== keys(targets)) {
      log.info({ scheduler: address, resolved: targets.flatMap((t) => t.addrs) }, 'scheduler name resolved');
    }
    this.#lastTargets.set(address, targets);
    return targets;
  }

  async #maintain(address: string, state: TargetState): Promise<void> {
    let delay = 250;
    for (let first = true; !this.#stopped && !state.retired; first = false) {
      let ended = 'the scheduler ended the session';
      try {
        const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(10_000)]);
        const connection = await this.#options.node.dial(
          state.target.addrs.map((a) => multiaddr(a)),
          { signal },
        );
        const stream = await connection.newStream(SCHEDULER_PROTOCOL, { signal });
        const channel = messageChannel(stream, SchedulerMessage, PeerMessage);
        const session: Session = {
          address,
          schedulerId: connection.remotePeer.toString(),
          closed: false,
          channel,
          stream,
          sending: new SerialQueue(),
          listeners: new Map(),
        };
        await channel.write({ register: await this.#options.registration() });
        this.#sessions.set(address, session);
        this.#firstAttempts.resolve();
        this.#options.logger.info(
          { scheduler: address, schedulerId: session.schedulerId },
          'connected to scheduler',
        );
        delay = 250;
        await this.#readLoop(session);
      } catch (error) {
        if (this.#stopped) return;
        ended = (error as Error).message;
        this.#options.logger.debug(
          { scheduler: address, err: (error as Error).message },
          'scheduler connection failed',
        );
        // The instance may be gone and another may have taken its place.
        this.#wakeResolver?.();
        if (first && this.#firstAttemptsLeft !== undefined && --this.#firstAttemptsLeft <= 0)
          this.#firstAttempts.resolve();
      }
      const session = this.#sessions.get(address);
      if (session) {
        session.closed = true;
        this.#sessions.delete(address);
        this.#options.logger.warn({ scheduler: address, err: ended }, 'lost scheduler connection');
        for (const listener of session.listeners.values()) listener.onDisconnect();
      }
      if (this.#stopped || state.retired) break;
      await sleep(delay, undefined, { signal: this.#abort.signal }).catch(() => {});
      delay = Math.min(delay * 2, 5_000);
    }
    if (this.#targets.get(address) === state) this.#targets.delete(address);
  }

  async #readLoop(session: Session): Promise<void> {
    try {
      for (;;) {
        const message = await session.channel.read();
        if (message.swarm) this.#options.onSwarm?.(message.swarm.peers);
        if (message.preheat)
          this.#options.onPreheat?.(message.preheat, (reply) => this.#send(session, reply));
        const digest = message.taskInfo?.digest ?? message.assignments?.digest ?? message.reset?.digest;
        if (digest) session.listeners.get(digest)?.onMessage(message);
      }
    } finally {
      session.stream.abort(new Error('scheduler session ended'));
    }
  }
}
