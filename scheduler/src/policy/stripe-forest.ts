/**
 * A planned stripe forest (as in SplitStream): a blob's pieces are dealt into K
 * stripes (piece i is in stripe i mod K), and each stripe travels down a tree
 * that covers every node. Each node is interior in one stripe, where it passes
 * the stripe on to up to `childSlots` children, and a leaf in the others: every
 * node uploads about one copy of the blob and takes in K flows, one a stripe.
 * A stripe's root takes it from the origin, so each piece leaves the origin once.
 *
 * Pure: no clocks, no I/O. The planner decides who feeds whom, once per node
 * and stripe, and again only when a parent leaves or is too slow: that is what
 * lets a design built on it talk to its scheduler a few times per node and blob
 * instead of once per piece. The dispatcher does not plan with it yet; the
 * cluster simulator's model of that design does (bench/cluster/forest.ts).
 */

/** The parent of a stripe's root. */
export const ORIGIN = '';

/** A member that passes no stripe on. */
const NONE = -1;

/** A node was given a parent in one stripe (ORIGIN: it is the stripe's root). */
export interface Placement {
  child: string;
  stripe: number;
  parent: string;
}

interface Member {
  id: string;
  rack: number;
  /** the stripe it passes on, NONE for a late joiner (or one taken out: see demote) */
  interior: number;
  /** its parent in each stripe, undefined while it waits for one */
  parents: (string | undefined)[];
  /** its children in each stripe */
  children: Set<string>[];
  /** children in all stripes: what shares its upload */
  load: number;
  order: number;
}

export class StripeForest {
  readonly stripes: number;
  readonly childSlots: number;
  readonly #members = new Map<string, Member>();
  /** interior members of each stripe, in the order they joined (earlier: nearer the root) */
  readonly #interior: Member[][];
  /** per stripe, members before this index in #interior have no free slot (loads only fall on leave) */
  readonly #firstFree: number[];
  /** per stripe, members before this index in #interior have no free slot and no leaf child: no place for an interior node */
  readonly #firstOpen: number[];
  /** members waiting for a parent in each stripe (no slot free for them yet) */
  readonly #waiting: Member[][];
  /** each stripe's root: the member that takes it from the origin */
  readonly #roots: (Member | undefined)[];
  #joined = 0;
  /** the racks of the members that joined: with more than one, leaves wait for a parent in their own */
  readonly #racks = new Set<number>();
  /** per rack, how many of its nodes pass on each stripe (leaves do not count) */
  readonly #rackInterior = new Map<number, number[]>();

  constructor(stripes: number, childSlots: number) {
    if (!(Number.isSafeInteger(stripes) && stripes >= 1)) throw new RangeError('stripes must be >= 1');
    if (!(Number.isSafeInteger(childSlots) && childSlots >= 1))
      throw new RangeError('childSlots must be >= 1');
    this.stripes = stripes;
    this.childSlots = childSlots;
    this.#interior = Array.from({ length: stripes }, () => []);
    this.#firstFree = new Array<number>(stripes).fill(0);
    this.#firstOpen = new Array<number>(stripes).fill(0);
    this.#waiting = Array.from({ length: stripes }, () => []);
    this.#roots = new Array(stripes).fill(undefined);
  }

  /**
   * Adds a node. `interior`: it takes a stripe to pass on (false for a node that joins late, which
   * would hold back whoever it fed). Returns every placement made: its own, and those of nodes that
   * waited for the stripe it is the first to pass on.
   */
  join(id: string, rack: number, interior: boolean): Placement[] {
    if (this.#members.has(id)) throw new Error(`${id} joined twice`);
    const member: Member = {
      id,
      rack,
      interior: interior ? this.#leastInterior(rack) : NONE,
      parents: new Array(this.stripes).fill(undefined),
      children: Array.from({ length: this.stripes }, () => new Set<string>()),
      load: 0,
      order: this.#joined++,
    };
    this.#members.set(id, member);
    this.#racks.add(rack);
    const placed: Placement[] = [];
    const own = member.interior;
    if (own !== NONE) {
      this.#interior[own]!.push(member);
      if (!this.#roots[own]) this.#makeRoot(member, own, placed);
    }
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      if (member.parents[stripe] !== undefined) continue;
      this.#place(member, stripe, placed);
    }
    // Nodes that waited for a slot in its stripe take the ones it brings.
    if (own !== NONE) this.#adopt(member, own, placed);
    return placed;
  }

  /** Removes a node: its children get new parents (returned); the first interior one of a root's becomes the root. */
  leave(id: string): Placement[] {
    const member = this.#members.get(id);
    if (!member) return [];
    const rootOf = new Set<number>();
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      if (member.parents[stripe] === ORIGIN) rootOf.add(stripe);
      this.#detach(member, stripe);
    }
    this.#members.delete(id);
    return this.#retire(member, rootOf);
  }

