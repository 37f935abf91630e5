// Property test: random payloads and random filters (seeded), compileFilter against a deliberately
// naive reference that walks the raw filter JSON and collects values into arrays.
import { describe, expect, it } from 'vitest'
import { rng as prng } from '../../test/support/random.js'
import type { JsonValue, Payload } from '../types.js'
import { compileFilter } from './evaluate.js'
import { parseFilter } from './parse.js'
import { DEFAULT_TOKENIZER, indexTerms, type TokenizerOptions, tokenize } from './tokenizer.js'

// ---- seeded PRNG (mulberry32) ----
type Rand = () => number
const int = (r: Rand, lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1))
const pick = <T>(r: Rand, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!

const KEYS = ['a', 'b', 'c']
const STRINGS = ['x', 'y', 'xy', '', 'x y']
const INTS = [-1, 0, 1, 2, 3]
// Integer-ish grid coordinates, so that points often fall exactly on box edges and polygon rings.
const LATS = [-90, -45, 0, 2, 4, 5, 6, 8, 10, 45, 89, 90]
const LONS = [-180, -179, -10, 0, 2, 4, 5, 6, 8, 10, 179, 180]
const GEO_JUNK: JsonValue[] = [
  { lat: '1', lon: 2 },
  { lat: 100, lon: 0 },
  { lat: 5 },
  { lat: 5, lon: 5, x: 1 },
]
const RADII = [0, 300_000, 1_000_000, 5_000_000]
const ring = (...pts: [number, number][]) => ({ points: pts.map(([lat, lon]) => ({ lat, lon })) })
const POLYGONS = [
  {
    exterior: ring([0, 0], [0, 10], [10, 10], [10, 0], [0, 0]),
    interiors: [ring([4, 4], [4, 6], [6, 6], [6, 4], [4, 4])],
  },
  { exterior: ring([0, 0], [10, 5], [0, 10], [0, 0]) },
  {
    exterior: ring([0, 0], [0, 10], [4, 10], [4, 4], [6, 4], [6, 10], [10, 10], [10, 0], [0, 0]),
    interiors: null,
  },
  { exterior: ring([-45, 170], [45, 179], [45, 180], [-45, 180], [-45, 170]) },
]

function genGeoPoint(r: Rand): { lat: number; lon: number } {
  return { lat: pick(r, LATS), lon: pick(r, LONS) }
}

function genValue(r: Rand, depth: number): JsonValue {
  if (r() < 0.1) return r() < 0.85 ? genGeoPoint(r) : pick(r, GEO_JUNK)
  const roll = r()
  if (depth > 0 && roll < 0.12) return Array.from({ length: int(r, 1, 3) }, () => genObject(r, depth - 1))
  if (depth > 0 && roll < 0.25) return Array.from({ length: int(r, 0, 3) }, () => genValue(r, depth - 1))
  if (depth > 0 && roll < 0.38) return genObject(r, depth - 1)
  if (roll < 0.5) return pick(r, INTS)
  if (roll < 0.58) return pick(r, [0.5, 2.5, -1.5])
  if (roll < 0.72) return pick(r, STRINGS)
  if (roll < 0.8) return r() < 0.5
  if (roll < 0.9) return null
  return pick(r, ['2020-01-01', '2020-06-01T12:00:00Z', 'not a date'])
}

function genObject(r: Rand, depth: number): { [k: string]: JsonValue } {
  const out: { [k: string]: JsonValue } = {}
  for (const k of KEYS) if (r() < 0.6) out[k] = genValue(r, depth)
  return out
}

/** A point, an array of points (and junk), or something else, for the geo field `g`. */
function genGeoValue(r: Rand): JsonValue {
  const roll = r()
  if (roll < 0.6) return genGeoPoint(r)
  if (roll < 0.85)
    return Array.from({ length: int(r, 0, 3) }, () => (r() < 0.8 ? genGeoPoint(r) : pick(r, GEO_JUNK)))
  return r() < 0.5 ? pick(r, GEO_JUNK) : genValue(r, 1)
}

/**
 * A payload whose top-level keys are often arrays of objects, so that `nested` has elements to visit,
 * and which usually holds geo values under `g`.
 */
function genPayload(r: Rand): Payload {
  const out = genObject(r, 3)
  for (const k of KEYS) if (r() < 0.3) out[k] = Array.from({ length: int(r, 1, 3) }, () => genObject(r, 2))
  if (r() < 0.75) out['g'] = genGeoValue(r)
  return out
}

function genPath(r: Rand): string {
  let p = pick(r, KEYS)
  const steps = int(r, 0, 2)
  for (let i = 0; i < steps; i++) {
    const s = r()
    p += s < 0.45 ? `.${pick(r, KEYS)}` : s < 0.8 ? '[]' : `[${int(r, 0, 1)}]`
  }
  return p
}

function genBounds(r: Rand, gen: () => unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const k of ['gt', 'gte', 'lt', 'lte']) {
    const roll = r()
    if (roll < 0.3) out[k] = gen()
    else if (roll < 0.35) out[k] = null
  }
  return out
}

