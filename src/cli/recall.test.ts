import { describe, expect, it } from 'vitest'
import { percentile, recallAtK } from './recall.js'

describe('recallAtK', () => {
  it('counts the overlap of the first k ids, ignoring order, padding and UUIDs', () => {
    expect(recallAtK([3, 1, 2], [1, 2, 3, 4], 3)).toBe(1)
    expect(recallAtK([3, 9, 8], [1, 2, 3, 4], 3)).toBeCloseTo(1 / 3)
    expect(recallAtK([4], [1, 2, 3, 4], 3)).toBe(0)
    expect(recallAtK([1, 1, 1], [1, 2, 3], 3)).toBeCloseTo(1 / 3)
    expect(recallAtK([1, 'aaaaaaaa-0000-0000-0000-000000000000'], [1, -1], 2)).toBe(0.5)
  })
})

describe('percentile', () => {
  it('uses nearest rank', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1)
    expect(percentile(v, 50)).toBe(50)
    expect(percentile(v, 99)).toBe(99)
    expect(percentile([5], 99)).toBe(5)
    expect(percentile([], 50)).toBeNaN()
  })
})
