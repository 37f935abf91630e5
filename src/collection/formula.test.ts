// The score-boosting formula on its own: every operator against a hand-computed value, the decays
// against their closed forms, random trees against a naive reference that walks the raw JSON, and
// the errors (parse and evaluation) with the path they name.
import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { QuiverError } from '../errors.js'
import { compileFilter } from '../filter/index.js'
import type { JsonValue, Payload, PointId } from '../types.js'
import { evaluateFormula, type Formula, parseFormula } from './formula.js'

const f32 = Math.fround

/** A point as the evaluator sees it: prefetch scores by index, conditions checked on the payload. */
function point(
  formula: Formula,
  payload: Payload | undefined,
  scores: (number | undefined)[] = [],
  id: PointId = 1,
) {
  const preds = formula.conditions.map((c) => compileFilter(c))
  return {
    id,
    payload,
    score: (i: number) => scores[i],
    condition: (i: number) => preds[i]!(id, payload),
  }
}

function evalWith(
  formula: unknown,
  payload: Payload | undefined = {},
  scores: (number | undefined)[] = [],
  defaults?: Record<string, JsonValue>,
): number {
  const f = parseFormula(defaults === undefined ? { formula } : { formula, defaults }, 'query')
  return evaluateFormula(f, point(f, payload, scores))
}

/** The QuiverError `fn` throws (fails the test when it returns). */
function thrown(fn: () => unknown): QuiverError {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(QuiverError)
    return err as QuiverError
  }
  throw new Error('expected an error')
}

