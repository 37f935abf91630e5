// Wire format of `/collections`: create and update bodies in, `CollectionInfo` (config, HNSW,
// optimizers, vector params) out. Shapes follow Qdrant's openapi.json and @qdrant/js-client-rest 1.18.

import { sameQuantization } from '../../collection/reconfigure.js'
import { parseStrictModeConfig, strictModeToWire } from '../../collection/strict-mode-config.js'
import { checkIvfTrainable, DEFAULT_OPTIMIZERS, parseIvfParams } from '../../collection/validate.js'
import { QuiverError } from '../../errors.js'
import {
  describe,
  fail,
  isAbsent,
  isPlainObject,
  join,
  optBool,
  optInt,
  optNumber,
  reqObject,
} from '../../json-input.js'
import { parseQuantizationConfig } from '../../quantization/config.js'
import type {
  CollectionClusterInfo,
  CollectionConfig,
  CollectionInfo,
  CollectionParams,
  CollectionUpdate,
  CreateCollectionOptions,
  Distance,
  HnswConfig,
  OptimizersConfig,
  QuantizationConfig,
  RecallEstimate,
  SearchConfigUpdate,
  ShardState,
  SparseVectorOptions,
  SparseVectorUpdate,
  VectorConfig,
  VectorDatatype,
  VectorOptions,
  VectorUpdate,
} from '../../types.js'
import { bodyObject, unsupported } from './common.js'
import { toWirePayloadIndexInfo, type WirePayloadIndexInfo } from './field-index.js'

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
  /** Only the fields whose value differs from the collection's `hnsw_config` (as Qdrant echoes the given ones). */
  hnsw_config?: { m?: number; ef_construct?: number; full_scan_threshold?: number }
  quantization_config?: QuantizationConfig
  ivf_config?: { nlist: number | null; nprobe: number | null }
}

/** Qdrant's `SparseVectorParams`. */
export interface WireSparseVectorParams {
  index?: { full_scan_threshold?: number; on_disk?: boolean }
  modifier?: 'idf' | 'none'
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
      read_fan_out_factor?: number
      on_disk_payload: boolean
    }
    hnsw_config: WireHnswConfig
    optimizer_config: WireOptimizersConfig
    /** As given at creation or by PATCH (nulls dropped); null when the collection has none (as Qdrant). */
    quantization_config: QuantizationConfig | null
    /** Qdrant's strict mode as set (absent fields left out); absent when never set. */
    strict_mode_config?: Record<string, unknown>
    /** Quiver's extension: the collection's search settings; absent when never set. */
    search_config?: { recall_sample_rate: number | null; target_recall: number | null }
    /** Quiver's extension: the IVF parameters (null = automatic) when the collection uses IVF, else null. */
    ivf_config: WireIvfConfig | null
  }
  payload_schema: Record<string, WirePayloadIndexInfo>
  /** Per field key: filtered requests since open that evaluated it without an index. */
  unindexed_filter_fields: Record<string, number>
  /** Writes logged and not yet applied (`wait=false` ones). */
  update_queue?: { length: number }
  /** Quiver's extension: live recall@k estimates (src/collection/recall-sampler.ts). */
  recall_estimates?: RecallEstimate[]
}

