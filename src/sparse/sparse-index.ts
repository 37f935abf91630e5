// The inverted index of one segment's sparse vectors: posting lists per dimension, forward vectors
// per offset, term-at-a-time top-k search by sparse dot product, and its binary form.
import { describeValue, invalid, QuiverError } from '../errors.js'

/**
 * A sparse vector: `indices[i]` (a dimension, 0..2^32-1) carries `values[i]` (a finite float32).
 * Both arrays have the same length and the indices are unique. Vectors that this module returns
 * (from `toSparseVector`, `get`) have their indices sorted ascending; `SparseIndex` methods
 * require that of their arguments too.
 */
export interface SparseVector {
  readonly indices: Uint32Array
  readonly values: Float32Array
}

const MAX_INDEX = 0xffffffff
/** Offsets are dense segment offsets; arrays of `maxOffset + 1` entries are allocated from them. */
const MAX_OFFSET = 0x7fffffff

/**
 * Validates a user's sparse vector, `{ indices: number[], values: number[] }` (plain or typed
 * arrays): the same length, indices integers 0..2^32-1 without duplicates, values finite once
 * rounded to float32. Returns a copy with the indices sorted ascending (values moved with them).
 * Empty vectors are allowed (Qdrant stores them; they match no query).
 * @throws QuiverError `INVALID_VECTOR` naming `path` and the offending element, e.g.
 *   `vector.text.indices[2]: expected an integer 0..4294967295, got number -1`.
 * @example toSparseVector({ indices: [7, 2], values: [0.5, 1] }, 'vector') // { indices: [2, 7], values: [1, 0.5] }
 */
export function toSparseVector(input: unknown, path: string): SparseVector {
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw bad(`${path}: expected a sparse vector { indices, values }, got ${describeValue(input)}`)
  const { indices, values } = input as { indices?: unknown; values?: unknown }
  if (!isArrayLike(indices))
    throw bad(`${path}.indices: expected an array of integers, got ${describeValue(indices)}`)
  if (!isArrayLike(values))
    throw bad(`${path}.values: expected an array of numbers, got ${describeValue(values)}`)
  const n = indices.length
  if (values.length !== n)
    throw bad(`${path}: indices has ${n} elements but values has ${values.length}; they must match`)
  const idx = new Uint32Array(n)
  const val = new Float32Array(n)
  let sorted = true
  for (let i = 0; i < n; i++) {
    const x = indices[i]
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0 || x > MAX_INDEX)
      throw bad(`${path}.indices[${i}]: expected an integer 0..${MAX_INDEX}, got ${describeValue(x)}`)
    const v = values[i]
    if (typeof v !== 'number' || !Number.isFinite(Math.fround(v)))
      throw bad(`${path}.values[${i}]: expected a finite float32 number, got ${describeValue(v)}`)
    idx[i] = x
    val[i] = v
    if (i > 0 && idx[i - 1]! >= x) sorted = false
  }
  if (sorted) return { indices: idx, values: val }
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => idx[a]! - idx[b]! || a - b)
  const sIdx = new Uint32Array(n)
  const sVal = new Float32Array(n)
  for (let i = 0; i < n; i++) {
    const from = order[i]!
    sIdx[i] = idx[from]!
    sVal[i] = val[from]!
    if (i > 0 && sIdx[i - 1] === sIdx[i])
      throw bad(
        `${path}.indices: index ${sIdx[i]} appears twice (positions ${order[i - 1]} and ${from}); indices must be unique`,
      )
  }
  return { indices: sIdx, values: sVal }
}

function bad(message: string): QuiverError {
  return new QuiverError('INVALID_VECTOR', message)
}

function isArrayLike(x: unknown): x is ArrayLike<unknown> {
  return Array.isArray(x) || (ArrayBuffer.isView(x) && !(x instanceof DataView))
}

/**
 * Qdrant's IDF modifier (`modifier: "idf"`), BM25's Robertson–Sparck Jones weight with +1 so it is
 * never negative: `ln((n - df + 0.5) / (df + 0.5) + 1)`, `n` the vectors in the corpus and `df`
 * those holding the dimension (Robertson & Zaragoza 2009, eq. 3.3; Qdrant
 * `VectorQueryContext::remap_idf_weights`). Rounded to float32 like Qdrant's.
 * @example idf(0, 0) // ln 2 = 0.6931...
 */
export function idf(n: number, df: number): number {
  return Math.fround(Math.log((n - df + 0.5) / (df + 0.5) + 1))
}

/**
 * Entries of one dimension, sorted by offset, at `offsets[base .. base + len)` and
 * `values[base .. base + len)`. A removed entry stays in place as a tombstone (its value NaN) so
 * that offsets stay sorted; a list is compacted once a quarter of it is dead. Lists of up to
 * `MAX_SLOT` entries live in slots of shared chunks (no typed-array objects of their own), longer
 * ones in arrays of their own, restored ones in the restored buffer until they grow.
 */
interface Posting {
  offsets: Uint32Array
  values: Float32Array
  base: number
  /** Entries the storage holds from `base`. */
  cap: number
  /** Pool slot id (>= 0), OWN (arrays of its own, base 0) or RESTORED (views of restored bytes). */
  slot: number
  /** Entries in use, tombstones included. */
  len: number
  /** Tombstones among them. */
  dead: number
  /** Bounds of the values ever stored since the last compaction (valid, maybe loose, bounds of the live ones). */
  max: number
  min: number
}

/** Estimated bytes of one posting's object and Map entry (V8, measured: about 130). */
const POSTING_OVERHEAD = 136
const OWN = -1
const RESTORED = -2
/** Lists up to this many entries live in pool slots (capacities 2, 4, ..., 64). */
const MAX_SLOT = 64
/** Slot ids are chunk * CHUNK_ID + position; chunks grow from 1024 to 65536 entries. */
const CHUNK_ID = 1 << 16
const EMPTY_U32 = new Uint32Array(0)
const EMPTY_F32 = new Float32Array(0)

