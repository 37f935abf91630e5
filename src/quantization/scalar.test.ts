import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { realDatasets } from '../../test/support/datasets.js'
import { buildIndex, clustered, randomVectors, recall } from '../../test/support/vectors.js'
import { QuiverError } from '../errors.js'
import { HnswIndex, type IndexMetric } from '../index/hnsw.js'
import type { QuantizationConfig } from './quantizer.js'
import { quantileRange, type ScalarCoreExports, ScalarQuantizer, sampleRows, scalarStride } from './scalar.js'

const CONFIG: QuantizationConfig = { scalar: { type: 'int8' } }
const METRICS: readonly IndexMetric[] = ['cosine', 'dot', 'l2', 'l1']
const CODES_ONLY = { rescore: false, candidates: 0 }

/** Reference code distance from the stored code of `node` and the prepared query code, in float64. */
function referenceDistance(
  core: ScalarCoreExports,
  metric: IndexMetric,
  dim: number,
  lo: number,
  hi: number,
  node: number,
): number {
  const a = Math.fround((hi - lo) / 255)
  const stride = core.sqStride()
  const codes = new Uint8Array(core.memory.buffer, core.sqCodesPtr() + node * stride, dim)
  const qp = core.sqQueryPtr() + 16
  const query =
    metric === 'l1'
      ? Array.from(new Uint8Array(core.memory.buffer, qp, dim))
      : Array.from(new Int16Array(core.memory.buffer, qp, dim))
  let s = 0
  if (metric === 'l2') {
    for (let i = 0; i < dim; i++) s += (codes[i]! - query[i]!) ** 2
    return a * a * s
  }
  if (metric === 'l1') {
    for (let i = 0; i < dim; i++) s += Math.abs(codes[i]! - query[i]!)
    return a * s
  }
  let sx = 0
  let sy = 0
  for (let i = 0; i < dim; i++) {
    s += codes[i]! * query[i]!
    sx += codes[i]!
    sy += query[i]!
  }
  return -(a * a * s + a * lo * (sx + sy) + dim * lo * lo)
}

describe('ScalarQuantizer kernels', () => {
  for (const metric of METRICS) {
    for (const dim of [1, 3, 17, 100, 129]) {
      it(`${metric}, dim ${dim}: code distances equal the reference on the same codes`, () => {
        const n = 150
        const vectors = randomVectors(n, dim, dim * 31 + 1)
        // a few outliers so that clamping at both ends is exercised
        vectors[0]!.fill(40)
        vectors[1]!.fill(-40)
        const index = buildIndex(metric, vectors, dim)
        const q = new ScalarQuantizer({ scalar: { type: 'int8', quantile: 0.95 } }, dim, metric)
        q.train(index.coreExports, index.size)
        expect(q.trained).toBe(true)
        const core = index.coreExports as ScalarCoreExports
        expect(core.sqStride()).toBe(scalarStride(dim, metric))
        const [lo, hi] = q.range!
        const a = (hi - lo) / 255
        // stored codes decode to within half a step of the stored values (clamped to the range)
        for (let node = 0; node < n; node++) {
          const v = index.vector(node)
          const codes = new Uint8Array(core.memory.buffer, core.sqCodesPtr() + node * core.sqStride(), dim)
          for (let i = 0; i < dim; i++) {
            const x = Math.min(Math.max(v[i]!, lo), hi)
            expect(Math.abs(a * codes[i]! + lo - x)).toBeLessThanOrEqual(a * 0.5001 + 1e-6)
          }
        }
        const query = randomVectors(1, dim, 99)[0]!
        const hits = index.searchExact(query, n, undefined, CODES_ONLY)
        expect(hits.offsets.length).toBe(n)
        const scale =
          metric === 'l1'
            ? a * dim * 255
            : metric === 'l2'
              ? a * a * dim * 255 * 255
              : Math.max(1, dim * lo * lo)
        for (let j = 0; j < n; j++) {
          const ref = referenceDistance(core, metric, dim, lo, hi, hits.offsets[j]!)
          expect(Math.abs(hits.distances[j]! - ref)).toBeLessThanOrEqual(1e-5 * scale + 1e-4 * Math.abs(ref))
        }
        // the prepared query is the same quantization of the (normalised) query
        const norm = metric === 'cosine' ? Math.hypot(...query) : 1
        const qc =
          metric === 'l1'
            ? new Uint8Array(core.memory.buffer, core.sqQueryPtr() + 16, dim)
            : new Int16Array(core.memory.buffer, core.sqQueryPtr() + 16, dim)
        for (let i = 0; i < dim; i++) {
          const x = Math.min(Math.max(query[i]! / norm, lo), hi)
          expect(Math.abs(a * qc[i]! + lo - x)).toBeLessThanOrEqual(a * 0.5001 + 1e-6)
        }
      })
    }
  }

  it('code distances approximate the float32 metric on its scale', () => {
    const dim = 64
    const vectors = randomVectors(300, dim, 5)
    for (const metric of METRICS) {
      const index = buildIndex(metric, vectors, dim)
      new ScalarQuantizer({ scalar: { type: 'int8', quantile: 1 } }, dim, metric).train(
        index.coreExports,
        index.size,
      )
      const query = randomVectors(1, dim, 6)[0]!
      const exact = index.searchExact(query, 300)
      const byCode = new Map<number, number>()
      const coded = index.searchExact(query, 300, undefined, CODES_ONLY)
      for (let j = 0; j < coded.offsets.length; j++) byCode.set(coded.offsets[j]!, coded.distances[j]!)
      let worst = 0
      let span = 0
      exact.offsets.forEach((o, j) => {
        worst = Math.max(worst, Math.abs(byCode.get(o)! - exact.distances[j]!))
        span = Math.max(span, Math.abs(exact.distances[j]!))
      })
      expect(worst / span, metric).toBeLessThan(0.05)
    }
  })
})