/** Quiver's `ivf_config` (not in Qdrant): its presence at creation selects the IVF index. */
export interface WireIvfConfig {
  nlist: number | null
  nprobe: number | null
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

function toWireVectorParams(v: VectorConfig, config: CollectionConfig, named: boolean): WireVectorParams {
  const base = config.hnsw
  const out: WireVectorParams = { size: v.dimension, distance: v.metric }
  if (v.datatype !== 'float32') out.datatype = v.datatype
  if (v.multivector !== undefined) out.multivector_config = { comparator: v.multivector.comparator }
  if (v.onDisk !== undefined) out.on_disk = v.onDisk
  const h = v.hnsw
  if (h.m !== base.m || h.efConstruct !== base.efConstruct || h.fullScanThreshold !== base.fullScanThreshold)
    out.hnsw_config = {
      ...(h.m === base.m ? {} : { m: h.m }),
      ...(h.efConstruct === base.efConstruct ? {} : { ef_construct: h.efConstruct }),
      ...(h.fullScanThreshold === base.fullScanThreshold ? {} : { full_scan_threshold: h.fullScanThreshold }),
    }
  // a vector's own quantization (Qdrant echoes the collection-level one only at the top)
  if (v.quantization !== undefined && !sameQuantization(v.quantization, config.quantization))
    out.quantization_config = v.quantization
  if (named && v.index?.type === 'ivf') out.ivf_config = { nlist: v.index.nlist, nprobe: v.index.nprobe }
  return out
}

/**
 * The collection's vectors as Qdrant reports them: `{ size, distance, ... }` for the unnamed
 * vector alone, else an object by name (own properties from entries: names are user strings).
 */
function toWireVectors(config: CollectionConfig): WireVectorParams | { [name: string]: WireVectorParams } {
  const unnamed = config.vectors.get('')
  if (unnamed !== undefined && config.vectors.size === 1) return toWireVectorParams(unnamed, config, false)
  return Object.fromEntries(
    [...config.vectors].map(([name, v]) => [name, toWireVectorParams(v, config, true)]),
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

/** Qdrant's CollectionClusterInfo. */
export interface WireClusterInfo {
  peer_id: number
  shard_count: number
  local_shards: { shard_id: number; points_count: number; state: ShardState }[]
  remote_shards: { shard_id: number; peer_id: number; state: ShardState }[]
  shard_transfers: { shard_id: number; from: number; to: number; sync: boolean; comment?: string }[]
}

/** The peer id a single node reports (Qdrant gives each peer a random u64; one node has no peers). */
export const SINGLE_NODE_PEER_ID = 0

/** `peerId`: this node's (cluster mode), else SINGLE_NODE_PEER_ID. */
export function toWireClusterInfo(
  info: CollectionClusterInfo,
  peerId = SINGLE_NODE_PEER_ID,
): WireClusterInfo {
  return {
    peer_id: peerId,
    shard_count: info.shardCount,
    local_shards: info.localShards.map((s) => ({
      shard_id: s.shardId,
      points_count: s.pointsCount,
      state: s.state,
    })),
    remote_shards: info.remoteShards.map((s) => ({ shard_id: s.shardId, peer_id: s.peerId, state: s.state })),
    shard_transfers: (info.shardTransfers ?? []).map((t) => ({
      shard_id: t.shardId,
      from: t.from,
      to: t.to,
      sync: t.sync,
      ...(t.comment === undefined ? {} : { comment: t.comment }),
    })),
  }
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
        shard_number: info.config.params?.shardNumber ?? 1,
        replication_factor: info.config.params?.replicationFactor ?? 1,
        write_consistency_factor: info.config.params?.writeConsistencyFactor ?? 1,
        ...(info.config.params?.readFanOutFactor === undefined
          ? {}
          : { read_fan_out_factor: info.config.params.readFanOutFactor }),
        on_disk_payload: info.config.params?.onDiskPayload ?? false,
      },
      hnsw_config: toWireHnswConfig(info.config.hnsw),
      optimizer_config: toWireOptimizersConfig(info.config.optimizers),
      quantization_config: info.config.quantization ?? null,
      ...(info.config.strictMode === undefined
        ? {}
        : { strict_mode_config: strictModeToWire(info.config.strictMode) }),
      ...(info.config.searchConfig === undefined
        ? {}
        : {
            search_config: {
              recall_sample_rate: info.config.searchConfig.recallSampleRate ?? null,
              target_recall: info.config.searchConfig.targetRecall ?? null,
            },
          }),
      ivf_config:
        unnamed?.index?.type === 'ivf' ? { nlist: unnamed.index.nlist, nprobe: unnamed.index.nprobe } : null,
    },
    payload_schema: Object.fromEntries(
      Object.entries(info.payloadSchema).map(([field, index]) => [field, toWirePayloadIndexInfo(index)]),
    ),
    unindexed_filter_fields: { ...info.unindexedFilterFields },
    ...(info.updateQueue === undefined ? {} : { update_queue: { length: info.updateQueue.length } }),
    ...(info.recallEstimates === undefined
      ? {}
      : { recall_estimates: info.recallEstimates.map((e) => ({ ...e })) }),
  }
}

const DISTANCES: readonly Distance[] = ['Cosine', 'Euclid', 'Dot', 'Manhattan']

/**
 * `PUT /collections/{name}` body -> engine options: the unnamed vector (`vectors: { size, distance,
 * ... }`) or named vectors (`vectors: { name: VectorParams }`), `sparse_vectors`; options that would
 * change behaviour Quiver lacks (custom sharding, metadata) are rejected; `optimizers_config` and
 * `quantization_config` (top level or in `vectors`, which wins as in Qdrant) are applied; Quiver's
 * extension `ivf_config: { nlist?, nprobe? }` (the same two places; @qdrant/js-client-rest forwards
 * only the one in `vectors`) selects the IVF index (docs/ivf.md);
 * `shard_number` splits the collection into shards on this node (docs/cluster.md); the other
 * deployment options (replicas, WAL, on-disk flags) are accepted and reported, and change nothing.
 */
