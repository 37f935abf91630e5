// Error messages about integers beyond 2^53 - 1 quote them as the client's body spelled them.
import { describe, expect, it } from 'vitest'
import { mayHoldUnsafeIntegers, withClientLiterals } from './json-literals.js'

describe('integer literals beyond 2^53 in error messages', () => {
  it('puts the body spelling back for each rounded integer the message prints', () => {
    const body = '{"ids":[1, 18446744073709551616, -9223372036854775809], "x": 12345678901234567.5}'
    const parsed = JSON.parse(body) as { ids: number[] }
    const message = `ids[1]: ${parsed.ids[1]} is not a valid point id; ids[2]: ${parsed.ids[2]} neither`
    expect(withClientLiterals(message, body)).toBe(
      'ids[1]: 18446744073709551616 is not a valid point id; ids[2]: -9223372036854775809 neither',
    )
  })

  it('leaves safe integers, fractions, exponents and unmatched numbers alone', () => {
    const body = '{"a": 9007199254740991, "b": 1234567890123456789.5, "c": 1e30, "d": 18446744073709551616}'
    expect(withClientLiterals('a is 9007199254740991', body)).toBe('a is 9007199254740991')
    expect(withClientLiterals('b is 1234567890123456800', body)).toBe('b is 1234567890123456800')
    expect(withClientLiterals('c is 1e+30', body)).toBe('c is 1e+30')
    expect(withClientLiterals('e is 99999999999999999999', body)).toBe('e is 99999999999999999999')
    expect(withClientLiterals('d is 18446744073709552000', undefined)).toBe('d is 18446744073709552000')
  })

  it('keeps only bodies that may hold such integers', () => {
    expect(mayHoldUnsafeIntegers('{"vector":[0.12345678901234567,1]}')).toBe(false)
    expect(mayHoldUnsafeIntegers('{"id": 18446744073709551616}')).toBe(true)
    expect(mayHoldUnsafeIntegers('{"ids":[1,-18446744073709551616]}')).toBe(true)
  })
})
