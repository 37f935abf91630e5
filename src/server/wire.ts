// Qdrant's REST wire format (snake_case JSON): the request parsers that turn a body into engine
// calls, with errors naming the JSON path, and the mappers that turn engine results into Qdrant shapes.
// Shapes follow Qdrant's docs/redoc/master/openapi.json and @qdrant/js-client-rest 1.18.
import {
  checkIvfTrainable,
  checkSelectorKey,
  DEFAULT_OPTIMIZERS,
  parseIvfParams,
} from '../collection/validate.js'
import { describeValue, type ErrorCode, QuiverError } from '../errors.js'
import { parseDateTime } from '../filter/index.js'
import { parsePointId } from '../point-id.js'
import { parseQuantizationConfig, parseQuantizationSearchParams } from '../quantization/config.js'
import type {
  CollectionConfig,
  CollectionInfo,
  ContextPair,
  CountOptions,
  CreateCollectionOptions,
  Distance,
  Filter,
  FormulaQuery,
  GetOptions,
  HnswConfig,
  JsonValue,
  MmrOptions,
  OptimizersConfig,
  OrderBy,
  Payload,
  PayloadFieldSchema,
  PayloadIndexInfo,
  PayloadSchemaParams,
  PayloadSchemaType,
  PointId,
  PointRecord,
  PointSelector,
  PointStruct,
  Prefetch,
  QuantizationConfig,
  Query,
  QueryParams,
  QueryRequest,
  RecommendStrategy,
  ScoredPoint,
  ScrollOptions,
  ScrollResult,
  SearchOptions,
  SearchRequest,
  SparseVectorInput,
  SparseVectorOptions,
  UpdateOperation,
  UpdateResult,
  VectorConfig,
  VectorDatatype,
  VectorInput,
  VectorOptions,
  VectorOutput,
  VectorStruct,
  WithPayload,
  WithVector,
} from '../types.js'

// ---- Response shapes ----

/** Qdrant's success envelope. `time`: seconds spent on the request. */
export interface WireOk<T> {
  result: T
  status: 'ok'
  time: number
}

/** Qdrant's `UpdateResult`. Quiver always answers `completed`: the write is durable and visible. */
export interface WireUpdateResult {
  operation_id: number
  status: 'acknowledged' | 'completed' | 'wait_timeout'
}

/** Qdrant's `Record`. `payload` / `vector` are absent when not requested. */
export interface WireRecord {
  id: PointId
  payload?: Payload
  vector?: VectorOutput
  /** With `order_by`: the value of the order-by field this entry is at (datetimes as epoch microseconds). */
  order_value?: number
}

/** Qdrant's `ScoredPoint`. `version`: the WAL seq of the point's last write. */
export interface WireScoredPoint extends WireRecord {
  score: number
  version: number
}

export interface WireScrollResult {
  points: WireRecord[]
  next_page_offset: PointId | null
}

export interface WireHnswConfig {
  m: number
  ef_construct: number
  full_scan_threshold: number
  max_indexing_threads: number
  on_disk: boolean
}

/** Qdrant's `VectorParams` as Quiver reports them (optional fields only when set). */
export interface WireVectorParams {
  size: number
  distance: Distance
  datatype?: 'float32' | 'float16' | 'uint8'
  multivector_config?: { comparator: 'max_sim' }
  on_disk?: boolean
  hnsw_config?: { m: number; ef_construct: number; full_scan_threshold: number }
  quantization_config?: QuantizationConfig
  ivf_config?: { nlist: number | null; nprobe: number | null }
}

/** Qdrant's `SparseVectorParams`. */
export interface WireSparseVectorParams {
  index?: { full_scan_threshold?: number; on_disk?: boolean }
  modifier?: 'idf' | 'none'
}

/** Qdrant's `PayloadIndexInfo`: the index type, its parameters with defaults filled, indexed points. */
export interface WirePayloadIndexInfo {
  data_type: PayloadSchemaType
  params: PayloadSchemaParams
  points: number
}

/** Qdrant's `OptimizersConfig`; Quiver acts on the first four, the rest are reported as fixed. */
export interface WireOptimizersConfig {
  deleted_threshold: number
  vacuum_min_vector_number: number
  default_segment_number: number
  /** KiB of vectors per segment. */
  max_segment_size: number
  memmap_threshold: null
  indexing_threshold: number
  flush_interval_sec: number
  max_optimization_threads: number
}

/**
 * Qdrant's `CollectionInfo`, reduced to what Quiver knows; optional Qdrant fields are left out.
 * `unindexed_filter_fields` is Quiver's own (clients that do not know it ignore it).
 */
export interface WireCollectionInfo {
  status: 'green' | 'yellow' | 'red'
  optimizer_status: 'ok' | { error: string }
  indexed_vectors_count: number
  points_count: number
  segments_count: number
  config: {
    params: {
      vectors: WireVectorParams | { [name: string]: WireVectorParams }
      sparse_vectors?: { [name: string]: WireSparseVectorParams }
      shard_number: number
      replication_factor: number
      write_consistency_factor: number
      on_disk_payload: boolean
    }
    hnsw_config: WireHnswConfig
    optimizer_config: WireOptimizersConfig
    /** As given at creation (nulls dropped); null when the collection has none (as Qdrant). */
    quantization_config: QuantizationConfig | null
    /** Quiver's extension: the IVF parameters (null = automatic) when the collection uses IVF, else null. */
    ivf_config: WireIvfConfig | null
  }
  payload_schema: Record<string, WirePayloadIndexInfo>
  /** Per field key: filtered requests since open that evaluated it without an index. */
  unindexed_filter_fields: Record<string, number>
  /** Writes logged and not yet applied (`wait=false` ones). */
  update_queue?: { length: number }
}

/** Quiver's `ivf_config` (not in Qdrant): its presence at creation selects the IVF index. */
export interface WireIvfConfig {
  nlist: number | null
  nprobe: number | null
}

/** Wraps a result in Qdrant's envelope. `seconds`: time spent on the request. */
export function okEnvelope<T>(result: T, seconds: number): WireOk<T> {
  return { result, status: 'ok', time: seconds }
}

export function toWireUpdateResult(r: UpdateResult): WireUpdateResult {
  return { operation_id: r.operationId, status: r.status }
}

/**
 * What to return of each point's payload: `select` goes to the engine; `exclude` (Qdrant's
 * `{ exclude: [...] }` selector, dotted paths allowed) is removed by the server afterwards.
 */
export interface PayloadSelection {
  select: WithPayload
  exclude: readonly string[] | undefined
}

function shapePayload(payload: Payload | undefined, sel: PayloadSelection): Payload | undefined {
  if (sel.select === false) return undefined
  const out: Payload = payload ?? {}
  if (sel.exclude === undefined) return out
  const copy = structuredClone(out)
  for (const path of sel.exclude) deletePath(copy, path.split('.'))
  return copy
}

function deletePath(obj: { [key: string]: JsonValue }, parts: readonly string[]): void {
  const [head, ...rest] = parts
  if (head === undefined || !Object.hasOwn(obj, head)) return
  if (rest.length === 0) {
    delete obj[head]
    return
  }
  const next = obj[head]
  if (Array.isArray(next)) {
    for (const item of next) if (isPlainObject(item)) deletePath(item, rest)
  } else if (isPlainObject(next)) deletePath(next, rest)
}

/**
 * The shortest decimal that reads back as the same float32 as `x`, as Qdrant prints its f32 scores
 * and vector components (0.05, not 0.05000000074505806). More digits never break a round trip, so
 * the digit count is binary-searched over 1..9 (9 always round-trips a float32).
 */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x)
  if (!Number.isFinite(f) || f === 0) return f
  let lo = 1
  let hi = 9
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (Math.fround(Number(f.toPrecision(mid))) === f) hi = mid
    else lo = mid + 1
  }
  return Number(f.toPrecision(lo))
}

function wireVectorValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? shortestFloat32(x) : wireVectorValue(x)))
  if (typeof v === 'object' && v !== null && 'values' in v) {
    const sv = v as { indices: number[]; values: number[] }
    return { indices: sv.indices, values: sv.values.map(shortestFloat32) }
  }
  return v
}

/** A point's vectors as Qdrant prints them: every component as its shortest float32 decimal. */
export function toWireVector(v: VectorOutput): VectorOutput {
  if (Array.isArray(v)) return wireVectorValue(v) as VectorOutput
  // own properties from entries: vector names are user strings
  return Object.fromEntries(Object.entries(v).map(([name, x]) => [name, wireVectorValue(x)])) as VectorOutput
}

/** Engine record -> Qdrant `Record`. A requested payload is `{}` when the point has none (as Qdrant). */
export function toWireRecord(p: PointRecord, sel: PayloadSelection): WireRecord {
  const out: WireRecord = { id: p.id }
  const payload = shapePayload(p.payload, sel)
  if (payload !== undefined) out.payload = payload
  if (p.vector !== undefined) out.vector = toWireVector(p.vector)
  if (p.orderValue !== undefined) out.order_value = p.orderValue
  return out
}

/**
 * Engine hit -> Qdrant `ScoredPoint`. Throws INTERNAL for a non-finite score, which JSON would
 * write as `null`: accepted vectors always score finitely (MAX_SQUARED_NORM), so one is a bug.
 */
export function toWireScoredPoint(p: ScoredPoint, sel: PayloadSelection): WireScoredPoint {
  if (!Number.isFinite(p.score))
    throw new QuiverError(
      'INTERNAL',
      `point ${JSON.stringify(p.id)} scored ${p.score}: scores must be finite`,
    )
  // f32 as Qdrant: a score from the graph and the same score from a rescoring stage print alike
  const out: WireScoredPoint = { id: p.id, version: p.version ?? 0, score: shortestFloat32(p.score) }
  const payload = shapePayload(p.payload, sel)
  if (payload !== undefined) out.payload = payload
  if (p.vector !== undefined) out.vector = toWireVector(p.vector)
  if (p.orderValue !== undefined) out.order_value = p.orderValue
  return out
}

export function toWireScrollResult(r: ScrollResult, sel: PayloadSelection): WireScrollResult {
  return { points: r.points.map((p) => toWireRecord(p, sel)), next_page_offset: r.nextPageOffset }
}

export function toWireHnswConfig(h: HnswConfig): WireHnswConfig {
  return {
    m: h.m,
    ef_construct: h.efConstruct,
    full_scan_threshold: h.fullScanThreshold,
    max_indexing_threads: 0,
    on_disk: false,
  }
}

export function toWireOptimizersConfig(o: OptimizersConfig): WireOptimizersConfig {
  return {
    deleted_threshold: o.deletedThreshold,
    vacuum_min_vector_number: o.vacuumMinVectorNumber,
    default_segment_number: o.defaultSegmentNumber,
    max_segment_size: o.maxSegmentSize,
    memmap_threshold: null,
    // every point is indexed (HNSW grows with each write), so indexing starts at once
    indexing_threshold: 0,
    flush_interval_sec: 0,
    max_optimization_threads: 1,
  }
}

/**
 * Qdrant's `optimizers_config` -> engine settings. `default_segment_number: 0` and
 * `max_segment_size: null` mean "choose for me" (the defaults); `memmap_threshold`,
 * `indexing_threshold`, `flush_interval_sec`, `max_optimization_threads` are accepted and ignored.
 */
function parseOptimizersConfig(src: unknown, path: string): Partial<OptimizersConfig> {
  if (!isPlainObject(src)) fail(path, `expected an object, got ${describe(src)}`, 'INVALID_CONFIG')
  const out: { -readonly [K in keyof OptimizersConfig]?: OptimizersConfig[K] } = {}
  const deleted = optNumber(src, 'deleted_threshold', path)
  if (deleted !== undefined) {
    if (!(deleted > 0 && deleted <= 1))
      fail(join(path, 'deleted_threshold'), `expected a number in (0, 1], got ${deleted}`, 'INVALID_CONFIG')
    out.deletedThreshold = deleted
  }
  const vacuumMin = optInt(src, 'vacuum_min_vector_number', path, 0)
  if (vacuumMin !== undefined) out.vacuumMinVectorNumber = vacuumMin
  const segments = optInt(src, 'default_segment_number', path, 0)
  if (segments !== undefined && segments > 0) out.defaultSegmentNumber = segments
  const maxSize = optInt(src, 'max_segment_size', path, 1)
  if (maxSize !== undefined) out.maxSegmentSize = maxSize
  return out
}

function toWireVectorParams(v: VectorConfig, base: HnswConfig, named: boolean): WireVectorParams {
  const out: WireVectorParams = { size: v.dimension, distance: v.metric }
  if (v.datatype !== 'float32') out.datatype = v.datatype
  if (v.multivector !== undefined) out.multivector_config = { comparator: v.multivector.comparator }
  if (v.onDisk !== undefined) out.on_disk = v.onDisk
  const h = v.hnsw
  if (h.m !== base.m || h.efConstruct !== base.efConstruct || h.fullScanThreshold !== base.fullScanThreshold)
    out.hnsw_config = { m: h.m, ef_construct: h.efConstruct, full_scan_threshold: h.fullScanThreshold }
  if (named && v.quantization !== undefined) out.quantization_config = v.quantization
  if (named && v.index?.type === 'ivf') out.ivf_config = { nlist: v.index.nlist, nprobe: v.index.nprobe }
  return out
}

/**
 * The collection's vectors as Qdrant reports them: `{ size, distance, ... }` for the unnamed
 * vector alone, else an object by name (own properties from entries: names are user strings).
 */
function toWireVectors(config: CollectionConfig): WireVectorParams | { [name: string]: WireVectorParams } {
  const unnamed = config.vectors.get('')
  if (unnamed !== undefined && config.vectors.size === 1)
    return toWireVectorParams(unnamed, config.hnsw, false)
  return Object.fromEntries(
    [...config.vectors].map(([name, v]) => [name, toWireVectorParams(v, config.hnsw, true)]),
  )
}

function toWireSparseVectors(config: CollectionConfig): { [name: string]: WireSparseVectorParams } {
  return Object.fromEntries(
    [...config.sparseVectors].map(([name, sv]) => {
      const out: WireSparseVectorParams = {}
      const index: { full_scan_threshold?: number; on_disk?: boolean } = {}
      if (sv.fullScanThreshold !== null) index.full_scan_threshold = sv.fullScanThreshold
      if (sv.onDisk !== null) index.on_disk = sv.onDisk
      if (Object.keys(index).length > 0) out.index = index
      if (sv.modifier !== 'none') out.modifier = sv.modifier
      return [name, out]
    }),
  )
}

export function toWireCollectionInfo(info: CollectionInfo): WireCollectionInfo {
  const unnamed = info.config.vectors.get('')
  return {
    status: info.status,
    optimizer_status: info.optimizerStatus,
    indexed_vectors_count: info.indexedVectorsCount,
    points_count: info.pointsCount,
    segments_count: info.segmentsCount,
    config: {
      params: {
        vectors: toWireVectors(info.config),
        ...(info.config.sparseVectors.size > 0 ? { sparse_vectors: toWireSparseVectors(info.config) } : {}),
        shard_number: 1,
        replication_factor: 1,
        write_consistency_factor: 1,
        on_disk_payload: false,
      },
      hnsw_config: toWireHnswConfig(info.config.hnsw),
      optimizer_config: toWireOptimizersConfig(info.config.optimizers),
      quantization_config: unnamed?.quantization ?? null,
      ivf_config:
        unnamed?.index?.type === 'ivf' ? { nlist: unnamed.index.nlist, nprobe: unnamed.index.nprobe } : null,
    },
    payload_schema: Object.fromEntries(
      Object.entries(info.payloadSchema).map(([field, index]) => [field, toWirePayloadIndexInfo(index)]),
    ),
    unindexed_filter_fields: { ...info.unindexedFilterFields },
    ...(info.updateQueue === undefined ? {} : { update_queue: { length: info.updateQueue.length } }),
  }
}

