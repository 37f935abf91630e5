// One segment (Qdrant's unit of storage): id tracker (point id <-> dense offset), vectors + vector
// index (HNSW graph or IVF lists, in one WebAssembly core), payloads, versions, the live bitset and
// the payload indexes, plus the per-segment search planner (HNSW, post-filtered HNSW, filtered HNSW
// with waypoints or two-hop expansion, IVF probes, or an exact scan over the matching offsets), on
// quantized codes when the segment has a trained quantizer.
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../errors.js'
import {
  Bitset,
  FilterExecutor,
  type FilterNode,
  type FilterTarget,
  type TokenizerOptions,
} from '../filter/index.js'
import {
  createFieldIndex,
  type FieldIndex,
  type FieldIndexSpec,
  parseFieldSchema,
  restoreFieldIndex,
  tokenizerOptions,
} from '../filter/payload-index/index.js'
import {
  type CodesSearch,
  HnswIndex,
  type IndexMetric,
  type SearchFilter,
  type SearchHits,
} from '../index/hnsw.js'
import { defaultNlist, IvfIndex, type IvfParams } from '../index/ivf.js'
import type { VectorIndex } from '../index/types.js'
import { createQuantizer, type Quantizer, restoreQuantizer } from '../quantization/index.js'
import type {
  CollectionConfig,
  Distance,
  Payload,
  PayloadSchemaParams,
  PointId,
  QuantizationSearchParams,
} from '../types.js'

const POINTS_FORMAT_VERSION = 1
const PAYLOAD_INDEX_FORMAT_VERSION = 1
/** Below this fraction of matches, two-hop search widens ef (bench/planner.mjs: recall < 0.95 at 2% with ef 64). */
const SPARSE_FRACTION = 0.05
/**
 * Index calls a pool search may run on the calling thread (Segment.searchAsync's `inlineCheap`):
 * graph searches up to this ef, scans up to this many floats (~0.1 ms each on this project's
 * machines; a thread hop costs about as much, docs/threads.md).
 */
const INLINE_MAX_EF = 128
const INLINE_MAX_SCAN = 1 << 20
/** Live points sampled to estimate the selectivity of a condition no index answers. */
const SAMPLE_SIZE = 256

export function indexMetric(distance: Distance): IndexMetric {
  switch (distance) {
    case 'Cosine':
      return 'cosine'
    case 'Dot':
      return 'dot'
    case 'Euclid':
      return 'l2'
    case 'Manhattan':
      return 'l1'
  }
}

/**
 * Which path a segment search took (reported in tests and benchmarks): `hnsw-postfiltered` =
 * unfiltered HNSW with oversampling, results checked afterwards; `hnsw-filtered` = traversal with
 * non-matching nodes as waypoints; `hnsw-two-hop` = traversal over matches with two-hop expansion;
 * `ivf` = the nprobe nearest lists scanned; `ivf-filtered` = the same, only matches as results.
 */
export type SearchPlan =
  | 'hnsw'
  | 'hnsw-postfiltered'
  | 'hnsw-filtered'
  | 'hnsw-two-hop'
  | 'ivf'
  | 'ivf-filtered'
  | 'exact'
  | 'exact-filtered'
  | 'empty'

/** Planner thresholds (see docs/query-planner.md; defaults from bench/filtered.mjs). */
export interface PlannerConfig {
  /** Matching vectors below this many KiB are scanned exactly (Qdrant's `full_scan_threshold`). */
  readonly fullScanThreshold: number
  /** Filters matching less than this fraction of the segment traverse with two-hop expansion. */
  readonly twoHopThreshold: number
  /**
   * A filter that needs point-by-point evaluation and is estimated to match at least this fraction
   * is applied after an oversampled unfiltered search instead of before it.
   */
  readonly postFilterThreshold: number
}

export interface SegmentSearchOptions {
  /** Hits wanted (limit + offset of the request). */
  k: number
  /** HNSW beam width (ignored by IVF segments). */
  ef: number
  /** IVF lists probed (ignored by HNSW segments); undefined = the index's default nprobe. */
  nprobe?: number | undefined
  exact: boolean
  /** Only points matching this filter are results; null = all. */
  filter: FilterNode | null
  /** Receives the keys of conditions that had to be evaluated point by point. */
  unindexed?: Set<string> | undefined
  /**
   * How to use the quantized codes when the segment has a trained quantizer (ignored with `exact`):
   * `ignore` = float32 only; `rescore` (default true) re-ranks ceil(k x `oversampling`) candidates
   * (default 1) found on codes by their float32 vectors.
   */
  quantization?: QuantizationSearchParams | undefined
}

