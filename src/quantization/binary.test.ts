import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { realDatasets } from '../../test/support/datasets.js'
import { buildIndex, clustered, randomVectors, recall } from '../../test/support/vectors.js'
import type { QuiverError } from '../errors.js'
import { HnswIndex, type IndexMetric } from '../index/hnsw.js'
import { type BinaryCoreExports, BinaryQuantizer } from './binary.js'
import type { QuantizationConfig } from './quantizer.js'

const CONFIG: QuantizationConfig = { binary: {} }
const METRICS: readonly IndexMetric[] = ['cosine', 'dot', 'l2', 'l1']
const CODES_ONLY = { rescore: false, candidates: 0 }

function popcount(x: number): number {
  let n = 0
  for (let v = x >>> 0; v !== 0; v &= v - 1) n++
  return n
}

function errorCode(f: () => unknown): string {
  try {
    f()
  } catch (err) {
    return (err as QuiverError).code
  }
  return 'none'
}

describe('BinaryQuantizer kernels', () => {
  for (const metric of METRICS) {
    for (const dim of [1, 3, 17, 100, 129]) {
      it(`${metric}, dim ${dim}: bits are x > t and distances follow the hamming distance`, () => {
        const n = 60
        // shifted data: l2/l1 thresholds (the mean) must differ from zero
        const vectors = randomVectors(n, dim, dim * 17 + 3, 0.5)
        const index = buildIndex(metric, vectors, dim)
        const q = new BinaryQuantizer(CONFIG, dim, metric)
        q.train(index.coreExports, index.size)
        expect(q.trained).toBe(true)
        const core = index.coreExports as BinaryCoreExports
        const words = (dim + 63) >>> 6
        expect(core.bqWords()).toBe(words)
        expect(q.bytesPerVector).toBe(words * 8)
        const { thresholds, scale } = q.parameters!
        if (metric === 'l2' || metric === 'l1') {
          const mean = (i: number) => vectors.reduce((s, v) => s + v[i]!, 0) / n
          for (let i = 0; i < dim; i++) expect(thresholds[i]).toBeCloseTo(mean(i), 4)
        } else expect(thresholds.every((t) => t === 0)).toBe(true)
        const bits = (ptr: number) => new Uint32Array(core.memory.buffer, ptr, words * 2).slice()
        for (let node = 0; node < n; node++) {
          const v = index.vector(node)
          const code = bits(core.bqCodesPtr() + node * words * 8)
          for (let i = 0; i < words * 64; i++) {
            const bit = (code[i >>> 5]! >>> (i & 31)) & 1
            expect(bit).toBe(i < dim && v[i]! > thresholds[i]! ? 1 : 0)
          }
        }
        const query = randomVectors(1, dim, 77, 0.5)[0]!
        const hits = index.searchExact(query, n, undefined, CODES_ONLY)
        expect(hits.offsets.length).toBe(n)
        const qcode = bits(core.bqQueryPtr())
        for (let j = 0; j < n; j++) {
          const code = bits(core.bqCodesPtr() + hits.offsets[j]! * words * 8)
          let h = 0
          for (let w = 0; w < code.length; w++) h += popcount(code[w]! ^ qcode[w]!)
          const s = scale
          const want =
            metric === 'l2' ? 4 * s * s * h : metric === 'l1' ? 2 * s * h : -(s * s) * (dim - 2 * h)
          expect(hits.distances[j]).toBeCloseTo(want, 4)
        }
      })
    }
  }

  it('rejects encodings other than one_bit', () => {
    expect(
      errorCode(() => new BinaryQuantizer({ binary: { encoding: 'two_bits' as 'one_bit' } }, 8, 'l2')),
    ).toBe('INVALID_CONFIG')
    expect(errorCode(() => new BinaryQuantizer({ scalar: { type: 'int8' } }, 8, 'l2'))).toBe('INVALID_CONFIG')
    expect(new BinaryQuantizer({ binary: { encoding: 'one_bit' } }, 8, 'l2').minTrainingVectors).toBe(1)
  })
})

