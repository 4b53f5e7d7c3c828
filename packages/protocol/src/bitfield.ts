/** A fixed-length set of piece indices, stored most-significant-bit first (as BitTorrent does). */
export class Bitfield {
  readonly length: number;
  readonly bytes: Uint8Array<ArrayBuffer>;
  #count = 0;

  constructor(length: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(length) || length < 0)
      throw new RangeError(`invalid bitfield length ${length}`);
    this.length = length;
    const byteLength = Math.ceil(length / 8);
    if (bytes) {
      if (bytes.length !== byteLength) {
        throw new RangeError(`bitfield of ${length} bits needs ${byteLength} bytes, got ${bytes.length}`);
      }
      // Spare bits past `length` must be zero, or two equal sets would compare unequal.
      if (length % 8 !== 0 && (bytes[byteLength - 1]! & (0xff >> (length % 8))) !== 0) {
        throw new RangeError('bitfield has bits set past its length');
      }
      this.bytes = Uint8Array.from(bytes);
      for (const byte of this.bytes) this.#count += popcount(byte);
    } else {
      this.bytes = new Uint8Array(byteLength);
    }
  }

  static full(length: number): Bitfield {
    const field = new Bitfield(length);
    for (let i = 0; i < length; i++) field.set(i);
    return field;
  }

  has(index: number): boolean {
    this.#check(index);
    return (this.bytes[index >> 3]! & (0x80 >> (index & 7))) !== 0;
  }

  /** Sets a bit; returns false when it was already set. */
  set(index: number): boolean {
    if (this.has(index)) return false;
    this.bytes[index >> 3]! |= 0x80 >> (index & 7);
    this.#count++;
    return true;
  }

  clear(index: number): boolean {
    if (!this.has(index)) return false;
    this.bytes[index >> 3]! &= ~(0x80 >> (index & 7));
    this.#count--;
    return true;
  }

  get count(): number {
    return this.#count;
  }

  get complete(): boolean {
    return this.#count === this.length;
  }

  /** Whether some bit set here is clear in `other` (of the same length): a byte at a time. */
  hasAnyNotIn(other: Bitfield): boolean {
    if (other.length !== this.length)
      throw new RangeError(`bitfields of ${this.length} and ${other.length} bits compared`);
    for (let i = 0; i < this.bytes.length; i++) if ((this.bytes[i]! & ~other.bytes[i]!) !== 0) return true;
    return false;
  }

  /** First index at or after `from` that is not set, or -1. */
  nextMissing(from = 0): number {
    if (from < this.length) this.#check(from);
    const bytes = this.bytes;
    for (let i = from; i < this.length; ) {
      // A full byte is eight indices set, stepped over at once: a near-complete field is mostly those.
      if ((i & 7) === 0 && bytes[i >> 3] === 0xff) {
        i += 8;
        continue;
      }
      if ((bytes[i >> 3]! & (0x80 >> (i & 7))) === 0) return i;
      i++;
    }
    return -1;
  }

  /**
   * First index at or after `from` that is set in `source` (of the same length) and not here, or -1:
   * a byte at a time, so bytes where `source` has nothing this lacks cost one step.
   */
  nextMissingFrom(source: Bitfield, from = 0): number {
    if (source.length !== this.length)
      throw new RangeError(`bitfields of ${this.length} and ${source.length} bits compared`);
    if (from < this.length) this.#check(from);
    const mine = this.bytes;
    const theirs = source.bytes;
    for (let i = from; i < this.length; ) {
      const wanted = theirs[i >> 3]! & ~mine[i >> 3]!;
      if (wanted === 0) {
        i = ((i >> 3) + 1) << 3;
        continue;
      }
      if ((wanted & (0x80 >> (i & 7))) !== 0) return i;
      i++;
    }
    return -1;
  }

  *missing(): Generator<number> {
    for (let i = 0; i < this.length; i++) if (!this.has(i)) yield i;
  }

  /**
   * First index at or after `from` that is set, or -1. Stepping with it allocates nothing, unlike
   * present(): the scheduler walks a peer's pieces each time the peer's upload slots fill or free.
   */
  nextPresent(from = 0): number {
    if (from < this.length) this.#check(from);
    const bytes = this.bytes;
    for (let i = from; i < this.length; ) {
      // An empty byte is eight indices clear, stepped over at once.
      if (bytes[i >> 3] === 0) {
        i = ((i >> 3) + 1) << 3;
        continue;
      }
      if ((bytes[i >> 3]! & (0x80 >> (i & 7))) !== 0) return i;
      i++;
    }
    return -1;
  }

  *present(): Generator<number> {
    for (let i = this.nextPresent(0); i !== -1; i = this.nextPresent(i + 1)) yield i;
  }

  #check(index: number): void {
    if (!Number.isInteger(index) || index < 0 || index >= this.length) {
      throw new RangeError(`bit ${index} outside 0..${this.length - 1}`);
    }
  }
}

function popcount(byte: number): number {
  let n = byte;
  let count = 0;
  while (n) {
    n &= n - 1;
    count++;
  }
  return count;
}