export function toWirePayloadIndexInfo(index: PayloadIndexInfo): WirePayloadIndexInfo {
  return { data_type: index.dataType, params: index.params, points: index.points }
}

// ---- Request parsing: every check names the JSON path of the bad value ----

export type Obj = { [key: string]: unknown }

export function isPlainObject(v: unknown): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const describe = describeValue

export function fail(path: string, message: string, code: ErrorCode = 'INVALID_ARGUMENT'): never {
  throw new QuiverError(code, `${path}: ${message}`, { path })
}

export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/** The request body as an object; an empty body counts as `{}` when `optional`. */
export function bodyObject(body: unknown, optional = false): Obj {
  if (body === undefined && optional) return {}
  if (!isPlainObject(body)) fail('body', `expected a JSON object, got ${describe(body)}`)
  return body
}

export function isAbsent(v: unknown): v is null | undefined {
  return v === undefined || v === null
}

function reqObject(o: Obj, key: string, path: string): Obj {
  const v = o[key]
  if (!isPlainObject(v)) fail(join(path, key), `expected an object, got ${describe(v)}`)
  return v
}

export function reqArray(o: Obj, key: string, path: string): unknown[] {
  const v = o[key]
  if (!Array.isArray(v)) fail(join(path, key), `expected an array, got ${describe(v)}`)
  return v
}

export function optInt(o: Obj, key: string, path: string, min: number): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    fail(join(path, key), `expected an integer >= ${min}, got ${describe(v)}`)
  return v
}

export function optBool(o: Obj, key: string, path: string): boolean | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'boolean') fail(join(path, key), `expected true or false, got ${describe(v)}`)
  return v
}

function optNumber(o: Obj, key: string, path: string): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(join(path, key), `expected a finite number, got ${describe(v)}`)
  return v
}

export function optString(o: Obj, key: string, path: string): string | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'string') fail(join(path, key), `expected a string, got ${describe(v)}`)
  return v
}

function stringArray(v: unknown, path: string): string[] {
  if (!Array.isArray(v)) fail(path, `expected an array of strings, got ${describe(v)}`)
  v.forEach((s, i) => {
    if (typeof s !== 'string') fail(`${path}[${i}]`, `expected a string, got ${describe(s)}`)
  })
  return v as string[]
}

/** Payload keys of a `with_payload` selector; a `__proto__` segment is refused. */
function selectorKeys(v: unknown, path: string): string[] {
  const keys = stringArray(v, path)
  keys.forEach((k, i) => {
    checkSelectorKey(k, `${path}[${i}]`)
  })
  return keys
}

/** Rejects a key Quiver does not implement, when it is present and not null. */
export function unsupported(
  o: Obj,
  key: string,
  path: string,
  what: string,
  code: ErrorCode = 'INVALID_ARGUMENT',
): void {
  const v = o[key]
  if (isAbsent(v)) return
  if (isPlainObject(v) && Object.keys(v).length === 0) return
  fail(join(path, key), `not supported by Quiver (${what})`, code)
}

/**
 * A dense vector: an array of finite numbers, `dimension` long when given. Named vectors (objects),
 * multivectors (arrays of arrays) and documents are rejected with INVALID_VECTOR. `dimension` 0
 * (the routes' value for a collection without the unnamed vector) checks no length: the engine
 * then names the missing vector.
 */
export function parseVector(v: unknown, path: string, dimension?: number): number[] {
  if (isPlainObject(v))
    fail(
      path,
      'named, sparse and inference vectors are not supported; send an array of numbers',
      'INVALID_VECTOR',
    )
  if (!Array.isArray(v)) fail(path, `expected an array of numbers, got ${describe(v)}`, 'INVALID_VECTOR')
  for (let i = 0; i < v.length; i++) {
    const x: unknown = v[i]
    if (typeof x !== 'number') {
      if (Array.isArray(x))
        fail(path, 'multivectors are not supported; send an array of numbers', 'INVALID_VECTOR')
      fail(`${path}[${i}]`, `expected a number, got ${describe(x)}`, 'INVALID_VECTOR')
    }
    if (!Number.isFinite(x)) fail(`${path}[${i}]`, `${x} is not a finite number`, 'INVALID_VECTOR')
  }
  if (dimension !== undefined && dimension > 0 && v.length !== dimension)
    fail(path, `expected ${dimension} numbers (the collection's size), got ${v.length}`, 'INVALID_VECTOR')
  return v as number[]
}

/** A payload: a JSON object; `null`/absent means none. */
export function parsePayload(v: unknown, path: string): Payload | undefined {
  if (isAbsent(v)) return undefined
  if (!isPlainObject(v)) fail(path, `expected a JSON object, got ${describe(v)}`, 'INVALID_PAYLOAD')
  return v
}

function requirePayload(o: Obj, key: string, path: string): Payload {
  const p = parsePayload(o[key], join(path, key))
  if (p === undefined)
    fail(join(path, key), `expected a JSON object, got ${describe(o[key])}`, 'INVALID_PAYLOAD')
  return p
}

export function parseIds(v: unknown, path: string): PointId[] {
  if (!Array.isArray(v)) fail(path, `expected an array of point ids, got ${describe(v)}`, 'INVALID_POINT_ID')
  return v.map((id, i) => parsePointId(id, `${path}[${i}]`))
}

/** A filter is passed to the engine as is (it validates Qdrant's filter language); only its outer type is checked here. */
export function parseFilter(v: unknown, path: string): Filter | undefined {
  if (isAbsent(v)) return undefined
  if (!isPlainObject(v)) fail(path, `expected a filter object, got ${describe(v)}`, 'INVALID_FILTER')
  return v as Filter
}

/** Qdrant's `WithPayloadInterface`: bool, list of keys, `{ include: [...] }` or `{ exclude: [...] }`. */
export function parseWithPayload(v: unknown, path: string, fallback: boolean): PayloadSelection {
  if (isAbsent(v)) return { select: fallback, exclude: undefined }
  if (typeof v === 'boolean') return { select: v, exclude: undefined }
  if (Array.isArray(v)) return { select: selectorKeys(v, path), exclude: undefined }
  if (isPlainObject(v)) {
    const keys = Object.keys(v)
    if (keys.length === 1 && keys[0] === 'include')
      return { select: selectorKeys(v.include, `${path}.include`), exclude: undefined }
    if (keys.length === 1 && keys[0] === 'exclude')
      return { select: true, exclude: selectorKeys(v.exclude, `${path}.exclude`) }
  }
  fail(
    path,
    `expected true, false, a list of keys, { include: [...] } or { exclude: [...] }, got ${describe(v)}`,
  )
}

/** Qdrant's `WithVector`: bool, or a list of vector names (unknown names return nothing, as Qdrant). */
export function parseWithVector(v: unknown, path: string, fallback: boolean): WithVector {
  if (isAbsent(v)) return fallback
  if (typeof v === 'boolean') return v
  if (Array.isArray(v)) return stringArray(v, path)
  fail(path, `expected true, false or a list of vector names, got ${describe(v)}`)
}

