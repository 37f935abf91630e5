import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { ProductQuantizer } from '../quantization/product.js'
import type { IndexMetric } from './hnsw.js'
import { defaultNlist, IvfIndex } from './ivf.js'

/** Points around 40 random centres in [-5, 5]^dim with ±1.5 noise. */
function clustered(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed)
  const centers = Array.from({ length: 40 }, () => Float32Array.from({ length: dim }, () => r() * 10 - 5))
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)]!
    return Float32Array.from(c, (x) => x + (r() - 0.5) * 3)
  })
}

function build(vectors: Float32Array[], metric: IndexMetric, nlist = 32): IvfIndex {
  const index = IvfIndex.create({ dimension: vectors[0]!.length, metric, nlist, seed: 3 })
  index.reserve(vectors.length)
  for (const v of vectors) index.add(v)
  expect(index.train()).toBe(true)
  return index
}

function recall(found: Uint32Array, truth: Uint32Array): number {
  const t = new Set(truth)
  return found.filter((o) => t.has(o)).length / truth.length
}

function meanRecall(index: IvfIndex, queries: Float32Array[], nprobe: number): number {
  let sum = 0
  for (const q of queries)
    sum += recall(index.search(q, 10, nprobe).offsets, index.searchExact(q, 10).offsets)
  return sum / queries.length
}

const DIM = 24

