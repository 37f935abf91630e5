// Input validation for collection operations: every check runs before anything is written, so a
// rejected request changes nothing. Errors name the offending field (`points[3].vector[17]`).

import { describeValue, invalid, QuiverError, typeName } from '../errors.js'
import {
  type FilterNode,
  FORBIDDEN_KEY,
  type KeyPath,
  parseFilter,
  parseKeyPath,
  selectPayload,
} from '../filter/index.js'
import { MIN_POINTS_PER_LIST } from '../index/ivf.js'
import { fail, isPlainObject as isObject, stringArray } from '../json-input.js'
import { parsePointId } from '../point-id.js'
import { parseQuantizationConfig, parseQuantizationSearchParams } from '../quantization/config.js'
import type { PointVectors } from '../segment/segment.js'
import { bm25Document, bm25Query, isBm25Model, parseBm25Options } from '../sparse/bm25.js'
import { type SparseVector, toSparseVector } from '../sparse/sparse-index.js'
import type {
  CollectionConfig,
  CollectionParams,
  CreateCollectionOptions,
  Distance,
  HnswConfig,
  IndexConfig,
  JsonValue,
  MultiVectorConfig,
  OptimizersConfig,
  Payload,
  PointId,
  PointSelector,
  QuantizationSearchParams,
  SearchConfig,
  SparseVectorConfig,
  SparseVectorOptions,
  VectorConfig,
  VectorDatatype,
  VectorOptions,
  WithVector,
} from '../types.js'
import { resolveStrictMode } from './strict-mode-config.js'

export const MAX_DIMENSION = 65_536
export const MAX_LIMIT = 100_000
/** Most shards a collection may have (`params.shardNumber`, Qdrant's `shard_number`). */
export const MAX_SHARDS = 64
/** Most IVF lists per segment (`nlist`). */
export const MAX_NLIST = 65_536
export const DEFAULT_HNSW: HnswConfig = { m: 16, efConstruct: 100, fullScanThreshold: 2_000, ef: 64 }
export const DEFAULT_OPTIMIZERS: OptimizersConfig = {
  deletedThreshold: 0.2,
  vacuumMinVectorNumber: 1000,
  defaultSegmentNumber: 2,
  maxSegmentSize: 262_144,
}

const COLLECTION_NAME_RE = /^[A-Za-z0-9_.-]{1,200}$/

/** Throws INVALID_COLLECTION_NAME unless `name` is 1-255 chars of [A-Za-z0-9_.-] and not `.`/`..`. */
export function checkCollectionName(name: unknown): string {
  if (typeof name !== 'string' || !COLLECTION_NAME_RE.test(name) || name.startsWith('.')) {
    throw new QuiverError(
      'INVALID_COLLECTION_NAME',
      `collection name ${JSON.stringify(name)} is invalid: use 1-200 characters of A-Z a-z 0-9 _ . - not starting with '.'`,
    )
  }
  return name
}

const METRICS: Record<string, Distance> = {
  cosine: 'Cosine',
  dot: 'Dot',
  euclid: 'Euclid',
  l2: 'Euclid',
  manhattan: 'Manhattan',
}

function positiveInt(value: unknown, where: string, max: number, min = 1): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new QuiverError(
      'INVALID_CONFIG',
      `${where} must be an integer in ${min}..${max}, got ${String(value)}`,
    )
  }
  return value
}

function nonNegativeInt(value: unknown, where: string): number {
  return positiveInt(value, where, 2 ** 31, 0)
}

/** Longest vector name (Qdrant: none documented; file names never contain it). */
export const MAX_VECTOR_NAME_LENGTH = 255

function resolveMetric(value: unknown, where: string): Distance {
  const metricName = value ?? 'Cosine'
  const metric = typeof metricName === 'string' ? METRICS[metricName.toLowerCase()] : undefined
  if (metric === undefined) {
    throw new QuiverError(
      'INVALID_CONFIG',
      `${where} ${JSON.stringify(metricName)} is unknown: use Cosine, Dot, Euclid or Manhattan`,
    )
  }
  return metric
}

export function resolveHnsw(
  h: Partial<HnswConfig> | undefined | null,
  base: HnswConfig,
  where: string,
): HnswConfig {
  if (h !== undefined && h !== null && !isObject(h)) configError(where, 'expected an object')
  const o = h ?? {}
  const hnsw: HnswConfig = {
    // m = 0 (Qdrant): no graph for this vector; its searches are exact scans
    m: (o.m ?? base.m) === 0 ? 0 : positiveInt(o.m ?? base.m, `${where}.m`, 128),
    efConstruct: positiveInt(o.efConstruct ?? base.efConstruct, `${where}.efConstruct`, 4096),
    fullScanThreshold: positiveInt(
      o.fullScanThreshold ?? base.fullScanThreshold,
      `${where}.fullScanThreshold`,
      2 ** 31,
    ),
    ef: positiveInt(o.ef ?? base.ef, `${where}.ef`, MAX_LIMIT),
  }
  if (hnsw.m === 1) throw new QuiverError('INVALID_CONFIG', `${where}.m must be 0 (no graph) or >= 2`)
  return hnsw
}

const DATATYPES: readonly VectorDatatype[] = ['float32', 'float16', 'uint8']