/**
 * Qdrant's `VectorStruct` of a point (the engine checks names, sizes and values): an array of
 * numbers (the unnamed vector), an array of rows (an unnamed multivector), or an object of named
 * vectors, each dense, a multivector, or sparse `{ indices, values }`. Document/inference inputs
 * (`{ text, model }`) are refused here with INVALID_VECTOR.
 */
export function parseVectorStruct(v: unknown, path: string): VectorStruct | undefined {
  if (isAbsent(v)) return undefined
  if (Array.isArray(v)) {
    // a dense vector: its elements are checked here so the error names this request's path
    if (!v.some((x) => Array.isArray(x))) parseVector(v, path)
    return v as VectorStruct
  }
  if (!isPlainObject(v))
    fail(
      path,
      `expected an array of numbers or an object of named vectors, got ${describe(v)}`,
      'INVALID_VECTOR',
    )
  // Qdrant's Document / Image / InferenceObject all carry a string `model`; `text` or `image` alone
  // may be vector names (a named vector's value is never a string)
  if (typeof v.model === 'string' || typeof v.text === 'string' || typeof v.object === 'string')
    fail(
      path,
      'inference inputs (documents, images) are not supported as a point vector here',
      'INVALID_VECTOR',
    )
  return v as VectorStruct
}

/** `?wait=` on writes: Quiver always waits (writes are durable before the reply), so only the syntax is checked. */
export function checkWait(query: unknown): void {
  if (!isPlainObject(query)) return
  const w = query.wait
  if (w === undefined || w === 'true' || w === 'false' || w === '') return
  fail('query.wait', `expected true or false, got ${describe(w)}`)
}

const DISTANCES: readonly Distance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan']

/**
 * `PUT /collections/{name}` body -> engine options: the unnamed vector (`vectors: { size, distance,
 * ... }`) or named vectors (`vectors: { name: VectorParams }`), `sparse_vectors`; options that would
 * change behaviour Quiver lacks (custom sharding, metadata) are rejected; `optimizers_config` and
 * `quantization_config` (top level or in `vectors`, which wins as in Qdrant) are applied; Quiver's
 * extension `ivf_config: { nlist?, nprobe? }` (the same two places; @qdrant/js-client-rest forwards
 * only the one in `vectors`) selects the IVF index (docs/ivf.md);
 * deployment options (shards, replicas, WAL, on-disk flags) are accepted and ignored.
 */
export function parseCreateCollection(body: unknown): CreateCollectionOptions {
  const o = bodyObject(body)
  unsupported(o, 'metadata', '', 'collection metadata', 'INVALID_CONFIG')
  if (!isAbsent(o.sharding_method) && o.sharding_method !== 'auto')
    fail('sharding_method', 'custom sharding is not supported by Quiver', 'INVALID_CONFIG')
  const hnsw = parseHnswPatch(o.hnsw_config, 'hnsw_config')
  const out: CreateCollectionOptions = {}
  if (Object.keys(hnsw).length > 0) out.hnsw = hnsw
  if (!isAbsent(o.optimizers_config))
    out.optimizers = parseOptimizersConfig(o.optimizers_config, 'optimizers_config')
  const maxSegmentSize = out.optimizers?.maxSegmentSize ?? DEFAULT_OPTIMIZERS.maxSegmentSize
  const topQuantization = isAbsent(o.quantization_config)
    ? undefined
    : parseQuantizationConfig(o.quantization_config, 'quantization_config')
  if (!isAbsent(o.sparse_vectors)) {
    const sv = reqObject(o, 'sparse_vectors', '')
    out.sparseVectors = new Map(
      Object.keys(sv).map((name) => [name, parseSparseParams(sv[name], `sparse_vectors.${name}`)]),
    )
  }
  const vectors = isAbsent(o.vectors) ? undefined : reqObject(o, 'vectors', '')
  if (vectors === undefined && out.sparseVectors === undefined)
    fail(
      'vectors',
      'required: { "size": <dimension>, "distance": "Cosine" | "Dot" | "Euclid" | "Manhattan" }, named vectors { "<name>": { size, distance } }, or sparse_vectors',
      'INVALID_CONFIG',
    )
  // Qdrant's untagged VectorsConfig: `{ size, distance, ... }` is the unnamed vector; a map's values
  // are objects, so vectors named "size" or "distance" are still named ones
  if (vectors !== undefined && (typeof vectors.size === 'number' || typeof vectors.distance === 'string')) {
    // the unnamed vector; its quantization_config wins over the top-level one (as Qdrant)
    const v = parseVectorParams(vectors, 'vectors', maxSegmentSize, topQuantization, o.ivf_config)
    Object.assign(out, v)
    return out
  }
  if (vectors !== undefined) {
    out.vectors = new Map(
      Object.keys(vectors).map((name) => [
        name,
        parseVectorParams(vectors[name], `vectors.${name}`, maxSegmentSize, topQuantization, o.ivf_config),
      ]),
    )
  }
  return out
}

function parseHnswPatch(
  src: unknown,
  path: string,
): Partial<{ -readonly [K in keyof HnswConfig]: HnswConfig[K] }> {
  const hnsw: Partial<{ -readonly [K in keyof HnswConfig]: HnswConfig[K] }> = {}
  if (isAbsent(src)) return hnsw
  if (!isPlainObject(src)) fail(path, `expected an object, got ${describe(src)}`, 'INVALID_CONFIG')
  const m = optInt(src, 'm', path, 0)
  const efConstruct = optInt(src, 'ef_construct', path, 1)
  const fullScanThreshold = optInt(src, 'full_scan_threshold', path, 0)
  if (m !== undefined) hnsw.m = m
  if (efConstruct !== undefined) hnsw.efConstruct = efConstruct
  if (fullScanThreshold !== undefined) hnsw.fullScanThreshold = fullScanThreshold
  return hnsw
}

const DATATYPES = ['float32', 'float16', 'uint8'] as const

/** Qdrant's `VectorParams` (+ Quiver's `ivf_config`) -> engine vector options. */
function parseVectorParams(
  src: unknown,
  path: string,
  maxSegmentSize: number,
  topQuantization: QuantizationConfig | undefined,
  topIvf: unknown,
): VectorOptions {
  if (!isPlainObject(src))
    fail(path, `expected { "size", "distance", ... }, got ${describe(src)}`, 'INVALID_CONFIG')
  const size = src.size
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 1)
    fail(join(path, 'size'), `expected an integer >= 1, got ${describe(size)}`, 'INVALID_CONFIG')
  const distance = src.distance
  if (typeof distance !== 'string' || !(DISTANCES as readonly string[]).includes(distance))
    fail(
      join(path, 'distance'),
      `expected one of ${DISTANCES.join(', ')}, got ${describe(distance)}`,
      'INVALID_CONFIG',
    )
  const out: VectorOptions = { dimension: size, metric: distance as Distance }
  const datatype = src.datatype
  if (!isAbsent(datatype)) {
    if (typeof datatype !== 'string' || !(DATATYPES as readonly string[]).includes(datatype))
      fail(
        join(path, 'datatype'),
        `expected one of ${DATATYPES.join(', ')}, got ${describe(datatype)}`,
        'INVALID_CONFIG',
      )
    out.datatype = datatype as VectorDatatype
  }
  if (!isAbsent(src.multivector_config)) {
    const mc = reqObject(src, 'multivector_config', path)
    if (mc.comparator !== 'max_sim')
      fail(
        join(path, 'multivector_config.comparator'),
        `expected "max_sim", got ${describe(mc.comparator)}`,
        'INVALID_CONFIG',
      )
    out.multivector = { comparator: 'max_sim' }
  }
  const onDisk = optBool(src, 'on_disk', path)
  if (onDisk !== undefined) out.onDisk = onDisk
  const hnsw = parseHnswPatch(src.hnsw_config, join(path, 'hnsw_config'))
  if (Object.keys(hnsw).length > 0) out.hnsw = hnsw
  if (!isAbsent(src.quantization_config))
    out.quantization = parseQuantizationConfig(src.quantization_config, join(path, 'quantization_config'))
  else if (topQuantization !== undefined) out.quantization = topQuantization
  const [ivfPath, ivf] = isAbsent(src.ivf_config)
    ? ['ivf_config', topIvf]
    : [join(path, 'ivf_config'), src.ivf_config]
  if (!isAbsent(ivf)) {
    const { nlist, nprobe } = parseIvfParams(ivf, ivfPath)
    if (nlist !== null) checkIvfTrainable(nlist, size, maxSegmentSize, `${ivfPath}.nlist`)
    out.index = { type: 'ivf', nlist, nprobe }
  }
  return out
}

