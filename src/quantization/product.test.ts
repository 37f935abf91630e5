import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { QuiverError } from '../errors.js'
import { HnswIndex, type IndexMetric } from '../index/hnsw.js'
import { ProductQuantizer } from './product.js'
import type { QuantizationConfig } from './quantizer.js'

/** Points around 30 random centres in [-5, 5]^dim with ±1 noise. */
function clustered(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed)
  const centers = Array.from({ length: 30 }, () => Float32Array.from({ length: dim }, () => r() * 10 - 5))
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)]!
    return Float32Array.from(c, (x) => x + (r() - 0.5) * 2)
  })
}

function store(vectors: Float32Array[], dim: number, metric: IndexMetric): HnswIndex {
  const index = HnswIndex.create({ dimension: dim, metric, m: 0, efConstruct: 1 })
  index.reserve(vectors.length)
  for (const v of vectors) index.add(v)
  return index
}

function metricDistance(metric: IndexMetric, q: Float32Array, v: Float32Array): number {
  let d = 0
  for (let t = 0; t < q.length; t++) {
    if (metric === 'l2') d += (q[t]! - v[t]!) ** 2
    else if (metric === 'l1') d += Math.abs(q[t]! - v[t]!)
    else d -= q[t]! * v[t]!
  }
  return d
}

function normalised(v: Float32Array): Float32Array {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  return v.map((x) => x / n)
}

function recall(found: Uint32Array, truth: Uint32Array): number {
  const t = new Set(truth)
  return found.filter((o) => t.has(o)).length / truth.length
}

const X16: QuantizationConfig = { product: { compression: 'x16' } }

