// Qdrant's score-boosting formula query (`{ formula, defaults }`): checked into a readonly kind-tagged
// expression tree, evaluated per candidate of the prefetches, and the rescoring of those candidates.
// Semantics follow Qdrant's rescore_formula (lib/segment/src/index/query_optimization/rescore_formula).
import { describeValue, invalid, type QuiverError } from '../errors.js'
import {
  asGeoPoint,
  type FilterNode,
  type GeoPointValue,
  getValues,
  haversineDistance,
  type KeyPath,
  parseCondition,
  parseDateTime,
  parseKeyPath,
} from '../filter/index.js'
import { fail, isAbsent, isPlainObject as isObject, type Obj, onlyKeys } from '../json-input.js'
import type { Segment } from '../segment/segment.js'
import type { JsonValue, Payload, PointId } from '../types.js'

/** A point of a prefetch result, as query.ts's `Hit`. */
export interface Candidate {
  readonly segment: Segment
  readonly offset: number
  readonly id: PointId
  score: number
}

export type DecayKind = 'lin' | 'exp' | 'gauss'

/** Operators with one argument, evaluated in float64 as Rust's f64 methods do. */
export type UnaryKind = 'neg' | 'abs' | 'sqrt' | 'exp' | 'log10' | 'ln'

/**
 * One node of a checked formula. `path` is where the node sits in the request
 * (`query.formula.sum[1].div.left`); evaluation errors name it.
 */
export type FormulaNode =
  | { readonly kind: 'constant'; readonly path: string; readonly value: number }
  /** `$score` (index 0) or `$score[i]`: the candidate's score in prefetch i. */
  | { readonly kind: 'score'; readonly path: string; readonly index: number }
  /** A payload key path whose value must be one number. */
  | { readonly kind: 'payload'; readonly path: string; readonly key: KeyPath }
  /** Condition `index` of {@link Formula.conditions}: 1 when the point matches, else 0. */
  | { readonly kind: 'condition'; readonly path: string; readonly index: number }
  /** Haversine metres from `origin` to the geo point at `to`. */
  | {
      readonly kind: 'geo_distance'
      readonly path: string
      readonly origin: GeoPointValue
      readonly to: KeyPath
    }
  /** A datetime constant as epoch seconds. */
  | { readonly kind: 'datetime'; readonly path: string; readonly seconds: number }
  /** The datetime string at a payload key, as epoch seconds. */
  | { readonly kind: 'datetime_key'; readonly path: string; readonly key: KeyPath }
  | { readonly kind: 'mult' | 'sum'; readonly path: string; readonly args: readonly FormulaNode[] }
  | { readonly kind: UnaryKind; readonly path: string; readonly arg: FormulaNode }
  | {
      readonly kind: 'div'
      readonly path: string
      readonly left: FormulaNode
      readonly right: FormulaNode
      readonly byZeroDefault: number | null
    }
  | {
      readonly kind: 'pow'
      readonly path: string
      readonly base: FormulaNode
      readonly exponent: FormulaNode
    }
  | {
      readonly kind: 'decay'
      readonly path: string
      readonly decay: DecayKind
      readonly x: FormulaNode
      /** Absent: 0. */
      readonly target: FormulaNode | null
      /** Qdrant's folded constant: lin (1 - midpoint) / scale, exp ln(midpoint) / scale, gauss ln(midpoint) / scale². */
      readonly lambda: number
    }

export interface Formula {
  /** Where the formula sits in the request (`query.formula`). */
  readonly path: string
  readonly root: FormulaNode
  /** Conditions the tree refers to by index, parsed as filter conditions. */
  readonly conditions: readonly FilterNode[]
  /** Defaults of payload variables, by canonical key path text (`KeyPath.text`). */
  readonly payloadDefaults: ReadonlyMap<string, JsonValue>
  /** Defaults of `$score[i]` for candidates that prefetch i did not return (else 0). */
  readonly scoreDefaults: ReadonlyMap<number, number>
}

/** What evaluation needs to know about one candidate. */
export interface FormulaPoint {
  readonly id: PointId
  readonly payload: Payload | undefined
  /** The candidate's score in prefetch `i`, or undefined when that prefetch did not return it. */
  score(i: number): number | undefined
  /** Whether the candidate matches condition `i` of the formula. */
  condition(i: number): boolean
}

/** Operator names, each the single key of its object. */
const OPERATORS = [
  'mult',
  'sum',
  'neg',
  'abs',
  'div',
  'sqrt',
  'pow',
  'exp',
  'log10',
  'ln',
  'lin_decay',
  'exp_decay',
  'gauss_decay',
  'geo_distance',
  'datetime',
  'datetime_key',
] as const

