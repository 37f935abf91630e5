// The HNSW index over dense offsets (Malkov & Yashunin 2018), running inside one WebAssembly core
// instance, plus exact search over the same vectors (the recall reference) and a graph self-check.
// Knows offsets, vectors and distances only: no point ids, payloads or files.
import { type CoreExports, CoreMetric, instantiateCore } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'

/** `cosine` normalises stored vectors and queries, then ranks by dot product. */
export type IndexMetric = 'cosine' | 'dot' | 'l2' | 'l1'

export interface HnswParams {
  readonly dimension: number
  readonly metric: IndexMetric
  /** Links per node on layers >= 1; layer 0 keeps 2·m. */
  readonly m: number
  readonly efConstruct: number
  /** Seed of the level generator (deterministic builds for tests). */
  readonly seed?: number
}

/**
 * Search hits as parallel typed arrays, nearest first. `distances` are "lower is better":
 * -dot for cosine/dot, squared L2 for l2, L1 for l1.
 */
export interface SearchHits {
  readonly offsets: Uint32Array
  readonly distances: Float32Array
}

const MAGIC = 0x4e485651 // 'QVHN'
const FORMAT_VERSION = 1
const HEADER_WORDS = 16

function coreMetric(metric: IndexMetric): number {
  switch (metric) {
    case 'cosine':
    case 'dot':
      return CoreMetric.dot
    case 'l2':
      return CoreMetric.l2
    case 'l1':
      return CoreMetric.l1
  }
}

const INTEGRITY_REASONS: Record<number, string> = {
  1: 'entry point missing or not on the top layer',
  2: 'node level above the graph top layer',
  3: 'node has upper layers but no upper link block',
  4: 'degree out of bounds',
  5: 'link to a non-existing offset or to itself',
  6: 'link on layer l to a node whose top layer is below l',
  7: 'duplicate link',
}

/** A search restriction: `allow` holds one bit per offset (u32 words, bit o of word o >>> 5). */
export interface SearchFilter {
  readonly allow: Uint32Array
  readonly twoHop: boolean
}

/**
 * A search on quantized codes (the core must have a trained quantizer): `rescore` re-ranks the best
 * `candidates` (>= k) hits by their float32 vectors; without it distances are code distances.
 */
export interface CodesSearch {
  readonly rescore: boolean
  readonly candidates: number
}

function quantArgs(codes: CodesSearch | undefined): [number, number] {
  if (codes === undefined) return [0, 0]
  return [codes.rescore ? 2 : 1, codes.candidates]
}

export type IntegrityReport = { ok: true } | { ok: false; node: number; reason: string }

export class HnswIndex {
  readonly params: HnswParams
  private readonly core: CoreExports
  private readonly paddedDim: number

  private constructor(params: HnswParams, core: CoreExports) {
    this.params = params
    this.core = core
    this.paddedDim = core.getPaddedDim()
  }

  /** An empty index. */
  static create(params: HnswParams): HnswIndex {
    const core = instantiateCore()
    core.init(
      params.dimension,
      coreMetric(params.metric),
      params.metric === 'cosine' ? 1 : 0,
      params.m,
      params.efConstruct,
      (params.seed ?? 0x2545f491) >>> 0,
    )
    return new HnswIndex(params, core)
  }

  /** Most offsets this index can hold (its largest array must stay below 1 GiB of WASM memory). */
  get maxSize(): number {
    return this.core.maxCapacity()
  }

  /** Offsets stored, deleted ones included (offsets run 0..size-1). */
  get size(): number {
    return this.core.getCount()
  }

  /** Bytes of WebAssembly memory held by this index. */
  get memoryBytes(): number {
    return this.core.memory.buffer.byteLength
  }

  private stage(vector: ArrayLike<number>): void {
    const dim = this.params.dimension
    if (vector.length !== dim) {
      throw new QuiverError('INVALID_VECTOR', `vector has dimension ${vector.length}, expected ${dim}`)
    }
    const view = new Float32Array(this.core.memory.buffer, this.core.stagingPtr(), this.paddedDim)
    view.set(vector)
  }

  /**
   * Stores `vector` (length = dimension, finite: the caller validates) at the next offset and links
   * it into the graph; it is searchable on return. Returns the offset.
   */
  add(vector: ArrayLike<number>): number {
    this.stage(vector)
    this.core.reserve(this.core.getCount() + 1)
    return this.core.add()
  }