function genMatch(r: Rand): unknown {
  const roll = r()
  const list = () =>
    r() < 0.5
      ? Array.from({ length: int(r, 0, 3) }, () => pick(r, STRINGS))
      : Array.from({ length: int(r, 1, 3) }, () => pick(r, INTS))
  if (roll < 0.3) return { value: r() < 0.4 ? pick(r, STRINGS) : r() < 0.7 ? pick(r, INTS) : r() < 0.5 }
  if (roll < 0.5) return { any: list() }
  if (roll < 0.7) return { except: list() }
  return { text: pick(r, ['x', 'y', ' ', '']) }
}

function genCondition(r: Rand, depth: number): unknown {
  const roll = r()
  if (depth > 0 && roll < 0.12) return genFilter(r, depth - 1)
  if (depth > 0 && roll < 0.3)
    return { nested: { key: r() < 0.7 ? pick(r, KEYS) : genPath(r), filter: genFilter(r, depth - 1) } }
  if (roll < 0.34) return { is_empty: { key: genPath(r) } }
  if (roll < 0.4) return { is_null: { key: genPath(r) } }
  if (roll < 0.47) return { has_id: Array.from({ length: int(r, 0, 3) }, () => int(r, 0, 5)) }
  const c: Record<string, unknown> = { key: genPath(r) }
  const kind = r()
  if (kind < 0.4) c['match'] = genMatch(r)
  else if (kind < 0.56) c['range'] = genBounds(r, () => pick(r, [-1, 0, 0.5, 1, 2, 2.5]))
  else if (kind < 0.62) c['range'] = genBounds(r, () => pick(r, ['2020-01-01', '2020-03-01T00:00:00Z']))
  else if (kind < 0.74) {
    if (r() < 0.7) c['key'] = pick(r, ['g', 'g[]'])
    Object.assign(c, genGeo(r))
  } else if (kind < 0.86) c['values_count'] = genBounds(r, () => int(r, 0, 3))
  else c[r() < 0.5 ? 'is_empty' : 'is_null'] = r() < 0.5
  if (r() < 0.1) c['match'] = genMatch(r) // several checks on one field condition
  if (r() < 0.05) c['range'] = genBounds(r, () => int(r, -1, 2))
  if (r() < 0.05) Object.assign(c, genGeo(r))
  return c
}

function genGeo(r: Rand): Record<string, unknown> {
  const roll = r()
  if (roll < 0.35) return { geo_radius: { center: genGeoPoint(r), radius: pick(r, RADII) } }
  if (roll < 0.7) {
    const a = genGeoPoint(r)
    const b = genGeoPoint(r)
    // left > right (a box across the antimeridian) as often as not.
    return {
      geo_bounding_box: {
        top_left: { lat: Math.max(a.lat, b.lat), lon: a.lon },
        bottom_right: { lat: Math.min(a.lat, b.lat), lon: b.lon },
      },
    }
  }
  return { geo_polygon: pick(r, POLYGONS) }
}

