// Compiles a filter AST into a closure tree that tests one point (id + payload) with Qdrant's
// semantics without a payload index (lib/segment/src/payload_storage/condition_checker.rs, query_checker.rs).
import type { JsonValue, Payload, PointId } from '../types.js'
import type { FilterNode, MatchAnyNode, MatchTextNode, RangeNode, ValuesCountNode } from './ast.js'
import { parseDateTime } from './datetime.js'
import { MATCH, NO_VALUES, someValue } from './key-path.js'

/** Tests one point: `id` as parsePointId normalised it; `payload` undefined means no payload (`{}`). */
export type PointPredicate = (id: PointId, payload: Payload | undefined) => boolean

type Pred = (id: PointId, payload: Payload) => boolean
type ValuePred = (v: JsonValue) => boolean

const EMPTY_PAYLOAD: Payload = Object.freeze({}) as Payload
/** The id seen by conditions inside `nested`: Qdrant checks them without an id, so `has_id` never matches. */
const NO_ID = -1

const ALWAYS: Pred = () => true

/**
 * Compiles `node` (from parseFilter) into a predicate. Build it once per request and call it per
 * point; a call allocates nothing for the common conditions. Semantics: docs/filters.md.
 * @example compileFilter(parseFilter({ must: { key: 'n', range: { gte: 1 } } }))(7, { n: 2 }) // true
 */
export function compileFilter(node: FilterNode): PointPredicate {
  if (node.kind === 'true') return () => true
  const pred = compile(node)
  return (id, payload) => pred(id, payload ?? EMPTY_PAYLOAD)
}

function isObject(v: JsonValue): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
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

function compileAll(children: readonly FilterNode[]): Pred[] {
  return children.map(compile)
}

function compile(node: FilterNode): Pred {
  switch (node.kind) {
    case 'true':
      return ALWAYS
    case 'and': {
      const preds = compileAll(node.children)
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
      const preds = compileAll(node.children)
      return (id, p) => {
        for (const pred of preds) if (pred(id, p)) return true
        return false
      }
    }
    case 'not': {
      const child = compile(node.child)
      return (id, p) => !child(id, p)
    }
    case 'min_should': {
      const preds = compileAll(node.children)
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
    case 'match_text_any':
    case 'match_prefix':
      return field(node.path, elementwise(matchText(node)), false)
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
      const inner = compile(node.filter)
      return field(node.path, (v) => isObject(v) && inner(NO_ID, v), false)
    }
  }
}
