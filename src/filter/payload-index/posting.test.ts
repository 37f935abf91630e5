import { describe, expect, it } from 'vitest'
import { rng } from '../../../test/support/random.js'
import { QuiverError } from '../../errors.js'
import { Bitset } from '../bitset.js'
import { PostingList } from './posting.js'

function members(list: PostingList): number[] {
  const out: number[] = []
  list.forEach((o) => {
    out.push(o)
  })
  return out
}

function expectSame(list: PostingList, model: Set<number>): void {
  expect(list.size).toBe(model.size)
  expect(members(list)).toEqual([...model].sort((a, b) => a - b))
}

describe('PostingList', () => {
  it('adds ascending, then answers has/size/forEach', () => {
    const list = new PostingList()
    for (let o = 0; o < 1000; o += 3) expect(list.add(o)).toBe(true)
    expect(list.add(1000)).toBe(true)
    expect(list.add(3)).toBe(false)
    expect(list.size).toBe(335)
    expect(list.has(6)).toBe(true)
    expect(list.has(7)).toBe(false)
    expect(members(list).slice(0, 4)).toEqual([0, 3, 6, 9])
  })

  it('inserts out of order and deletes, keeping members sorted', () => {
    const list = new PostingList()
    for (const o of [50, 10, 30, 10, 20, 40]) list.add(o)
    expect(members(list)).toEqual([10, 20, 30, 40, 50])
    expect(list.delete(30)).toBe(true)
    expect(list.delete(30)).toBe(false)
    expect(list.delete(7)).toBe(false)
    expect(members(list)).toEqual([10, 20, 40, 50])
  })

  it('orInto sets only members below the bitset size, sparse and dense', () => {
    const sparse = new PostingList()
    for (const o of [1, 40, 99, 100, 5000]) sparse.add(o)
    expect(Bitset.of(101, [7]).words).toHaveLength(4)
    const a = Bitset.of(101, [7])
    sparse.orInto(a)
    expect([...a.toOffsets()]).toEqual([1, 7, 40, 99, 100])

    const dense = new PostingList()
    for (let o = 0; o < 200; o++) dense.add(o)
    const b = new Bitset(70)
    dense.orInto(b)
    expect(b.count()).toBe(70)
    expect(b.words[2]).toBe(0b111111)
    const c = new Bitset(1000)
    dense.orInto(c)
    expect(c.count()).toBe(200)
  })

  it('turns dense when dense and back to sparse when emptied', () => {
    const list = new PostingList()
    for (let o = 0; o < 4096; o++) list.add(o)
    // Dense form serialises as tag 1 plus 128 words.
    expect(list.toBytes().byteLength).toBe(4 * 129)
    for (let o = 0; o < 4090; o++) list.delete(o)
    expect(list.size).toBe(6)
    expect(list.toBytes().byteLength).toBe(4 * 7)
    expect(members(list)).toEqual([4090, 4091, 4092, 4093, 4094, 4095])
  })

  it('a far offset added to a small dense list does not allocate a huge bitset', () => {
    const list = new PostingList()
    for (let o = 0; o < 64; o++) list.add(o)
    list.add(50_000_000)
    expect(list.toBytes().byteLength).toBe(4 * 66)
    expect(list.has(50_000_000)).toBe(true)
    expect(list.has(63)).toBe(true)
  })

  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random ops match a Set model (seed ${seed})`, () => {
      const r = rng(seed)
      const list = new PostingList()
      const model = new Set<number>()
      const span = [64, 1000, 100_000][seed % 3]!
      for (let step = 0; step < 6000; step++) {
        // The first half mostly adds, the second mostly deletes (dense -> sparse).
        const roll = step < 3000 ? r() : r() < 0.15 ? r() * 0.55 : 0.6 + r() * 0.3
        const o = Math.floor(r() * span)
        if (roll < 0.55) expect(list.add(o)).toBe(!model.has(o))
        else if (roll < 0.6) {
          const up = (model.size === 0 ? 0 : Math.max(...model)) + 1
          expect(list.add(up)).toBe(true)
          model.add(up)
          continue
        } else if (roll < 0.9) expect(list.delete(o)).toBe(model.has(o))
        else expect(list.has(o)).toBe(model.has(o))
        if (roll < 0.55) model.add(o)
        else if (roll < 0.9) model.delete(o)
        if (step % 500 === 0) {
          expectSame(list, model)
          expectSame(PostingList.fromBytes(list.toBytes()), model)
          const b = new Bitset((model.size === 0 ? 0 : Math.max(...model)) + 2)
          list.orInto(b)
          expect([...b.toOffsets()]).toEqual([...model].sort((x, y) => x - y))
        }
      }
      expectSame(list, model)
      expectSame(PostingList.fromBytes(list.toBytes()), model)
    })
  }

  it('fromBytes restores from an unaligned view', () => {
    const list = new PostingList()
    for (const o of [3, 9, 27]) list.add(o)
    const bytes = list.toBytes()
    const shifted = new Uint8Array(bytes.byteLength + 1)
    shifted.set(bytes, 1)
    expect(members(PostingList.fromBytes(shifted.subarray(1)))).toEqual([3, 9, 27])
  })

  it('fromBytes throws CORRUPTED on bad bytes', () => {
    const bad = [
      new Uint8Array(0),
      new Uint8Array(6),
      new Uint8Array(new Uint32Array([7, 1]).buffer),
      new Uint8Array(new Uint32Array([0, 5, 5]).buffer),
      new Uint8Array(new Uint32Array([0, 9, 2]).buffer),
    ]
    for (const bytes of bad) {
      const err = (() => {
        try {
          PostingList.fromBytes(bytes)
        } catch (e) {
          return e
        }
      })()
      expect(err).toBeInstanceOf(QuiverError)
      expect((err as QuiverError).code).toBe('CORRUPTED')
    }
  })
})
