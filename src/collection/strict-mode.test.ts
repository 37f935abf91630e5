import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { parseFilter } from '../filter/index.js'
import type { CollectionConfig } from '../types.js'
import { configFromJson, configToJson } from './persistence.js'
import {
  checkAllowed,
  checkLimit,
  conditionCount,
  maxConditionSize,
  StrictModeGuard,
  TokenBucket,
} from './strict-mode.js'
import {
  mergeStrictMode,
  parseStrictModeConfig,
  resolveStrictMode,
  strictModeToWire,
} from './strict-mode-config.js'

function caught(f: () => unknown): QuiverError {
  try {
    f()
  } catch (e) {
    if (e instanceof QuiverError) return e
    throw e
  }
  throw new Error('did not throw')
}

describe('strict mode config', () => {
  it('parses the snake_case wire shape and echoes it back', () => {
    const wire = {
      enabled: true,
      max_query_limit: 10,
      unindexed_filtering_retrieve: false,
      search_max_oversampling: 1.5,
      upsert_max_batchsize: 3,
    }
    const c = parseStrictModeConfig(wire)
    expect(c).toEqual({
      enabled: true,
      maxQueryLimit: 10,
      unindexedFilteringRetrieve: false,
      searchMaxOversampling: 1.5,
      upsertMaxBatchsize: 3,
    })
    expect(strictModeToWire(c)).toEqual(wire)
  })

  it('refuses unknown fields, wrong types and out-of-range values, naming the field', () => {
    expect(caught(() => parseStrictModeConfig({ max_query_limit: 0 })).message).toMatch(
      /^strict_mode_config\.max_query_limit: expected an integer >= 1/,
    )
    expect(caught(() => parseStrictModeConfig({ enabled: 'yes' })).message).toMatch(
      /strict_mode_config\.enabled/,
    )
    expect(caught(() => parseStrictModeConfig({ nope: 1 })).code).toBe('INVALID_ARGUMENT')
    expect(caught(() => parseStrictModeConfig([])).message).toMatch(/^strict_mode_config: expected an object/)
    expect(caught(() => parseStrictModeConfig({ search_max_oversampling: -1 })).message).toMatch(
      /search_max_oversampling/,
    )
  })

  it('merges a patch field by field', () => {
    expect(mergeStrictMode({ enabled: true, maxQueryLimit: 5 }, { maxQueryLimit: 7 })).toEqual({
      enabled: true,
      maxQueryLimit: 7,
    })
  })

  it("raises Qdrant's messages with code STRICT_MODE", () => {
    expect(() => checkLimit(10, 10, 'limit')).not.toThrow()
    expect(() => checkLimit(11, undefined, 'limit')).not.toThrow()
    const e = caught(() => checkLimit(11, 10, 'limit'))
    expect(e.code).toBe('STRICT_MODE')
    expect(e.message).toBe(
      'Limit exceeded 11 > 10 for "limit". Help: Reduce the "limit" parameter to or below 10.',
    )
    expect(() => checkAllowed(true, true, 'Exact search', 'exact')).not.toThrow()
    expect(() => checkAllowed(false, false, 'Exact search', 'exact')).not.toThrow()
    expect(caught(() => checkAllowed(true, false, 'Exact search', 'exact')).message).toBe(
      'Exact search disabled!. Help: Set exact=false.',
    )
  })
})

describe('strict mode in config.json', () => {
  const base: CollectionConfig = {
    vectors: new Map(),
    sparseVectors: new Map(),
    hnsw: { m: 16, efConstruct: 100 } as CollectionConfig['hnsw'],
    optimizers: {} as CollectionConfig['optimizers'],
  }
  it('round-trips the config and reads a body without it as no strict mode', () => {
    const withStrict: CollectionConfig = { ...base, strictMode: { enabled: true, maxPointsCount: 5 } }
    const back = configFromJson(3, JSON.parse(JSON.stringify(configToJson(withStrict))))
    expect(back.strictMode).toEqual({ enabled: true, maxPointsCount: 5 })
    const plain = configFromJson(3, JSON.parse(JSON.stringify(configToJson(base))))
    expect(plain.strictMode).toBeUndefined()
    expect('strictMode' in configToJson(base)).toBe(false)
  })
})

describe('strict mode pieces', () => {
  it('parses per-vector limits into null-prototype maps and echoes them in wire shape', () => {
    const c = parseStrictModeConfig({
      multivector_config: { __proto__x: { max_vectors: 3 }, m: {} },
      sparse_config: { s: { max_length: 2 } },
      max_payload_index_count: 0,
    })
    expect(Object.getPrototypeOf(c.multivectorConfig)).toBeNull()
    expect(c.multivectorConfig?.__proto__x?.maxVectors).toBe(3)
    expect(strictModeToWire(c)).toEqual({
      max_payload_index_count: 0,
      multivector_config: { __proto__x: { max_vectors: 3 }, m: {} },
      sparse_config: { s: { max_length: 2 } },
    })
    expect(resolveStrictMode({ sparseConfig: { s: { maxLength: 2 } } })).toEqual({
      sparseConfig: Object.assign(Object.create(null), { s: { maxLength: 2 } }),
    })
    expect(caught(() => resolveStrictMode({ maxTimeout: 0 })).code).toBe('INVALID_CONFIG')
    expect(caught(() => parseStrictModeConfig({ max_resident_memory_percent: 101 })).message).toMatch(
      /max_resident_memory_percent: expected an integer in \[1, 100\]/,
    )
  })

  it('counts leaf conditions (nested included) and the largest list, as Qdrant', () => {
    const f = parseFilter({
      must: [{ key: 'a', match: { any: [1, 2, 3] } }, { has_id: [1, 2] }],
      should: [{ nested: { key: 'n', filter: { must: [{ key: 'x', match: { value: 1 } }] } } }],
      must_not: [
        {
          must: [
            { key: 'b', range: { gt: 1 } },
            { key: 'c', match: { except: ['u'] } },
          ],
        },
      ],
    })
    expect(conditionCount(f)).toBe(5)
    expect(maxConditionSize(f)).toBe(3)
    expect(conditionCount(null)).toBe(0)
  })

  it('refills a token bucket continuously and reports the wait', () => {
    let now = 0
    const b = new TokenBucket(60, () => now)
    b.consume(60, 'Read')
    const e = caught(() => b.consume(2, 'Read'))
    expect(e.code).toBe('RATE_LIMITED')
    expect(e.details?.retryAfterSeconds).toBe(2)
    now += 1500
    b.consume(1, 'Read')
    expect(caught(() => b.consume(1, 'Read')).message).toBe(
      'Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 tokens but only 0.5 were available. Retry after 1s',
    )
    now += 3_600_000 // a long pause fills the bucket, not more
    b.consume(60, 'Write')
    expect(caught(() => b.consume(61, 'Write')).message).toContain(
      'request larger than rate limiter capacity',
    )
  })

  it('is off unless enabled', () => {
    expect(StrictModeGuard.of(undefined)).toBeNull()
    expect(StrictModeGuard.of({ maxQueryLimit: 1 })).toBeNull()
    expect(StrictModeGuard.of({ enabled: false, maxQueryLimit: 1 })).toBeNull()
    expect(StrictModeGuard.of({ enabled: true })).not.toBeNull()
  })
})
