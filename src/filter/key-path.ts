// Payload key paths (Qdrant's JsonPath): parsing `a.b[].c`, `a[0]`, `"dotted.key"`, and reading,
// setting and deleting payload values at a path with Qdrant's rules (lib/segment/src/json_path).

import { type ErrorCode, QuiverError } from '../errors.js'
import { isPlainObject as isObject } from '../json-input.js'
import type { JsonValue, Payload } from '../types.js'

/** One step of a path after the first key: `.key`, `[3]` (array index) or `[]` (every array element). */
export type PathItem =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'wildcard' }

/**
 * A parsed payload key path. `first` is the top-level payload key; `rest` the steps below it.
 * `text` is the canonical spelling (keys that need it are double-quoted).
 */
export interface KeyPath {
  readonly text: string
  readonly first: string
  readonly rest: readonly PathItem[]
}

/** Results of {@link someValue}: the path reached no value, reached values none of which matched, or matched. */
export const NO_VALUES = 0
export const NO_MATCH = 1
export const MATCH = 2
export type SomeValueResult = typeof NO_VALUES | typeof NO_MATCH | typeof MATCH

const RAW_KEY_CHAR = /[\p{Alphabetic}\p{N}_-]/u
const RAW_KEY = /^[\p{Alphabetic}\p{N}_-]+$/u
const WILDCARD: PathItem = { kind: 'wildcard' }

function keyText(key: string): string {
  return RAW_KEY.test(key) ? key : `"${key}"`
}

function pathText(first: string, rest: readonly PathItem[]): string {
  let s = keyText(first)
  for (const item of rest) {
    if (item.kind === 'key') s += `.${keyText(item.key)}`
    else if (item.kind === 'index') s += `[${item.index}]`
    else s += '[]'
  }
  return s
}

/**
 * The one key no payload path may name: as an object key it reaches `Object.prototype` (JSON
 * bodies refuse it too). Other names of prototype members (`constructor`, `toString`) are ordinary
 * payload keys: every read here is an own-property read and every map keyed by a path is a `Map`.
 */
export const FORBIDDEN_KEY = '__proto__'

/**
 * Parses a key path. Grammar (Qdrant's): `key ( '.' key | '[' digits ']' | '[]' )*`, where a key is
 * one or more letters, digits, `_` or `-`, or a double-quoted string without `"` or `\`.
 * Throws `code` (default `INVALID_ARGUMENT`) naming `where` when the text is empty or malformed, or
 * when a key is `__proto__` (`FORBIDDEN_KEY`).
 * @example parseKeyPath('country.cities[].population')
 */
export function parseKeyPath(text: string, where = 'key', code: ErrorCode = 'INVALID_ARGUMENT'): KeyPath {
  const fail = (why: string): never => {
    throw new QuiverError(code, `${where}: invalid key path ${JSON.stringify(text)}: ${why}`, { path: where })
  }
  if (text.length === 0) fail('empty key')
  let pos = 0
  const readKey = (): string => {
    if (text[pos] === '"') {
      const end = text.indexOf('"', pos + 1)
      if (end < 0) fail(`unterminated quote at ${pos}`)
      const key = text.slice(pos + 1, end)
      if (key.includes('\\')) fail('quoted keys cannot hold a backslash')
      if (key === FORBIDDEN_KEY) fail(`the key ${FORBIDDEN_KEY} is not allowed`)
      pos = end + 1
      return key
    }
    const start = pos
    // Keys are matched per code point so that astral letters count as one character.
    while (pos < text.length) {
      const cp = text.codePointAt(pos)!
      const ch = String.fromCodePoint(cp)
      if (!RAW_KEY_CHAR.test(ch)) break
      pos += ch.length
    }
    if (pos === start) fail(`expected a key at ${pos}`)
    const key = text.slice(start, pos)
    if (key === FORBIDDEN_KEY) fail(`the key ${FORBIDDEN_KEY} is not allowed`)
    return key
  }
  const first = readKey()
  const rest: PathItem[] = []
  while (pos < text.length) {
    const c = text[pos]
    if (c === '.') {
      pos++
      rest.push({ kind: 'key', key: readKey() })
    } else if (c === '[') {
      if (text[pos + 1] === ']') {
        rest.push(WILDCARD)
        pos += 2
        continue
      }
      const end = text.indexOf(']', pos)
      const digits = end < 0 ? '' : text.slice(pos + 1, end)
      if (!/^[0-9]+$/.test(digits)) fail(`expected [] or [<index>] at ${pos}`)
      const index = Number(digits)
      if (!Number.isSafeInteger(index)) fail(`array index ${digits} is too large`)
      rest.push({ kind: 'index', index })
      pos = end + 1
    } else {
      fail(`unexpected ${JSON.stringify(c)} at ${pos}`)
    }
  }
  return { text: pathText(first, rest), first, rest }
}

/** `path` with a trailing `[]` added unless it has one (Qdrant's `array_key`, used by `nested`). */
export function withWildcardSuffix(path: KeyPath): KeyPath {
  if (path.rest.at(-1)?.kind === 'wildcard') return path
  const rest = [...path.rest, WILDCARD]
  return { text: pathText(path.first, rest), first: path.first, rest }
}