function genList(r: Rand, depth: number): unknown {
  const roll = r()
  if (roll < 0.1) return null
  if (roll < 0.35) return genCondition(r, depth)
  return Array.from({ length: int(r, 0, 3) }, () => genCondition(r, depth))
}

function genFilter(r: Rand, depth: number): Record<string, unknown> {
  const f: Record<string, unknown> = {}
  if (r() < 0.5) f['must'] = genList(r, depth)
  if (r() < 0.4) f['should'] = genList(r, depth)
  if (r() < 0.3) f['must_not'] = genList(r, depth)
  if (r() < 0.15) {
    const n = int(r, 0, 3)
    f['min_should'] = {
      conditions: Array.from({ length: n }, () => genCondition(r, depth)),
      min_count: int(r, 1, 3),
    }
  }
  return f
}

// ---- the reference: raw JSON in, arrays of values, no compilation ----
// biome-ignore lint/suspicious/noExplicitAny: the reference reads raw, unvalidated JSON
type J = any

/** How often the reference met the rarer situations, so that the test can insist they occur. */
const seen = { nestedElements: 0, hasIdInNested: 0, emptyShouldInNested: 0, geoMatches: 0, geoMisses: 0 }

function refValues(root: J, key: string): J[] {
  const steps = [...key.matchAll(/([A-Za-z_]+)|\[(\d*)\]/g)].map((m) =>
    m[1] !== undefined ? { key: m[1] } : m[2] === '' ? { all: true } : { index: Number(m[2]) },
  )
  let current: J[] = [root]
  for (const step of steps) {
    const next: J[] = []
    for (const v of current) {
      if ('key' in step) {
        if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, step.key))
          next.push(v[step.key])
      } else if (Array.isArray(v)) {
        if ('all' in step) next.push(...v)
        else if (step.index < v.length) next.push(v[step.index])
      }
    }
    current = next
  }
  return current
}

function asList(x: J): J[] | null {
  if (x === null || x === undefined) return null
  return Array.isArray(x) ? x : [x]
}

function inBounds(b: J, x: number): boolean {
  const ok = (k: string, test: (bound: number) => boolean) =>
    b[k] === null || b[k] === undefined || test(b[k])
  return (
    ok('gt', (v) => x > v) && ok('gte', (v) => x >= v) && ok('lt', (v) => x < v) && ok('lte', (v) => x <= v)
  )
}

function toMicros(s: string): number | null {
  if (s === 'not a date') return null
  return Date.parse(s.length === 10 ? `${s}T00:00:00Z` : s) * 1000
}

function refMatch(m: J, x: J): boolean {
  if ('value' in m) return x === m.value
  if ('text' in m) return typeof x === 'string' && x.includes(m.text)
  const list: J[] = m.any ?? m.except
  const integers = list.length > 0 && typeof list[0] === 'number'
  const sameType = integers ? typeof x === 'number' : typeof x === 'string'
  if ('any' in m) return sameType && list.includes(x)
  if (x === null) return false
  return !sameType || !list.includes(x)
}

function refRange(b: J, x: J): boolean {
  const datetime = Object.values(b).some((v) => typeof v === 'string')
  if (!datetime) return typeof x === 'number' && inBounds(b, x)
  if (typeof x !== 'string') return false
  const t = toMicros(x)
  const nb: J = {}
  for (const k of Object.keys(b)) nb[k] = b[k] === null ? null : toMicros(b[k])
  return t !== null && inBounds(nb, t)
}