/** Fixed-capacity slots in chunks of typed arrays that never move, with a free list. */
class SlotPool {
  readonly chunkOffsets: Uint32Array[] = []
  readonly chunkValues: Float32Array[] = []
  private next = 0
  private readonly free: number[] = []
  bytes = 0

  constructor(readonly cap: number) {}

  /** Points `p` at a free slot (contents undefined). */
  alloc(p: Posting): void {
    let id = this.free.pop()
    if (id === undefined) {
      const last = this.chunkOffsets.length - 1
      if (last < 0 || this.next + this.cap > this.chunkOffsets[last]!.length) {
        const size = Math.min(CHUNK_ID, 1024 << Math.min(6, this.chunkOffsets.length))
        this.chunkOffsets.push(new Uint32Array(size))
        this.chunkValues.push(new Float32Array(size))
        this.bytes += size * 8
        this.next = 0
      }
      id = (this.chunkOffsets.length - 1) * CHUNK_ID + this.next
      this.next += this.cap
    }
    const chunk = Math.floor(id / CHUNK_ID)
    p.offsets = this.chunkOffsets[chunk]!
    p.values = this.chunkValues[chunk]!
    p.base = id - chunk * CHUNK_ID
    p.cap = this.cap
    p.slot = id
  }

  release(slot: number): void {
    this.free.push(slot)
  }
}

/**
 * An inverted index of sparse vectors over a segment's dense offsets (0..2^31-1). `set` stores or
 * replaces the vector of an offset, `remove` forgets it; `df` stays exact throughout. `search`
 * ranks offsets by sparse dot product, term at a time over the query's posting lists into a
 * reused float32 accumulator; `scoreOffsets` scores given offsets from the forward vectors.
 *
 * Memory: per stored non-zero 8 bytes in its posting list (u32 offset + f32 value) and 8 in the
 * forward arena, plus growth slack (pool slots of 2..64 entries, then doubling below 4096 entries
 * and 1.5x above; `restore` builds both at exact size); per offset of the offset space 9 bytes of
 * forward index and, after the first search, 12 bytes of accumulator, marks and touched list; per
 * dimension about 180 heap bytes (its list object and Map entry; measured 177 on Node 20).
 * docs/sparse.md.
 * @example
 * const ix = SparseIndex.create()
 * ix.set(0, toSparseVector({ indices: [1, 5], values: [0.5, 2] }, 'v'))
 * ix.search(toSparseVector({ indices: [5], values: [1] }, 'q'), 10) // { offsets: [0], scores: [2] }
 */
export class SparseIndex {
  private readonly postings = new Map<number, Posting>()
  /** pools[c]: slots of 2 << c entries. */
  private readonly pools = Array.from({ length: Math.log2(MAX_SLOT) }, (_, c) => new SlotPool(2 << c))
  /** Bytes of restored posting storage still referenced (released only with the index). */
  private restoredBytes = 0
  /** Forward arena: the stored vectors' indices and values, each vector contiguous. */
  private arenaIdx = new Uint32Array(1024)
  private arenaVal = new Float32Array(1024)
  private arenaLen = 0
  /** Arena entries no longer referenced (replaced or removed vectors). */
  private arenaGarbage = 0
  /** Per offset: start in the arena, length, and whether it holds a vector (1) or not (0). */
  private fwdStart = new Uint32Array(0)
  private fwdLen = new Uint32Array(0)
  private present = new Uint8Array(0)
  private stored = 0
  // search scratch, sized to the offset space on first use and reused
  private acc = new Float32Array(0)
  private marks = new Uint32Array(0)
  private touched = new Uint32Array(0)
  private select = new Float32Array(0)
  private readonly sum = new Float32Array(1)
  private gen = 0

  /**
   * Whether `search` may skip posting lists (MaxScore) when every contribution is >= 0. Results
   * are identical either way; false forces the exhaustive path (benchmarks, tests).
   */
  static pruning = true

  private constructor() {}

  /** An empty index. */
  static create(): SparseIndex {
    return new SparseIndex()
  }

  /** Offsets holding a vector (empty vectors included): Qdrant's `N` for IDF. */
  get count(): number {
    return this.stored
  }

  /** Entries (index, value pairs) of the live vectors. */
  get entryCount(): number {
    return this.arenaLen - this.arenaGarbage
  }

  /** Offsets whose stored vector has index `dim` (the document frequency for IDF). */
  df(dim: number): number {
    const p = this.postings.get(dim)
    return p === undefined ? 0 : p.len - p.dead
  }

  /** Whether `offset` holds a vector. */
  has(offset: number): boolean {
    return offset >= 0 && offset < this.present.length && this.present[offset] === 1
  }

  /** A copy of the vector of `offset` (indices ascending), or undefined if it holds none. */
  get(offset: number): SparseVector | undefined {
    if (!this.has(offset)) return undefined
    const s = this.fwdStart[offset]!
    const e = s + this.fwdLen[offset]!
    return { indices: this.arenaIdx.slice(s, e), values: this.arenaVal.slice(s, e) }
  }

