import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { rng } from '../../../test/support/random.js'
import { QuiverError } from '../../errors.js'
import type { JsonValue, Payload } from '../../types.js'
import type { FieldNode } from '../ast.js'
import { compileFilter } from '../evaluate.js'
import { parseKeyPath } from '../key-path.js'
import { parseFilter } from '../parse.js'
import { GeoIndex } from './geo.js'
import type { FieldIndexSpec } from './types.js'

type Rand = () => number

const spec = (field = 'loc'): FieldIndexSpec => ({
  field,
  path: parseKeyPath(field),
  params: { type: 'geo' },
})

function node(condition: object): FieldNode {
  const n = parseFilter({ must: condition })
  if (n.kind === 'and' || n.kind === 'or' || n.kind === 'not' || n.kind === 'true')
    throw new Error('not a field node')
  return n as FieldNode
}

const radius = (lat: number, lon: number, r: number, key = 'loc') =>
  node({ key, geo_radius: { center: { lat, lon }, radius: r } })
const box = (top: number, left: number, bottom: number, right: number, key = 'loc') =>
  node({
    key,
    geo_bounding_box: { top_left: { lat: top, lon: left }, bottom_right: { lat: bottom, lon: right } },
  })
const rect = (lat0: number, lon0: number, lat1: number, lon1: number) => ({
  points: [
    { lat: lat0, lon: lon0 },
    { lat: lat0, lon: lon1 },
    { lat: lat1, lon: lon1 },
    { lat: lat1, lon: lon0 },
    { lat: lat0, lon: lon0 },
  ],
})

/** Offsets < size whose payload satisfies `n` per the evaluator. */
function expected(n: FieldNode, payloads: ReadonlyMap<number, Payload>, size: number): number[] {
  const pred = compileFilter(n)
  const out: number[] = []
  for (const [o, p] of payloads) if (o < size && pred(0, p)) out.push(o)
  return out.sort((a, b) => a - b)
}

function check(index: GeoIndex, n: FieldNode, payloads: ReadonlyMap<number, Payload>, size: number): number {
  const got = [...index.filter(n, size).toOffsets()]
  const want = expected(n, payloads, size)
  expect(got).toEqual(want)
  const est = index.estimate(n)
  expect(est.min).toBeLessThanOrEqual(est.exp)
  expect(est.exp).toBeLessThanOrEqual(est.max)
  expect(est.max).toBeGreaterThanOrEqual(want.length)
  expect(est.max).toBeLessThanOrEqual(index.pointCount)
  return want.length
}

const round = (x: number) => Math.round(x * 1000) / 1000

function randomPoint(r: Rand): { lat: number; lon: number } {
  const roll = r()
  if (roll < 0.05) return { lat: r() < 0.5 ? 90 : -90, lon: round(r() * 360 - 180) }
  if (roll < 0.1) return { lat: round(r() * 180 - 90), lon: r() < 0.5 ? 180 : -180 }
  if (roll < 0.3) return { lat: round(84 + r() * 6), lon: round(r() * 360 - 180) }
  if (roll < 0.5) return { lat: round(r() * 20 - 10), lon: round(170 + r() * 10) * (r() < 0.5 ? 1 : -1) }
  return { lat: round(r() * 180 - 90), lon: round(r() * 360 - 180) }
}

const JUNK: JsonValue[] = [
  null,
  3,
  'Berlin',
  true,
  [],
  {},
  [[{ lat: 0, lon: 0 }]],
  { lat: '1', lon: 2 },
  { lat: 1 },
  { lat: 91, lon: 0 },
  { lat: 0, lon: 181 },
  { lat: 1, lon: 2, extra: 'ok' },
]

function randomValue(r: Rand): JsonValue | undefined {
  const roll = r()
  if (roll < 0.1) return undefined
  if (roll < 0.25) return JUNK[Math.floor(r() * JUNK.length)]!
  if (roll < 0.45) {
    const n = Math.floor(r() * 4)
    return Array.from({ length: n }, () =>
      r() < 0.8 ? randomPoint(r) : JUNK[Math.floor(r() * JUNK.length)]!,
    )
  }
  return randomPoint(r)
}