  /** Grows memory for `n` offsets in one step (throws like `add` past `maxSize`). */
  reserve(n: number): void {
    this.core.reserve(Math.min(n, this.maxSize))
  }

  /** Hides an offset from results; it stays in the graph as a waypoint. */
  markDeleted(offset: number): void {
    this.core.markDeleted(offset)
  }

  isDeleted(offset: number): boolean {
    return this.core.isDeleted(offset) !== 0
  }

  /** The stored vector of `offset` (normalised for cosine), a copy of `dimension` floats. */
  vector(offset: number): Float32Array {
    const start = this.core.vectorsPtr() + offset * this.paddedDim * 4
    return new Float32Array(this.core.memory.buffer.slice(start, start + this.params.dimension * 4))
  }

  private hits(n: number): SearchHits {
    const buf = this.core.memory.buffer
    return {
      offsets: new Uint32Array(buf, this.core.outIdsPtr(), n).slice(),
      distances: new Float32Array(buf, this.core.outDistPtr(), n).slice(),
    }
  }

  private setAllowed(allow: Uint32Array): void {
    const words = (this.core.getCapacity() + 31) >>> 5
    const bits = new Uint32Array(this.core.memory.buffer, this.core.allowPtr(), words)
    if (allow.length > words) throw new RangeError('allow bitset is larger than the index capacity')
    bits.set(allow)
    bits.fill(0, allow.length)
  }

  /**
   * Approximate k-NN (Alg. 5) with candidate list size max(ef, k). With `filter`, only offsets whose
   * bit is set in `filter.allow` (bit o of word o >>> 5) are returned: with `twoHop` false the
   * others still serve as waypoints; with `twoHop` true the traversal expands over admissible
   * nodes and their two-hop admissible neighbours only (ACORN-1, for sparse matches). Deleted
   * offsets are never returned.
   */
  search(
    query: ArrayLike<number>,
    k: number,
    ef: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
  ): SearchHits {
    this.stage(query)
    if (filter) this.setAllowed(filter.allow)
    const mode = filter === undefined ? 0 : filter.twoHop ? 2 : 1
    const [quant, candidates] = quantArgs(codes)
    const n = this.core.searchKnn(k, Math.max(ef, k, candidates), mode, quant, candidates)
    return this.hits(n)
  }

  /**
   * k-NN by a full scan of every live offset (or only `allowed`, a list of offsets): exact on
   * float32 vectors, or over quantized codes with `codes` (then exact only after rescoring).
   */
  searchExact(query: ArrayLike<number>, k: number, allowed?: Uint32Array, codes?: CodesSearch): SearchHits {
    this.stage(query)
    const [quant, candidates] = quantArgs(codes)
    if (!allowed) return this.hits(this.core.searchFlat(k, 0, quant, candidates))
    const ptr = this.core.ensureList(allowed.length)
    new Uint32Array(this.core.memory.buffer, ptr, allowed.length).set(allowed)
    return this.hits(this.core.searchList(allowed.length, k, quant, candidates))
  }

  /** The WebAssembly core holding this index (for quantizers that keep their codes beside the vectors). */
  get coreExports(): CoreExports {
    return this.core
  }

  /** Checks graph invariants (links in range, no self or duplicate links, degree bounds, layers). */
  checkIntegrity(): IntegrityReport {
    const r = this.core.checkIntegrity()
    if (r === 0) return { ok: true }
    return {
      ok: false,
      node: r < 0 ? this.core.getEntryPoint() : r - 1,
      reason: INTEGRITY_REASONS[this.core.checkReason()] ?? 'unknown',
    }
  }

