import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { QuiverError } from '../../errors.js'
import type { FieldNode } from '../ast.js'
import { parseFilter } from '../parse.js'
import { parseFieldSchema } from './schema.js'
import { TextIndex } from './text.js'

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

function build(schema: object): TextIndex {
  const index = new TextIndex(parseFieldSchema('body', { type: 'text', ...schema }))
  index.set(0, { body: 'The quick brown fox' })
  index.set(1, { body: ['quick thinking', 'brown bear'] })
  index.set(2, { body: 'Brown-Fox jumps; QUICK!' })
  index.set(3, { body: [42, null, '...'] })
  index.set(4, { body: 'foxes are quick' })
  return index
}

function offsets(index: TextIndex, match: object): number[] {
  return [...index.filter(node({ key: 'body', match }), 8).toOffsets()]
}

describe('TextIndex', () => {
  it('text: every query token among the document terms (all string values of a point)', () => {
    const index = build({})
    expect(index.pointCount).toBe(4)
    expect(offsets(index, { text: 'quick brown' })).toEqual([0, 1, 2])
    expect(offsets(index, { text: 'FOX' })).toEqual([0, 2])
    expect(offsets(index, { text: 'fox unicorn' })).toEqual([])
    expect(offsets(index, { text: '!!' })).toEqual([])
    expect(offsets(index, { text_any: 'bear unicorn fox' })).toEqual([0, 1, 2])
  })

  it('phrase: consecutive tokens within one value, only with phrase_matching', () => {
    const plain = build({})
    expect(plain.supports(node({ key: 'body', match: { phrase: 'brown fox' } }))).toBe(false)
    const index = build({ phrase_matching: true })
    expect(index.supports(node({ key: 'body', match: { phrase: 'brown fox' } }))).toBe(true)
    expect(offsets(index, { phrase: 'brown fox' })).toEqual([0, 2])
    expect(offsets(index, { phrase: 'fox brown' })).toEqual([])
    // Point 1 has "quick" and "brown" adjacent only across its two values.
    expect(offsets(index, { phrase: 'thinking brown' })).toEqual([])
    expect(offsets(index, { phrase: 'quick' })).toEqual([0, 1, 2, 4])
  })

  it('prefix tokenizer indexes word prefixes; lowercase false keeps case', () => {
    const prefix = build({ tokenizer: 'prefix', min_token_len: 2 })
    expect(offsets(prefix, { text: 'fo qu' })).toEqual([0, 2, 4])
    expect(offsets(prefix, { text: 'f' })).toEqual([])
    const cased = build({ lowercase: false })
    expect(offsets(cased, { text: 'quick' })).toEqual([0, 1, 4])
    expect(offsets(cased, { text: 'QUICK' })).toEqual([2])
  })

  it('supports text, text_any and (with phrase_matching) phrase; never prefix', () => {
    const index = build({ phrase_matching: true })
    expect(index.supports(node({ key: 'body', match: { text: 'x' } }))).toBe(true)
    expect(index.supports(node({ key: 'body', match: { text_any: 'x' } }))).toBe(true)
    expect(index.supports(node({ key: 'body', match: { prefix: 'x' } }))).toBe(false)
    expect(index.supports(node({ key: 'body', match: { value: 'x' } }))).toBe(false)
    expect(codeOf(() => index.filter(node({ key: 'body', match: { prefix: 'x' } }), 8))).toBe('INTERNAL')
  })

  it('estimates: exact for one token, bounds for several', () => {
    const index = build({ phrase_matching: true })
    expect(index.estimate(node({ key: 'body', match: { text: 'quick' } }))).toEqual({
      min: 4,
      exp: 4,
      max: 4,
    })
    expect(index.estimate(node({ key: 'body', match: { text: 'unicorn quick' } }))).toEqual({
      min: 0,
      exp: 0,
      max: 0,
    })
    expect(index.estimate(node({ key: 'body', match: { phrase: 'quick' } }))).toEqual({
      min: 4,
      exp: 4,
      max: 4,
    })
    const and = index.estimate(node({ key: 'body', match: { text: 'quick brown' } }))
    // quick: 4 points, brown: 3 points, of 4: at least 3, at most 3.
    expect(and).toEqual({ min: 3, exp: 3, max: 3 })
    const phrase = index.estimate(node({ key: 'body', match: { phrase: 'brown fox' } }))
    expect(phrase.min).toBe(0)
    expect(phrase.max).toBe(2)
    const any = index.estimate(node({ key: 'body', match: { text_any: 'bear fox' } }))
    expect(any.min).toBeLessThanOrEqual(3)
    expect(any.max).toBeGreaterThanOrEqual(3)
  })

  it('re-set and remove free terms; restore keeps phrases', () => {
    const index = build({ phrase_matching: true })
    index.set(0, { body: 'slow green turtle' })
    index.remove(2)
    expect(offsets(index, { text: 'fox' })).toEqual([])
    expect(offsets(index, { phrase: 'green turtle' })).toEqual([0])
    const back = TextIndex.restore(index.spec, index.serialize())
    expect(back.pointCount).toBe(3)
    expect([...back.filter(node({ key: 'body', match: { phrase: 'green turtle' } }), 8).toOffsets()]).toEqual(
      [0],
    )
    expect([...back.filter(node({ key: 'body', match: { text: 'quick' } }), 8).toOffsets()]).toEqual([1, 4])
    back.set(5, { body: 'green turtle soup' })
    expect([...back.filter(node({ key: 'body', match: { phrase: 'turtle soup' } }), 8).toOffsets()]).toEqual([
      5,
    ])
  })

  it('refuses garbage bytes and bytes written with other tokenizer options with CORRUPTED', () => {
    const index = build({ phrase_matching: true })
    const bytes = index.serialize()
    expect(codeOf(() => TextIndex.restore(parseFieldSchema('body', 'text'), bytes))).toBe('CORRUPTED')
    const options = { ...index.options }
    const u32 = (...xs: number[]) => new Uint8Array(new Uint32Array(xs).buffer)
    const base = { format: 1, type: 'text', options, terms: ['a'], postings: [u32(0, 3)] }
    for (const doc of [
      { ...base, terms: [] },
      { ...base, terms: [''] },
      { ...base, postings: [u32(0)] },
      { ...base, seqOffsets: u32(3), seqSizes: u32(2), seqData: u32(1) },
      { ...base, seqOffsets: u32(3), seqSizes: u32(2), seqData: u32(1, 5) },
      { ...base, seqOffsets: u32(4), seqSizes: u32(2), seqData: u32(1, 0) },
      { ...base, seqOffsets: u32(3), seqSizes: u32(2), seqData: u32(1, 0, 9) },
    ])
      expect(codeOf(() => TextIndex.restore(index.spec, encode(doc)))).toBe('CORRUPTED')
    expect(
      TextIndex.restore(
        index.spec,
        encode({ ...base, seqOffsets: u32(3), seqSizes: u32(2), seqData: u32(1, 0) }),
      ).pointCount,
    ).toBe(1)
  })
})