/** Qdrant's `SparseVectorParams` -> engine options. */
function parseSparseParams(src: unknown, path: string): SparseVectorOptions {
  if (isAbsent(src)) return {}
  if (!isPlainObject(src))
    fail(path, `expected { index?, modifier? }, got ${describe(src)}`, 'INVALID_CONFIG')
  const out: SparseVectorOptions = {}
  if (!isAbsent(src.modifier)) {
    if (src.modifier !== 'idf' && src.modifier !== 'none')
      fail(
        join(path, 'modifier'),
        `expected "idf" or "none", got ${describe(src.modifier)}`,
        'INVALID_CONFIG',
      )
    out.modifier = src.modifier
  }
  if (!isAbsent(src.index)) {
    const index = reqObject(src, 'index', path)
    const ipath = join(path, 'index')
    const fst = optInt(index, 'full_scan_threshold', ipath, 0)
    if (fst !== undefined) out.fullScanThreshold = fst
    const onDisk = optBool(index, 'on_disk', ipath)
    if (onDisk !== undefined) out.onDisk = onDisk
    if (!isAbsent(index.datatype) && index.datatype !== 'float32')
      fail(
        join(ipath, 'datatype'),
        `only "float32" sparse values are supported, got ${describe(index.datatype)}`,
        'INVALID_CONFIG',
      )
  }
  return out
}

/**
 * `PATCH /collections/{name}`: Quiver cannot change a collection's parameters after creation, so
 * any non-empty update is refused with INVALID_CONFIG naming the field (an empty body or only
 * null fields is a no-op, as in Qdrant). Quantization in particular is fixed at creation: its codes
 * are trained into every segment.
 */
export function parseUpdateCollection(body: unknown): void {
  const o = bodyObject(body, true)
  for (const [key, value] of Object.entries(o)) {
    if (isAbsent(value)) continue
    if (key === 'quantization_config')
      fail(
        key,
        'changing quantization of an existing collection is not supported by Quiver; create a new collection with it and re-upload the points',
        'INVALID_CONFIG',
      )
    if (key === 'ivf_config')
      fail(
        key,
        'changing the index of an existing collection is not supported by Quiver; create a new collection with it and re-upload the points',
        'INVALID_CONFIG',
      )
    fail(key, 'updating collection parameters is not supported by Quiver', 'INVALID_CONFIG')
  }
}

/** `PUT /collections/{name}/points`: `{ points: [{ id, vector, payload? }] }` or `{ batch: { ids, vectors, payloads? } }`. */
export function parseUpsert(body: unknown): PointStruct[] {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  unsupported(o, 'update_filter', '', 'update_filter')
  if (!isAbsent(o.update_mode) && o.update_mode !== 'upsert')
    fail('update_mode', `only "upsert" is supported, got ${describe(o.update_mode)}`)
  if (!isAbsent(o.points)) {
    return reqArray(o, 'points', '').map((p, i) => {
      const path = `points[${i}]`
      if (!isPlainObject(p))
        fail(path, `expected a point object { id, vector, payload? }, got ${describe(p)}`)
      const point: PointStruct = { id: parsePointId(p.id, `${path}.id`) }
      const vector = parseVectorStruct(p.vector, `${path}.vector`)
      if (vector !== undefined) point.vector = vector
      const payload = parsePayload(p.payload, `${path}.payload`)
      if (payload !== undefined) point.payload = payload
      return point
    })
  }
  if (!isAbsent(o.batch)) {
    const b = reqObject(o, 'batch', '')
    const ids = parseIds(b.ids, 'batch.ids')
    const vectors = batchVectors(b, ids.length)
    let payloads: unknown[] | undefined
    if (!isAbsent(b.payloads)) {
      payloads = reqArray(b, 'payloads', 'batch')
      if (payloads.length !== ids.length)
        fail(
          'batch.payloads',
          `has ${payloads.length} payloads for ${ids.length} ids; the lengths must match`,
        )
    }
    return ids.map((id, i) => {
      const point: PointStruct = { id }
      const vector = parseVectorStruct(vectors[i], `batch.vectors[${i}]`)
      if (vector !== undefined) point.vector = vector
      const payload = parsePayload(payloads?.[i], `batch.payloads[${i}]`)
      if (payload !== undefined) point.payload = payload
      return point
    })
  }
  fail('body', 'expected "points": [...] or "batch": { ids, vectors, payloads }')
}

/**
 * Qdrant's `BatchVectorStruct`: one vector per id (an array), or `{ name: [vector per id] }` for
 * named vectors -> one `VectorStruct` per id.
 */
function batchVectors(b: Obj, n: number): unknown[] {
  const v = b.vectors
  if (Array.isArray(v)) {
    if (v.length !== n) fail('batch.vectors', `has ${v.length} vectors for ${n} ids; the lengths must match`)
    return v
  }
  if (!isPlainObject(v))
    fail(
      'batch.vectors',
      `expected an array of vectors or { name: [vectors] }, got ${describe(v)}`,
      'INVALID_VECTOR',
    )
  const names = Object.keys(v)
  const columns = names.map((name) => {
    const col = v[name]
    if (!Array.isArray(col) || col.length !== n)
      fail(
        `batch.vectors.${name}`,
        `expected an array of ${n} vectors (one per id), got ${describe(col)}`,
        'INVALID_VECTOR',
      )
    return col
  })
  return Array.from({ length: n }, (_, i) =>
    Object.fromEntries(names.map((name, j) => [name, columns[j]![i]])),
  )
}

/**
 * `PUT /collections/{name}/points/vectors`: `{ points: [{ id, vector }] }` (Qdrant's
 * `UpdateVectors`); the engine checks names and values.
 */
export function parseUpdateVectors(body: unknown): { id: PointId; vector: VectorStruct }[] {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  unsupported(o, 'update_filter', '', 'update_filter')
  return reqArray(o, 'points', '').map((p, i) => {
    const path = `points[${i}]`
    if (!isPlainObject(p)) fail(path, `expected { id, vector }, got ${describe(p)}`)
    const vector = parseVectorStruct(p.vector, `${path}.vector`)
    if (vector === undefined) fail(`${path}.vector`, 'required: the vectors to set', 'INVALID_VECTOR')
    return { id: parsePointId(p.id, `${path}.id`), vector }
  })
}

/** `POST /collections/{name}/points/vectors/delete`: `{ points | filter, vector: [names] }`. */
export function parseDeleteVectors(body: unknown): { names: string[]; selector: PointSelector } {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  const names = stringArray(reqArray(o, 'vector', ''), 'vector')
  return { names, selector: parseSelectorFields(o) }
}

/** `POST /collections/{name}/points`: `{ ids, with_payload = true, with_vector = false }`. */
export function parseRetrieve(body: unknown): {
  ids: PointId[]
  options: GetOptions
  payload: PayloadSelection
} {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  const ids = parseIds(o.ids, 'ids')
  const payload = parseWithPayload(o.with_payload, 'with_payload', true)
  // `with_vectors` is Qdrant's alias of `with_vector` on retrieve
  const withVector = isAbsent(o.with_vector)
    ? parseWithVector(o.with_vectors, 'with_vectors', false)
    : parseWithVector(o.with_vector, 'with_vector', false)
  return { ids, options: { withPayload: payload.select, withVector }, payload }
}