describe('formula operators', () => {
  const payload: Payload = {
    price: 4,
    nested: { n: -2.5 },
    one: [7],
    many: [1, 2],
    list: [{ v: 3 }],
    tag: 'x',
    name: 'abc',
    loc: { lat: 0, lon: 1 },
    locs: [{ lat: 0, lon: 1 }],
    at: '2020-02-15T00:00:10Z',
  }

  it.each([
    ['a constant', 2.5, 2.5],
    ['a constant rounded to float32 (as Qdrant reads f32)', 0.1, f32(0.1)],
    ['$score: prefetch 0', '$score', 0.75],
    ['$score[0]', '$score[0]', 0.75],
    ['$score[1]', '$score[1]', 2],
    ['$score of a prefetch that did not return the point: 0', '$score[2]', 0],
    ['a payload number', 'price', 4],
    ['a nested key', 'nested.n', -2.5],
    ['an array of one number (flattened as Qdrant)', 'one', 7],
    ['a wildcard path with one value', 'list[].v', 3],
    ['an index path', 'many[1]', 2],
    ['a matching condition: 1', { key: 'tag', match: { value: 'x' } }, 1],
    ['a failing condition: 0', { key: 'tag', match: { value: 'y' } }, 0],
    ['a filter as a condition', { must_not: [{ key: 'tag', match: { value: 'x' } }] }, 0],
    ['has_id as a condition', { has_id: [1] }, 1],
    ['mult', { mult: [2, 3, 4] }, 24],
    ['mult of nothing: 1', { mult: [] }, 1],
    ['sum', { sum: [1, 2, 3.5] }, 6.5],
    ['sum of nothing: 0', { sum: [] }, 0],
    ['neg', { neg: 3 }, -3],
    ['abs', { abs: 'nested.n' }, 2.5],
    ['div', { div: { left: 7, right: 2 } }, 3.5],
    ['div by zero with by_zero_default', { div: { left: 7, right: 0, by_zero_default: 9 } }, 9],
    ['div with a zero numerator: 0 (denominator not evaluated)', { div: { left: 0, right: 'missing' } }, 0],
    ['sqrt', { sqrt: 16 }, 4],
    ['pow', { pow: { base: 2, exponent: 10 } }, 1024],
    ['pow with a fractional exponent', { pow: { base: 9, exponent: 0.5 } }, 3],
    ['exp', { exp: 1 }, f32(Math.E)],
    ['log10', { log10: 1000 }, 3],
    ['ln of exp', { ln: { exp: 2 } }, 2],
    [
      'mult stops at a zero factor (later factors not evaluated)',
      { mult: [0, { div: { left: 1, right: 0 } }] },
      0,
    ],
    ['datetime: epoch seconds', { datetime: '2020-02-15T00:00:00Z' }, 1581724800],
    [
      'datetime_key minus datetime',
      { sum: [{ datetime_key: 'at' }, { neg: { datetime: '2020-02-15T00:00:00Z' } }] },
      10,
    ],
    ['datetime without a zone is UTC', { datetime: '1970-01-02' }, 86400],
  ])('%s', (_, formula, want) => {
    expect(evalWith(formula, payload, [0.75, 2])).toBe(want)
  })

  it('geo_distance: haversine metres from origin to the payload point (one degree of the equator)', () => {
    // 2 pi R / 360 with Qdrant's mean Earth radius 6371008.8 m
    const degree = (6371008.8 * Math.PI) / 180
    const geo = (to: string) => evalWith({ geo_distance: { origin: { lat: 0, lon: 0 }, to } }, payload)
    expect(geo('loc')).toBe(f32(degree))
    expect(geo('locs')).toBe(f32(degree))
  })

  it('defaults fill variables with no value: payload keys, $score[i], geo points, datetimes', () => {
    const defaults = {
      missing: 5,
      'a.b': 1.5,
      '$score[2]': 0.25,
      nowhere: { lat: 0, lon: 1 },
      when: '1970-01-01T00:01:00Z',
    }
    expect(evalWith('missing', {}, [], defaults)).toBe(5)
    expect(evalWith('"a".b', {}, [], defaults)).toBe(1.5) // same path, other spelling
    expect(evalWith('$score[2]', {}, [1, 2], defaults)).toBe(0.25)
    expect(evalWith('$score[1]', {}, [1, 2], defaults)).toBe(2)
    expect(evalWith({ geo_distance: { origin: { lat: 0, lon: 0 }, to: 'nowhere' } }, {}, [], defaults)).toBe(
      f32((6371008.8 * Math.PI) / 180),
    )
    expect(evalWith({ datetime_key: 'when' }, undefined, [], defaults)).toBe(60)
    // a present value wins over the default
    expect(evalWith('missing', { missing: 2 }, [], defaults)).toBe(2)
  })

  it('prototype member names are ordinary keys: no inherited values, defaults in a Map', () => {
    const defaults = JSON.parse('{"constructor": 3, "toString": 4}') as Record<string, JsonValue>
    expect(evalWith({ sum: ['constructor', 'toString'] }, {}, [], defaults)).toBe(7)
    expect(thrown(() => evalWith('constructor', {})).message).toMatch(
      /no value in the payload nor in defaults/,
    )
    expect(
      thrown(() => parseFormula(JSON.parse('{"formula": 1, "defaults": {"__proto__": 1}}'), 'query')).message,
    ).toMatch(/query\.defaults\["__proto__"\]/)
  })
})