/** Keys that make an object a filter condition rather than an operator (Qdrant tries `Condition` first). */
const CONDITION_KEYS = [
  'key',
  'is_empty',
  'is_null',
  'has_id',
  'has_vector',
  'nested',
  'must',
  'should',
  'must_not',
  'min_should',
]

/** Deeper trees are refused (Qdrant's JSON parser stops at 128 nesting levels; each operator takes 1-2). */
export const MAX_FORMULA_DEPTH = 64

const SCORE_VARIABLE = /^\$score(?:\[([0-9]+)\])?$/
const DEFAULT_MIDPOINT = 0.5
const DEFAULT_SCALE = 1

/**
 * A number as Qdrant reads an `f32` field: finite, rounded to float32, within its range.
 * Throws INVALID_ARGUMENT naming `path`.
 */
function toFloat32(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v))
    fail(path, `expected a finite number, got ${describeValue(v)}`)
  const f = Math.fround(v)
  if (!Number.isFinite(f)) fail(path, `${v} is outside the float32 range`)
  return f
}

/** `$score` / `$score[i]` -> i; other `$` names are refused. Throws INVALID_ARGUMENT naming `path`. */
function scoreIndex(text: string, path: string): number {
  const m = SCORE_VARIABLE.exec(text)
  if (m === null)
    fail(
      path,
      `unknown variable ${JSON.stringify(text)} (the only reserved variable is $score or $score[<prefetch index>])`,
    )
  const index = m[1] === undefined ? 0 : Number(m[1])
  if (!Number.isSafeInteger(index)) fail(path, `prefetch index in ${JSON.stringify(text)} is too large`)
  return index
}

/**
 * Checks Qdrant's `FormulaQuery` (`{ formula: Expression, defaults?: { [variable]: value } }`) into a
 * {@link Formula}. Expressions: numbers, `$score` / `$score[i]`, payload key paths, filter conditions,
 * and the operator objects of {@link OPERATORS}. Stricter than Qdrant: unknown fields are errors.
 * Throws INVALID_ARGUMENT (INVALID_FILTER inside a condition) whose message starts with the JSON path.
 * @example parseFormula({ formula: { sum: ['$score', { mult: [0.5, 'popularity'] }] }, defaults: { popularity: 0 } }, 'query')
 */
export function parseFormula(query: Obj, path: string): Formula {
  onlyKeys(query, ['formula', 'defaults'], path)
  const conditions: FilterNode[] = []
  const root = parseExpression(query.formula, `${path}.formula`, conditions, 0)
  const payloadDefaults = new Map<string, JsonValue>()
  const scoreDefaults = new Map<number, number>()
  const defaults = query.defaults
  const dpath = `${path}.defaults`
  if (!isAbsent(defaults)) {
    if (!isObject(defaults))
      fail(dpath, `expected an object of variable -> value, got ${describeValue(defaults)}`)
    for (const name of Object.keys(defaults)) {
      const vpath = `${dpath}[${JSON.stringify(name)}]`
      const value = defaults[name]
      if (name.startsWith('$')) {
        const index = scoreIndex(name, vpath)
        if (typeof value !== 'number' || !Number.isFinite(value))
          fail(vpath, `a score default must be a finite number, got ${describeValue(value)}`)
        scoreDefaults.set(index, value)
      } else {
        const key = parseKeyPath(name, vpath)
        payloadDefaults.set(key.text, value as JsonValue)
      }
    }
  }
  return { path: `${path}.formula`, root, conditions, payloadDefaults, scoreDefaults }
}