describe('ScalarQuantizer range', () => {
  it('takes the central quantile of the values, min..max for quantile 1', () => {
    const values = Float32Array.from({ length: 1000 }, (_, i) => i)
    expect(quantileRange(values, 1)).toEqual([0, 999])
    expect(quantileRange(values, 0.99)).toEqual([5, 994])
    expect(quantileRange(values, 0.9)).toEqual([50, 949])
    const [lo, hi] = quantileRange(new Float32Array(10).fill(3), 0.99)
    expect(lo).toBe(3)
    expect(hi).toBeGreaterThan(3)
  })

  it('samples at most 2^20 values, deterministically', () => {
    const a = sampleRows(100_000, 100)
    expect(a.length).toBe(10_485)
    expect(Array.from(sampleRows(100_000, 100))).toEqual(Array.from(a))
    expect(a.every((v, i) => i === 0 || v > a[i - 1]!)).toBe(true)
    expect(sampleRows(50, 100).length).toBe(50)
  })

  it('defaults the quantile to 1 (the whole range, as Qdrant) and rejects bad configs', () => {
    expect(new ScalarQuantizer(CONFIG, 8, 'l2').quantile).toBe(1)
    expect(new ScalarQuantizer({ scalar: { type: 'int8', quantile: null } }, 8, 'l2').quantile).toBe(1)
    expect(new ScalarQuantizer({ scalar: { type: 'int8', quantile: 0.99 } }, 8, 'l2').quantile).toBe(0.99)
    const bad = (f: () => unknown) => {
      try {
        f()
      } catch (err) {
        return (err as QuiverError).code
      }
      return 'none'
    }
    expect(bad(() => new ScalarQuantizer({ scalar: { type: 'int8', quantile: 0.3 } }, 8, 'l2'))).toBe(
      'INVALID_CONFIG',
    )
    expect(bad(() => new ScalarQuantizer({ binary: {} }, 8, 'l2'))).toBe('INVALID_CONFIG')
    expect(bad(() => new ScalarQuantizer(CONFIG, 0, 'l2'))).toBe('INVALID_CONFIG')
  })
})

