// The core pool over shared WebAssembly memory: parallel insert and batch search on worker threads
// (needs dist/engine/worker.js from `npm run build`, which `npm test` runs first).
import { describe, expect, it, vi } from 'vitest'
import { rng } from '../../test/support/random.js'
import { CorePool } from '../engine/pool.js'
import { HnswIndex, type IndexMetric } from './hnsw.js'

function clustered(n: number, dim: number, seed: number): Float32Array {
  const r = rng(seed)
  const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => r() * 10 - 5))
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const c = centers[Math.floor(r() * centers.length)]!
    for (let j = 0; j < dim; j++) out[i * dim + j] = c[j]! + (r() - 0.5) * 3
  }
  return out
}

function row(m: Float32Array, i: number, dim: number): Float32Array {
  return m.subarray(i * dim, (i + 1) * dim)
}

function recall(index: HnswIndex, queries: Float32Array, dim: number, ef: number): number {
  const n = queries.length / dim
  let found = 0
  for (let i = 0; i < n; i++) {
    const truth = new Set(index.searchExact(row(queries, i, dim), 10).offsets)
    for (const o of index.search(row(queries, i, dim), 10, ef).offsets) if (truth.has(o)) found++
  }
  return found / (n * 10)
}

const DIM = 24

describe('HnswIndex on the core pool', () => {
  it('has worker threads (the build ran)', () => {
    expect(CorePool.shared()?.size).toBeGreaterThanOrEqual(1)
  })

  it('CorePool.configure validates the count and refuses to resize a running pool', () => {
    expect(() => CorePool.configure(-1)).toThrow(/0\.\.256/)
    expect(() => CorePool.configure(1.5)).toThrow(/0\.\.256/)
    const size = CorePool.shared()!.size
    expect(() => CorePool.configure(size + 1)).toThrow(/already runs with/)
    expect(() => CorePool.configure(size)).not.toThrow()
  })

  for (const metric of ['cosine', 'l2'] as IndexMetric[]) {
    it(`addBatch builds a sound graph as good as one-by-one inserts (${metric})`, async () => {
      const all = clustered(3100, DIM, 11)
      const data = all.subarray(0, 3000 * DIM)
      const queries = all.subarray(3000 * DIM)
      const serial = HnswIndex.create({ dimension: DIM, metric, m: 12, efConstruct: 80, seed: 5 })
      for (let i = 0; i < 3000; i++) serial.add(row(data, i, DIM))
      const parallel = HnswIndex.create({ dimension: DIM, metric, m: 12, efConstruct: 80, seed: 5 })
      // two batches: the second links into an existing graph
      expect(await parallel.addBatch(data.subarray(0, 1000 * DIM))).toBe(0)
      expect(await parallel.addBatch(data.subarray(1000 * DIM))).toBe(1000)
      expect(parallel.size).toBe(3000)
      expect(parallel.checkIntegrity()).toEqual({ ok: true })
      for (let i = 0; i < 3000; i += 97) expect(parallel.vector(i)).toEqual(serial.vector(i))
      const r = recall(parallel, queries, DIM, 64)
      expect(r).toBeGreaterThan(recall(serial, queries, DIM, 64) - 0.03)
      expect(r).toBeGreaterThan(0.9)
      // the restored copy of a parallel build is the same graph
      const restored = HnswIndex.restore(parallel.params, parallel.serialize())
      expect(Array.from(restored.search(row(queries, 0, DIM), 10, 64).offsets)).toEqual(
        Array.from(parallel.search(row(queries, 0, DIM), 10, 64).offsets),
      )
    })
  }

  it('searchBatch returns exactly what search returns, filtered, exact and unfiltered', async () => {
    const data = clustered(2000, DIM, 21)
    const index = HnswIndex.create({ dimension: DIM, metric: 'l2', m: 12, efConstruct: 80, seed: 3 })
    await index.addBatch(data)
    for (let o = 0; o < 2000; o += 5) index.markDeleted(o)
    const queries = clustered(37, DIM, 22)
    const allow = new Uint32Array(Math.ceil(2000 / 32))
    for (let o = 0; o < 2000; o += 3) allow[o >>> 5]! |= 1 << (o & 31)
    const cases = [
      { filter: undefined, exact: false },
      { filter: { allow, twoHop: false }, exact: false },
      { filter: { allow, twoHop: true }, exact: false },
      { filter: undefined, exact: true },
      { filter: { allow, twoHop: false }, exact: true },
    ]
    for (const c of cases) {
      const batch = await index.searchBatch(queries, 10, 50, c.filter, undefined, c.exact)
      expect(batch).toHaveLength(37)
      for (let i = 0; i < 37; i++) {
        const q = row(queries, i, DIM)
        const one = c.exact
          ? index.searchExact(q, 10, c.filter ? filterOffsets(allow, 2000) : undefined)
          : index.search(q, 10, 50, c.filter)
        expect(Array.from(batch[i]!.offsets)).toEqual(Array.from(one.offsets))
        expect(Array.from(batch[i]!.distances)).toEqual(Array.from(one.distances))
        for (const o of batch[i]!.offsets) {
          expect(o % 5).not.toBe(0)
          if (c.filter) expect(o % 3).toBe(0)
        }
      }
    }
  })

  it('searches running on workers while the owner grows memory and inserts stay valid', async () => {
    const all = clustered(8400, DIM, 31)
    const data = all.subarray(0, 6000 * DIM)
    const more = all.subarray(6000 * DIM, 8000 * DIM)
    const queries = all.subarray(8000 * DIM)
    const index = HnswIndex.create({ dimension: DIM, metric: 'l2', m: 12, efConstruct: 60, seed: 9 })
    await index.addBatch(data.subarray(0, 1500 * DIM))
    // the searches start on the workers; the owner then reallocates every array (reserve) and inserts
    const pending = index.searchBatch(queries, 10, 64)
    for (let i = 1500; i < 6000; i++) index.add(row(data, i, DIM))
    const results = await pending
    for (const r of results) {
      expect(r.offsets.length).toBe(10)
      for (const o of r.offsets) expect(o).toBeLessThan(6000)
    }
    expect(index.checkIntegrity()).toEqual({ ok: true })
    // and a batch insert concurrent with batch searches
    const [first, hits] = await Promise.all([index.addBatch(more), index.searchBatch(queries, 10, 64)])
    expect(first).toBe(6000)
    for (const r of hits) {
      expect(r.offsets.length).toBe(10)
      for (const o of r.offsets) expect(o).toBeLessThan(8000)
    }
    expect(index.checkIntegrity()).toEqual({ ok: true })
    expect(recall(index, queries, DIM, 64)).toBeGreaterThan(0.9)
  })

  it('a queued batch whose arena predates a grow still answers (it sees only what its arena covers)', async () => {
    const all = clustered(9000, DIM, 41)
    const index = HnswIndex.create({ dimension: DIM, metric: 'l2', m: 12, efConstruct: 60, seed: 4 })
    await index.addBatch(all.subarray(0, 1200 * DIM))
    const queries = all.subarray(8000 * DIM)
    // keep both threads busy, queue a batch behind, grow the index, then dispatch a batch that
    // publishes the grown state before the queued one attaches
    const busy = index.searchBatch(all.subarray(0, 4000 * DIM), 10, 400)
    const queued = index.searchBatch(queries, 10, 64)
    for (let i = 1200; i < 8000; i++) index.add(row(all, i, DIM))
    const later = index.searchBatch(queries, 10, 64)
    const [, before, after] = await Promise.all([busy, queued, later])
    for (const hits of [...before, ...after]) expect(hits.offsets.length).toBe(10)
    for (let i = 0; i < 1000; i++) {
      expect(Array.from(after[i]!.offsets)).toEqual(
        Array.from(index.search(row(queries, i, DIM), 10, 64).offsets),
      )
    }
  })

  it('a batch whose worker fails is linked on the calling thread, after every other task settled', async () => {
    const all = clustered(6000, DIM, 51)
    const index = HnswIndex.create({ dimension: DIM, metric: 'l2', m: 8, efConstruct: 64, seed: 3 })
    await index.addBatch(all.subarray(0, 3000 * DIM))
    const pool = CorePool.shared()!
    const run = pool.run.bind(pool)
    // thread 1's insert task fails at once while thread 0's runs on: the owner must wait for it
    // before relinking the range (no self-links) and committing
    const spy = vi
      .spyOn(pool, 'run')
      .mockImplementation((i, task) =>
        task.type === 'insert' && i === 1
          ? Promise.reject(new Error('simulated thread death'))
          : run(i, task),
      )
    try {
      expect(await index.addBatch(all.subarray(3000 * DIM))).toBe(3000)
    } finally {
      spy.mockRestore()
    }
    expect(index.size).toBe(6000)
    expect(index.checkIntegrity()).toEqual({ ok: true })
    const copy = HnswIndex.restore(index.params, index.serialize())
    expect(copy.checkIntegrity()).toEqual({ ok: true })
    expect(recall(index, all.subarray(5900 * DIM), DIM, 64)).toBeGreaterThan(0.9)
  })
})

function filterOffsets(allow: Uint32Array, size: number): Uint32Array {
  const out: number[] = []
  for (let o = 0; o < size; o++) if ((allow[o >>> 5]! >>> (o & 31)) & 1) out.push(o)
  return Uint32Array.from(out)
}