/** One dense vector's options -> its config; `path` prefixes error fields (`vectors.text`). */
function resolveVector(
  o: { [K in keyof VectorOptions]?: VectorOptions[K] | undefined },
  base: HnswConfig,
  optimizers: OptimizersConfig,
  path: string,
): VectorConfig {
  if (!isObject(o)) configError(path, 'expected an object with a dimension')
  const at = (k: string) => (path === '' ? k : `${path}.${k}`)
  const dimension = positiveInt(o.dimension, at('dimension'), MAX_DIMENSION)
  const metric = resolveMetric(o.metric, at('metric'))
  const hnsw = resolveHnsw(o.hnsw, base, at('hnsw'))
  const index = resolveIndexConfig(o.index, at('index'), dimension, optimizers.maxSegmentSize)
  const datatype = o.datatype ?? 'float32'
  if (!DATATYPES.includes(datatype as VectorDatatype))
    configError(at('datatype'), `expected one of ${DATATYPES.join(', ')}, got ${describeValue(datatype)}`)
  let multivector: MultiVectorConfig | undefined
  if (o.multivector !== undefined && o.multivector !== null) {
    if (!isObject(o.multivector) || o.multivector.comparator !== 'max_sim')
      configError(at('multivector'), 'expected { comparator: "max_sim" }')
    multivector = { comparator: 'max_sim' }
    if (index !== undefined) configError(at('index'), 'a multivector cannot use IVF')
  }
  if (o.onDisk !== undefined && o.onDisk !== null && typeof o.onDisk !== 'boolean')
    configError(at('onDisk'), `expected a boolean, got ${describeValue(o.onDisk)}`)
  const quantization =
    o.quantization === undefined || o.quantization === null
      ? undefined
      : parseQuantizationConfig(o.quantization, at('quantization'))
  if (quantization !== undefined && multivector !== undefined)
    configError(at('quantization'), 'quantization of multivectors is not supported')
  return {
    dimension,
    metric,
    hnsw,
    ...(quantization === undefined ? {} : { quantization }),
    ...(index === undefined ? {} : { index }),
    datatype: datatype as VectorDatatype,
    ...(multivector === undefined ? {} : { multivector }),
    ...(typeof o.onDisk === 'boolean' ? { onDisk: o.onDisk } : {}),
  }
}

export function resolveSparse(o: SparseVectorOptions, path: string): SparseVectorConfig {
  if (o === undefined || o === null) o = {}
  if (!isObject(o)) configError(path, 'expected an object')
  const modifier = o.modifier ?? 'none'
  if (modifier !== 'none' && modifier !== 'idf')
    configError(`${path}.modifier`, `expected "none" or "idf", got ${describeValue(modifier)}`)
  const fst = o.fullScanThreshold ?? null
  if (fst !== null) nonNegativeInt(fst, `${path}.fullScanThreshold`)
  const onDisk = o.onDisk ?? null
  if (onDisk !== null && typeof onDisk !== 'boolean')
    configError(`${path}.onDisk`, `expected a boolean, got ${describeValue(onDisk)}`)
  return { modifier, fullScanThreshold: fst as number | null, onDisk: onDisk as boolean | null }
}

/** Throws INVALID_CONFIG unless `name` can name a vector. */
export function checkVectorName(name: string, path: string): void {
  if (name.length > MAX_VECTOR_NAME_LENGTH)
    configError(path, `vector name longer than ${MAX_VECTOR_NAME_LENGTH} characters`)
  if (name === FORBIDDEN_KEY) configError(path, `the vector name ${FORBIDDEN_KEY} is not allowed`)
}

/** A user's `{ name: options }` object or Map -> entries (own keys only; the object is not trusted). */
export function entriesOf<T>(value: unknown, path: string): [string, T][] {
  if (value instanceof Map) return [...(value as Map<string, T>).entries()]
  if (!isObject(value)) configError(path, 'expected an object of name -> parameters')
  return Object.keys(value).map((k) => [k, (value as Record<string, T>)[k]!])
}

/**
 * Throws INVALID_CONFIG unless every IVF vector's `nlist` lists can train within one segment of
 * `maxSegmentSize` KiB (a segment's size counts every dense vector of a point). The error names
 * `vectors.<name>.index.nlist`, or `unnamedPath` for the unnamed vector.
 */
export function checkIvfListsTrainable(
  vectors: ReadonlyMap<string, VectorConfig>,
  maxSegmentSize: number,
  unnamedPath: string,
): void {
  let floats = 0
  for (const v of vectors.values()) floats += v.dimension
  for (const [name, v] of vectors) {
    if (v.index?.type === 'ivf' && v.index.nlist !== null)
      checkIvfTrainable(
        v.index.nlist,
        floats,
        maxSegmentSize,
        name === '' ? unnamedPath : `vectors.${name}.index.nlist`,
      )
  }
}

