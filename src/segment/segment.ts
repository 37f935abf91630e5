// One segment (Qdrant's unit of storage): id tracker (point id <-> dense offset), vectors + HNSW
// graph (in one WebAssembly core), payloads, versions and the deleted bitset, plus the per-segment
// search planner (HNSW, filtered HNSW, or an exact scan over the matching offsets).
import { decode, encode } from '@msgpack/msgpack'
import { QuiverError } from '../errors.js'
import type { PointPredicate } from '../filter/index.js'
import { HnswIndex, type IndexMetric, type SearchHits } from '../index/hnsw.js'
import type { CollectionConfig, Distance, Payload, PointId } from '../types.js'

const POINTS_FORMAT_VERSION = 1

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

/** Which path a segment search took (reported in tests and benchmarks). */
export type SearchPlan = 'hnsw' | 'hnsw-filtered' | 'exact' | 'exact-filtered' | 'empty'

export interface SegmentSearchOptions {
  /** Hits wanted (limit + offset of the request). */
  k: number
  ef: number
  exact: boolean
  /** Only points for which this returns true are results; null = all. */
  predicate: PointPredicate | null
}

export interface SegmentSearchResult extends SearchHits {
  readonly plan: SearchPlan
}

/** Files of a persisted segment, each as bytes. */
export interface SegmentFiles {
  readonly 'index.bin': Uint8Array
  readonly 'points.msgpack': Uint8Array
}

interface PointsFile {
  v: number
  ids: PointId[]
  versions: number[]
  payloads: (Payload | null)[]
}

export class Segment {
  readonly config: CollectionConfig
  readonly index: HnswIndex
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

  private constructor(
    config: CollectionConfig,
    index: HnswIndex,
    ids: PointId[],
    versions: number[],
    payloads: (Payload | undefined)[],
  ) {
    this.config = config
    this.index = index
    this.ids = ids
    this.versions = versions
    this.payloads = payloads
    for (let o = 0; o < ids.length; o++) if (!index.isDeleted(o)) this.offsets.set(ids[o]!, o)
  }

  static create(config: CollectionConfig): Segment {
    const index = HnswIndex.create(Segment.indexParams(config))
    return new Segment(config, index, [], [], [])
  }

  private static indexParams(config: CollectionConfig) {
    return {
      dimension: config.dimension,
      metric: indexMetric(config.metric),
      m: config.hnsw.m,
      efConstruct: config.hnsw.efConstruct,
    }
  }

  /** Restores a segment from `toFiles()` output; throws CORRUPTED if the files disagree. */
  static fromFiles(config: CollectionConfig, files: SegmentFiles): Segment {
    const index = HnswIndex.restore(Segment.indexParams(config), files['index.bin'])
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
    return new Segment(config, index, points.ids, points.versions, payloads)
  }

  /** A consistent copy of the segment's state as file contents (taken synchronously). */
  toFiles(): SegmentFiles {
    const points: PointsFile = {
      v: POINTS_FORMAT_VERSION,
      ids: this.ids,
      versions: this.versions,
      payloads: this.payloads.map((p) => p ?? null),
    }
    return { 'index.bin': this.index.serialize(), 'points.msgpack': encode(points) }
  }

  /** Live points. */
  get pointCount(): number {
    return this.offsets.size
  }

  /** Offsets this segment can still take (each upsert takes one, replacements included). */
  get freeSlots(): number {
    return this.index.maxSize - this.ids.length
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
    const old = this.offsets.get(id)
    const offset = this.index.add(vector)
    if (old !== undefined) this.index.markDeleted(old)
    this.ids[offset] = id
    this.versions[offset] = version
    this.payloads[offset] = payload
    this.offsets.set(id, offset)
    if (old === undefined) this.idGeneration++
  }

  /** Deletes a point; returns false if it was not there. */
  delete(id: PointId): boolean {
    const offset = this.offsets.get(id)
    if (offset === undefined) return false
    this.index.markDeleted(offset)
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
    this.payloads[offset] = payload
    this.versions[offset] = version
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

  /** Live ids for which `predicate` holds (all live ids when null), in offset order. */
  matchingIds(predicate: PointPredicate | null): PointId[] {
    const out: PointId[] = []
    for (const [id, offset] of this.offsets) {
      if (predicate === null || predicate(id, this.payloads[offset])) out.push(id)
    }
    return out
  }

  /** Live ids in ascending order (integers, then UUIDs); cached until the id set changes. */
  sortedIds(compare: (a: PointId, b: PointId) => number): readonly PointId[] {
    if (this.sortedCache?.generation !== this.idGeneration) {
      this.sortedCache = { generation: this.idGeneration, ids: [...this.offsets.keys()].sort(compare) }
    }
    return this.sortedCache.ids
  }

  /**
   * Per-segment search planner. No filter: HNSW (or a flat scan when `exact`). With a filter, the
   * matching offsets are collected first; when their vectors total less than `fullScanThreshold`
   * KiB (or `exact`), they are scanned exactly, else the graph is traversed with the matches as the
   * only admissible results (non-matching nodes remain waypoints).
   */
  search(query: Float32Array, options: SegmentSearchOptions): SegmentSearchResult {
    const { k, ef, exact, predicate } = options
    if (this.offsets.size === 0)
      return { offsets: new Uint32Array(), distances: new Float32Array(), plan: 'empty' }
    if (predicate === null) {
      const hits = exact ? this.index.searchExact(query, k) : this.index.search(query, k, ef)
      return { ...hits, plan: exact ? 'exact' : 'hnsw' }
    }
    const matches: number[] = []
    for (const [id, offset] of this.offsets) if (predicate(id, this.payloads[offset])) matches.push(offset)
    if (matches.length === 0)
      return { offsets: new Uint32Array(), distances: new Float32Array(), plan: 'empty' }
    const allowed = Uint32Array.from(matches)
    const kib = (matches.length * this.config.dimension * 4) / 1024
    if (exact || kib < this.config.hnsw.fullScanThreshold) {
      return { ...this.index.searchExact(query, k, allowed), plan: 'exact-filtered' }
    }
    return { ...this.index.search(query, k, ef, allowed), plan: 'hnsw-filtered' }
  }
}
