import { describe, fail as failAt, isPlainObject as isObj, type Obj } from '../json-input.js'
import { parsePointId } from '../point-id.js'
import type { PointId } from '../types.js'
import type { FieldNode, FilterNode, GeoNode, GeoPointValue, MatchAnyNode, MatchTextNode } from './ast.js'
import { TRUE } from './ast.js'
import { parseDateTime } from './datetime.js'
import { type KeyPath, parseKeyPath, withWildcardSuffix } from './key-path.js'

/** Where a filter is parsed: inside `nested`, Qdrant evaluates with its plain checker (see `should`). */
interface Scope {
  readonly nested: boolean
}

const FILTER_KEYS = ['must', 'should', 'must_not', 'min_should']
const GEO_KEYS = ['geo_radius', 'geo_bounding_box', 'geo_polygon'] as const
const FIELD_KEYS = ['key', 'match', 'range', ...GEO_KEYS, 'values_count', 'is_empty', 'is_null']
const FIELD_CHECKS =
  'match, range, geo_radius, geo_bounding_box, geo_polygon, values_count, is_empty, is_null'
const MATCH_KEYS = ['value', 'any', 'except', 'text', 'phrase', 'text_any', 'prefix']
const BOUND_KEYS = ['gt', 'gte', 'lt', 'lte'] as const
const I64_LIMIT = 2 ** 63

function fail(where: string, message: string, cause?: unknown): never {
  return failAt(where, message, 'INVALID_FILTER', cause)
}

function expectObject(v: unknown, where: string, what = 'an object'): Obj {
  if (!isObj(v)) fail(where, `expected ${what}, got ${describe(v)}`)
  return v
}

function checkKeys(obj: Obj, allowed: readonly string[], where: string): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) fail(`${where}.${k}`, `unknown key; expected one of ${allowed.join(', ')}`)
  }
}

function parseKey(v: unknown, where: string): KeyPath {
  if (typeof v !== 'string') fail(where, `expected a string key, got ${describe(v)}`)
  return parseKeyPath(v, where, 'INVALID_FILTER')
}

function isI64(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= -I64_LIMIT && v < I64_LIMIT
}

/**
 * Parses Qdrant filter JSON into a {@link FilterNode}. `null`/`undefined` match everything.
 * Accepts `must` / `should` / `must_not` (one condition, an array, or null), `min_should`
 * (`{ conditions: [...], min_count >= 1 }`), field conditions `{ key, match | range | geo_radius |
 * geo_bounding_box | geo_polygon | values_count | is_empty | is_null }`, `{ is_empty: { key } }`, `{ is_null: { key } }`, `{ has_id: [ids] }`,
 * `{ nested: { key, filter } }` and filters as conditions. Stricter than Qdrant on one point: unknown
 * keys are errors everywhere.
 * Throws `INVALID_FILTER` whose message starts with the JSON path of the problem, e.g.
 * `filter.must[1].range.gt: expected a number or a datetime string, got an object`.
 * @example parseFilter({ must: [{ key: 'city', match: { value: 'London' } }] })
 */
export function parseFilter(input: unknown, where = 'filter'): FilterNode {
  if (input === null || input === undefined) return TRUE
  return parseFilterObject(expectObject(input, where, 'a filter object'), where, { nested: false })
}

/**
 * One condition as an entry of `must` holds it: a field condition, `is_empty`, `is_null`, `has_id`,
 * `nested`, or a filter `{ must, should, must_not, min_should }` (score-boosting formulas use these).
 * Throws `INVALID_FILTER` whose message starts with `where`.
 * @example parseCondition({ key: 'tag', match: { value: 'new' } }, 'query.formula.sum[1]')
 */
export function parseCondition(input: unknown, where = 'condition'): FilterNode {
  return parseConditionIn(input, where, { nested: false })
}

function conditionList(v: unknown, where: string, scope: Scope): FilterNode[] | null {
  if (v === null || v === undefined) return null
  if (Array.isArray(v)) return v.map((c, i) => parseConditionIn(c, `${where}[${i}]`, scope))
  if (isObj(v)) return [parseConditionIn(v, where, scope)]
  fail(where, `expected a condition or an array of conditions, got ${describe(v)}`)
}