export function parseCreateCollection(body: unknown): CreateCollectionOptions {
  const o = bodyObject(body)
  unsupported(o, 'metadata', '', 'collection metadata', 'INVALID_CONFIG')
  if (!isAbsent(o.sharding_method) && o.sharding_method !== 'auto')
    fail('sharding_method', 'custom sharding is not supported by Quiver', 'INVALID_CONFIG')
  const hnsw = parseHnswPatch(o.hnsw_config, 'hnsw_config')
  const out: CreateCollectionOptions = {}
  if (!isAbsent(o.strict_mode_config))
    out.strictMode = parseStrictModeConfig(o.strict_mode_config, 'strict_mode_config', 'INVALID_CONFIG')
  if (!isAbsent(o.search_config)) out.searchConfig = parseSearchConfig(o.search_config, 'search_config')
  if (Object.keys(hnsw).length > 0) out.hnsw = hnsw
  const params: { -readonly [K in keyof CollectionParams]: CollectionParams[K] } = parseCollectionParams(
    o,
    '',
  )
  // fixed at creation (PATCH has no shard_number, as Qdrant's CollectionParamsDiff)
  const shards = optInt(o, 'shard_number', '', 1)
  if (shards !== undefined) params.shardNumber = shards
  if (Object.keys(params).length > 0) out.params = params
  if (!isAbsent(o.optimizers_config))
    out.optimizers = parseOptimizersConfig(o.optimizers_config, 'optimizers_config')
  const maxSegmentSize = out.optimizers?.maxSegmentSize ?? DEFAULT_OPTIMIZERS.maxSegmentSize
  // `quantization` is Qdrant's alias of `quantization_config`
  const [qKey, qValue] = isAbsent(o.quantization_config)
    ? ['quantization', o.quantization]
    : ['quantization_config', o.quantization_config]
  const topQuantization = isAbsent(qValue) ? undefined : parseQuantizationConfig(qValue, qKey)
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
    if (topQuantization !== undefined) out.quantization = topQuantization
    out.vectors = new Map(
      Object.keys(vectors).map((name) => [
        name,
        parseVectorParams(vectors[name], `vectors.${name}`, maxSegmentSize, topQuantization, o.ivf_config),
      ]),
    )
  }
  return out
}

/**
 * Quiver's `search_config` (create and PATCH): `{ recall_sample_rate, target_recall }`: the share
 * of searches re-run exactly for the live recall estimate (0..1) and the default recall@10 target
 * (0 < t < 1); a field's `null` removes it, an absent field stays (a whole `search_config: null`
 * changes nothing). Throws INVALID_CONFIG naming the field.
 */
function parseSearchConfig(src: unknown, path: string): SearchConfigUpdate {
  if (!isPlainObject(src)) fail(path, `expected an object, got ${describe(src)}`, 'INVALID_CONFIG')
  for (const key of Object.keys(src))
    if (key !== 'recall_sample_rate' && key !== 'target_recall')
      fail(join(path, key), 'unknown search setting (recall_sample_rate, target_recall)', 'INVALID_CONFIG')
  // null removes a setting (SearchConfig's nulls), absent leaves it
  const out: { recallSampleRate?: number | null; targetRecall?: number | null } = {}
  if (src.recall_sample_rate === null) out.recallSampleRate = null
  if (src.target_recall === null) out.targetRecall = null
  const rate = src.recall_sample_rate
  if (!isAbsent(rate)) {
    if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1)
      fail(
        join(path, 'recall_sample_rate'),
        `expected a number from 0 to 1, got ${describe(rate)}`,
        'INVALID_CONFIG',
      )
    out.recallSampleRate = rate
  }
  const target = src.target_recall
  if (!isAbsent(target)) {
    if (typeof target !== 'number' || !Number.isFinite(target) || target <= 0 || target >= 1)
      fail(
        join(path, 'target_recall'),
        `expected a number between 0 and 1 (exclusive), got ${describe(target)}`,
        'INVALID_CONFIG',
      )
    out.targetRecall = target
  }
  return out
}

/**
 * Qdrant's collection params (`replication_factor`, `write_consistency_factor`: integers >= 1;
 * `read_fan_out_factor` >= 0; `on_disk_payload`) from `src` (PATCH's `params`, or the create body,
 * where they sit at the top level). Other keys are left to the caller. Throws INVALID_CONFIG.
 */
