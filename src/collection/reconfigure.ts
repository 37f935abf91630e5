// Changing a live collection (Qdrant's `PATCH /collections/{name}`): a CollectionUpdate applied to
// a config gives the new config (validated like a new collection's), and which segments must be
// rebuilt to match it. The change itself is a WAL operation carrying the whole new config; the
// optimizers rebuild mismatched segments in the background (optimizer.ts, "reconfigure").

import { describe as describeValue, isPlainObject as isObject, onlyKeys } from '../json-input.js'
import { parseQuantizationConfig } from '../quantization/config.js'
import { codesConfig } from '../segment/segment.js'
import type {
  CollectionConfig,
  CollectionUpdate,
  HnswConfig,
  QuantizationConfig,
  SparseVectorConfig,
  SparseVectorUpdate,
  VectorConfig,
  VectorUpdate,
} from '../types.js'
import { mergeStrictMode, resolveStrictMode } from './strict-mode-config.js'
import {
  checkIvfListsTrainable,
  configError,
  entriesOf,
  resolveHnsw,
  resolveOptimizers,
  resolveParams,
  resolveSearchConfig,
  resolveSparse,
} from './validate.js'

const UPDATE_KEYS: ReadonlySet<string> = new Set([
  'hnsw',
  'optimizers',
  'quantization',
  'vectors',
  'sparseVectors',
  'params',
  'strictMode',
  'searchConfig',
])
const VECTOR_UPDATE_KEYS: ReadonlySet<string> = new Set(['hnsw', 'quantization', 'onDisk'])
const SPARSE_UPDATE_KEYS: ReadonlySet<string> = new Set(['modifier', 'fullScanThreshold', 'onDisk'])
const HNSW_KEYS = ['m', 'efConstruct', 'fullScanThreshold', 'ef'] as const

function checkKeys(o: unknown, allowed: ReadonlySet<string>, path: string): void {
  if (!isObject(o)) configError(path, `expected an object, got ${describeValue(o)}`)
  onlyKeys(o, [...allowed], path, 'INVALID_CONFIG')
}

/** Canonical JSON (object keys sorted) for comparing configs by value. */
function canonical(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) =>
    isObject(x)
      ? Object.fromEntries(
          Object.keys(x)
            .sort()
            .map((k) => [k, x[k]]),
        )
      : x,
  )
}

export function sameQuantization(
  a: QuantizationConfig | undefined,
  b: QuantizationConfig | undefined,
): boolean {
  return canonical(a ?? null) === canonical(b ?? null)
}

/**
 * `config` changed by `update` -> the new config (new objects; `config` is not touched). Vector
 * names, dimensions, metrics, datatypes and index types never change. Throws INVALID_CONFIG naming
 * the field (`vectors.<name>.hnsw.m`, ...) for an unknown field, an unknown vector name or a value
 * a new collection would refuse.
 */
