import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { QuiverError } from '../errors.js'
import { idf, SparseIndex, type SparseVector, toSparseVector } from './sparse-index.js'

const sv = (indices: number[], values: number[]): SparseVector => toSparseVector({ indices, values }, 'v')

function codeOf(fn: () => unknown): { code: string; message: string } {
  try {
    fn()
  } catch (err) {
    if (err instanceof QuiverError) return { code: err.code, message: err.message }
    throw err
  }
  throw new Error('did not throw')
}

describe('toSparseVector', () => {
  it('copies and sorts by index, moving values along', () => {
    const input = { indices: [9, 2, 5], values: [0.9, 0.2, 0.5] }
    const v = toSparseVector(input, 'vector')
    expect([...v.indices]).toEqual([2, 5, 9])
    expect([...v.values]).toEqual([Math.fround(0.2), 0.5, Math.fround(0.9)])
    expect(input.indices).toEqual([9, 2, 5])
  })

  it('accepts typed arrays, the largest u32 index and the empty vector', () => {
    const v = toSparseVector(
      { indices: new Uint32Array([4294967295, 0]), values: new Float32Array([1, 2]) },
      'v',
    )
    expect([...v.indices]).toEqual([0, 4294967295])
    expect([...v.values]).toEqual([2, 1])
    const e = toSparseVector({ indices: [], values: [] }, 'v')
    expect(e.indices.length).toBe(0)
  })

  it.each([
    [null, /^vector: expected a sparse vector/],
    [[1, 2], /^vector: expected a sparse vector .* got an array/],
    [{ values: [1] }, /^vector\.indices: expected an array of integers, got nothing/],
    [{ indices: [1], values: 'x' }, /^vector\.values: expected an array of numbers, got string/],
    [{ indices: [1, 2], values: [1] }, /indices has 2 elements but values has 1/],
    [
      { indices: [1, -1], values: [1, 1] },
      /^vector\.indices\[1\]: expected an integer 0\.\.4294967295, got number -1/,
    ],
    [{ indices: [1.5], values: [1] }, /indices\[0\].*number 1\.5/],
    [{ indices: [4294967296], values: [1] }, /indices\[0\]/],
    [{ indices: ['1'], values: [1] }, /indices\[0\].*string "1"/],
    [{ indices: [1n], values: [1] }, /indices\[0\].*bigint 1n/],
    [
      { indices: [1], values: [Number.NaN] },
      /^vector\.values\[0\]: expected a finite float32 number, got NaN/,
    ],
    [{ indices: [1], values: [Number.POSITIVE_INFINITY] }, /values\[0\].*Infinity/],
    [{ indices: [1], values: [1e39] }, /values\[0\].*float32/],
    [{ indices: [1], values: [null] }, /values\[0\].*null/],
    [{ indices: [3, 1, 3], values: [1, 2, 3] }, /index 3 appears twice \(positions 0 and 2\)/],
  ])('rejects case %# with INVALID_VECTOR', (input, message) => {
    const err = codeOf(() => toSparseVector(input, 'vector'))
    expect(err.code).toBe('INVALID_VECTOR')
    expect(err.message).toMatch(message)
  })

  it('rejects holes in a sparse array', () => {
    // biome-ignore lint/suspicious/noSparseArray: the hole is the test
    const err = codeOf(() => toSparseVector({ indices: [1, , 3], values: [1, 2, 3] }, 'v'))
    expect(err.message).toMatch(/v\.indices\[1\].*nothing/)
  })
})

describe('idf', () => {
  it("is Qdrant's ln((n - df + 0.5) / (df + 0.5) + 1)", () => {
    expect(idf(0, 0)).toBeCloseTo(Math.LN2, 6)
    expect(idf(10, 1)).toBeCloseTo(Math.log(9.5 / 1.5 + 1), 6)
    expect(idf(10, 10)).toBeGreaterThan(0)
    expect(idf(100, 1)).toBeGreaterThan(idf(100, 50))
  })
})