  /**
   * Stores `v` (indices sorted ascending and unique, as `toSparseVector` returns) as the vector of
   * `offset`, replacing any vector it held: dimensions in both keep their posting entry with the
   * new value, dropped ones are tombstoned, new ones inserted. Appending offsets in increasing
   * order is O(nnz); an out-of-order insert shifts the tail of each of its posting lists.
   * @throws QuiverError `INVALID_ARGUMENT` if `offset` is not an integer 0..2^31-1 or `v` is not sorted.
   * @example ix.set(7, toSparseVector({ indices: [3, 1], values: [0.5, 2] }, 'vector'))
   */
  set(offset: number, v: SparseVector): void {
    checkOffset(offset)
    const { indices, values } = v
    const n = indices.length
    if (values.length !== n) throw invalid(`sparse vector: ${n} indices but ${values.length} values`)
    for (let i = 1; i < n; i++)
      if (indices[i - 1]! >= indices[i]!)
        throw invalid('sparse vector: indices must be sorted ascending and unique (use toSparseVector)')
    this.ensureOffsetSpace(offset + 1)
    if (this.present[offset] === 1) {
      const s = this.fwdStart[offset]!
      const e = s + this.fwdLen[offset]!
      // merge-walk old (arena) and new (v) dimensions, both ascending
      let i = s
      let j = 0
      while (i < e || j < n) {
        const a = i < e ? this.arenaIdx[i]! : Number.POSITIVE_INFINITY
        const b = j < n ? indices[j]! : Number.POSITIVE_INFINITY
        if (a === b) {
          this.updateEntry(a, offset, values[j]!)
          i++
          j++
        } else if (a < b) {
          this.removeEntry(a, offset)
          i++
        } else {
          this.insertEntry(b, offset, values[j]!)
          j++
        }
      }
      this.arenaGarbage += e - s
      this.fwdLen[offset] = 0 // so that a compaction in appendForward does not copy the old vector
    } else {
      for (let j = 0; j < n; j++) this.insertEntry(indices[j]!, offset, values[j]!)
      this.present[offset] = 1
      this.stored++
    }
    this.appendForward(offset, indices, values)
  }

  /**
   * Forgets the vector of `offset` (its dimensions' df drop by one); false if it held none.
   * @example ix.remove(7) // true, then false
   */
  remove(offset: number): boolean {
    if (!this.has(offset)) return false
    const s = this.fwdStart[offset]!
    const e = s + this.fwdLen[offset]!
    for (let i = s; i < e; i++) this.removeEntry(this.arenaIdx[i]!, offset)
    this.arenaGarbage += e - s
    this.present[offset] = 0
    this.fwdLen[offset] = 0
    this.stored--
    this.maybeCompactArena()
    return true
  }

  /**
   * The `k` best offsets by sparse dot product `sum_i q_i * w_i * v_i` over the query's dimensions
   * (`w_i = weights[i]`, aligned with `query.indices`, default 1: IDF weights, for instance),
   * best first, equal scores by lower offset. Like Qdrant, only offsets whose vector shares at
   * least one dimension with the query are candidates (Qdrant's `score_vectors` returns no score
   * without overlap), so fewer than `k` may come back, and an offset that shares a dimension scores
   * even if its sum is 0 or negative. (Qdrant's batched posting-list path also drops sums of
   * exactly 0; Quiver keeps them, so results do not depend on batching.) `allow`, if given,
   * restricts candidates to offsets `o` with bit `o & 31` of word `o >>> 5` set.
   *
   * Arithmetic: each term adds `fround(q_i * w_i) * v_i` to a float32 sum, in ascending dimension
   * order. Scores can overflow to ±Infinity only for values near the float32 limit.
   * @throws QuiverError `INVALID_ARGUMENT` if `k` is not an integer >= 0, the query's indices are
   *   not strictly ascending or its values not finite, or `weights` is not finite or has another length.
   * @example
   * const q = toSparseVector({ indices: [1, 3], values: [1, 1] }, 'query')
   * const idfs = Float32Array.from(q.indices, (d) => idf(ix.count, ix.df(d)))
   * const { offsets, scores } = ix.search(q, 10, undefined, idfs)
   */
  search(
    query: SparseVector,
    k: number,
    allow?: Uint32Array,
    weights?: Float32Array,
  ): { offsets: Uint32Array; scores: Float32Array } {
    if (!Number.isInteger(k) || k < 0) throw invalid(`k must be an integer >= 0, got ${describeValue(k)}`)
    const qn = query.indices.length
    checkQuery(query, weights)
    if (k === 0 || qn === 0 || this.stored === 0)
      return { offsets: new Uint32Array(0), scores: new Float32Array(0) }
    const space = this.present.length
    if (this.acc.length < space) {
      this.acc = new Float32Array(space)
      this.marks = new Uint32Array(space)
      this.touched = new Uint32Array(space)
      this.gen = 0
    }
    this.gen = (this.gen + 1) >>> 0
    if (this.gen === 0) {
      this.marks.fill(0)
      this.gen = 1
    }
    const lists: Posting[] = []
    const qws: number[] = []
    let prunable = true
    for (let t = 0; t < qn; t++) {
      const p = this.postings.get(query.indices[t]!)
      if (p === undefined || p.len === p.dead) continue
      const qw = Math.fround(query.values[t]! * (weights === undefined ? 1 : weights[t]!))
      lists.push(p)
      qws.push(qw)
      if (qw < 0 || p.min < 0) prunable = false
    }
    if (!prunable || !SparseIndex.pruning || lists.length < 2) {
      // every list in query (= ascending dimension) order: acc holds the final scores
      let nt = 0
      for (let i = 0; i < lists.length; i++) nt = this.accumulate(lists[i]!, qws[i]!, nt)
      return selectTopK(this.touched, nt, this.acc, k, allow)
    }
    return this.searchPruned(query, weights, lists, qws, k, allow)
  }