  /** Serialises vectors, graph and deletions into one buffer (format in docs/storage-format.md). */
  serialize(): Uint8Array {
    const c = this.core
    const n = c.getCount()
    const m0 = 2 * this.params.m
    const buf = c.memory.buffer
    const levels = new Uint8Array(buf, c.levelsPtr(), n)
    let upperWords = 0
    for (let i = 0; i < n; i++) upperWords += levels[i]! * (1 + this.params.m)
    const vecBytes = n * this.paddedDim * 4
    const levelBytes = (n + 3) & ~3
    const linkBytes = n * (1 + m0) * 4
    const delBytes = ((n + 31) >>> 5) * 4
    const total = HEADER_WORDS * 4 + vecBytes + levelBytes + linkBytes + delBytes + upperWords * 4
    const out = new Uint8Array(total)
    const header = new Uint32Array(out.buffer, 0, HEADER_WORDS)
    header.set([
      MAGIC,
      FORMAT_VERSION,
      this.params.dimension,
      this.paddedDim,
      coreMetric(this.params.metric),
      this.params.metric === 'cosine' ? 1 : 0,
      this.params.m,
      this.params.efConstruct,
      n,
      c.getEntryPoint() >>> 0,
      c.getMaxLevel() >>> 0,
      c.getRng() >>> 0,
      upperWords,
    ])
    let pos = HEADER_WORDS * 4
    out.set(new Uint8Array(buf, c.vectorsPtr(), vecBytes), pos)
    pos += vecBytes
    out.set(levels, pos)
    pos += levelBytes
    out.set(new Uint8Array(buf, c.links0Ptr(), linkBytes), pos)
    pos += linkBytes
    out.set(new Uint8Array(buf, c.deletedPtr(), delBytes), pos)
    pos += delBytes
    const blockBytes = (1 + this.params.m) * 4
    for (let i = 0; i < n; i++) {
      const l = levels[i]!
      if (l === 0) continue
      out.set(new Uint8Array(buf, c.upperPtr(i), l * blockBytes), pos)
      pos += l * blockBytes
    }
    return out
  }

  /** Rebuilds an index from `serialize()` output without re-inserting; throws CORRUPTED on a bad buffer. */
  static restore(params: HnswParams, data: Uint8Array): HnswIndex {
    const corrupt = (what: string) => new QuiverError('CORRUPTED', `HNSW index file: ${what}`)
    if (data.byteLength < HEADER_WORDS * 4) throw corrupt('too short')
    const aligned = data.byteOffset % 4 === 0 ? data : Uint8Array.prototype.slice.call(data)
    const h = new Uint32Array(aligned.buffer, aligned.byteOffset, HEADER_WORDS)
    if (h[0] !== MAGIC) throw corrupt('bad magic number')
    if (h[1] !== FORMAT_VERSION) throw corrupt(`unsupported format version ${h[1]}`)
    if (
      h[2] !== params.dimension ||
      h[4] !== coreMetric(params.metric) ||
      h[5] !== (params.metric === 'cosine' ? 1 : 0) ||
      h[6] !== params.m
    ) {
      throw corrupt('dimension, metric or m differ from the collection config')
    }
    const index = HnswIndex.create(params)
    const c = index.core
    const n = h[8]!
    const entry = h[9]! | 0
    const maxLevel = h[10]! | 0
    const upperWords = h[12]!
    const m0 = 2 * params.m
    const vecBytes = n * index.paddedDim * 4
    const levelBytes = (n + 3) & ~3
    const linkBytes = n * (1 + m0) * 4
    const delBytes = ((n + 31) >>> 5) * 4
    const expected = HEADER_WORDS * 4 + vecBytes + levelBytes + linkBytes + delBytes + upperWords * 4
    if (aligned.byteLength !== expected) throw corrupt(`size ${aligned.byteLength}, expected ${expected}`)
    c.reserve(Math.max(n, 1))
    let pos = HEADER_WORDS * 4
    const mem = () => new Uint8Array(c.memory.buffer)
    mem().set(aligned.subarray(pos, pos + vecBytes), c.vectorsPtr())
    pos += vecBytes
    const levels = aligned.subarray(pos, pos + n)
    let levelWords = 0
    for (let i = 0; i < n; i++) levelWords += levels[i]! * (1 + params.m)
    if (levelWords !== upperWords)
      throw corrupt(`upper-layer size ${upperWords} words, levels say ${levelWords}`)
    mem().set(levels, c.levelsPtr())
    pos += levelBytes
    mem().set(aligned.subarray(pos, pos + linkBytes), c.links0Ptr())
    pos += linkBytes
    mem().set(aligned.subarray(pos, pos + delBytes), c.deletedPtr())
    pos += delBytes
    const blockBytes = (1 + params.m) * 4
    for (let i = 0; i < n; i++) {
      const l = levels[i]!
      if (l === 0) continue
      const ptr = c.allocUpper(i, l)
      mem().set(aligned.subarray(pos, pos + l * blockBytes), ptr)
      pos += l * blockBytes
    }
    c.setState(n, entry, maxLevel, h[11]!)
    const report = index.checkIntegrity()
    if (!report.ok) throw corrupt(`graph self-check failed at offset ${report.node}: ${report.reason}`)
    return index
  }
}