describe('BinaryQuantizer search', () => {
  it('cosine 256-d: oversampling + rescoring brings recall@10 close to float32', () => {
    const dim = 256
    const data = clustered(2100, dim, 24, 21)
    const base = data.slice(0, 2000)
    const queries = data.slice(2000)
    const index = buildIndex('cosine', base, dim)
    const truth = queries.map((q) => index.searchExact(q, 10).offsets)
    const nq = queries.length
    const mean = (f: (q: Float32Array, i: number) => number) =>
      queries.reduce((s, q, i) => s + f(q, i), 0) / nq
    const ef = 100
    for (const q of queries) index.search(q, 10, ef)
    let t = performance.now()
    const floatRecall = mean((q, i) => recall(index.search(q, 10, ef).offsets, truth[i]!))
    const floatMs = (performance.now() - t) / nq
    new BinaryQuantizer(CONFIG, dim, 'cosine').train(index.coreExports, index.size)
    const codesOnly = mean((q, i) =>
      recall(index.search(q, 10, ef, undefined, CODES_ONLY).offsets, truth[i]!),
    )
    const lines: string[] = []
    const results = new Map<number, number>()
    for (const candidates of [40, 100]) {
      for (const q of queries) index.search(q, 10, ef, undefined, { rescore: true, candidates })
      t = performance.now()
      const r = mean((q, i) =>
        recall(index.search(q, 10, ef, undefined, { rescore: true, candidates }).offsets, truth[i]!),
      )
      lines.push(`rescore(${candidates}) ${r.toFixed(3)} (${((performance.now() - t) / nq).toFixed(3)} ms/q)`)
      results.set(candidates, r)
    }
    const flat = mean((q, i) =>
      recall(index.searchExact(q, 10, undefined, { rescore: true, candidates: 100 }).offsets, truth[i]!),
    )
    console.log(
      `binary cosine 2000x${dim} ef ${ef}: float32 ${floatRecall.toFixed(3)} (${floatMs.toFixed(3)} ms/q), codes only ${codesOnly.toFixed(3)}, ${lines.join(', ')}, flat codes+rescore(100) ${flat.toFixed(3)}`,
    )
    expect(results.get(100)!).toBeGreaterThanOrEqual(floatRecall - 0.02)
    expect(flat).toBeGreaterThanOrEqual(0.98)
    expect(codesOnly).toBeGreaterThan(0.3)
  })

  it('l2 on uncentred data: mean thresholds keep the codes informative', () => {
    const dim = 128
    const data = clustered(1100, dim, 16, 31).map((v) => v.map((x) => x + 10))
    const index = buildIndex('l2', data.slice(0, 1000), dim)
    const queries = data.slice(1000)
    const truth = queries.map((q) => index.searchExact(q, 10).offsets)
    new BinaryQuantizer(CONFIG, dim, 'l2').train(index.coreExports, index.size)
    const r =
      queries.reduce(
        (s, q, i) =>
          s +
          recall(index.searchExact(q, 10, undefined, { rescore: true, candidates: 50 }).offsets, truth[i]!),
        0,
      ) / queries.length
    expect(r).toBeGreaterThanOrEqual(0.95)
  })

  it('encodes vectors added after training (the core encodes on add)', () => {
    const dim = 96
    const index = buildIndex('cosine', randomVectors(1, dim, 41), dim)
    const q = new BinaryQuantizer(CONFIG, dim, 'cosine')
    q.train(index.coreExports, 1)
    expect(q.trained).toBe(true)
    const extra = randomVectors(300, dim, 42)
    for (const v of extra) index.add(v)
    const core = index.coreExports as BinaryCoreExports
    for (let i = 0; i < extra.length; i += 7) {
      const node = 1 + i
      const code = new Uint32Array(core.memory.buffer, core.bqCodesPtr() + node * 16, 4)
      for (let d = 0; d < dim; d++) expect((code[d >>> 5]! >>> (d & 31)) & 1).toBe(extra[i]![d]! > 0 ? 1 : 0)
      const hit = index.search(extra[i]!, 1, 50, undefined, { rescore: true, candidates: 20 })
      expect(hit.offsets[0]).toBe(node)
    }
  })

  it('does nothing with no vectors: searches with codes stay float32', () => {
    const dim = 16
    const index = buildIndex('l2', [], dim)
    const q = new BinaryQuantizer(CONFIG, dim, 'l2')
    q.train(index.coreExports, 0)
    expect(q.trained).toBe(false)
    for (const v of randomVectors(50, dim, 3)) index.add(v)
    const query = randomVectors(1, dim, 4)[0]!
    const exact = index.searchExact(query, 5)
    const coded = index.searchExact(query, 5, undefined, CODES_ONLY)
    expect(Array.from(coded.distances)).toEqual(Array.from(exact.distances))
  })

  it('serialize -> restore into a fresh core gives identical code distances and results', () => {
    const dim = 130
    const metric = 'l1'
    const vectors = clustered(600, dim, 8, 51)
    const index = buildIndex(metric, vectors.slice(0, 500), dim)
    const quantizer = new BinaryQuantizer(CONFIG, dim, metric)
    quantizer.train(index.coreExports, index.size)
    const bytes = quantizer.serialize(index.coreExports, index.size)
    expect(bytes.byteLength).toBe(48 + dim * 4 + 500 * quantizer.bytesPerVector)
    const params = { dimension: dim, metric, m: 16, efConstruct: 100, seed: 7 } as const
    const graph = index.serialize()
    const copy = HnswIndex.restore(params, graph)
    const restored = BinaryQuantizer.restore(copy.coreExports, CONFIG, dim, metric, bytes, copy.size)
    expect(restored.parameters).toEqual(quantizer.parameters)
    // vectors added after the snapshot are encoded the same way on both sides
    for (const v of vectors.slice(500)) {
      index.add(v)
      copy.add(v)
    }
    for (const q of vectors.slice(0, 600).filter((_, i) => i % 30 === 0)) {
      const a = index.searchExact(q, 40, undefined, CODES_ONLY)
      const b = copy.searchExact(q, 40, undefined, CODES_ONLY)
      expect(Array.from(b.offsets)).toEqual(Array.from(a.offsets))
      expect(Array.from(b.distances)).toEqual(Array.from(a.distances))
      const ha = index.search(q, 10, 40, undefined, { rescore: true, candidates: 30 })
      const hb = copy.search(q, 10, 40, undefined, { rescore: true, candidates: 30 })
      expect(Array.from(hb.offsets)).toEqual(Array.from(ha.offsets))
    }
    const fresh = () => HnswIndex.restore(params, graph).coreExports
    const restore =
      (b: Uint8Array, count = 500) =>
      () =>
        BinaryQuantizer.restore(fresh(), CONFIG, dim, metric, b, count)
    expect(errorCode(restore(bytes.subarray(0, bytes.length - 8)))).toBe('CORRUPTED')
    expect(errorCode(restore(bytes.subarray(0, 10)))).toBe('CORRUPTED')
    const wrongMagic = bytes.slice()
    wrongMagic[1] = 0
    expect(errorCode(restore(wrongMagic))).toBe('CORRUPTED')
    expect(errorCode(restore(bytes, 499))).toBe('CORRUPTED')
    expect(errorCode(() => BinaryQuantizer.restore(fresh(), CONFIG, dim, 'l2', bytes, 500))).toBe('CORRUPTED')
  })
})