/**
 * Qdrant's `points` + `filter` pair (delete, payload operations). Both given: the points among
 * `points` that match `filter` (Qdrant's rule).
 */
function parseSelectorFields(o: Obj): PointSelector {
  unsupported(o, 'shard_key', '', 'shard_key')
  const ids = isAbsent(o.points) ? undefined : parseIds(o.points, 'points')
  const filter = parseFilter(o.filter, 'filter')
  if (ids !== undefined && filter !== undefined) return { filter: { must: [{ has_id: ids }, filter] } }
  if (ids !== undefined) return { ids }
  if (filter !== undefined) return { filter }
  fail('body', 'expected "points": [ids] or "filter": {...} to select points')
}

/** `POST .../points/delete` and `.../points/payload/clear`: `{ points: [...] }` or `{ filter }`. */
export function parsePointsSelector(body: unknown): PointSelector {
  return parseSelectorFields(bodyObject(body))
}

/** `POST|PUT .../points/payload`: `{ payload, points? , filter?, key? }`; `key` only for set. */
export function parseSetPayload(
  body: unknown,
  allowKey: boolean,
): { payload: Payload; selector: PointSelector; key: string | undefined } {
  const o = bodyObject(body)
  const payload = requirePayload(o, 'payload', '')
  const key = optString(o, 'key', '')
  if (key !== undefined && !allowKey)
    fail('key', 'is only supported when setting payload (POST), not overwriting')
  if (key === '') fail('key', 'must not be empty')
  return { payload, selector: parseSelectorFields(o), key }
}

/** `POST .../points/payload/delete`: `{ keys: [...], points?, filter? }`. */
export function parseDeletePayload(body: unknown): { keys: string[]; selector: PointSelector } {
  const o = bodyObject(body)
  const keys = stringArray(o.keys, 'keys')
  return { keys, selector: parseSelectorFields(o) }
}

/**
 * `POST .../points/scroll`: `{ offset?, limit = 10, filter?, with_payload = true, with_vector = false,
 * order_by? }`; `order_by` is a key or `{ key, direction?, start_from? }` (parseOrderBy).
 */
export function parseScroll(body: unknown): { options: ScrollOptions; payload: PayloadSelection } {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const payload = parseWithPayload(o.with_payload, 'with_payload', true)
  const options: ScrollOptions = {
    withPayload: payload.select,
    withVector: parseWithVector(o.with_vector, 'with_vector', false),
  }
  const limit = optInt(o, 'limit', '', 1)
  if (limit !== undefined) options.limit = limit
  if (!isAbsent(o.offset)) options.offset = parsePointId(o.offset, 'offset')
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) options.filter = filter
  if (!isAbsent(o.order_by)) options.orderBy = parseOrderBy(o.order_by, 'order_by')
  return { options, payload }
}

/**
 * Qdrant's `OrderByInterface`: a payload key, or `{ key, direction?: "asc" | "desc", start_from?:
 * number | RFC 3339 string }` -> the engine's `OrderBy`. Wrong types and an empty key are 400 (Qdrant
 * has no range validation on OrderBy). The engine checks the datetime and the index.
 */
export function parseOrderBy(v: unknown, path: string): OrderBy | string {
  if (typeof v === 'string') {
    if (v === '') fail(path, 'the order_by key must not be empty')
    return v
  }
  if (!isPlainObject(v))
    fail(path, `expected a payload key or { key, direction?, start_from? }, got ${describe(v)}`)
  for (const k of Object.keys(v))
    if (k !== 'key' && k !== 'direction' && k !== 'start_from')
      fail(join(path, k), 'unknown field (expected key, direction, start_from)')
  if (typeof v.key !== 'string')
    fail(join(path, 'key'), `expected a payload key (a string), got ${describe(v.key)}`)
  if (v.key === '') fail(join(path, 'key'), 'must not be empty (the payload key to order by)')
  const out: OrderBy = { key: v.key }
  const direction = v.direction
  if (!isAbsent(direction)) {
    if (direction !== 'asc' && direction !== 'desc')
      fail(join(path, 'direction'), `expected "asc" or "desc", got ${describe(direction)}`)
    out.direction = direction
  }
  const start = v.start_from
  if (!isAbsent(start)) {
    if ((typeof start !== 'number' || !Number.isFinite(start)) && typeof start !== 'string')
      fail(join(path, 'start_from'), `expected a number or an RFC 3339 datetime, got ${describe(start)}`)
    if (typeof start === 'string' && !Number.isFinite(parseDateTime(start) ?? Number.NaN))
      fail(join(path, 'start_from'), `expected a number or an RFC 3339 datetime, got ${describe(start)}`)
    out.startFrom = start
  }
  return out
}

/**
 * `PUT /collections/{name}/index`: `{ field_name, field_schema }`. Only the envelope is checked here;
 * the engine validates `field_schema` (a type name or `{ type, ...params }`) and the key path.
 * Qdrant infers the type when `field_schema` is null or absent; Quiver requires it (INVALID_ARGUMENT).
 */
export function parseCreateFieldIndex(body: unknown): { field: string; schema: PayloadFieldSchema } {
  const o = bodyObject(body)
  const field = o.field_name
  if (typeof field !== 'string' || field.length === 0)
    fail('field_name', `expected a non-empty string (the payload key to index), got ${describe(field)}`)
  if (isAbsent(o.field_schema))
    fail(
      'field_schema',
      'required: Quiver does not infer the index type; send a type such as "keyword" or { "type": "text", ... }',
    )
  return { field, schema: o.field_schema as PayloadFieldSchema }
}

/** `POST .../points/count`: `{ filter?, exact? }` (counts are always exact). */
export function parseCount(body: unknown): CountOptions {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  optBool(o, 'exact', '')
  const filter = parseFilter(o.filter, 'filter')
  return filter === undefined ? {} : { filter }
}

/** A parsed search: the query vector, engine options, and the payload selection to apply to hits. */
export interface ParsedSearch {
  request: SearchRequest
  payload: PayloadSelection
}

function parseSearchParams(o: Obj, path: string, options: SearchOptions): void {
  const params = o.params
  if (isAbsent(params)) return
  if (!isPlainObject(params)) fail(join(path, 'params'), `expected an object, got ${describe(params)}`)
  const ppath = join(path, 'params')
  const ef = optInt(params, 'hnsw_ef', ppath, 1)
  if (ef !== undefined) options.ef = ef
  const nprobe = optInt(params, 'nprobe', ppath, 1)
  if (nprobe !== undefined) options.nprobe = nprobe
  const exact = optBool(params, 'exact', ppath)
  if (exact !== undefined) options.exact = exact
  optBool(params, 'indexed_only', ppath)
  const quantization = parseQuantizationSearchParams(params.quantization, join(ppath, 'quantization'))
  if (quantization !== undefined) options.quantization = quantization
}

/** Fields shared by `query` and legacy `search`: filter, params, limit, offset, score_threshold, with_*. */
function parseSearchCommon(
  o: Obj,
  path: string,
  vector: number[] | SparseVectorInput,
  defaultLimit: number | undefined,
): ParsedSearch {
  unsupported(o, 'shard_key', path, 'shard_key')
  const payload = parseWithPayload(o.with_payload, join(path, 'with_payload'), false)
  const request: SearchRequest = {
    vector,
    withPayload: payload.select,
    withVector: parseWithVector(o.with_vector, join(path, 'with_vector'), false),
  }
  const filter = parseFilter(o.filter, join(path, 'filter'))
  if (filter !== undefined) request.filter = filter
  parseSearchParams(o, path, request)
  const limit = optInt(o, 'limit', path, 1) ?? optInt(o, 'top', path, 1) ?? defaultLimit
  if (limit !== undefined) request.limit = limit
  const offset = optInt(o, 'offset', path, 0)
  if (offset !== undefined) request.offset = offset
  const threshold = optNumber(o, 'score_threshold', path)
  if (threshold !== undefined) request.scoreThreshold = threshold
  return { request, payload }
}

