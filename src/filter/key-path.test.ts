import { describe, expect, it } from 'vitest'
import { isQuiverError } from '../errors.js'
import type { Payload } from '../types.js'
import { deleteAtPath, getValues, parseKeyPath, setAtPath, withWildcardSuffix } from './key-path.js'

const get = (payload: Payload, path: string) => getValues(payload, parseKeyPath(path))

describe('parseKeyPath', () => {
  it('parses keys, indexes, wildcards and quoted keys', () => {
    const p = parseKeyPath('foo[1][50].bar-baz[]."qux[.]quux"')
    expect(p.first).toBe('foo')
    expect(p.rest).toEqual([
      { kind: 'index', index: 1 },
      { kind: 'index', index: 50 },
      { kind: 'key', key: 'bar-baz' },
      { kind: 'wildcard' },
      { kind: 'key', key: 'qux[.]quux' },
    ])
    expect(p.text).toBe('foo[1][50].bar-baz[]."qux[.]quux"')
  })

  it('accepts unicode letters and a quoted first key', () => {
    expect(parseKeyPath('город.名前').rest).toEqual([{ kind: 'key', key: '名前' }])
    expect(parseKeyPath('"a b".c').first).toBe('a b')
  })

  it.each([
    ['', 'empty key'],
    ['a.', 'expected a key'],
    ['.a', 'expected a key'],
    ['a..b', 'expected a key'],
    ['a[x]', 'expected [] or [<index>]'],
    ['a[-1]', 'expected [] or [<index>]'],
    ['a[1', 'expected [] or [<index>]'],
    ['a b', 'unexpected " "'],
    ['"a', 'unterminated quote'],
    ['[0]', 'expected a key'],
  ])('rejects %j', (text, why) => {
    try {
      parseKeyPath(text, 'filter.must[0].key', 'INVALID_FILTER')
      expect.unreachable()
    } catch (err) {
      expect(isQuiverError(err) && err.code).toBe('INVALID_FILTER')
      expect((err as Error).message).toContain('filter.must[0].key: invalid key path')
      expect((err as Error).message).toContain(why)
    }
  })

  it('withWildcardSuffix appends [] once', () => {
    expect(withWildcardSuffix(parseKeyPath('a.b')).text).toBe('a.b[]')
    expect(withWildcardSuffix(parseKeyPath('a.b[]')).text).toBe('a.b[]')
  })
})

describe('getValues (Qdrant value_get)', () => {
  const map: Payload = {
    a: { b: [{ c: 1 }, { c: 2 }, { d: { e: 3 } }] },
    f: 3,
    g: ['g0', 'g1', 'g2'],
    n: null,
    nn: [null, null],
    empty: [],
    arr: [{ a: [1, 2, 3] }, { a: 4 }, { b: 5 }],
  }

  it('reads nested objects and keeps a final array as one value', () => {
    expect(get(map, 'a.b')).toEqual([[{ c: 1 }, { c: 2 }, { d: { e: 3 } }]])
    expect(get(map, 'a.b.c')).toEqual([]) // a key step on an array reads nothing
    expect(get(map, 'a.b[].c')).toEqual([1, 2])
    expect(get(map, 'a.b[].d.e')).toEqual([3])
    expect(get(map, 'a.b[1].c')).toEqual([2])
    expect(get(map, 'a.b[3]')).toEqual([])
    expect(get(map, 'g[2]')).toEqual(['g2'])
    expect(get(map, 'f.x')).toEqual([])
  })

  it('does not flatten arrays below a wildcard', () => {
    expect(get(map, 'arr[].a')).toEqual([[1, 2, 3], 4])
    expect(get(map, 'arr[].a[]')).toEqual([1, 2, 3])
  })

  it('separates null, [] and missing', () => {
    expect(get(map, 'n')).toEqual([null])
    expect(get(map, 'n[]')).toEqual([])
    expect(get(map, 'nn')).toEqual([[null, null]])
    expect(get(map, 'nn[]')).toEqual([null, null])
    expect(get(map, 'empty')).toEqual([[]])
    expect(get(map, 'empty[]')).toEqual([])
    expect(get(map, 'missing')).toEqual([])
  })

  it('never reads inherited properties', () => {
    expect(get({}, 'constructor')).toEqual([])
    expect(get({ a: {} }, 'a.toString')).toEqual([])
  })
})

