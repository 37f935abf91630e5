import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import type { CollectionConfig } from '../types.js'
import { configFromJson, configToJson } from './persistence.js'
import {
  checkAllowed,
  checkLimit,
  mergeStrictMode,
  parseStrictModeConfig,
  strictModeToWire,
} from './strict-mode.js'

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
