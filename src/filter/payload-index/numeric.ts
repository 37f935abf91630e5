// NumericIndex: the `integer`, `float` and `datetime` field index: (value, offset) entries sorted for
// range scans, fed through an append buffer merged lazily, plus value -> PostingList for integer lookup.
import { QuiverError } from '../../errors.js'
import type { FacetValue, JsonValue, Payload } from '../../types.js'
import type { FieldNode, RangeNode } from '../ast.js'
import { Bitset } from '../bitset.js'
import { parseDateTime } from '../datetime.js'
import { unionCardinality } from './cardinality.js'
import {
  bytesOf,
  corrupted,
  decodeIndex,
  encodeIndex,
  f64Field,
  grow,
  restoring,
  u32Field,
  unsupported,
} from './codec.js'
import { forEachValue } from './field-values.js'
import { PostingList } from './posting.js'
import type { Cardinality, FacetIndex, FieldIndex, FieldIndexSpec, OrderIndex } from './types.js'

type NumericType = 'integer' | 'float' | 'datetime'
type Bounds = Pick<RangeNode, 'gt' | 'gte' | 'lt' | 'lte'>

/** Numbers as conditions compare them: -0 reads as 0; NaN (never matched by anything) is dropped. */
function readNumber(v: JsonValue): number | null {
  if (typeof v !== 'number' || Number.isNaN(v)) return null
  return v === 0 ? 0 : v
}

/** Datetime strings as epoch microseconds, as evaluate.ts's datetime range reads them. */
function readDateTime(v: JsonValue): number | null {
  if (typeof v !== 'string') return null
  const t = parseDateTime(v)
  return t === null || Number.isNaN(t) ? null : t
}

const RADIX_MIN = 512
const DIGITS = new Uint32Array(65536)

/**
 * The permutation of [0, m) that orders the pairs (vals[i], offs[i]) ascending, by value then
 * offset. Small inputs use a comparison sort; larger ones an LSD radix sort over 16-bit digits
 * (offset, then the value's order-preserving bit pattern; the offset passes are skipped when the
 * offsets already ascend, the usual upsert order), O(m) per pass. Assumes a little-endian host.
 */
function sortPairs(vals: Float64Array, offs: Uint32Array, m: number): Uint32Array {
  let perm = new Uint32Array(m)
  for (let i = 0; i < m; i++) perm[i] = i
  if (m < RADIX_MIN) {
    return perm.sort((a, b) => (vals[a]! < vals[b]! ? -1 : vals[a]! > vals[b]! ? 1 : offs[a]! - offs[b]!))
  }
  const hi = new Uint32Array(m)
  const lo = new Uint32Array(m)
  const bits = new Uint32Array(vals.buffer, vals.byteOffset, m * 2)
  for (let i = 0; i < m; i++) {
    const h = bits[2 * i + 1]!
    const l = bits[2 * i]!
    // Negative numbers: flip every bit; others: set the sign bit. Unsigned order then equals numeric order.
    if (h >>> 31 === 1) {
      hi[i] = ~h >>> 0
      lo[i] = ~l >>> 0
    } else {
      hi[i] = (h | 0x80000000) >>> 0
      lo[i] = l
    }
  }
  let tmp = new Uint32Array(m)
  const pass = (key: Uint32Array, shift: number): void => {
    const count = DIGITS
    count.fill(0)
    for (let i = 0; i < m; i++) count[(key[i]! >>> shift) & 0xffff]!++
    if (count[(key[0]! >>> shift) & 0xffff] === m) return
    let sum = 0
    for (let d = 0; d < 65536; d++) {
      const c = count[d]!
      count[d] = sum
      sum += c
    }
    for (let i = 0; i < m; i++) {
      const e = perm[i]!
      tmp[count[(key[e]! >>> shift) & 0xffff]!++] = e
    }
    const t = perm
    perm = tmp
    tmp = t
  }
  let ascending = true
  for (let i = 1; i < m && ascending; i++) if (offs[i]! < offs[i - 1]!) ascending = false
  if (!ascending) {
    pass(offs, 0)
    pass(offs, 16)
  }
  pass(lo, 0)
  pass(lo, 16)
  pass(hi, 0)
  pass(hi, 16)
  return perm
}