/** Normalises create options to a full config; throws INVALID_CONFIG. */
export function resolveConfig(options: CreateCollectionOptions): CollectionConfig {
  if (typeof options !== 'object' || options === null) {
    throw new QuiverError('INVALID_CONFIG', 'collection options must be an object with a dimension')
  }
  const hnsw = resolveHnsw(options.hnsw, DEFAULT_HNSW, 'hnsw')
  const optimizers = resolveOptimizers(options.optimizers)
  const vectors = new Map<string, VectorConfig>()
  const named = options.vectors !== undefined && options.vectors !== null
  if (named) {
    for (const key of ['dimension', 'metric', 'datatype', 'multivector', 'onDisk'] as const) {
      if (options[key] !== undefined && options[key] !== null)
        configError(
          key,
          'give either the unnamed vector (dimension, ...) or named vectors (vectors), not both',
        )
    }
    for (const [name, o] of entriesOf<VectorOptions>(options.vectors, 'vectors')) {
      const path = `vectors.${name}`
      checkVectorName(name, path)
      const withDefaults = {
        ...o,
        quantization: o?.quantization === undefined ? options.quantization : o.quantization,
        index: o?.index === undefined ? options.index : o.index,
      }
      vectors.set(name, resolveVector(withDefaults, hnsw, optimizers, path))
    }
  } else if (
    options.dimension !== undefined ||
    options.sparseVectors === undefined ||
    options.sparseVectors === null
  ) {
    vectors.set(
      '',
      resolveVector(
        {
          dimension: options.dimension as number,
          metric: options.metric,
          quantization: options.quantization,
          index: options.index,
          datatype: options.datatype,
          multivector: options.multivector,
          onDisk: options.onDisk,
        },
        hnsw,
        optimizers,
        '',
      ),
    )
  }
  const sparseVectors = new Map<string, SparseVectorConfig>()
  if (options.sparseVectors !== undefined && options.sparseVectors !== null) {
    for (const [name, o] of entriesOf<SparseVectorOptions>(options.sparseVectors, 'sparseVectors')) {
      const path = `sparseVectors.${name}`
      checkVectorName(name, path)
      if (vectors.has(name)) configError(path, `the name ${JSON.stringify(name)} is already a dense vector`)
      sparseVectors.set(name, resolveSparse(o, path))
    }
  }
  checkIvfListsTrainable(vectors, optimizers.maxSegmentSize, 'index.nlist')
  const params = resolveParams(options.params ?? undefined, undefined, 'params', true)
  const quantization =
    options.quantization === undefined || options.quantization === null
      ? undefined
      : parseQuantizationConfig(options.quantization, 'quantization')
  const strictMode =
    options.strictMode === undefined || options.strictMode === null
      ? undefined
      : resolveStrictMode(options.strictMode, 'strictMode')
  const searchConfig = resolveSearchConfig(options.searchConfig, undefined, 'searchConfig')
  return {
    vectors,
    sparseVectors,
    hnsw,
    optimizers,
    ...(quantization === undefined ? {} : { quantization }),
    ...(params === undefined ? {} : { params }),
    ...(strictMode === undefined ? {} : { strictMode }),
    ...(searchConfig === undefined ? {} : { searchConfig }),
  }
}

/**
 * Quiver's search settings (`searchConfig`) merged over `current`: an object with
 * `recallSampleRate` (0..1) and `targetRecall` (0 < t < 1); an absent field stays, `null` removes it. Undefined when nothing is set. Throws
 * INVALID_CONFIG naming `path`.
 */
export function resolveSearchConfig(
  input: unknown,
  current: SearchConfig | undefined,
  path: string,
): SearchConfig | undefined {
  if (input === undefined || input === null) return current
  if (typeof input !== 'object' || Array.isArray(input))
    configError(path, `expected an object, got ${describeValue(input)}`)
  const o = input as Record<string, unknown>
  for (const key of Object.keys(o))
    if (key !== 'recallSampleRate' && key !== 'targetRecall')
      configError(`${path}.${key}`, 'unknown search setting (recallSampleRate, targetRecall)')
  let out = current
  const rate = o.recallSampleRate
  // null removes a setting (back to the database's default); absent leaves it
  if (rate === null && out !== undefined) {
    const { recallSampleRate: _, ...rest } = out
    out = rest
  }
  if (o.targetRecall === null && out !== undefined) {
    const { targetRecall: _, ...rest } = out
    out = rest
  }
  if (rate !== undefined && rate !== null) {
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1)
      configError(`${path}.recallSampleRate`, `expected a number from 0 to 1, got ${describeValue(rate)}`)
    out = { ...out, recallSampleRate: rate }
  }
  const target = o.targetRecall
  if (target !== undefined && target !== null) {
    if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0 || target >= 1)
      configError(
        `${path}.targetRecall`,
        `expected a number between 0 and 1 (exclusive), got ${describeValue(target)}`,
      )
    out = { ...out, targetRecall: target }
  }
  return out === undefined || Object.keys(out).length === 0 ? undefined : out
}

/**
 * Deployment parameters (`base` with `input`'s given fields) -> the stored ones (undefined when none
 * is set); factors are integers 1..1024 (`readFanOutFactor` 0..1024), `onDiskPayload` a boolean. Throws INVALID_CONFIG naming
 * `path.field`.
 */