  /**
   * Top-k when every contribution is >= 0, so partial sums only grow (MaxScore, Turtle & Flood
   * 1995, term at a time): lists in decreasing order of their bound `qw * max`; once the bounds of
   * the lists left sum to less than the k-th best partial score, no offset outside the touched
   * ones can enter the top k and the rest are skipped. The touched offsets whose partial score plus
   * that remainder can still reach the k-th are rescored exactly from their forward vectors, so
   * scores and order are bit-identical to the exhaustive path.
   */
  private searchPruned(
    query: SparseVector,
    weights: Float32Array | undefined,
    lists: Posting[],
    qws: number[],
    k: number,
    allow: Uint32Array | undefined,
  ): { offsets: Uint32Array; scores: Float32Array } {
    const n = lists.length
    const order = Array.from({ length: n }, (_, i) => i)
    const ub = lists.map((p, i) => qws[i]! * p.max)
    order.sort((a, b) => ub[b]! - ub[a]! || lists[a]!.len - lists[b]!.len)
    // rem[j], remLen[j]: bound sum and entries of the lists order[j..]
    const rem = new Float64Array(n + 1)
    const remLen = new Float64Array(n + 1)
    for (let j = n - 1; j >= 0; j--) {
      rem[j] = rem[j + 1]! + ub[order[j]!]!
      remLen[j] = remLen[j + 1]! + lists[order[j]!]!.len
    }
    // float32 sums in a different order differ from the exact ones by a few ulps: margin
    const margin = (n + 2) * 2 ** -22
    let theta = Number.NEGATIVE_INFINITY
    let nt = 0
    let j = 0
    // the k-th best partial sum was at most `known` after list `knownAt`, and grows by at most the
    // bounds of the lists added since: a selection (cost about nt) is tried only where that upper
    // bound lets the lists left be skipped, and where they hold more entries than nt
    let known = 0
    let knownAt = 0
    for (; j < n; j++) {
      const left = rem[j]! * (1 + margin)
      if (nt >= k && remLen[j]! > nt && left < (known + rem[knownAt]! - rem[j]!) * (1 - margin)) {
        const th = this.kthBest(nt, k, allow)
        if (left < th * (1 - margin)) {
          theta = th
          break
        }
        known = th
        knownAt = j
      }
      nt = this.accumulate(lists[order[j]!]!, qws[order[j]!]!, nt)
    }
    const left = rem[j]!
    const acc = this.acc
    const touched = this.touched
    const marks = this.marks
    const gen = this.gen
    // candidates: allowed, and able to reach theta with the lists left; moved to the front of touched
    const bar = theta * (1 - margin)
    let nc = 0
    if (j === n) {
      nc = nt // every list was read: the rescoring pass below filters by allow
    } else {
      for (let i = 0; i < nt; i++) {
        const o = touched[i]!
        if (allow !== undefined && !isAllowed(allow, o)) continue
        if ((acc[o]! + left) * (1 + margin) < bar) continue
        touched[nc++] = o
      }
    }
    // finish the candidates' sums on the lists left, in offset order: gallop through a list when
    // it is much longer than the candidates, else scan it updating touched offsets only (an
    // untouched one cannot reach the top k); after each list drop those that can no longer reach theta
    if (j < n) touched.subarray(0, nc).sort()
    for (let jj = j; jj < n; jj++) {
      const p = lists[order[jj]!]!
      const qw = qws[order[jj]!]!
      const offs = p.offsets
      const vals = p.values
      const len = p.base + p.len // end of the entries
      if (nc * 8 < p.len) {
        let pos = p.base
        for (let c = 0; c < nc; c++) {
          const o = touched[c]!
          let lo = pos
          let hi = pos
          let step = 1
          while (hi < len && offs[hi]! < o) {
            lo = hi + 1
            hi = lo + step
            step <<= 1
          }
          if (hi > len) hi = len
          while (lo < hi) {
            const mid = (lo + hi) >>> 1
            if (offs[mid]! < o) lo = mid + 1
            else hi = mid
          }
          pos = lo
          if (lo < len && offs[lo] === o) {
            const v = vals[lo]!
            if (!Number.isNaN(v)) acc[o]! += qw * v
          }
        }
      } else {
        for (let e = p.base; e < len; e++) {
          const o = offs[e]!
          if (marks[o] !== gen) continue
          const v = vals[e]!
          if (!Number.isNaN(v)) acc[o]! += qw * v
        }
      }
      const after = rem[jj + 1]!
      let kept = 0
      for (let c = 0; c < nc; c++) {
        const o = touched[c]!
        if ((acc[o]! + after) * (1 + margin) >= bar) touched[kept++] = o
      }
      nc = kept
    }
    // the k-th best full sum; the candidates near or above it are rescored exactly
    const admit = j === n ? allow : undefined
    const theta2 = this.kthBest(nc, k, admit)
    const bar2 = theta2 * (1 - margin)
    const qIdx = query.indices
    const qW = new Float32Array(qIdx.length)
    for (let t = 0; t < qIdx.length; t++) qW[t] = query.values[t]! * (weights === undefined ? 1 : weights[t]!)
    let nf = 0
    for (let c = 0; c < nc; c++) {
      const o = touched[c]!
      if (acc[o]! * (1 + margin) < bar2) continue
      if (admit !== undefined && !isAllowed(admit, o)) continue
      acc[o] = this.scoreOne(o, qIdx, qW)
      touched[nf++] = o
    }
    return selectTopK(touched, nf, acc, k, undefined)
  }

  /** Adds `qw * value` of every live entry of `p` to the accumulator; returns the new touched count. */
  private accumulate(p: Posting, qw: number, nt: number): number {
    const gen = this.gen
    const acc = this.acc
    const marks = this.marks
    const touched = this.touched
    const offs = p.offsets
    const vals = p.values
    const end = p.base + p.len
    for (let j = p.base; j < end; j++) {
      const v = vals[j]!
      if (Number.isNaN(v)) continue // tombstone
      const o = offs[j]!
      if (marks[o] !== gen) {
        marks[o] = gen
        acc[o] = qw * v + 0 // + 0 turns -0 into 0, as a sum from 0 would
        touched[nt++] = o
      } else {
        acc[o]! += qw * v
      }
    }
    return nt
  }

