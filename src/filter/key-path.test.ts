import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { isQuiverError } from '../errors.js'
import type { JsonValue, Payload } from '../types.js'
import {
  deleteAtPath,
  getValues,
  type KeyPath,
  type PathItem,
  parseKeyPath,
  selectPayload,
  setAtPath,
  withWildcardSuffix,
} from './key-path.js'

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

describe('selectPayload (Qdrant PayloadSelector)', () => {
  const P: Payload = {
    n: { k: 1, j: [1, { k: 2 }] },
    a: [{ b: 1, c: { d: 2 } }, 5, [{ b: 3 }]],
    s: 'x',
    z: null,
  }
  const sel = (paths: string[], mode: 'include' | 'exclude') =>
    selectPayload(
      P,
      paths.map((p) => parseKeyPath(p)),
      mode,
    )

  it('keeps the structure of nested includes and enters arrays only by []', () => {
    expect(sel(['n.k'], 'include')).toEqual({ n: { k: 1 } })
    expect(sel(['a[].c.d'], 'include')).toEqual({ a: [{ c: { d: 2 } }, 5, []] })
    expect(sel(['a[][].b'], 'include')).toEqual({ a: [{}, 5, [{ b: 3 }]] })
    expect(sel(['a[0]'], 'include')).toEqual({ a: [] })
    expect(sel(['z.q', 's'], 'include')).toEqual({ z: null, s: 'x' })
  })

  it('drops what an exclude pattern prefixes, and nothing else', () => {
    expect(sel(['n.j[].k'], 'exclude')).toEqual({ n: { k: 1, j: [1, {}] }, a: P.a, s: 'x', z: null })
    expect(sel(['n.j'], 'exclude')).toEqual({ n: { k: 1 }, a: P.a, s: 'x', z: null })
    expect(sel(['a.b', 'n.j.k'], 'exclude')).toEqual(P)
    expect(sel(['a', 'n', 's', 'z'], 'exclude')).toEqual({})
  })

  it('agrees with a transliteration of value_filter on random payloads and patterns', () => {
    // reference: walk every value with its path and ask the pattern predicate, as Qdrant's run_filter
    type Item = PathItem
    const eq = (x: Item, y: Item) => JSON.stringify(x) === JSON.stringify(y)
    const inc = (pat: KeyPath, first: string, rest: Item[]) =>
      pat.first === first && pat.rest.every((p, i) => i >= rest.length || eq(p, rest[i]!))
    const exc = (pat: KeyPath, first: string, rest: Item[]) =>
      pat.first === first && pat.rest.length <= rest.length && pat.rest.every((p, i) => eq(p, rest[i]!))
    const reference = (payload: Payload, pats: KeyPath[], mode: 'include' | 'exclude'): Payload => {
      const keep = (first: string, rest: Item[]) =>
        mode === 'include' ? pats.some((p) => inc(p, first, rest)) : pats.every((p) => !exc(p, first, rest))
      const run = (first: string, rest: Item[], v: JsonValue): JsonValue => {
        if (Array.isArray(v)) {
          const r2 = [...rest, { kind: 'wildcard' } as Item]
          return keep(first, r2) ? v.map((x) => run(first, r2, x)) : []
        }
        if (v === null || typeof v !== 'object') return v
        const out: { [k: string]: JsonValue } = {}
        for (const [k, x] of Object.entries(v)) {
          const r2 = [...rest, { kind: 'key', key: k } as Item]
          if (keep(first, r2)) out[k] = run(first, r2, x)
        }
        return out
      }
      const out: Payload = {}
      for (const [k, v] of Object.entries(payload)) if (keep(k, [])) out[k] = run(k, [], v)
      return out
    }
    const rand = rng(12345)
    const KEYS = ['a', 'b', 'c']
    const value = (depth: number): JsonValue => {
      const u = rand()
      if (depth > 2 || u < 0.3) return u < 0.15 ? Math.floor(u * 100) : null
      if (u < 0.6) return [value(depth + 1), value(depth + 1)]
      const o: { [k: string]: JsonValue } = {}
      for (const k of KEYS) if (rand() < 0.6) o[k] = value(depth + 1)
      return o
    }
    const pattern = (): string => {
      let s = KEYS[Math.floor(rand() * 3)]!
      const len = Math.floor(rand() * 4)
      for (let i = 0; i < len; i++) s += rand() < 0.3 ? '[]' : `.${KEYS[Math.floor(rand() * 3)]!}`
      return s
    }
    for (let t = 0; t < 500; t++) {
      const payload = value(0)
      const p: Payload =
        payload !== null && typeof payload === 'object' && !Array.isArray(payload) ? payload : { a: payload }
      const pats = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => parseKeyPath(pattern()))
      for (const mode of ['include', 'exclude'] as const)
        expect(
          selectPayload(p, pats, mode),
          `${mode} ${pats.map((x) => x.text)} of ${JSON.stringify(p)}`,
        ).toEqual(reference(p, pats, mode))
    }
  })
})