export function resolveParams(
  input: CollectionParams | null | undefined,
  base: CollectionParams | undefined,
  path: string,
  creating = false,
): CollectionParams | undefined {
  if (input !== undefined && input !== null && !isObject(input)) configError(path, 'expected an object')
  const out: { -readonly [K in keyof CollectionParams]: CollectionParams[K] } = { ...base }
  const o = (input ?? {}) as Record<string, unknown>
  for (const key of Object.keys(o)) {
    const value = o[key]
    if (value === undefined || value === null) continue
    if (key === 'shardNumber') {
      if (!creating) configError(`${path}.${key}`, 'the shard number is fixed when the collection is created')
      out.shardNumber = positiveInt(value, `${path}.${key}`, MAX_SHARDS, 1)
    } else if (key === 'onDiskPayload') {
      if (typeof value !== 'boolean')
        configError(`${path}.${key}`, `expected a boolean, got ${describeValue(value)}`)
      out.onDiskPayload = value
    } else if (
      key === 'replicationFactor' ||
      key === 'writeConsistencyFactor' ||
      key === 'readFanOutFactor'
    ) {
      out[key] = positiveInt(value, `${path}.${key}`, 1024, key === 'readFanOutFactor' ? 0 : 1)
    } else
      configError(
        `${path}.${key}`,
        'unknown parameter (shardNumber, onDiskPayload, replicationFactor, writeConsistencyFactor, readFanOutFactor)',
      )
  }
  return Object.keys(out).length === 0 ? undefined : out
}

/**
 * The config of dense vector `name`; throws INVALID_ARGUMENT naming `where` when the collection
 * has none of that name (Qdrant: "Wrong input: Not existing vector name error").
 */
export function denseVector(config: CollectionConfig, name: string, where: string): VectorConfig {
  const v = config.vectors.get(name)
  if (v !== undefined) return v
  throw vectorNameError(config, name, where)
}

export function vectorNameError(config: CollectionConfig, name: string, where: string): QuiverError {
  const names = [...config.vectors.keys(), ...config.sparseVectors.keys()].map((n) => JSON.stringify(n))
  return invalid(
    `${where}: Wrong input: Not existing vector name error: ${name === '' ? '(the unnamed vector "")' : JSON.stringify(name)}; this collection has ${names.length === 0 ? 'no vectors' : names.join(', ')}`,
    { path: where },
  )
}

export function configError(path: string, message: string): never {
  return fail(path, message, 'INVALID_CONFIG')
}

/**
 * IVF parameters `{ nlist?, nprobe? }` (absent or null = automatic) -> `{ nlist, nprobe }` with
 * nulls for automatic: nlist 1..MAX_NLIST, nprobe 1..nlist (1..MAX_NLIST when nlist is automatic).
 * Keys in `extraKeys` are skipped; any other key is refused. Throws INVALID_CONFIG naming `path.key`.
 * @example parseIvfParams({ nlist: 1024, nprobe: 32 }, 'ivf_config') // { nlist: 1024, nprobe: 32 }
 */
export function parseIvfParams(
  value: unknown,
  path: string,
  extraKeys: readonly string[] = [],
): { nlist: number | null; nprobe: number | null } {
  if (!isObject(value)) configError(path, 'expected an object { "nlist"?, "nprobe"? }')
  for (const key of Object.keys(value)) {
    if (key !== 'nlist' && key !== 'nprobe' && !extraKeys.includes(key))
      configError(`${path}.${key}`, 'unknown field (expected "nlist", "nprobe")')
  }
  const int = (key: string, max: number): number | null => {
    const v = value[key]
    if (v === undefined || v === null) return null
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max)
      configError(`${path}.${key}`, `expected an integer in 1..${max}, got ${JSON.stringify(v) ?? String(v)}`)
    return v
  }
  const nlist = int('nlist', MAX_NLIST)
  return { nlist, nprobe: int('nprobe', nlist ?? MAX_NLIST) }
}

/**
 * Throws INVALID_CONFIG (naming `path`) when `nlist` lists could never train: training needs
 * MIN_POINTS_PER_LIST live vectors per list in one segment, and a segment holds at most
 * `maxSegmentSize` KiB of vectors of `dimension` floats.
 */
export function checkIvfTrainable(
  nlist: number,
  dimension: number,
  maxSegmentSize: number,
  path: string,
): void {
  const perSegment = Math.floor((maxSegmentSize * 1024) / (dimension * 4))
  const needed = nlist * MIN_POINTS_PER_LIST
  if (needed > perSegment)
    configError(
      path,
      `${nlist} lists need ${needed} vectors in one segment to train (${MIN_POINTS_PER_LIST} per list), but a segment holds at most ${perSegment} at dimension ${dimension} (optimizers.maxSegmentSize ${maxSegmentSize} KiB); lower nlist or raise maxSegmentSize`,
    )
}

/**
 * The `index` option -> the config's `index`: undefined for HNSW (absent, null or `{ type: 'hnsw' }`),
 * `{ type: 'ivf', nlist, nprobe }` for IVF. Throws INVALID_CONFIG naming `path` (e.g. `index.nlist`).
 */
export function resolveIndexConfig(
  value: unknown,
  path: string,
  dimension: number,
  maxSegmentSize: number,
): IndexConfig | undefined {
  if (value === undefined || value === null) return undefined
  if (!isObject(value)) configError(path, `expected { type: 'hnsw' } or { type: 'ivf', nlist?, nprobe? }`)
  if (value.type === 'hnsw') {
    for (const key of Object.keys(value))
      if (key !== 'type') configError(`${path}.${key}`, 'unknown field (HNSW parameters go in hnsw)')
    return undefined
  }
  if (value.type !== 'ivf')
    configError(`${path}.type`, `expected 'hnsw' or 'ivf', got ${JSON.stringify(value.type) ?? 'nothing'}`)
  const { nlist, nprobe } = parseIvfParams(value, path, ['type'])
  if (nlist !== null) checkIvfTrainable(nlist, dimension, maxSegmentSize, `${path}.nlist`)
  return { type: 'ivf', nlist, nprobe }
}