  /**
   * The k-th best accumulated score among the first `nt` touched offsets that `allow` admits
   * (-Infinity if fewer), by a bounded min-heap of k scores: one comparison for most offsets.
   */
  private kthBest(nt: number, k: number, allow: Uint32Array | undefined): number {
    if (nt < k) return Number.NEGATIVE_INFINITY
    if (this.select.length < k) this.select = new Float32Array(k)
    const heap = this.select
    const acc = this.acc
    const touched = this.touched
    let size = 0
    for (let i = 0; i < nt; i++) {
      const o = touched[i]!
      if (allow !== undefined && !isAllowed(allow, o)) continue
      const s = acc[o]!
      if (size < k) {
        let c = size++
        while (c > 0) {
          const parent = (c - 1) >> 1
          if (heap[parent]! <= s) break
          heap[c] = heap[parent]!
          c = parent
        }
        heap[c] = s
      } else if (s > heap[0]!) {
        let c = 0
        for (;;) {
          let child = 2 * c + 1
          if (child >= size) break
          if (child + 1 < size && heap[child + 1]! < heap[child]!) child++
          if (heap[child]! >= s) break
          heap[c] = heap[child]!
          c = child
        }
        heap[c] = s
      }
    }
    return size < k ? Number.NEGATIVE_INFINITY : heap[0]!
  }

  /**
   * The score of the vector of `o` against a query given as ascending indices and float32 weights
   * (`fround(q_i * w_i)`), summed in float32 in ascending dimension order; 0 without a vector or
   * overlap. Long vectors are searched by bisection per query index instead of merged.
   */
  private scoreOne(o: number, qIdx: Uint32Array, qW: Float32Array): number {
    if (!this.has(o)) return 0
    const idx = this.arenaIdx
    const val = this.arenaVal
    let i = this.fwdStart[o]!
    const e = i + this.fwdLen[o]!
    const qn = qIdx.length
    const sum = this.sum
    sum[0] = 0
    if (e - i > 8 * qn) {
      for (let t = 0; t < qn && i < e; t++) {
        const d = qIdx[t]!
        let lo = i
        let hi = e
        while (lo < hi) {
          const mid = (lo + hi) >>> 1
          if (idx[mid]! < d) lo = mid + 1
          else hi = mid
        }
        if (lo < e && idx[lo] === d) sum[0] += qW[t]! * val[lo]!
        i = lo
      }
    } else {
      let t = 0
      while (i < e && t < qn) {
        const a = idx[i]!
        const b = qIdx[t]!
        if (a < b) i++
        else if (a > b) t++
        else {
          sum[0] += qW[t]! * val[i]!
          i++
          t++
        }
      }
    }
    return sum[0]!
  }

  /**
   * Scores `query` against the stored vector of each offset in `offsets` (for rescoring prefetch
   * candidates), with the same arithmetic as `search`. An offset without a vector, or whose vector
   * shares no dimension with the query, scores 0, as in Qdrant (`score(..).unwrap_or_default()` in
   * its sparse query scorer).
   * @throws QuiverError `INVALID_ARGUMENT` as `search` for the query and weights.
   * @example ix.scoreOffsets(q, [7, 12]) // Float32Array [score of 7, 0 if 12 holds no vector]
   */
  scoreOffsets(query: SparseVector, offsets: ArrayLike<number>, weights?: Float32Array): Float32Array {
    const qn = query.indices.length
    checkQuery(query, weights)
    const qw = new Float32Array(qn)
    for (let t = 0; t < qn; t++) qw[t] = query.values[t]! * (weights === undefined ? 1 : weights[t]!)
    const out = new Float32Array(offsets.length)
    for (let r = 0; r < offsets.length; r++) out[r] = this.scoreOne(offsets[r]!, query.indices, qw)
    return out
  }

  /** Bytes held by the typed arrays, plus an estimate of the per-dimension objects. */
  get memoryBytes(): number {
    let bytes =
      this.arenaIdx.byteLength +
      this.arenaVal.byteLength +
      this.fwdStart.byteLength +
      this.fwdLen.byteLength +
      this.present.byteLength +
      this.acc.byteLength +
      this.marks.byteLength +
      this.touched.byteLength +
      this.select.byteLength +
      this.restoredBytes
    for (const pool of this.pools) bytes += pool.bytes
    for (const p of this.postings.values()) bytes += POSTING_OVERHEAD + (p.slot === OWN ? p.cap * 8 : 0)
    return bytes
  }

  /**
   * The index as bytes, u32/f32 little-endian words: magic `QSPX`, format version (1), offset
   * space, vector count, dimension count `d`, total entries `t`; a bitset of the offsets holding a
   * vector (ceil(space / 32) words, bit `o & 31` of word `o >>> 5`); a table of `d` (dimension,
   * entries) pairs in ascending dimension order; then every list's offsets (u32[t], ascending within
   * a list), then their values (f32[t]) in the same order. Tombstones are left out. No checksum:
   * the caller checksums files. Size: 4 * (6 + space / 32 + 2 * d + 2 * t) bytes.
   */
  serialize(): Uint8Array {
    const space = this.present.length
    const bitsetWords = Math.ceil(space / 32)
    const dims = Float64Array.from(this.postings.keys()).sort()
    let total = 0
    for (const p of this.postings.values()) total += p.len - p.dead
    const table = HEADER_WORDS + bitsetWords
    const offsetsAt = table + 2 * dims.length
    const valuesAt = offsetsAt + total
    const buf = new ArrayBuffer((valuesAt + total) * 4)
    const u32 = new Uint32Array(buf)
    const f32 = new Float32Array(buf)
    u32[0] = MAGIC
    u32[1] = FORMAT_VERSION
    u32[2] = space
    u32[3] = this.stored
    u32[4] = dims.length
    u32[5] = total
    for (let o = 0; o < space; o++) if (this.present[o] === 1) u32[HEADER_WORDS + (o >>> 5)]! |= 1 << (o & 31)
    let at = 0
    for (let i = 0; i < dims.length; i++) {
      const d = dims[i]!
      const p = this.postings.get(d)!
      const n = p.len - p.dead
      u32[table + 2 * i] = d
      u32[table + 2 * i + 1] = n
      if (p.dead === 0) {
        u32.set(p.offsets.subarray(p.base, p.base + n), offsetsAt + at)
        f32.set(p.values.subarray(p.base, p.base + n), valuesAt + at)
      } else {
        let j = at
        for (let r = p.base; r < p.base + p.len; r++) {
          const v = p.values[r]!
          if (Number.isNaN(v)) continue
          u32[offsetsAt + j] = p.offsets[r]!
          f32[valuesAt + j] = v
          j++
        }
      }
      at += n
    }
    return new Uint8Array(buf)
  }

