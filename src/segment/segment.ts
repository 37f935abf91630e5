// One segment (Qdrant's unit of storage): id tracker (point id <-> dense offset), payloads, versions,
// the live bitset and the payload indexes, and the point's vectors by name: each dense vector has its
// own index (HNSW graph or IVF lists, in one WebAssembly core) and quantizer, a multivector its rows,
// a sparse vector an inverted index. Every dense index holds one offset per stored point (a
// placeholder where the point lacks that vector), so one offset names a point in all of them. The
// per-segment search planner (HNSW, post-filtered HNSW, filtered HNSW with waypoints or two-hop
// expansion, IVF probes, or an exact scan over the matching offsets) runs per dense vector, on
// quantized codes when that vector's quantizer is trained.
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
import type { IndexFileSource, RowFile, VectorIndex } from '../index/types.js'
import { createQuantizer, type Quantizer, restoreQuantizer } from '../quantization/index.js'
import { SparseIndex, type SparseVector } from '../sparse/sparse-index.js'
import { bodyParts, concatBytes, type FileBody, type LinkedFile } from '../storage/files.js'
import type {
  CollectionConfig,
  Distance,
  Payload,
  PayloadSchemaParams,
  PointId,
  QuantizationConfig,
  QuantizationSearchParams,
  VectorConfig,
} from '../types.js'
import { MultiVectorStore } from './multivector.js'
import { PayloadFile, PayloadStore } from './payload-store.js'

/** points.msgpack: 1 = liveness from the (single) index's deleted bits; 2 = an explicit live bitset. */
const POINTS_FORMAT_VERSION = 2
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

/**
 * Files of a persisted segment by file name, each as bytes: `points.msgpack`, `payload-index.msgpack`
 * (absent in directories written before payload indexes: none), and per vector (`vectorFiles`): the
 * unnamed vector's `index.bin` and, once trained, `quantization.bin`; dense vector i (config order)
 * `vector-<i>.index.bin` / `vector-<i>.quantization.bin`; a multivector's rows
 * `vector-<i>.multi.bin` (`multi.bin` for the unnamed one); sparse vector j `sparse-<j>.bin`.
 * Names are derived from positions, never from user strings.
 */
export type SegmentFiles = Readonly<Record<string, FileBody>>

/**
 * The file names of dense vector `name` at config position `i` (the unnamed vector keeps format 1's
 * names); `vectors` is the vector file of a vector kept on disk (src/index/vector-file.ts).
 */
export function vectorFiles(
  name: string,
  i: number,
): { index: string; quantization: string; multi: string; vectors: string } {
  if (name === '')
    return {
      index: 'index.bin',
      quantization: 'quantization.bin',
      multi: 'multi.bin',
      vectors: 'vectors.bin',
    }
  return {
    index: `vector-${i}.index.bin`,
    quantization: `vector-${i}.quantization.bin`,
    multi: `vector-${i}.multi.bin`,
    vectors: `vector-${i}.vectors.bin`,
  }
}

const VECTOR_FILE_RE = /^(vector-[0-9]+\.)?vectors\.bin$/

/** The codes an `on_disk` HNSW vector without quantization traverses its graph on (1 byte per dimension). */
const ON_DISK_CODES: QuantizationConfig = Object.freeze({ scalar: Object.freeze({ type: 'int8' as const }) })

/**
 * The quantized codes a segment keeps for dense vector `config`: its `quantization`, or, for an
 * `on_disk` HNSW vector without one, scalar int8 codes of its own (the graph is traversed on them
 * once the vectors are on disk; every search of them rescores its whole candidate list from disk).
 */
export function codesConfig(config: VectorConfig): QuantizationConfig | undefined {
  if (config.quantization !== undefined) return config.quantization
  const hnsw = config.index === undefined || config.index.type === 'hnsw'
  if (config.onDisk === true && hnsw && config.multivector === undefined && config.hnsw.m > 0)
    return ON_DISK_CODES
  return undefined
}

/** A segment's vector file, open for reads (`loadSegments`), with its manifest entry as a linked body. */
export interface DiskFile {
  readonly file: RowFile
  readonly body: LinkedFile
  /** How errors name it (its path under the data directory); default its file name. */
  readonly shown?: string
}

/** Keeps a vector file open until its index is collected, when nothing closed it before (a replaced segment). */
const diskFiles = new FinalizationRegistry<RowFile>((file) => file.close())

export function sparseFile(j: number): string {
  return `sparse-${j}.bin`
}

/** A point's vectors as a segment stores them (validated: dimensions, finite, Cosine not yet normalised). */
export interface PointVectors {
  /** Dense vectors by name; a multivector's rows concatenated (rows x dimension). */
  readonly dense: ReadonlyMap<string, Float32Array>
  readonly sparse: ReadonlyMap<string, SparseVector>
}

export const NO_VECTORS: PointVectors = Object.freeze({ dense: new Map(), sparse: new Map() })

/** One dense (single-row) vector of a segment: its index, IVF view and quantizer. */
interface DenseData {
  readonly kind: 'dense'
  readonly name: string
  /** Replaced by `adoptConfig` with an equivalent one (same index data). */
  config: VectorConfig
  readonly index: VectorIndex
  /** The same object as `index` when this vector uses IVF. */
  readonly ivf: IvfIndex | undefined
  /** Present when the vector has `quantization`; searches use it once `trained`. */
  readonly quantizer: Quantizer | undefined
  readonly files: ReturnType<typeof vectorFiles>
  /** The vector file when `index` keeps its vectors on disk (`on_disk`). */
  readonly vectorsFile: LinkedFile | undefined
}

interface MultiData {
  readonly kind: 'multi'
  readonly name: string
  config: VectorConfig
  readonly store: MultiVectorStore
  readonly files: ReturnType<typeof vectorFiles>
}

interface SparseData {
  readonly name: string
  readonly index: SparseIndex
  readonly file: string
}

interface PayloadIndexFile {
  v: number
  fields: { field: string; params: PayloadSchemaParams; data: Uint8Array }[]
}

interface PointsFile {
  v: number
  ids: PointId[]
  versions: number[]
  /** Empty in v3 (the payloads are in `payloads.bin`). */
  payloads: (Payload | null)[]
  /** v2, v3: live offsets, bit o of word o >>> 5 (little-endian u32 words). */
  live?: Uint8Array
}

/** points.msgpack with the payloads in the payload file (`on_disk_payload`); v2 keeps them inline. */
const POINTS_FORMAT_PAYLOAD_FILE = 3
/** The payload file's name in a segment directory (src/segment/payload-store.ts). */
const PAYLOAD_FILE = 'payloads.bin'

/** A placeholder id of an offset that never held a point (a batch that failed half-way). */
const NO_ID = -1