/** Optimizer settings with defaults filled in; throws INVALID_CONFIG naming a bad field. */
export function resolveOptimizers(input: Partial<OptimizersConfig> | undefined): OptimizersConfig {
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw new QuiverError('INVALID_CONFIG', 'optimizers must be an object')
  }
  const o = input ?? {}
  const deletedThreshold = o.deletedThreshold ?? DEFAULT_OPTIMIZERS.deletedThreshold
  if (typeof deletedThreshold !== 'number' || !(deletedThreshold > 0 && deletedThreshold <= 1)) {
    throw new QuiverError('INVALID_CONFIG', 'optimizers.deletedThreshold must be a number in (0, 1]')
  }
  return {
    deletedThreshold,
    vacuumMinVectorNumber: nonNegativeInt(
      o.vacuumMinVectorNumber ?? DEFAULT_OPTIMIZERS.vacuumMinVectorNumber,
      'optimizers.vacuumMinVectorNumber',
    ),
    defaultSegmentNumber: positiveInt(
      o.defaultSegmentNumber ?? DEFAULT_OPTIMIZERS.defaultSegmentNumber,
      'optimizers.defaultSegmentNumber',
      1024,
    ),
    maxSegmentSize: positiveInt(
      o.maxSegmentSize ?? DEFAULT_OPTIMIZERS.maxSegmentSize,
      'optimizers.maxSegmentSize',
      2 ** 31,
    ),
  }
}

/**
 * The largest squared L2 norm (computed in float64 from the float32 components) of a Dot, Euclid or
 * Manhattan vector: `‖v‖ <= 1e16`. Then every score between two accepted vectors, and every sum
 * the kernels form on the way, is a finite float32 (float32 max ≈ 3.4e38; N = this bound, d <= 65536):
 * |dot| <= ‖a‖‖b‖ <= N, squared L2 ‖a - b‖² <= (‖a‖ + ‖b‖)² <= 4N, L1 <= √d (‖a‖ + ‖b‖) <= 2√(dN),
 * and a SIMD lane's partial sum is bounded like the whole. Quantized codes reconstruct values in
 * [lo, hi] ⊂ [-√N, √N]: scalar int8's dot adds terms up to 4dN + 2·2dN + dN = 9dN ≈ 5.9e37 (the
 * binding case: it rules out 1e33), product quantization's table sums stay below (1 + √d)²N, binary's
 * (scale <= 2√N) below 16dN ≈ 1.05e38. IVF and product centroids are means, so their norms stay <= √N.
 * Cosine vectors are unit after normalisation and need only finite components.
 */
export const MAX_SQUARED_NORM = 1e32

/**
 * Checks a vector and converts it to float32. Throws INVALID_VECTOR for a wrong length, a
 * non-number, NaN/Infinity, a value that overflows float32, or (metric other than Cosine) a squared
 * L2 norm above MAX_SQUARED_NORM.
 */
export function toVector(
  input: unknown,
  dimension: number,
  metric: Distance,
  where = 'vector',
): Float32Array {
  const out = toFloat32(input, dimension, where)
  if (metric !== 'Cosine') checkNorm(out, metric, where)
  return out
}

function checkNorm(v: Float32Array, metric: Distance, where: string): void {
  let squared = 0
  for (let i = 0; i < v.length; i++) squared += v[i]! * v[i]!
  if (squared <= MAX_SQUARED_NORM) return
  let largest = 0
  for (let i = 1; i < v.length; i++) if (Math.abs(v[i]!) > Math.abs(v[largest]!)) largest = i
  throw new QuiverError(
    'INVALID_VECTOR',
    `${where} has squared L2 norm ${Number(squared.toPrecision(10))} (largest component ${where}[${largest}] = ${Number(v[largest]!.toPrecision(7))}), above the limit ${MAX_SQUARED_NORM} for ${metric}: its scores could overflow float32; scale the vectors down`,
    { squaredNorm: squared, limit: MAX_SQUARED_NORM },
  )
}

function toFloat32(input: unknown, dimension: number, where: string): Float32Array {
  if (
    input === null ||
    typeof input !== 'object' ||
    typeof (input as { length?: unknown }).length !== 'number'
  ) {
    throw new QuiverError('INVALID_VECTOR', `${where} must be an array of ${dimension} numbers`)
  }
  const arr = input as ArrayLike<unknown>
  if (arr.length !== dimension) {
    throw new QuiverError('INVALID_VECTOR', `${where} has dimension ${arr.length}, expected ${dimension}`, {
      expected: dimension,
      got: arr.length,
    })
  }
  if (input instanceof Float32Array) {
    // typed input: only non-finite values can be wrong (x - x is NaN for NaN and ±Infinity)
    for (let i = 0; i < dimension; i++) {
      const x = input[i]!
      if (x - x !== 0) {
        throw new QuiverError(
          'INVALID_VECTOR',
          `${where}[${i}] is ${String(x)}: every component must be a finite number`,
        )
      }
    }
    return input.slice()
  }
  const out = new Float32Array(dimension)
  for (let i = 0; i < dimension; i++) {
    const x = arr[i]
    if (typeof x !== 'number' || !Number.isFinite(x)) {
      throw new QuiverError(
        'INVALID_VECTOR',
        `${where}[${i}] is ${describeValue(x)}: every component must be a finite number`,
      )
    }
    out[i] = x
    if (!Number.isFinite(out[i]!)) {
      throw new QuiverError('INVALID_VECTOR', `${where}[${i}] = ${x} overflows float32`)
    }
  }
  return out
}

