/**
 * The hosts holding one piece, searched round-robin. A parent search looks at
 * a bounded number of holders; starting each search where the leading busy
 * holders end keeps it from meeting the same busy ones first every time, and
 * moves nothing (moving a passed-over holder to the back of a Set, as this used
 * to, made V8 rehash big sets over and over).
 *
 * Adding is O(1) and the caller adds a host once (the task's bitfields say who
 * holds what); removing is O(holders), which only departures and a poisoned
 * table do.
 */
export class HolderRing implements Iterable<string> {
  readonly #ids: string[] = [];
  #start = 0;

  get size(): number {
    return this.#ids.length;
  }

  add(id: string): void {
    this.#ids.push(id);
  }

  delete(id: string): boolean {
    const at = this.#ids.indexOf(id);
    if (at < 0) return false;
    this.#ids.splice(at, 1);
    if (at < this.#start) this.#start--;
    if (this.#start >= this.#ids.length) this.#start = 0;
    return true;
  }

  has(id: string): boolean {
    return this.#ids.includes(id);
  }

  clear(): void {
    this.#ids.length = 0;
    this.#start = 0;
  }

  /** A search found this holder busy: if the ring starts with it, the next search starts after it. */
  passOver(id: string): void {
    if (this.#ids[this.#start] !== id) return;
    this.#start = this.#start + 1 < this.#ids.length ? this.#start + 1 : 0;
  }

  /** Every holder once, from the current start. */
  *[Symbol.iterator](): Iterator<string> {
    const ids = this.#ids;
    const start = this.#start;
    for (let i = start; i < ids.length; i++) yield ids[i]!;
    for (let i = 0; i < start && i < ids.length; i++) yield ids[i]!;
  }
}