  /**
   * Rebuilds an index from `serialize`'s bytes, checking every field: magic, version, dimensions
   * strictly ascending, offsets strictly ascending within a list, inside the offset space and marked
   * in the bitset, values finite, counts consistent. The posting lists stay in one copy of `bytes`
   * (no per-list allocation); the forward vectors are rebuilt from them.
   * @throws QuiverError `CORRUPTED` naming what is wrong and where (byte position).
   */
  static restore(bytes: Uint8Array): SparseIndex {
    if (bytes.byteLength < HEADER_WORDS * 4 || bytes.byteLength % 4 !== 0)
      throw corrupted(
        `${bytes.byteLength} bytes is not a sparse index (expected a multiple of 4, at least ${HEADER_WORDS * 4})`,
      )
    const copy = bytes.slice() // aligned at 0; the posting lists keep it
    const u32 = new Uint32Array(copy.buffer, 0, copy.byteLength / 4)
    const f32 = new Float32Array(copy.buffer, 0, copy.byteLength / 4)
    if (u32[0] !== MAGIC) throw corrupted('bad magic: not a sparse index')
    if (u32[1] !== FORMAT_VERSION)
      throw corrupted(`format version ${u32[1]} is not supported (this build reads ${FORMAT_VERSION})`)
    const space = u32[2]!
    const count = u32[3]!
    const ndims = u32[4]!
    const total = u32[5]!
    if (space > MAX_OFFSET + 1) throw corrupted(`offset space ${space} exceeds ${MAX_OFFSET + 1}`)
    const bitsetWords = Math.ceil(space / 32)
    const table = HEADER_WORDS + bitsetWords
    const offsetsAt = table + 2 * ndims
    const valuesAt = offsetsAt + total
    if (valuesAt + total !== u32.length)
      throw corrupted(
        `${u32.length * 4} bytes do not hold the bitset, ${ndims} dimensions and ${total} entries (${(valuesAt + total) * 4} bytes)`,
      )
    const ix = new SparseIndex()
    ix.ensureOffsetSpace(space)
    const present = ix.present
    let stored = 0
    for (let o = 0; o < space; o++) {
      if (((u32[HEADER_WORDS + (o >>> 5)]! >>> (o & 31)) & 1) === 1) {
        present[o] = 1
        stored++
      }
    }
    if (space % 32 !== 0 && u32[HEADER_WORDS + bitsetWords - 1]! >>> (space % 32) !== 0)
      throw corrupted('the offset bitset marks offsets outside the offset space')
    if (stored !== count) throw corrupted(`the header counts ${count} vectors but the bitset marks ${stored}`)
    // pass 1: check the lists, count each offset's non-zeros
    const fwdLen = ix.fwdLen
    let prevDim = -1
    let at = 0
    for (let c = 0; c < ndims; c++) {
      const d = u32[table + 2 * c]!
      const n = u32[table + 2 * c + 1]!
      const where = (table + 2 * c) * 4
      if (d <= prevDim) throw corrupted(`byte ${where}: dimension ${d} is out of order`)
      if (n === 0 || n > total - at)
        throw corrupted(
          `byte ${where}: dimension ${d} has ${n} entries, ${n === 0 ? 'none' : 'past the total'}`,
        )
      let prev = -1
      for (let j = at; j < at + n; j++) {
        const o = u32[offsetsAt + j]!
        if (o <= prev || o >= space || present[o] !== 1)
          throw corrupted(
            `byte ${(offsetsAt + j) * 4}: offset ${o} of dimension ${d} is out of order or holds no vector`,
          )
        if (!Number.isFinite(f32[valuesAt + j]!))
          throw corrupted(`byte ${(valuesAt + j) * 4}: value of offset ${o} in dimension ${d} is not finite`)
        fwdLen[o]!++
        prev = o
      }
      at += n
      prevDim = d
    }
    if (at !== total) throw corrupted(`the lists hold ${at} entries but the header counts ${total}`)
    // pass 2: posting lists in place, forward vectors filled in ascending dimension order
    ix.arenaIdx = new Uint32Array(Math.max(total, 16))
    ix.arenaVal = new Float32Array(ix.arenaIdx.length)
    const cursor = new Uint32Array(space)
    let a = 0
    for (let o = 0; o < space; o++) {
      ix.fwdStart[o] = a
      cursor[o] = a
      a += fwdLen[o]!
    }
    const offsets = u32.subarray(offsetsAt, valuesAt)
    const values = f32.subarray(valuesAt, valuesAt + total)
    at = 0
    for (let c = 0; c < ndims; c++) {
      const d = u32[table + 2 * c]!
      const n = u32[table + 2 * c + 1]!
      let max = Number.NEGATIVE_INFINITY
      let min = Number.POSITIVE_INFINITY
      for (let j = at; j < at + n; j++) {
        const v = values[j]!
        const pos = cursor[offsets[j]!]!++
        ix.arenaIdx[pos] = d
        ix.arenaVal[pos] = v
        if (v > max) max = v
        if (v < min) min = v
      }
      ix.postings.set(d, { offsets, values, base: at, cap: n, slot: RESTORED, len: n, dead: 0, max, min })
      at += n
    }
    ix.restoredBytes = total * 8
    ix.arenaLen = total
    ix.stored = count
    return ix
  }