describe('ScalarQuantizer search', () => {
  const dim = 64
  const data = clustered(2100, dim, 24, 11)
  const base = data.slice(0, 2000)
  const queries = data.slice(2000)

  for (const metric of ['cosine', 'l2'] as const) {
    it(`${metric}: rescored recall@10 within 0.01 of float32 HNSW`, () => {
      const index = buildIndex(metric, base, dim)
      const truth = queries.map((q) => index.searchExact(q, 10).offsets)
      const ef = 20
      const floatRecall = queries.reduce(
        (s, q, i) => s + recall(index.search(q, 10, ef).offsets, truth[i]!),
        0,
      )
      const quantizer = new ScalarQuantizer(CONFIG, dim, metric)
      quantizer.train(index.coreExports, index.size)
      let rescored = 0
      let codesOnly = 0
      let t = performance.now()
      for (let i = 0; i < queries.length; i++) {
        rescored += recall(
          index.search(queries[i]!, 10, ef, undefined, { rescore: true, candidates: 40 }).offsets,
          truth[i]!,
        )
      }
      const rescoreMs = (performance.now() - t) / queries.length
      t = performance.now()
      for (let i = 0; i < queries.length; i++) {
        codesOnly += recall(index.search(queries[i]!, 10, ef, undefined, CODES_ONLY).offsets, truth[i]!)
      }
      const codesMs = (performance.now() - t) / queries.length
      const nq = queries.length
      console.log(
        `scalar ${metric} 2000x${dim}: recall@10 float32 ${(floatRecall / nq).toFixed(3)}, codes+rescore(40) ${(rescored / nq).toFixed(3)} (${rescoreMs.toFixed(3)} ms/q), codes only ${(codesOnly / nq).toFixed(3)} (${codesMs.toFixed(3)} ms/q)`,
      )
      expect(rescored / nq).toBeGreaterThanOrEqual(floatRecall / nq - 0.01)
      expect(codesOnly / nq).toBeGreaterThanOrEqual(0.9)
    })
  }

  it('encodes vectors added after training (the core encodes on add)', () => {
    const index = buildIndex('l2', base.slice(0, 500), dim)
    const quantizer = new ScalarQuantizer(CONFIG, dim, 'l2')
    quantizer.train(index.coreExports, index.size)
    const extra = clustered(200, dim, 24, 12)
    for (const v of extra) index.add(v)
    for (let i = 0; i < extra.length; i += 10) {
      const flat = index.searchExact(extra[i]!, 1, undefined, CODES_ONLY)
      expect(flat.offsets[0]).toBe(500 + i)
      expect(flat.distances[0]).toBe(0)
      expect(index.search(extra[i]!, 1, 40, undefined, { rescore: true, candidates: 10 }).offsets[0]).toBe(
        500 + i,
      )
    }
  })

  it('does nothing below minTrainingVectors: searches with codes stay float32', () => {
    const index = buildIndex('l2', base.slice(0, 100), dim)
    const quantizer = new ScalarQuantizer(CONFIG, dim, 'l2')
    expect(quantizer.minTrainingVectors).toBeGreaterThan(100)
    quantizer.train(index.coreExports, index.size)
    expect(quantizer.trained).toBe(false)
    expect(quantizer.range).toBeUndefined()
    const exact = index.searchExact(queries[0]!, 10)
    const coded = index.searchExact(queries[0]!, 10, undefined, CODES_ONLY)
    expect(Array.from(coded.offsets)).toEqual(Array.from(exact.offsets))
    expect(Array.from(coded.distances)).toEqual(Array.from(exact.distances))
    expect(() => quantizer.serialize(index.coreExports, index.size)).toThrow(QuiverError)
  })

  it('serialize -> restore into a fresh core gives identical code distances and results', () => {
    const metric = 'cosine'
    const index = buildIndex(metric, base.slice(0, 800), dim)
    const quantizer = new ScalarQuantizer(CONFIG, dim, metric)
    quantizer.train(index.coreExports, index.size)
    const bytes = quantizer.serialize(index.coreExports, index.size)
    expect(bytes.byteLength).toBe(48 + 800 * quantizer.bytesPerVector)
    const params = { dimension: dim, metric, m: 16, efConstruct: 100, seed: 7 } as const
    const copy = HnswIndex.restore(params, index.serialize())
    const restored = ScalarQuantizer.restore(copy.coreExports, CONFIG, dim, metric, bytes, copy.size)
    expect(restored.trained).toBe(true)
    expect(restored.range).toEqual(quantizer.range)
    for (const q of queries.slice(0, 20)) {
      const a = index.searchExact(q, 50, undefined, CODES_ONLY)
      const b = copy.searchExact(q, 50, undefined, CODES_ONLY)
      expect(Array.from(b.offsets)).toEqual(Array.from(a.offsets))
      expect(Array.from(b.distances)).toEqual(Array.from(a.distances))
      const ha = index.search(q, 10, 40, undefined, CODES_ONLY)
      const hb = copy.search(q, 10, 40, undefined, CODES_ONLY)
      expect(Array.from(hb.offsets)).toEqual(Array.from(ha.offsets))
      expect(Array.from(hb.distances)).toEqual(Array.from(ha.distances))
    }

    const code = (f: () => unknown) => {
      try {
        f()
      } catch (err) {
        return (err as QuiverError).code
      }
      return 'none'
    }
    const fresh = () => HnswIndex.restore(params, index.serialize()).coreExports
    expect(
      code(() =>
        ScalarQuantizer.restore(fresh(), CONFIG, dim, metric, bytes.subarray(0, bytes.length - 1), 800),
      ),
    ).toBe('CORRUPTED')
    expect(
      code(() => ScalarQuantizer.restore(fresh(), CONFIG, dim, metric, bytes.subarray(0, 20), 800)),
    ).toBe('CORRUPTED')
    const wrongMagic = bytes.slice()
    wrongMagic[0] = 0
    expect(code(() => ScalarQuantizer.restore(fresh(), CONFIG, dim, metric, wrongMagic, 800))).toBe(
      'CORRUPTED',
    )
    expect(code(() => ScalarQuantizer.restore(fresh(), CONFIG, dim, 'l2', bytes, 800))).toBe('CORRUPTED')
    expect(code(() => ScalarQuantizer.restore(fresh(), CONFIG, dim, metric, bytes, 799))).toBe('CORRUPTED')
  })
})

