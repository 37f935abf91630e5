import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { rng } from '../../../test/support/random.js'
import { QuiverError } from '../../errors.js'
import type { Payload } from '../../types.js'
import type { FieldNode } from '../ast.js'
import { compileFilter } from '../evaluate.js'
import { parseFilter } from '../parse.js'
import { NumericIndex } from './numeric.js'
import { parseFieldSchema } from './schema.js'

const node = (cond: object) => parseFilter({ must: [cond] }) as FieldNode

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    expect(e).toBeInstanceOf(QuiverError)
    return (e as QuiverError).code
  }
  return 'no error'
}

function offsets(index: NumericIndex, cond: object, size = 16): number[] {
  return [...index.filter(node(cond), size).toOffsets()]
}

describe('NumericIndex', () => {
  it('integer: indexes every number (floats too) and answers lookup and range', () => {
    const index = new NumericIndex(parseFieldSchema('n', 'integer'))
    index.set(0, { n: 1 })
    index.set(1, { n: [2, 3, 3] })
    index.set(2, { n: 2.5 })
    index.set(3, { n: ['4', null, true, [5]] })
    index.set(4, { n: -0 })
    expect(index.pointCount).toBe(4)
    expect(offsets(index, { key: 'n', match: { value: 2 } })).toEqual([1])
    expect(offsets(index, { key: 'n', match: { value: 0 } })).toEqual([4])
    expect(offsets(index, { key: 'n', match: { any: [1, 3, 5] } })).toEqual([0, 1])
    expect(offsets(index, { key: 'n', range: { gt: 2, lte: 3 } })).toEqual([1, 2])
    expect(offsets(index, { key: 'n', range: { gte: 0, lt: 1 } })).toEqual([4])
    expect(offsets(index, { key: 'n', range: {} })).toEqual([0, 1, 2, 4])
    expect(offsets(index, { key: 'n', range: { gt: 3, lt: 2 } })).toEqual([])
  })

  it('supports per type and params', () => {
    const matchInt = node({ key: 'n', match: { value: 2 } })
    const anyInt = node({ key: 'n', match: { any: [2] } })
    const num = node({ key: 'n', range: { gte: 1 } })
    const date = node({ key: 'n', range: { gte: '2020-01-01' } })
    const str = node({ key: 'n', match: { value: '2' } })
    const except = node({ key: 'n', match: { except: [2] } })
    const cases: [unknown, boolean[]][] = [
      ['integer', [true, true, true, false]],
      [{ type: 'integer', range: false }, [true, true, false, false]],
      [{ type: 'integer', lookup: false }, [true, true, true, false]],
      ['float', [true, true, true, false]],
      ['datetime', [false, false, false, true]],
    ]
    for (const [schema, want] of cases) {
      const index = new NumericIndex(parseFieldSchema('n', schema))
      expect([matchInt, anyInt, num, date].map((n) => index.supports(n))).toEqual(want)
      expect(index.supports(str)).toBe(false)
      expect(index.supports(except)).toBe(false)
    }
    expect(codeOf(() => new NumericIndex(parseFieldSchema('n', 'float')).filter(date, 4))).toBe('INTERNAL')
  })

  it('datetime: indexes parseable strings as microseconds, never numbers', () => {
    const index = new NumericIndex(parseFieldSchema('d', 'datetime'))
    index.set(0, { d: '2020-01-01T00:00:00Z' })
    index.set(1, { d: ['2020-06-01', 'junk'] })
    index.set(2, { d: 1_600_000_000_000_000 })
    index.set(3, { d: '2021-01-01T01:00:00+01:00' })
    expect(index.pointCount).toBe(3)
    expect(offsets(index, { key: 'd', range: { gte: '2020-01-01T00:00:00Z', lt: '2021-01-01' } })).toEqual([
      0, 1,
    ])
    expect(offsets(index, { key: 'd', range: { gte: '2021-01-01T00:00:00Z' } })).toEqual([3])
  })

  it('estimates ranges exactly for single-valued points and with bounds otherwise', () => {
    const index = new NumericIndex(parseFieldSchema('x', 'float'))
    for (let o = 0; o < 10; o++) index.set(o, { x: o })
    expect(index.estimate(node({ key: 'x', range: { gte: 2, lt: 5 } }))).toEqual({ min: 3, exp: 3, max: 3 })
    expect(index.estimate(node({ key: 'x', match: { value: 4 } }))).toEqual({ min: 1, exp: 1, max: 1 })
    index.set(3, { x: [3, 4, 4.5] })
    const est = index.estimate(node({ key: 'x', range: { gte: 2, lt: 5 } }))
    // Entries 2, 3, 4, 4, 4.5 in range over points {2, 3, 4}.
    expect(est.min).toBe(2)
    expect(est.max).toBe(5)
    expect(est.exp).toBeGreaterThanOrEqual(est.min)
    expect(est.exp).toBeLessThanOrEqual(est.max)
    index.set(3, { x: 3 })
    expect(index.estimate(node({ key: 'x', range: { gte: 2, lt: 5 } }))).toEqual({ min: 3, exp: 3, max: 3 })
    expect(index.estimate(node({ key: 'x', match: { any: [1, 2] } }))).toEqual({ min: 2, exp: 2, max: 2 })
  })

  for (const schema of ['integer', { type: 'integer', lookup: false }, 'float'] as const) {
    it(`matches a brute-force scan at scale, through merges and deletions (${JSON.stringify(schema)})`, () => {
      const r = rng(7)
      const spec = parseFieldSchema('v', schema)
      let index = new NumericIndex(spec)
      const model = new Map<number, Payload>()
      const gen = (): Payload => {
        const roll = r()
        const x =
          roll < 0.5
            ? Math.floor(r() * 200) - 100
            : roll < 0.8
              ? (r() - 0.5) * 1e6
              : roll < 0.85
                ? -Infinity
                : 7
        return r() < 0.1 ? { v: [x, Math.floor(r() * 10), 'x'] } : r() < 0.05 ? { w: 1 } : { v: x }
      }
      const N = 5000
      const checkAll = () => {
        for (const cond of [
          { key: 'v', range: { gte: -50, lt: 50 } },
          { key: 'v', range: { gt: 7 } },
          { key: 'v', range: { lte: -100 } },
          { key: 'v', match: { value: 7 } },
          { key: 'v', match: { any: [0, 1, -3] } },
        ]) {
          const n = node(cond)
          const pred = compileFilter(n)
          const want: number[] = []
          for (const [o, p] of model) if (pred(0, p)) want.push(o)
          want.sort((a, b) => a - b)
          expect([...index.filter(n, N).toOffsets()]).toEqual(want)
          const est = index.estimate(n)
          expect(est.min).toBeLessThanOrEqual(want.length)
          expect(est.max).toBeGreaterThanOrEqual(want.length)
        }
      }
      for (let o = 0; o < N; o++) {
        const p = gen()
        index.set(o, p)
        model.set(o, p)
      }
      checkAll()
      for (let round = 0; round < 3; round++) {
        for (let s = 0; s < 2000; s++) {
          const o = Math.floor(r() * N)
          if (r() < 0.3) {
            index.remove(o)
            model.delete(o)
          } else {
            const p = gen()
            index.set(o, p)
            model.set(o, p)
          }
        }
        checkAll()
      }
      index = NumericIndex.restore(spec, index.serialize())
      checkAll()
    })
  }

  it('builds 100k points and answers a range', () => {
    const index = new NumericIndex(parseFieldSchema('v', 'integer'))
    for (let o = 0; o < 100_000; o++) index.set(o, { v: (o * 7919) % 100_003 })
    expect(index.filter(node({ key: 'v', range: { lt: 1000 } }), 100_000).count()).toBe(1000)
    expect(index.estimate(node({ key: 'v', range: { lt: 1000 } }))).toEqual({
      min: 1000,
      exp: 1000,
      max: 1000,
    })
  })

  it('refuses garbage bytes with CORRUPTED', () => {
    const spec = parseFieldSchema('v', 'float')
    const f64 = (...xs: number[]) => new Uint8Array(new Float64Array(xs).buffer)
    const u32 = (...xs: number[]) => new Uint8Array(new Uint32Array(xs).buffer)
    for (const bytes of [
      new Uint8Array([1, 2, 3]),
      encode({ format: 1, type: 'integer', vals: f64(), offs: u32() }),
      encode({ format: 1, type: 'float', vals: f64(1), offs: u32() }),
      encode({ format: 1, type: 'float', vals: new Uint8Array(7), offs: u32() }),
      encode({ format: 1, type: 'float', vals: f64(2, 1), offs: u32(0, 1) }),
      encode({ format: 1, type: 'float', vals: f64(1, 1), offs: u32(1, 1) }),
      encode({ format: 1, type: 'float', vals: f64(Number.NaN), offs: u32(0) }),
    ])
      expect(codeOf(() => NumericIndex.restore(spec, bytes))).toBe('CORRUPTED')
  })
})