function parseCollectionParams(src: unknown, path: string): CollectionParams {
  if (!isPlainObject(src)) fail(path, `expected an object, got ${describe(src)}`, 'INVALID_CONFIG')
  const out: { -readonly [K in keyof CollectionParams]: CollectionParams[K] } = {}
  const rf = optInt(src, 'replication_factor', path, 1)
  if (rf !== undefined) out.replicationFactor = rf
  const wcf = optInt(src, 'write_consistency_factor', path, 1)
  if (wcf !== undefined) out.writeConsistencyFactor = wcf
  const fan = optInt(src, 'read_fan_out_factor', path, 0)
  if (fan !== undefined) out.readFanOutFactor = fan
  const odp = optBool(src, 'on_disk_payload', path)
  if (odp !== undefined) out.onDiskPayload = odp
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
  if (m === 1)
    fail(join(path, 'm'), 'expected 0 (no graph: exact search) or an integer >= 2, got 1', 'INVALID_CONFIG')
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

/** Qdrant's QuantizationConfigDiff: a quantization config, or `"Disabled"` (-> null: remove it). */
function parseQuantizationDiff(v: unknown, path: string): QuantizationConfig | null {
  if (v === 'Disabled') return null
  return parseQuantizationConfig(v, path)
}

function parseVectorDiff(src: unknown, path: string): VectorUpdate {
  if (!isPlainObject(src))
    fail(path, 'expected { hnsw_config?, quantization_config?, on_disk? }', 'INVALID_CONFIG')
  const out: VectorUpdate = {}
  const hnsw = parseHnswPatch(src.hnsw_config, join(path, 'hnsw_config'))
  if (Object.keys(hnsw).length > 0) out.hnsw = hnsw
  if (!isAbsent(src.quantization_config))
    out.quantization = parseQuantizationDiff(src.quantization_config, join(path, 'quantization_config'))
  const onDisk = optBool(src, 'on_disk', path)
  if (onDisk !== undefined) out.onDisk = onDisk
  return out
}

/** Object -> Map of its own keys (names are user strings: never object keys downstream). */
function byName<T>(src: unknown, path: string, each: (v: unknown, at: string) => T): Map<string, T> {
  if (!isPlainObject(src)) fail(path, 'expected an object of vector name -> changes', 'INVALID_CONFIG')
  return new Map(Object.keys(src).map((name) => [name, each(src[name], `${path}.${name}`)]))
}

/**
 * `PATCH /collections/{name}` body -> CollectionUpdate: `vectors` (`{ name: { hnsw_config,
 * quantization_config, on_disk } }`, `""` = the unnamed vector), `hnsw_config`,
 * `optimizers_config`, `quantization_config` (or `"Disabled"`), `params`, `sparse_vectors`
 * (`{ name: { index: { full_scan_threshold, on_disk }, modifier } }`). An empty body or null
 * fields change nothing. `ivf_config` (the index type and its lists) cannot change: INVALID_CONFIG.
 * Throws INVALID_CONFIG naming the field, also for a vector name `config` (the collection's) lacks.
 */
export function parseUpdateCollection(body: unknown, config: CollectionConfig): CollectionUpdate {
  const o = bodyObject(body, true)
  unsupported(o, 'metadata', '', 'collection metadata', 'INVALID_CONFIG')
  if (!isAbsent(o.ivf_config))
    fail(
      'ivf_config',
      'the IVF index of an existing collection cannot change; create a new collection with it and switch an alias to it',
      'INVALID_CONFIG',
    )
  const out: CollectionUpdate = {}
  if (!isAbsent(o.vectors)) {
    const vectors = byName(o.vectors, 'vectors', parseVectorDiff)
    for (const name of vectors.keys()) {
      // Qdrant's message, word for word (its clients and tests match it)
      if (!config.vectors.has(name))
        throw new QuiverError('INVALID_CONFIG', `Wrong input: Not existing vector name error: ${name}`, {
          path: `vectors.${name}`,
        })
    }
    if (vectors.size > 0) out.vectors = vectors
  }
  const hnsw = parseHnswPatch(o.hnsw_config, 'hnsw_config')
  if (Object.keys(hnsw).length > 0) out.hnsw = hnsw
  if (!isAbsent(o.optimizers_config))
    out.optimizers = parseOptimizersConfig(o.optimizers_config, 'optimizers_config')
  if (!isAbsent(o.quantization_config))
    out.quantization = parseQuantizationDiff(o.quantization_config, 'quantization_config')
  if (!isAbsent(o.params)) out.params = parseCollectionParams(o.params, 'params')
  if (!isAbsent(o.strict_mode_config))
    out.strictMode = parseStrictModeConfig(o.strict_mode_config, 'strict_mode_config', 'INVALID_CONFIG')
  if (!isAbsent(o.search_config)) out.searchConfig = parseSearchConfig(o.search_config, 'search_config')
  if (!isAbsent(o.sparse_vectors)) {
    const sparse = byName<SparseVectorUpdate>(o.sparse_vectors, 'sparse_vectors', parseSparseParams)
    for (const name of sparse.keys()) {
      if (!config.sparseVectors.has(name))
        throw new QuiverError('INVALID_CONFIG', `Wrong input: Not existing vector name error: ${name}`, {
          path: `sparse_vectors.${name}`,
        })
    }
    if (sparse.size > 0) out.sparseVectors = sparse
  }
  return out
}
