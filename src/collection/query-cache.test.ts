import { describe, expect, it } from 'vitest'
import { copyResult, QueryCache, requestKey, resultBytes } from './query-cache.js'

describe('requestKey', () => {
  const v = Array.from({ length: 16 }, (_, i) => i / 7)
  it('is the same for the same JSON whatever the key order, and leaves undefined members out', () => {
    expect(
      requestKey('q', { query: v, limit: 3, filter: { must: [{ key: 'a', match: { value: 1 } }] } }),
    ).toBe(
      requestKey('q', {
        filter: { must: [{ match: { value: 1 }, key: 'a' }] },
        limit: 3,
        query: v,
        x: undefined,
      }),
    )
  })
  it('differs for any other difference, however the values are spelled', () => {
    const keys = [
      requestKey('q', { query: v, limit: 3 }),
      requestKey('search', { query: v, limit: 3 }),
      requestKey('q', { query: v, limit: 4 }),
      requestKey('q', { query: [...v.slice(0, 15), 1], limit: 3 }),
      requestKey('q', { query: Float32Array.from(v), limit: 3 }),
      requestKey('q', { query: Float64Array.from(v), limit: 3 }),
      requestKey('q', { query: v, limit: '3' }),
      requestKey('q', { query: v, limit: 3, filter: null }),
      requestKey('q', { query: [0], limit: 3 }),
      requestKey('q', { query: [-0], limit: 3 }),
      requestKey('q', { query: ['a:', 'b'] }),
      requestKey('q', { query: ['a', ':b'] }),
      requestKey('q', { query: { indices: [1, 2], values: [0.5, 0.5] } }),
      requestKey('q', { query: { indices: [1, 2], values: [0.5, 0.25] } }),
    ]
    expect(new Set(keys).size).toBe(keys.length)
  })
  it('is undefined for what is not plain data', () => {
    expect(requestKey('q', { query: new Map() })).toBeUndefined()
    expect(requestKey('q', { f: () => 1 })).toBeUndefined()
  })
})

describe('copyResult and QueryCache', () => {
  it('copies deeply, typed arrays and null-prototype objects included', () => {
    const payload = JSON.parse('{"__proto__": {"x": 1}, "a": [1, {"b": 2}]}')
    const r = { points: [{ id: 1, score: 0.5, payload, vector: new Float32Array([1, 2]) }] }
    const c = copyResult(r)
    expect(c).toEqual(r)
    expect(Object.keys(c.points[0]!.payload)).toEqual(['__proto__', 'a'])
    expect(Object.getPrototypeOf(c.points[0]!.payload)).toBe(Object.prototype)
    c.points[0]!.vector[0] = 9
    expect(r.points[0]!.vector[0]).toBe(1)
    expect(resultBytes(r)).toBeGreaterThan(0)
  })
  it('stores nothing bigger than a quarter of its budget, and nothing when off', () => {
    const cache = new QueryCache({ maxBytes: 4096 })
    cache.set('big', 'x'.repeat(2000), 4000)
    expect(cache.get('big')).toBeUndefined()
    cache.set('small', [1], 16)
    expect(cache.get('small')).toEqual([1])
    const off = new QueryCache({ maxBytes: 0 })
    off.set('k', 1, 8)
    expect(off.enabled).toBe(false)
    expect(off.get('k')).toBeUndefined()
  })
})