function checkJson(value: unknown, where: string, depth: number): JsonValue {
  if (depth > 64) throw new QuiverError('INVALID_PAYLOAD', `${where}: payload nested deeper than 64 levels`)
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value))
      throw new QuiverError('INVALID_PAYLOAD', `${where} is ${value}: not valid JSON`)
    return value
  }
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) checkJson(value[i], `${where}[${i}]`, depth + 1)
    return value as JsonValue[]
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [k, v] of Object.entries(value)) {
      if (k === '__proto__')
        throw new QuiverError('INVALID_PAYLOAD', `${where}: the key __proto__ is not allowed`)
      checkJson(v, `${where}.${k}`, depth + 1)
    }
    return value as Payload
  }
  throw new QuiverError('INVALID_PAYLOAD', `${where} is ${typeName(value)}: payload values must be JSON`)
}

/** A payload: a plain JSON object, or null/undefined for none. Throws INVALID_PAYLOAD. */
export function toPayload(input: unknown, where = 'payload'): Payload | undefined {
  if (input === undefined || input === null) return undefined
  if (
    typeof input !== 'object' ||
    Array.isArray(input) ||
    Object.getPrototypeOf(input) !== Object.prototype
  ) {
    throw new QuiverError('INVALID_PAYLOAD', `${where} must be a JSON object, got ${typeName(input)}`)
  }
  return checkJson(input, where, 0) as Payload
}

/** A payload key path for writes (set_payload `key`, delete_payload keys); `__proto__` is refused. */
export function toWriteKey(key: unknown, where: string): string {
  if (typeof key !== 'string') throw invalid(`${where} must be a string`)
  parseKeyPath(key, where)
  return key
}

export function toIds(input: unknown, where = 'ids'): PointId[] {
  if (!Array.isArray(input)) throw invalid(`${where} must be an array of point ids`)
  return input.map((id, i) => parsePointId(id, `${where}[${i}]`))
}

/** A validated selector: ids, or a filter kept both as JSON (for the WAL) and parsed. */
export type ResolvedSelector = { ids: PointId[] } | { filter: unknown; node: FilterNode }

export function toSelector(input: PointSelector | undefined, where = 'selector'): ResolvedSelector {
  if (typeof input !== 'object' || input === null) {
    throw invalid(`${where} must be { ids: [...] } or { filter: {...} }`)
  }
  const hasIds = 'ids' in input && input.ids !== undefined
  const hasFilter = 'filter' in input && input.filter !== undefined
  if (hasIds === hasFilter) throw invalid(`${where} must have exactly one of ids or filter`)
  if (hasIds) return { ids: toIds((input as { ids: unknown }).ids, `${where}.ids`) }
  const filter = (input as { filter: unknown }).filter
  return { filter, node: parseFilter(filter, `${where}.filter`) }
}

export function toLimit(value: unknown, where: string, fallback: number): number {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw invalid(`${where} must be an integer in 1..${MAX_LIMIT}, got ${String(value)}`)
  }
  return value
}

export function toOffset(value: unknown, where: string): number {
  if (value === undefined || value === null) return 0
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_LIMIT) {
    throw invalid(`${where} must be an integer in 0..${MAX_LIMIT}, got ${String(value)}`)
  }
  return value
}

/**
 * A validated `withPayload`: all (`true`), none (`false`), or the parsed key paths to keep or drop
 * (see {@link projectPayload}).
 */
export type PayloadProjection =
  | boolean
  | { readonly include: readonly KeyPath[] }
  | { readonly exclude: readonly KeyPath[] }

/**
 * `withPayload` (Qdrant's `with_payload`): `true`, `false`, a list of key paths (= `{ include }`),
 * `{ include: [...] }` or `{ exclude: [...] }`; absent or null -> `fallback`. Key paths follow
 * Qdrant's grammar (`a.b`, `a[].b`, `"dotted.key"`; see parseKeyPath). Throws INVALID_ARGUMENT
 * naming `where` (or the bad key, `where[2]`, `where.include[0]`); `__proto__` is refused.
 * @example toWithPayload({ exclude: ['meta.raw'] }, 'withPayload', true)
 */
export function toWithPayload(value: unknown, where: string, fallback: boolean): PayloadProjection {
  if (value === undefined || value === null) return fallback
  if (typeof value === 'boolean') return value
  if (Array.isArray(value)) return { include: selectorPaths(value, where) }
  if (isObject(value)) {
    const keys = Object.keys(value)
    if (keys.length === 1 && keys[0] === 'include')
      return { include: selectorPaths(value.include, `${where}.include`) }
    if (keys.length === 1 && keys[0] === 'exclude')
      return { exclude: selectorPaths(value.exclude, `${where}.exclude`) }
  }
  return fail(
    where,
    `expected true, false, a list of keys, { include: [...] } or { exclude: [...] }, got ${describeValue(value)}`,
  )
}

