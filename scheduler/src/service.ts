import type { Connection, Stream } from '@libp2p/interface';
import { createOutbox, messageChannel, type Outbox, OutboxOverflowError, type ShoalNode } from '@shoal/p2p';
import {
  MAX_MESSAGE_BYTES,
  PEER_MESSAGE_LIMITS,
  PeerMessage,
  type PreheatDone,
  SCHEDULER_PROTOCOL,
  SchedulerMessage,
} from '@shoal/protocol';
import type { Logger } from '@shoal/telemetry';
import type { Dispatcher } from './dispatcher.ts';

type Channel = ReturnType<typeof messageChannel<PeerMessage, SchedulerMessage>>;

/** What peers send, decoded with caps on repeated fields: one frame must not decode into millions of objects. */
const peerMessages = {
  encode: PeerMessage.encode,
  decode: (bytes: Parameters<typeof PeerMessage.decode>[0]) =>
    PeerMessage.decode(bytes, { limits: PEER_MESSAGE_LIMITS }),
};

/** What besides piece dispatch wants to hear from sessions. */
export interface SessionEvents {
  onPreheatDone?: (hostId: string, message: PreheatDone) => void;
  onHostLeft?: (hostId: string) => void;
}

/**
 * What may wait unread for one peer before its session is dropped: a few of the largest
 * messages. A peer that falls this far behind reconnects and registers afresh.
 */
const OUTBOX_LIMIT_BYTES = 2 * MAX_MESSAGE_BYTES;

interface Session {
  channel: Channel;
  stream: Stream;
  /** messages to the peer, written together once per turn of the event loop */
  outbox: Outbox<SchedulerMessage>;
}

/**
 * Thin protocol server: one long-lived stream per peer, decoded messages
 * handed to the dispatcher, its answers written back in order.
 */
export class SchedulerService {
  readonly #node: ShoalNode;
  readonly #dispatcher: () => Dispatcher;
  readonly #log: Logger;
  readonly #sessions = new Map<string, Session>();
  readonly #events: SessionEvents;

  constructor(node: ShoalNode, dispatcher: () => Dispatcher, logger: Logger, events: SessionEvents = {}) {
    this.#node = node;
    this.#dispatcher = dispatcher;
    this.#log = logger;
    this.#events = events;
  }

  get sessionCount(): number {
    return this.#sessions.size;
  }

  async start(): Promise<void> {
    await this.#node.handle(
      SCHEDULER_PROTOCOL,
      (stream: Stream, connection: Connection) => {
        const hostId = connection.remotePeer.toString();
        // Whatever a session throws ends that session's stream, never the process.
        this.#serve(stream, hostId).catch((error: Error) => {
          this.#log.warn({ host: hostId, err: error.message }, 'session failed; dropping it');
          stream.abort(error);
        });
      },
      { maxInboundStreams: 4 },
    );
  }

  send(hostId: string, message: SchedulerMessage): void {
    const session = this.#sessions.get(hostId);
    session?.outbox.push(message);
  }

  async #serve(stream: Stream, hostId: string): Promise<void> {
    const channel = messageChannel(stream, peerMessages, SchedulerMessage);
    const previous = this.#sessions.get(hostId);
    previous?.stream.abort(new Error('replaced by a newer session'));
    const outbox = createOutbox(
      {
        send: (data) => stream.send(data),
        onDrain: () => stream.onDrain(),
        abort: (error) => {
          const level = error instanceof OutboxOverflowError ? 'warn' : 'debug';
          this.#log[level]({ host: hostId, err: error.message }, 'send to peer failed; dropping session');
          stream.abort(error);
        },
      },
      SchedulerMessage.encode,
      OUTBOX_LIMIT_BYTES,
    );
    const session: Session = { channel, stream, outbox };
    this.#sessions.set(hostId, session);
    const dispatcher = this.#dispatcher();
    try {
      for (;;) {
        const message = await channel.read();
        if (message.register) dispatcher.register(hostId, message.register);
        if (message.openTask) dispatcher.openTask(hostId, message.openTask);
        if (message.report) dispatcher.report(hostId, message.report);
        if (message.taskDone) dispatcher.taskDone(hostId, message.taskDone);
        if (message.dropped) dispatcher.dropped(hostId, message.dropped);
        if (message.preheatDone) this.#events.onPreheatDone?.(hostId, message.preheatDone);
      }
    } catch (error) {
      const closedNormally =
        stream.status !== 'open' || /EOF|closed|reset|abort/i.test((error as Error).message);
      if (!closedNormally) {
        this.#log.warn(
          { host: hostId, err: (error as Error).message },
          'bad message from peer; dropping session',
        );
      }
      stream.abort(error as Error);
    } finally {
      if (this.#sessions.get(hostId) === session) {
        this.#sessions.delete(hostId);
        dispatcher.hostLeft(hostId);
        this.#events.onHostLeft?.(hostId);
        this.#log.info({ host: hostId }, 'host left');
      }
    }
  }
}