export class Segment {
  /**
   * The config this segment's index data was built with; after a collection's config change, the
   * old one until the optimizers rebuild the segment (`adoptConfig` when no rebuild is needed).
   */
  private builtConfig: CollectionConfig
  /** Dense single-row vectors by name (config order). */
  private readonly dense = new Map<string, DenseData>()
  /** Multivectors by name. */
  private readonly multi = new Map<string, MultiData>()
  /** Sparse vectors by name. */
  private readonly sparse = new Map<string, SparseData>()
  /** offset -> point id (deleted offsets keep their old id) */
  private readonly ids: PointId[]
  /** offset -> WAL sequence number of the write that stored it */
  private readonly versions: number[]
  private readonly payloads: PayloadStore
  /** The payload file while the payloads are on disk (`on_disk_payload`). */
  private payloadsFile: DiskFile | undefined
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
  /** `searchAsync` calls running (they may read its files across awaits). */
  private asyncSearches = 0
  /** `retire` ran: close once `asyncSearches` is 0. */
  private retired = false
  /** Ids changed since `trackChanges()` (an optimizer copying this segment replays them). */
  private tracked: Set<PointId> | undefined

  private constructor(
    config: CollectionConfig,
    ids: PointId[],
    versions: number[],
    payloads: (Payload | undefined)[],
    live: Uint32Array,
  ) {
    this.builtConfig = config
    this.ids = ids
    this.versions = versions
    this.payloads = new PayloadStore(payloads)
    this.planner = { ...DEFAULT_PLANNER, fullScanThreshold: config.hnsw.fullScanThreshold }
    this.liveWords = new Uint32Array(Math.max(32, (ids.length + 31) >>> 5))
    this.liveWords.set(live.subarray(0, Math.min(live.length, this.liveWords.length)))
    for (let o = 0; o < ids.length; o++) {
      if ((this.liveWords[o >>> 5]! >>> (o & 31)) & 1) this.offsets.set(ids[o]!, o)
    }
  }

  get config(): CollectionConfig {
    return this.builtConfig
  }

  /**
   * Takes `config` as this segment's own: it must have the same vectors and need no new index data
   * (reconfigure.ts `segmentNeedsRebuild` false); search-time settings (`ef`, thresholds, `onDisk`,
   * sparse modifiers) come from it from now on.
   */
  adoptConfig(config: CollectionConfig): void {
    for (const d of this.dense.values()) d.config = config.vectors.get(d.name)!
    for (const d of this.multi.values()) d.config = config.vectors.get(d.name)!
    this.builtConfig = config
    this.planner = { ...this.planner, fullScanThreshold: config.hnsw.fullScanThreshold }
  }

  static create(config: CollectionConfig): Segment {
    const segment = new Segment(config, [], [], [], new Uint32Array(0))
    let i = 0
    for (const [name, vc] of config.vectors) {
      const files = vectorFiles(name, i++)
      if (vc.multivector !== undefined) {
        segment.multi.set(name, {
          kind: 'multi',
          name,
          config: vc,
          store: MultiVectorStore.create(vc),
          files,
        })
        continue
      }
      const ivf = Segment.ivfParams(vc)
      const index: VectorIndex =
        ivf !== undefined ? IvfIndex.create(ivf) : HnswIndex.create(Segment.indexParams(vc))
      segment.dense.set(name, Segment.denseData(name, vc, index, Segment.newQuantizer(vc), files))
    }
    let j = 0
    for (const name of config.sparseVectors.keys()) {
      segment.sparse.set(name, { name, index: SparseIndex.create(), file: sparseFile(j++) })
    }
    return segment
  }

  private static denseData(
    name: string,
    config: VectorConfig,
    index: VectorIndex,
    quantizer: Quantizer | undefined,
    files: ReturnType<typeof vectorFiles>,
    vectorsFile?: LinkedFile,
  ): DenseData {
    return {
      kind: 'dense',
      name,
      config,
      index,
      ivf: index instanceof IvfIndex ? index : undefined,
      quantizer,
      files,
      vectorsFile,
    }
  }

  /** IvfIndex parameters when the vector uses IVF (null settings = the index's automatic ones). */
  private static ivfParams(config: VectorConfig): IvfParams | undefined {
    const c = config.index
    if (c?.type !== 'ivf') return undefined
    return {
      dimension: config.dimension,
      metric: indexMetric(config.metric),
      ...(c.nlist === null ? {} : { nlist: c.nlist }),
      ...(c.nprobe === null ? {} : { nprobe: c.nprobe }),
    }
  }

  private static newQuantizer(config: VectorConfig): Quantizer | undefined {
    const q = codesConfig(config)
    return q === undefined ? undefined : createQuantizer(q, config.dimension, indexMetric(config.metric))
  }