describe('SparseIndex', () => {
  it('stores, replaces and removes vectors with exact df and count', () => {
    const ix = SparseIndex.create()
    ix.set(3, sv([1, 2], [1, 2]))
    ix.set(0, sv([2, 7], [3, 4]))
    expect(ix.count).toBe(2)
    expect([ix.df(1), ix.df(2), ix.df(7), ix.df(99)]).toEqual([1, 2, 1, 0])
    expect(ix.has(3) && ix.has(0) && !ix.has(1) && !ix.has(1000)).toBe(true)
    ix.set(3, sv([2, 9], [5, 6]))
    expect(ix.count).toBe(2)
    expect([ix.df(1), ix.df(2), ix.df(9)]).toEqual([0, 2, 1])
    expect(ix.get(3)).toEqual(sv([2, 9], [5, 6]))
    expect(ix.remove(0)).toBe(true)
    expect(ix.remove(0)).toBe(false)
    expect(ix.remove(12345)).toBe(false)
    expect(ix.count).toBe(1)
    expect([ix.df(2), ix.df(7)]).toEqual([1, 0])
    expect(ix.get(0)).toBeUndefined()
  })

  it('counts an empty vector, which matches no query', () => {
    const ix = SparseIndex.create()
    ix.set(0, sv([], []))
    expect(ix.count).toBe(1)
    expect(ix.has(0)).toBe(true)
    expect(ix.search(sv([1], [1]), 10).offsets.length).toBe(0)
  })

  it('returns only offsets that share an index with the query, zero and negative sums included', () => {
    const ix = SparseIndex.create()
    ix.set(0, sv([1], [2])) // 2
    ix.set(1, sv([5], [1])) // no overlap
    ix.set(2, sv([1, 2], [1, -1])) // 1 - 1 = 0
    ix.set(3, sv([2], [-4])) // -4
    ix.set(4, sv([1], [2])) // 2, tie with 0
    const r = ix.search(sv([1, 2], [1, 1]), 10)
    expect([...r.offsets]).toEqual([0, 4, 2, 3])
    expect([...r.scores]).toEqual([2, 2, 0, -4])
  })

  it('applies weights per query index and the allow bitset', () => {
    const ix = SparseIndex.create()
    for (let o = 0; o < 40; o++) ix.set(o, sv([o % 3, 10], [1, o]))
    const q = sv([0, 10], [2, 1])
    const w = new Float32Array([10, 0.5])
    const r = ix.search(q, 3, undefined, w)
    // score = 20 * [o % 3 == 0] + 0.5 * o
    expect([...r.offsets]).toEqual([39, 36, 33])
    expect(r.scores[0]).toBe(20 + 19.5)
    const allow = new Uint32Array(2)
    allow[1] = 1 << (34 - 32) // only offset 34
    expect([...ix.search(q, 3, allow, w).offsets]).toEqual([34])
    expect([...ix.search(q, 3, new Uint32Array(0), w).offsets]).toEqual([])
  })

  it('validates k, weights, offsets and sortedness', () => {
    const ix = SparseIndex.create()
    ix.set(0, sv([1], [1]))
    expect(codeOf(() => ix.search(sv([1], [1]), -1)).code).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => ix.search(sv([1], [1]), 1.5)).code).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => ix.search(sv([1], [1]), 1, undefined, new Float32Array(2))).message).toMatch(
      /weights has 2 elements/,
    )
    expect(ix.search(sv([1], [1]), 0).offsets.length).toBe(0)
    // a huge k allocates nothing of its size, on both paths
    ix.set(1, sv([1, 2], [2, 1]))
    expect([...ix.search(sv([1, 2], [1, 1]), 2 ** 31).offsets]).toEqual([1, 0])
    expect([...ix.search(sv([1, 2], [1, -1]), 2 ** 31).offsets]).toEqual([0, 1]) // 1 vs 2 - 1: tie, lower offset first
    ix.remove(1)
    expect(codeOf(() => ix.set(-1, sv([1], [1]))).code).toBe('INVALID_ARGUMENT')
    expect(codeOf(() => ix.set(2 ** 31, sv([1], [1]))).code).toBe('INVALID_ARGUMENT')
    const unsorted = { indices: new Uint32Array([2, 1]), values: new Float32Array([1, 1]) }
    expect(codeOf(() => ix.set(1, unsorted)).message).toMatch(/sorted ascending/)
    expect(codeOf(() => ix.search(unsorted, 1)).message).toMatch(/query: indices must be sorted/)
    expect(codeOf(() => ix.scoreOffsets(unsorted, [0])).message).toMatch(/query: indices must be sorted/)
    const q = sv([1, 2], [1, 1])
    expect(codeOf(() => ix.search(q, 1, undefined, new Float32Array([1, Number.NaN]))).message).toMatch(
      /weights\[1\] is not finite/,
    )
    const nan = { indices: new Uint32Array([1]), values: new Float32Array([Number.NaN]) }
    expect(codeOf(() => ix.search(nan, 1)).message).toMatch(/values\[0\] is not finite/)
  })

  it('scoreOffsets scores 0 for offsets without a vector or without overlap', () => {
    const ix = SparseIndex.create()
    ix.set(0, sv([1, 3], [2, 3]))
    ix.set(1, sv([4], [1]))
    const s = ix.scoreOffsets(sv([1, 3, 4], [1, 2, 3]), [0, 1, 7, 2 ** 40, -1], new Float32Array([1, 1, 2]))
    expect([...s]).toEqual([8, 6, 0, 0, 0])
    expect([...ix.scoreOffsets(sv([9], [1]), [0])]).toEqual([0])
  })

  it('compacts posting lists and the arena under churn without losing vectors', () => {
    const ix = SparseIndex.create()
    for (let o = 0; o < 5000; o++) ix.set(o, sv([1, 2, 3 + (o % 7)], [1, 1, o]))
    const before = ix.memoryBytes
    for (let o = 0; o < 5000; o++) if (o % 10 !== 0) ix.remove(o)
    for (let round = 0; round < 3; round++)
      for (let o = 0; o < 5000; o += 10) ix.set(o, sv([2, 100 + round], [round, 1]))
    expect(ix.count).toBe(500)
    expect(ix.df(1)).toBe(0)
    expect(ix.df(2)).toBe(500)
    expect(ix.df(102)).toBe(500)
    expect(ix.df(101)).toBe(0)
    expect(ix.memoryBytes).toBeLessThan(before * 2)
    const r = ix.search(sv([102], [1]), 3)
    expect([...r.offsets]).toEqual([0, 10, 20])
    expect(ix.get(4990)).toEqual(sv([2, 102], [2, 1]))
  })
})

