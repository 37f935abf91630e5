// Wire format of the read endpoints beyond search and query: facet, the distance matrix (pairs and
// offsets), groups and legacy discover. Type errors are 400 (Qdrant's deserialize errors); range
// checks are 422 VALIDATION_FAILED (Qdrant's `validate` errors), with Qdrant's message wording.
import { QuiverError } from '../errors.js'
import type { FacetOptions, PointId, SearchMatrixOptions, SearchMatrixResult } from '../types.js'
import {
  bodyObject,
  fail,
  isAbsent,
  join,
  type Obj,
  optBool,
  optString,
  parseFilter,
  unsupported,
} from './wire.js'

/**
 * A non-negative integer field (Qdrant's `uint`): absent -> undefined; not an integer >= 0 -> 400
 * INVALID_ARGUMENT; below `min` -> 422 VALIDATION_FAILED, worded as Qdrant's validator words it.
 */
export function optCount(o: Obj, key: string, path: string, min: number): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  return countValue(v, join(path, key), min)
}

function countValue(v: unknown, path: string, min: number): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0)
    fail(path, `expected a non-negative integer, got ${describeShort(v)}`)
  if (v < min) throw validationError(path, `value ${v} invalid, must be ${min} or larger`)
  return v
}

/** Qdrant's 422 wording: `Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]`. */
export function validationError(path: string, message: string): QuiverError {
  return new QuiverError('VALIDATION_FAILED', `Validation error in JSON body: [${path}: ${message}]`, {
    path,
  })
}

function describeShort(v: unknown): string {
  return typeof v === 'number' ? `number ${v}` : Array.isArray(v) ? 'an array' : typeof v
}

export function reqCount(o: Obj, key: string, path: string, min: number): number {
  const n = optCount(o, key, path, min)
  if (n === undefined) fail(join(path, key), `required: an integer >= ${min}`)
  return n
}

/** A payload key that must be a non-empty string (empty: 422, as Qdrant's `length(min = 1)`). */
export function nonEmptyKey(o: Obj, key: string, path: string): string {
  const v = o[key]
  if (typeof v !== 'string')
    fail(join(path, key), `expected a payload key (a string), got ${describeShort(v)}`)
  if (v === '') throw validationError(join(path, key), 'must not be empty')
  return v
}

// ---- facet ----

/** `POST /collections/{name}/facet`: `{ key, limit = 10, filter?, exact = false }`. */
export function parseFacet(body: unknown): FacetOptions {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  if (typeof o.key !== 'string' || o.key === '')
    fail('key', `expected a payload key (a non-empty string), got ${describeShort(o.key)}`)
  const out: FacetOptions = { key: o.key }
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const exact = optBool(o, 'exact', '')
  if (exact !== undefined) out.exact = exact
  return out
}

// ---- distance matrix ----

/** `POST .../points/search/matrix/{pairs,offsets}`: `{ sample = 10 (>= 2), limit = 3 (>= 1), filter?, using? }`. */
export function parseSearchMatrix(body: unknown): SearchMatrixOptions {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const out: SearchMatrixOptions = {}
  const sample = optCount(o, 'sample', '', 2)
  if (sample !== undefined) out.sample = sample
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const using = optString(o, 'using', '')
  if (using !== undefined) out.using = using
  return out
}

/** Qdrant's `SearchMatrixPairsResponse`: per sampled point (ascending id), its neighbours best first. */
export function toWireMatrixPairs(r: SearchMatrixResult): {
  pairs: { a: PointId; b: PointId; score: number }[]
} {
  const pairs: { a: PointId; b: PointId; score: number }[] = []
  r.sampleIds.forEach((a, i) => {
    for (const n of r.nearest[i]!) pairs.push({ a, b: n.id, score: n.score })
  })
  return { pairs }
}

/**
 * Qdrant's `SearchMatrixOffsetsResponse`: `ids` the sample; entry k says that `ids[offsets_col[k]]`
 * is a neighbour of `ids[offsets_row[k]]` with `scores[k]`.
 */
export function toWireMatrixOffsets(r: SearchMatrixResult): {
  offsets_row: number[]
  offsets_col: number[]
  scores: number[]
  ids: PointId[]
} {
  const position = new Map<PointId, number>()
  r.sampleIds.forEach((id, i) => {
    position.set(id, i)
  })
  const offsets_row: number[] = []
  const offsets_col: number[] = []
  const scores: number[] = []
  r.sampleIds.forEach((_, i) => {
    for (const n of r.nearest[i]!) {
      offsets_row.push(i)
      offsets_col.push(position.get(n.id)!)
      scores.push(n.score)
    }
  })
  return { offsets_row, offsets_col, scores, ids: r.sampleIds }
}
