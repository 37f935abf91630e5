// PostingList: the set of segment offsets that hold one indexed value, stored like one Roaring
// container: a sorted Uint32Array while sparse, bitset words once denser than one member per word.
import type { Bitset } from '../bitset.js'
import { corrupted } from './codec.js'

/** Lists with fewer members stay sparse whatever their span. */
const MIN_DENSE = 32
const SPARSE = 0
const DENSE = 1
/** `data` of a list with at most one member, held in `single` (no allocation for singleton values). */
const INLINE = new Uint32Array(0)

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333)
  x = (x + (x >>> 4)) & 0x0f0f0f0f
  return Math.imul(x, 0x01010101) >>> 24
}

/** First index in data[0, n) whose value is >= x (n when none). */
function lowerBound(data: Uint32Array, n: number, x: number): number {
  let lo = 0
  let hi = n
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (data[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/**
 * A mutable set of u32 offsets. Sparse form: members ascending in `data[0, size)`; appending a
 * member above the current maximum is O(1) amortised, other inserts and deletes shift (O(size)).
 * Dense form: bit `o & 31` of word `o >>> 5`; add/delete/has are O(1). A list turns dense when its
 * sorted array would take more words than the bitset (size > max/32 + 1, and size >= 32), and back
 * to sparse when fewer than one word in eight holds a member. A list of one member allocates no array.
 */
export class PostingList {
  private data: Uint32Array = INLINE
  private n = 0
  private single = 0
  private dense = false

  /** Number of members. */
  get size(): number {
    return this.n
  }

  /** Adds `offset` (a u32); returns false when it was a member already. */
  add(offset: number): boolean {
    if (this.dense) {
      const w = offset >>> 5
      const grown = w >= this.data.length
      if (grown) {
        const words = new Uint32Array(Math.max(w + 1, this.data.length + (this.data.length >>> 1)))
        words.set(this.data)
        this.data = words
      }
      const bit = 1 << (offset & 31)
      const word = this.data[w]!
      if ((word & bit) !== 0) return false
      this.data[w] = word | bit
      this.n++
      if (grown && this.n < this.data.length >>> 3) this.shrinkDense()
      return true
    }
    if (this.data === INLINE) {
      if (this.n === 0) {
        this.single = offset
        this.n = 1
        return true
      }
      if (offset === this.single) return false
      this.data = new Uint32Array(4)
      this.data[0] = this.single
    }
    const n = this.n
    if (n === 0 || offset > this.data[n - 1]!) {
      if (n === this.data.length) this.resizeSparse(n * 2)
      this.data[n] = offset
    } else {
      const at = lowerBound(this.data, n, offset)
      if (this.data[at] === offset) return false
      if (n === this.data.length) this.resizeSparse(n * 2)
      this.data.copyWithin(at + 1, at, n)
      this.data[at] = offset
    }
    this.n = n + 1
    if (this.n >= MIN_DENSE && this.n > (this.data[this.n - 1]! >>> 5) + 1) this.toDense()
    return true
  }

  /** Removes `offset`; returns false when it was not a member. */
  delete(offset: number): boolean {
    if (this.dense) {
      const w = offset >>> 5
      if (w >= this.data.length) return false
      const bit = 1 << (offset & 31)
      const word = this.data[w]!
      if ((word & bit) === 0) return false
      this.data[w] = word & ~bit
      this.n--
      if (this.n < this.data.length >>> 3) this.shrinkDense()
      return true
    }
    if (this.data === INLINE) {
      if (this.n === 0 || offset !== this.single) return false
      this.n = 0
      return true
    }
    const at = lowerBound(this.data, this.n, offset)
    if (at >= this.n || this.data[at] !== offset) return false
    this.data.copyWithin(at, at + 1, this.n)
    this.n--
    return true
  }

  has(offset: number): boolean {
    if (this.dense) {
      const w = offset >>> 5
      return w < this.data.length && ((this.data[w]! >>> (offset & 31)) & 1) === 1
    }
    if (this.data === INLINE) return this.n === 1 && offset === this.single
    const at = lowerBound(this.data, this.n, offset)
    return at < this.n && this.data[at] === offset
  }

  /** Adds every member below `bitset.size` to `bitset` (word OR when dense). */
  orInto(bitset: Bitset): void {
    const out = bitset.words
    const data = this.data
    if (this.dense) {
      const m = Math.min(data.length, out.length)
      for (let i = 0; i < m; i++) out[i]! |= data[i]!
      const rem = bitset.size & 31
      if (m === out.length && rem !== 0) out[m - 1]! &= ((1 << rem) >>> 0) - 1
      return
    }
    const size = bitset.size
    if (data === INLINE) {
      const o = this.single
      if (this.n === 1 && o < size) out[o >>> 5]! |= 1 << (o & 31)
      return
    }
    for (let i = 0; i < this.n; i++) {
      const o = data[i]!
      if (o >= size) break
      out[o >>> 5]! |= 1 << (o & 31)
    }
  }

  /** Members that are also in `bitset` (all members when null); word AND + popcount when dense. */
  countIn(bitset: Bitset | null): number {
    if (bitset === null) return this.n
    const words = bitset.words
    const data = this.data
    if (this.dense) {
      let n = 0
      const m = Math.min(data.length, words.length)
      for (let i = 0; i < m; i++) n += popcount32(data[i]! & words[i]!)
      return n
    }
    let n = 0
    this.forEach((o) => {
      if (o < bitset.size && bitset.has(o)) n++
    })
    return n
  }

  /** Calls `fn` with each member in ascending order. */
  forEach(fn: (offset: number) => void): void {
    const data = this.data
    if (data === INLINE) {
      if (this.n === 1) fn(this.single)
      return
    }
    if (!this.dense) {
      for (let i = 0; i < this.n; i++) fn(data[i]!)
      return
    }
    for (let i = 0; i < data.length; i++) {
      let x = data[i]!
      while (x !== 0) {
        const t = x & -x
        fn((i << 5) + 31 - Math.clz32(t))
        x ^= t
      }
    }
  }

  /** The members as bytes: u32 words, the first 0 (then members ascending) or 1 (then bitset words). */
  toBytes(): Uint8Array {
    let out: Uint32Array
    if (this.dense) {
      let w = this.data.length
      while (w > 0 && this.data[w - 1] === 0) w--
      out = new Uint32Array(w + 1)
      out[0] = DENSE
      out.set(this.data.subarray(0, w), 1)
    } else {
      out = new Uint32Array(this.n + 1)
      out[0] = SPARSE
      if (this.data === INLINE) out.subarray(1).fill(this.single)
      else out.set(this.data.subarray(0, this.n), 1)
    }
    return new Uint8Array(out.buffer)
  }

  /**
   * A list from `toBytes` output. Throws `CORRUPTED` when the length is not whole u32 words, the tag
   * is unknown, or sparse members are not strictly ascending.
   */
  static fromBytes(bytes: Uint8Array): PostingList {
    if (bytes.byteLength < 4 || bytes.byteLength % 4 !== 0)
      throw corrupted('posting list', `${bytes.byteLength} bytes is not a tag plus u32 words`)
    const words = new Uint32Array(bytes.slice().buffer)
    const list = new PostingList()
    const tag = words[0]
    const body = words.subarray(1)
    if (tag === SPARSE) {
      for (let i = 1; i < body.length; i++)
        if (body[i]! <= body[i - 1]!) throw corrupted('posting list', 'members are not strictly ascending')
      if (body.length === 1) list.single = body[0]!
      else if (body.length > 1) list.data = body.slice()
      list.n = body.length
    } else if (tag === DENSE) {
      let n = 0
      for (let i = 0; i < body.length; i++) if (body[i] !== 0) n += popcount32(body[i]!)
      list.data = body.slice()
      list.n = n
      list.dense = true
    } else {
      throw corrupted('posting list', `unknown tag ${tag}`)
    }
    return list
  }

  private resizeSparse(capacity: number): void {
    const data = new Uint32Array(Math.max(4, capacity))
    data.set(this.data.subarray(0, this.n))
    this.data = data
  }

  private toDense(): void {
    const words = new Uint32Array((this.data[this.n - 1]! >>> 5) + 1)
    for (let i = 0; i < this.n; i++) {
      const o = this.data[i]!
      words[o >>> 5]! |= 1 << (o & 31)
    }
    this.data = words
    this.dense = true
  }

  /** Called when few words hold members: trims trailing empty words, or turns sparse when still sparse enough. */
  private shrinkDense(): void {
    let w = this.data.length
    while (w > 0 && this.data[w - 1] === 0) w--
    if (this.n >= MIN_DENSE && this.n * 4 >= w) {
      this.data = this.data.slice(0, w)
      return
    }
    const members = new Uint32Array(Math.max(4, this.n))
    let j = 0
    this.forEach((o) => {
      members[j++] = o
    })
    this.data = members
    this.dense = false
  }
}

/**
 * The inverse of `lists`: for each offset o, the indexes of the lists holding it are
 * `members[starts[o] .. starts[o + 1])`, ascending. `starts` has max offset + 2 entries.
 */
export function byOffset(lists: readonly PostingList[]): { starts: Uint32Array; members: Uint32Array } {
  let span = 0
  let total = 0
  for (const list of lists) {
    total += list.size
    list.forEach((o) => {
      if (o >= span) span = o + 1
    })
  }
  const starts = new Uint32Array(span + 1)
  for (const list of lists)
    list.forEach((o) => {
      starts[o + 1]!++
    })
  for (let o = 0; o < span; o++) starts[o + 1]! += starts[o]!
  const fill = starts.slice(0, span)
  const members = new Uint32Array(total)
  lists.forEach((list, i) => {
    list.forEach((o) => {
      members[fill[o]!++] = i
    })
  })
  return { starts, members }
}