function parseFilterObject(obj: Obj, where: string, scope: Scope): FilterNode {
  checkKeys(obj, FILTER_KEYS, where)
  const parts: FilterNode[] = []
  const should = conditionList(obj['should'], `${where}.should`, scope)
  if (should !== null) {
    // Qdrant's optimised filter (every top-level search) reads an empty `should` as no constraint; the
    // plain checker used inside `nested` reads it as an empty disjunction, which matches nothing.
    if (should.length === 1) parts.push(should[0]!)
    else if (should.length > 1 || scope.nested) parts.push({ kind: 'or', children: should })
  }
  const minShould = obj['min_should']
  if (minShould !== null && minShould !== undefined) {
    const w = `${where}.min_should`
    const ms = expectObject(minShould, w)
    checkKeys(ms, ['conditions', 'min_count'], w)
    const conditions = ms['conditions']
    if (!Array.isArray(conditions))
      fail(`${w}.conditions`, `expected an array of conditions, got ${describe(conditions)}`)
    const minCount = ms['min_count']
    if (typeof minCount !== 'number' || !Number.isSafeInteger(minCount) || minCount < 1)
      fail(`${w}.min_count`, `expected an integer >= 1, got ${describe(minCount)}`)
    const children = conditions.map((c, i) => parseConditionIn(c, `${w}.conditions[${i}]`, scope))
    parts.push({ kind: 'min_should', children, minCount })
  }
  const must = conditionList(obj['must'], `${where}.must`, scope)
  if (must !== null) parts.push(...must)
  const mustNot = conditionList(obj['must_not'], `${where}.must_not`, scope)
  if (mustNot !== null) for (const child of mustNot) parts.push({ kind: 'not', child })
  if (parts.length === 0) return TRUE
  if (parts.length === 1) return parts[0]!
  return { kind: 'and', children: parts }
}

function parseConditionIn(v: unknown, where: string, scope: Scope): FilterNode {
  const obj = expectObject(v, where, 'a condition object')
  if ('key' in obj) return parseFieldCondition(obj, where)
  if ('is_empty' in obj || 'is_null' in obj) {
    const name = 'is_empty' in obj ? 'is_empty' : 'is_null'
    checkKeys(obj, [name], where)
    const inner = expectObject(obj[name], `${where}.${name}`, 'an object { key }')
    checkKeys(inner, ['key'], `${where}.${name}`)
    const path = parseKey(inner['key'], `${where}.${name}.key`)
    return { kind: name, key: inner['key'] as string, path }
  }
  if ('has_id' in obj) {
    checkKeys(obj, ['has_id'], where)
    const list = obj['has_id']
    if (!Array.isArray(list)) fail(`${where}.has_id`, `expected an array of point ids, got ${describe(list)}`)
    const ids = new Set<PointId>()
    list.forEach((id, i) => {
      const w = `${where}.has_id[${i}]`
      try {
        ids.add(parsePointId(id, w))
      } catch (err) {
        fail(
          w,
          `${describe(id)} is not a point id: expected an unsigned integer up to 2^53 - 1 or a UUID string`,
          err,
        )
      }
    })
    return { kind: 'has_id', ids }
  }
  if ('slice' in obj) {
    checkKeys(obj, ['slice'], where)
    const s = obj['slice']
    const w = `${where}.slice`
    if (typeof s !== 'object' || s === null || Array.isArray(s))
      fail(w, `expected { total, index }, got ${describe(s)}`)
    const sl = s as Record<string, unknown>
    checkKeys(sl, ['total', 'index'], w)
    const total = sl['total']
    const index = sl['index']
    if (typeof total !== 'number' || !Number.isInteger(total) || total < 1 || total > 0xffffffff)
      fail(`${w}.total`, `expected an integer 1..4294967295, got ${describe(total)}`)
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= total)
      fail(
        `${w}.index`,
        `Slice index must be less than the total number of slices (${total}), got ${describe(index)}`,
      )
    return { kind: 'slice', total, index }
  }
  if ('has_vector' in obj) {
    checkKeys(obj, ['has_vector'], where)
    const name = obj['has_vector']
    if (typeof name !== 'string') fail(`${where}.has_vector`, `expected a vector name, got ${describe(name)}`)
    return { kind: 'has_vector', name }
  }
  if ('nested' in obj) {
    checkKeys(obj, ['nested'], where)
    const w = `${where}.nested`
    const inner = expectObject(obj['nested'], w, 'an object { key, filter }')
    checkKeys(inner, ['key', 'filter'], w)
    const path = withWildcardSuffix(parseKey(inner['key'], `${w}.key`))
    const filter = parseFilterObject(
      expectObject(inner['filter'], `${w}.filter`, 'a filter object'),
      `${w}.filter`,
      {
        nested: true,
      },
    )
    return { kind: 'nested', key: inner['key'] as string, path, filter }
  }
  for (const k of ['has_vector', 'slice']) {
    if (k in obj) fail(`${where}.${k}`, 'this Qdrant condition is not supported by Quiver')
  }
  for (const k of Object.keys(obj)) {
    if (!FILTER_KEYS.includes(k))
      fail(
        `${where}.${k}`,
        `unknown key; a condition is a field condition { key, ${FIELD_CHECKS.replaceAll(', ', ' | ')} }, ` +
          'is_empty, is_null, has_id, nested, or a filter { must, should, must_not, min_should }',
      )
  }
  return parseFilterObject(obj, where, scope)
}