/**
 * Index of a numeric field. `integer` and `float` index every number at the key path (array
 * elements included; integers or not, so that ranges are exact); `datetime` indexes the strings that
 * parse as datetimes, as epoch microseconds. A point's duplicate values are indexed once.
 *
 * Supports: `range` (number bounds for integer/float, datetime bounds for datetime; integer needs
 * `range: true`); `match_value` with a number and `match_any` of integers for integer (by lookup
 * when `lookup: true`, else by range) and float. Datetime answers only datetime ranges (a number
 * payload never satisfies one, a datetime string never satisfies a number condition).
 *
 * Writes are O(values) (plus O(log n) per removed value already merged); the first range query after
 * writes sorts the buffer and merges it, dropping removed entries (O(n + b log b)), so building from n
 * upserts costs O(n log n) in all.
 */
export class NumericIndex implements FieldIndex, FacetIndex, OrderIndex {
  readonly spec: FieldIndexSpec
  readonly type: NumericType
  private readonly read: (v: JsonValue) => number | null
  /** value -> offsets; integer with `lookup` only. */
  private readonly lookup: Map<number, PostingList> | null
  /** Whether the sorted entries are kept (all but integer without `range`). */
  private readonly ranged: boolean

  /** Per offset: number of distinct values held (0: none). */
  private counts = new Uint32Array(0)
  /** Per offset: its value when it holds one. */
  private singles = new Float64Array(0)
  /** Offsets holding two or more values -> their distinct values ascending. */
  private readonly multis = new Map<number, Float64Array>()
  /** Per offset: 1 while its entries sit in the buffer rather than the sorted run. */
  private pending = new Uint8Array(0)
  private points = 0
  /** An upper bound of the values any one point holds. */
  private maxPerPoint = 1

  /** Entries sorted by (value, offset), n of them; `dead[i]` marks entries removed since the merge. */
  private vals = new Float64Array(0)
  private offs = new Uint32Array(0)
  private n = 0
  private dead = new Uint8Array(0)
  private deadCount = 0
  /** Entries appended since the last merge (some stale: their offset was removed or re-set since). */
  private bufVals = new Float64Array(0)
  private bufOffs = new Uint32Array(0)
  private bufLen = 0

  private readonly scratch: number[] = []

  /** An empty index; throws `INTERNAL` when `spec` is not an integer, float or datetime spec. */
  constructor(spec: FieldIndexSpec) {
    const p = spec.params
    if (p.type !== 'integer' && p.type !== 'float' && p.type !== 'datetime')
      throw new QuiverError('INTERNAL', `NumericIndex cannot index a ${p.type} field`)
    this.spec = spec
    this.type = p.type
    this.read = p.type === 'datetime' ? readDateTime : readNumber
    this.lookup = p.type === 'integer' && p.lookup !== false ? new Map() : null
    this.ranged = p.type !== 'integer' || p.range !== false
  }

  get pointCount(): number {
    return this.points
  }

  set(offset: number, payload: Payload | undefined): void {
    this.remove(offset)
    if (payload === undefined) return
    const xs = this.scratch
    xs.length = 0
    forEachValue(payload, this.spec.path, (v) => {
      const x = this.read(v)
      if (x !== null) xs.push(x)
    })
    if (xs.length === 0) return
    let k = 1
    if (xs.length > 1) {
      xs.sort((a, b) => a - b)
      for (let i = 1; i < xs.length; i++) if (xs[i] !== xs[k - 1]) xs[k++] = xs[i]!
    }
    if (offset >= this.counts.length) {
      this.counts = grow(this.counts, offset + 1)
      this.singles = grow(this.singles, offset + 1)
      this.pending = grow(this.pending, offset + 1)
    }
    this.counts[offset] = k
    if (k === 1) this.singles[offset] = xs[0]!
    else {
      this.multis.set(offset, Float64Array.from(xs.slice(0, k)))
      if (k > this.maxPerPoint) this.maxPerPoint = k
    }
    this.points++
    for (let i = 0; i < k; i++) {
      const x = xs[i]!
      if (this.lookup !== null) {
        let list = this.lookup.get(x)
        if (list === undefined) {
          list = new PostingList()
          this.lookup.set(x, list)
        }
        list.add(offset)
      }
      if (this.ranged) this.append(x, offset)
    }
    if (this.ranged) this.pending[offset] = 1
  }