  /**
   * A node that feeds its children too slowly, or not at all (a child said so), passes nothing on any
   * more: its children get new parents (returned), a stripe it was the root of gets another root, and
   * it stays a leaf, fed as before (in a stripe it was the root of, by a parent of its own now).
   */
  demote(id: string): Placement[] {
    const member = this.#members.get(id);
    if (!member || member.interior === NONE) return [];
    const rootOf = new Set<number>();
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      if (member.parents[stripe] !== ORIGIN) continue;
      rootOf.add(stripe);
      member.parents[stripe] = undefined;
    }
    const placed = this.#retire(member, rootOf);
    for (const stripe of rootOf) this.#place(member, stripe, placed);
    return placed;
  }

  /** `member` passes nothing on any more: its children (and the stripes in `rootOf`) get other parents. */
  #retire(member: Member, rootOf: ReadonlySet<number>): Placement[] {
    const own = member.interior;
    if (own !== NONE) {
      const list = this.#interior[own]!;
      list.splice(list.indexOf(member), 1);
      this.#rackInterior.get(member.rack)![own]!--;
      this.#firstFree[own] = 0;
      // Its parent now has a leaf child (it), and its children other parents.
      this.#firstOpen[own] = 0;
    }
    member.interior = NONE;
    const placed: Placement[] = [];
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      const orphans = [...member.children[stripe]!]
        .map((child) => this.#members.get(child)!)
        .sort((a, b) => a.order - b.order);
      member.children[stripe]!.clear();
      member.load -= orphans.length;
      for (const orphan of orphans) orphan.parents[stripe] = undefined;
      if (rootOf.has(stripe)) {
        // The stripe needs a root: an orphan that passes it on, else any node that does, else an orphan.
        const heir = orphans.find((o) => o.interior === stripe) ?? this.#interior[stripe]![0] ?? orphans[0];
        this.#roots[stripe] = undefined;
        if (heir) {
          this.#detach(heir, stripe);
          this.#makeRoot(heir, stripe, placed);
        }
      }
      for (const orphan of orphans)
        if (orphan.parents[stripe] === undefined) this.#place(orphan, stripe, placed);
    }
    return placed;
  }

  parentOf(id: string, stripe: number): string | undefined {
    return this.#members.get(id)?.parents[stripe];
  }

  childrenOf(id: string, stripe: number): ReadonlySet<string> {
    return this.#members.get(id)?.children[stripe] ?? new Set();
  }

  /** The stripe `id` passes on; undefined when none (or not a member). */
  interiorOf(id: string): number | undefined {
    const stripe = this.#members.get(id)?.interior;
    return stripe === undefined || stripe === NONE ? undefined : stripe;
  }

  /** Hops from the origin to `id` in `stripe` (1: the root); undefined while it has no parent. */
  depth(id: string, stripe: number): number | undefined {
    let hops = 0;
    for (let at = this.#members.get(id); at; ) {
      const parent = at.parents[stripe];
      if (parent === undefined) return undefined;
      hops++;
      if (parent === ORIGIN) return hops;
      at = this.#members.get(parent);
    }
    return undefined;
  }

  /** The stripe fewest of the rack's nodes pass on (then fewest of all): each rack passes every stripe on within itself. */
  #racked(): boolean {
    return this.#racks.size > 1;
  }

  #leastInterior(rack: number): number {
    const inRack = this.#rackInterior.get(rack) ?? new Array<number>(this.stripes).fill(0);
    this.#rackInterior.set(rack, inRack);
    let best = 0;
    for (let stripe = 1; stripe < this.stripes; stripe++) {
      const fewer =
        inRack[stripe]! < inRack[best]! ||
        (inRack[stripe] === inRack[best] && this.#interior[stripe]!.length < this.#interior[best]!.length);
      if (fewer) best = stripe;
    }
    inRack[best]!++;
    return best;
  }

  /**
   * Gives `member` a parent in `stripe`. A member that passes the stripe on and finds no free slot
   * takes the place of a leaf child of an interior member nearer the root, and that leaf becomes
   * its child (as SplitStream pushes leaves down): interior members stay near the root, so the
   * tree stays shallow, and nobody feeds more children than it has slots.
   */
  #place(member: Member, stripe: number, placed: Placement[]): void {
    if (member.interior === stripe) {
      // Nearest the root first, in its rack first: a free slot, or a leaf child (of its rack) to push down.
      if (this.#placeInterior(member, stripe, placed, true)) return;
      // The stripe is in its rack already: sharing an upload there beats a second way in across the uplink.
      const inRack = this.#racked() ? this.#fedLeastLoaded(member, stripe) : undefined;
      if (inRack) placed.push(this.#attach(member, stripe, inRack));
      else if (!this.#placeInterior(member, stripe, placed, false)) this.#waiting[stripe]!.push(member);
      return;
    }
    // A leaf takes a free slot, else waits for one: nodes that join later bring theirs (#adopt).
    const parent = this.#parentFor(member, stripe, false);
    if (parent) placed.push(this.#attach(member, stripe, parent));
    else this.#waiting[stripe]!.push(member);
  }

  #placeInterior(member: Member, stripe: number, placed: Placement[], inRack: boolean): boolean {
    const list = this.#interior[stripe]!;
    let open = this.#firstOpen[stripe]!;
    while (open < list.length && this.#closed(list[open]!, stripe)) open++;
    this.#firstOpen[stripe] = open;
    for (let at = open; at < list.length; at++) {
      const above = list[at]!;
      if (above === member || (inRack && above.rack !== member.rack)) continue;
      if (this.#below(above, member, stripe)) continue;
      if (above.load < this.childSlots) {
        placed.push(this.#attach(member, stripe, above));
        return true;
      }
      for (const leafId of above.children[stripe]!) {
        const leaf = this.#members.get(leafId)!;
        // The leaf goes under the member: only one of the member's rack, so it crosses no uplink.
        if (leaf.interior === stripe || leaf.rack !== member.rack) continue;
        this.#detach(leaf, stripe);
        placed.push(this.#attach(member, stripe, above));
        placed.push(this.#attach(leaf, stripe, member));
        return true;
      }
    }
    return false;
  }

  /** `member` has no free slot, and only children that pass `stripe` on: nothing to take or push down. */
  #closed(member: Member, stripe: number): boolean {
    if (member.load < this.childSlots) return false;
    for (const childId of member.children[stripe]!)
      if (this.#members.get(childId)!.interior !== stripe) return false;
    return true;
  }

  /** The least loaded member that passes `stripe` on and is fed it already: in `member`'s rack, with racks. */
  #fedLeastLoaded(member: Member, stripe: number): Member | undefined {
    let least: Member | undefined;
    for (const other of this.#interior[stripe]!) {
      if (other === member || other.parents[stripe] === undefined) continue;
      if (this.#racked() && other.rack !== member.rack) continue;
      if (this.#below(other, member, stripe)) continue;
      if (!least || other.load < least.load) least = other;
    }
    return least;
  }

  /** Waiting nodes take `member`'s free slots in `stripe`, those waiting longest first. */
  #adopt(member: Member, stripe: number, placed: Placement[]): void {
    const waiting = this.#waiting[stripe]!;
    const still: Member[] = [];
    // Only as far as its slots go: in a rollout thousands may wait while the first nodes join.
    let at = 0;
    for (; at < waiting.length && member.load < this.childSlots; at++) {
      const waiter = waiting[at]!;
      if (this.#members.get(waiter.id) !== waiter || waiter.parents[stripe] !== undefined) continue;
      // With racks, a leaf waits for a parent of its own; an interior node of another rack keeps waiting too.
      const fits = !this.#racked() || waiter.rack === member.rack;
      if (fits && !this.#below(member, waiter, stripe)) placed.push(this.#attach(waiter, stripe, member));
      else still.push(waiter);
    }
    waiting.splice(0, at, ...still);
  }

  /**
   * Nodes still waiting for a slot get a parent anyway, the least loaded (sharing its upload): for
   * the caller to call once no more interior nodes are coming soon (the scheduler's sweep), so a
   * node that joined late or lost its parent is not kept waiting for slots nobody will bring.
   */
  placeWaiting(): Placement[] {
    const placed: Placement[] = [];
    for (let stripe = 0; stripe < this.stripes; stripe++) {
      const waiting = this.#waiting[stripe]!;
      const still: Member[] = [];
      for (const waiter of waiting.splice(0)) {
        if (this.#members.get(waiter.id) !== waiter || waiter.parents[stripe] !== undefined) continue;
        const parent = this.#parentFor(waiter, stripe, true);
        if (parent) placed.push(this.#attach(waiter, stripe, parent));
        else still.push(waiter);
      }
      waiting.push(...still);
    }
    return placed;
  }

  #makeRoot(member: Member, stripe: number, placed: Placement[]): void {
    member.parents[stripe] = ORIGIN;
    this.#roots[stripe] = member;
    placed.push({ child: member.id, stripe, parent: ORIGIN });
  }

  #detach(child: Member, stripe: number): void {
    const parent = child.parents[stripe];
    child.parents[stripe] = undefined;
    if (!parent) return; // none, or the origin
    const above = this.#members.get(parent);
    if (!above) return;
    above.children[stripe]!.delete(child.id);
    above.load--;
    this.#freed(above);
  }

  #attach(child: Member, stripe: number, parent: Member): Placement {
    // A leaf given to a parent over its slots (one that #firstOpen may have passed) can be pushed down.
    if (child.interior !== stripe && parent.load >= this.childSlots) this.#firstOpen[stripe] = 0;
    child.parents[stripe] = parent.id;
    parent.children[stripe]!.add(child.id);
    parent.load++;
    return { child: child.id, stripe, parent: parent.id };
  }

  #freed(member: Member): void {
    if (member.interior === NONE) return;
    this.#firstFree[member.interior] = 0;
    this.#firstOpen[member.interior] = 0;
  }

  /**
   * A parent for `child` in `stripe`: the interior member nearest the root with a free slot, in the
   * child's rack when one has; with none free, the least loaded (a node that joined late or lost
   * its parent shares an upload rather than waits). Never one below the child in that stripe.
   */
  #parentFor(child: Member, stripe: number, overload: boolean): Member | undefined {
    const list = this.#interior[stripe]!;
    if (list.length === 0) return undefined;
    let firstFree = this.#firstFree[stripe]!;
    while (firstFree < list.length && list[firstFree]!.load >= this.childSlots) firstFree++;
    this.#firstFree[stripe] = firstFree;
    let anyRack: Member | undefined;
    for (let at = firstFree; at < list.length; at++) {
      const candidate = list[at]!;
      if (candidate === child || candidate.load >= this.childSlots) continue;
      if (this.#below(candidate, child, stripe)) continue;
      if (candidate.rack === child.rack) return candidate;
      anyRack ??= candidate;
    }
    // With racks, a parent in the child's own rack shares its upload sooner than one across the uplink gives a slot.
    if (!this.#racked()) return anyRack ?? (overload ? this.#leastLoaded(child, stripe) : undefined);
    return overload ? this.#leastLoaded(child, stripe) : undefined;
  }

  /** The interior member of `stripe` with the fewest children, in the child's rack when it has one there. */
  #leastLoaded(child: Member, stripe: number): Member | undefined {
    const list = this.#interior[stripe]!;
    let least: Member | undefined;
    for (const candidate of list) {
      if (candidate === child || this.#below(candidate, child, stripe)) continue;
      const better =
        !least ||
        (candidate.rack === child.rack) > (least.rack === child.rack) ||
        ((candidate.rack === child.rack) === (least.rack === child.rack) && candidate.load < least.load);
      if (better) least = candidate;
    }
    return least;
  }

  /** Whether `node` is in the subtree of `top` in `stripe` (so `top` must not take it as parent). */
  #below(node: Member, top: Member, stripe: number): boolean {
    for (let at: Member | undefined = node; at; ) {
      if (at === top) return true;
      const parent = at.parents[stripe];
      if (parent === undefined || parent === ORIGIN) return false;
      at = this.#members.get(parent);
    }
    return false;
  }
}
