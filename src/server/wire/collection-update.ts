// `PATCH /collections/{name}` (Qdrant's UpdateCollection) -> the engine's CollectionUpdate.
import { parseQuantizationConfig } from '../../quantization/config.js'
import type {
  CollectionConfig,
  CollectionUpdate,
  QuantizationConfig,
  SparseVectorUpdate,
  VectorUpdate,
} from '../../types.js'
import {
  bodyObject,
  fail,
  isAbsent,
  isPlainObject,
  join,
  optBool,
  parseCollectionParams,
  parseHnswPatch,
  parseOptimizersConfig,
  parseSparseParams,
  unsupported,
} from '../wire.js'

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
      if (!config.vectors.has(name))
        fail(
          `vectors.${name}`,
          `the collection has no dense vector ${name === '' ? '"" (the unnamed vector)' : JSON.stringify(name)}${config.sparseVectors.has(name) ? ' (it is a sparse vector: change it in sparse_vectors)' : ''}`,
          'INVALID_CONFIG',
        )
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
  if (!isAbsent(o.sparse_vectors)) {
    const sparse = byName<SparseVectorUpdate>(o.sparse_vectors, 'sparse_vectors', parseSparseParams)
    for (const name of sparse.keys()) {
      if (!config.sparseVectors.has(name))
        fail(
          `sparse_vectors.${name}`,
          `the collection has no sparse vector ${JSON.stringify(name)}`,
          'INVALID_CONFIG',
        )
    }
    if (sparse.size > 0) out.sparseVectors = sparse
  }
  return out
}