function refGeoPoint(x: J): { lat: number; lon: number } | null {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) return null
  if (typeof x.lat !== 'number' || typeof x.lon !== 'number') return null
  if (Math.abs(x.lat) > 90 || Math.abs(x.lon) > 180) return null
  return x
}

/** Great-circle distance from the chord between unit vectors (not the haversine form). */
function refDistance(a: J, b: J): number {
  const v = (p: J) => {
    const la = (p.lat * Math.PI) / 180
    const lo = (p.lon * Math.PI) / 180
    return [Math.cos(la) * Math.cos(lo), Math.cos(la) * Math.sin(lo), Math.sin(la)]
  }
  const [x, y] = [v(a), v(b)]
  const chord = Math.hypot(x[0]! - y[0]!, x[1]! - y[1]!, x[2]! - y[2]!)
  return 6371008.8 * 2 * Math.asin(Math.min(1, chord / 2))
}

/** Winding number of a closed ring around p (0 = outside); 'edge' when p lies on a segment. */
function refWinding(p: J, ring: J[]): number | 'edge' {
  let w = 0
  for (let i = 0; i + 1 < ring.length; i++) {
    const [a, b] = [ring[i], ring[i + 1]]
    const cross = (b.lon - a.lon) * (p.lat - a.lat) - (b.lat - a.lat) * (p.lon - a.lon)
    const within =
      Math.min(a.lon, b.lon) <= p.lon &&
      p.lon <= Math.max(a.lon, b.lon) &&
      Math.min(a.lat, b.lat) <= p.lat &&
      p.lat <= Math.max(a.lat, b.lat)
    if (cross === 0 && within) return 'edge'
    if (a.lat <= p.lat && b.lat > p.lat && cross > 0) w++
    else if (a.lat > p.lat && b.lat <= p.lat && cross < 0) w--
  }
  return w
}

function refGeo(c: J, x: J): boolean {
  const p = refGeoPoint(x)
  if (p === null) return false
  let hit = false
  if (c.geo_radius != null) hit ||= refDistance(c.geo_radius.center, p) < c.geo_radius.radius
  if (c.geo_bounding_box != null) {
    const { top_left: tl, bottom_right: br } = c.geo_bounding_box
    const lonOk = tl.lon <= br.lon ? tl.lon <= p.lon && p.lon <= br.lon : !(br.lon < p.lon && p.lon < tl.lon)
    hit ||= lonOk && br.lat <= p.lat && p.lat <= tl.lat
  }
  if (c.geo_polygon != null) {
    const inside = (ring: J) => {
      const w = refWinding(p, ring.points)
      return w === 'edge' ? 'edge' : w !== 0
    }
    hit ||=
      inside(c.geo_polygon.exterior) === true &&
      (c.geo_polygon.interiors ?? []).every((h: J) => inside(h) === false)
  }
  if (hit) seen.geoMatches++
  else seen.geoMisses++
  return hit
}

function refField(c: J, payload: J): boolean {
  const values = refValues(payload, c.key)
  const count = (v: J) => (v === null ? 0 : Array.isArray(v) ? v.length : 1)
  if (c.values_count != null) {
    if (values.length === 0) return inBounds(c.values_count, 0)
    return values.some((v) => inBounds(c.values_count, count(v)))
  }
  if (c.is_empty != null) {
    if (values.length === 0) return c.is_empty
    return values.some((v) =>
      v === null ? c.is_empty : Array.isArray(v) ? (v.length === 0) === c.is_empty : !c.is_empty,
    )
  }
  if (c.is_null != null) {
    if (values.length === 0) return !c.is_null
    return values.some((v) =>
      v === null ? c.is_null : Array.isArray(v) ? v.some((e) => e === null) === c.is_null : !c.is_null,
    )
  }
  return values.some((v) =>
    (Array.isArray(v) ? v : [v]).some(
      (x) =>
        (c.match != null && refMatch(c.match, x)) ||
        (c.range != null && refRange(c.range, x)) ||
        ((c.geo_radius ?? c.geo_bounding_box ?? c.geo_polygon) != null && refGeo(c, x)),
    ),
  )
}