  private ensureOffsetSpace(size: number): void {
    if (size <= this.present.length) return
    const cap = Math.min(MAX_OFFSET + 1, Math.max(size, this.present.length * 2, 64))
    const start = new Uint32Array(cap)
    start.set(this.fwdStart)
    this.fwdStart = start
    const len = new Uint32Array(cap)
    len.set(this.fwdLen)
    this.fwdLen = len
    const present = new Uint8Array(cap)
    present.set(this.present)
    this.present = present
  }

  private appendForward(offset: number, indices: Uint32Array, values: Float32Array): void {
    const n = indices.length
    if (this.arenaLen + n > this.arenaIdx.length) {
      this.maybeCompactArena()
      if (this.arenaLen + n > this.arenaIdx.length) {
        const cap = Math.max(this.arenaLen + n, grown(this.arenaIdx.length))
        const idx = new Uint32Array(cap)
        idx.set(this.arenaIdx.subarray(0, this.arenaLen))
        const val = new Float32Array(cap)
        val.set(this.arenaVal.subarray(0, this.arenaLen))
        this.arenaIdx = idx
        this.arenaVal = val
      }
    }
    this.arenaIdx.set(indices, this.arenaLen)
    this.arenaVal.set(values, this.arenaLen)
    this.fwdStart[offset] = this.arenaLen
    this.fwdLen[offset] = n
    this.arenaLen += n
  }

  /** Rewrites the arena without garbage once garbage is at least half of it. */
  private maybeCompactArena(): void {
    if (this.arenaGarbage < 1024 || this.arenaGarbage * 2 < this.arenaLen) return
    const live = this.arenaLen - this.arenaGarbage
    const idx = new Uint32Array(Math.max(1024, live * 2))
    const val = new Float32Array(idx.length)
    let w = 0
    for (let o = 0; o < this.present.length; o++) {
      if (this.present[o] !== 1) continue
      const s = this.fwdStart[o]!
      const n = this.fwdLen[o]!
      idx.set(this.arenaIdx.subarray(s, s + n), w)
      val.set(this.arenaVal.subarray(s, s + n), w)
      this.fwdStart[o] = w
      w += n
    }
    this.arenaIdx = idx
    this.arenaVal = val
    this.arenaLen = w
    this.arenaGarbage = 0
  }

  private insertEntry(dim: number, offset: number, value: number): void {
    let p = this.postings.get(dim)
    if (p === undefined) {
      p = {
        offsets: EMPTY_U32,
        values: EMPTY_F32,
        base: 0,
        cap: 0,
        slot: OWN,
        len: 0,
        dead: 0,
        max: Number.NEGATIVE_INFINITY,
        min: Number.POSITIVE_INFINITY,
      }
      this.postings.set(dim, p)
    }
    if (value > p.max) p.max = value
    if (value < p.min) p.min = value
    const end = p.base + p.len
    if (p.len === 0 || p.offsets[end - 1]! < offset) {
      if (p.len === p.cap) this.grow(p)
      p.offsets[p.base + p.len] = offset
      p.values[p.base + p.len] = value
      p.len++
      return
    }
    let pos = lowerBound(p.offsets, p.base, end, offset)
    if (p.offsets[pos] === offset) {
      // a tombstone of this offset: revive it (a live entry cannot exist, the caller removed it)
      p.values[pos] = value
      p.dead--
      return
    }
    if (p.len === p.cap) {
      const rel = pos - p.base
      this.grow(p)
      pos = p.base + rel
    }
    const last = p.base + p.len
    p.offsets.copyWithin(pos + 1, pos, last)
    p.values.copyWithin(pos + 1, pos, last)
    p.offsets[pos] = offset
    p.values[pos] = value
    p.len++
  }

  /** Moves `p` (full) to storage for at least one more entry: the smallest pool slot that fits, or own arrays. */
  private grow(p: Posting): void {
    const { offsets, values, base, len, slot, cap } = p
    if (len + 1 <= MAX_SLOT) {
      this.pools[Math.max(0, Math.ceil(Math.log2(len + 1)) - 1)]!.alloc(p)
    } else {
      const n = Math.max(len + 1, grown(cap))
      p.offsets = new Uint32Array(n)
      p.values = new Float32Array(n)
      p.base = 0
      p.cap = n
      p.slot = OWN
    }
    p.offsets.set(offsets.subarray(base, base + len), p.base)
    p.values.set(values.subarray(base, base + len), p.base)
    this.releaseStorage(slot, cap)
  }

  /** Returns a list's old storage: its pool slot goes back to the free list. */
  private releaseStorage(slot: number, cap: number): void {
    if (slot >= 0) this.pools[Math.log2(cap) - 1]!.release(slot)
  }

  private updateEntry(dim: number, offset: number, value: number): void {
    const p = this.postings.get(dim)!
    p.values[lowerBound(p.offsets, p.base, p.base + p.len, offset)] = value
    if (value > p.max) p.max = value
    if (value < p.min) p.min = value
  }

  private removeEntry(dim: number, offset: number): void {
    const p = this.postings.get(dim)!
    p.values[lowerBound(p.offsets, p.base, p.base + p.len, offset)] = Number.NaN
    p.dead++
    if (p.dead === p.len) {
      this.releaseStorage(p.slot, p.cap)
      this.postings.delete(dim)
    } else if (p.dead * 4 > p.len && p.len >= 16) {
      compactPosting(p)
    }
  }
}