describe('decays match their closed forms', () => {
  // midpoint and scale representable in float32, so the closed forms need no rounding
  const cases = [
    { midpoint: 0.5, scale: 1 },
    { midpoint: 0.25, scale: 2 },
    { midpoint: 0.75, scale: 10 },
    { midpoint: 0.125, scale: 0.5 },
  ]
  const xs = [-30, -3, -1, -0.5, 0, 0.25, 1, 2, 5, 100]
  const decay = (kind: string, x: number, target: number, p: { midpoint: number; scale: number }) =>
    evalWith({ [`${kind}_decay`]: { x, target, ...p } })

  it('exp: midpoint^(|x - target| / scale)', () => {
    for (const p of cases)
      for (const x of xs)
        expect(decay('exp', x, 1, p)).toBeCloseTo(f32(p.midpoint ** (Math.abs(x - 1) / p.scale)), 6)
  })

  it('gauss: midpoint^((x - target)² / scale²)', () => {
    for (const p of cases)
      for (const x of xs)
        expect(decay('gauss', x, -1, p)).toBeCloseTo(f32(p.midpoint ** ((x + 1) ** 2 / p.scale ** 2)), 6)
  })

  it('lin: max(0, 1 - (1 - midpoint) |x - target| / scale)', () => {
    for (const p of cases)
      for (const x of xs)
        expect(decay('lin', x, 2, p)).toBeCloseTo(
          f32(Math.max(0, 1 - ((1 - p.midpoint) * Math.abs(x - 2)) / p.scale)),
          6,
        )
  })

  it('every decay is 1 at the target and midpoint at |x - target| = scale; defaults midpoint 0.5, scale 1, target 0', () => {
    for (const kind of ['exp', 'gauss', 'lin']) {
      for (const p of cases) {
        expect(decay(kind, 3, 3, p)).toBe(1)
        expect(decay(kind, 3 + p.scale, 3, p)).toBeCloseTo(p.midpoint, 6)
        expect(decay(kind, 3 - p.scale, 3, p)).toBeCloseTo(p.midpoint, 6)
      }
      expect(evalWith({ [`${kind}_decay`]: { x: 1 } })).toBeCloseTo(0.5, 6)
      expect(evalWith({ [`${kind}_decay`]: { x: -1 } })).toBeCloseTo(0.5, 6)
    }
    expect(evalWith({ lin_decay: { x: 10, midpoint: 0 } })).toBe(0)
    expect(evalWith({ lin_decay: { x: 10, midpoint: 1 } })).toBe(1)
  })
})

// ---- property test: random trees against a reference that evaluates the raw JSON ----

type Rand = () => number
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
const CONSTANTS = [-4, -2, -1.5, -1, -0.5, 0, 0.25, 0.5, 1, 2, 3, 10]
const VARIABLES = ['$score', '$score[1]', '$score[2]', 'a', 'b', 'c', 'arr']
const UNARY = ['neg', 'abs', 'sqrt', 'exp', 'log10', 'ln']
const DECAYS = ['lin_decay', 'exp_decay', 'gauss_decay']

function randomExpression(r: Rand, depth: number): JsonValue {
  if (depth === 0 || r() < 0.25) {
    const t = r()
    if (t < 0.4) return pick(r, CONSTANTS)
    if (t < 0.85) return pick(r, VARIABLES)
    return { key: 'tag', match: { value: pick(r, ['x', 'y']) } }
  }
  const sub = () => randomExpression(r, depth - 1)
  const t = r()
  if (t < 0.25) return { [pick(r, ['mult', 'sum'])]: Array.from({ length: Math.floor(r() * 4) }, sub) }
  if (t < 0.5) return { [pick(r, UNARY)]: sub() }
  if (t < 0.65) {
    const div: { [k: string]: JsonValue } = { left: sub(), right: sub() }
    if (r() < 0.5) div.by_zero_default = pick(r, CONSTANTS)
    return { div }
  }
  if (t < 0.8) return { pow: { base: sub(), exponent: sub() } }
  const params: { [k: string]: JsonValue } = { x: sub() }
  if (r() < 0.5) params.target = sub()
  if (r() < 0.5) params.scale = pick(r, [0.5, 1, 2, 4])
  if (r() < 0.5) params.midpoint = pick(r, [0.125, 0.25, 0.5, 0.75])
  return { [pick(r, DECAYS)]: params }
}

class RefError extends Error {
  constructor(readonly path: string) {
    super(path)
  }
}

/** IEEE pow (Rust's powf) where JS's `**` gives NaN for base 1 or -1 with an infinite/NaN exponent. */
function ieeePow(b: number, e: number): number {
  if (b === 1 || (b === -1 && e === Infinity) || (b === -1 && e === -Infinity)) return 1
  return b ** e
}