function selectorPaths(value: unknown, where: string): KeyPath[] {
  return stringArray(value, where).map((k, i) => parseKeyPath(k, `${where}[${i}]`))
}

/** A search's `quantization` parameters (absent/null -> undefined); throws INVALID_ARGUMENT naming `where`. */
export function toQuantizationParams(value: unknown, where: string): QuantizationSearchParams | undefined {
  return parseQuantizationSearchParams(value, where)
}

/** A recall target: absent/null -> undefined, else a number in (0, 1); throws INVALID_ARGUMENT naming `where`. */
export function toTargetRecall(value: unknown, where: string): number | undefined {
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value >= 1)
    throw invalid(
      `${where} must be a number between 0 and 1 (exclusive: the recall@10 to reach), got ${describeValue(value)}`,
    )
  return value
}

/** `withVector`: a boolean or a list of vector names; default false. Throws INVALID_ARGUMENT. */
export function toWithVector(value: unknown, where: string): WithVector {
  if (value === undefined || value === null) return false
  if (typeof value === 'boolean') return value
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return [...value] as string[]
  throw invalid(`${where} must be a boolean or an array of vector names, got ${describeValue(value)}`)
}

export function toBool(value: unknown, where: string, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback
  if (typeof value !== 'boolean') throw invalid(`${where} must be a boolean`)
  return value
}

/**
 * A stored payload as a read returns it: undefined for `false`, else the payload (`{}` when the
 * point has none) whole or cut by the projection's key paths (selectPayload: Qdrant's include /
 * exclude semantics, nested paths keep their structure).
 */
export function projectPayload(
  payload: Payload | undefined,
  withPayload: PayloadProjection,
): Payload | undefined {
  if (withPayload === false) return undefined
  const p = payload ?? {}
  if (withPayload === true) return p
  return 'include' in withPayload
    ? selectPayload(p, withPayload.include, 'include')
    : selectPayload(p, withPayload.exclude, 'exclude')
}

/** float32 -> the nearest float16 value (round half to even), as a float32; ±65504 bounds. */
export function roundFloat16(x: number): number {
  if (!Number.isFinite(x) || x === 0) return x
  const a = Math.abs(x)
  if (a >= 65520) return Math.sign(x) * Number.POSITIVE_INFINITY
  // spacing of float16 values around a: 2^(e - 10), subnormals below 2^-14 share 2^-24
  const e = Math.max(Math.floor(Math.log2(a)), -14)
  const ulp = 2 ** (e - 10)
  const q = a / ulp
  let r = Math.round(q)
  if (Math.abs(q - Math.trunc(q) - 0.5) < 1e-12 && r % 2 === 1) r -= 1 // ties to even
  return Math.sign(x) * r * ulp
}

/**
 * Applies a vector's datatype to validated components in place: `float16` rounds each to the
 * nearest float16 (an overflow past ±65504 is INVALID_VECTOR), `uint8` truncates toward zero and
 * saturates to 0..255, as Qdrant converts them.
 */
function applyDatatype(v: Float32Array, datatype: VectorDatatype, where: string): void {
  if (datatype === 'float32') return
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!
    if (datatype === 'float16') {
      const r = roundFloat16(x)
      if (!Number.isFinite(r))
        throw new QuiverError(
          'INVALID_VECTOR',
          `${where}[${i}] = ${x} overflows float16 (datatype float16: |x| <= 65504)`,
        )
      v[i] = r
    } else {
      // Qdrant's conversion: truncate toward zero, saturate to 0..255
      v[i] = Math.min(255, Math.max(0, Math.trunc(x))) + 0 // -0.4 rounds to -0; a uint8 holds 0
    }
  }
}

/**
 * One dense value of vector `config`: numbers (or, for a multivector, a non-empty array of rows of
 * numbers; rows concatenated). Checks like `toVector` per row, then applies the datatype.
 */
export function toDenseValue(input: unknown, config: VectorConfig, where: string): Float32Array {
  if (config.multivector === undefined) {
    const v = toVector(input, config.dimension, config.metric, where)
    applyDatatype(v, config.datatype, where)
    return v
  }
  // a flat vector of `dimension` numbers is a one-row multivector (Qdrant accepts it)
  if (
    isVectorArray(input) &&
    (input as ArrayLike<unknown>).length > 0 &&
    typeof (input as ArrayLike<unknown>)[0] === 'number'
  )
    input = [input]
  if (!Array.isArray(input) || input.length === 0 || !input.every((r) => isVectorArray(r)))
    throw new QuiverError(
      'INVALID_VECTOR',
      `${where} must be a multivector: a non-empty array of rows of ${config.dimension} numbers`,
    )
  const out = new Float32Array(input.length * config.dimension)
  input.forEach((row, r) => {
    const v = toVector(row, config.dimension, config.metric, `${where}[${r}]`)
    applyDatatype(v, config.datatype, `${where}[${r}]`)
    out.set(v, r * config.dimension)
  })
  return out
}

function isVectorArray(v: unknown): boolean {
  return Array.isArray(v) || (ArrayBuffer.isView(v) && !(v instanceof DataView))
}

/**
 * A point's `vector` field -> checked vectors. An array is the unnamed vector (rows for an unnamed
 * multivector); an object maps vector names (dense, sparse or multi) to values. The unnamed vector
 * is required when the collection has one (Qdrant's rule); named vectors are optional. Throws
 * INVALID_VECTOR naming the field (`points[3].vector.text[17]`) for an unknown name, a missing
 * required vector or a bad value.
 */