describe('IvfIndex', () => {
  for (const metric of ['l2', 'cosine', 'dot', 'l1'] as IndexMetric[]) {
    it(`recall@10 rises with nprobe and is exact at nprobe = nlist (${metric})`, () => {
      const index = build(clustered(3000, DIM, 1), metric)
      expect(index.nlist).toBe(32)
      expect(index.checkIntegrity()).toEqual({ ok: true })
      const queries = clustered(30, DIM, 2)
      const recalls = [1, 4, 32].map((p) => meanRecall(index, queries, p))
      expect(recalls[0]!).toBeLessThan(1)
      expect(recalls[1]!).toBeGreaterThanOrEqual(recalls[0]!)
      expect(recalls[2]!).toBe(1)
      for (const q of queries.slice(0, 5)) expect(index.search(q, 10, 32)).toEqual(index.searchExact(q, 10))
    })
  }

  it('searches exactly before training and trains only with enough vectors', () => {
    const vectors = clustered(1000, DIM, 3)
    const index = IvfIndex.create({ dimension: DIM, metric: 'l2', nlist: 32 })
    for (const v of vectors) index.add(v)
    expect(index.minTrainingVectors).toBe(32 * 39)
    expect(index.train()).toBe(false)
    expect(index.trained).toBe(false)
    const q = vectors[5]!
    expect(index.search(q, 10, 1)).toEqual(index.searchExact(q, 10))
    expect(index.checkIntegrity()).toEqual({ ok: true })
  })

  it('picks nlist automatically from the live vectors', () => {
    expect(defaultNlist(5000)).toBe(128)
    expect(defaultNlist(100_000)).toBe(1265)
    const index = IvfIndex.create({ dimension: DIM, metric: 'l2' })
    for (const v of clustered(2000, DIM, 4)) index.add(v)
    expect(index.train()).toBe(true)
    expect(index.nlist).toBe(defaultNlist(2000))
    expect(index.defaultNprobe).toBe(Math.max(1, Math.round(index.nlist / 16)))
  })

  it('returns only allowed offsets and matches exact filtered search at nprobe = nlist', () => {
    const vectors = clustered(3000, DIM, 5)
    const index = build(vectors, 'l2')
    const r = rng(6)
    const allow = new Uint32Array((vectors.length + 31) >>> 5)
    const allowed: number[] = []
    for (let i = 0; i < vectors.length; i++) {
      if (r() < 0.2) {
        allow[i >>> 5]! |= 1 << (i & 31)
        allowed.push(i)
      }
    }
    const set = new Set(allowed)
    const list = Uint32Array.from(allowed)
    for (const q of clustered(10, DIM, 7)) {
      for (const nprobe of [1, 3]) {
        const hits = index.search(q, 10, nprobe, { allow, twoHop: false })
        for (const o of hits.offsets) expect(set.has(o)).toBe(true)
      }
      expect(index.search(q, 10, 32, { allow, twoHop: true })).toEqual(index.searchExact(q, 10, list))
    }
  })

  it('never returns deleted offsets', () => {
    const vectors = clustered(2000, DIM, 8)
    const index = build(vectors, 'cosine')
    const q = vectors[17]!
    const before = index.search(q, 10, 32).offsets
    for (const o of before.slice(0, 5)) index.markDeleted(o)
    expect(index.isDeleted(before[0]!)).toBe(true)
    const after = index.search(q, 10, 32)
    for (const o of after.offsets) expect(index.isDeleted(o)).toBe(false)
    expect(Array.from(after.offsets.slice(0, 5))).toEqual(Array.from(before.slice(5, 10)))
    expect(after).toEqual(index.searchExact(q, 10))
    expect(index.checkIntegrity()).toEqual({ ok: true })
  })

  it('puts vectors added after training into lists, searchable at once', () => {
    const vectors = clustered(2500, DIM, 9)
    const index = build(vectors.slice(0, 2000), 'l2')
    for (const v of vectors.slice(2000)) index.add(v)
    expect(index.size).toBe(2500)
    expect(index.checkIntegrity()).toEqual({ ok: true })
    let found = 0
    for (let i = 2000; i < 2500; i += 10) if (index.search(vectors[i]!, 1, 1).offsets[0] === i) found++
    expect(found).toBe(50)
  })

  it('checkIntegrity reports an offset held by two lists', () => {
    const index = build(clustered(2000, DIM, 10), 'l2')
    const core = index.coreExports as unknown as { ivfListsPtr(): number; memory: WebAssembly.Memory }
    const table = new Uint32Array(core.memory.buffer, core.ivfListsPtr(), 32 * 3)
    let a = 0
    while (table[a * 3 + 1]! === 0) a++
    let b = a + 1
    while (table[b * 3 + 1]! === 0) b++
    const mem = new Uint32Array(core.memory.buffer)
    mem[table[b * 3]! >>> 2] = mem[table[a * 3]! >>> 2]!
    const report = index.checkIntegrity()
    expect(report.ok).toBe(false)
  })

  it('serialize / restore keeps results, deletions and later adds', () => {
    const vectors = clustered(2200, DIM, 11)
    const params = { dimension: DIM, metric: 'cosine' as const, nlist: 32, seed: 3 }
    const index = build(vectors.slice(0, 2100), 'cosine')
    index.markDeleted(3)
    const restored = IvfIndex.restore(params, index.serialize())
    expect(restored.trained).toBe(true)
    expect(restored.isDeleted(3)).toBe(true)
    expect(Array.from(restored.serialize())).toEqual(Array.from(index.serialize()))
    for (const v of vectors.slice(2100)) {
      index.add(v)
      restored.add(v)
    }
    for (const q of clustered(8, DIM, 12)) expect(restored.search(q, 10, 4)).toEqual(index.search(q, 10, 4))
    expect(restored.checkIntegrity()).toEqual({ ok: true })

    const untrained = IvfIndex.create(params)
    for (const v of vectors.slice(0, 50)) untrained.add(v)
    const back = IvfIndex.restore(params, untrained.serialize())
    expect(back.trained).toBe(false)
    expect(back.searchExact(vectors[0]!, 3)).toEqual(untrained.searchExact(vectors[0]!, 3))
  })

  it('restore throws CORRUPTED on bad buffers', () => {
    const params = { dimension: DIM, metric: 'l2' as const, nlist: 32 }
    const good = build(clustered(1300, DIM, 13), 'l2').serialize()
    const corrupted = expect.objectContaining({ code: 'CORRUPTED' })
    expect(() => IvfIndex.restore(params, good.slice(0, 20))).toThrow(corrupted)
    expect(() => IvfIndex.restore(params, good.slice(0, good.length - 4))).toThrow(corrupted)
    const magic = good.slice()
    magic[0] = magic[0]! ^ 1
    expect(() => IvfIndex.restore(params, magic)).toThrow(corrupted)
    expect(() => IvfIndex.restore({ ...params, metric: 'l1' }, good)).toThrow(corrupted)
    expect(() => IvfIndex.restore({ ...params, dimension: DIM + 1 }, good)).toThrow(corrupted)
    const badList = good.slice()
    new DataView(badList.buffer).setUint32(badList.length - 4, 32, true)
    expect(() => IvfIndex.restore(params, badList)).toThrow(corrupted)
  })

  it('rejects bad parameters', () => {
    expect(() => IvfIndex.create({ dimension: DIM, metric: 'l2', nlist: 0 })).toThrow(/ivf.nlist/)
    expect(() => IvfIndex.create({ dimension: DIM, metric: 'l2', nprobe: 1.5 })).toThrow(/ivf.nprobe/)
  })

  it('IVF-PQ: lists scanned on PQ codes, rescored, reach the recall of IVF-Flat', () => {
    const vectors = clustered(4000, 32, 14)
    const index = build(vectors, 'l2', 32)
    const pq = new ProductQuantizer({ product: { compression: 'x8' } }, 32, 'l2')
    pq.train(index.coreExports, index.size)
    expect(pq.trained).toBe(true)
    const queries = clustered(30, 32, 15)
    let flat = 0
    let pqRescored = 0
    let pqOnly = 0
    for (const q of queries) {
      const truth = index.searchExact(q, 10).offsets
      flat += recall(index.search(q, 10, 8).offsets, truth)
      pqRescored += recall(
        index.search(q, 10, 8, undefined, { rescore: true, candidates: 50 }).offsets,
        truth,
      )
      pqOnly += recall(index.search(q, 10, 8, undefined, { rescore: false, candidates: 10 }).offsets, truth)
    }
    expect(pqRescored / queries.length).toBeGreaterThanOrEqual(flat / queries.length - 0.03)
    expect(pqRescored).toBeGreaterThan(pqOnly)
    // codes follow adds after training: the new vector is found on codes + rescoring
    const v = clustered(1, 32, 16)[0]!
    const o = index.add(v)
    expect(index.search(v, 1, 2, undefined, { rescore: true, candidates: 20 }).offsets[0]).toBe(o)
  })
})