export interface SegmentSearchResult extends SearchHits {
  readonly plan: SearchPlan
  /** The hits were found on quantized codes (rescored or not) rather than on float32 vectors. */
  readonly quantized: boolean
}

/** Files of a persisted segment, each as bytes. */
export interface SegmentFiles {
  readonly 'index.bin': Uint8Array
  readonly 'points.msgpack': Uint8Array
  /** Absent in directories written before payload indexes existed (read as no indexes). */
  readonly 'payload-index.msgpack'?: Uint8Array
  /** The trained quantizer (parameters + codes); absent when untrained or the collection has none. */
  readonly 'quantization.bin'?: Uint8Array
}

interface PayloadIndexFile {
  v: number
  fields: { field: string; params: PayloadSchemaParams; data: Uint8Array }[]
}

interface PointsFile {
  v: number
  ids: PointId[]
  versions: number[]
  payloads: (Payload | null)[]
}

export class Segment {
  readonly config: CollectionConfig
  readonly index: VectorIndex
  /** The same object as `index` when the collection uses IVF. */
  private readonly ivf: IvfIndex | undefined
  /** offset -> point id (deleted offsets keep their old id) */
  private readonly ids: PointId[]
  /** offset -> WAL sequence number of the write that stored it */
  private readonly versions: number[]
  private readonly payloads: (Payload | undefined)[]
  /** live point id -> offset */
  private readonly offsets = new Map<PointId, number>()
  /** Bumped on every change of the live id set (drives caches such as the sorted id list). */
  private idGeneration = 0
  private sortedCache: { generation: number; ids: PointId[] } | undefined
  private sampleCache: { generation: number; offsets: Uint32Array } | undefined
  /** Bumped on every change of the live offset set. */
  private liveGeneration = 0
  /** Live offsets: one bit per offset, grown by doubling; bits past `ids.length` are 0. */
  private liveWords: Uint32Array
  private liveView: Bitset | undefined
  /** Payload indexes by field key text. */
  private readonly fieldIndexes = new Map<string, FieldIndex>()
  private textCache: Map<string, TokenizerOptions> | undefined
  /** Planner thresholds; the collection may override them. */
  planner: PlannerConfig
  /** Bumped on every change of content (points, payloads, payload indexes): persistence skips clean segments. */
  private mutationCount = 0
  /** Ids changed since `trackChanges()` (an optimizer copying this segment replays them). */
  private tracked: Set<PointId> | undefined
  /** Present when the collection has `quantization`; searches use it once `trained`. */
  private readonly quantizer: Quantizer | undefined

  private constructor(
    config: CollectionConfig,
    index: VectorIndex,
    ids: PointId[],
    versions: number[],
    payloads: (Payload | undefined)[],
    quantizer: Quantizer | undefined,
  ) {
    this.config = config
    this.index = index
    this.ivf = index instanceof IvfIndex ? index : undefined
    this.quantizer = quantizer
    this.ids = ids
    this.versions = versions
    this.payloads = payloads
    this.planner = { ...DEFAULT_PLANNER, fullScanThreshold: config.hnsw.fullScanThreshold }
    this.liveWords = new Uint32Array(Math.max(32, (ids.length + 31) >>> 5))
    for (let o = 0; o < ids.length; o++) {
      if (index.isDeleted(o)) continue
      this.offsets.set(ids[o]!, o)
      this.liveWords[o >>> 5]! |= 1 << (o & 31)
    }
  }

  static create(config: CollectionConfig): Segment {
    const ivf = Segment.ivfParams(config)
    const index: VectorIndex =
      ivf !== undefined ? IvfIndex.create(ivf) : HnswIndex.create(Segment.indexParams(config))
    return new Segment(config, index, [], [], [], Segment.newQuantizer(config))
  }

  /** IvfIndex parameters when the collection uses IVF (null settings = the index's automatic ones). */
  private static ivfParams(config: CollectionConfig): IvfParams | undefined {
    const c = config.index
    if (c?.type !== 'ivf') return undefined
    return {
      dimension: config.dimension,
      metric: indexMetric(config.metric),
      ...(c.nlist === null ? {} : { nlist: c.nlist }),
      ...(c.nprobe === null ? {} : { nprobe: c.nprobe }),
    }
  }

  private static newQuantizer(config: CollectionConfig): Quantizer | undefined {
    const q = config.quantization
    return q === undefined ? undefined : createQuantizer(q, config.dimension, indexMetric(config.metric))
  }

