// Request pieces shared by every resource on the wire: the body, payloads, ids, filters, `with_payload`,
// `with_vector`, dense vectors and vector structs, `?wait=`, and Qdrant's 400-vs-422 count checks.
import { toWithPayload } from '../../collection/validate.js'
import { type ErrorCode, QuiverError } from '../../errors.js'
import { describe, fail, isAbsent, isPlainObject, join, type Obj, stringArray } from '../../json-input.js'
import { parsePointId } from '../../point-id.js'
import type {
  CollectionConfig,
  Filter,
  Payload,
  PointId,
  SparseVectorInput,
  VectorStruct,
  WithPayload,
  WithVector,
} from '../../types.js'

/** The request body as an object; an empty body counts as `{}` when `optional`. */
export function bodyObject(body: unknown, optional = false): Obj {
  if (body === undefined && optional) return {}
  if (!isPlainObject(body)) fail('body', `expected a JSON object, got ${describe(body)}`)
  return body
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
  return v as Payload
}

export function requirePayload(o: Obj, key: string, path: string): Payload {
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

/**
 * Qdrant's `WithPayloadInterface`: bool, list of key paths, `{ include: [...] }` or `{ exclude: [...] }`,
 * checked by the engine's rules (errors name `path`) and passed on as is; absent or null -> `fallback`.
 * The engine applies it (nested paths, include and exclude).
 */
export function parseWithPayload(v: unknown, path: string, fallback: boolean): WithPayload {
  toWithPayload(v, path, fallback)
  return isAbsent(v) ? fallback : (v as WithPayload)
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

/** `{id}` in a URL path: digits are an integer id, anything else must be a UUID. */
export function parsePathPointId(raw: string): PointId {
  if (/^\d+$/.test(raw)) return parsePointId(Number(raw), 'path id', raw)
  return parsePointId(raw, 'path id')
}

/** The unnamed vector's size, which the wire checks dense query vectors against (0: the collection has none). */
export function unnamedDimension(config: CollectionConfig): number {
  return config.vectors.get('')?.dimension ?? 0
}

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

export function describeShort(v: unknown): string {
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

/** A sparse vector input `{ indices, values }` rather than a dense array (typed arrays included). */
export function isSparseInput(v: unknown): v is SparseVectorInput {
  return isPlainObject(v)
}
