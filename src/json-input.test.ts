// The shared JSON-input helpers: type tests, messages that name the JSON path, and error codes.
import { expect, describe as group, it } from 'vitest'
import { QuiverError } from './errors.js'
import {
  describe,
  fail,
  isPlainObject,
  join,
  onlyKeys,
  optBool,
  optInt,
  reqArray,
  stringArray,
} from './json-input.js'

function thrown(f: () => unknown): QuiverError {
  try {
    f()
  } catch (err) {
    if (err instanceof QuiverError) return err
    throw err
  }
  throw new Error('expected a QuiverError')
}

group('json-input', () => {
  it('tells plain objects from arrays, null and typed arrays', () => {
    expect(isPlainObject({ a: 1 })).toBe(true)
    expect(isPlainObject([])).toBe(false)
    expect(isPlainObject(null)).toBe(false)
    expect(isPlainObject(new Float32Array(2))).toBe(false)
  })

  it('describes values as messages show them', () => {
    expect(describe(undefined)).toBe('nothing')
    expect(describe('x'.repeat(50))).toBe(`string "${'x'.repeat(39)}...`)
    expect(describe([1])).toBe('an array')
  })

  it('fails with the path in the message and the details, and the code asked for', () => {
    const err = thrown(() => fail(join('a', 'b'), 'bad', 'INVALID_CONFIG'))
    expect(err.message).toBe('a.b: bad')
    expect(err.code).toBe('INVALID_CONFIG')
    expect(err.details).toEqual({ path: 'a.b' })
    expect(join('', 'k')).toBe('k')
  })

  it('getters return absent as undefined and name the bad key', () => {
    expect(optInt({ n: null }, 'n', 'p', 0)).toBeUndefined()
    expect(optInt({ n: 3 }, 'n', 'p', 0)).toBe(3)
    expect(thrown(() => optInt({ n: 1.5 }, 'n', 'p', 0)).message).toBe(
      'p.n: expected an integer >= 0, got number 1.5',
    )
    expect(thrown(() => optBool({ b: 'yes' }, 'b', '')).message).toBe(
      'b: expected true or false, got string "yes"',
    )
    expect(thrown(() => reqArray({}, 'xs', 'q', 'INVALID_FILTER')).code).toBe('INVALID_FILTER')
    expect(thrown(() => stringArray(['a', 2], 'keys')).message).toBe(
      'keys[1]: expected a string, got number 2',
    )
    expect(thrown(() => onlyKeys({ a: 1, z: 2 }, ['a'], 'o')).message).toBe(
      'o.z: unknown field (expected "a")',
    )
  })
})