  remove(offset: number): void {
    const k = offset < this.counts.length ? this.counts[offset]! : 0
    if (k === 0) return
    const many = k > 1 ? this.multis.get(offset)! : null
    const merged = this.ranged && this.pending[offset] === 0
    for (let i = 0; i < k; i++) {
      const x = many === null ? this.singles[offset]! : many[i]!
      if (this.lookup !== null) {
        const list = this.lookup.get(x)!
        list.delete(offset)
        if (list.size === 0) this.lookup.delete(x)
      }
      if (merged) {
        this.dead[this.find(x, offset)] = 1
        this.deadCount++
      }
    }
    this.pending[offset] = 0
    this.counts[offset] = 0
    if (many !== null) this.multis.delete(offset)
    this.points--
  }

  supports(node: FieldNode): boolean {
    switch (node.kind) {
      case 'range':
        return this.ranged && node.valueType === (this.type === 'datetime' ? 'datetime' : 'number')
      case 'match_value':
        return this.type !== 'datetime' && typeof node.value === 'number'
      case 'match_any':
        return this.type !== 'datetime' && node.valueType === 'integer'
      default:
        return false
    }
  }

  filter(node: FieldNode, size: number): Bitset {
    if (!this.supports(node)) throw unsupported(this.type, node)
    const out = new Bitset(size)
    if (node.kind === 'range') this.rangeInto(node, out)
    else if (node.kind === 'match_value') this.matchInto(node.value as number, out)
    else if (node.kind === 'match_any') for (const v of node.values) this.matchInto(v as number, out)
    return out
  }

  estimate(node: FieldNode): Cardinality {
    if (!this.supports(node)) throw unsupported(this.type, node)
    if (node.kind === 'match_value') {
      const n = this.matchCount(node.value as number)
      return { min: n, exp: n, max: n }
    }
    if (node.kind === 'match_any') {
      const sizes: number[] = []
      for (const v of node.values) sizes.push(this.matchCount(v as number))
      return unionCardinality(sizes, this.multis.size === 0, this.points)
    }
    this.merge()
    const [lo, hi] = this.span(node as RangeNode)
    const entries = hi - lo
    if (this.multis.size === 0) return { min: entries, exp: entries, max: entries }
    const max = Math.min(entries, this.points)
    const min = Math.ceil(entries / this.maxPerPoint)
    const exp = Math.max(min, Math.min(max, Math.round((entries * this.points) / Math.max(1, this.n))))
    return { min, exp, max }
  }

  /** Integer with `lookup` only: it holds a posting list per value, like Qdrant's integer map index. */
  get facetable(): boolean {
    return this.lookup !== null
  }

  /** Whether `walk` works: the sorted entries are kept (all but integer without `range`). */
  get orderable(): boolean {
    return this.ranged
  }

  /** Counts integer values only (Qdrant's facet values are i64; `facetable` must be true). */
  facetCounts(matches: Bitset | null, into: Map<FacetValue, number>): void {
    if (this.lookup === null)
      throw new QuiverError('INTERNAL', `a ${this.type} index without lookup cannot facet`)
    for (const [v, list] of this.lookup) {
      if (!Number.isInteger(v)) continue
      const n = list.countIn(matches)
      if (n > 0) into.set(v, (into.get(v) ?? 0) + n)
    }
  }

  walk(descending: boolean, from: number | null, fn: (value: number, offset: number) => boolean): void {
    if (!this.ranged) throw new QuiverError('INTERNAL', `a ${this.type} index without range cannot walk`)
    this.merge()
    const { vals, offs } = this
    if (!descending) {
      for (let p = from === null ? 0 : this.bound(from, false); p < this.n; p++)
        if (!fn(vals[p]!, offs[p]!)) return
      return
    }
    for (let p = (from === null ? this.n : this.bound(from, true)) - 1; p >= 0; p--)
      if (!fn(vals[p]!, offs[p]!)) return
  }