/** Evaluates raw formula JSON as Qdrant's documentation describes it; throws RefError(path) where Qdrant errs. */
function reference(
  e: JsonValue,
  path: string,
  env: { payload: Payload; scores: (number | undefined)[]; defaults: Record<string, number> },
): number {
  const checked = (v: number, p: string) => {
    if (!Number.isFinite(v)) throw new RefError(p)
    return v
  }
  if (typeof e === 'number') return e
  if (typeof e === 'string') {
    if (e.startsWith('$')) {
      const i = e === '$score' ? 0 : Number(e.slice(7, -1))
      return env.scores[i] ?? (env.defaults[e] as number | undefined) ?? 0
    }
    let v = env.payload[e]
    if (Array.isArray(v) && v.length <= 1) v = v[0]
    if (v === undefined && e in env.defaults) v = env.defaults[e]!
    if (typeof v !== 'number') throw new RefError(path)
    return v
  }
  const o = e as { [k: string]: JsonValue }
  if ('key' in o) return env.payload.tag === (o.match as { value: string }).value ? 1 : 0
  const op = Object.keys(o)[0]!
  const arg = o[op]!
  const p = `${path}.${op}`
  const a = arg as { [k: string]: JsonValue }
  switch (op) {
    case 'mult': {
      let prod = 1
      for (const [i, x] of (arg as JsonValue[]).entries()) {
        const v = reference(x, `${p}[${i}]`, env)
        if (v === 0) return 0
        prod *= v
      }
      return prod
    }
    case 'sum':
      return (arg as JsonValue[]).reduce<number>((s, x, i) => s + reference(x, `${p}[${i}]`, env), 0)
    case 'neg':
      return -reference(arg, p, env)
    case 'abs':
      return Math.abs(reference(arg, p, env))
    case 'sqrt':
      return checked(Math.sqrt(reference(arg, p, env)), p)
    case 'exp':
      return checked(Math.exp(reference(arg, p, env)), p)
    case 'log10':
      return checked(Math.log10(reference(arg, p, env)), p)
    case 'ln':
      return checked(Math.log(reference(arg, p, env)), p)
    case 'div': {
      const l = reference(a.left!, `${p}.left`, env)
      if (l === 0) return 0
      const rr = reference(a.right!, `${p}.right`, env)
      if (rr === 0 && typeof a.by_zero_default === 'number') return a.by_zero_default
      return checked(l / rr, p)
    }
    case 'pow': {
      const b = reference(a.base!, `${p}.base`, env)
      const x = reference(a.exponent!, `${p}.exponent`, env)
      return checked(ieeePow(b, x), p)
    }
    default: {
      const x = reference(a.x!, `${p}.x`, env)
      const t = a.target === undefined ? 0 : reference(a.target, `${p}.target`, env)
      const m = (a.midpoint as number | undefined) ?? 0.5
      const s = (a.scale as number | undefined) ?? 1
      const d = Math.abs(x - t)
      // Qdrant's folded forms (the closed forms are checked above): exp e^(λd) and gauss e^(λd²)
      // with λ = ln(m)/s and ln(m)/s², lin 1 - λd with λ = (1 - m)/s, clipped at 0 (NaN -> 0 as Rust's max)
      if (op === 'exp_decay') return Math.exp((Math.log(m) / s) * d)
      if (op === 'gauss_decay') return Math.exp((Math.log(m) / (s * s)) * d * d)
      const lin = 1 - ((1 - m) / s) * d
      return Number.isNaN(lin) ? 0 : Math.max(lin, 0)
    }
  }
}