  private static indexParams(config: VectorConfig) {
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
    else if (offset >>> 5 < this.liveWords.length) this.liveWords[offset >>> 5]! &= ~(1 << (offset & 31))
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

  /**
   * True for the name of a file a segment keeps open and reads on demand (a vector file,
   * `vectors.bin` / `vector-<i>.vectors.bin`, or the payload file `payloads.bin`): `load` takes it open.
   */
  static isDiskFile(name: string): boolean {
    return VECTOR_FILE_RE.test(name) || name === PAYLOAD_FILE
  }

  /** True when a sealed segment of this config keeps its payloads in a payload file (`on_disk_payload`). */
  private get wantsPayloadFile(): boolean {
    return this.builtConfig.params?.onDiskPayload === true && this.ids.length > 0
  }

  /**
   * True when dense vector `d` would keep its vectors on disk in a sealed segment: `on_disk` set,
   * an HNSW graph, a trained quantizer (the graph is traversed on its codes) and at least one point.
   */
  private static diskEligible(d: DenseData, stored: number): boolean {
    return (
      d.config.onDisk === true &&
      d.index instanceof HnswIndex &&
      d.config.hnsw.m > 0 &&
      d.quantizer?.trained === true &&
      stored > 0
    )
  }

  /** Bytes of this segment's vector files' rows (vectors kept on disk, not in memory). */
  get onDiskVectorBytes(): number {
    let n = 0
    for (const d of this.dense.values())
      if (d.vectorsFile !== undefined) n += this.ids.length * (d.index as HnswIndex).diskRowBytes
    return n
  }

  /**
   * True when a sealed segment's next persist (`toFiles({ sealed: true })`, then `moveToDisk`) moves
   * data between memory and disk: vectors still in memory that `on_disk` puts on disk, payloads
   * that `on_disk_payload` puts on disk (or, turned off, back in memory), or payload changes made
   * since the payload file was written.
   */
  get movesToDisk(): boolean {
    for (const d of this.dense.values())
      if (d.vectorsFile === undefined && Segment.diskEligible(d, this.ids.length)) return true
    const wanted = this.wantsPayloadFile
    const file = this.payloadsFile !== undefined
    return wanted !== file || (file && this.payloads.changed > 0)
  }

  /**
   * Moves the float32 vectors of every eligible dense vector (see `movesVectorsToDisk`) out of
   * memory, onto the vector files a persist just wrote from `toFiles({ sealed: true })`:
   * `open(name)` opens the written file. Each such index is rebuilt in a fresh core (graph,
   * deletions and codes copied; the old core's memory is freed once nothing uses it). Content,
   * answers and `mutations` stay the same. Call it before the segment next changes.
   */
  async moveToDisk(open: (file: string) => DiskFile): Promise<void> {
    this.settlePayloads(open)
    for (const d of [...this.dense.values()]) {
      if (d.vectorsFile !== undefined || !Segment.diskEligible(d, this.ids.length)) continue
      const old = d.index as HnswIndex
      const q = d.quantizer!
      const disk = open(d.files.vectors)
      let index: HnswIndex
      try {
        index = await old.moveVectorsToDisk({ file: disk.file, name: disk.shown ?? d.files.vectors })
      } catch (err) {
        disk.file.close()
        throw err
      }
      diskFiles.register(index, disk.file, index)
      const metric = indexMetric(d.config.metric)
      const bytes = q.serialize(old.coreExports, this.ids.length)
      const quantizer = restoreQuantizer(
        index.coreExports,
        q.config,
        d.config.dimension,
        metric,
        bytes,
        this.ids.length,
      )
      this.dense.set(d.name, Segment.denseData(d.name, d.config, index, quantizer, d.files, disk.body))
      old.releaseThreads() // its memory (the vectors) goes once running searches let go of it
    }
  }

  /**
   * After a persist of this sealed segment: payloads `on_disk_payload` wants on disk are served from
   * the payload file just written (`open`), and payloads it no longer wants there come back into memory.
   */
  private settlePayloads(open: (file: string) => DiskFile): void {
    if (!this.wantsPayloadFile) {
      if (this.payloadsFile === undefined) return
      this.payloads.toMemory()
      diskFiles.unregister(this)
      this.payloadsFile = undefined
      return
    }
    if (this.payloadsFile !== undefined && this.payloads.changed === 0) return
    const disk = open(PAYLOAD_FILE)
    let file: PayloadFile
    try {
      file = PayloadFile.open(disk.file, disk.shown ?? PAYLOAD_FILE, this.ids.length)
    } catch (err) {
      disk.file.close()
      throw err
    }
    if (this.payloadsFile !== undefined) diskFiles.unregister(this)
    this.payloads.useFile(file) // closes the previous file
    this.payloadsFile = disk
    diskFiles.register(this, disk.file, this)
  }

  /**
   * Releases what the segment holds outside its objects (it is closed or dropped): the pool
   * threads' instances of its index memories, its vector files and payload file. Idempotent.
   */
  close(): void {
    for (const d of this.dense.values()) {
      if (!(d.index instanceof HnswIndex)) continue
      diskFiles.unregister(d.index)
      d.index.close()
    }
    if (this.payloadsFile !== undefined) diskFiles.unregister(this)
    this.payloads.close()
  }

  /**
   * The pool threads drop their instances of this segment's index memories (it was replaced, while
   * searches may still run on it: they continue on the calling thread); files stay open until the
   * indexes are collected.
   */
  releaseThreads(): void {
    for (const d of this.dense.values()) if (d.index instanceof HnswIndex) d.index.releaseThreads()
  }

  /**
   * Names of `config`'s segment files that `load` restores from an `IndexFileSource` (read in pieces
   * straight into the index's memory): the HNSW index files.
   */
  static streamedFiles(config: CollectionConfig): Set<string> {
    const out = new Set<string>()
    let i = 0
    for (const [name, vc] of config.vectors) {
      const names = vectorFiles(name, i++)
      if (vc.multivector === undefined && Segment.ivfParams(vc) === undefined) out.add(names.index)
    }
    return out
  }

  /**
   * `fromFiles`, with the files `streamedFiles` names restored from `sources` (checksummed as they
   * are read) rather than from whole-file buffers in `bodies`. Throws CORRUPTED like `fromFiles`.
   */
  static async load(
    config: CollectionConfig,
    bodies: SegmentFiles,
    sources: ReadonlyMap<string, IndexFileSource>,
    disk: ReadonlyMap<string, DiskFile> = new Map(),
  ): Promise<Segment> {
    const restored = new Map<string, VectorIndex>()
    const linked = new Map<string, LinkedFile>()
    const unused = new Set(disk.values())
    try {
      let i = 0
      for (const [name, vc] of config.vectors) {
        const names = vectorFiles(name, i++)
        const file = names.index
        const source = sources.get(file) // only for the files streamedFiles names
        if (source === undefined) continue
        const vectors = disk.get(names.vectors)
        try {
          const index = await HnswIndex.restoreFrom(
            Segment.indexParams(vc),
            source,
            vectors && { file: vectors.file, name: vectors.shown ?? names.vectors },
          )
          restored.set(file, index)
          if (vectors !== undefined && index.vectorsOnDisk) {
            unused.delete(vectors)
            linked.set(file, vectors.body)
            diskFiles.register(index, vectors.file, index)
          }
        } catch (err) {
          // name the file: a checksum mismatch is reported against it
          if (err instanceof QuiverError && err.code === 'CORRUPTED')
            throw new QuiverError('CORRUPTED', err.message, { file, ...err.details }, err)
          throw err
        }
      }
      const payloadDisk = disk.get(PAYLOAD_FILE)
      if (payloadDisk !== undefined) unused.delete(payloadDisk)
      try {
        return Segment.fromFiles(config, bodies, restored, linked, payloadDisk)
      } catch (err) {
        payloadDisk?.file.close()
        throw err
      }
    } catch (err) {
      for (const index of restored.values()) if (index instanceof HnswIndex) index.close()
      throw err
    } finally {
      for (const d of unused) d.file.close() // listed, but its index holds its vectors itself
    }
  }

  /**
   * Restores a segment from `toFiles()` output (format 1 or 2), taking the dense indexes named in
   * `restored` as already restored; throws CORRUPTED if the files are missing or disagree.
   */
  static fromFiles(
    config: CollectionConfig,
    bodies: SegmentFiles,
    restored: ReadonlyMap<string, VectorIndex> = new Map(),
    vectorsFiles: ReadonlyMap<string, LinkedFile> = new Map(),
    payloadDisk?: DiskFile,
  ): Segment {
    const files = (name: string): Uint8Array | undefined => {
      const body = bodies[name]
      return body === undefined || body instanceof Uint8Array ? body : concatBytes(bodyParts(body))
    }
    const pointsBytes = files('points.msgpack')
    if (pointsBytes === undefined)
      throw new QuiverError('CORRUPTED', 'segment file points.msgpack is missing')
    let points: PointsFile
    try {
      points = decode(pointsBytes) as PointsFile
    } catch (err) {
      throw new QuiverError('CORRUPTED', 'segment points file does not decode', undefined, err)
    }
    const n = Array.isArray(points?.ids) ? points.ids.length : -1
    if (
      (points?.v !== 1 && points?.v !== POINTS_FORMAT_VERSION && points?.v !== POINTS_FORMAT_PAYLOAD_FILE) ||
      n < 0 ||
      !Array.isArray(points.versions) ||
      points.versions.length !== n ||
      !Array.isArray(points.payloads) ||
      points.payloads.length !== (points.v === POINTS_FORMAT_PAYLOAD_FILE ? 0 : n) ||
      (points.v !== 1 && !(points.live instanceof Uint8Array))
    ) {
      throw new QuiverError('CORRUPTED', 'segment points file has an unknown format or does not match itself')
    }
    const dense = new Map<string, DenseData>()
    const multi = new Map<string, MultiData>()
    let i = 0
    for (const [name, vc] of config.vectors) {
      const names = vectorFiles(name, i++)
      if (vc.multivector !== undefined) {
        const bytes = files(names.multi)
        if (bytes === undefined) throw new QuiverError('CORRUPTED', `segment file ${names.multi} is missing`)
        multi.set(name, {
          kind: 'multi',
          name,
          config: vc,
          store: MultiVectorStore.restore(vc, bytes),
          files: names,
        })
        continue
      }
      const ivf = Segment.ivfParams(vc)
      let index = restored.get(names.index)
      if (index === undefined) {
        const bytes = files(names.index)
        if (bytes === undefined) throw new QuiverError('CORRUPTED', `segment file ${names.index} is missing`)
        index =
          ivf !== undefined ? IvfIndex.restore(ivf, bytes) : HnswIndex.restore(Segment.indexParams(vc), bytes)
      }
      if (index.size !== n)
        throw new QuiverError('CORRUPTED', `segment file ${names.index} does not match points.msgpack`)
      const codes = files(names.quantization)
      // a file without a quantization config cannot be written; an old segment without the file is untrained
      const quantizer =
        codesConfig(vc) !== undefined && codes !== undefined
          ? restoreQuantizer(
              index.coreExports,
              codesConfig(vc)!,
              vc.dimension,
              indexMetric(vc.metric),
              codes,
              index.size,
            )
          : Segment.newQuantizer(vc)
      if (index instanceof HnswIndex && index.vectorsOnDisk && !quantizer?.trained)
        throw new QuiverError(
          'CORRUPTED',
          `segment file ${names.quantization} is missing (the vectors are on disk)`,
        )
      dense.set(name, Segment.denseData(name, vc, index, quantizer, names, vectorsFiles.get(names.index)))
    }
    let live: Uint32Array
    if (points.v === 1) {
      // format 1: one unnamed vector; its index's deleted bits are the dead offsets
      const only = dense.get('')
      if (only === undefined || dense.size !== 1)
        throw new QuiverError('CORRUPTED', 'a format-1 segment needs exactly the unnamed vector')
      live = new Uint32Array((n + 31) >>> 5)
      for (let o = 0; o < n; o++) if (!only.index.isDeleted(o)) live[o >>> 5]! |= 1 << (o & 31)
    } else {
      const bytes = points.live!
      if (bytes.byteLength < ((n + 31) >>> 5) * 4)
        throw new QuiverError('CORRUPTED', 'segment points file: the live bitset is too short')
      const copy = new Uint8Array(bytes.byteLength - (bytes.byteLength % 4))
      copy.set(bytes.subarray(0, copy.byteLength))
      live = new Uint32Array(copy.buffer)
    }
    let payloadFile: PayloadFile | undefined
    if (points.v === POINTS_FORMAT_PAYLOAD_FILE) {
      if (payloadDisk === undefined)
        throw new QuiverError('CORRUPTED', `segment file ${PAYLOAD_FILE} is missing`)
      payloadFile = PayloadFile.open(payloadDisk.file, payloadDisk.shown ?? PAYLOAD_FILE, n)
    } else payloadDisk?.file.close() // listed, but the payloads are inline
    const payloads = payloadFile !== undefined ? new Array(n) : points.payloads.map((p) => p ?? undefined)
    const segment = new Segment(config, points.ids, points.versions, payloads, live)
    if (payloadFile !== undefined) {
      segment.payloads.useFile(payloadFile)
      segment.payloadsFile = payloadDisk
      diskFiles.register(segment, payloadDisk!.file, segment)
    }
    for (const [k, v] of dense) segment.dense.set(k, v)
    for (const [k, v] of multi) segment.multi.set(k, v)
    let j = 0
    for (const name of config.sparseVectors.keys()) {
      const file = sparseFile(j++)
      const bytes = files(file)
      if (bytes === undefined) throw new QuiverError('CORRUPTED', `segment file ${file} is missing`)
      segment.sparse.set(name, { name, index: SparseIndex.restore(bytes), file })
    }
    const indexFile = files('payload-index.msgpack')
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

  /**
   * The segment's state as file contents, taken synchronously: copies, except each dense index's
   * vectors, links and deletions, which are views of its WebAssembly memory (`serializeParts`) that
   * show the segment as it is until it next changes. A caller writes them out before the segment
   * changes again (persist does, on the update chain) or copies them (`bodyCopy`).
   */
  toFiles(options: { sealed?: boolean } = {}): SegmentFiles {
    const words = this.liveWords.subarray(0, (this.ids.length + 31) >>> 5)
    const payloadsApart = options.sealed === true && this.wantsPayloadFile
    const points: PointsFile = {
      v: payloadsApart ? POINTS_FORMAT_PAYLOAD_FILE : POINTS_FORMAT_VERSION,
      ids: this.ids,
      versions: this.versions,
      payloads: payloadsApart ? [] : this.payloads.toArray(),
      live: new Uint8Array(words.buffer.slice(words.byteOffset, words.byteOffset + words.byteLength)),
    }
    const indexFile: PayloadIndexFile = {
      v: PAYLOAD_INDEX_FORMAT_VERSION,
      fields: [...this.fieldIndexes.values()].map((fi) => ({
        field: fi.spec.field,
        params: fi.spec.params,
        data: fi.serialize(),
      })),
    }
    const files: Record<string, FileBody> = {
      'points.msgpack': encode(points),
      'payload-index.msgpack': encode(indexFile),
    }
    if (payloadsApart) {
      // an unchanged payload file is linked; changes since it was written make a new one
      files[PAYLOAD_FILE] =
        this.payloadsFile !== undefined && this.payloads.changed === 0
          ? this.payloadsFile.body
          : this.payloads.fileParts((o) => this.live.has(o))
    }
    for (const d of this.dense.values()) {
      if (d.vectorsFile !== undefined) {
        files[d.files.index] = d.index.serializeParts()
        files[d.files.vectors] = d.vectorsFile // unchanged since written: linked into the new directory
      } else if (options.sealed === true && Segment.diskEligible(d, this.ids.length)) {
        const index = d.index as HnswIndex
        files[d.files.index] = index.serializeParts(true)
        // a float16 vector's rows take half the bytes on disk (its values are float16 already)
        files[d.files.vectors] = index.vectorFileParts(
          d.config.datatype === 'float16' ? 'float16' : 'float32',
        )
      } else files[d.files.index] = d.index.serializeParts()
      const q = d.quantizer
      if (q?.trained) files[d.files.quantization] = q.serialize(d.index.coreExports, this.ids.length)
    }
    for (const m of this.multi.values()) files[m.files.multi] = m.store.serialize()
    for (const sp of this.sparse.values()) files[sp.file] = sp.index.serialize()
    return files
  }

  /** The index of the unnamed (or first) dense vector, for diagnostics and tests. */
  get index(): VectorIndex {
    const d = this.dense.get('') ?? this.dense.values().next().value
    if (d === undefined) throw new QuiverError('INTERNAL', 'this segment has no dense vector index')
    return d.index
  }

  /** The index of dense vector `name` (tests and diagnostics). */
  indexOf(name: string): VectorIndex | undefined {
    return this.dense.get(name)?.index
  }

  /** True once every quantizer of this segment is trained (searches then run on codes); false without any. */
  get quantized(): boolean {
    let any = false
    for (const d of this.dense.values()) {
      if (d.quantizer === undefined) continue
      if (!d.quantizer.trained) return false
      any = true
    }
    return any
  }

  /** Bytes of quantized codes held (bytes per vector x stored points, summed over vectors). */
  get quantizationBytes(): number {
    let n = 0
    for (const d of this.dense.values()) {
      const q = d.quantizer
      if (q?.trained === true && d.config.quantization !== undefined) n += q.bytesPerVector * this.ids.length
    }
    return n
  }

  /**
   * Trains each quantizer on its stored vectors once they number at least its `minTrainingVectors`
   * (from then on every added vector is encoded as it is stored). Call it after a batch of upserts,
   * not per point. Returns true when this call trained one.
   */
  trainQuantizer(): boolean {
    let trained = false
    for (const d of this.dense.values()) {
      const q = d.quantizer
      if (q === undefined || q.trained || this.ids.length < q.minTrainingVectors) continue
      // learn from the points holding this vector only: placeholders are zero rows
      const present: number[] = []
      for (let o = 0; o < this.ids.length; o++) if (!d.index.isDeleted(o)) present.push(o)
      q.train(d.index.coreExports, this.ids.length, Uint32Array.from(present))
      if (!q.trained) continue
      this.mutationCount++
      trained = true
    }
    return trained
  }

  /**
   * Live points holding dense vector `d`: all live points for the unnamed vector (required where it
   * exists), else those whose offset is not a placeholder in `d`'s index.
   */
  private presentCount(d: DenseData): number {
    if (this.config.vectors.size === 1 && this.config.sparseVectors.size === 0) return this.offsets.size
    let n = 0
    for (const o of this.offsets.values()) if (!d.index.isDeleted(o)) n++
    return n
  }

  /** IVF lists in use by the first IVF vector (0 while untrained); undefined without IVF. */
  get ivfLists(): number | undefined {
    for (const d of this.dense.values()) if (d.ivf !== undefined) return d.ivf.nlist
    return undefined
  }

  /**
   * IVF vectors: trains the lists (IvfIndex.train) once the segment holds the index's
   * `minTrainingVectors` live vectors; with an automatic nlist (config null) retrains whenever the
   * live count calls for at least twice the lists in use (defaultNlist), so a growing segment keeps
   * cells of a useful size. Call it after a batch of upserts, not per point. Deterministic (a WAL
   * replay trains at the same points). Returns true when this call (re)trained. No-op for HNSW.
   */
  trainIndex(): boolean {
    let trained = false
    for (const d of this.dense.values()) {
      const ivf = d.ivf
      if (ivf === undefined) continue
      const live = this.presentCount(d)
      if (ivf.trained) {
        if (ivf.params.nlist !== undefined || defaultNlist(live) < 2 * ivf.nlist) continue
      } else if (live < ivf.minTrainingVectors) continue
      if (!ivf.train()) continue
      this.mutationCount++
      trained = true
    }
    return trained
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

  /** WAL seq of the write that stored offset `offset`. */
  versionAt(offset: number): number {
    return this.versions[offset] ?? 0
  }

  /** Specs of the payload indexes, so a new segment can carry the same ones. */
  fieldIndexSpecs(): FieldIndexSpec[] {
    return [...this.fieldIndexes.values()].map((fi) => fi.spec)
  }

  /** Preallocates room for `n` stored points (a rebuild that knows its size grows memory once). */
  reserve(n: number): void {
    for (const d of this.dense.values()) d.index.reserve(n)
  }

  /** Builds (or rebuilds) the payload index `spec` over the live points. */
  createFieldIndex(spec: FieldIndexSpec): void {
    this.mutationCount++
    const fi = createFieldIndex(spec)
    const live = this.live
    this.payloads.forEach((o, p) => {
      if (live.has(o)) fi.set(o, p)
    })
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

  /**
   * The payload at `o` for filter evaluation. With payloads on disk, those of the sampled offsets
   * (which the planner reads for every filtered query with an unindexed condition) are kept until
   * the segment changes; others are read from the file.
   */
  private payloadForFilter(o: number): Payload | undefined {
    if (this.payloads.onDisk === undefined) return this.payloads.get(o)
    let c = this.samplePayloads
    if (c?.mutations !== this.mutationCount || c.generation !== this.liveGeneration) {
      c = {
        mutations: this.mutationCount,
        generation: this.liveGeneration,
        set: new Set(this.sample()),
        map: new Map(),
      }
      this.samplePayloads = c
    }
    if (!c.set.has(o)) return this.payloads.get(o)
    if (c.map.has(o)) return c.map.get(o)
    const p = this.payloads.get(o)
    c.map.set(o, p)
    return p
  }
  private samplePayloads:
    | { mutations: number; generation: number; set: Set<number>; map: Map<number, Payload | undefined> }
    | undefined

  /** A filter executor over this segment's current state (use it before the next write). */
  filterExecutor(filter: FilterNode): FilterExecutor {
    const target: FilterTarget = {
      size: this.ids.length,
      live: this.live,
      liveCount: this.offsets.size,
      indexFor: (key) => this.fieldIndexes.get(key),
      textIndexes: this.textIndexes,
      payloadAt: (o) => this.payloadForFilter(o),
      idAt: (o) => this.ids[o]!,
      offsetOf: (id) => this.offsets.get(id),
      sample: () => this.sample(),
      hasVector: (name, o) => this.hasVectorAt(name, o),
    }
    return new FilterExecutor(filter, target)
  }

  /** Live points. */
  get pointCount(): number {
    return this.offsets.size
  }

  /** Most offsets this segment can hold (its smallest dense index's bound). */
  get capacity(): number {
    let max = MAX_OFFSETS
    for (const d of this.dense.values()) max = Math.min(max, d.index.maxSize)
    return max
  }

  /** Offsets this segment can still take (each upsert takes one, replacements included). */
  get freeSlots(): number {
    return this.capacity - this.ids.length
  }

  /** Estimated resident bytes: the indexes' WebAssembly memory, multivector rows, sparse postings, payloads (JSON length x 2). */
  get memoryBytes(): number {
    // payloads on disk: their record tables and the changes not yet written
    const file = this.payloads.onDisk
    let n = file === undefined ? this.payloadBytes : file.memoryBytes + this.payloads.changed * 64
    for (const d of this.dense.values()) n += d.index.memoryBytes
    for (const m of this.multi.values()) n += m.store.memoryBytes
    for (const sp of this.sparse.values()) n += sp.index.memoryBytes
    return n
  }

  /**
   * Estimated bytes of the live points' stored vectors (strict mode's vector storage size):
   * dense vectors at their datatype's width, multivector rows as held, sparse entries at 8 bytes.
   */
  get vectorBytes(): number {
    let n = 0
    for (const d of this.dense.values()) {
      const width = d.config.datatype === 'uint8' ? 1 : d.config.datatype === 'float16' ? 2 : 4
      n += this.offsets.size * d.config.dimension * width
    }
    for (const m of this.multi.values()) n += m.store.memoryBytes
    // a u32 index and an f32 value per entry
    for (const sp of this.sparse.values()) n += sp.index.entryCount * 8
    return n
  }

  /** Payload bytes estimated from the sample's JSON length (UTF-16, so x 2); cached per id set. */
  get payloadBytes(): number {
    if (this.payloadSizeCache?.mutations === this.mutationCount) return this.payloadSizeCache.bytes
    const sample = this.sample()
    let chars = 0
    for (const o of sample) {
      const p = this.payloads.get(o)
      if (p !== undefined) chars += JSON.stringify(p).length
    }
    const bytes = sample.length === 0 ? 0 : Math.round((chars * 2 * this.offsets.size) / sample.length)
    this.payloadSizeCache = { mutations: this.mutationCount, bytes }
    return bytes
  }
  private payloadSizeCache: { mutations: number; bytes: number } | undefined

  /** Offsets stored, deleted ones included. */
  get storedCount(): number {
    return this.ids.length
  }

  has(id: PointId): boolean {
    return this.offsets.has(id)
  }

  /**
   * Stores a point, replacing an existing one with the same id. `vectors` must be validated
   * (names of this collection, dimensions, finite). The point is searchable on return.
   */
  upsert(id: PointId, vectors: PointVectors, payload: Payload | undefined, version: number): void {
    const offset = this.ids.length
    try {
      for (const d of this.dense.values()) {
        const v = vectors.dense.get(d.name)
        if (v === undefined) d.index.addPlaceholder()
        else d.index.add(v)
      }
    } catch (err) {
      this.realign()
      throw err
    }
    this.attach(id, offset, vectors, payload, version)
  }

  /**
   * Stores a batch of points in order, as `upsert` one by one would (a later duplicate id wins).
   * Large batches of a dense vector every point has are linked into the graph on every core
   * (HnswIndex.addBatch); the points become visible all at once when the promise resolves, in one
   * synchronous step that first runs `committing` (the caller's removal of the same ids elsewhere).
   * Vectors must be validated.
   */
  async upsertMany(
    points: readonly { id: PointId; vectors: PointVectors; payload: Payload | undefined }[],
    version: number,
    committing?: () => void,
  ): Promise<void> {
    const from = this.ids.length
    const commit = () => {
      committing?.()
      for (let i = 0; i < points.length; i++) {
        const p = points[i]!
        this.attach(p.id, from + i, p.vectors, p.payload, version)
      }
    }
    const dense = [...this.dense.values()]
    const held: { d: DenseData; first: number }[] = []
    const hold = (d: DenseData, first: number) => {
      for (let i = 0; i < points.length; i++) d.index.markDeleted(first + i)
      held.push({ d, first })
    }
    const commitAll = commit
    const commitHeld = () => {
      for (const { d, first } of held) {
        for (let i = 0; i < points.length; i++)
          if (points[i]!.vectors.dense.has(d.name)) d.index.unmarkDeleted(first + i) // placeholders stay deleted
      }
      commitAll()
    }
    try {
      for (let k = 0; k < dense.length; k++) {
        const d = dense[k]!
        const last = k === dense.length - 1
        const dim = d.config.dimension
        if (points.every((p) => p.vectors.dense.has(d.name))) {
          const vectors = new Float32Array(points.length * dim)
          for (let i = 0; i < points.length; i++) vectors.set(points[i]!.vectors.dense.get(d.name)!, i * dim)
          // the last index commits the batch; an earlier one holds it back as deleted from the moment
          // it is published (synchronously, in addBatch's commit step) until the final commit
          await d.index.addBatch(vectors, last ? commitHeld : (first) => hold(d, first))
        } else {
          const first = d.index.size
          for (const p of points) {
            const v = p.vectors.dense.get(d.name)
            if (v === undefined) d.index.addPlaceholder()
            else {
              const o = d.index.add(v)
              if (!last) d.index.markDeleted(o) // held back until the final commit, as above
            }
          }
          if (last) commitHeld()
          else held.push({ d, first })
        }
      }
    } catch (err) {
      this.realign()
      throw err
    }
    if (dense.length === 0) commitHeld()
  }

  /**
   * After a failed add: pads every dense index with placeholders, and the id arrays with dead
   * offsets, to the longest, so offsets stay aligned (the failed points are not stored).
   */
  private realign(): void {
    let size = this.ids.length
    for (const d of this.dense.values()) size = Math.max(size, d.index.size)
    for (const d of this.dense.values()) {
      for (let o = d.index.size; o < size; o++) d.index.addPlaceholder()
      for (let o = this.ids.length; o < size; o++) d.index.markDeleted(o)
    }
    while (this.ids.length < size) {
      this.ids.push(NO_ID)
      this.versions.push(0)
      this.payloads.push(undefined)
    }
    this.mutationCount++
  }

  /** Makes stored `offset` the point `id` (its old offset, if any, is deleted). */
  private attach(
    id: PointId,
    offset: number,
    vectors: PointVectors,
    payload: Payload | undefined,
    version: number,
  ): void {
    const old = this.offsets.get(id)
    this.changed(id)
    if (old !== undefined) this.kill(old)
    this.ids[offset] = id
    this.versions[offset] = version
    this.payloads.set(offset, payload)
    for (const m of this.multi.values()) m.store.set(offset, vectors.dense.get(m.name))
    for (const sp of this.sparse.values()) {
      const v = vectors.sparse.get(sp.name)
      if (v !== undefined) sp.index.set(offset, v)
    }
    this.offsets.set(id, offset)
    this.setLive(offset, true)
    for (const fi of this.fieldIndexes.values()) fi.set(offset, payload)
    if (old === undefined) this.idGeneration++
  }

  /** Marks a stored offset dead in every index (the id map is the caller's business). */
  private kill(offset: number): void {
    for (const d of this.dense.values()) d.index.markDeleted(offset)
    for (const m of this.multi.values()) m.store.set(offset, undefined)
    for (const sp of this.sparse.values()) sp.index.remove(offset)
    this.setLive(offset, false)
    for (const fi of this.fieldIndexes.values()) fi.remove(offset)
  }

  /** Deletes a point; returns false if it was not there. */
  delete(id: PointId): boolean {
    const offset = this.offsets.get(id)
    if (offset === undefined) return false
    this.changed(id)
    this.kill(offset)
    this.payloads.drop(offset)
    this.offsets.delete(id)
    this.idGeneration++
    return true
  }

  payload(id: PointId): Payload | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.payloads.get(offset)
  }

  /** Replaces the payload of a live point (no-op for a missing id). */
  replacePayload(id: PointId, payload: Payload | undefined, version: number): void {
    const offset = this.offsets.get(id)
    if (offset === undefined) return
    this.changed(id)
    this.payloads.set(offset, payload)
    this.versions[offset] = version
    for (const fi of this.fieldIndexes.values()) fi.set(offset, payload)
  }

  /** True when live (or stored) offset `offset` holds vector `name` (dense, multi or sparse). */
  hasVectorAt(name: string, offset: number): boolean {
    const d = this.dense.get(name)
    if (d !== undefined) return offset < d.index.size && !d.index.isDeleted(offset)
    const m = this.multi.get(name)
    if (m !== undefined) return m.store.has(offset)
    const sp = this.sparse.get(name)
    return sp?.index.has(offset) === true
  }

  /** Dense vector `name` of a live point (a copy; normalised for Cosine; rows concatenated for a multivector). */
  vector(name: string, id: PointId): Float32Array | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.vectorAt(name, offset)
  }

  /** Dense vector `name` stored at `offset`, or undefined when that point lacks it. */
  vectorAt(name: string, offset: number): Float32Array | undefined {
    const d = this.dense.get(name)
    if (d !== undefined) return d.index.isDeleted(offset) ? undefined : d.index.vector(offset)
    return this.multi.get(name)?.store.get(offset)
  }

  /** Sparse vector `name` stored at `offset`, or undefined. */
  sparseAt(name: string, offset: number): SparseVector | undefined {
    return this.sparse.get(name)?.index.get(offset)
  }

  /** Every vector of the point at `offset`, as `upsert` takes them (for copying and updates). */
  vectorsAt(offset: number): PointVectors {
    const dense = new Map<string, Float32Array>()
    const sparse = new Map<string, SparseVector>()
    for (const d of this.dense.values()) {
      if (!d.index.isDeleted(offset)) dense.set(d.name, d.index.vector(offset))
    }
    for (const m of this.multi.values()) {
      const rows = m.store.get(offset)
      if (rows !== undefined) dense.set(m.name, rows)
    }
    for (const sp of this.sparse.values()) {
      const v = sp.index.get(offset)
      if (v !== undefined) sparse.set(sp.name, v)
    }
    return { dense, sparse }
  }

  /** Every vector of a live point, or undefined when the id is not live here. */
  vectors(id: PointId): PointVectors | undefined {
    const offset = this.offsets.get(id)
    return offset === undefined ? undefined : this.vectorsAt(offset)
  }

  /** Sparse index of `name` (document frequencies for idf), or undefined. */
  sparseIndex(name: string): SparseIndex | undefined {
    return this.sparse.get(name)?.index
  }

  /**
   * Top-k of sparse vector `name` by dot product with `query` (each query weight times
   * `weights[i]` when given: idf), only over live offsets (and `filter`'s matches). Scores:
   * higher is better. Offsets sharing no index with the query are not returned (Qdrant's rule).
   */
  searchSparse(
    name: string,
    query: SparseVector,
    k: number,
    filter: FilterNode | null,
    weights: Float32Array | undefined,
    unindexed?: Set<string>,
  ): { offsets: Uint32Array; scores: Float32Array } {
    const sp = this.sparse.get(name)
    if (sp === undefined || this.offsets.size === 0)
      return { offsets: new Uint32Array(), scores: new Float32Array() }
    let allow: Uint32Array = this.live.words
    if (filter !== null && filter.kind !== 'true') {
      const ex = this.filterExecutor(filter)
      allow = ex.materialize().words
      if (unindexed) for (const key of ex.unindexed) unindexed.add(key)
    }
    return sp.index.search(query, k, allow, weights)
  }

  /**
   * Top-k of multivector `name` by max-sim (sum over query rows of the best similarity over the
   * point's rows) among live offsets (and `filter`'s matches), by an exact scan. `distances`
   * follow the dense convention: smaller is better (negated similarity for Cosine / Dot).
   */
  searchMulti(
    name: string,
    query: Float32Array,
    k: number,
    filter: FilterNode | null,
    unindexed?: Set<string>,
  ): SearchHits {
    const m = this.multi.get(name)
    if (m === undefined || this.offsets.size === 0) return EMPTY_HITS
    let allow: Bitset = this.live
    if (filter !== null && filter.kind !== 'true') {
      const ex = this.filterExecutor(filter)
      allow = ex.materialize()
      if (unindexed) for (const key of ex.unindexed) unindexed.add(key)
    }
    return m.store.search(query, k, allow)
  }

  /** Max-sim distance of `query` to the multivector `name` at `offset` (smaller is better), or undefined. */
  multiDistanceAt(name: string, query: Float32Array, offset: number): number | undefined {
    return this.multi.get(name)?.store.distanceAt(query, offset)
  }

  /** The kind of vector `name` in this segment. */
  vectorKind(name: string): 'dense' | 'multi' | 'sparse' | undefined {
    if (this.dense.has(name)) return 'dense'
    if (this.multi.has(name)) return 'multi'
    if (this.sparse.has(name)) return 'sparse'
    return undefined
  }

  idAt(offset: number): PointId {
    return this.ids[offset]!
  }

  payloadAt(offset: number): Payload | undefined {
    return this.payloads.get(offset)
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
  search(name: string, query: Float32Array, options: SegmentSearchOptions): SegmentSearchResult {
    const d = this.dense.get(name)
    if (d === undefined) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
    // hnsw m = 0: no graph, every search of this vector is an exact scan
    if (d.config.hnsw.m === 0 && !options.exact) options = { ...options, exact: true }
    if (options.filter === null && !options.exact && this.offsets.size > 0 && d.ivf === undefined) {
      // the common case without the planner's machinery (it would choose the same)
      const codes = this.codesSearch(d, options.k, options.quantization, options.ef)
      const hits = this.visible(d, d.index.search(query, options.k, options.ef, undefined, codes))
      return {
        offsets: hits.offsets,
        distances: hits.distances,
        plan: 'hnsw',
        quantized: codes !== undefined,
      }
    }
    const plan = this.plan(d, options)
    let step = plan.next()
    while (!step.done) step = plan.next(this.visible(d, this.runSync(d, query, step.value)))
    return step.value
  }

  /**
   * Hits of `d`'s index without offsets this segment has not committed yet (a batch added to a
   * segment with several dense vectors is in the earlier indexes before the last one commits it).
   */
  private visible(d: DenseData, hits: SearchHits): SearchHits {
    if (d.index.size <= this.ids.length) return hits
    const n = this.ids.length
    const keep: number[] = []
    for (let i = 0; i < hits.offsets.length; i++) if (hits.offsets[i]! < n) keep.push(i)
    if (keep.length === hits.offsets.length) return hits
    return {
      offsets: Uint32Array.from(keep, (i) => hits.offsets[i]!),
      distances: Float32Array.from(keep, (i) => hits.distances[i]!),
    }
  }

  /**
   * `search` with the index work on the core pool's worker threads (the calling thread stays free
   * while they traverse; src/engine/pool.ts); the same plans and results. With `inlineCheap`, index
   * calls cheaper than a thread hop (a graph search with ef <= INLINE_MAX_EF, a scan of at most
   * INLINE_MAX_SCAN floats) run here instead: they block for about as long as the hop would cost.
   */
  async searchAsync(
    name: string,
    query: Float32Array,
    options: SegmentSearchOptions,
    inlineCheap = false,
  ): Promise<SegmentSearchResult> {
    const d = this.dense.get(name)
    if (d === undefined) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
    if (d.config.hnsw.m === 0 && !options.exact) options = { ...options, exact: true }
    const plan = this.plan(d, options)
    this.asyncSearches++
    try {
      let step = plan.next()
      while (!step.done) {
        const call = step.value
        const hits =
          inlineCheap && this.isCheap(d, call)
            ? this.runSync(d, query, call)
            : await this.runAsync(d, query, call)
        step = plan.next(this.visible(d, hits))
      }
      return step.value
    } finally {
      if (--this.asyncSearches === 0 && this.retired) this.close()
    }
  }

  /**
   * The segment was replaced (an optimizer swap): its pool cores are released now, its files once
   * the async searches still running on it end (at once when none are): a replaced segment's
   * deleted files must not stay open until a GC that a quiet server may never run.
   */
  retire(): void {
    this.releaseThreads()
    this.retired = true
    if (this.asyncSearches === 0) this.close()
  }

  private isCheap(d: DenseData, call: IndexCall): boolean {
    if (call.kind === 'knn') return d.ivf !== undefined || call.effort <= INLINE_MAX_EF
    const vectors = call.allow ? call.allow.count() : this.storedCount
    return vectors * d.config.dimension <= INLINE_MAX_SCAN
  }

  private runSync(d: DenseData, query: Float32Array, call: IndexCall): SearchHits {
    if (call.kind === 'knn') return d.index.search(query, call.k, call.effort, call.filter, call.codes)
    return d.index.searchExact(query, call.k, call.allow?.toOffsets(), call.codes)
  }

  private async runAsync(d: DenseData, query: Float32Array, call: IndexCall): Promise<SearchHits> {
    const [hits] =
      call.kind === 'knn'
        ? await d.index.searchBatch(query, call.k, call.effort, call.filter, call.codes)
        : await d.index.searchBatch(
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
  private *plan(
    d: DenseData,
    options: SegmentSearchOptions,
  ): Generator<IndexCall, SegmentSearchResult, SearchHits> {
    const { k, ef, exact, filter } = options
    const live = this.offsets.size
    if (live === 0) return { ...EMPTY_HITS, plan: 'empty', quantized: false }
    const codes = exact ? undefined : this.codesSearch(d, k, options.quantization, options.ef)
    const quantized = codes !== undefined
    if (d.ivf !== undefined) return yield* this.planIvf(d, d.ivf, options, codes)
    if (filter === null || filter.kind === 'true') {
      if (exact) return { ...(yield { kind: 'scan', k }), plan: 'exact', quantized }
      return { ...(yield { kind: 'knn', k, effort: ef, codes }), plan: 'hnsw', quantized }
    }
    const ex = this.filterExecutor(filter)
    try {
      if (!exact && !ex.fullyIndexed()) {
        const est = ex.estimate()
        if (est.exp >= this.planner.postFilterThreshold * live) {
          const post = yield* this.postFiltered(d, k, ef, ex, est.exp / live, options.quantization)
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
      const kib = (matches * d.config.dimension * 4) / 1024
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
    d: DenseData,
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
      const kib = (matches * d.config.dimension * 4) / 1024
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
  private codesSearch(
    d: DenseData,
    k: number,
    params: QuantizationSearchParams | undefined,
    ef?: number,
  ): CodesSearch | undefined {
    if (d.quantizer?.trained !== true) return undefined
    if (d.config.quantization === undefined) {
      // codes of on_disk's own: float32 while the vectors are in memory; on disk, a code traversal
      // whose whole candidate list is rescored (what a float32 traversal would rank)
      if (d.vectorsFile === undefined) return undefined
      const wanted = Math.ceil(k * (params?.oversampling ?? 1))
      return {
        rescore: true,
        candidates: Math.max(k, Math.min(Math.max(ef ?? k, wanted), this.offsets.size)),
      }
    }
    if (params?.ignore === true) {
      // vectors on disk: the graph is traversed on codes; "float32 only" rescores every candidate
      if (d.vectorsFile === undefined) return undefined
      return { rescore: true, candidates: Math.max(k, Math.min(ef ?? k, this.offsets.size)) }
    }
    const rescore = params?.rescore ?? true
    if (!rescore) return { rescore, candidates: k }
    const wanted = Math.ceil(k * (params?.oversampling ?? 1))
    return { rescore, candidates: Math.max(k, Math.min(wanted, this.offsets.size)) }
  }

  /** Unfiltered search for enough extra hits that k of them likely pass; undefined when fewer than k pass. */
  private *postFiltered(
    d: DenseData,
    k: number,
    ef: number,
    ex: FilterExecutor,
    fraction: number,
    quantization: QuantizationSearchParams | undefined,
  ): Generator<IndexCall, SegmentSearchResult | undefined, SearchHits> {
    const wanted = Math.min(this.offsets.size, Math.ceil((k / Math.max(fraction, 0.01)) * 1.2) + 4)
    const codes = this.codesSearch(d, wanted, quantization, Math.max(ef, wanted))
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

/** Offsets a segment without a dense index may hold (the id arrays' practical bound). */
const MAX_OFFSETS = 2 ** 31 - 1

/** Defaults measured with bench/filtered.mjs on glove-100-cosine (BENCHMARKS.md). */
export const DEFAULT_PLANNER: PlannerConfig = Object.freeze({
  fullScanThreshold: 2000,
  twoHopThreshold: 0.6,
  postFilterThreshold: 0.9,
})