describe('SparseIndex serialization', () => {
  const sample = (): SparseIndex => {
    const ix = SparseIndex.create()
    ix.set(5, sv([1, 4294967295], [0.5, -2]))
    ix.set(1, sv([], []))
    ix.set(70, sv([1, 3], [1, 1]))
    ix.set(9, sv([3], [7]))
    ix.remove(9)
    return ix
  }

  it('round-trips vectors, df and search results', () => {
    const ix = sample()
    const bytes = ix.serialize()
    // restore from an unaligned view too
    const shifted = new Uint8Array(bytes.length + 1)
    shifted.set(bytes, 1)
    const back = SparseIndex.restore(shifted.subarray(1))
    expect(back.count).toBe(3)
    expect(back.get(5)).toEqual(ix.get(5))
    expect(back.get(1)).toEqual(sv([], []))
    expect(back.has(9)).toBe(false)
    expect(back.df(1)).toBe(2)
    expect(back.search(sv([1], [1]), 5)).toEqual(ix.search(sv([1], [1]), 5))
    expect(back.serialize()).toEqual(bytes)
  })

  it('refuses damaged bytes with CORRUPTED', () => {
    const bytes = sample().serialize()
    const damaged = (edit: (u32: Uint32Array) => void): Uint8Array => {
      const copy = bytes.slice()
      edit(new Uint32Array(copy.buffer))
      return copy
    }
    const cases: [Uint8Array, RegExp][] = [
      [new Uint8Array(3), /not a sparse index/],
      [bytes.subarray(0, bytes.length - 2), /multiple of 4/],
      [bytes.subarray(0, bytes.length - 4), /do not hold/],
      [new Uint8Array([...bytes, 0, 0, 0, 0]), /do not hold/],
      [damaged((u) => (u[0] = 0)), /bad magic/],
      [damaged((u) => (u[1] = 2)), /format version 2/],
      [damaged((u) => (u[3] = 1000)), /counts 1000 vectors but the bitset marks 3/],
      [damaged((u) => (u[4] = 1000)), /do not hold/],
      [damaged((u) => (u[5] = 5)), /do not hold/],
      [damaged((u) => (u[6] = 0)), /bitset marks 1/],
      // words: header 0-5, bitset 6-9, table 10-15 (dims 1: 2 entries, 3: 1, 2^32-1: 1),
      // offsets 16-19 (5, 70 | 70 | 5), values 20-23
      [damaged((u) => (u[12] = 0)), /dimension 0 is out of order/],
      [damaged((u) => (u[16] = 99)), /offset 99 of dimension 1 is out of order or holds no vector/],
      [damaged((u) => (u[17] = 6)), /offset 6 of dimension 1 .*holds no vector/],
      [damaged((u) => (u[11] = 1e6)), /past the total/],
      [damaged((u) => (u[13] = 0)), /dimension 3 has 0 entries, none/],
      [damaged((u) => (u[11] = 1)), /the lists hold 3 entries but the header counts 4/],
      [
        damaged((u) => (new Float32Array(u.buffer)[20] = Number.NaN)),
        /value of offset 5 in dimension 1 is not finite/,
      ],
    ]
    for (const [b, message] of cases) {
      const err = codeOf(() => SparseIndex.restore(b))
      expect(err.code).toBe('CORRUPTED')
      expect(err.message).toMatch(message)
    }
  })
})