function refCondition(c: J, id: number, payload: J, inNested: boolean): boolean {
  if ('key' in c) return refField(c, payload)
  if ('is_empty' in c)
    return refValues(payload, c.is_empty.key).every((v) => v === null || (Array.isArray(v) && v.length === 0))
  if ('is_null' in c) return refValues(payload, c.is_null.key).some((v) => v === null)
  if ('has_id' in c) {
    if (inNested) seen.hasIdInNested++
    return !inNested && c.has_id.includes(id)
  }
  if ('nested' in c) {
    const key: string = c.nested.key.endsWith('[]') ? c.nested.key : `${c.nested.key}[]`
    return refValues(payload, key).some((v) => {
      if (v === null || typeof v !== 'object' || Array.isArray(v)) return false
      seen.nestedElements++
      return refFilter(c.nested.filter, id, v, true)
    })
  }
  return refFilter(c, id, payload, inNested)
}

function refFilter(f: J, id: number, payload: J, inNested: boolean): boolean {
  const check = (c: J) => refCondition(c, id, payload, inNested)
  const should = asList(f.should)
  if (should !== null) {
    if (should.length === 0 && inNested) seen.emptyShouldInNested++
    if (should.length === 0 ? inNested : !should.some(check)) return false
  }
  if (f.min_should != null && f.min_should.conditions.filter(check).length < f.min_should.min_count)
    return false
  if (!(asList(f.must) ?? []).every(check)) return false
  if ((asList(f.must_not) ?? []).some(check)) return false
  return true
}