function randomPayload(r: Rand): Payload {
  const v = randomValue(r)
  const p: Payload = { other: { lat: 0, lon: 0 } }
  if (v !== undefined) p['loc'] = v
  return p
}

function randomQuery(r: Rand): FieldNode {
  const roll = r()
  const p = randomPoint(r)
  if (roll < 0.4) {
    const radii = [0, 1000, 100_000, 1_000_000, 5_000_000, 21_000_000]
    return radius(p.lat, p.lon, radii[Math.floor(r() * radii.length)]! * (0.5 + r()))
  }
  if (roll < 0.8) {
    const q = randomPoint(r)
    return box(Math.max(p.lat, q.lat), p.lon, Math.min(p.lat, q.lat), q.lon)
  }
  const lat0 = round(r() * 160 - 80)
  const lon0 = round(r() * 340 - 170)
  const h = 1 + r() * 40
  const w = 1 + r() * 60
  const lat1 = Math.min(90, lat0 + h)
  const lon1 = Math.min(180, lon0 + w)
  const hole = rect(
    lat0 + (lat1 - lat0) / 4,
    lon0 + (lon1 - lon0) / 4,
    lat1 - (lat1 - lat0) / 4,
    lon1 - (lon1 - lon0) / 4,
  )
  const tri = {
    points: [
      { lat: lat0, lon: lon0 },
      { lat: lat1, lon: lon0 },
      { lat: lat0, lon: lon1 },
      { lat: lat0, lon: lon0 },
    ],
  }
  return node({
    key: 'loc',
    geo_polygon:
      r() < 0.5 ? { exterior: rect(lat0, lon0, lat1, lon1), interiors: [hole] } : { exterior: tri },
  })
}

function countValid(payloads: ReadonlyMap<number, Payload>): number {
  const any = node({
    key: 'loc',
    geo_bounding_box: { top_left: { lat: 90, lon: -180 }, bottom_right: { lat: -90, lon: 180 } },
  })
  return expected(any, payloads, Number.MAX_SAFE_INTEGER).length
}

describe('GeoIndex agrees with the evaluator', () => {
  it.each([1, 2, 3])('random payloads, updates and queries (seed %i)', (seed) => {
    const r = rng(seed * 104729)
    const index = new GeoIndex(spec())
    const payloads = new Map<number, Payload>()
    let size = 0
    let current = index
    let nonEmpty = 0
    for (let round = 0; round < 12; round++) {
      const ops = round === 0 ? 1500 : Math.floor(r() * 300)
      for (let i = 0; i < ops; i++) {
        const roll = r()
        if (roll < 0.6 || size === 0) {
          const o = size++
          const p = randomPayload(r)
          current.set(o, p)
          payloads.set(o, p)
        } else if (roll < 0.8) {
          const o = Math.floor(r() * size)
          const p = randomPayload(r)
          current.set(o, p)
          payloads.set(o, p)
        } else if (roll < 0.95) {
          const o = Math.floor(r() * size)
          current.remove(o)
          payloads.delete(o)
        } else {
          const o = Math.floor(r() * size)
          current.set(o, undefined)
          payloads.delete(o)
        }
      }
      expect(current.pointCount).toBe(countValid(payloads))
      for (let q = 0; q < 25; q++) {
        const querySize = r() < 0.2 ? Math.floor(r() * size) : size
        if (check(current, randomQuery(r), payloads, querySize) > 0) nonEmpty++
      }
      if (round % 4 === 3) {
        current = GeoIndex.restore(spec(), current.serialize())
        expect(current.pointCount).toBe(countValid(payloads))
      }
    }
    // Most queries must find something, or the comparison says little.
    expect(nonEmpty).toBeGreaterThan(100)
  })

  it('indexes points below a nested path, arrays included', () => {
    const index = new GeoIndex(spec('trip.stops[].at'))
    const payloads = new Map<number, Payload>([
      [0, { trip: { stops: [{ at: { lat: 1, lon: 1 } }, { at: [{ lat: 50, lon: 50 }, 'x'] }] } }],
      [1, { trip: { stops: [{ at: { lat: 60, lon: 60 } }] } }],
      [2, { trip: { stops: { at: { lat: 1, lon: 1 } } } }],
    ])
    for (const [o, p] of payloads) index.set(o, p)
    expect(index.pointCount).toBe(2)
    expect(check(index, box(55, 45, 0, 55, 'trip.stops[].at'), payloads, 3)).toBe(1)
    expect(check(index, box(70, 0, 0, 70, 'trip.stops[].at'), payloads, 3)).toBe(2)
  })
})