  private static indexParams(config: CollectionConfig) {
    return {
      dimension: config.dimension,
      metric: indexMetric(config.metric),
      m: config.hnsw.m,
      efConstruct: config.hnsw.efConstruct,
    }
  }

  private setLive(offset: number, live: boolean): void {
    if (live && offset >>> 5 >= this.liveWords.length) {
      const grown = new Uint32Array(Math.max(this.liveWords.length * 2, (offset >>> 5) + 1))
      grown.set(this.liveWords)
      this.liveWords = grown
    }
    if (live) this.liveWords[offset >>> 5]! |= 1 << (offset & 31)
    else this.liveWords[offset >>> 5]! &= ~(1 << (offset & 31))
    this.liveView = undefined
    this.liveGeneration++
  }

  /** Live offsets as a Bitset over 0 .. storedCount-1 (shares memory: do not mutate). */
  get live(): Bitset {
    if (this.liveView === undefined || this.liveView.size !== this.ids.length) {
      this.liveView = Bitset.view(this.ids.length, this.liveWords)
    }
    return this.liveView
  }

  /** Restores a segment from `toFiles()` output; throws CORRUPTED if the files disagree. */
  static fromFiles(config: CollectionConfig, files: SegmentFiles): Segment {
    const ivf = Segment.ivfParams(config)
    const index: VectorIndex =
      ivf !== undefined
        ? IvfIndex.restore(ivf, files['index.bin'])
        : HnswIndex.restore(Segment.indexParams(config), files['index.bin'])
    let points: PointsFile
    try {
      points = decode(files['points.msgpack']) as PointsFile
    } catch (err) {
      throw new QuiverError('CORRUPTED', 'segment points file does not decode', undefined, err)
    }
    if (
      points?.v !== POINTS_FORMAT_VERSION ||
      !Array.isArray(points.ids) ||
      points.ids.length !== index.size ||
      points.versions.length !== index.size ||
      points.payloads.length !== index.size
    ) {
      throw new QuiverError('CORRUPTED', 'segment points file does not match its index file')
    }
    const payloads = points.payloads.map((p) => p ?? undefined)
    const codes = files['quantization.bin']
    // a file without a quantization config cannot be written; an old segment without the file is untrained
    const quantizer =
      config.quantization !== undefined && codes !== undefined
        ? restoreQuantizer(
            index.coreExports,
            config.quantization,
            config.dimension,
            indexMetric(config.metric),
            codes,
            index.size,
          )
        : Segment.newQuantizer(config)
    const segment = new Segment(config, index, points.ids, points.versions, payloads, quantizer)
    const indexFile = files['payload-index.msgpack']
    if (indexFile !== undefined) segment.restoreFieldIndexes(indexFile)
    return segment
  }

  private restoreFieldIndexes(bytes: Uint8Array): void {
    let file: PayloadIndexFile
    try {
      file = decode(bytes) as PayloadIndexFile
    } catch (err) {
      throw new QuiverError('CORRUPTED', 'segment payload index file does not decode', undefined, err)
    }
    if (file?.v !== PAYLOAD_INDEX_FORMAT_VERSION || !Array.isArray(file.fields)) {
      throw new QuiverError('CORRUPTED', 'segment payload index file has an unknown format')
    }
    for (const f of file.fields) {
      let spec: FieldIndexSpec
      try {
        spec = parseFieldSchema(f.field, f.params)
      } catch (err) {
        throw new QuiverError(
          'CORRUPTED',
          `segment payload index ${JSON.stringify(f.field)} has invalid parameters`,
          undefined,
          err,
        )
      }
      // a plain copy: the file's bytes may be a Node Buffer view whose slice() shares memory
      this.fieldIndexes.set(spec.field, restoreFieldIndex(spec, new Uint8Array(f.data)))
    }
    this.textCache = undefined
  }

  /** A consistent copy of the segment's state as file contents (taken synchronously). */
  toFiles(): SegmentFiles {
    const points: PointsFile = {
      v: POINTS_FORMAT_VERSION,
      ids: this.ids,
      versions: this.versions,
      payloads: this.payloads.map((p) => p ?? null),
    }
    const indexFile: PayloadIndexFile = {
      v: PAYLOAD_INDEX_FORMAT_VERSION,
      fields: [...this.fieldIndexes.values()].map((fi) => ({
        field: fi.spec.field,
        params: fi.spec.params,
        data: fi.serialize(),
      })),
    }
    const files = {
      'index.bin': this.index.serialize(),
      'points.msgpack': encode(points),
      'payload-index.msgpack': encode(indexFile),
    }
    const q = this.quantizer
    if (q === undefined || !q.trained) return files
    return { ...files, 'quantization.bin': q.serialize(this.index.coreExports, this.ids.length) }
  }