describe('ProductQuantizer', () => {
  it('maps compression to code bytes = ceil(dimension · 4 / compression)', () => {
    expect(new ProductQuantizer({ product: { compression: 'x4' } }, 128, 'l2').bytesPerVector).toBe(128)
    expect(new ProductQuantizer({ product: { compression: 'x16' } }, 128, 'l2').bytesPerVector).toBe(32)
    expect(new ProductQuantizer({ product: { compression: 'x64' } }, 100, 'l2').bytesPerVector).toBe(7)
    expect(new ProductQuantizer({ product: { compression: 'x64' } }, 8, 'l2').bytesPerVector).toBe(1)
    expect(() => new ProductQuantizer({ scalar: { type: 'int8' } }, 8, 'l2')).toThrow(QuiverError)
  })

  it('does nothing below minTrainingVectors', () => {
    const index = store(clustered(100, 8, 1), 8, 'l2')
    const pq = new ProductQuantizer(X16, 8, 'l2')
    pq.train(index.coreExports, index.size)
    expect(pq.trained).toBe(false)
  })

  for (const metric of ['l2', 'cosine', 'dot', 'l1'] as IndexMetric[]) {
    it(`ADC distance equals the distance to the reconstructed vector (${metric}, uneven sub-spaces)`, () => {
      const dim = 30 // x16: m = 8 sub-spaces of widths 4,4,4,4,4,4,3,3
      const index = store(clustered(2500, dim, 2), dim, metric)
      const pq = new ProductQuantizer(X16, dim, metric)
      pq.train(index.coreExports, index.size)
      expect(pq.trained).toBe(true)
      expect(pq.m).toBe(8)
      const raw = clustered(1, dim, 77)[0]!
      const q = metric === 'cosine' ? normalised(raw) : raw
      const hits = index.searchExact(raw, 25, undefined, { rescore: false, candidates: 25 })
      expect(hits.offsets.length).toBe(25)
      for (let i = 0; i < hits.offsets.length; i++) {
        const expected = metricDistance(metric, q, pq.reconstruct(index.coreExports, hits.offsets[i]!))
        expect(hits.distances[i]!).toBeCloseTo(expected, 3)
      }
    })
  }

  it('reconstruction error is small relative to the vectors', () => {
    const dim = 16
    const vectors = clustered(2500, dim, 3)
    const index = store(vectors, dim, 'l2')
    const pq = new ProductQuantizer({ product: { compression: 'x8' } }, dim, 'l2')
    pq.train(index.coreExports, index.size)
    let err = 0
    let norm = 0
    for (let i = 0; i < 200; i++) {
      err += metricDistance('l2', vectors[i]!, pq.reconstruct(index.coreExports, i))
      norm += vectors[i]!.reduce((s, x) => s + x * x, 0)
    }
    expect(err / norm).toBeLessThan(0.02)
  })

  it('recall@10 with rescoring is close to float32 on a clustered fixture', () => {
    const dim = 32
    const index = store(clustered(4000, dim, 4), dim, 'l2')
    const pq = new ProductQuantizer({ product: { compression: 'x8' } }, dim, 'l2')
    const t0 = performance.now()
    pq.train(index.coreExports, index.size)
    const trainMs = performance.now() - t0
    expect(trainMs).toBeLessThan(20_000)
    let rescored = 0
    let codesOnly = 0
    const queries = clustered(40, dim, 5)
    for (const q of queries) {
      const truth = index.searchExact(q, 10).offsets
      rescored += recall(
        index.searchExact(q, 10, undefined, { rescore: true, candidates: 40 }).offsets,
        truth,
      )
      codesOnly += recall(
        index.searchExact(q, 10, undefined, { rescore: false, candidates: 10 }).offsets,
        truth,
      )
    }
    expect(rescored / queries.length).toBeGreaterThanOrEqual(0.95)
    expect(rescored).toBeGreaterThan(codesOnly)
  })

  it('codes follow later adds (encoded by the core on insert)', () => {
    const dim = 12
    const vectors = clustered(2600, dim, 6)
    const index = store(vectors.slice(0, 2100), dim, 'l2')
    const pq = new ProductQuantizer({ product: { compression: 'x8' } }, dim, 'l2')
    pq.train(index.coreExports, index.size)
    for (const v of vectors.slice(2100)) index.add(v)
    const q = vectors[2500]!
    const hits = index.searchExact(q, 1, undefined, { rescore: true, candidates: 20 })
    expect(hits.offsets[0]).toBe(2500)
    const err = metricDistance('l2', q, pq.reconstruct(index.coreExports, 2500))
    expect(err).toBeLessThan(metricDistance('l2', q, pq.reconstruct(index.coreExports, 0)) + 1e-9)
  })

  it('serialize / restore gives identical codes and results', () => {
    const dim = 20
    const vectors = clustered(2200, dim, 7)
    const a = store(vectors, dim, 'cosine')
    const pq = new ProductQuantizer(X16, dim, 'cosine')
    pq.train(a.coreExports, a.size)
    const bytes = pq.serialize(a.coreExports, a.size)
    const b = store(vectors, dim, 'cosine')
    const restored = ProductQuantizer.restore(b.coreExports, X16, dim, 'cosine', bytes, b.size)
    expect(restored.trained).toBe(true)
    expect(Array.from(restored.serialize(b.coreExports, b.size))).toEqual(Array.from(bytes))
    for (const q of clustered(5, dim, 8)) {
      const codes = { rescore: false, candidates: 10 }
      expect(b.searchExact(q, 10, undefined, codes)).toEqual(a.searchExact(q, 10, undefined, codes))
    }
  })

  it('restore throws CORRUPTED on bad buffers', () => {
    const dim = 8
    const vectors = clustered(2100, dim, 9)
    const a = store(vectors, dim, 'l2')
    const pq = new ProductQuantizer(X16, dim, 'l2')
    pq.train(a.coreExports, a.size)
    const good = pq.serialize(a.coreExports, a.size)
    const b = store(vectors, dim, 'l2')
    const attempt =
      (bytes: Uint8Array, config = X16, count = b.size) =>
      () =>
        ProductQuantizer.restore(b.coreExports, config, dim, 'l2', bytes, count)
    const corrupted = expect.objectContaining({ code: 'CORRUPTED' })
    expect(attempt(good.slice(0, 10))).toThrow(corrupted)
    expect(attempt(good.slice(0, good.length - 1))).toThrow(corrupted)
    const badMagic = good.slice()
    badMagic[0] = badMagic[0]! ^ 0xff
    expect(attempt(badMagic)).toThrow(corrupted)
    expect(attempt(good, { product: { compression: 'x4' } })).toThrow(corrupted)
    expect(attempt(good, X16, b.size - 1)).toThrow(corrupted)
    const nan = good.slice()
    new DataView(nan.buffer).setFloat32(32, Number.NaN, true)
    expect(attempt(nan)).toThrow(corrupted)
    // unaligned input is accepted
    const shifted = new Uint8Array(good.length + 1)
    shifted.set(good, 1)
    expect(() =>
      ProductQuantizer.restore(b.coreExports, X16, dim, 'l2', shifted.subarray(1), b.size),
    ).not.toThrow()
  })
})
