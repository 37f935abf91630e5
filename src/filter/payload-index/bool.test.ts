import { encode } from '@msgpack/msgpack'
import { describe, expect, it } from 'vitest'
import { QuiverError } from '../../errors.js'
import type { FieldNode } from '../ast.js'
import { parseFilter } from '../parse.js'
import { BoolIndex } from './bool.js'
import { parseFieldSchema } from './schema.js'

const node = (cond: object) => parseFilter({ must: [cond] }) as FieldNode
const isTrue = node({ key: 'ok', match: { value: true } })
const isFalse = node({ key: 'ok', match: { value: false } })

describe('BoolIndex', () => {
  it('indexes booleans and boolean array elements', () => {
    const index = new BoolIndex(parseFieldSchema('ok', 'bool'))
    index.set(0, { ok: true })
    index.set(1, { ok: [true, false] })
    index.set(2, { ok: 'true' })
    index.set(3, { ok: [[false], 1, null] })
    index.set(4, { ok: false })
    expect(index.pointCount).toBe(3)
    expect([...index.filter(isTrue, 5).toOffsets()]).toEqual([0, 1])
    expect([...index.filter(isFalse, 5).toOffsets()]).toEqual([1, 4])
    expect(index.estimate(isFalse)).toEqual({ min: 2, exp: 2, max: 2 })
    index.set(1, { ok: false })
    index.remove(4)
    expect(index.pointCount).toBe(2)
    expect(index.estimate(isTrue)).toEqual({ min: 1, exp: 1, max: 1 })
    expect([...index.filter(isFalse, 5).toOffsets()]).toEqual([1])
  })

  it('supports only boolean match', () => {
    const index = new BoolIndex(parseFieldSchema('ok', 'bool'))
    expect(index.supports(isTrue)).toBe(true)
    expect(index.supports(node({ key: 'ok', match: { value: 'true' } }))).toBe(false)
    expect(index.supports(node({ key: 'ok', match: { any: ['true'] } }))).toBe(false)
    expect(index.supports(node({ key: 'ok', is_null: true }))).toBe(false)
  })

  it('round-trips and refuses garbage with CORRUPTED', () => {
    const spec = parseFieldSchema('ok', 'bool')
    const index = new BoolIndex(spec)
    for (let o = 0; o < 100; o++) index.set(o, { ok: o % 3 === 0 })
    const back = BoolIndex.restore(spec, index.serialize())
    expect(back.pointCount).toBe(100)
    expect(back.filter(isTrue, 100).count()).toBe(34)
    for (const bytes of [
      new Uint8Array(3),
      encode({ format: 1, type: 'bool', true: new Uint8Array(4) }),
      encode({ format: 1, type: 'keyword', true: new Uint8Array(4), false: new Uint8Array(4) }),
      encode({ format: 1, type: 'bool', true: new Uint8Array(4), false: new Uint8Array([9, 0, 0, 0]) }),
    ]) {
      expect(() => BoolIndex.restore(spec, bytes)).toThrow(QuiverError)
      try {
        BoolIndex.restore(spec, bytes)
      } catch (e) {
        expect((e as QuiverError).code).toBe('CORRUPTED')
      }
    }
  })
})