describe('GeoIndex shapes', () => {
  const fill = (points: [number, number][]) => {
    const index = new GeoIndex(spec())
    const payloads = new Map<number, Payload>()
    points.forEach(([lat, lon], o) => {
      const p = { loc: { lat, lon } }
      index.set(o, p)
      payloads.set(o, p)
    })
    return { index, payloads, size: points.length }
  }

  it('near the poles a circle covers every longitude beyond the pole', () => {
    const { index, payloads, size } = fill([
      [90, 0],
      [90, 179],
      [89.5, -170],
      [89.5, 10],
      [88, 100],
      [-90, 0],
      [-89.9, 45],
    ])
    const north = [...index.filter(radius(89.5, 10, 120_000), size).toOffsets()]
    expect(north).toEqual([0, 1, 2, 3])
    expect(check(index, radius(89.5, 10, 120_000), payloads, size)).toBe(4)
    expect(check(index, radius(90, 0, 300_000), payloads, size)).toBe(5)
    expect(check(index, radius(-90, 123, 20_000), payloads, size)).toBe(2)
    expect(check(index, box(90, -180, 89, 180), payloads, size)).toBe(4)
    expect(check(index, radius(0, 0, 21_000_000), payloads, size)).toBe(7)
  })

  it('antimeridian boxes take both sides, edges included', () => {
    const { index, payloads, size } = fill([
      [0, 179],
      [0, -179],
      [0, 180],
      [0, -180],
      [0, 170],
      [0, 0],
      [10, -170],
      [10.001, 175],
    ])
    expect([...index.filter(box(10, 170, -10, -170), size).toOffsets()]).toEqual([0, 1, 2, 3, 4, 6])
    check(index, box(10, 170, -10, -170), payloads, size)
    check(index, box(5, 179.5, -5, -179.5), payloads, size)
    // A radius around the antimeridian reaches both sides too.
    expect([...index.filter(radius(0, 180, 200_000), size).toOffsets()]).toEqual([0, 1, 2, 3])
  })

  it('a polygon with a hole', () => {
    const { index, payloads, size } = fill([
      [1, 1],
      [5, 5],
      [4, 5],
      [9, 9],
      [0, 5],
      [11, 5],
    ])
    const n = node({
      key: 'loc',
      geo_polygon: { exterior: rect(0, 0, 10, 10), interiors: [rect(4, 4, 6, 6)] },
    })
    expect([...index.filter(n, size).toOffsets()]).toEqual([0, 3])
    check(index, n, payloads, size)
  })

  it('offsets beyond size are left out; re-set and remove replace values', () => {
    const { index } = fill([
      [1, 1],
      [1, 1],
      [1, 1],
    ])
    const b = box(2, 0, 0, 2)
    expect([...index.filter(b, 2).toOffsets()]).toEqual([0, 1])
    index.set(1, { loc: { lat: 50, lon: 50 } })
    index.remove(0)
    index.remove(0)
    index.remove(99)
    expect([...index.filter(b, 3).toOffsets()]).toEqual([2])
    expect(index.pointCount).toBe(2)
    index.set(2, { loc: 'nowhere' })
    expect(index.pointCount).toBe(1)
    expect([...index.filter(b, 3).toOffsets()]).toEqual([])
  })

  it('bulk-inserts 100k points and answers correctly (merge is O(n log n))', () => {
    const r = rng(7)
    const index = new GeoIndex(spec())
    const n = 100_000
    const lats = new Float64Array(n)
    for (let o = 0; o < n; o++) {
      const lat = r() * 180 - 90
      lats[o] = lat
      index.set(o, { loc: { lat, lon: r() * 360 - 180 } })
    }
    expect(index.pointCount).toBe(n)
    const got = index.filter(box(10, -180, -10, 180), n)
    let want = 0
    for (const lat of lats) if (lat >= -10 && lat <= 10) want++
    expect(got.count()).toBe(want)
    expect(index.estimate(box(10, -180, -10, 180)).max).toBe(want)
  })
})