/** A parsed query: the engine request and the payload selection to apply to its hits. */
export interface ParsedQuery {
  request: QueryRequest
  payload: PayloadSelection
}

/** Qdrant's `VectorInput` of the unnamed dense vector: an array of numbers or a point id. */
export function parseVectorInput(
  container: Obj | unknown[],
  key: string | number,
  path: string,
  dimension: number | undefined,
): VectorInput {
  const v = (container as Record<string | number, unknown>)[key]
  if (typeof v === 'number' || typeof v === 'string') return parsePointId(v, path)
  // a sparse vector { indices, values } or a multivector (rows): the engine checks them against `using`
  if (isPlainObject(v) && ('indices' in v || 'values' in v || 'text' in v))
    return v as unknown as SparseVectorInput
  if (Array.isArray(v) && v.some((x) => Array.isArray(x))) return v as number[][]
  return parseVector(v, path, dimension)
}

function parseExamples(
  o: Obj,
  key: string,
  path: string,
  dimension: number | undefined,
): VectorInput[] | undefined {
  if (isAbsent(o[key])) return undefined
  const list = reqArray(o, key, path)
  return list.map((_, i) => parseVectorInput(list, i, `${join(path, key)}[${i}]`, dimension))
}

function parseRecommendInput(v: unknown, path: string, dimension: number | undefined): Query {
  if (!isPlainObject(v)) fail(path, `expected { positive, negative, strategy }, got ${describe(v)}`)
  const recommend: { positive?: VectorInput[]; negative?: VectorInput[]; strategy?: RecommendStrategy } = {}
  const positive = parseExamples(v, 'positive', path, dimension)
  if (positive !== undefined) recommend.positive = positive
  const negative = parseExamples(v, 'negative', path, dimension)
  if (negative !== undefined) recommend.negative = negative
  const strategy = optString(v, 'strategy', path)
  if (strategy !== undefined) recommend.strategy = strategy as RecommendStrategy
  return { recommend }
}

/** Qdrant's `QueryInterface` (snake_case) -> the engine's `Query`; kinds Quiver lacks are refused by name. */
function parseQueryInput(o: Obj, path: string, dimension: number | undefined): Query | undefined {
  const q = o.query
  const qpath = join(path, 'query')
  if (isAbsent(q)) return undefined
  // a vector, a point id, a sparse vector or a document is a nearest query
  if (!isPlainObject(q) || 'indices' in q || 'values' in q || 'text' in q)
    return parseVectorInput(o, 'query', qpath, dimension)
  if ('nearest' in q) {
    const nearest = parseVectorInput(q, 'nearest', `${qpath}.nearest`, dimension)
    if (isAbsent(q.mmr)) return { nearest }
    const mmr = reqObject(q, 'mmr', qpath)
    const mpath = `${qpath}.mmr`
    const out: MmrOptions = {}
    const diversity = optNumber(mmr, 'diversity', mpath)
    if (diversity !== undefined) out.diversity = diversity
    const candidates = optInt(mmr, 'candidates_limit', mpath, 1)
    if (candidates !== undefined) out.candidatesLimit = candidates
    return { nearest, mmr: out }
  }
  if ('recommend' in q) return parseRecommendInput(q.recommend, `${qpath}.recommend`, dimension)
  if ('fusion' in q) return { fusion: q.fusion as 'rrf' }
  if ('rrf' in q) {
    const r = isAbsent(q.rrf) ? {} : reqObject(q, 'rrf', qpath)
    const rrf: { k?: number; weights?: number[] } = {}
    const k = optInt(r, 'k', `${qpath}.rrf`, 1)
    if (k !== undefined) rrf.k = k
    if (!isAbsent(r.weights)) rrf.weights = r.weights as number[]
    return { rrf }
  }
  if ('sample' in q) return { sample: q.sample as 'random' }
  // A formula is Qdrant's JSON in the engine too (like a filter): passed as is, checked there.
  if ('formula' in q) return q as unknown as FormulaQuery
  if ('order_by' in q) return { orderBy: parseOrderBy(q.order_by, `${qpath}.order_by`) }
  if ('discover' in q) {
    const d = q.discover
    const dpath = `${qpath}.discover`
    if (!isPlainObject(d)) fail(dpath, `expected { target, context }, got ${describe(d)}`)
    if (isAbsent(d.target)) fail(`${dpath}.target`, 'required: a vector or a point id')
    return {
      discover: {
        target: parseVectorInput(d, 'target', `${dpath}.target`, dimension),
        context: parseContextPairs(d.context, `${dpath}.context`, dimension),
      },
    }
  }
  if ('context' in q) return { context: parseContextPairs(q.context, `${qpath}.context`, dimension) }
  const kind = Object.keys(q)[0] ?? ''
  fail(
    qpath,
    `query kind ${JSON.stringify(kind)} is not supported yet (supported: a vector, a point id, nearest (+ mmr), recommend, discover, context, order_by, fusion, rrf, formula, sample)`,
  )
}

/** Qdrant's `ContextInput` (a pair, a list of pairs or null) -> the engine's pairs of vector inputs. */
export function parseContextPairs(v: unknown, path: string, dimension: number | undefined): ContextPair[] {
  if (isAbsent(v)) return []
  const list = Array.isArray(v) ? v : [v]
  return list.map((p: unknown, i: number) => {
    const ppath = Array.isArray(v) ? `${path}[${i}]` : path
    if (!isPlainObject(p)) fail(ppath, `expected a pair { positive, negative }, got ${describe(p)}`)
    for (const side of ['positive', 'negative'] as const)
      if (isAbsent(p[side])) fail(`${ppath}.${side}`, 'required: a vector or a point id')
    return {
      positive: parseVectorInput(p, 'positive', `${ppath}.positive`, dimension),
      negative: parseVectorInput(p, 'negative', `${ppath}.negative`, dimension),
    }
  })
}

/** One `Prefetch` or the stage fields of a `QueryRequest`. */
function parseStage(o: Obj, path: string, dimension: number): Prefetch {
  const out: Prefetch = {}
  if (!isAbsent(o.lookup_from)) {
    const l = reqObject(o, 'lookup_from', path)
    const lpath = join(path, 'lookup_from')
    unsupported(l, 'shard_key', lpath, 'shard_key')
    if (typeof l.collection !== 'string')
      fail(join(lpath, 'collection'), `expected a collection name, got ${describe(l.collection)}`)
    if (!isAbsent(l.vector) && typeof l.vector !== 'string')
      fail(join(lpath, 'vector'), `expected a vector name, got ${describe(l.vector)}`)
    out.lookupFrom = { collection: l.collection, vector: (l.vector as string | undefined) ?? null }
  }
  const using = o.using
  if (!isAbsent(using)) out.using = using as string
  // the wire checks a dense query's length only against the unnamed vector; the engine checks the rest
  const query = parseQueryInput(o, path, isAbsent(using) || using === '' ? dimension : undefined)
  if (query !== undefined) out.query = query
  const prefetch = o.prefetch
  if (Array.isArray(prefetch)) {
    out.prefetch = prefetch.map((p, i) => {
      const ppath = `${join(path, 'prefetch')}[${i}]`
      if (!isPlainObject(p)) fail(ppath, `expected a prefetch object, got ${describe(p)}`)
      return parseStage(p, ppath, dimension)
    })
  } else if (!isAbsent(prefetch)) {
    out.prefetch = parseStage(reqObject(o, 'prefetch', path), join(path, 'prefetch'), dimension)
  }
  const filter = parseFilter(o.filter, join(path, 'filter'))
  if (filter !== undefined) out.filter = filter
  const limit = optInt(o, 'limit', path, 1)
  if (limit !== undefined) out.limit = limit
  const threshold = optNumber(o, 'score_threshold', path)
  if (threshold !== undefined) out.scoreThreshold = threshold
  const search: SearchOptions = {}
  parseSearchParams(o, path, search)
  const params: QueryParams = {}
  if (search.ef !== undefined) params.hnswEf = search.ef
  if (search.exact !== undefined) params.exact = search.exact
  if (search.nprobe !== undefined) params.nprobe = search.nprobe
  if (search.quantization !== undefined) params.quantization = search.quantization
  if (Object.keys(params).length > 0) out.params = params
  return out
}