/** A naive model of the index: a Map of offset -> vector, scored by merge-walk. */
function naiveSearch(
  model: Map<number, SparseVector>,
  q: SparseVector,
  k: number,
  allow: Uint32Array | undefined,
  weights: Float32Array | undefined,
): { offsets: number[]; scores: number[] } {
  const hits: [number, number][] = []
  for (const [o, v] of model) {
    if (allow !== undefined && ((allow[o >>> 5] ?? 0) & (1 << (o & 31))) === 0) continue
    let s = 0
    let overlap = false
    let i = 0
    let t = 0
    while (i < v.indices.length && t < q.indices.length) {
      if (v.indices[i]! < q.indices[t]!) i++
      else if (v.indices[i]! > q.indices[t]!) t++
      else {
        overlap = true
        s = Math.fround(s + Math.fround(q.values[t]! * (weights?.[t] ?? 1)) * v.values[i]!)
        i++
        t++
      }
    }
    if (overlap) hits.push([o, s])
  }
  hits.sort((a, b) => b[1] - a[1] || a[0] - b[0])
  const top = hits.slice(0, k)
  return { offsets: top.map((h) => h[0]), scores: top.map((h) => h[1]) }
}

describe('SparseIndex against a naive scan (property test)', () => {
  // seeds 1-6: values of both signs (exhaustive path); 7-14: values >= 0 with a few frequent
  // low-valued dimensions (the pruned path skips their lists)
  for (const seed of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]) {
    const nonNegative = seed > 6
    it(`agrees after random sets, replaces and removes (seed ${seed}${nonNegative ? ', values >= 0' : ''})`, () => {
      const r = rng(seed)
      const int = (n: number) => Math.floor(r() * n)
      const dims = 5 + int(60)
      const space = 20 + int(400)
      const randomVector = (): SparseVector => {
        const nnz = int(8)
        const indices: number[] = []
        const values: number[] = []
        const used = new Set<number>()
        for (let i = 0; i < nnz; i++) {
          // a few huge dimensions too
          const d = r() < 0.05 ? 4294967295 - int(3) : nonNegative && r() < 0.5 ? int(3) : int(dims)
          if (used.has(d)) continue
          used.add(d)
          indices.push(d)
          // small integers make ties; some negatives and zeros
          if (nonNegative) values.push(d < 3 ? int(2) * r() * 0.2 : r() < 0.5 ? int(5) : r() * 10)
          else values.push(r() < 0.5 ? int(5) - 1 : (r() - 0.3) * 10)
        }
        return toSparseVector({ indices, values }, 'v')
      }
      let ix = SparseIndex.create()
      const model = new Map<number, SparseVector>()
      for (let step = 0; step < 3000; step++) {
        // halfway, go on with a restored copy: its lists live in the restored bytes until they grow
        if (step === 1500) ix = SparseIndex.restore(ix.serialize())
        const o = int(space)
        const op = r()
        if (op < 0.6) {
          const v = randomVector()
          ix.set(o, v)
          model.set(o, v)
        } else {
          expect(ix.remove(o)).toBe(model.delete(o))
        }
        if (step % 100 === 99) {
          expect(ix.count).toBe(model.size)
          for (let d = 0; d < dims; d++) {
            let df = 0
            for (const v of model.values()) if (v.indices.includes(d)) df++
            expect(ix.df(d)).toBe(df)
          }
          for (let qn = 0; qn < 5; qn++) {
            const q = randomVector()
            const k = 1 + int(nonNegative ? 8 : 30)
            const weights = r() < 0.5 ? undefined : Float32Array.from(q.indices, () => r() * 3)
            let allow: Uint32Array | undefined
            if (r() < 0.5) {
              allow = new Uint32Array(Math.ceil(space / 32) - int(2))
              for (let w = 0; w < allow.length; w++) allow[w] = (r() * 2 ** 32) >>> 0
            }
            const got = ix.search(q, k, allow, weights)
            const want = naiveSearch(model, q, k, allow, weights)
            expect([...got.offsets]).toEqual(want.offsets)
            expect([...got.scores]).toEqual(want.scores)
            const offsets = Array.from({ length: 10 }, () => int(space + 5))
            const scores = ix.scoreOffsets(q, offsets, weights)
            const all = naiveSearch(model, q, space + 5, undefined, weights)
            const byOffset = new Map(all.offsets.map((o, i) => [o, all.scores[i]!]))
            expect([...scores]).toEqual(offsets.map((o) => byOffset.get(o) ?? 0))
          }
        }
      }
      for (const [o, v] of model) expect(ix.get(o)).toEqual(v)
      const back = SparseIndex.restore(ix.serialize())
      const q = randomVector()
      expect(back.search(q, 50)).toEqual(ix.search(q, 50))
      expect(back.count).toBe(ix.count)
    })
  }
})
