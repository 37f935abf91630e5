// A fixed-size set of segment offsets as 32-bit words (bit i of word i >>> 5), the shape the WASM
// core's allow bitset takes. Payload indexes answer conditions with one; the planner combines them.

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

export class Bitset {
  /** Offsets 0 .. size-1 can be members. */
  readonly size: number
  /** ceil(size / 32) words; bits at and beyond `size` are always 0. */
  readonly words: Uint32Array

  /** An empty set over offsets 0 .. size-1 (or, with `words`, a set over those words). */
  constructor(size: number, words?: Uint32Array) {
    this.size = size
    this.words = words ?? new Uint32Array((size + 31) >>> 5)
  }

  /**
   * A set backed by the first ceil(size / 32) words of `words` (no copy). The caller keeps the bits
   * at and beyond `size` zero.
   */
  static view(size: number, words: Uint32Array): Bitset {
    return new Bitset(size, words.subarray(0, (size + 31) >>> 5))
  }

  /** Every offset 0 .. size-1. */
  static full(size: number): Bitset {
    const b = new Bitset(size)
    b.words.fill(0xffffffff)
    b.trim()
    return b
  }

  /** The given offsets (each must be < size). */
  static of(size: number, offsets: Iterable<number>): Bitset {
    const b = new Bitset(size)
    for (const o of offsets) b.add(o)
    return b
  }

  private trim(): void {
    const rem = this.size & 31
    if (rem !== 0) {
      const last = this.words.length - 1
      this.words[last] = this.words[last]! & (((1 << rem) >>> 0) - 1)
    }
  }

  has(offset: number): boolean {
    return offset >= 0 && offset < this.size && ((this.words[offset >>> 5]! >>> (offset & 31)) & 1) === 1
  }

  add(offset: number): void {
    this.words[offset >>> 5]! |= 1 << (offset & 31)
  }

  delete(offset: number): void {
    this.words[offset >>> 5]! &= ~(1 << (offset & 31))
  }

  /** In place: keeps only members also in `other` (offsets beyond other.size are dropped). */
  and(other: Bitset): this {
    const w = this.words
    const o = other.words
    const n = Math.min(w.length, o.length)
    for (let i = 0; i < n; i++) w[i]! &= o[i]!
    w.fill(0, n)
    return this
  }

  /** In place: adds the members of `other` that are < this.size. */
  or(other: Bitset): this {
    const w = this.words
    const o = other.words
    const n = Math.min(w.length, o.length)
    for (let i = 0; i < n; i++) w[i]! |= o[i]!
    this.trim()
    return this
  }

  /** In place: removes the members of `other`. */
  andNot(other: Bitset): this {
    const w = this.words
    const o = other.words
    const n = Math.min(w.length, o.length)
    for (let i = 0; i < n; i++) w[i]! &= ~o[i]!
    return this
  }

  /** In place: complement within 0 .. size-1. */
  invert(): this {
    const w = this.words
    for (let i = 0; i < w.length; i++) w[i] = ~w[i]!
    this.trim()
    return this
  }

  clone(): Bitset {
    const b = new Bitset(this.size)
    b.words.set(this.words)
    return b
  }

  /** Number of members. */
  count(): number {
    let n = 0
    const w = this.words
    for (let i = 0; i < w.length; i++) if (w[i] !== 0) n += popcount32(w[i]!)
    return n
  }

  /** Calls `fn` for each member in ascending order. */
  forEach(fn: (offset: number) => void): void {
    const w = this.words
    for (let i = 0; i < w.length; i++) {
      let x = w[i]!
      while (x !== 0) {
        const t = x & -x
        fn((i << 5) + 31 - Math.clz32(t))
        x ^= t
      }
    }
  }

  /** Members in ascending order. */
  toOffsets(): Uint32Array {
    const out = new Uint32Array(this.count())
    let j = 0
    this.forEach((o) => {
      out[j++] = o
    })
    return out
  }
}
