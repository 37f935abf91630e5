import { describe, expect, it } from 'vitest'
import { parseKeyPath } from '../filter/index.js'
import { groupKeys, groupRanked } from './groups.js'

describe('groupKeys', () => {
  const path = parseKeyPath('g')
  it('reads strings and integers, arrays one level deep, without duplicates', () => {
    expect(groupKeys({ g: 'a' }, path)).toEqual(['a'])
    expect(groupKeys({ g: 3 }, path)).toEqual([3])
    expect(groupKeys({ g: ['a', 1, 'a', '1'] }, path)).toEqual(['a', 1, '1'])
    expect(groupKeys({ x: [{ g: 1 }, { g: 2 }] }, parseKeyPath('x[].g'))).toEqual([1, 2])
  })
  it('gives no group for a missing value or any value of another type (Qdrant skips the point)', () => {
    for (const g of [undefined, null, 1.5, true, {}, [], ['a', 0.5], [['a']]])
      expect(groupKeys(g === undefined ? {} : { g: g as never }, path)).toBeNull()
    expect(groupKeys(undefined, path)).toBeNull()
  })
})

describe('groupRanked', () => {
  const options = { path: parseKeyPath('g'), key: 'g', groupSize: 2, groups: 2 }
  it('widens the ranking until the best groups are full, then stops', () => {
    // ranking: many 'a', then one 'b' deep down, then another 'b'
    const ranking = [...Array(10).fill('a'), 'c', 'b', 'c', 'b'].map((g, i) => ({ i, g }))
    const asked: number[] = []
    const groups = groupRanked(
      (k) => {
        asked.push(k)
        return ranking.slice(0, k)
      },
      (h) => [h.g],
      options,
    )
    expect(asked).toEqual([4, 8, 16])
    expect(groups.map((g) => [g.id, g.hits.map((h) => h.i)])).toEqual([
      ['a', [0, 1]],
      ['c', [10, 12]],
    ])
  })
  it('stops when the ranking runs out, with short groups', () => {
    const asked: number[] = []
    const groups = groupRanked(
      (k) => {
        asked.push(k)
        return [{ g: 'x' }, { g: 'y' }, { g: 'x' }].slice(0, k)
      },
      (h) => [h.g],
      options,
    )
    expect(asked).toEqual([4])
    expect(groups.map((g) => [g.id, g.hits.length])).toEqual([
      ['x', 2],
      ['y', 1],
    ])
  })
})
