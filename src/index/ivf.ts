// The IVF index over dense offsets (inverted file: Jégou, Douze & Schmid, TPAMI 2011 §4; Sivic &
// Zisserman 2003): a graphless core's vectors partitioned into `nlist` k-means cells whose lists live in
// WASM memory (assembly/ivf.ts). Same surface as HnswIndex; with a quantizer trained on its core
// (e.g. ProductQuantizer: IVF-PQ) lists are scanned on codes and the best candidates rescored.
import { chunkRuns, fileParts, type IndexMetric, instantiateCore, joinParts } from '../engine/wasm.js'
import { QuiverError } from '../errors.js'
import {
  type KMeansCoreExports,
  kmeansRows,
  readCentroidBlocks,
  writeCentroidBlocks,
} from '../quantization/kmeans.js'
import {
  bitsToOffsets,
  type CodesSearch,
  CoreIndex,
  coreMetric,
  type IntegrityReport,
  quantArgs,
  type SearchFilter,
  type SearchHits,
} from './core-index.js'
import type { IndexFileParts, VectorIndex } from './types.js'

/** The IVF exports of assembly/ivf.ts. */
interface IvfCoreExports extends KMeansCoreExports {
  ivfInit(nlist: number, probeKind: number): number
  ivfNlist(): number
  ivfCentroidsPtr(): number
  ivfListsPtr(): number
  ivfAssigned(): number
  ivfAssignRange(from: number, to: number): number
  ivfLoad(lists: number, n: number): void
  ivfSearch(k: number, nprobe: number, filtered: number, quant: number, candidates: number): number
}

export interface IvfParams {
  readonly dimension: number
  readonly metric: IndexMetric
  /** Lists (k-means cells). Default: chosen at training time, min(round(4·sqrt(n)), floor(n / 39)). */
  readonly nlist?: number
  /** Lists probed when a search names none. Default max(1, round(nlist / 16)). */
  readonly nprobe?: number
  /** Most Lloyd iterations when training. Default 10. */
  readonly iterations?: number
  /** Seed of the training sample and k-means++ draws. */
  readonly seed?: number
}

const MAGIC = 0x56495651 // 'QVIV'
const FORMAT_VERSION = 1
const HEADER_WORDS = 12
const UNASSIGNED = 0xffffffff
/** Training points per list below which k-means cells are unreliable (FAISS warns under 39). */
export const MIN_POINTS_PER_LIST = 39
/** Stored vectors before an IVF with an automatic nlist trains. */
const AUTO_MIN_TRAINING = 1024

/** Lists are ranked by -dot for raw dot products (maximum inner product), else by squared L2 (the cells' metric). */
function probeKind(metric: IndexMetric): number {
  return metric === 'dot' ? 0 : 1
}

/** Default nlist for `n` training vectors: round(4·sqrt(n)), at most n / 39, at least 1. */
export function defaultNlist(n: number): number {
  return Math.max(1, Math.min(Math.round(4 * Math.sqrt(n)), Math.floor(n / MIN_POINTS_PER_LIST)))
}