describe('setAtPath (Qdrant set_payload with key)', () => {
  const base = (): Payload => ({
    a: { b: [{ c: 1 }, { c: 2 }, { d: { e: 3 } }] },
    f: 3,
    g: ['g0', 'g1', 'g2'],
  })

  it('merges at the top level without a key, deleting keys set to null', () => {
    const p = base()
    setAtPath(p, { c: 5, f: null })
    expect(p).toEqual({ a: { b: [{ c: 1 }, { c: 2 }, { d: { e: 3 } }] }, g: ['g0', 'g1', 'g2'], c: 5 })
  })

  it('replaces the object at a key path', () => {
    const p = base()
    setAtPath(p, { b: 5 }, parseKeyPath('a'))
    expect(p).toEqual({ a: { b: 5 }, f: 3, g: ['g0', 'g1', 'g2'] })
  })

  it('merges into an array element', () => {
    const p = base()
    setAtPath(p, { c: 5 }, parseKeyPath('a.b[1]'))
    expect(p.a).toEqual({ b: [{ c: 1 }, { c: 5 }, { d: { e: 3 } }] })
  })

  it('merges into every element through []', () => {
    const p = base()
    setAtPath(p, { x: true }, parseKeyPath('a.b[]'))
    expect(p.a).toEqual({
      b: [
        { c: 1, x: true },
        { c: 2, x: true },
        { d: { e: 3 }, x: true },
      ],
    })
  })

  it('creates missing objects, replaces scalars, and leaves [] where an array is missing', () => {
    const p: Payload = { a: 10 }
    setAtPath(p, { x: 1 }, parseKeyPath('a.b.c'))
    expect(p).toEqual({ a: { b: { c: { x: 1 } } } })
    const q: Payload = {}
    setAtPath(q, { c: 1 }, parseKeyPath('key1.key2[3]'))
    expect(q).toEqual({ key1: { key2: [] } })
    const r: Payload = {}
    setAtPath(r, { c: 1 }, parseKeyPath('key1.key2[].key3'))
    expect(r).toEqual({ key1: { key2: [] } })
  })

  it('copies values so later edits do not alias the source', () => {
    const src: Payload = { tags: ['x'] }
    const p: Payload = {}
    setAtPath(p, src)
    ;(src.tags as string[]).push('y')
    expect(p).toEqual({ tags: ['x'] })
  })

  it('treats __proto__ as a plain key', () => {
    const p: Payload = {}
    setAtPath(p, JSON.parse('{"__proto__": {"polluted": 1}}') as Payload, parseKeyPath('o'))
    expect(Object.getPrototypeOf(p.o)).toBe(Object.prototype)
    expect(Object.keys(p.o as object)).toEqual(['__proto__'])
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })
})

describe('deleteAtPath (Qdrant delete_payload)', () => {
  const base = (): Payload => ({
    a: 1,
    b: {
      c: 123,
      e: {
        f: [1, 2, 3],
        g: 7,
        i: [
          { j: 1, k: 2 },
          { j: 3, k: 4 },
        ],
      },
    },
  })

  it('removes a nested key and returns it', () => {
    const p = base()
    expect(deleteAtPath(p, parseKeyPath('b.c'))).toEqual([123])
    expect(p.b).not.toHaveProperty('c')
    expect(deleteAtPath(p, parseKeyPath('a'))).toEqual([1])
    expect(p).not.toHaveProperty('a')
  })

  it('removes through an index and through []', () => {
    const p = base()
    expect(deleteAtPath(p, parseKeyPath('b.e.i[0].j'))).toEqual([1])
    expect(deleteAtPath(p, parseKeyPath('b.e.i[].k'))).toEqual([2, 4])
    expect((p.b as { e: { i: unknown } }).e.i).toEqual([{}, { j: 3 }])
  })

  it('empties an array for a trailing [] and leaves a trailing [i] alone', () => {
    const p = base()
    expect(deleteAtPath(p, parseKeyPath('b.e.f[0]'))).toEqual([])
    expect(deleteAtPath(p, parseKeyPath('b.e.f[]'))).toEqual([[1, 2, 3]])
    expect((p.b as { e: { f: unknown } }).e.f).toEqual([])
  })

  it('does nothing for missing paths', () => {
    const p = base()
    expect(deleteAtPath(p, parseKeyPath('x.y'))).toEqual([])
    expect(deleteAtPath(p, parseKeyPath('a.y'))).toEqual([])
    expect(p).toEqual(base())
  })
})