  /** `{ vals: f64 bytes, offs: u32 bytes }`: every (value, offset) entry, sorted, in msgpack. */
  serialize(): Uint8Array {
    if (this.ranged) {
      this.merge()
      return this.encode(this.vals.subarray(0, this.n), this.offs.subarray(0, this.n))
    }
    const keys = [...this.lookup!.keys()].sort((a, b) => a - b)
    let total = 0
    for (const k of keys) total += this.lookup!.get(k)!.size
    const vals = new Float64Array(total)
    const offs = new Uint32Array(total)
    let j = 0
    for (const k of keys) {
      this.lookup!.get(k)!.forEach((o) => {
        vals[j] = k
        offs[j++] = o
      })
    }
    return this.encode(vals, offs)
  }

  /**
   * The index `serialize` wrote. Throws `CORRUPTED` when the bytes are not one: wrong type, arrays of
   * different lengths, NaN values, or entries not strictly ascending by (value, offset).
   */
  static restore(spec: FieldIndexSpec, bytes: Uint8Array): NumericIndex {
    return restoring(spec.params.type, () => {
      const index = new NumericIndex(spec)
      const type = index.type
      const doc = decodeIndex(type, bytes)
      const vals = f64Field(type, doc, 'vals')
      const offs = u32Field(type, doc, 'offs')
      if (vals.length !== offs.length) throw corrupted(type, 'vals and offs differ in length')
      let maxOffset = -1
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i]!
        if (Number.isNaN(v) || Object.is(v, -0)) throw corrupted(type, `vals[${i}] is not an indexed value`)
        if (i > 0 && (v < vals[i - 1]! || (v === vals[i - 1] && offs[i]! <= offs[i - 1]!)))
          throw corrupted(type, `entry ${i} is out of order`)
        if (offs[i]! > maxOffset) maxOffset = offs[i]!
      }
      index.load(vals, offs, maxOffset + 1)
      return index
    })
  }

  private encode(vals: Float64Array, offs: Uint32Array): Uint8Array {
    return encodeIndex(this.type, { vals: bytesOf(vals), offs: bytesOf(offs) })
  }

  /** Fills an empty index from entries sorted by (value, offset) over offsets < `span`. */
  private load(vals: Float64Array<ArrayBuffer>, offs: Uint32Array<ArrayBuffer>, span: number): void {
    const counts = new Uint32Array(span)
    for (let i = 0; i < offs.length; i++) counts[offs[i]!]!++
    const singles = new Float64Array(span)
    const fill = new Uint32Array(span)
    for (let o = 0; o < span; o++) {
      const k = counts[o]!
      if (k === 0) continue
      this.points++
      if (k > 1) {
        this.multis.set(o, new Float64Array(k))
        if (k > this.maxPerPoint) this.maxPerPoint = k
      }
    }
    let run: PostingList | null = null
    for (let i = 0; i < vals.length; i++) {
      const v = vals[i]!
      const o = offs[i]!
      if (counts[o] === 1) singles[o] = v
      else this.multis.get(o)![fill[o]!++] = v
      if (this.lookup !== null) {
        if (i === 0 || v !== vals[i - 1]) {
          run = new PostingList()
          this.lookup.set(v, run)
        }
        run!.add(o)
      }
    }
    this.counts = counts
    this.singles = singles
    this.pending = new Uint8Array(span)
    if (this.ranged) {
      this.vals = vals
      this.offs = offs
      this.n = vals.length
      this.dead = new Uint8Array(vals.length)
    }
  }

  private append(x: number, offset: number): void {
    if (this.bufLen === this.bufVals.length) {
      this.bufVals = grow(this.bufVals, this.bufLen + 1)
      this.bufOffs = grow(this.bufOffs, this.bufLen + 1)
    }
    this.bufVals[this.bufLen] = x
    this.bufOffs[this.bufLen++] = offset
  }

  /** Position of the merged entry (x, offset), which must exist. */
  private find(x: number, offset: number): number {
    const { vals, offs } = this
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const v = vals[mid]!
      if (v < x || (v === x && offs[mid]! < offset)) lo = mid + 1
      else hi = mid
    }
    if (lo >= this.n || vals[lo] !== x || offs[lo] !== offset)
      throw new QuiverError('INTERNAL', `numeric index lost entry (${x}, ${offset})`)
    return lo
  }

  /** Whether `offset` currently holds `x`. */
  private holds(offset: number, x: number): boolean {
    const k = offset < this.counts.length ? this.counts[offset]! : 0
    if (k === 0) return false
    if (k === 1) return this.singles[offset] === x
    const many = this.multis.get(offset)!
    for (let i = 0; i < k; i++) if (many[i] === x) return true
    return false
  }

  /**
   * Sorts the buffer and merges its live entries (offset still pending, value still held, first
   * copy) with the sorted run's entries that are not dead, into fresh arrays.
   */
  private merge(): void {
    const m = this.bufLen
    if (m === 0 && this.deadCount === 0) return
    const bv = this.bufVals
    const bo = this.bufOffs
    const pending = this.pending
    const order = sortPairs(bv, bo, m)
    const xv = new Float64Array(m)
    const xo = new Uint32Array(m)
    let live = 0
    for (let j = 0; j < m; j++) {
      const e = order[j]!
      const x = bv[e]!
      const o = bo[e]!
      if (pending[o] !== 1 || (live > 0 && xv[live - 1] === x && xo[live - 1] === o) || !this.holds(o, x))
        continue
      xv[live] = x
      xo[live++] = o
    }
    for (let e = 0; e < m; e++) pending[bo[e]!] = 0
    const n = this.n
    const sv = this.vals
    const so = this.offs
    const dead = this.dead
    const cap = n - this.deadCount + live
    const vals = new Float64Array(cap)
    const offs = new Uint32Array(cap)
    let i = 0
    let j = 0
    let k = 0
    while (i < n && j < live) {
      if (dead[i] === 1) {
        i++
        continue
      }
      const a = sv[i]!
      const b = xv[j]!
      if (a < b || (a === b && so[i]! < xo[j]!)) {
        vals[k] = a
        offs[k++] = so[i++]!
      } else {
        vals[k] = b
        offs[k++] = xo[j++]!
      }
    }
    for (; i < n; i++) {
      if (dead[i] === 1) continue
      vals[k] = sv[i]!
      offs[k++] = so[i]!
    }
    for (; j < live; j++) {
      vals[k] = xv[j]!
      offs[k++] = xo[j]!
    }
    this.vals = vals
    this.offs = offs
    this.n = k
    this.dead = new Uint8Array(cap)
    this.deadCount = 0
    this.bufLen = 0
    if (this.multis.size === 0) this.maxPerPoint = 1
  }

  /** First merged position whose value is >= x (strict: > x). */
  private bound(x: number, strict: boolean): number {
    const vals = this.vals
    let lo = 0
    let hi = this.n
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      const v = vals[mid]!
      if (v < x || (strict && v === x)) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  /** The merged positions [lo, hi) whose values satisfy `b`. */
  private span(b: Bounds): [number, number] {
    let lo = 0
    let hi = this.n
    if (b.gte !== null) lo = Math.max(lo, this.bound(b.gte, false))
    if (b.gt !== null) lo = Math.max(lo, this.bound(b.gt, true))
    if (b.lte !== null) hi = Math.min(hi, this.bound(b.lte, true))
    if (b.lt !== null) hi = Math.min(hi, this.bound(b.lt, false))
    return [lo, Math.max(lo, hi)]
  }

  private rangeInto(b: Bounds, out: Bitset): void {
    this.merge()
    const [lo, hi] = this.span(b)
    const offs = this.offs
    const words = out.words
    const size = out.size
    for (let p = lo; p < hi; p++) {
      const o = offs[p]!
      if (o < size) words[o >>> 5]! |= 1 << (o & 31)
    }
  }

  private matchInto(x: number, out: Bitset): void {
    if (this.lookup !== null) this.lookup.get(x)?.orInto(out)
    else this.rangeInto({ gt: null, gte: x, lt: null, lte: x }, out)
  }

  /** Points holding `x` (each point's entries are distinct, so entries equal to x count points). */
  private matchCount(x: number): number {
    if (this.lookup !== null) return this.lookup.get(x)?.size ?? 0
    this.merge()
    const [lo, hi] = this.span({ gt: null, gte: x, lt: null, lte: x })
    return hi - lo
  }
}