function parseExpression(v: unknown, path: string, conditions: FilterNode[], depth: number): FormulaNode {
  if (depth > MAX_FORMULA_DEPTH) fail(path, `the formula nests deeper than ${MAX_FORMULA_DEPTH} operators`)
  if (typeof v === 'number') return { kind: 'constant', path, value: toFloat32(v, path) }
  if (typeof v === 'string') {
    if (v.startsWith('$')) return { kind: 'score', path, index: scoreIndex(v, path) }
    return { kind: 'payload', path, key: parseKeyPath(v, path) }
  }
  if (!isObject(v))
    fail(
      path,
      `expected an expression (a number, "$score", a payload key, a condition or an operator object), got ${describeValue(v)}`,
    )
  const keys = Object.keys(v)
  if (keys.some((k) => CONDITION_KEYS.includes(k))) {
    conditions.push(parseCondition(v, path))
    return { kind: 'condition', path, index: conditions.length - 1 }
  }
  const op = keys[0]
  if (keys.length !== 1 || op === undefined)
    fail(
      path,
      `expected exactly one operator (${OPERATORS.join(', ')}) or a condition, got ${keys.length === 0 ? 'an empty object' : keys.join(', ')}`,
    )
  const arg = v[op]
  const apath = `${path}.${op}`
  const sub = (x: unknown, p: string) => parseExpression(x, p, conditions, depth + 1)
  const params = (allowed: readonly string[], required: readonly string[]): Obj => {
    if (!isObject(arg)) fail(apath, `expected { ${allowed.join(', ')} }, got ${describeValue(arg)}`)
    onlyKeys(arg, allowed, apath)
    for (const k of required) if (isAbsent(arg[k])) fail(`${apath}.${k}`, 'required')
    return arg
  }
  switch (op) {
    case 'mult':
    case 'sum': {
      if (!Array.isArray(arg)) fail(apath, `expected an array of expressions, got ${describeValue(arg)}`)
      return { kind: op, path: apath, args: arg.map((e: unknown, i: number) => sub(e, `${apath}[${i}]`)) }
    }
    case 'neg':
    case 'abs':
    case 'sqrt':
    case 'exp':
    case 'log10':
    case 'ln':
      return { kind: op, path: apath, arg: sub(arg, apath) }
    case 'div': {
      const p = params(['left', 'right', 'by_zero_default'], ['left', 'right'])
      const byZeroDefault = isAbsent(p.by_zero_default)
        ? null
        : toFloat32(p.by_zero_default, `${apath}.by_zero_default`)
      return {
        kind: 'div',
        path: apath,
        left: sub(p.left, `${apath}.left`),
        right: sub(p.right, `${apath}.right`),
        byZeroDefault,
      }
    }
    case 'pow': {
      const p = params(['base', 'exponent'], ['base', 'exponent'])
      return {
        kind: 'pow',
        path: apath,
        base: sub(p.base, `${apath}.base`),
        exponent: sub(p.exponent, `${apath}.exponent`),
      }
    }
    case 'lin_decay':
    case 'exp_decay':
    case 'gauss_decay': {
      const p = params(['x', 'target', 'scale', 'midpoint'], ['x'])
      const decay = op.slice(0, op.indexOf('_')) as DecayKind
      const midpoint = isAbsent(p.midpoint) ? DEFAULT_MIDPOINT : toFloat32(p.midpoint, `${apath}.midpoint`)
      const scale = isAbsent(p.scale) ? DEFAULT_SCALE : toFloat32(p.scale, `${apath}.scale`)
      if (decay === 'lin' ? !(midpoint >= 0 && midpoint <= 1) : !(midpoint > 0 && midpoint < 1))
        fail(
          `${apath}.midpoint`,
          `expected a number in ${decay === 'lin' ? '[0, 1]' : '(0, 1)'}, got ${describeValue(p.midpoint)}`,
        )
      if (!(scale > 0)) fail(`${apath}.scale`, `expected a number > 0, got ${describeValue(p.scale)}`)
      const lambda =
        decay === 'lin'
          ? (1 - midpoint) / scale
          : decay === 'exp'
            ? Math.log(midpoint) / scale
            : Math.log(midpoint) / (scale * scale)
      return {
        kind: 'decay',
        path: apath,
        decay,
        x: sub(p.x, `${apath}.x`),
        target: isAbsent(p.target) ? null : sub(p.target, `${apath}.target`),
        lambda,
      }
    }
    case 'geo_distance': {
      const p = params(['origin', 'to'], ['origin', 'to'])
      const origin = asGeoPoint(p.origin)
      if (origin === null || !isObject(p.origin))
        fail(
          `${apath}.origin`,
          `expected { lat: [-90, 90], lon: [-180, 180] }, got ${describeValue(p.origin)}`,
        )
      onlyKeys(p.origin, ['lat', 'lon'], `${apath}.origin`)
      if (typeof p.to !== 'string') fail(`${apath}.to`, `expected a payload key, got ${describeValue(p.to)}`)
      return {
        kind: 'geo_distance',
        path: apath,
        origin: { lat: origin.lat, lon: origin.lon },
        to: parseKeyPath(p.to, `${apath}.to`),
      }
    }
    case 'datetime': {
      const micros = typeof arg === 'string' ? parseDateTime(arg) : null
      if (micros === null)
        fail(
          apath,
          `expected an RFC 3339 datetime string (e.g. "2025-03-18T12:00:00Z"), got ${describeValue(arg)}`,
        )
      return { kind: 'datetime', path: apath, seconds: micros / 1e6 }
    }
    case 'datetime_key': {
      if (typeof arg !== 'string') fail(apath, `expected a payload key, got ${describeValue(arg)}`)
      return { kind: 'datetime_key', path: apath, key: parseKeyPath(arg, apath) }
    }
    default:
      fail(
        path,
        `unknown operator ${JSON.stringify(op)} (expected one of ${OPERATORS.join(', ')}, or a condition)`,
      )
  }
}

