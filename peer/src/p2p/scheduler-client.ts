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
import { pickScheduler } from './scheduler-pick.ts';

type Channel = ReturnType<typeof messageChannel<SchedulerMessage, PeerMessage>>;

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

interface Session {
  address: string;
  /** the stream ended; listeners were told */
  closed: boolean;
  channel: Channel;
  stream: Stream;
  sending: Promise<void>;
  listeners: Map<string, TaskListener>;
}

export interface SchedulerClientOptions {
  node: ShoalNode;
  /** scheduler multiaddrs, with or without /p2p/<id> */
  addresses: string[];
  /** Register message sent on every (re)connection: addresses, labels, slots, holdings. */
  registration: () => Promise<Register>;
  /** Other peers of the swarm, as the scheduler lists them on registration. */
  onSwarm?: (peers: { id: string; addrs: string[] }[]) => void;
  /** The scheduler asks this node to cache an object; `reply` answers on the same session. */
  onPreheat?: (request: Preheat, reply: (message: PeerMessage) => void) => void;
  logger: Logger;
}

/**
 * Keeps one long-lived stream to each configured scheduler, re-registering on
 * reconnect, and routes messages by digest to the task that opened them.
 */
export class SchedulerClient {
  readonly #options: SchedulerClientOptions;
  readonly #sessions = new Map<string, Session>();
  #stopped = false;
  readonly #abort = new AbortController();

  constructor(options: SchedulerClientOptions) {
    this.#options = options;
  }

  start(): void {
    for (const address of this.#options.addresses) void this.#maintain(address);
  }

  get connected(): number {
    return this.#sessions.size;
  }

  /** Opens a line for a task with the scheduler responsible for its digest, or undefined when none is connected. */
  openTask(digest: string, listener: TaskListener): TaskLine | undefined {
    const address = pickScheduler(digest, [...this.#sessions.keys()]);
    const session = address ? this.#sessions.get(address) : undefined;
    if (!session || session.closed || session.stream.status !== 'open') return undefined;
    session.listeners.set(digest, listener);
    return {
      send: (message) => this.#send(session, message),
      close: () => {
        if (session.listeners.get(digest) === listener) session.listeners.delete(digest);
      },
    };
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    for (const session of this.#sessions.values()) await session.stream.close().catch(() => {});
  }

  #send(session: Session, message: PeerMessage): void {
    session.sending = session.sending
      .then(() => session.channel.write(message))
      .catch((error: Error) => session.stream.abort(error));
  }

  async #maintain(address: string): Promise<void> {
    let delay = 250;
    while (!this.#stopped) {
      try {
        const stream = await this.#options.node.dialProtocol(multiaddr(address), SCHEDULER_PROTOCOL, {
          signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(10_000)]),
        });
        const channel = messageChannel(stream, SchedulerMessage, PeerMessage);
        const session: Session = {
          address,
          closed: false,
          channel,
          stream,
          sending: Promise.resolve(),
          listeners: new Map(),
        };
        await channel.write({ register: await this.#options.registration() });
        this.#sessions.set(address, session);
        this.#options.logger.info({ scheduler: address }, 'connected to scheduler');
        delay = 250;
        await this.#readLoop(session);
      } catch (error) {
        if (this.#stopped) return;
        this.#options.logger.debug(
          { scheduler: address, err: (error as Error).message },
          'scheduler connection failed',
        );
      }
      const session = this.#sessions.get(address);
      if (session) {
        session.closed = true;
        this.#sessions.delete(address);
        this.#options.logger.warn({ scheduler: address }, 'lost scheduler connection');
        for (const listener of session.listeners.values()) listener.onDisconnect();
      }
      if (this.#stopped) return;
      await sleep(delay, undefined, { signal: this.#abort.signal }).catch(() => {});
      delay = Math.min(delay * 2, 5_000);
    }
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