  /** True once this segment's quantizer is trained (searches then run on its codes). */
  get quantized(): boolean {
    return this.quantizer?.trained === true
  }

  /** Bytes of quantized codes held (bytes per vector x stored points; 0 when untrained or none). */
  get quantizationBytes(): number {
    const q = this.quantizer
    return q?.trained === true ? q.bytesPerVector * this.ids.length : 0
  }

  /**
   * Trains the quantizer on the stored vectors once they number at least its `minTrainingVectors`
   * (from then on every added vector is encoded as it is stored). Call it after a batch of upserts,
   * not per point. Returns true when this call trained it.
   */
  trainQuantizer(): boolean {
    const q = this.quantizer
    if (q === undefined || q.trained || this.ids.length < q.minTrainingVectors) return false
    q.train(this.index.coreExports, this.ids.length)
    if (!q.trained) return false
    this.mutationCount++
    return true
  }

  /** IVF lists in use (0 while untrained); undefined for an HNSW segment. */
  get ivfLists(): number | undefined {
    return this.ivf?.nlist
  }

  /**
   * IVF segments: trains the lists (IvfIndex.train) once the segment holds the index's
   * `minTrainingVectors` live vectors; with an automatic nlist (config null) retrains whenever the
   * live count calls for at least twice the lists in use (defaultNlist), so a growing segment keeps
   * cells of a useful size. Call it after a batch of upserts, not per point. Deterministic (a WAL
   * replay trains at the same points). Returns true when this call (re)trained. No-op for HNSW.
   */
  trainIndex(): boolean {
    const ivf = this.ivf
    if (ivf === undefined) return false
    const live = this.offsets.size
    if (ivf.trained) {
      if (ivf.params.nlist !== undefined || defaultNlist(live) < 2 * ivf.nlist) return false
    } else if (live < ivf.minTrainingVectors) return false
    if (!ivf.train()) return false
    this.mutationCount++
    return true
  }

  /** Changes of content so far; equal counts mean equal content. */
  get mutations(): number {
    return this.mutationCount
  }

  /**
   * Starts recording the ids of points deleted, replaced or given a new payload, until
   * `takeChanges()`. An optimizer copying this segment in the background replays them at the swap.
   */
  trackChanges(): void {
    this.tracked = new Set()
  }

  /** The ids recorded since `trackChanges()`, and stops recording. */
  takeChanges(): Set<PointId> {
    const out = this.tracked ?? new Set()
    this.tracked = undefined
    return out
  }

  private changed(id: PointId): void {
    this.mutationCount++
    this.tracked?.add(id)
  }