function evalError(node: { readonly path: string }, point: FormulaPoint, message: string): QuiverError {
  return invalid(`${node.path}: point ${JSON.stringify(point.id)}: ${message}`, {
    path: node.path,
    id: point.id,
  })
}

/** `what = value` must be finite; else the error Qdrant raises (`NonFiniteNumber`). */
function finite(value: number, node: FormulaNode, point: FormulaPoint, what: string): number {
  if (Number.isFinite(value)) return value
  throw evalError(node, point, `${what} = ${value} is not a finite number`)
}

/** IEEE 754 `pow` as Rust's `powf` computes it: JS differs for base 1 (and -1) with a NaN or infinite exponent. */
function powf(base: number, exponent: number): number {
  if (base === 1) return 1
  if (base === -1 && (exponent === Number.POSITIVE_INFINITY || exponent === Number.NEGATIVE_INFINITY))
    return 1
  return base ** exponent
}

/**
 * The one value at `key` (Qdrant's payload retriever): arrays reached without a trailing `[]` are
 * flattened one level; no value at all falls back to the default, else an error; several values
 * stay an array (which no expression accepts). `expected` names the wanted type in errors.
 */
function valueAt(
  formula: Formula,
  node: FormulaNode,
  point: FormulaPoint,
  key: KeyPath,
  expected: string,
): JsonValue {
  const values = point.payload === undefined ? [] : getValues(point.payload, key)
  let flat = values
  if (key.rest.at(-1)?.kind !== 'wildcard') {
    flat = []
    for (const v of values) {
      if (Array.isArray(v)) flat.push(...v)
      else flat.push(v)
    }
  }
  if (flat.length === 1) return flat[0]!
  if (flat.length > 1) return flat
  const fallback = formula.payloadDefaults.get(key.text)
  if (fallback === undefined)
    throw evalError(
      node,
      point,
      `expected a ${expected} at ${JSON.stringify(key.text)}: no value in the payload nor in defaults`,
    )
  return fallback
}

function typeError(
  node: FormulaNode,
  point: FormulaPoint,
  key: KeyPath,
  expected: string,
  got: JsonValue,
): QuiverError {
  return evalError(
    node,
    point,
    `expected a ${expected} at ${JSON.stringify(key.text)}, got ${describeValue(got)}`,
  )
}

/**
 * The formula's value for one point, computed in float64 as Qdrant does and returned as a finite
 * float32. Throws INVALID_ARGUMENT naming the node's path and the point when a variable is missing
 * (and has no default) or has the wrong type, or a step gives a non-finite number (division by
 * zero without `by_zero_default`, sqrt or ln of a negative, overflow).
 * @example evaluateFormula(parseFormula({ formula: { mult: ['$score', 2] } }, 'query'), point)
 */
export function evaluateFormula(formula: Formula, point: FormulaPoint): number {
  const value = evaluate(formula, formula.root, point)
  const f = Math.fround(value)
  if (!Number.isFinite(f))
    throw evalError(formula, point, `the formula's value ${value} is not a finite float32`)
  return f
}

