// The body parser's record of integer literals beyond 2^53 - 1: random JSON texts (nested objects
// and arrays, strings with escapes, brackets and digits, floats, exponents) compared with a model
// of where each unsafe literal sits.
import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { integerLiteral } from '../point-id.js'
import { parseJsonBody } from './app.js'

type Spot = { path: (string | number)[]; literal: string }

/** A random JSON text and the places of its unsafe integer literals. */
function randomJson(r: () => number): { text: string; spots: Spot[] } {
  const spots: Spot[] = []
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  const digits = (n: number): string =>
    String(1 + Math.floor(r() * 9)) + Array.from({ length: n - 1 }, () => Math.floor(r() * 10)).join('')
  function value(path: (string | number)[], depth: number): string {
    const k = depth > 4 ? Math.floor(r() * 4) : Math.floor(r() * 7)
    if (k === 0) {
      const literal = `${r() < 0.3 ? '-' : ''}${digits(17 + Math.floor(r() * 8))}`
      spots.push({ path, literal })
      return literal
    }
    if (k === 1)
      return pick([
        '1',
        '-0.5',
        '1e400',
        '12345678901234567.5',
        '0.12345678901234567',
        '9007199254740991',
        'true',
        'null',
      ])
    if (k === 2) return JSON.stringify(pick(['a"b', '[{', '18446744073709551616', 'x\\y', '\u00e9', '}],:']))
    if (k === 3) return `${digits(3)}`
    if (k === 4 || k === 5) {
      const n = Math.floor(r() * 4)
      return `[ ${Array.from({ length: n }, (_, i) => value([...path, i], depth + 1)).join(' , ')} ]`
    }
    const keys = Array.from(
      { length: Math.floor(r() * 4) },
      (_, i) => pick(['id', 'a"q', 'ids', 'k\\n', '[x]']) + i,
    )
    return `{${keys.map((key) => `${JSON.stringify(key)} :${value([...path, key], depth + 1)}`).join(',')}}`
  }
  const text = r() < 0.5 ? value([], 0) : `{"points":${value(['points'], 1)}}`
  return { text, spots }
}

describe('integer literals beyond 2^53 in a JSON body', () => {
  it('are recorded at the exact object or array and key that holds them', () => {
    const r = rng(7)
    let checked = 0
    for (let round = 0; round < 2000; round++) {
      const { text, spots } = randomJson(r)
      const parsed = parseJsonBody(text)
      for (const { path, literal } of spots) {
        const key = path[path.length - 1]
        if (key === undefined) continue // a bare number has no holder
        let holder: unknown = parsed
        for (const step of path.slice(0, -1)) holder = (holder as Record<string, unknown>)[step]
        expect(integerLiteral(holder, key), `${text} at ${JSON.stringify(path)}`).toBe(literal)
        checked++
      }
    }
    expect(checked).toBeGreaterThan(500)
  })

  it('are not recorded for safe integers, fractions, exponents or digits inside strings', () => {
    const body = parseJsonBody(
      '{"a":[9007199254740991,12345678901234567.5,1e400,"18446744073709551616"]}',
    ) as {
      a: unknown[]
    }
    for (let i = 0; i < 4; i++) expect(integerLiteral(body.a, i)).toBeUndefined()
  })

  it('a literal is only returned while it still spells the value', () => {
    const body = parseJsonBody('{"id":18446744073709551616}') as { id: unknown }
    expect(integerLiteral(body, 'id')).toBe('18446744073709551616')
    body.id = 1
    expect(integerLiteral(body, 'id')).toBeUndefined()
    // a duplicate key: JSON.parse keeps the last value, whose text is not the one recorded first
    const dup = parseJsonBody('{"id":18446744073709551616,"id":5}')
    expect(integerLiteral(dup, 'id')).toBeUndefined()
  })
})