export function applyCollectionUpdate(config: CollectionConfig, update: CollectionUpdate): CollectionConfig {
  checkKeys(update, UPDATE_KEYS, '')
  const hnsw = resolveHnsw(update.hnsw ?? undefined, config.hnsw, 'hnsw')
  const optimizers =
    update.optimizers === undefined || update.optimizers === null
      ? config.optimizers
      : (() => {
          if (!isObject(update.optimizers)) configError('optimizers', 'expected an object')
          return resolveOptimizers({ ...config.optimizers, ...update.optimizers })
        })()

  const vectorUpdates = new Map<string, VectorUpdate>()
  if (update.vectors !== undefined && update.vectors !== null) {
    for (const [name, vu] of entriesOf<VectorUpdate>(update.vectors, 'vectors')) {
      const path = `vectors.${name}`
      const vc = config.vectors.get(name)
      if (vc === undefined) {
        const sparse = config.sparseVectors.has(name)
          ? ' (it is a sparse vector: change it in sparseVectors)'
          : ''
        configError(
          path,
          `the collection has no dense vector ${name === '' ? '"" (the unnamed vector)' : JSON.stringify(name)}${sparse}`,
        )
      }
      checkKeys(vu, VECTOR_UPDATE_KEYS, path)
      if (vc.multivector !== undefined && vu.quantization !== undefined && vu.quantization !== null)
        configError(`${path}.quantization`, 'quantization of multivectors is not supported')
      vectorUpdates.set(name, vu)
    }
  }
  // the collection-level quantization: vectors that followed the old one follow the new one
  const topQuantization =
    update.quantization === undefined
      ? config.quantization
      : update.quantization === null
        ? undefined
        : parseQuantizationConfig(update.quantization, 'quantization')

  const vectors = new Map<string, VectorConfig>()
  for (const [name, vc] of config.vectors) {
    const path = name === '' ? '' : `vectors.${name}`
    const at = (k: string) => (path === '' ? k : `${path}.${k}`)
    const vu = vectorUpdates.get(name)
    // a field the vector shares with the collection follows the collection's change
    const follow: { -readonly [K in keyof HnswConfig]: HnswConfig[K] } = { ...vc.hnsw }
    for (const k of HNSW_KEYS) if (vc.hnsw[k] === config.hnsw[k]) follow[k] = hnsw[k]
    const vHnsw = resolveHnsw(vu?.hnsw ?? undefined, follow, at('hnsw'))
    let quantization = vc.quantization
    if (vu !== undefined && vu.quantization !== undefined) {
      // "Disabled" removes the vector's own quantization: it falls back to the collection's (Qdrant)
      quantization =
        vu.quantization === null
          ? vc.multivector === undefined
            ? topQuantization
            : undefined
          : parseQuantizationConfig(vu.quantization, at('quantization'))
    } else if (vc.multivector === undefined && sameQuantization(vc.quantization, config.quantization)) {
      quantization = topQuantization
    }
    let onDisk = vc.onDisk
    if (vu?.onDisk !== undefined && vu.onDisk !== null) {
      if (typeof vu.onDisk !== 'boolean')
        configError(at('onDisk'), `expected a boolean, got ${describeValue(vu.onDisk)}`)
      onDisk = vu.onDisk
    }
    const { quantization: _q, onDisk: _o, ...rest } = vc
    vectors.set(name, {
      ...rest,
      hnsw: vHnsw,
      ...(quantization === undefined ? {} : { quantization }),
      ...(onDisk === undefined ? {} : { onDisk }),
    })
  }

  const sparseVectors = new Map<string, SparseVectorConfig>(config.sparseVectors)
  if (update.sparseVectors !== undefined && update.sparseVectors !== null) {
    for (const [name, su] of entriesOf<SparseVectorUpdate>(update.sparseVectors, 'sparseVectors')) {
      const path = `sparseVectors.${name}`
      const sc = config.sparseVectors.get(name)
      if (sc === undefined) configError(path, `the collection has no sparse vector ${JSON.stringify(name)}`)
      checkKeys(su, SPARSE_UPDATE_KEYS, path)
      sparseVectors.set(
        name,
        resolveSparse(
          {
            modifier: su.modifier ?? sc.modifier,
            fullScanThreshold: su.fullScanThreshold ?? sc.fullScanThreshold,
            onDisk: su.onDisk ?? sc.onDisk,
          },
          path,
        ),
      )
    }
  }
  // as at creation: IVF lists must still train within a segment (maxSegmentSize may have shrunk)
  checkIvfListsTrainable(vectors, optimizers.maxSegmentSize, 'optimizers.maxSegmentSize')
  const params =
    update.params === undefined || update.params === null
      ? config.params
      : resolveParams(update.params, config.params, 'params')
  const strictMode =
    update.strictMode === undefined || update.strictMode === null
      ? config.strictMode
      : mergeStrictMode(config.strictMode ?? {}, resolveStrictMode(update.strictMode, 'strictMode'))
  const searchConfig = resolveSearchConfig(update.searchConfig, config.searchConfig, 'searchConfig')
  return {
    vectors,
    sparseVectors,
    hnsw,
    optimizers,
    ...(topQuantization === undefined ? {} : { quantization: topQuantization }),
    ...(params === undefined ? {} : { params }),
    ...(strictMode === undefined ? {} : { strictMode }),
    ...(searchConfig === undefined ? {} : { searchConfig }),
  }
}

/**
 * Whether a segment built for dense vector config `built` must be rebuilt to serve `wanted`: its
 * quantized codes differ, or (HNSW) its graph was linked with another `m` or `efConstruct`.
 * Search-time settings (`ef`, `fullScanThreshold`, `onDisk`) never need a rebuild.
 */
export function vectorNeedsRebuild(built: VectorConfig, wanted: VectorConfig): boolean {
  if (!sameQuantization(built.quantization, wanted.quantization)) return true
  if (built.multivector !== undefined) return false
  // on_disk without quantization keeps codes of its own: turning it on needs them built
  if (!sameQuantization(codesConfig(built), codesConfig(wanted))) return true
  // vectors a segment moved to disk come back into memory only by rebuilding it (off -> on moves
  // them at the segment's next persist)
  if (built.onDisk === true && wanted.onDisk !== true) return true
  if (built.index?.type === 'ivf' || wanted.index?.type === 'ivf')
    return canonical(built.index ?? null) !== canonical(wanted.index ?? null)
  return built.hnsw.m !== wanted.hnsw.m || built.hnsw.efConstruct !== wanted.hnsw.efConstruct
}

/** Whether a segment built with `built` holds index data that `wanted` would build differently. */
export function segmentNeedsRebuild(built: CollectionConfig, wanted: CollectionConfig): boolean {
  if (built === wanted) return false
  for (const [name, w] of wanted.vectors) {
    const b = built.vectors.get(name)
    if (b === undefined || vectorNeedsRebuild(b, w)) return true
  }
  return false
}

/** Whether two configs are equal by value (an update that changes nothing is not logged). */
export function sameConfig(a: CollectionConfig, b: CollectionConfig): boolean {
  const plain = (c: CollectionConfig) => [
    [...c.vectors],
    [...c.sparseVectors],
    c.hnsw,
    c.optimizers,
    c.quantization ?? null,
    c.params ?? null,
    c.strictMode ?? null,
    c.searchConfig ?? null,
  ]
  return canonical(plain(a)) === canonical(plain(b))
}
