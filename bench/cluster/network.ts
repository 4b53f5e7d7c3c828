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
  /** in the order they started (the order #rerate visits them) */
  readonly flows: Flow[] = [];
  /** bytes per millisecond */
  readonly capacity: number;
  /** bytes carried by flows that finished or were cut */
  carried = 0;
  /** #rerate's scratch, valid while `pass` is its current pass: room left, flows not yet rated */
  pass = 0;
  free = 0;
  unrated = 0;
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
  /** the last re-rating pass that saw this flow, and the last that rated it (at `share`) */
  pass = 0;
  rated = 0;
  share = 0;
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
  /** #rerate's scratch lists, kept between calls so a re-rating allocates nothing */
  readonly #flows: Flow[] = [];
  readonly #room: Link[] = [];
  readonly #ratedOrder: Flow[] = [];

  constructor(loop: EventLoop) {
    this.#loop = loop;
  }

  /** Starts moving `bytes` across `links`; onDone when the last byte arrived, onCut when cut first. */
  start(bytes: number, links: Link[], onDone: () => void, onCut: () => void = () => {}): Flow {
    const flow = new Flow(this, this.#loop, bytes, links, onDone, onCut);
    this.flowsStarted++;
    for (const link of links) link.flows.push(flow);
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
      removeInOrder(link.flows, flow);
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
    // Counted loops into kept arrays: for-of and emptying the arrays (length = 0 drops their
    // storage) allocated about 12 kB per re-rating, most of the simulator's garbage.
    const pass = ++this.#pass;
    const flows = this.#flows;
    const room = this.#room;
    const ratedOrder = this.#ratedOrder;
    let flowCount = 0;
    let roomCount = 0;
    let ratedCount = 0;
    for (let i = 0; i < links.length; i++) {
      const onLink = links[i]!.flows;
      for (let j = 0; j < onLink.length; j++) {
        const flow = onLink[j]!;
        if (flow.pass === pass) continue;
        flow.pass = pass;
        flows[flowCount++] = flow;
      }
    }
    for (let i = 0; i < flowCount; i++) {
      const flowLinks = flows[i]!.links;
      for (let j = 0; j < flowLinks.length; j++) {
        const link = flowLinks[j]!;
        if (link.pass !== pass) {
          link.pass = pass;
          let taken = 0;
          const onLink = link.flows;
          for (let k = 0; k < onLink.length; k++) {
            const other = onLink[k]!;
            if (other.pass !== pass) taken += other.rate;
          }
          link.free = Math.max(0, link.capacity - taken);
          link.unrated = 0;
          room[roomCount++] = link;
        }
        link.unrated++;
      }
    }
    while (ratedCount < flowCount) {
      // The first link (in the order met) with the smallest share per unrated flow.
      let bottleneck: Link | undefined;
      let share = Number.POSITIVE_INFINITY;
      for (let i = 0; i < roomCount; i++) {
        const link = room[i]!;
        if (link.unrated === 0) continue;
        const candidate = link.free / link.unrated;
        if (candidate < share) {
          share = candidate;
          bottleneck = link;
        }
      }
      const onBottleneck = bottleneck!.flows;
      for (let i = 0; i < onBottleneck.length; i++) {
        const flow = onBottleneck[i]!;
        if (flow.pass !== pass || flow.rated === pass) continue;
        flow.rated = pass;
        flow.share = share;
        ratedOrder[ratedCount++] = flow;
        const flowLinks = flow.links;
        for (let j = 0; j < flowLinks.length; j++) {
          const link = flowLinks[j]!;
          link.free = Math.max(0, link.free - share);
          link.unrated--;
        }
      }
    }
    for (let i = 0; i < ratedCount; i++) {
      const flow = ratedOrder[i]!;
      const rate = flow.share;
      if (rate === flow.rate && flow.armed) continue;
      this.#advance(flow);
      flow.rate = rate;
      // A flow left no room waits for the next re-rating of its links.
      if (rate > 0) this.#loop.arm(flow, flow.remaining / rate);
      else flow.cancel();
    }
  }
}

/** Removes `item` keeping the others' order (splice would allocate the removed part). */
function removeInOrder<T>(items: T[], item: T): void {
  const at = items.indexOf(item);
  for (let i = at + 1; i < items.length; i++) items[i - 1] = items[i]!;
  items.pop();
}
