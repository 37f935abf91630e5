// Strict mode: Qdrant's per-collection `strict_mode_config` limits (issue 13 section 3).
// This module holds the config type, its parsing from Qdrant's snake_case wire shape, the merge of
// a patch, and Qdrant's limit checks with Qdrant's messages. Enforcement in EmbeddedCollection is
// not wired yet (see the branch report).

import { QuiverError } from '../errors.js'
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

const INT_FIELDS = [
  ['max_query_limit', 'maxQueryLimit', 1],
  ['max_timeout', 'maxTimeout', 1],
  ['search_max_hnsw_ef', 'searchMaxHnswEf', 0],
  ['upsert_max_batchsize', 'upsertMaxBatchsize', 1],
  ['max_collection_vector_size_bytes', 'maxCollectionVectorSizeBytes', 0],
  ['max_points_count', 'maxPointsCount', 0],
  ['read_rate_limit', 'readRateLimit', 1],
  ['write_rate_limit', 'writeRateLimit', 1],
  ['max_collection_payload_size_bytes', 'maxCollectionPayloadSizeBytes', 0],
  ['filter_max_conditions', 'filterMaxConditions', 0],
  ['condition_max_size', 'conditionMaxSize', 0],
] as const
const BOOL_FIELDS = [
  ['enabled', 'enabled'],
  ['unindexed_filtering_retrieve', 'unindexedFilteringRetrieve'],
  ['unindexed_filtering_update', 'unindexedFilteringUpdate'],
  ['search_allow_exact', 'searchAllowExact'],
] as const
const WIRE_KEYS: readonly string[] = [
  ...INT_FIELDS.map((f) => f[0]),
  ...BOOL_FIELDS.map((f) => f[0]),
  'search_max_oversampling',
]

/**
 * Parses Qdrant's `strict_mode_config` JSON object (snake_case). Absent or null fields are left
 * out. Throws INVALID_ARGUMENT naming the field (`strict_mode_config.max_query_limit: ...`) for a
 * non-object, an unknown field, a non-integer or too-small integer, a non-boolean flag, or a
 * negative `search_max_oversampling`.
 */
export function parseStrictModeConfig(v: unknown, path = 'strict_mode_config'): StrictModeConfig {
  if (!isPlainObject(v)) fail(path, 'expected an object')
  const o: Obj = v
  onlyKeys(o, WIRE_KEYS, path)
  const out: StrictModeConfig = {}
  const w = out as Record<string, unknown>
  for (const [wire, key, min] of INT_FIELDS) {
    const n = optInt(o, wire, path, min)
    if (n !== undefined) w[key] = n
  }
  for (const [wire, key] of BOOL_FIELDS) {
    const b = optBool(o, wire, path)
    if (b !== undefined) w[key] = b
  }
  const os = optNumber(o, 'search_max_oversampling', path)
  if (os !== undefined) {
    if (os < 0) fail(`${path}.search_max_oversampling`, `expected a number >= 0, got ${os}`)
    out.searchMaxOversampling = os
  }
  return out
}

/** The config in Qdrant's snake_case shape, absent fields left out (for `config.strict_mode_config`). */
export function strictModeToWire(c: StrictModeConfig): Record<string, number | boolean> {
  const out: Record<string, number | boolean> = {}
  const r = c as Record<string, unknown>
  for (const [wire, key] of [...INT_FIELDS, ...BOOL_FIELDS]) {
    const v = r[key]
    if (typeof v === 'number' || typeof v === 'boolean') out[wire] = v
  }
  if (c.searchMaxOversampling !== undefined) out.search_max_oversampling = c.searchMaxOversampling
  return out
}

/** `base` with every field `patch` sets replaced (Qdrant's PATCH merges field by field). */
export function mergeStrictMode(base: StrictModeConfig, patch: StrictModeConfig): StrictModeConfig {
  return { ...base, ...patch }
}

/** Qdrant's strict-mode error: `{error}. Help: {solution}`, code STRICT_MODE (HTTP 400). */
export function strictModeError(error: string, solution: string): QuiverError {
  return new QuiverError('STRICT_MODE', `${error}. Help: ${solution}`)
}

/**
 * Throws Qdrant's `Limit exceeded {value} > {limit} for "{name}"` when both are set and
 * `value > limit`.
 */
export function checkLimit(value: number | undefined, limit: number | undefined, name: string): void {
  if (isAbsent(value) || isAbsent(limit) || value <= limit) return
  throw strictModeError(
    `Limit exceeded ${value} > ${limit} for "${name}"`,
    `Reduce the "${name}" parameter to or below ${limit}.`,
  )
}

/** Throws Qdrant's `{name} disabled!` when `allowed` is false and `value` is true. */
export function checkAllowed(
  value: boolean | undefined,
  allowed: boolean | undefined,
  name: string,
  parameter: string,
): void {
  if (allowed !== false || value !== true) return
  throw strictModeError(`${name} disabled!`, `Set ${parameter}=false.`)
}