const MAGIC = 0x58505351 // 'QSPX' little-endian
const FORMAT_VERSION = 1
/** magic, version, offset space, vector count, dimension count, total entries */
const HEADER_WORDS = 6

function corrupted(message: string): QuiverError {
  return new QuiverError('CORRUPTED', `sparse index: ${message}`)
}

function checkOffset(offset: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_OFFSET)
    throw invalid(`offset must be an integer 0..${MAX_OFFSET}, got ${describeValue(offset)}`)
}

/** A query's indices strictly ascending, its values and weights finite, one weight per index. */
function checkQuery(query: SparseVector, weights: Float32Array | undefined): void {
  const { indices, values } = query
  const qn = indices.length
  if (values.length !== qn) throw invalid(`query: ${qn} indices but ${values.length} values`)
  if (weights !== undefined && weights.length !== qn)
    throw invalid(`weights has ${weights.length} elements but the query has ${qn} indices`)
  for (let t = 0; t < qn; t++) {
    if (t > 0 && indices[t - 1]! >= indices[t]!)
      throw invalid('query: indices must be sorted ascending and unique (use toSparseVector)')
    if (!Number.isFinite(values[t]!)) throw invalid(`query: values[${t}] is not finite`)
    if (weights !== undefined && !Number.isFinite(weights[t]!)) throw invalid(`weights[${t}] is not finite`)
  }
}

/** First position in `a[lo..hi)` whose value is >= `x` (hi if none). */
function lowerBound(a: Uint32Array, lo: number, hi: number, x: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (a[mid]! < x) lo = mid + 1
    else hi = mid
  }
  return lo
}

/** Next capacity: doubling while small, then 1.5x (at most a third of a large array is slack). */
function grown(cap: number): number {
  return cap < 4096 ? Math.max(4, cap * 2) : Math.ceil(cap * 1.5)
}

/** Drops the tombstones of `p` in place; own arrays under a quarter full are reallocated smaller. */
function compactPosting(p: Posting): void {
  let w = p.base
  let max = Number.NEGATIVE_INFINITY
  let min = Number.POSITIVE_INFINITY
  const end = p.base + p.len
  for (let r = p.base; r < end; r++) {
    const v = p.values[r]!
    if (Number.isNaN(v)) continue
    p.offsets[w] = p.offsets[r]!
    p.values[w] = v
    if (v > max) max = v
    if (v < min) min = v
    w++
  }
  p.len = w - p.base
  p.dead = 0
  p.max = max
  p.min = min
  if (p.slot === OWN && p.len * 4 < p.cap && p.cap > 4 * MAX_SLOT) {
    const cap = Math.max(2 * MAX_SLOT, p.len * 2)
    p.offsets = p.offsets.slice(0, cap)
    p.values = p.values.slice(0, cap)
    p.cap = cap
  }
}

/**
 * Best `k` of the `nt` touched offsets by `acc[o]`, best first, ties by lower offset, skipping
 * offsets not in `allow`. A bounded min-heap whose root is the worst kept hit.
 */
function selectTopK(
  touched: Uint32Array,
  nt: number,
  acc: Float32Array,
  k: number,
  allow: Uint32Array | undefined,
): { offsets: Uint32Array; scores: Float32Array } {
  const cap = Math.min(k, nt)
  const hs = new Float32Array(cap)
  const ho = new Uint32Array(cap)
  let size = 0
  for (let i = 0; i < nt; i++) {
    const o = touched[i]!
    if (allow !== undefined && !isAllowed(allow, o)) continue
    const s = acc[o]!
    if (size < cap) {
      // sift up
      let c = size++
      while (c > 0) {
        const parent = (c - 1) >> 1
        if (!worse(s, o, hs[parent]!, ho[parent]!)) break
        hs[c] = hs[parent]!
        ho[c] = ho[parent]!
        c = parent
      }
      hs[c] = s
      ho[c] = o
    } else if (cap > 0 && worse(hs[0]!, ho[0]!, s, o)) {
      siftDown(hs, ho, size, s, o)
    }
  }
  // pop the worst repeatedly into the back of the result
  const offsets = new Uint32Array(size)
  const scores = new Float32Array(size)
  for (let n = size; n > 0; n--) {
    offsets[n - 1] = ho[0]!
    scores[n - 1] = hs[0]!
    if (n > 1) siftDown(hs, ho, n - 1, hs[n - 1]!, ho[n - 1]!)
  }
  return { offsets, scores }
}

/** Whether bit `o` of the bitset `allow` is set (bits past its end are clear). */
function isAllowed(allow: Uint32Array, o: number): boolean {
  const w = o >>> 5
  return w < allow.length && ((allow[w]! >>> (o & 31)) & 1) === 1
}

/** Whether hit (sa, oa) ranks below hit (sb, ob): lower score, or equal score and higher offset. */
function worse(sa: number, oa: number, sb: number, ob: number): boolean {
  return sa < sb || (sa === sb && oa > ob)
}

/** Places (s, o) at the root of the heap `hs/ho[0..size)` and sifts it down. */
function siftDown(hs: Float32Array, ho: Uint32Array, size: number, s: number, o: number): void {
  let c = 0
  for (;;) {
    let child = 2 * c + 1
    if (child >= size) break
    const r = child + 1
    if (r < size && worse(hs[r]!, ho[r]!, hs[child]!, ho[child]!)) child = r
    if (!worse(hs[child]!, ho[child]!, s, o)) break
    hs[c] = hs[child]!
    ho[c] = ho[child]!
    c = child
  }
  hs[c] = s
  ho[c] = o
}
