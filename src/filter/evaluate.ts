// Compiles a filter AST into a closure tree that tests one point (id + payload) with Qdrant's
// semantics (lib/segment/src/payload_storage/condition_checker.rs, query_checker.rs); text conditions
// on fields with a full-text index follow the index's semantics when the caller names those fields.
import { isPlainObject as isObject } from '../json-input.js'
import type { JsonValue, Payload, PointId } from '../types.js'
import type { FilterNode, GeoNode, MatchAnyNode, MatchTextNode, RangeNode, ValuesCountNode } from './ast.js'
import { parseDateTime } from './datetime.js'
import { asGeoPoint, geoPointTest } from './geo.js'
import { type KeyPath, MATCH, NO_VALUES, someValue } from './key-path.js'
import { inSlice } from './slice.js'
import { containsPhrase, indexTerms, type TokenizerOptions, tokenize } from './tokenizer.js'

/** Tests one point: `id` as parsePointId normalised it; `payload` undefined means no payload (`{}`). */
export type PointPredicate = (id: PointId, payload: Payload | undefined) => boolean

type Pred = (id: PointId, payload: Payload) => boolean
type ValuePred = (v: JsonValue) => boolean

const EMPTY_PAYLOAD: Payload = Object.freeze({}) as Payload
/** The id seen by conditions inside `nested`: Qdrant checks them without an id, so `has_id` never matches. */
const NO_ID = -1

const ALWAYS: Pred = () => true

/** How to compile a filter. */
export interface CompileOptions {
  /**
   * Fields (by key text exactly as conditions spell it, e.g. `title`, `meta.body`) that have a
   * full-text index, with its tokenizer settings: `match.text`, `match.phrase` and `match.text_any`
   * on these keys use the index's token semantics instead of the substring fallback (see
   * docs/filters.md). Not applied to conditions inside `nested`, whose keys are relative.
   */
  readonly textIndexes?: ReadonlyMap<string, TokenizerOptions>
  /** Whether point `id` holds vector `name` (`has_vector`); absent = never. */
  readonly hasVector?: (name: string, id: PointId) => boolean
}

/** What `compile` carries down the tree: the text indexes that apply here (none inside `nested`). */
interface Context {
  readonly textIndexes: ReadonlyMap<string, TokenizerOptions> | null
  readonly hasVector: ((name: string, id: PointId) => boolean) | null
}

const NESTED_CONTEXT: Context = { textIndexes: null, hasVector: null }

/**
 * Compiles `node` (from parseFilter) into a predicate. Build it once per request and call it per
 * point; a call allocates nothing for the common conditions. Semantics: docs/filters.md.
 * @example compileFilter(parseFilter({ must: { key: 'n', range: { gte: 1 } } }))(7, { n: 2 }) // true
 * @example compileFilter(node, { textIndexes: new Map([['title', DEFAULT_TOKENIZER]]) })
 */
export function compileFilter(node: FilterNode, options?: CompileOptions): PointPredicate {
  if (node.kind === 'true') return () => true
  const textIndexes = options?.textIndexes
  const pred = compile(node, {
    textIndexes: textIndexes === undefined || textIndexes.size === 0 ? null : textIndexes,
    hasVector: options?.hasVector ?? null,
  })
  return (id, payload) => pred(id, payload ?? EMPTY_PAYLOAD)
}

/** A value or, when it is an array, any of its elements passes `check` (Qdrant's ValueChecker::_check). */
function elementwise(check: ValuePred): ValuePred {
  return (v) => {
    if (!Array.isArray(v)) return check(v)
    for (const x of v) if (check(x)) return true
    return false
  }
}

/** Some value at the path passes `check`; when the path holds no value the result is `ifMissing`. */
function field(path: Parameters<typeof someValue>[1], check: ValuePred, ifMissing: boolean): Pred {
  if (ifMissing) {
    return (_id, payload) => {
      const r = someValue(payload, path, check)
      return r === MATCH || r === NO_VALUES
    }
  }
  return (_id, payload) => someValue(payload, path, check) === MATCH
}

function boundsCheck(b: Pick<RangeNode, 'gt' | 'gte' | 'lt' | 'lte'>): (x: number) => boolean {
  const { gt, gte, lt, lte } = b
  return (x) =>
    (gt === null || x > gt) &&
    (gte === null || x >= gte) &&
    (lt === null || x < lt) &&
    (lte === null || x <= lte)
}

function valueCount(v: JsonValue): number {
  if (v === null) return 0
  return Array.isArray(v) ? v.length : 1
}

function isI64(v: number): boolean {
  return Number.isInteger(v) && v >= -(2 ** 63) && v < 2 ** 63
}

function matchSet(node: MatchAnyNode): ValuePred {
  const { values } = node
  if (node.kind === 'match_any') {
    return node.valueType === 'keyword'
      ? (v) => typeof v === 'string' && values.has(v)
      : (v) => typeof v === 'number' && values.has(v)
  }
  // match_except: null never passes; a value of the other JSON type (or a non-integer number) always does.
  if (node.valueType === 'keyword') return (v) => v !== null && (typeof v !== 'string' || !values.has(v))
  return (v) => v !== null && (typeof v !== 'number' || !isI64(v) || !values.has(v))
}

function matchText(node: MatchTextNode): ValuePred {
  const { text } = node
  if (node.kind === 'match_prefix') return (v) => typeof v === 'string' && v.startsWith(text)
  if (node.kind === 'match_text') return (v) => typeof v === 'string' && v.includes(text)
  const tokens = text.split(/\s+/).filter((t) => t.length > 0)
  return (v) => {
    if (typeof v !== 'string') return false
    for (const t of tokens) if (v.includes(t)) return true
    return false
  }
}

