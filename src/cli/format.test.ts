import { describe, expect, it } from 'vitest'
import { intListOption, intOption, shellQuote } from './args.js'
import { formatTable, truncate } from './format.js'

describe('formatTable', () => {
  it('pads columns to the widest cell, right-aligning where asked', () => {
    expect(
      formatTable(
        ['ef', 'name'],
        [
          ['10', 'a'],
          ['320', 'bbbb'],
        ],
        ['right', 'left'],
      ),
    ).toBe([' ef  name', '---  ----', ' 10  a', '320  bbbb'].join('\n'))
  })
  it('truncates long cells with an ellipsis', () => {
    expect(truncate('abcdef', 4)).toBe('abc…')
    expect(truncate('abc', 4)).toBe('abc')
  })
})

describe('option parsers', () => {
  it('accept integers in range and lists, reject the rest', () => {
    expect(intOption(1)('12')).toBe(12)
    expect(() => intOption(1)('0')).toThrow(/>= 1/)
    expect(() => intOption(0)('1.5')).toThrow(/integer/)
    expect(() => intOption(0)('')).toThrow()
    expect(intListOption(1)('10, 20,40')).toEqual([10, 20, 40])
    expect(() => intListOption(1)('10,,20')).toThrow(/commas/)
  })
  it('quotes shell arguments only when needed', () => {
    expect(shellQuote('--ef=10,20')).toBe('--ef=10,20')
    expect(shellQuote('[1, 2]')).toBe("'[1, 2]'")
    expect(shellQuote("it's")).toBe("'it'\\''s'")
  })
})