/**
 * `POST .../points/query` (or one entry of `query/batch`): Qdrant's `QueryRequest` -> the engine's
 * `QueryRequest`. The engine checks the rest (kinds, strategies, weights) and names the same paths.
 */
export function parseQuery(body: unknown, dimension: number, path = ''): ParsedQuery {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  unsupported(o, 'shard_key', path, 'shard_key')
  const payload = parseWithPayload(o.with_payload, join(path, 'with_payload'), false)
  const request: QueryRequest = {
    ...parseStage(o, path, dimension),
    withPayload: payload.select,
    withVector: parseWithVector(o.with_vector, join(path, 'with_vector'), false),
  }
  const offset = optInt(o, 'offset', path, 0)
  if (offset !== undefined) request.offset = offset
  return { request, payload }
}

/** `POST .../points/query/batch`: `{ searches: [QueryRequest] }`. */
export function parseQueryBatch(body: unknown, dimension: number): ParsedQuery[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a query object, got ${describe(s)}`)
    return parseQuery(s, dimension, `searches[${i}]`)
  })
}

/**
 * Legacy `POST .../points/recommend` (or one entry of `recommend/batch`): Qdrant's
 * `RecommendRequest` -> a recommend query. `positive` / `negative`: point ids or vectors.
 */
export function parseRecommend(body: unknown, dimension: number, path = ''): ParsedQuery {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  unsupported(o, 'shard_key', path, 'shard_key')
  const query = parseRecommendInput(o, path, isAbsent(o.using) || o.using === '' ? dimension : undefined)
  const { request, payload } = parseQuery(
    { ...o, query: undefined, positive: undefined, negative: undefined, strategy: undefined },
    dimension,
    path,
  )
  request.query = query
  if (request.limit === undefined) request.limit = optInt(o, 'top', path, 1) ?? 10
  return { request, payload }
}

/** Legacy `POST .../points/recommend/batch`: `{ searches: [RecommendRequest] }`. */
export function parseRecommendBatch(body: unknown, dimension: number): ParsedQuery[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a recommend object, got ${describe(s)}`)
    return parseRecommend(s, dimension, `searches[${i}]`)
  })
}

/** Legacy `POST .../points/search` (or one entry of `search/batch`): `vector` is an array or `{ name: "", vector }`. */
export function parseSearch(body: unknown, dimension: number, path = ''): ParsedSearch {
  const o = path === '' ? bodyObject(body) : (body as Obj)
  let v = o.vector
  let vpath = join(path, 'vector')
  let using = ''
  if (isPlainObject(v) && 'name' in v) {
    // NamedVector { name, vector: [...] } or NamedSparseVector { name, vector: { indices, values } }
    if (typeof v.name !== 'string') fail(`${vpath}.name`, `expected a vector name, got ${describe(v.name)}`)
    using = v.name
    v = v.vector
    vpath = `${vpath}.vector`
  }
  if (isAbsent(v)) fail(vpath, 'required: the query vector (an array of numbers)', 'INVALID_VECTOR')
  const vector = isPlainObject(v)
    ? (v as unknown as SparseVectorInput)
    : parseVector(v, vpath, using === '' ? dimension : undefined)
  const parsed = parseSearchCommon(o, path, vector, 10)
  if (using !== '') parsed.request.using = using
  return parsed
}

/** Legacy `POST .../points/search/batch`: `{ searches: [SearchRequest] }`. */
export function parseSearchBatch(body: unknown, dimension: number): ParsedSearch[] {
  return reqArray(bodyObject(body), 'searches', '').map((s, i) => {
    if (!isPlainObject(s)) fail(`searches[${i}]`, `expected a search object, got ${describe(s)}`)
    return parseSearch(s, dimension, `searches[${i}]`)
  })
}

/** `{id}` in a URL path: digits are an integer id, anything else must be a UUID. */
export function parsePathPointId(raw: string): PointId {
  if (/^\d+$/.test(raw)) return parsePointId(Number(raw), 'path id', raw)
  return parsePointId(raw, 'path id')
}

/**
 * `POST /collections/{name}/points/batch`: `{ operations: [{ upsert | delete | set_payload |
 * overwrite_payload | delete_payload | clear_payload | update_vectors | delete_vectors: {...} }] }`,
 * each body as its own endpoint takes it -> the engine's batch. Errors name `operations[i].<kind>`.
 */
export function parseBatchUpdate(body: unknown): UpdateOperation[] {
  const o = bodyObject(body)
  return reqArray(o, 'operations', '').map((op, i): UpdateOperation => {
    const at = `operations[${i}]`
    if (!isPlainObject(op) || Object.keys(op).length !== 1)
      fail(
        at,
        'expected exactly one of upsert, delete, set_payload, overwrite_payload, delete_payload, clear_payload, update_vectors, delete_vectors',
      )
    const kind = Object.keys(op)[0]!
    const b = op[kind]
    try {
      switch (kind) {
        case 'upsert':
          return { upsert: { points: parseUpsert(b) } }
        case 'delete':
          return { delete: { selector: parsePointsSelector(b) } }
        case 'set_payload': {
          const { payload, selector, key } = parseSetPayload(b, true)
          return { setPayload: { payload, selector, key: key ?? null } }
        }
        case 'overwrite_payload': {
          const { payload, selector } = parseSetPayload(b, false)
          return { overwritePayload: { payload, selector } }
        }
        case 'delete_payload':
          return { deletePayload: parseDeletePayload(b) }
        case 'clear_payload':
          return { clearPayload: { selector: parsePointsSelector(b) } }
        case 'update_vectors':
          return { updateVectors: { points: parseUpdateVectors(b) } }
        case 'delete_vectors':
          return { deleteVectors: parseDeleteVectors(b) }
        default:
          return fail(at, `unknown operation ${JSON.stringify(kind)}`)
      }
    } catch (err) {
      if (err instanceof QuiverError && !err.message.startsWith(at))
        throw new QuiverError(err.code, `${at}.${kind}: ${err.message}`, err.details, err)
      throw err
    }
  })
}

/** The collections a query's stages look example ids up in (`lookup_from`), for access checks. */
export function lookupCollections(request: Prefetch): string[] {
  const out = new Set<string>()
  const walk = (p: Prefetch) => {
    if (p.lookupFrom !== undefined && p.lookupFrom !== null) out.add(p.lookupFrom.collection)
    const pre = p.prefetch
    if (Array.isArray(pre)) for (const q of pre) walk(q)
    else if (pre !== undefined && pre !== null) walk(pre as Prefetch)
  }
  walk(request)
  return [...out]
}

/** The unnamed vector's size, which the wire checks dense query vectors against (0: the collection has none). */
export function unnamedDimension(config: CollectionConfig): number {
  return config.vectors.get('')?.dimension ?? 0
}