  /** WAL seq of the write that stored a live point's current state. */
  version(id: PointId): number | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.versions[offset]
  }

  /** Specs of the payload indexes, so a new segment can carry the same ones. */
  fieldIndexSpecs(): FieldIndexSpec[] {
    return [...this.fieldIndexes.values()].map((fi) => fi.spec)
  }

  /** Preallocates room for `n` stored points (a rebuild that knows its size grows memory once). */
  reserve(n: number): void {
    this.index.reserve(n)
  }

  /** Builds (or rebuilds) the payload index `spec` over the live points. */
  createFieldIndex(spec: FieldIndexSpec): void {
    this.mutationCount++
    const fi = createFieldIndex(spec)
    for (const offset of this.offsets.values()) fi.set(offset, this.payloads[offset])
    this.fieldIndexes.set(spec.field, fi)
    this.textCache = undefined
  }

  /** Drops the payload index of `field`; false when there was none. */
  deleteFieldIndex(field: string): boolean {
    this.mutationCount++
    this.textCache = undefined
    return this.fieldIndexes.delete(field)
  }

  /** The payload indexes, by field key. */
  get payloadIndexes(): ReadonlyMap<string, FieldIndex> {
    return this.fieldIndexes
  }

  private get textIndexes(): ReadonlyMap<string, TokenizerOptions> {
    if (this.textCache === undefined) {
      this.textCache = new Map()
      for (const [field, fi] of this.fieldIndexes) {
        if (fi.spec.params.type === 'text') this.textCache.set(field, tokenizerOptions(fi.spec.params))
      }
    }
    return this.textCache
  }

  /** Up to SAMPLE_SIZE live offsets evenly spread over the segment; cached until the id set changes. */
  private sample(): Uint32Array {
    if (this.sampleCache?.generation !== this.liveGeneration) {
      const live = this.offsets.size
      const step = Math.max(1, live / SAMPLE_SIZE)
      const out: number[] = []
      let i = 0
      let next = 0
      this.live.forEach((o) => {
        if (i++ >= next) {
          out.push(o)
          next += step
        }
      })
      this.sampleCache = { generation: this.liveGeneration, offsets: Uint32Array.from(out) }
    }
    return this.sampleCache.offsets
  }

  /** A filter executor over this segment's current state (use it before the next write). */
  filterExecutor(filter: FilterNode): FilterExecutor {
    const target: FilterTarget = {
      size: this.ids.length,
      live: this.live,
      liveCount: this.offsets.size,
      indexFor: (key) => this.fieldIndexes.get(key),
      textIndexes: this.textIndexes,
      payloadAt: (o) => this.payloads[o],
      idAt: (o) => this.ids[o]!,
      offsetOf: (id) => this.offsets.get(id),
      sample: () => this.sample(),
    }
    return new FilterExecutor(filter, target)
  }

  /** Live points. */
  get pointCount(): number {
    return this.offsets.size
  }

  /** Offsets this segment can still take (each upsert takes one, replacements included). */
  get freeSlots(): number {
    return this.index.maxSize - this.ids.length
  }

  /** Estimated resident bytes: the index's WebAssembly memory plus payloads (JSON length x 2). */
  get memoryBytes(): number {
    return this.index.memoryBytes + this.payloadBytes
  }

  /** Payload bytes estimated from the sample's JSON length (UTF-16, so x 2); cached per id set. */
  private get payloadBytes(): number {
    const sample = this.sample()
    if (sample.length === 0) return 0
    let chars = 0
    for (const o of sample) {
      const p = this.payloads[o]
      if (p !== undefined) chars += JSON.stringify(p).length
    }
    return Math.round((chars * 2 * this.offsets.size) / sample.length)
  }

  /** Offsets stored, deleted ones included. */
  get storedCount(): number {
    return this.ids.length
  }

  has(id: PointId): boolean {
    return this.offsets.has(id)
  }

  /**
   * Stores a point, replacing an existing one with the same id. `vector` must be validated
   * (dimension, finite). The point is searchable on return.
   */
  upsert(id: PointId, vector: Float32Array, payload: Payload | undefined, version: number): void {
    this.attach(id, this.index.add(vector), payload, version)
  }

  /**
   * Stores a batch of points in order, as `upsert` one by one would (a later duplicate id wins).
   * Large batches are linked into the graph on every core (HnswIndex.addBatch); the points become
   * visible all at once when the promise resolves, in one synchronous step that first runs
   * `committing` (the caller's removal of the same ids elsewhere). Vectors must be validated.
   */
  async upsertMany(
    points: readonly { id: PointId; vector: Float32Array; payload: Payload | undefined }[],
    version: number,
    committing?: () => void,
  ): Promise<void> {
    const dim = this.config.dimension
    const vectors = new Float32Array(points.length * dim)
    for (let i = 0; i < points.length; i++) vectors.set(points[i]!.vector, i * dim)
    await this.index.addBatch(vectors, (first) => {
      committing?.()
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!
        this.attach(p.id, first + i, p.payload, version)
      }
    })
  }

  /** Makes stored `offset` the point `id` (its old offset, if any, is deleted). */
  private attach(id: PointId, offset: number, payload: Payload | undefined, version: number): void {
    const old = this.offsets.get(id)
    this.changed(id)
    if (old !== undefined) {
      this.index.markDeleted(old)
      this.setLive(old, false)
      for (const fi of this.fieldIndexes.values()) fi.remove(old)
    }
    this.ids[offset] = id
    this.versions[offset] = version
    this.payloads[offset] = payload
    this.offsets.set(id, offset)
    this.setLive(offset, true)
    for (const fi of this.fieldIndexes.values()) fi.set(offset, payload)
    if (old === undefined) this.idGeneration++
  }

  /** Deletes a point; returns false if it was not there. */
  delete(id: PointId): boolean {
    const offset = this.offsets.get(id)
    if (offset === undefined) return false
    this.changed(id)
    this.index.markDeleted(offset)
    this.setLive(offset, false)
    for (const fi of this.fieldIndexes.values()) fi.remove(offset)
    this.payloads[offset] = undefined
    this.offsets.delete(id)
    this.idGeneration++
    return true
  }

  payload(id: PointId): Payload | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.payloads[offset]
  }

  /** Replaces the payload of a live point (no-op for a missing id). */
  replacePayload(id: PointId, payload: Payload | undefined, version: number): void {
    const offset = this.offsets.get(id)
    if (offset === undefined) return
    this.changed(id)
    this.payloads[offset] = payload
    this.versions[offset] = version
    for (const fi of this.fieldIndexes.values()) fi.set(offset, payload)
  }

  vector(id: PointId): Float32Array | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.index.vector(offset)
  }

  idAt(offset: number): PointId {
    return this.ids[offset]!
  }

  payloadAt(offset: number): Payload | undefined {
    return this.payloads[offset]
  }

  /** Live ids matching `filter` (all live ids when null), in offset order. */
  matchingIds(filter: FilterNode | null, unindexed?: Set<string>): PointId[] {
    const out: PointId[] = []
    if (filter === null) {
      for (const id of this.offsets.keys()) out.push(id)
      return out
    }
    const ex = this.filterExecutor(filter)
    ex.materialize().forEach((o) => {
      out.push(this.ids[o]!)
    })
    if (unindexed) for (const k of ex.unindexed) unindexed.add(k)
    return out
  }

  /** Live points matching `filter` (exact). */
  count(filter: FilterNode | null, unindexed?: Set<string>): number {
    if (filter === null) return this.offsets.size
    const ex = this.filterExecutor(filter)
    const n = ex.materialize().count()
    if (unindexed) for (const k of ex.unindexed) unindexed.add(k)
    return n
  }

  /** Offset of a live id. */
  offsetOf(id: PointId): number | undefined {
    return this.offsets.get(id)
  }

  /** Live ids in ascending order (integers, then UUIDs); cached until the id set changes. */
  sortedIds(compare: (a: PointId, b: PointId) => number): readonly PointId[] {
    if (this.sortedCache?.generation !== this.idGeneration) {
      this.sortedCache = { generation: this.idGeneration, ids: [...this.offsets.keys()].sort(compare) }
    }
    return this.sortedCache.ids
  }

  /**
   * Per-segment search planner (docs/query-planner.md). No filter: HNSW (or a flat scan
   * when `exact`). With a filter, the executor estimates its cardinality from the payload indexes:
   * - a filter that needs point-by-point evaluation and matches nearly everything
   *   (>= postFilterThreshold) runs as an oversampled unfiltered HNSW search whose hits are checked
   *   afterwards (falling through when too few pass);
   * - otherwise the matching offsets are materialised exactly; below `fullScanThreshold` KiB of
   *   vectors (or with `exact`) they are scanned exactly;
   * - else the graph is traversed with the matches as the only admissible results: with two-hop
   *   expansion over matches when they are fewer than `twoHopThreshold` of the segment, with
   *   non-matching nodes as waypoints otherwise.
   * IVF segments plan as `planIvf` says (docs/ivf.md).
   * With a trained quantizer and neither `exact` nor `quantization.ignore`, traversals and scans
   * (but not the scan of k or fewer matches) compare the query with codes, then rescore
   * (docs/quantization.md).
   */
  search(query: Float32Array, options: SegmentSearchOptions): SegmentSearchResult {
    if (options.filter === null && !options.exact && this.offsets.size > 0 && this.ivf === undefined) {
      // the common case without the planner's machinery (it would choose the same)
      const codes = this.codesSearch(options.k, options.quantization)
      const hits = this.index.search(query, options.k, options.ef, undefined, codes)
      return {
        offsets: hits.offsets,
        distances: hits.distances,
        plan: 'hnsw',
        quantized: codes !== undefined,
      }
    }
    const plan = this.plan(options)
    let step = plan.next()
    while (!step.done) step = plan.next(this.runSync(query, step.value))
    return step.value
  }

  /**
   * `search` with the index work on the core pool's worker threads (the calling thread stays free
   * while they traverse; src/engine/pool.ts); the same plans and results. With `inlineCheap`, index
   * calls cheaper than a thread hop (a graph search with ef <= INLINE_MAX_EF, a scan of at most
   * INLINE_MAX_SCAN floats) run here instead: they block for about as long as the hop would cost.
   */
  async searchAsync(
    query: Float32Array,
    options: SegmentSearchOptions,
    inlineCheap = false,
  ): Promise<SegmentSearchResult> {
    const plan = this.plan(options)
    let step = plan.next()
    while (!step.done) {
      const call = step.value
      step = plan.next(
        inlineCheap && this.isCheap(call) ? this.runSync(query, call) : await this.runAsync(query, call),
      )
    }
    return step.value
  }

  private isCheap(call: IndexCall): boolean {
    if (call.kind === 'knn') return this.ivf !== undefined || call.effort <= INLINE_MAX_EF
    const vectors = call.allow ? call.allow.count() : this.storedCount
    return vectors * this.config.dimension <= INLINE_MAX_SCAN
  }

  private runSync(query: Float32Array, call: IndexCall): SearchHits {
    if (call.kind === 'knn') return this.index.search(query, call.k, call.effort, call.filter, call.codes)
    return this.index.searchExact(query, call.k, call.allow?.toOffsets(), call.codes)
  }

  private async runAsync(query: Float32Array, call: IndexCall): Promise<SearchHits> {
    const [hits] =
      call.kind === 'knn'
        ? await this.index.searchBatch(query, call.k, call.effort, call.filter, call.codes)
        : await this.index.searchBatch(
            query,
            call.k,
            call.k,
            call.allow && { allow: call.allow.words, twoHop: false },
            call.codes,
            true,
          )
    return hits!
  }

  /** The planner: yields the index calls of the chosen plan, receives their hits, returns the result. */
  private *plan(options: SegmentSearchOptions): Generator<IndexCall, SegmentSearchResult, SearchHits> {
    const { k, ef, exact, filter } = options
    const live = this.offsets.size
    if (live === 0) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
    const codes = exact ? undefined : this.codesSearch(k, options.quantization)
    const quantized = codes !== undefined
    if (this.ivf !== undefined) return yield* this.planIvf(this.ivf, options, codes)
    if (filter === null || filter.kind === 'true') {
      if (exact) return { ...(yield { kind: 'scan', k }), plan: 'exact', quantized }
      return { ...(yield { kind: 'knn', k, effort: ef, codes }), plan: 'hnsw', quantized }
    }
    const ex = this.filterExecutor(filter)
    try {
      if (!exact && !ex.fullyIndexed()) {
        const est = ex.estimate()
        if (est.exp >= this.planner.postFilterThreshold * live) {
          const post = yield* this.postFiltered(k, ef, ex, est.exp / live, options.quantization)
          if (post !== undefined) return post
        }
      }
      const allow = ex.materialize()
      const matches = allow.count()
      if (matches === 0) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
      if (matches <= k) {
        // every match is a hit: scoring them on float32 is exact and no dearer than on codes
        return { ...(yield { kind: 'scan', k, allow }), plan: 'exact-filtered', quantized: false }
      }
      const kib = (matches * this.config.dimension * 4) / 1024
      if (exact || kib < this.planner.fullScanThreshold) {
        const hits = yield { kind: 'scan', k, allow, codes }
        return { ...hits, plan: 'exact-filtered', quantized }
      }
      const fraction = matches / live
      const twoHop = fraction < this.planner.twoHopThreshold
      // sparse matches leave the two-hop subgraph thinly connected: widen the beam (up to 4x below 5%)
      const widened = twoHop ? Math.round(ef * Math.min(4, Math.max(1, SPARSE_FRACTION / fraction))) : ef
      const hits = yield { kind: 'knn', k, effort: widened, filter: { allow: allow.words, twoHop }, codes }
      return { ...hits, plan: twoHop ? 'hnsw-two-hop' : 'hnsw-filtered', quantized }
    } finally {
      if (options.unindexed) for (const key of ex.unindexed) options.unindexed.add(key)
    }
  }

  /**
   * The IVF planner: an untrained segment (or `exact`) scans; unfiltered, the `nprobe` nearest lists
   * are scanned; filtered, the matches are materialised exactly and, like HNSW's planner, scanned
   * when at most k or below `fullScanThreshold` KiB, else the lists are probed with the matches as
   * the only admissible results. A filter matching a fraction f of the segment probes
   * nprobe x min(4, 1 / sqrt(f)) lists (distances are computed for matches only, so this computes
   * about sqrt(f) x the distances of an unfiltered search), and at least enough lists to expect 2k
   * matches; never more than nlist.
   */
  private *planIvf(
    ivf: IvfIndex,
    options: SegmentSearchOptions,
    codes: CodesSearch | undefined,
  ): Generator<IndexCall, SegmentSearchResult, SearchHits> {
    const { k, exact, filter } = options
    const quantized = codes !== undefined
    const scanOnly = exact || !ivf.trained
    const nprobe = Math.max(1, options.nprobe ?? ivf.defaultNprobe)
    if (filter === null || filter.kind === 'true') {
      if (scanOnly) return { ...(yield { kind: 'scan', k, codes }), plan: 'exact', quantized }
      return { ...(yield { kind: 'knn', k, effort: nprobe, codes }), plan: 'ivf', quantized }
    }
    const ex = this.filterExecutor(filter)
    try {
      const allow = ex.materialize()
      const matches = allow.count()
      if (matches === 0) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
      if (matches <= k) {
        return { ...(yield { kind: 'scan', k, allow }), plan: 'exact-filtered', quantized: false }
      }
      const kib = (matches * this.config.dimension * 4) / 1024
      if (scanOnly || kib < this.planner.fullScanThreshold) {
        return { ...(yield { kind: 'scan', k, allow, codes }), plan: 'exact-filtered', quantized }
      }
      // the k nearest matches lie about as far as the k / fraction nearest points: probe more lists
      const nlist = ivf.nlist
      const fraction = matches / this.offsets.size
      const wider = Math.ceil(nprobe * Math.min(4, 1 / Math.sqrt(fraction)))
      const widened = Math.min(nlist, Math.max(wider, Math.ceil((2 * k * nlist) / matches)))
      const hits = yield {
        kind: 'knn',
        k,
        effort: widened,
        filter: { allow: allow.words, twoHop: false },
        codes,
      }
      return { ...hits, plan: 'ivf-filtered', quantized }
    } finally {
      if (options.unindexed) for (const key of ex.unindexed) options.unindexed.add(key)
    }
  }

  /**
   * How a search for `k` hits uses the codes: undefined (float32) when the quantizer is untrained or
   * absent or `params.ignore`; else rescoring (default) of ceil(k x oversampling) candidates, capped
   * at the live points.
   */
  private codesSearch(k: number, params: QuantizationSearchParams | undefined): CodesSearch | undefined {
    if (this.quantizer?.trained !== true || params?.ignore === true) return undefined
    const rescore = params?.rescore ?? true
    if (!rescore) return { rescore, candidates: k }
    const wanted = Math.ceil(k * (params?.oversampling ?? 1))
    return { rescore, candidates: Math.max(k, Math.min(wanted, this.offsets.size)) }
  }

  /** Unfiltered search for enough extra hits that k of them likely pass; undefined when fewer than k pass. */
  private *postFiltered(
    k: number,
    ef: number,
    ex: FilterExecutor,
    fraction: number,
    quantization: QuantizationSearchParams | undefined,
  ): Generator<IndexCall, SegmentSearchResult | undefined, SearchHits> {
    const wanted = Math.min(this.offsets.size, Math.ceil((k / Math.max(fraction, 0.01)) * 1.2) + 4)
    const codes = this.codesSearch(wanted, quantization)
    const hits = yield { kind: 'knn', k: wanted, effort: Math.max(ef, wanted), codes }
    const check = ex.checker()
    const offsets: number[] = []
    const distances: number[] = []
    for (let i = 0; i < hits.offsets.length && offsets.length < k; i++) {
      const o = hits.offsets[i]!
      if (!check(o)) continue
      offsets.push(o)
      distances.push(hits.distances[i]!)
    }
    for (const key of ex.scannedKeys()) ex.unindexed.add(key)
    if (offsets.length < k) return undefined
    return {
      offsets: Uint32Array.from(offsets),
      distances: Float32Array.from(distances),
      plan: 'hnsw-postfiltered',
      quantized: codes !== undefined,
    }
  }
}

/**
 * One index call of a search plan: an index search (`effort`: HNSW's ef or IVF's nprobe), or a full
 * scan (of `allow`'s offsets only).
 */
type IndexCall =
  | { kind: 'knn'; k: number; effort: number; filter?: SearchFilter; codes: CodesSearch | undefined }
  | { kind: 'scan'; k: number; allow?: Bitset; codes?: CodesSearch | undefined }

const EMPTY_HITS: SearchHits = Object.freeze({ offsets: new Uint32Array(), distances: new Float32Array() })

/** Defaults measured with bench/filtered.mjs on glove-100-cosine (BENCHMARKS.md). */
export const DEFAULT_PLANNER: PlannerConfig = Object.freeze({
  fullScanThreshold: 2000,
  twoHopThreshold: 0.6,
  postFilterThreshold: 0.9,
})