function present(v: unknown): boolean {
  return v !== null && v !== undefined
}

function parseFieldCondition(obj: Obj, where: string): FilterNode {
  checkKeys(obj, FIELD_KEYS, where)
  const keyText = obj['key']
  const path = parseKey(keyText, `${where}.key`)
  const key = keyText as string
  const match = present(obj['match']) ? parseMatch(obj['match'], `${where}.match`, key, path) : null
  const range = present(obj['range']) ? parseRange(obj['range'], `${where}.range`, key, path) : null
  const count = present(obj['values_count'])
    ? parseBounds(obj['values_count'], `${where}.values_count`, 'count')
    : null
  const geo: GeoNode[] = []
  for (const k of GEO_KEYS) if (present(obj[k])) geo.push(parseGeo(k, obj[k], `${where}.${k}`, key, path))
  const flags: { is_empty?: boolean; is_null?: boolean } = {}
  for (const flag of ['is_empty', 'is_null'] as const) {
    const v = obj[flag]
    if (!present(v)) continue
    if (typeof v !== 'boolean') fail(`${where}.${flag}`, `expected a boolean, got ${describe(v)}`)
    flags[flag] = v
  }
  // Qdrant's FieldCondition::check: values_count, else is_empty, else is_null, else match OR range OR geo.
  if (count !== null) return { kind: 'values_count', key, path, ...count }
  if (flags.is_empty !== undefined) return { kind: 'field_is_empty', key, path, value: flags.is_empty }
  if (flags.is_null !== undefined) return { kind: 'field_is_null', key, path, value: flags.is_null }
  const checks: FieldNode[] = []
  if (match !== null) checks.push(match)
  if (range !== null) checks.push(range)
  checks.push(...geo)
  if (checks.length === 0)
    fail(where, `field condition on ${JSON.stringify(key)} needs one of ${FIELD_CHECKS}`)
  return checks.length === 1 ? checks[0]! : { kind: 'or', children: checks }
}

function parseCoordinate(v: unknown, where: string, limit: 90 | 180): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < -limit || v > limit)
    fail(where, `expected a number in [-${limit}, ${limit}], got ${describe(v)}`)
  return v
}

/** `{ lat, lon }` in degrees, both required, nothing else. */
function parseGeoPoint(v: unknown, where: string): GeoPointValue {
  const obj = expectObject(v, where, 'a geo point { lat, lon }')
  checkKeys(obj, ['lat', 'lon'], where)
  return {
    lat: parseCoordinate(obj['lat'], `${where}.lat`, 90),
    lon: parseCoordinate(obj['lon'], `${where}.lon`, 180),
  }
}

/** `{ points: [...] }`: at least 4 points, the first equal to the last (Qdrant's `validate_line_string`). */
function parseRing(v: unknown, where: string): GeoPointValue[] {
  const obj = expectObject(v, where, 'a line string { points }')
  checkKeys(obj, ['points'], where)
  const list = obj['points']
  const w = `${where}.points`
  if (!Array.isArray(list)) fail(w, `expected an array of geo points, got ${describe(list)}`)
  const points = list.map((p, i) => parseGeoPoint(p, `${w}[${i}]`))
  if (points.length < 4) fail(w, `a polygon ring needs at least 4 points, got ${points.length}`)
  const first = points[0]!
  const last = points[points.length - 1]!
  if (first.lat !== last.lat || first.lon !== last.lon)
    fail(w, 'a polygon ring must be closed: the last point must equal the first')
  return points
}

