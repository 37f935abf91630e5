// Scores and vector components go out as Qdrant prints float32 values: the shortest decimal that
// reads back as the same float32.
import { describe, expect, it } from 'vitest'
import { shortestFloat32, toWireScoredPoint } from './records.js'

describe('shortestFloat32', () => {
  it('prints the shortest decimal of the float32 nearest the value', () => {
    expect(shortestFloat32(Math.fround(0.05))).toBe(0.05)
    expect(shortestFloat32(0.05000000074505806)).toBe(0.05)
    expect(shortestFloat32(Math.fround(1.4063001))).toBe(1.4063001)
    expect(shortestFloat32(0.30200002)).toBe(Number(Math.fround(0.30200002).toPrecision(8)))
    expect(shortestFloat32(0)).toBe(0)
    expect(shortestFloat32(-2.5)).toBe(-2.5)
    expect(shortestFloat32(3.4028234663852886e38)).toBe(3.4028235e38)
  })

  it('always reads back as the same float32, with at most 9 digits', () => {
    let x = 0.123456789
    for (let i = 0; i < 2000; i++) {
      x = (x * 9301 + 49297) % 233280
      const v = Math.fround((x / 233280 - 0.5) * 10 ** ((i % 20) - 10))
      const s = shortestFloat32(v)
      expect(Math.fround(s)).toBe(v)
      expect(s.toPrecision(9).replace(/0+e/, 'e').length).toBeGreaterThan(0)
    }
  })

  it('applies to scores and vectors of scored points', () => {
    const p = toWireScoredPoint({ id: 1, score: Math.fround(0.1), vector: { a: [Math.fround(0.2)] } })
    expect(p.score).toBe(0.1)
    expect(p.vector).toEqual({ a: [0.2] })
  })
})