const REAL = realDatasets('binary quantizer', ['bge-m3-1024-tiny-cosine'])
describe.skipIf(!REAL.present('bge-m3-1024-tiny-cosine'))(
  'BinaryQuantizer on BGE-M3 1024-d (826 points)',
  () => {
    it('reaches high recall@10 with oversampling and rescoring', () => {
      const dim = 1024
      const BGE = REAL.path('bge-m3-1024-tiny-cosine')
      const base = readFileSync(`${BGE}.base.f32`)
      const qbuf = readFileSync(`${BGE}.query.f32`)
      const n = base.byteLength / 4 / dim
      const rows = (b: Buffer, k: number) =>
        Array.from({ length: k }, (_, i) => new Float32Array(b.buffer, b.byteOffset + i * dim * 4, dim))
      const index = buildIndex('cosine', rows(base, n), dim)
      const queries = rows(qbuf, qbuf.byteLength / 4 / dim)
      const truth = queries.map((q) => index.searchExact(q, 10).offsets)
      new BinaryQuantizer(CONFIG, dim, 'cosine').train(index.coreExports, n)
      const mean = (f: (q: Float32Array, i: number) => number) =>
        queries.reduce((s, q, i) => s + f(q, i), 0) / queries.length
      const codesOnly = mean((q, i) =>
        recall(index.search(q, 10, 100, undefined, CODES_ONLY).offsets, truth[i]!),
      )
      const rescored = mean((q, i) =>
        recall(index.search(q, 10, 100, undefined, { rescore: true, candidates: 40 }).offsets, truth[i]!),
      )
      console.log(
        `binary bge-m3 ${n}x${dim}: codes only ${codesOnly.toFixed(3)}, rescore(40) ${rescored.toFixed(3)}`,
      )
      expect(rescored).toBeGreaterThanOrEqual(0.95)
    })
  },
)
