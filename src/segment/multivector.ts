// Multivectors (ColBERT-style late interaction, Khattab & Zaharia 2020): each point holds a matrix
// of rows of one dimension; the score of a query matrix Q against a point's matrix P is
// sum over q in Q of max over p in P of sim(q, p) ("max_sim", Qdrant's comparator). Rows are kept
// per offset in JS typed arrays and searched by an exact scan (no graph yet: docs/rest-api.md#vectors).
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../errors.js'
import type { Bitset } from '../filter/index.js'
import type { SearchHits } from '../index/hnsw.js'
import type { Distance, VectorConfig } from '../types.js'

const FORMAT_VERSION = 1

interface MultiFile {
  v: number
  /** offset -> rows x dim float32 bytes, or null */
  rows: (Uint8Array | null)[]
}

/** Normalises each row of `rows` (rows x dim) to unit length in place (float64 sums). */
export function normalizeRows(rows: Float32Array, dim: number): void {
  for (let r = 0; r < rows.length; r += dim) {
    let s = 0
    for (let i = r; i < r + dim; i++) s += rows[i]! * rows[i]!
    if (s === 0) continue
    const inv = 1 / Math.sqrt(s)
    for (let i = r; i < r + dim; i++) rows[i]! *= inv
  }
}

/** Distance of two rows (smaller is better), Qdrant's max-sim terms negated: -dot for Cosine/Dot, squared L2, L1. */
function rowDistance(
  metric: Distance,
  a: Float32Array,
  ai: number,
  b: Float32Array,
  bi: number,
  dim: number,
): number {
  let s = 0
  switch (metric) {
    case 'Cosine':
    case 'Dot':
      for (let i = 0; i < dim; i++) s += a[ai + i]! * b[bi + i]!
      return -s
    case 'Euclid':
      for (let i = 0; i < dim; i++) {
        const d = a[ai + i]! - b[bi + i]!
        s += d * d
      }
      return s
    case 'Manhattan':
      for (let i = 0; i < dim; i++) s += Math.abs(a[ai + i]! - b[bi + i]!)
      return s
  }
}

export class MultiVectorStore {
  private readonly rows: (Float32Array | undefined)[] = []
  private bytes = 0

  private constructor(
    private readonly dim: number,
    private readonly metric: Distance,
  ) {}

  static create(config: VectorConfig): MultiVectorStore {
    return new MultiVectorStore(config.dimension, config.metric)
  }

  /** Stores (or with undefined, forgets) the rows of `offset`; `rows` validated, rows x dim. Cosine rows are normalised. */
  set(offset: number, rows: Float32Array | undefined): void {
    const old = this.rows[offset]
    if (old !== undefined) this.bytes -= old.byteLength
    if (rows === undefined) {
      if (offset < this.rows.length) this.rows[offset] = undefined
      return
    }
    const copy = rows.slice()
    if (this.metric === 'Cosine') normalizeRows(copy, this.dim)
    while (this.rows.length < offset) this.rows.push(undefined)
    this.rows[offset] = copy
    this.bytes += copy.byteLength
  }

  has(offset: number): boolean {
    return this.rows[offset] !== undefined
  }

  /** A copy of the rows of `offset` (normalised for Cosine), or undefined. */
  get(offset: number): Float32Array | undefined {
    return this.rows[offset]?.slice()
  }

  get memoryBytes(): number {
    return this.bytes + this.rows.length * 8
  }

  /**
   * Max-sim distance of `query` (rows x dim; normalised by the caller for Cosine) to the rows of
   * `offset`: sum over query rows of the best row distance (negated similarity for Cosine/Dot).
   */
  distanceAt(query: Float32Array, offset: number): number | undefined {
    const p = this.rows[offset]
    if (p === undefined) return undefined
    const dim = this.dim
    let total = 0
    for (let q = 0; q < query.length; q += dim) {
      let best = Number.POSITIVE_INFINITY
      for (let r = 0; r < p.length; r += dim) {
        const d = rowDistance(this.metric, query, q, p, r, dim)
        if (d < best) best = d
      }
      total += best
    }
    return total
  }

  /** Exact top-k by max-sim over the offsets in `allow` holding rows, best (smallest distance) first, ties by offset. */
  search(query: Float32Array, k: number, allow: Bitset): SearchHits {
    const found: { o: number; d: number }[] = []
    allow.forEach((o) => {
      const d = this.distanceAt(query, o)
      if (d !== undefined) found.push({ o, d })
    })
    found.sort((a, b) => a.d - b.d || a.o - b.o)
    const top = found.length > k ? found.slice(0, k) : found
    return {
      offsets: Uint32Array.from(top, (h) => h.o),
      distances: Float32Array.from(top, (h) => h.d),
    }
  }

  serialize(): Uint8Array {
    const file: MultiFile = {
      v: FORMAT_VERSION,
      rows: this.rows.map((r) =>
        r === undefined ? null : new Uint8Array(r.buffer, r.byteOffset, r.byteLength),
      ),
    }
    return encode(file)
  }

  static restore(config: VectorConfig, bytes: Uint8Array): MultiVectorStore {
    let file: MultiFile
    try {
      file = decode(bytes) as MultiFile
    } catch (err) {
      throw new QuiverError('CORRUPTED', 'multivector file does not decode', undefined, err)
    }
    if (file?.v !== FORMAT_VERSION || !Array.isArray(file.rows))
      throw new QuiverError('CORRUPTED', 'multivector file has an unknown format')
    const store = new MultiVectorStore(config.dimension, config.metric)
    file.rows.forEach((r, o) => {
      if (r === null) {
        store.rows.push(undefined)
        return
      }
      if (!(r instanceof Uint8Array) || r.byteLength % (4 * config.dimension) !== 0 || r.byteLength === 0)
        throw new QuiverError('CORRUPTED', `multivector file: offset ${o} has a bad row block`)
      const copy = new Uint8Array(r.byteLength)
      copy.set(r)
      const rows = new Float32Array(copy.buffer)
      store.rows.push(rows)
      store.bytes += rows.byteLength
    })
    return store
  }
}