describe('formula property test', () => {
  it('random trees evaluate as the reference, and fail at the same path', () => {
    const r = rng(20250318)
    let errors = 0
    let values = 0
    for (let t = 0; t < 3000; t++) {
      const formula = randomExpression(r, 5)
      const payload: Payload = { tag: pick(r, ['x', 'y']) }
      for (const k of ['a', 'b', 'c']) if (r() < 0.7) payload[k] = pick(r, [...CONSTANTS, 'str', null])
      if (r() < 0.5) payload.arr = pick(r, [[2], [1, 2], []])
      const defaults: Record<string, number> = {}
      if (r() < 0.5) defaults.a = pick(r, CONSTANTS)
      if (r() < 0.5) defaults.arr = 1
      if (r() < 0.5) defaults['$score[2]'] = 0.5
      const scores = [pick(r, CONSTANTS), r() < 0.5 ? undefined : pick(r, CONSTANTS)]
      const label = JSON.stringify({ formula, payload, defaults, scores })
      let want: number | RefError
      try {
        const v = reference(formula, 'query.formula', { payload, scores, defaults })
        want = Number.isFinite(Math.fround(v)) ? Math.fround(v) : new RefError('query.formula')
      } catch (err) {
        if (!(err instanceof RefError)) throw err
        want = err
      }
      const f = parseFormula({ formula, defaults }, 'query')
      let got: number | QuiverError
      try {
        got = evaluateFormula(f, point(f, payload, scores))
      } catch (err) {
        if (!(err instanceof QuiverError)) throw err
        got = err
      }
      if (want instanceof RefError) {
        errors++
        expect(got, label).toBeInstanceOf(QuiverError)
        expect((got as QuiverError).details?.path, label).toBe(want.path)
      } else {
        values++
        expect(got, label).toBe(want)
      }
    }
    // both outcomes are exercised
    expect(errors).toBeGreaterThan(300)
    expect(values).toBeGreaterThan(300)
  })
})