function own(obj: { [key: string]: JsonValue }, key: string): JsonValue | undefined {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

function setOwn(obj: { [key: string]: JsonValue }, key: string, value: JsonValue): void {
  if (key === '__proto__')
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true })
  else obj[key] = value
}

function visit(
  rest: readonly PathItem[],
  i: number,
  value: JsonValue,
  pred: (v: JsonValue) => boolean,
): SomeValueResult {
  if (i === rest.length) return pred(value) ? MATCH : NO_MATCH
  const item = rest[i]!
  if (item.kind === 'key') {
    if (!isObject(value)) return NO_VALUES
    const next = own(value, item.key)
    return next === undefined ? NO_VALUES : visit(rest, i + 1, next, pred)
  }
  if (!Array.isArray(value)) return NO_VALUES
  if (item.kind === 'index') {
    const next = value[item.index]
    return next === undefined ? NO_VALUES : visit(rest, i + 1, next, pred)
  }
  let result: SomeValueResult = NO_VALUES
  for (const element of value) {
    const r = visit(rest, i + 1, element, pred)
    if (r === MATCH) return MATCH
    if (r === NO_MATCH) result = NO_MATCH
  }
  return result
}

/**
 * Visits the values at `path` in order and stops at the first for which `pred` is true. Says whether
 * the path reached no value at all (`NO_VALUES`), only values that failed (`NO_MATCH`), or a match.
 * Allocates nothing beyond what `pred` does.
 */
export function someValue(payload: Payload, path: KeyPath, pred: (v: JsonValue) => boolean): SomeValueResult {
  const top = own(payload, path.first)
  if (top === undefined) return NO_VALUES
  if (path.rest.length === 0) return pred(top) ? MATCH : NO_MATCH
  return visit(path.rest, 0, top, pred)
}

/**
 * The values at `path`, Qdrant's `value_get`: a key step reads an object field (nothing on
 * non-objects, arrays included), `[i]` one array element, `[]` every element. The value at the end of
 * the path is returned as is, so an array there stays one array value (conditions then look at its
 * elements). A missing path gives `[]`; a stored `null` gives `[null]`.
 * @example getValues({ a: [{ b: 1 }, { b: [2, 3] }] }, parseKeyPath('a[].b')) // [1, [2, 3]]
 */
export function getValues(payload: Payload, path: KeyPath): JsonValue[] {
  const out: JsonValue[] = []
  someValue(payload, path, (v) => {
    out.push(v)
    return false
  })
  return out
}

function deepCopy(v: JsonValue): JsonValue {
  if (typeof v !== 'object' || v === null) return v
  if (Array.isArray(v)) return v.map(deepCopy)
  const out: { [key: string]: JsonValue } = {}
  for (const k of Object.keys(v)) setOwn(out, k, deepCopy(v[k]!))
  return out
}

/**
 * Merges `src` into `dest` in place (Qdrant's `merge_map`): each key of `src` replaces the key in
 * `dest`, except that a `null` in `src` deletes the key. Values are deep-copied.
 */
export function mergePayload(dest: { [key: string]: JsonValue }, src: Payload): void {
  for (const k of Object.keys(src)) {
    const v = src[k]!
    if (v === null) delete dest[k]
    else setOwn(dest, k, deepCopy(v))
  }
}

function setIn(rest: readonly PathItem[], i: number, dest: JsonValue, src: Payload): JsonValue {
  if (i === rest.length) {
    const obj = isObject(dest) ? dest : {}
    mergePayload(obj, src)
    return obj
  }
  const item = rest[i]!
  if (item.kind === 'key') {
    const obj = isObject(dest) ? dest : {}
    setOwn(obj, item.key, setIn(rest, i + 1, own(obj, item.key) ?? null, src))
    return obj
  }
  if (!Array.isArray(dest)) return []
  if (item.kind === 'index') {
    const element = dest[item.index]
    if (element !== undefined) dest[item.index] = setIn(rest, i + 1, element, src)
    return dest
  }
  for (let j = 0; j < dest.length; j++) dest[j] = setIn(rest, i + 1, dest[j]!, src)
  return dest
}

/**
 * Qdrant's `set_payload` with a `key` (`value_set`): walks `path` in `payload` (mutating it in
 * place), creating objects for missing or non-object key steps, and merges `src` into the object at
 * the end with {@link mergePayload}. An index step past the end of an array, or an index/`[]` step on
 * a non-array (which becomes `[]`), sets nothing below it. Without `path`, merges at the top level.
 * @example setAtPath(p, { x: 1 }, parseKeyPath('a.b')) // p.a.b.x === 1
 */
export function setAtPath(payload: Payload, src: Payload, path?: KeyPath): void {
  if (path === undefined) {
    mergePayload(payload, src)
    return
  }
  setOwn(payload, path.first, setIn(path.rest, 0, own(payload, path.first) ?? null, src))
}