function evaluate(formula: Formula, node: FormulaNode, point: FormulaPoint): number {
  switch (node.kind) {
    case 'constant':
      return node.value
    case 'score':
      return point.score(node.index) ?? formula.scoreDefaults.get(node.index) ?? 0
    case 'payload': {
      const v = valueAt(formula, node, point, node.key, 'number')
      if (typeof v !== 'number') throw typeError(node, point, node.key, 'number', v)
      return v
    }
    case 'condition':
      return point.condition(node.index) ? 1 : 0
    case 'geo_distance': {
      const v = valueAt(formula, node, point, node.to, 'geo point')
      const g = asGeoPoint(v)
      if (g === null) throw typeError(node, point, node.to, 'geo point', v)
      return haversineDistance(node.origin.lat, node.origin.lon, g.lat, g.lon)
    }
    case 'datetime':
      return node.seconds
    case 'datetime_key': {
      const v = valueAt(formula, node, point, node.key, 'datetime')
      const micros = typeof v === 'string' ? parseDateTime(v) : null
      if (micros === null) throw typeError(node, point, node.key, 'datetime', v)
      return micros / 1e6
    }
    case 'mult': {
      let product = 1
      for (const arg of node.args) {
        const x = evaluate(formula, arg, point)
        // Qdrant stops at the first zero factor: later factors are not evaluated.
        if (x === 0) return 0
        product *= x
      }
      return product
    }
    case 'sum': {
      let sum = 0
      for (const arg of node.args) sum += evaluate(formula, arg, point)
      return sum
    }
    case 'neg':
      return -evaluate(formula, node.arg, point)
    case 'abs':
      return Math.abs(evaluate(formula, node.arg, point))
    case 'div': {
      const left = evaluate(formula, node.left, point)
      // Qdrant: a zero numerator gives 0 without evaluating the denominator.
      if (left === 0) return 0
      const right = evaluate(formula, node.right, point)
      if (right === 0 && node.byZeroDefault !== null) return node.byZeroDefault
      const q = left / right
      if (Number.isFinite(q)) return q
      throw evalError(
        node,
        point,
        `${left}/${right} = ${q} is not a finite number${right === 0 ? ' (division by zero: set by_zero_default)' : ''}`,
      )
    }
    case 'sqrt': {
      const x = evaluate(formula, node.arg, point)
      return finite(Math.sqrt(x), node, point, `sqrt(${x})`)
    }
    case 'pow': {
      const b = evaluate(formula, node.base, point)
      const e = evaluate(formula, node.exponent, point)
      return finite(powf(b, e), node, point, `${b}^${e}`)
    }
    case 'exp': {
      const x = evaluate(formula, node.arg, point)
      return finite(Math.exp(x), node, point, `exp(${x})`)
    }
    case 'log10': {
      const x = evaluate(formula, node.arg, point)
      return finite(Math.log10(x), node, point, `log10(${x})`)
    }
    case 'ln': {
      const x = evaluate(formula, node.arg, point)
      return finite(Math.log(x), node, point, `ln(${x})`)
    }
    case 'decay': {
      const x = evaluate(formula, node.x, point)
      const target = node.target === null ? 0 : evaluate(formula, node.target, point)
      return decay(node.decay, x, target, node.lambda)
    }
  }
}

/**
 * Qdrant's decay functions of `x` around `target`, in [0, 1], 1 at the target and `midpoint` at
 * distance `scale`: exp e^(λ|x-t|), gauss e^(λ(x-t)²), lin max(0, 1 - λ|x-t|) (λ from the node).
 * A NaN in lin gives 0, as Rust's `f64::max` does.
 */
export function decay(kind: DecayKind, x: number, target: number, lambda: number): number {
  const d = x - target
  switch (kind) {
    case 'exp':
      return Math.exp(lambda * Math.abs(d))
    case 'gauss':
      return Math.exp(lambda * d * d)
    case 'lin': {
      const v = -lambda * Math.abs(d) + 1
      // biome-ignore lint/complexity/useMathMinMax: Math.max(NaN, 0) is NaN; Rust's f64::max gives 0
      return v > 0 ? v : 0
    }
  }
}

/**
 * Rescores the distinct candidates of the prefetch `lists` (first occurrence kept) with `formula`:
 * `$score[i]` is a candidate's score in list i. Returns fresh hits, best first (ties keep candidate
 * order). Conditions are checked with each segment's filter executor (text indexes included).
 * Throws as {@link evaluateFormula} for the first candidate that fails; the lists are not changed.
 */
export function rescoreByFormula(lists: readonly (readonly Candidate[])[], formula: Formula): Candidate[] {
  const scores = lists.map((list) => {
    const m = new Map<PointId, number>()
    for (const h of list) m.set(h.id, h.score)
    return m
  })
  const seen = new Set<PointId>()
  const out: Candidate[] = []
  for (const list of lists) {
    for (const h of list) {
      if (seen.has(h.id)) continue
      seen.add(h.id)
      out.push({ segment: h.segment, offset: h.offset, id: h.id, score: h.score })
    }
  }
  const checkers = new Map<Segment, ((offset: number) => boolean)[]>()
  const checkersOf = (segment: Segment) => {
    let c = checkers.get(segment)
    if (c === undefined) {
      c = formula.conditions.map((node) => segment.filterExecutor(node).checker())
      checkers.set(segment, c)
    }
    return c
  }
  for (const hit of out) {
    hit.score = evaluateFormula(formula, {
      id: hit.id,
      payload: hit.segment.payloadAt(hit.offset),
      score: (i) => scores[i]?.get(hit.id),
      condition: (i) => checkersOf(hit.segment)[i]!(hit.offset),
    })
  }
  return out.sort((a, b) => b.score - a.score)
}