export function toPointVectors(
  input: unknown,
  config: CollectionConfig,
  where: string,
  options: { partial?: boolean } = {},
): PointVectors {
  const dense = new Map<string, Float32Array>()
  const sparse = new Map<string, SparseVector>()
  const unnamed = config.vectors.get('')
  // the unnamed vector is required only when it is the collection's one vector (Qdrant: with other
  // vectors, every vector of a point is optional)
  const required = unnamed !== undefined && config.vectors.size === 1 && config.sparseVectors.size === 0
  if (input === undefined || input === null) {
    if (required && options.partial !== true)
      throw new QuiverError(
        'INVALID_VECTOR',
        `${where} is missing: this collection's points need the unnamed vector of ${unnamed!.dimension} numbers`,
      )
    return { dense, sparse }
  }
  if (isVectorArray(input)) {
    if (unnamed === undefined)
      throw new QuiverError(
        'INVALID_VECTOR',
        `${where}: this collection has no unnamed vector; give named vectors { "name": [...] } (${[...config.vectors.keys(), ...config.sparseVectors.keys()].map((n) => JSON.stringify(n)).join(', ') || 'none defined'})`,
      )
    dense.set('', toDenseValue(input, unnamed, where))
    return { dense, sparse }
  }
  if (
    typeof input !== 'object' ||
    (Object.getPrototypeOf(input) !== Object.prototype && !(input instanceof Map))
  )
    throw new QuiverError(
      'INVALID_VECTOR',
      `${where} must be an array of numbers or an object of named vectors, got ${describeValue(input)}`,
    )
  const entries: [string, unknown][] =
    input instanceof Map
      ? [...(input as Map<string, unknown>)]
      : Object.keys(input).map((k) => [k, (input as Record<string, unknown>)[k]])
  for (const [name, value] of entries) {
    const at = `${where}.${name}`
    const dc = config.vectors.get(name)
    if (dc !== undefined) {
      dense.set(name, toDenseValue(value, dc, at))
      continue
    }
    if (config.sparseVectors.has(name)) {
      sparse.set(name, toSparseValue(value, at, 'document'))
      continue
    }
    throw new QuiverError(
      'INVALID_VECTOR',
      `${at}: Wrong input: Not existing vector name error: ${JSON.stringify(name)}; this collection has ${[...config.vectors.keys(), ...config.sparseVectors.keys()].map((n) => JSON.stringify(n)).join(', ') || 'no vectors'}`,
    )
  }
  if (required && !dense.has('') && options.partial !== true)
    throw new QuiverError('INVALID_VECTOR', `${where}: the unnamed vector "" is required in this collection`)
  return { dense, sparse }
}

/** Whether `v` is a document for server-side inference (`{ text, model, options? }`, Qdrant 1.15+). */
export function isDocumentInput(v: unknown): v is { text: unknown; model?: unknown; options?: unknown } {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && 'text' in v
}

/** Whether `v` is a sparse vector `{ indices, values }` or a document, not a query kind object. */
export function isSparseOrDocumentInput(v: unknown): boolean {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !ArrayBuffer.isView(v) &&
    ('indices' in v || 'values' in v || 'text' in v)
  )
}

/**
 * A sparse vector value: `{ indices, values }` (checked by `toSparseVector`; its squared L2 norm at
 * most MAX_SQUARED_NORM so every dot product, idf-weighted too, stays a finite float32), or a BM25
 * document `{ text, model: "qdrant/bm25" | "bm25", options? }` (Qdrant's server-side inference):
 * `side` `document` gives BM25 term-frequency weights (stored), `query` weight 1 per distinct term
 * (the index's `modifier: "idf"` supplies IDF). Throws INVALID_VECTOR / INVALID_ARGUMENT naming `where`.
 */
export function toSparseValue(input: unknown, where: string, side: 'document' | 'query'): SparseVector {
  if (isDocumentInput(input)) {
    for (const k of Object.keys(input))
      if (k !== 'text' && k !== 'model' && k !== 'options')
        throw invalid(`${where}.${k}: unknown field of a document (expected text, model, options)`)
    const model = input.model
    if (typeof model !== 'string' || !isBm25Model(model))
      throw invalid(
        `${where}.model: Quiver computes only the "qdrant/bm25" model on the server (for sparse vectors); got ${describeValue(model)}. Send vectors for other models`,
      )
    if (typeof input.text !== 'string')
      throw new QuiverError(
        'INVALID_VECTOR',
        `${where}.text must be a string, got ${describeValue(input.text)}`,
      )
    const options = parseBm25Options(input.options, `${where}.options`)
    return side === 'document' ? bm25Document(input.text, options) : bm25Query(input.text, options)
  }
  const v = toSparseVector(input, where)
  let squared = 0
  for (let i = 0; i < v.values.length; i++) squared += v.values[i]! * v.values[i]!
  if (squared > MAX_SQUARED_NORM)
    throw new QuiverError(
      'INVALID_VECTOR',
      `${where} has squared L2 norm ${Number(squared.toPrecision(10))}, above the limit ${MAX_SQUARED_NORM}: its scores could overflow float32; scale the values down`,
    )
  return v
}
