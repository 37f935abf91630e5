// Strict mode's config: Qdrant's `strict_mode_config` parsed from the wire (snake_case) or the
// embedded API (camelCase), echoed back, merged by PATCH and revived from config.json. The checks
// that enforce it live in strict-mode.ts. Per-vector limit maps are null-prototype objects (vector
// names are user strings).
import type { ErrorCode } from '../errors.js'
import {
  fail,
  isAbsent,
  isPlainObject,
  type Obj,
  onlyKeys,
  optBool,
  optInt,
  optNumber,
} from '../json-input.js'
import type { StrictModeConfig } from '../types.js'

export type { StrictModeConfig }

type Names = 'wire' | 'camel'

/** [wire name, camelCase name, smallest value] of the integer limits. */
const INT_FIELDS = [
  ['max_query_limit', 'maxQueryLimit', 1],
  ['max_timeout', 'maxTimeout', 1],
  ['search_max_hnsw_ef', 'searchMaxHnswEf', 0],
  ['upsert_max_batchsize', 'upsertMaxBatchsize', 0],
  ['search_max_batchsize', 'searchMaxBatchsize', 0],
  ['max_collection_vector_size_bytes', 'maxCollectionVectorSizeBytes', 0],
  ['max_points_count', 'maxPointsCount', 1],
  ['read_rate_limit', 'readRateLimit', 1],
  ['write_rate_limit', 'writeRateLimit', 1],
  ['max_collection_payload_size_bytes', 'maxCollectionPayloadSizeBytes', 0],
  ['filter_max_conditions', 'filterMaxConditions', 0],
  ['condition_max_size', 'conditionMaxSize', 0],
  ['max_payload_index_count', 'maxPayloadIndexCount', 0],
  ['max_resident_memory_percent', 'maxResidentMemoryPercent', 1],
] as const
const BOOL_FIELDS = [
  ['enabled', 'enabled'],
  ['unindexed_filtering_retrieve', 'unindexedFilteringRetrieve'],
  ['unindexed_filtering_update', 'unindexedFilteringUpdate'],
  ['search_allow_exact', 'searchAllowExact'],
] as const
/** [wire name, camelCase name, wire limit name, camelCase limit name] of the per-vector limits. */
const NAMED_FIELDS = [
  ['multivector_config', 'multivectorConfig', 'max_vectors', 'maxVectors'],
  ['sparse_config', 'sparseConfig', 'max_length', 'maxLength'],
] as const
const OVERSAMPLING = { wire: 'search_max_oversampling', camel: 'searchMaxOversampling' } as const

const keysOf = (names: Names): string[] => [
  ...INT_FIELDS.map((f) => (names === 'wire' ? f[0] : f[1])),
  ...BOOL_FIELDS.map((f) => (names === 'wire' ? f[0] : f[1])),
  ...NAMED_FIELDS.map((f) => (names === 'wire' ? f[0] : f[1])),
  OVERSAMPLING[names],
]
const WIRE_KEYS = keysOf('wire')
const CAMEL_KEYS = keysOf('camel')

type MutableStrict = { -readonly [K in keyof StrictModeConfig]: StrictModeConfig[K] }
type NamedLimits = { readonly [name: string]: { readonly [limit: string]: number } }

function parseStrict(v: unknown, path: string, names: Names, code: ErrorCode): StrictModeConfig {
  if (!isPlainObject(v)) fail(path, 'expected an object', code)
  const o: Obj = v
  onlyKeys(o, names === 'wire' ? WIRE_KEYS : CAMEL_KEYS, path, code)
  const out: MutableStrict = {}
  const w = out as Record<string, unknown>
  for (const [wire, camel, min] of INT_FIELDS) {
    const n = optInt(o, names === 'wire' ? wire : camel, path, min, code)
    if (n === undefined) continue
    if (camel === 'maxResidentMemoryPercent' && n > 100)
      fail(`${path}.${names === 'wire' ? wire : camel}`, `expected an integer in [1, 100], got ${n}`, code)
    w[camel] = n
  }
  for (const [wire, camel] of BOOL_FIELDS) {
    const b = optBool(o, names === 'wire' ? wire : camel, path, code)
    if (b !== undefined) w[camel] = b
  }
  for (const [wire, camel, wireLimit, camelLimit] of NAMED_FIELDS) {
    const key = names === 'wire' ? wire : camel
    const m = o[key]
    if (isAbsent(m)) continue
    const at = `${path}.${key}`
    if (!isPlainObject(m)) fail(at, 'expected an object of vector name -> limits', code)
    // vector names are user strings: a null-prototype object, never a plain one
    const limits = Object.create(null) as Record<string, { [limit: string]: number }>
    for (const name of Object.keys(m)) {
      const entry = m[name]
      const eat = `${at}.${name}`
      if (!isPlainObject(entry)) fail(eat, 'expected an object', code)
      const limitKey = names === 'wire' ? wireLimit : camelLimit
      onlyKeys(entry, [limitKey], eat, code)
      const n = optInt(entry, limitKey, eat, 1, code)
      limits[name] = n === undefined ? {} : { [camelLimit]: n }
    }
    w[camel] = limits
  }
  const os = optNumber(o, OVERSAMPLING[names], path, code)
  if (os !== undefined) {
    if (os < 0) fail(`${path}.${OVERSAMPLING[names]}`, `expected a number >= 0, got ${os}`, code)
    out.searchMaxOversampling = os
  }
  return out
}

/**
 * Parses Qdrant's `strict_mode_config` JSON object (snake_case). Absent or null fields are left
 * out (a PATCH leaves them as they were, as Qdrant does). Throws INVALID_ARGUMENT naming the field
 * (`strict_mode_config.max_query_limit: ...`) for a non-object, an unknown field, a non-integer or
 * too-small integer, a non-boolean flag, or a negative `search_max_oversampling`.
 */
export function parseStrictModeConfig(
  v: unknown,
  path = 'strict_mode_config',
  code: ErrorCode = 'INVALID_ARGUMENT',
): StrictModeConfig {
  return parseStrict(v, path, 'wire', code)
}

/** The embedded spelling: checks a camelCase {@link StrictModeConfig} as `parseStrictModeConfig` does; throws INVALID_CONFIG. */
export function resolveStrictMode(v: unknown, path = 'strictMode'): StrictModeConfig {
  return parseStrict(v, path, 'camel', 'INVALID_CONFIG')
}

/** The config in Qdrant's snake_case shape, absent fields left out (for `config.strict_mode_config`). */
export function strictModeToWire(c: StrictModeConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const r = c as Record<string, unknown>
  for (const [wire, key] of [...INT_FIELDS, ...BOOL_FIELDS]) {
    const v = r[key]
    if (typeof v === 'number' || typeof v === 'boolean') out[wire] = v
  }
  for (const [wire, camel, wireLimit, camelLimit] of NAMED_FIELDS) {
    const m = r[camel] as NamedLimits | undefined
    if (m === undefined) continue
    out[wire] = Object.fromEntries(
      Object.keys(m).map((name) => {
        const n = m[name]![camelLimit]
        return [name, n === undefined ? {} : { [wireLimit]: n }]
      }),
    )
  }
  if (c.searchMaxOversampling !== undefined) out.search_max_oversampling = c.searchMaxOversampling
  return out
}

/** `base` with every field `patch` sets replaced (Qdrant's PATCH merges field by field). */
export function mergeStrictMode(base: StrictModeConfig, patch: StrictModeConfig): StrictModeConfig {
  return { ...base, ...patch }
}