export class IvfIndex extends CoreIndex<IvfParams, IvfCoreExports> implements VectorIndex {
  /**
   * An empty, untrained index (searches are exact scans until `train()`).
   * Throws INVALID_CONFIG on a non-positive or fractional nlist / nprobe.
   * @example
   * const ivf = IvfIndex.create({ dimension: 128, metric: 'l2', nlist: 64 })
   */
  static create(params: IvfParams): IvfIndex {
    for (const key of ['nlist', 'nprobe', 'iterations'] as const) {
      const v = params[key]
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) {
        throw new QuiverError('INVALID_CONFIG', `ivf.${key}: expected a positive integer, got ${v}`)
      }
    }
    const core = instantiateCore() as IvfCoreExports
    core.init(
      params.dimension,
      coreMetric(params.metric),
      params.metric === 'cosine' ? 1 : 0,
      0,
      1,
      (params.seed ?? 0x2545f491) >>> 0,
    )
    return new IvfIndex(params, core)
  }

  /** True once `train()` has built the lists; every stored offset is then in exactly one list. */
  get trained(): boolean {
    return this.core.ivfNlist() > 0
  }

  /** Lists in use (0 before training). */
  get nlist(): number {
    return this.core.ivfNlist()
  }

  /** nprobe used when `search` gets none: params.nprobe, else max(1, round(nlist / 16)). */
  get defaultNprobe(): number {
    return this.params.nprobe ?? Math.max(1, Math.round(this.nlist / 16))
  }

  /** Stored live vectors needed before `train()` builds lists: 39 · nlist, or 1024 with an automatic nlist. */
  get minTrainingVectors(): number {
    return this.params.nlist !== undefined ? MIN_POINTS_PER_LIST * this.params.nlist : AUTO_MIN_TRAINING
  }

  /**
   * Stores `vector` (length = dimension, finite: the caller validates) at the next offset and, once
   * trained, appends it to the list of its nearest centroid; it is searchable on return. Returns the offset.
   */
  add(vector: ArrayLike<number>): number {
    this.stage(vector)
    this.core.reserve(this.core.getCount() + 1)
    const offset = this.core.add()
    if (this.trained) this.core.ivfAssignRange(offset, offset + 1)
    return offset
  }

  /**
   * A placeholder (deleted zero vector) at the next offset; once trained it joins a list like any
   * offset (training assigns every stored offset), so the lists always cover 0..size-1.
   */
  override addPlaceholder(): number {
    const offset = super.addPlaceholder()
    if (this.trained) this.core.ivfAssignRange(offset, offset + 1)
    return offset
  }

  /**
   * Stores `vectors` (n x dimension, row-major, finite: the caller validates) at the next n offsets,
   * on the calling thread (HnswIndex.addBatch's contract: none is searchable before
   * `committed(first)` runs, synchronously, before the promise resolves; on a throw the batch's
   * offsets are deleted). Returns the first offset.
   */
  async addBatch(vectors: Float32Array, committed?: (first: number) => void): Promise<number> {
    return this.addEach(vectors, committed)
  }

  /**
   * `search` (or `searchExact` over the offsets of `filter.allow` with `exact`) for each of n queries
   * (n x dimension, row-major), on the calling thread: IVF has no worker-thread path yet.
   */
  async searchBatch(
    queries: Float32Array,
    k: number,
    nprobe: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
    exact = false,
  ): Promise<SearchHits[]> {
    const dim = this.params.dimension
    const n = queries.length / dim
    if (!Number.isInteger(n)) throw new RangeError('queries length is not a multiple of the dimension')
    const allowed = exact && filter ? bitsToOffsets(filter.allow, this.size) : undefined
    const out: SearchHits[] = []
    for (let i = 0; i < n; i++) {
      const q = queries.subarray(i * dim, (i + 1) * dim)
      out.push(exact ? this.searchExact(q, k, allowed, codes) : this.search(q, k, nprobe, filter, codes))
    }
    return out
  }

  /** Live offsets (not deleted), ascending. */
  private liveOffsets(): Uint32Array {
    const n = this.size
    const del = new Uint32Array(this.core.memory.buffer, this.core.deletedPtr(), (n + 31) >>> 5)
    const out = new Uint32Array(n)
    let m = 0
    for (let i = 0; i < n; i++) if (((del[i >>> 5]! >>> (i & 31)) & 1) === 0) out[m++] = i
    return out.slice(0, m)
  }

  /**
   * Learns nlist centroids by k-means (k-means++ seeding, Lloyd, on at most 256 · nlist sampled live
   * vectors) and puts every stored offset in the list of its nearest centroid (squared L2). Returns
   * false and changes nothing when fewer than `minTrainingVectors` live vectors are stored. Training
   * again rebuilds the lists from scratch.
   */
  train(): boolean {
    const live = this.liveOffsets()
    if (live.length < this.minTrainingVectors) return false
    const nlist = this.params.nlist ?? defaultNlist(live.length)
    const c = this.core
    const { centroids } = kmeansRows(
      {
        core: c,
        base: 0, // the stored vectors
        stride: this.paddedDim,
        ids: live,
        count: this.size,
        offset: 0,
        width: this.paddedDim,
      },
      { k: nlist, iterations: this.params.iterations ?? 10, seed: this.params.seed ?? 1 },
    )
    const ptr = c.ivfInit(nlist, probeKind(this.params.metric))
    writeCentroidBlocks(c.memory, ptr, centroids, nlist, this.paddedDim)
    c.ivfAssignRange(0, this.size)
    return true
  }

  /**
   * Approximate k-NN: scans the `nprobe` lists whose centroids are nearest the query (all lists at
   * nprobe >= nlist: exact). With `filter`, only offsets whose bit is set in `filter.allow` (bit o of
   * word o >>> 5) are returned (`twoHop` has no meaning here). With `codes` the lists are scanned on
   * the core's quantized codes and, with `rescore`, the best `candidates` re-ranked by float32.
   * Before training it is an exact scan. Deleted offsets are never returned.
   */
  search(
    query: ArrayLike<number>,
    k: number,
    nprobe: number,
    filter?: SearchFilter,
    codes?: CodesSearch,
  ): SearchHits {
    this.stage(query)
    if (filter) this.setAllowed(filter.allow)
    const filtered = filter === undefined ? 0 : 1
    const [quant, candidates] = quantArgs(codes)
    if (!this.trained) return this.hits(this.core.searchFlat(k, filtered, quant, candidates))
    return this.hits(this.core.ivfSearch(k, Math.max(1, nprobe), filtered, quant, candidates))
  }

  /** List id of every stored offset (UNASSIGNED = 0xffffffff before training), read from the lists. */
  private assignments(): Uint32Array | string {
    const n = this.size
    const out = new Uint32Array(n).fill(UNASSIGNED)
    const nlist = this.nlist
    if (nlist === 0) return out
    const buf = this.core.memory.buffer
    const table = new Uint32Array(buf, this.core.ivfListsPtr(), nlist * 3)
    for (let l = 0; l < nlist; l++) {
      const size = table[l * 3 + 1]!
      if (size > table[l * 3 + 2]!) return `list ${l} holds ${size} offsets, more than its capacity`
      const items = new Uint32Array(buf, table[l * 3]!, size)
      for (const o of items) {
        if (o >= n) return `list ${l} holds offset ${o}, past the ${n} stored`
        if (out[o] !== UNASSIGNED) return `offset ${o} is in lists ${out[o]} and ${l}`
        out[o] = l
      }
    }
    return out
  }

  /** Checks the lists: once trained every stored offset (deleted ones too) is in exactly one list. */
  checkIntegrity(): IntegrityReport {
    const a = this.assignments()
    if (typeof a === 'string') return { ok: false, node: -1, reason: a }
    const trained = this.trained
    for (let i = 0; i < a.length; i++) {
      if (trained && a[i] === UNASSIGNED) return { ok: false, node: i, reason: 'offset is in no list' }
    }
    if (trained && this.core.ivfAssigned() !== this.size) {
      return {
        ok: false,
        node: this.core.ivfAssigned(),
        reason: 'assigned count differs from the stored count',
      }
    }
    return { ok: true }
  }

  /**
   * Header (12 u32: magic 'QVIV', version, dimension, padded dimension, metric id, normalise, count,
   * nlist (0 = untrained), probe kind), vectors (count x paddedDim f32), deleted bitset
   * (ceil(count / 32) u32), centroids (nlist x paddedDim f32, row-major), list id per offset (count u32,
   * when trained).
   */
  serialize(): Uint8Array {
    return joinParts(this.serializeParts().parts)
  }

  /**
   * `serialize()` as its parts in file order, with the size and CRC-32C: the header, views of the
   * core's memory for the vectors (one per chunk) and the deletions, copies of the centroids and
   * list ids. The views show the index as it is until it next changes (write them out before any
   * add, delete or training).
   */
  serializeParts(): IndexFileParts {
    const c = this.core
    const n = c.getCount()
    const nlist = this.nlist
    const assign = this.assignments()
    if (typeof assign === 'string') throw new QuiverError('INTERNAL', `IVF lists are inconsistent: ${assign}`)
    const header = new Uint32Array(HEADER_WORDS)
    header.set([
      MAGIC,
      FORMAT_VERSION,
      this.params.dimension,
      this.paddedDim,
      coreMetric(this.params.metric),
      this.params.metric === 'cosine' ? 1 : 0,
      n,
      nlist,
      probeKind(this.params.metric),
    ])
    const cent =
      nlist > 0 ? readCentroidBlocks(c.memory, c.ivfCentroidsPtr(), nlist, this.paddedDim) : undefined
    const out = fileParts(c)
    out.outside(new Uint8Array(header.buffer))
    const vecRow = this.paddedDim * 4
    chunkRuns(c, c.vectorPtr, 0, n, (ptr, _first, rows) => out.inCore(ptr, rows * vecRow))
    out.inCore(c.deletedPtr(), ((n + 31) >>> 5) * 4)
    if (cent !== undefined) {
      out.outside(new Uint8Array(cent.buffer, cent.byteOffset, cent.byteLength))
      out.outside(new Uint8Array(assign.buffer, assign.byteOffset, assign.byteLength))
    }
    return out.done()
  }

  /** Rebuilds an index from `serialize()` output without retraining; throws CORRUPTED on a bad buffer. */
  static restore(params: IvfParams, data: Uint8Array): IvfIndex {
    const corrupt = (what: string) => new QuiverError('CORRUPTED', `IVF index file: ${what}`)
    if (data.byteLength < HEADER_WORDS * 4) throw corrupt('too short')
    const aligned = data.byteOffset % 4 === 0 ? data : data.slice()
    const h = new Uint32Array(aligned.buffer, aligned.byteOffset, HEADER_WORDS)
    if (h[0] !== MAGIC) throw corrupt('bad magic number')
    if (h[1] !== FORMAT_VERSION) throw corrupt(`unsupported format version ${h[1]}`)
    if (
      h[2] !== params.dimension ||
      h[4] !== coreMetric(params.metric) ||
      h[5] !== (params.metric === 'cosine' ? 1 : 0) ||
      h[8] !== probeKind(params.metric)
    ) {
      throw corrupt('dimension or metric differ from the collection config')
    }
    const index = IvfIndex.create(params)
    const c = index.core
    const pd = index.paddedDim
    if (h[3] !== pd) throw corrupt(`padded dimension ${h[3]}, expected ${pd}`)
    const n = h[6]!
    const nlist = h[7]!
    if (n > index.maxSize) throw corrupt(`${n} vectors exceed the segment capacity`)
    if (nlist > Math.max(n, 1)) throw corrupt(`${nlist} lists for ${n} vectors`)
    const vecBytes = n * pd * 4
    const delBytes = ((n + 31) >>> 5) * 4
    const centBytes = nlist * pd * 4
    const assignBytes = nlist > 0 ? n * 4 : 0
    const expected = HEADER_WORDS * 4 + vecBytes + delBytes + centBytes + assignBytes
    if (aligned.byteLength !== expected) throw corrupt(`size ${aligned.byteLength}, expected ${expected}`)
    c.reserve(Math.max(n, 1))
    let pos = HEADER_WORDS * 4
    const mem = new Uint8Array(c.memory.buffer)
    const vecRow = pd * 4
    const at = pos
    chunkRuns(c, c.vectorPtr, 0, n, (ptr, first, rows) =>
      mem.set(aligned.subarray(at + first * vecRow, at + (first + rows) * vecRow), ptr),
    )
    pos += vecBytes
    new Uint8Array(c.memory.buffer).set(aligned.subarray(pos, pos + delBytes), c.deletedPtr())
    pos += delBytes
    c.setState(n, -1, -1, (params.seed ?? 0x2545f491) >>> 0)
    if (nlist > 0) {
      const cent = new Float32Array(
        aligned.buffer.slice(aligned.byteOffset + pos, aligned.byteOffset + pos + centBytes),
      )
      if (!cent.every(Number.isFinite)) throw corrupt('centroids hold NaN or Infinity')
      pos += centBytes
      const assign = new Uint32Array(
        aligned.buffer.slice(aligned.byteOffset + pos, aligned.byteOffset + pos + assignBytes),
      )
      for (let i = 0; i < n; i++) {
        if (assign[i]! >= nlist) throw corrupt(`offset ${i} assigned to list ${assign[i]} of ${nlist}`)
      }
      const ptr = c.ivfInit(nlist, h[8]!)
      writeCentroidBlocks(c.memory, ptr, cent, nlist, pd)
      const tmp = c.kmAlloc(n * 4)
      new Uint32Array(c.memory.buffer, tmp, n).set(assign)
      c.ivfLoad(tmp, n)
      c.kmFree(tmp)
    }
    const report = index.checkIntegrity()
    if (!report.ok) throw corrupt(`list self-check failed at offset ${report.node}: ${report.reason}`)
    return index
  }
}