describe('formula errors', () => {
  it.each([
    [{ sum: [1, { foo: 2 }] }, /query\.formula\.sum\[1\]: unknown operator "foo"/],
    [{ sum: [1, {}] }, /query\.formula\.sum\[1\]: expected exactly one operator .*got an empty object/],
    [{ neg: 1, abs: 2 }, /query\.formula: expected exactly one operator .*got neg, abs/],
    [true, /query\.formula: expected an expression .*got boolean true/],
    [null, /query\.formula: expected an expression .*got null/],
    [[1, 2], /query\.formula: expected an expression .*got an array/],
    [Number.NaN, /query\.formula: expected a finite number, got NaN/],
    [1e39, /query\.formula: 1e\+39 is outside the float32 range/],
    [{ mult: 3 }, /query\.formula\.mult: expected an array of expressions, got number 3/],
    [{ div: 3 }, /query\.formula\.div: expected \{ left, right, by_zero_default \}/],
    [{ div: { left: 1 } }, /query\.formula\.div\.right: required/],
    [
      { div: { left: 1, right: 2, by_zero_default: 'x' } },
      /query\.formula\.div\.by_zero_default: expected a finite number/,
    ],
    [{ div: { left: 1, right: 2, extra: 1 } }, /query\.formula\.div\.extra: unknown field/],
    [{ pow: { base: 1 } }, /query\.formula\.pow\.exponent: required/],
    [{ sqrt: { ln: { foo: 1 } } }, /query\.formula\.sqrt\.ln: unknown operator "foo"/],
    ['$foo', /query\.formula: unknown variable "\$foo"/],
    ['$score[]', /query\.formula: unknown variable/],
    ['', /query\.formula: invalid key path "": empty key/],
    ['a..b', /query\.formula: invalid key path/],
    [
      { lin_decay: { x: 1, midpoint: 2 } },
      /query\.formula\.lin_decay\.midpoint: expected a number in \[0, 1\]/,
    ],
    [
      { exp_decay: { x: 1, midpoint: 0 } },
      /query\.formula\.exp_decay\.midpoint: expected a number in \(0, 1\)/,
    ],
    [
      { gauss_decay: { x: 1, midpoint: 1 } },
      /query\.formula\.gauss_decay\.midpoint: expected a number in \(0, 1\)/,
    ],
    [{ gauss_decay: { x: 1, scale: 0 } }, /query\.formula\.gauss_decay\.scale: expected a number > 0/],
    [{ exp_decay: { target: 1 } }, /query\.formula\.exp_decay\.x: required/],
    [{ datetime: 'yesterday' }, /query\.formula\.datetime: expected an RFC 3339 datetime string/],
    [{ datetime_key: 5 }, /query\.formula\.datetime_key: expected a payload key/],
    [
      { geo_distance: { origin: { lat: 100, lon: 0 }, to: 'loc' } },
      /query\.formula\.geo_distance\.origin: expected \{ lat/,
    ],
    [{ geo_distance: { origin: { lat: 1, lon: 0 } } }, /query\.formula\.geo_distance\.to: required/],
  ])('refuses %j', (formula, message) => {
    const err = thrown(() => parseFormula({ formula }, 'query'))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toMatch(message)
  })

  it('refuses bad defaults and bad conditions, naming the path', () => {
    const bad = (query: Record<string, unknown>) => thrown(() => parseFormula(query, 'query'))
    expect(bad({ formula: 1, defaults: { $score: 'x' } }).message).toMatch(
      /query\.defaults\["\$score"\]: a score default must be a finite number/,
    )
    expect(bad({ formula: 1, defaults: { $nope: 1 } }).message).toMatch(
      /query\.defaults\["\$nope"\]: unknown variable/,
    )
    expect(bad({ formula: 1, defaults: [1] }).message).toMatch(/query\.defaults: expected an object/)
    expect(bad({ formula: 1, extra: 1 }).message).toMatch(/query\.extra: unknown field/)
    const cond = bad({ formula: { mult: [2, { key: 'a', match: { nope: 1 } }] } })
    expect(cond.code).toBe('INVALID_FILTER')
    expect(cond.message).toMatch(/^query\.formula\.mult\[1\]\.match/)
    let deep: JsonValue = 1
    for (let i = 0; i < 100; i++) deep = { neg: deep }
    expect(bad({ formula: deep }).message).toMatch(/nests deeper than 64/)
  })

  it.each([
    [
      { div: { left: 1, right: 0 } },
      /query\.formula\.div: point 1: 1\/0 = Infinity is not a finite number \(division by zero: set by_zero_default\)/,
    ],
    [
      { sum: [1, { div: { left: 'price', right: 'zero' } }] },
      /query\.formula\.sum\[1\]\.div: point 1: 4\/0 = Infinity/,
    ],
    [{ sqrt: -4 }, /query\.formula\.sqrt: point 1: sqrt\(-4\) = NaN is not a finite number/],
    [{ ln: 0 }, /query\.formula\.ln: point 1: ln\(0\) = -Infinity/],
    [{ log10: -1 }, /query\.formula\.log10: point 1: log10\(-1\) = NaN/],
    [{ pow: { base: -1, exponent: 0.5 } }, /query\.formula\.pow: point 1: -1\^0\.5 = NaN/],
    [{ exp: 1000 }, /query\.formula\.exp: point 1: exp\(1000\) = Infinity/],
    [
      { mult: [1e30, 1e30] },
      /query\.formula: point 1: the formula's value 1\.0000000300949327e\+60 is not a finite float32/,
    ],
    [
      { mult: [2, 'missing'] },
      /query\.formula\.mult\[1\]: point 1: expected a number at "missing": no value in the payload nor in defaults/,
    ],
    ['name', /query\.formula: point 1: expected a number at "name", got string "abc"/],
    ['many', /query\.formula: point 1: expected a number at "many", got an array/],
    ['nil', /query\.formula: point 1: expected a number at "nil", got null/],
    [
      { geo_distance: { origin: { lat: 0, lon: 0 }, to: 'price' } },
      /query\.formula\.geo_distance: point 1: expected a geo point at "price", got number 4/,
    ],
    [
      { datetime_key: 'name' },
      /query\.formula\.datetime_key: point 1: expected a datetime at "name", got string "abc"/,
    ],
  ])('evaluating %j fails with the node path and the point', (formula, message) => {
    const err = thrown(() => evalWith(formula, { price: 4, zero: 0, name: 'abc', many: [1, 2], nil: null }))
    expect(err.code).toBe('INVALID_ARGUMENT')
    expect(err.message).toMatch(message)
    expect(err.details?.id).toBe(1)
  })
})
