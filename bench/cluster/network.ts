/**
 * Flow-level network: every transfer is a flow across a few links (the
 * sender's uplink, the receiver's downlink, rack uplinks, the origin's
 * egress); rates are max-min fair (see #rerate). When a flow starts or ends
 * only the flows sharing one of its links are re-rated, so the cost of an
 * event is the number of flows near its own links, not the number in the
 * network.
 */

import { Alarm, type EventLoop } from './event-loop.ts';

export class Link {
  readonly flows = new Set<Flow>();
  /** bytes per millisecond */
  readonly capacity: number;
  /** bytes carried by flows that finished or were cut */
  carried = 0;
  constructor(bytesPerSecond: number) {
    this.capacity = bytesPerSecond / 1000;
  }
}

/** A transfer, and the alarm of its last byte at the current rate (disarmed while the rate is 0). */
export class Flow extends Alarm {
  remaining: number;
  readonly size: number;
  rate = 0;
  updatedAt: number;
  readonly links: Link[];
  readonly onDone: () => void;
  readonly onCut: () => void;
  ended = false;
  /** the last re-rating pass that saw this flow */
  pass = 0;
  readonly #network: Network;
  constructor(
    network: Network,
    loop: EventLoop,
    size: number,
    links: Link[],
    onDone: () => void,
    onCut: () => void,
  ) {
    super(loop);
    this.#network = network;
    this.size = size;
    this.remaining = size;
    this.links = links;
    this.updatedAt = loop.now();
    this.onDone = onDone;
    this.onCut = onCut;
  }

  ring(): void {
    this.#network.arrived(this);
  }
}

export class Network {
  readonly #loop: EventLoop;
  /** flows started (a measure of the simulator's work) */
  flowsStarted = 0;
  #pass = 0;

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  /** Starts moving `bytes` across `links`; onDone when the last byte arrived, onCut when cut first. */
  start(bytes: number, links: Link[], onDone: () => void, onCut: () => void = () => {}): Flow {
    const flow = new Flow(this, this.#loop, bytes, links, onDone, onCut);
    this.flowsStarted++;
    for (const link of links) link.flows.add(flow);
    this.#rerate(links);
    return flow;
  }

  /** The flow's last byte arrived (its alarm rang). */
  arrived(flow: Flow): void {
    this.#end(flow);
    flow.onDone();
  }

  /** Ends a flow before it finished (its sender or receiver went away, or it was no longer wanted). */
  cut(flow: Flow): void {
    if (flow.ended) return;
    this.#end(flow);
    flow.onCut();
  }

  #end(flow: Flow): void {
    flow.ended = true;
    flow.cancel();
    this.#advance(flow);
    const carried = flow.size - flow.remaining;
    for (const link of flow.links) {
      link.flows.delete(flow);
      link.carried += carried;
    }
    this.#rerate(flow.links);
  }

  #advance(flow: Flow): void {
    const now = this.#loop.now();
    flow.remaining = Math.max(0, flow.remaining - flow.rate * (now - flow.updatedAt));
    flow.updatedAt = now;
  }

  /**
   * Re-rates every flow on these links by progressive filling (max-min fair,
   * as TCP flows sharing links settle): the link with the smallest share per
   * unrated flow fixes those flows' rate, which then counts against their other
   * links, and so on. Flows elsewhere keep their rates and take their part of
   * a shared link first, so a flow held back on one link leaves the rest of
   * another to the flows that can use it instead of wasting it.
   */
  #rerate(links: Link[]): void {
    const pass = ++this.#pass;
    const flows: Flow[] = [];
    for (const link of links) {
      for (const flow of link.flows) {
        if (flow.pass === pass) continue;
        flow.pass = pass;
        flows.push(flow);
      }
    }
    const room = new Map<Link, { free: number; unrated: number }>();
    for (const flow of flows) {
      for (const link of flow.links) {
        let entry = room.get(link);
        if (!entry) {
          let taken = 0;
          for (const other of link.flows) if (other.pass !== pass) taken += other.rate;
          entry = { free: Math.max(0, link.capacity - taken), unrated: 0 };
          room.set(link, entry);
        }
        entry.unrated++;
      }
    }
    const rates = new Map<Flow, number>();
    while (rates.size < flows.length) {
      let bottleneck: Link | undefined;
      let share = Number.POSITIVE_INFINITY;
      for (const [link, entry] of room) {
        if (entry.unrated === 0) continue;
        const candidate = entry.free / entry.unrated;
        if (candidate < share) {
          share = candidate;
          bottleneck = link;
        }
      }
      for (const flow of bottleneck!.flows) {
        if (flow.pass !== pass || rates.has(flow)) continue;
        rates.set(flow, share);
        for (const link of flow.links) {
          const entry = room.get(link)!;
          entry.free = Math.max(0, entry.free - share);
          entry.unrated--;
        }
      }
    }
    for (const [flow, rate] of rates) {
      if (rate === flow.rate && flow.armed) continue;
      this.#advance(flow);
      flow.rate = rate;
      // A flow left no room waits for the next re-rating of its links.
      if (rate > 0) this.#loop.arm(flow, flow.remaining / rate);
      else flow.cancel();
    }
  }
}
