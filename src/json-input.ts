// The one home of JSON-input checking for every layer (wire, collection, quantization, filter,
// payload indexes): type tests, value descriptions for messages, and getters whose errors name the
// JSON path of the bad value. A leaf module: it imports only errors.ts and types.ts.
import { describeValue, type ErrorCode, QuiverError } from './errors.js'
import type { JsonValue } from './types.js'

/** A JSON object as parsed from a request: look keys up with `o[key]`, never write user keys into one. */
export type Obj = { [key: string]: unknown }

/**
 * A value as error messages show it: `nothing`, `null`, `an array`, `an object`, `a Date`,
 * `number 3`, `string "abc"` (cut at 40 characters), `NaN`, `Infinity`.
 * @example describe('x') // 'string "x"'
 */
export const describe: (value: unknown) => string = describeValue

/**
 * True for an object that is neither null, an array nor a typed array / DataView (what JSON.parse
 * makes of `{...}`; embedded callers may pass a Float32Array where a vector goes).
 */
export function isPlainObject(v: JsonValue | undefined): v is { [key: string]: JsonValue }
export function isPlainObject(v: unknown): v is Obj
export function isPlainObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !ArrayBuffer.isView(v)
}

/** `undefined` or `null`: Qdrant treats an explicit null like an absent key. */
export function isAbsent(v: unknown): v is null | undefined {
  return v === undefined || v === null
}

/**
 * Throws a QuiverError `code` (default INVALID_ARGUMENT) with the message `path: message` and
 * `details.path = path`; `cause` is kept as the error's cause.
 * @example fail('points[2].id', 'expected a point id') // throws "points[2].id: expected a point id"
 */
export function fail(
  path: string,
  message: string,
  code: ErrorCode = 'INVALID_ARGUMENT',
  cause?: unknown,
): never {
  throw new QuiverError(code, `${path}: ${message}`, { path }, cause)
}

/** The JSON path of `key` under `path` (`''` is the root): `join('a', 'b')` is `a.b`. */
export function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`
}

/** `o[key]` as an object; else throws `code` naming `path.key`. */
export function reqObject(o: Obj, key: string, path: string, code?: ErrorCode): Obj {
  const v = o[key]
  if (!isPlainObject(v)) fail(join(path, key), `expected an object, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as an array; else throws `code` naming `path.key`. */
export function reqArray(o: Obj, key: string, path: string, code?: ErrorCode): unknown[] {
  const v = o[key]
  if (!Array.isArray(v)) fail(join(path, key), `expected an array, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as a safe integer >= `min`, undefined when absent or null; else throws `code`. */
export function optInt(o: Obj, key: string, path: string, min: number, code?: ErrorCode): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min)
    fail(join(path, key), `expected an integer >= ${min}, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as a safe integer >= `min`; else (absent included) throws `code`. */
export function reqInt(o: Obj, key: string, path: string, min: number, code?: ErrorCode): number {
  const v = optInt(o, key, path, min, code)
  if (v === undefined) fail(join(path, key), `expected an integer >= ${min}, got ${describe(o[key])}`, code)
  return v
}

/** `o[key]` as a boolean, undefined when absent or null; else throws `code`. */
export function optBool(o: Obj, key: string, path: string, code?: ErrorCode): boolean | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'boolean') fail(join(path, key), `expected true or false, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as a finite number, undefined when absent or null; else throws `code`. */
export function optNumber(o: Obj, key: string, path: string, code?: ErrorCode): number | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(join(path, key), `expected a finite number, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as a string, undefined when absent or null; else throws `code`. */
export function optString(o: Obj, key: string, path: string, code?: ErrorCode): string | undefined {
  const v = o[key]
  if (isAbsent(v)) return undefined
  if (typeof v !== 'string') fail(join(path, key), `expected a string, got ${describe(v)}`, code)
  return v
}

/** `o[key]` as a string; else (absent included) throws `code`. */
export function reqString(o: Obj, key: string, path: string, code?: ErrorCode): string {
  const v = o[key]
  if (typeof v !== 'string') fail(join(path, key), `expected a string, got ${describe(v)}`, code)
  return v
}

/** `v` (at `path`) as an array of strings; else throws `code` naming the array or the bad element. */
export function stringArray(v: unknown, path: string, code?: ErrorCode): string[] {
  if (!Array.isArray(v)) fail(path, `expected an array of strings, got ${describe(v)}`, code)
  for (const [i, s] of v.entries()) {
    if (typeof s !== 'string') fail(`${path}[${i}]`, `expected a string, got ${describe(s)}`, code)
  }
  return v as string[]
}

/** Throws `code` naming `path.key` for the first key of `o` not in `allowed`. */
export function onlyKeys(o: Obj, allowed: readonly string[], path: string, code?: ErrorCode): void {
  for (const key of Object.keys(o)) {
    if (!allowed.includes(key))
      fail(join(path, key), `unknown field (expected ${allowed.map((k) => `"${k}"`).join(', ')})`, code)
  }
}