function parseGeo(
  name: (typeof GEO_KEYS)[number],
  v: unknown,
  where: string,
  key: string,
  path: KeyPath,
): GeoNode {
  const obj = expectObject(v, where)
  switch (name) {
    case 'geo_radius': {
      checkKeys(obj, ['center', 'radius'], where)
      const center = parseGeoPoint(obj['center'], `${where}.center`)
      const radius = obj['radius']
      if (typeof radius !== 'number' || !Number.isFinite(radius) || radius < 0)
        fail(`${where}.radius`, `expected a number of metres >= 0, got ${describe(radius)}`)
      return { kind: 'geo_radius', key, path, lat: center.lat, lon: center.lon, radius }
    }
    case 'geo_bounding_box': {
      checkKeys(obj, ['top_left', 'bottom_right'], where)
      const tl = parseGeoPoint(obj['top_left'], `${where}.top_left`)
      const br = parseGeoPoint(obj['bottom_right'], `${where}.bottom_right`)
      if (tl.lat < br.lat)
        fail(
          `${where}.top_left.lat`,
          `the top edge (${tl.lat}) is below the bottom edge (bottom_right.lat = ${br.lat})`,
        )
      return { kind: 'geo_bounding_box', key, path, top: tl.lat, left: tl.lon, bottom: br.lat, right: br.lon }
    }
    case 'geo_polygon': {
      checkKeys(obj, ['exterior', 'interiors'], where)
      const exterior = parseRing(obj['exterior'], `${where}.exterior`)
      const list = obj['interiors']
      const interiors: GeoPointValue[][] = []
      if (present(list)) {
        if (!Array.isArray(list))
          fail(`${where}.interiors`, `expected an array of line strings, got ${describe(list)}`)
        list.forEach((ring, i) => {
          interiors.push(parseRing(ring, `${where}.interiors[${i}]`))
        })
      }
      return { kind: 'geo_polygon', key, path, exterior, interiors }
    }
  }
}

function parseMatch(v: unknown, where: string, key: string, path: KeyPath): FieldNode {
  const obj = expectObject(v, where)
  checkKeys(obj, MATCH_KEYS, where)
  const names = Object.keys(obj)
  if (names.length !== 1) fail(where, `expected exactly one of ${MATCH_KEYS.join(', ')}, got ${names.length}`)
  const name = names[0]!
  const w = `${where}.${name}`
  const arg = obj[name]
  switch (name) {
    case 'value':
      if (typeof arg === 'string' || typeof arg === 'boolean' || isI64(arg))
        return { kind: 'match_value', key, path, value: arg }
      return fail(w, `expected a string, an integer or a boolean, got ${describe(arg)}`)
    case 'any':
    case 'except':
      return parseValueSet(arg, w, name === 'any' ? 'match_any' : 'match_except', key, path)
    default: {
      if (typeof arg !== 'string') fail(w, `expected a string, got ${describe(arg)}`)
      const form = name as MatchTextNode['form']
      const kind = form === 'text_any' ? 'match_text_any' : form === 'prefix' ? 'match_prefix' : 'match_text'
      return { kind, key, path, form, text: arg }
    }
  }
}

function parseValueSet(
  v: unknown,
  where: string,
  kind: MatchAnyNode['kind'],
  key: string,
  path: KeyPath,
): MatchAnyNode {
  if (!Array.isArray(v)) fail(where, `expected an array of strings or of integers, got ${describe(v)}`)
  const valueType = typeof v[0] === 'number' ? 'integer' : 'keyword'
  const values = new Set<string | number>()
  v.forEach((x, i) => {
    const ok = valueType === 'keyword' ? typeof x === 'string' : isI64(x)
    if (!ok)
      fail(
        `${where}[${i}]`,
        `expected ${valueType === 'keyword' ? 'a string' : 'an integer'} like the first element, got ${describe(x)}`,
      )
    values.add(x as string | number)
  })
  return { kind, key, path, valueType, values }
}

interface Bounds {
  gt: number | null
  gte: number | null
  lt: number | null
  lte: number | null
}

function parseBounds(v: unknown, where: string, type: 'number' | 'count' | 'datetime'): Bounds {
  const obj = expectObject(v, where)
  checkKeys(obj, BOUND_KEYS, where)
  const out: Bounds = { gt: null, gte: null, lt: null, lte: null }
  for (const k of BOUND_KEYS) {
    const b = obj[k]
    if (!present(b)) continue
    const w = `${where}.${k}`
    if (type === 'count') {
      if (typeof b !== 'number' || !Number.isSafeInteger(b) || b < 0)
        fail(w, `expected an integer >= 0, got ${describe(b)}`)
      out[k] = b
    } else if (type === 'number') {
      if (typeof b !== 'number' || !Number.isFinite(b)) fail(w, `expected a number, got ${describe(b)}`)
      out[k] = b
    } else {
      const t = typeof b === 'string' ? parseDateTime(b) : null
      if (t === null)
        fail(w, `expected an RFC 3339 datetime string such as 2014-01-01T00:00:00Z, got ${describe(b)}`)
      out[k] = t
    }
  }
  return out
}

function parseRange(v: unknown, where: string, key: string, path: KeyPath): FieldNode {
  const obj = expectObject(v, where)
  // Qdrant: any string bound makes the whole range a datetime range.
  const datetime = BOUND_KEYS.some((k) => typeof obj[k] === 'string')
  const valueType = datetime ? 'datetime' : 'number'
  return { kind: 'range', key, path, valueType, ...parseBounds(obj, where, valueType) }
}