function removeIn(rest: readonly PathItem[], i: number, value: JsonValue, removed: JsonValue[]): void {
  const item = rest[i]!
  const last = i === rest.length - 1
  if (item.kind === 'key') {
    if (!isObject(value)) return
    const next = own(value, item.key)
    if (next === undefined) return
    if (last) {
      removed.push(next)
      delete value[item.key]
    } else {
      removeIn(rest, i + 1, next, removed)
    }
    return
  }
  if (!Array.isArray(value)) return
  if (item.kind === 'index') {
    // Removing an array element is not idempotent, so Qdrant leaves `a[0]` as a last step alone.
    const next = value[item.index]
    if (!last && next !== undefined) removeIn(rest, i + 1, next, removed)
    return
  }
  if (last) {
    removed.push(value.slice())
    value.length = 0
    return
  }
  for (const element of value) removeIn(rest, i + 1, element, removed)
}

/**
 * Qdrant's `delete_payload` for one key (`value_remove`), in place: deletes the field at `path`
 * (through `[i]` and `[]` steps); a trailing `[]` empties the array; a trailing `[i]` removes
 * nothing. Returns the removed values.
 * @example deleteAtPath(p, parseKeyPath('a[].b')) // removes b from every object in p.a
 */
export function deleteAtPath(payload: Payload, path: KeyPath): JsonValue[] {
  const removed: JsonValue[] = []
  const top = own(payload, path.first)
  if (top === undefined) return removed
  if (path.rest.length === 0) {
    removed.push(top)
    delete payload[path.first]
  } else {
    removeIn(path.rest, 0, top, removed)
  }
  return removed
}

function sameItem(a: PathItem, b: PathItem): boolean {
  if (a.kind === 'key') return b.kind === 'key' && a.key === b.key
  if (a.kind === 'index') return b.kind === 'index' && a.index === b.index
  return b.kind === 'wildcard'
}

const ARRAY_STEP: PathItem = WILDCARD

/**
 * A payload cut to the values `paths` select, with Qdrant's `PayloadSelector::process`
 * (lib/segment/src/json_path: `value_filter` with `check_include_pattern` / `check_exclude_pattern`).
 * The payload is walked with a path that grows by `.key` into objects and `[]` into arrays.
 * `include` keeps a value when its path and a pattern agree item by item as far as both go: the
 * ancestors of a pattern are kept (cut to the pattern's branch) and everything under it whole, so
 * `include: ["n.k"]` gives `{ n: { k: v } }`; an array on the way is entered only by `[]`
 * (`a[].b`), and a scalar where the pattern wants an object is kept as it is. `exclude` drops a value
 * when a pattern is a prefix of its path (`a.b` does not reach into an array `a`: write `a[].b`).
 * Index steps (`a[0]`) never match, as in Qdrant. The input is not modified; untouched subtrees
 * are shared with it.
 * @example selectPayload({ n: { k: 1, j: 2 }, m: 3 }, [parseKeyPath('n.k')], 'include') // { n: { k: 1 } }
 */
export function selectPayload(
  payload: Payload,
  paths: readonly KeyPath[],
  mode: 'include' | 'exclude',
): Payload {
  const out: Payload = {}
  for (const key of Object.keys(payload)) {
    const live = paths.filter((p) => p.first === key)
    const value = payload[key]!
    if (mode === 'include') {
      if (live.length === 0) continue
      out[key] = live.some((p) => p.rest.length === 0) ? value : includeAt(value, live, 0)
    } else {
      if (live.some((p) => p.rest.length === 0)) continue
      out[key] = live.length === 0 ? value : excludeAt(value, live, 0)
    }
  }
  return out
}

/** `value` with each child (array element: step `[]`; object key: step `.key`) mapped, or dropped when `map` gives undefined; a scalar as it is. */
function mapChildren(
  value: JsonValue,
  map: (step: PathItem, child: JsonValue) => JsonValue | undefined,
): JsonValue {
  if (Array.isArray(value)) {
    const items: JsonValue[] = []
    for (const item of value) {
      const kept = map(ARRAY_STEP, item)
      if (kept !== undefined) items.push(kept)
    }
    return items
  }
  if (!isObject(value)) return value
  const obj: { [key: string]: JsonValue } = {}
  for (const key of Object.keys(value)) {
    const kept = map({ kind: 'key', key }, value[key]!)
    if (kept !== undefined) obj[key] = kept
  }
  return obj
}

/** `live`: patterns that agree with the path so far and go deeper than `depth`. */
function includeAt(value: JsonValue, live: readonly KeyPath[], depth: number): JsonValue {
  return mapChildren(value, (step, child) => {
    const next = live.filter((p) => sameItem(p.rest[depth]!, step))
    if (next.length === 0) return undefined
    return next.some((p) => p.rest.length === depth + 1) ? child : includeAt(child, next, depth + 1)
  })
}

/** `live`: patterns that agree with the path so far and go deeper than `depth`. */
function excludeAt(value: JsonValue, live: readonly KeyPath[], depth: number): JsonValue {
  return mapChildren(value, (step, child) => {
    const next = live.filter((p) => sameItem(p.rest[depth]!, step))
    if (next.some((p) => p.rest.length === depth + 1)) return undefined
    return next.length === 0 ? child : excludeAt(child, next, depth + 1)
  })
}