const REAL = realDatasets('scalar quantizer', ['glove-100-cosine'])
describe.skipIf(!REAL.present('glove-100-cosine'))('ScalarQuantizer on GloVe-100 (first 10k points)', () => {
  it('keeps recall@10 with rescoring', () => {
    const dim = 100
    const n = 10_000
    const raw = readFileSync(`${REAL.path('glove-100-cosine')}.base.f32`)
    const all = new Float32Array(raw.buffer, raw.byteOffset, (n + 100) * dim)
    const rows = Array.from({ length: n + 100 }, (_, i) => all.subarray(i * dim, (i + 1) * dim))
    const index = buildIndex('cosine', rows.slice(0, n), dim)
    const queries = rows.slice(n)
    const truth = queries.map((q) => index.searchExact(q, 10).offsets)
    const floatRecall =
      queries.reduce((s, q, i) => s + recall(index.search(q, 10, 64).offsets, truth[i]!), 0) / 100
    new ScalarQuantizer(CONFIG, dim, 'cosine').train(index.coreExports, n)
    const rescored =
      queries.reduce(
        (s, q, i) =>
          s +
          recall(index.search(q, 10, 64, undefined, { rescore: true, candidates: 40 }).offsets, truth[i]!),
        0,
      ) / 100
    const codesOnly =
      queries.reduce(
        (s, q, i) => s + recall(index.search(q, 10, 64, undefined, CODES_ONLY).offsets, truth[i]!),
        0,
      ) / 100
    console.log(
      `scalar glove 10k: float32 ${floatRecall.toFixed(3)}, rescored ${rescored.toFixed(3)}, codes only ${codesOnly.toFixed(3)}`,
    )
    expect(rescored).toBeGreaterThanOrEqual(floatRecall - 0.02)
  })
})
