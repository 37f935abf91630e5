import { describe, expect, it } from 'vitest'
import { checkBodyLimits, checkJsonDepth, DEFAULT_LIMITS, filterDepth, resolveLimits } from './limits.js'

describe('checkJsonDepth', () => {
  it('counts nesting outside strings only', () => {
    expect(() => checkJsonDepth('[[[]]]', 3)).not.toThrow()
    expect(() => checkJsonDepth('[[[[]]]]', 3)).toThrow(/nested deeper than 3 levels/)
    expect(() => checkJsonDepth('{"a":"[[[[[[","b":[{}]}', 3)).not.toThrow()
    expect(() => checkJsonDepth('{"a":"\\"[[[[","b":[[[[]]]]}', 3)).toThrow()
    expect(() => checkJsonDepth('[]'.repeat(1000), 1)).not.toThrow()
  })

  it('skips escaped quotes and backslashes inside strings, and unterminated strings', () => {
    expect(() => checkJsonDepth('["\\\\", [["\\"[[[["]]]', 3)).not.toThrow()
    expect(() => checkJsonDepth('["\\\\", [[[["x"]]]]]', 4)).toThrow()
    expect(() => checkJsonDepth(`"${'\\"'.repeat(100_000)}`, 1)).not.toThrow()
    expect(() => checkJsonDepth('"abc[[[[', 1)).not.toThrow()
  })

  it('scans a million unclosed brackets without recursion', () => {
    expect(() => checkJsonDepth('['.repeat(1_000_000), 64)).toThrow(/64 levels/)
  })
})

describe('filterDepth', () => {
  it('counts clause levels through must, should, must_not, min_should and nested', () => {
    expect(filterDepth({})).toBe(0)
    expect(filterDepth({ must: [] })).toBe(1)
    expect(filterDepth({ must: [{ key: 'a', match: { value: 1 } }] })).toBe(1)
    expect(filterDepth({ should: [{ must_not: [{ must: [] }] }] })).toBe(3)
    expect(filterDepth({ min_should: { conditions: [{ must: [] }], min_count: 1 } })).toBe(2)
    expect(filterDepth({ must: [{ nested: { key: 'x', filter: { must: [{ should: [] }] } } }] })).toBe(3)
    expect(filterDepth('not a filter')).toBe(0)
  })
})

describe('limits', () => {
  it('fills defaults and rejects bad values', () => {
    expect(resolveLimits({ maxLimit: 7 })).toEqual({ ...DEFAULT_LIMITS, maxLimit: 7 })
    expect(() => resolveLimits({ maxBatchPoints: 0 })).toThrow(/maxBatchPoints must be an integer >= 1/)
    expect(resolveLimits({ requestTimeoutMs: 0 }).requestTimeoutMs).toBe(0)
  })

  it('leaves bodies within the limits alone', () => {
    const limits = resolveLimits({ maxBatchPoints: 2, maxBatchSearches: 1 })
    expect(() =>
      checkBodyLimits({ points: [1, 2], searches: [{ limit: 5, filter: { must: [] } }] }, limits),
    ).not.toThrow()
    expect(() => checkBodyLimits(undefined, limits)).not.toThrow()
    expect(() => checkBodyLimits([1, 2, 3], limits)).not.toThrow()
    expect(() => checkBodyLimits({ ids: [1, 2, 3] }, limits)).toThrow(/^ids: 3/)
  })
})
