import { describe, expect, it } from 'vitest'
import { placeShards } from './routing.js'

describe('placeShards', () => {
  it('puts each shard on R distinct nodes, spreading shards evenly, the same for any node order', () => {
    const nodes = ['n3', 'n1', 'n2', 'n4']
    const p = placeShards(8, 2, nodes, 'docs')
    expect(p).toHaveLength(8)
    for (const replicas of p) {
      expect(replicas).toHaveLength(2)
      expect(new Set(replicas).size).toBe(2)
      for (const n of replicas) expect(nodes).toContain(n)
    }
    const load = new Map<string, number>()
    for (const r of p) for (const n of r) load.set(n, (load.get(n) ?? 0) + 1)
    expect([...load.values()]).toEqual([4, 4, 4, 4])
    expect(placeShards(8, 2, [...nodes].reverse(), 'docs')).toEqual(p)
  })

  it('caps R at the node count and ignores repeated nodes', () => {
    expect(placeShards(2, 5, ['a', 'b', 'a'], 'x').map((r) => [...r].sort())).toEqual([
      ['a', 'b'],
      ['a', 'b'],
    ])
    expect(placeShards(3, 1, ['solo'], 'y')).toEqual([['solo'], ['solo'], ['solo']])
  })

  it('starts different collections on different nodes', () => {
    const starts = new Set(
      ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].map(
        (name) => placeShards(1, 1, ['n1', 'n2', 'n3'], name)[0]![0],
      ),
    )
    expect(starts.size).toBeGreaterThan(1)
  })
})