/** Calls `fn` with each string value at `path` and each string element of an array value there, until it returns true. */
function someString(payload: Payload, path: KeyPath, fn: (s: string) => boolean): boolean {
  return (
    someValue(payload, path, (v) => {
      if (typeof v === 'string') return fn(v)
      if (Array.isArray(v)) for (const x of v) if (typeof x === 'string' && fn(x)) return true
      return false
    }) === MATCH
  )
}

/**
 * Qdrant's full-text index semantics (lib/segment/src/index/field_index/full_text_index): the string
 * values at the path (array elements included) form one document. `text`: every query token is among
 * the document's index terms; `text_any`: some query token is; `phrase`: the query's token sequence
 * occurs consecutively in one value's tokens. A query without tokens matches nothing.
 */
function indexedText(node: MatchTextNode, o: TokenizerOptions): Pred {
  const query = tokenize(node.text, o)
  if (query.length === 0) return () => false
  const path = node.path
  if (node.form === 'phrase')
    return (_id, p) => someString(p, path, (s) => containsPhrase(tokenize(s, o), query))
  if (node.form === 'text_any') {
    return (_id, p) =>
      someString(p, path, (s) => {
        const terms = indexTerms(s, o)
        for (const t of query) if (terms.has(t)) return true
        return false
      })
  }
  const distinct = [...new Set(query)]
  return (_id, p) => {
    const missing = new Set(distinct)
    return someString(p, path, (s) => {
      for (const t of indexTerms(s, o)) missing.delete(t)
      return missing.size === 0
    })
  }
}

function geoCheck(node: GeoNode): ValuePred {
  const test = geoPointTest(node)
  return (v) => {
    const point = asGeoPoint(v)
    return point !== null && test(point.lat, point.lon)
  }
}

function rangeCheck(node: RangeNode): ValuePred {
  const inRange = boundsCheck(node)
  if (node.valueType === 'number') return (v) => typeof v === 'number' && inRange(v)
  return (v) => {
    if (typeof v !== 'string') return false
    const t = parseDateTime(v)
    return t !== null && inRange(t)
  }
}

function valuesCount(node: ValuesCountNode): Pred {
  const inRange = boundsCheck(node)
  return field(node.path, (v) => inRange(valueCount(v)), inRange(0))
}

function compileAll(children: readonly FilterNode[], ctx: Context): Pred[] {
  return children.map((c) => compile(c, ctx))
}

function compile(node: FilterNode, ctx: Context): Pred {
  switch (node.kind) {
    case 'true':
      return ALWAYS
    case 'and': {
      const preds = compileAll(node.children, ctx)
      if (preds.length === 2) {
        const [a, b] = preds as [Pred, Pred]
        return (id, p) => a(id, p) && b(id, p)
      }
      return (id, p) => {
        for (const pred of preds) if (!pred(id, p)) return false
        return true
      }
    }
    case 'or': {
      const preds = compileAll(node.children, ctx)
      return (id, p) => {
        for (const pred of preds) if (pred(id, p)) return true
        return false
      }
    }
    case 'not': {
      const child = compile(node.child, ctx)
      return (id, p) => !child(id, p)
    }
    case 'min_should': {
      const preds = compileAll(node.children, ctx)
      const need = node.minCount
      return (id, p) => {
        let hits = 0
        for (const pred of preds) if (pred(id, p) && ++hits >= need) return true
        return false
      }
    }
    case 'has_id': {
      const ids = node.ids
      return (id) => ids.has(id)
    }
    case 'slice': {
      const { total, index } = node
      return (id) => id !== NO_ID && inSlice(id, total, index)
    }
    case 'has_vector': {
      const has = ctx.hasVector
      const name = node.name
      return has === null ? () => false : (id) => id !== NO_ID && has(name, id)
    }
    case 'match_value': {
      const value = node.value
      return field(
        node.path,
        elementwise((v) => v === value),
        false,
      )
    }
    case 'match_any':
    case 'match_except':
      return field(node.path, elementwise(matchSet(node)), false)
    case 'match_text':
    case 'match_text_any': {
      const tokenizer = ctx.textIndexes?.get(node.key)
      if (tokenizer !== undefined) return indexedText(node, tokenizer)
      return field(node.path, elementwise(matchText(node)), false)
    }
    case 'match_prefix':
      return field(node.path, elementwise(matchText(node)), false)
    case 'geo_radius':
    case 'geo_bounding_box':
    case 'geo_polygon':
      return field(node.path, elementwise(geoCheck(node)), false)
    case 'range':
      return field(node.path, elementwise(rangeCheck(node)), false)
    case 'values_count':
      return valuesCount(node)
    case 'is_empty': {
      // Every value is null or []: no value may be "non-empty".
      const path = node.path
      const nonEmpty: ValuePred = (v) => v !== null && !(Array.isArray(v) && v.length === 0)
      return (_id, p) => someValue(p, path, nonEmpty) !== MATCH
    }
    case 'is_null':
      return field(node.path, (v) => v === null, false)
    case 'field_is_empty': {
      const flag = node.value
      const check: ValuePred = (v) =>
        v === null ? flag : Array.isArray(v) ? (v.length === 0) === flag : !flag
      return field(node.path, check, flag)
    }
    case 'field_is_null': {
      const flag = node.value
      const check: ValuePred = (v) =>
        v === null ? flag : Array.isArray(v) ? v.includes(null) === flag : !flag
      return field(node.path, check, !flag)
    }
    case 'nested': {
      const inner = compile(node.filter, NESTED_CONTEXT)
      return field(node.path, (v) => isObject(v) && inner(NO_ID, v), false)
    }
  }
}
