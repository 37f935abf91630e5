import { describe, expect, it } from 'vitest'
import { QuiverError } from '../errors.js'
import { checkConsistency, consistencyOf, replicasNeeded } from './consistency.js'

describe('read consistency and write consistency factor', () => {
  it('turns a consistency into the replicas a shard must have caught up', () => {
    expect(replicasNeeded(undefined, 3)).toBe(1)
    expect(replicasNeeded(2, 3)).toBe(2)
    expect(replicasNeeded('majority', 3)).toBe(2)
    expect(replicasNeeded('quorum', 4)).toBe(3)
    expect(replicasNeeded('all', 3)).toBe(3)
    expect(replicasNeeded('majority', 1)).toBe(1)
    const e = (() => {
      try {
        replicasNeeded(4, 3)
      } catch (err) {
        return err
      }
    })()
    expect((e as QuiverError).code).toBe('INVALID_ARGUMENT')
    expect((e as QuiverError).message).toContain('more replicas than a shard has (3)')
  })

  it('finds the consistency in a read’s options and refuses bad values', () => {
    expect(consistencyOf([[1, 2], { limit: 3 }])).toBeUndefined()
    expect(consistencyOf([{ limit: 3, consistency: 'all' }])).toBe('all')
    expect(consistencyOf([[{ consistency: 5 }], { consistency: 2 }])).toBe(2)
    for (const bad of [0, -1, 1.5, 'most', null, '2', Number.NaN]) {
      expect(() => checkConsistency(bad)).toThrow(QuiverError)
      expect(() => consistencyOf([{ consistency: bad }])).toThrow(/consistency must be/)
    }
  })
})
