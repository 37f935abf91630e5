import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { QuiverError } from '../../errors.js'
import type { FieldNode } from '../ast.js'
import { parseFilter } from '../parse.js'
import { KeywordIndex } from './keyword.js'
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

function filled(): KeywordIndex {
  const index = new KeywordIndex(parseFieldSchema('city', 'keyword'))
  index.set(0, { city: 'Paris' })
  index.set(1, { city: ['Paris', 'Lyon', 'Paris'] })
  index.set(2, { city: 'Lyon' })
  index.set(3, { city: [1, true, null, ['Nice'], { a: 'Nice' }] })
  index.set(4, {})
  index.set(5, { city: 'Nice' })
  return index
}

describe('KeywordIndex', () => {
  it('indexes string values and array elements only', () => {
    const index = filled()
    expect(index.pointCount).toBe(4)
    expect([...index.filter(node({ key: 'city', match: { value: 'Paris' } }), 8).toOffsets()]).toEqual([0, 1])
    expect([...index.filter(node({ key: 'city', match: { value: 'Nice' } }), 8).toOffsets()]).toEqual([5])
    expect([
      ...index.filter(node({ key: 'city', match: { any: ['Lyon', 'Nice', 'Rome'] } }), 8).toOffsets(),
    ]).toEqual([1, 2, 5])
  })

  it('answers match on strings only', () => {
    const index = filled()
    expect(index.type).toBe('keyword')
    expect(index.supports(node({ key: 'city', match: { value: 'x' } }))).toBe(true)
    expect(index.supports(node({ key: 'city', match: { any: ['x'] } }))).toBe(true)
    expect(index.supports(node({ key: 'city', match: { any: [] } }))).toBe(true)
    expect(index.supports(node({ key: 'city', match: { value: 3 } }))).toBe(false)
    expect(index.supports(node({ key: 'city', match: { any: [3] } }))).toBe(false)
    expect(index.supports(node({ key: 'city', match: { except: ['x'] } }))).toBe(false)
    expect(index.supports(node({ key: 'city', match: { text: 'x' } }))).toBe(false)
    expect(index.supports(node({ is_empty: { key: 'city' } }))).toBe(false)
    expect(() => index.filter(node({ key: 'city', match: { value: 3 } }), 8)).toThrow(QuiverError)
  })

  it('estimates exactly, or with bounds when points hold several values', () => {
    const index = filled()
    expect(index.estimate(node({ key: 'city', match: { value: 'Paris' } }))).toEqual({
      min: 2,
      exp: 2,
      max: 2,
    })
    expect(index.estimate(node({ key: 'city', match: { value: 'Rome' } }))).toEqual({
      min: 0,
      exp: 0,
      max: 0,
    })
    // Paris {0, 1} + Lyon {1, 2}: really 3 points, overlapping via point 1.
    expect(index.estimate(node({ key: 'city', match: { any: ['Paris', 'Lyon'] } }))).toEqual({
      min: 2,
      exp: 4,
      max: 4,
    })
    index.remove(1)
    expect(index.estimate(node({ key: 'city', match: { any: ['Paris', 'Lyon'] } }))).toEqual({
      min: 2,
      exp: 2,
      max: 2,
    })
  })

  it('re-set replaces, remove forgets, and a missing field holds nothing', () => {
    const index = filled()
    index.set(0, { city: 'Lyon' })
    index.remove(5)
    index.remove(5)
    index.set(2, { other: 'Lyon' })
    index.set(1, undefined)
    expect(index.pointCount).toBe(1)
    expect([
      ...index.filter(node({ key: 'city', match: { any: ['Paris', 'Lyon', 'Nice'] } }), 8).toOffsets(),
    ]).toEqual([0])
  })

  it('serializes and restores, and a uuid index is the same structure', () => {
    const index = filled()
    const back = KeywordIndex.restore(index.spec, index.serialize())
    expect(back.pointCount).toBe(4)
    expect([...back.filter(node({ key: 'city', match: { value: 'Paris' } }), 8).toOffsets()]).toEqual([0, 1])
    back.remove(1)
    expect([...back.filter(node({ key: 'city', match: { value: 'Lyon' } }), 8).toOffsets()]).toEqual([2])
    const uuid = new KeywordIndex(parseFieldSchema('id', 'uuid'))
    uuid.set(7, { id: '550e8400-e29b-41d4-a716-446655440000' })
    expect(uuid.type).toBe('uuid')
    expect(
      uuid.filter(node({ key: 'id', match: { value: '550e8400-e29b-41d4-a716-446655440000' } }), 8).has(7),
    ).toBe(true)
    expect(codeOf(() => KeywordIndex.restore(uuid.spec, index.serialize()))).toBe('CORRUPTED')
  })

  it('refuses garbage bytes with CORRUPTED', () => {
    const spec = parseFieldSchema('city', 'keyword')
    const docs = [
      new Uint8Array([0xc1]),
      encode([1, 2]),
      encode({ format: 2, type: 'keyword', values: [], postings: [] }),
      encode({ format: 1, type: 'keyword', values: ['a'], postings: [] }),
      encode({ format: 1, type: 'keyword', values: [1], postings: [new Uint8Array(8)] }),
      encode({ format: 1, type: 'keyword', values: ['a'], postings: ['x'] }),
      encode({ format: 1, type: 'keyword', values: ['a'], postings: [new Uint8Array(4)] }),
      encode({
        format: 1,
        type: 'keyword',
        values: ['a', 'a'],
        postings: [new Uint8Array(8), new Uint8Array(8)],
      }),
    ]
    for (const bytes of docs) expect(codeOf(() => KeywordIndex.restore(spec, bytes))).toBe('CORRUPTED')
    expect(codeOf(() => new KeywordIndex(parseFieldSchema('n', 'integer')))).toBe('INTERNAL')
  })
})