describe('compileFilter agrees with a naive reference on random filters and payloads', () => {
  it.each([1, 2, 3, 4])('seed %i', (seed) => {
    const r = prng(seed * 7919)
    seen.nestedElements = 0
    seen.hasIdInNested = 0
    seen.emptyShouldInNested = 0
    seen.geoMatches = 0
    seen.geoMisses = 0
    let matched = 0
    let checked = 0
    for (let f = 0; f < 600; f++) {
      const filter = genFilter(r, 3)
      const predicate = compileFilter(parseFilter(filter))
      for (let p = 0; p < 8; p++) {
        const payload = genPayload(r)
        const id = int(r, 0, 5)
        const got = predicate(id, payload)
        const want = refFilter(filter, id, payload, false)
        if (got !== want) {
          expect.fail(
            `mismatch: got ${got}\nfilter ${JSON.stringify(filter)}\npayload ${JSON.stringify(payload)}\nid ${id}`,
          )
        }
        checked++
        if (got) matched++
      }
    }
    expect(checked).toBe(4800)
    expect(seen.nestedElements).toBeGreaterThan(300)
    expect(seen.hasIdInNested).toBeGreaterThan(20)
    expect(seen.emptyShouldInNested).toBeGreaterThan(20)
    expect(seen.geoMatches).toBeGreaterThan(5)
    expect(seen.geoMisses).toBeGreaterThan(30)
    // Both outcomes must be common, or the comparison says little.
    expect(matched / checked).toBeGreaterThan(0.15)
    expect(matched / checked).toBeLessThan(0.85)
  })

  it('geo conditions agree with the reference (grid points on edges, antimeridian boxes, holes)', () => {
    const r = prng(2024)
    let hits = 0
    const n = 6000
    for (let i = 0; i < n; i++) {
      const c = { key: r() < 0.8 ? 'g' : 'g[]', ...genGeo(r) }
      const filter = r() < 0.2 ? { must_not: [c] } : { must: [c] }
      const payload = genPayload(r)
      const got = compileFilter(parseFilter(filter))(0, payload)
      if (got !== refFilter(filter, 0, payload, false))
        expect.fail(
          `mismatch: got ${got}\nfilter ${JSON.stringify(filter)}\npayload ${JSON.stringify(payload)}`,
        )
      if (got) hits++
    }
    expect(hits / n).toBeGreaterThan(0.15)
    expect(hits / n).toBeLessThan(0.85)
  })

  it('text conditions on an indexed field agree with a reference built on the tokenizer', () => {
    const r = prng(77)
    const WORDS = ['Red', 'red', 'apple', 'pie', 'apple-pie', 'a', 'x,y', '']
    const sentence = () =>
      Array.from({ length: int(r, 0, 4) }, () => pick(r, WORDS)).join(pick(r, [' ', ', ', '-']))
    const docValue = (): JsonValue => {
      const roll = r()
      if (roll < 0.5) return sentence()
      if (roll < 0.8)
        return Array.from({ length: int(r, 0, 3) }, () => (r() < 0.8 ? sentence() : int(r, 0, 2)))
      return r() < 0.5 ? null : int(r, 0, 2)
    }
    const OPTIONS: TokenizerOptions[] = [
      DEFAULT_TOKENIZER,
      { ...DEFAULT_TOKENIZER, lowercase: false },
      { ...DEFAULT_TOKENIZER, tokenizer: 'prefix' },
      { ...DEFAULT_TOKENIZER, tokenizer: 'whitespace', minTokenLen: 2 },
    ]
    // The reference: the strings at the path (array elements included) as one document, term by term.
    const ref = (m: J, o: TokenizerOptions, payload: J, key: string): boolean => {
      const docs = refValues(payload, key)
        .flatMap((v) => (Array.isArray(v) ? v : [v]))
        .filter((v): v is string => typeof v === 'string')
      const text: string = m.text ?? m.text_any ?? m.phrase
      const query = tokenize(text, o)
      if (query.length === 0) return false
      const terms = new Set(docs.flatMap((d) => [...indexTerms(d, o)]))
      if ('text' in m) return query.every((t) => terms.has(t))
      if ('text_any' in m) return query.some((t) => terms.has(t))
      return docs.some((d) => {
        const tokens = tokenize(d, o)
        return tokens.some((_, i) => query.every((q, j) => tokens[i + j] === q))
      })
    }
    let hits = 0
    const n = 3000
    for (let i = 0; i < n; i++) {
      const o = pick(r, OPTIONS)
      const key = pick(r, ['t', 'd[].t'])
      const m = { [pick(r, ['text', 'text_any', 'phrase'])]: sentence() }
      const payload: Payload = { t: docValue(), d: [{ t: docValue() }, { t: docValue() }] }
      const indexes = new Map([[key, o]])
      const plain = compileFilter(parseFilter({ must: { key, match: m } }), { textIndexes: indexes })(
        0,
        payload,
      )
      if (plain !== ref(m, o, payload, key))
        expect.fail(
          `mismatch: got ${plain}\nmatch ${JSON.stringify(m)} on ${key}\npayload ${JSON.stringify(payload)}`,
        )
      // Inside nested the same condition uses the fallback, index or not.
      const nested = parseFilter({ must: { nested: { key: 'd', filter: { must: { key: 't', match: m } } } } })
      const fallback = compileFilter(nested)(0, payload)
      expect(compileFilter(nested, { textIndexes: new Map([['t', o]]) })(0, payload)).toBe(fallback)
      if (plain) hits++
    }
    expect(hits / n).toBeGreaterThan(0.15)
    expect(hits / n).toBeLessThan(0.85)
  })

  it('single conditions match a fair share of payloads (generator sanity)', () => {
    const r = prng(42)
    let hits = 0
    const n = 3000
    for (let i = 0; i < n; i++) {
      const c = genCondition(r, 1)
      const payload = genPayload(r)
      if (compileFilter(parseFilter({ must: [c] }))(0, payload)) hits++
    }
    expect(hits / n).toBeGreaterThan(0.1)
    expect(hits / n).toBeLessThan(0.9)
  })
})