describe('GeoIndex serialization', () => {
  it('round-trips, dropping removed entries', () => {
    const index = new GeoIndex(spec())
    index.set(0, {
      loc: [
        { lat: 1, lon: 2 },
        { lat: -3, lon: 4 },
      ],
    })
    index.set(1, { loc: { lat: 5, lon: 6 } })
    index.set(2, { loc: { lat: 7, lon: 8 } })
    index.remove(1)
    const restored = GeoIndex.restore(spec(), index.serialize())
    expect(restored.pointCount).toBe(2)
    const all = box(90, -180, -90, 180)
    expect([...restored.filter(all, 3).toOffsets()]).toEqual([0, 2])
    restored.set(0, { loc: { lat: 50, lon: 50 } })
    expect([...restored.filter(box(10, 0, -10, 10), 3).toOffsets()]).toEqual([2])
    expect(GeoIndex.restore(spec(), new GeoIndex(spec()).serialize()).pointCount).toBe(0)
  })

  const corrupt = (bytes: Uint8Array) => {
    try {
      GeoIndex.restore(spec(), bytes)
    } catch (err) {
      return err instanceof QuiverError ? err.code : err
    }
    return 'no error'
  }

  it('refuses bad bytes with CORRUPTED', () => {
    const good = (() => {
      const i = new GeoIndex(spec())
      i.set(0, { loc: { lat: 1, lon: 1 } })
      i.set(1, { loc: { lat: 2, lon: 2 } })
      return i.serialize()
    })()
    const f64 = (...xs: number[]) => new Uint8Array(new Float64Array(xs).buffer)
    const u32 = (...xs: number[]) => new Uint8Array(new Uint32Array(xs).buffer)
    const file = (over: object) =>
      encode({
        format: 'quiver.geo-index',
        version: 1,
        lat: f64(1, 2),
        lon: f64(1, 2),
        offset: u32(0, 1),
        ...over,
      })
    expect(corrupt(file({}))).toBe('no error')
    expect(corrupt(good.subarray(0, good.length - 3))).toBe('CORRUPTED')
    expect(corrupt(new Uint8Array([0xc1]))).toBe('CORRUPTED')
    expect(corrupt(encode(42))).toBe('CORRUPTED')
    expect(corrupt(file({ version: 2 }))).toBe('CORRUPTED')
    expect(corrupt(file({ format: 'other' }))).toBe('CORRUPTED')
    expect(corrupt(file({ lat: f64(2, 1) }))).toBe('CORRUPTED')
    expect(corrupt(file({ lat: f64(1, 91) }))).toBe('CORRUPTED')
    expect(corrupt(file({ lon: f64(1, Number.NaN) }))).toBe('CORRUPTED')
    expect(corrupt(file({ offset: u32(0) }))).toBe('CORRUPTED')
    expect(corrupt(file({ lon: 'x' }))).toBe('CORRUPTED')
  })

  it('needs a geo spec and a geo node', () => {
    expect(() => new GeoIndex({ ...spec(), params: { type: 'keyword' } })).toThrow(QuiverError)
    const index = new GeoIndex(spec())
    const m = node({ key: 'loc', match: { value: 1 } })
    expect(index.supports(m)).toBe(false)
    expect(index.supports(box(1, 0, 0, 1))).toBe(true)
    expect(() => index.filter(m, 1)).toThrow(/cannot answer a match_value/)
    expect(() => index.set(-1, {})).toThrow(QuiverError)
  })
})
