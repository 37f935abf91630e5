// Quantized collections end to end on real files: recall with rescoring close to float32, the
// quantizer kept across a reopen (restored, not retrained), `exact` and `ignore` searching float32,
// untrained small collections, and vacuum / merge output segments trained like the originals.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import { createQuantizer } from '../src/quantization/index.js'
import { indexMetric } from '../src/segment/segment.js'
import type { CreateCollectionOptions, Distance, QuantizationConfig, ScoredPoint } from '../src/types.js'
import { normal, rng } from './support/random.js'

const DIM = 32
const K = 10

function gaussian(r: () => number): () => number {
  return () => normal(r)
}

const CENTRES = (() => {
  const gauss = gaussian(rng(1000))
  return Array.from({ length: 24 }, () => Array.from({ length: DIM }, () => gauss()))
})()

/** `n` points drawn from `seed` around 24 fixed centres (clustered, like real embeddings). */
function clustered(n: number, seed: number): number[][] {
  const r = rng(seed)
  const gauss = gaussian(r)
  const centres = CENTRES
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(r() * centres.length)]!
    return c.map((x) => x + 0.35 * gauss())
  })
}

function quantizerFacts(config: QuantizationConfig, metric: Distance) {
  const q = createQuantizer(config, DIM, indexMetric(metric))
  return { minTraining: q.minTrainingVectors, bytesPerVector: q.bytesPerVector }
}

function ids(hits: readonly ScoredPoint[]): (number | string)[] {
  return hits.map((h) => h.id)
}

function overlap(a: readonly ScoredPoint[], b: readonly ScoredPoint[]): number {
  const want = new Set(ids(b))
  return a.filter((h) => want.has(h.id)).length
}

const SCALAR: QuantizationConfig = { scalar: { type: 'int8', quantile: 0.99 } }

/**
 * Each quantizer with the oversampling that gives it near-float32 recall on this data (synthetic
 * clusters: within a cluster distances are nearly equal, so codes need more candidates than on real
 * embeddings; binary codes of 32 dimensions need the most).
 */
const CASES: { name: string; config: QuantizationConfig; oversampling: number; metric: Distance }[] = [
  { name: 'scalar int8 (Euclid)', config: SCALAR, oversampling: 4, metric: 'Euclid' },
  { name: 'scalar int8 (Cosine)', config: { scalar: { type: 'int8' } }, oversampling: 4, metric: 'Cosine' },
  { name: 'binary (Cosine)', config: { binary: {} }, oversampling: 16, metric: 'Cosine' },
  {
    name: 'product x8 (Euclid)',
    config: { product: { compression: 'x8' } },
    oversampling: 4,
    metric: 'Euclid',
  },
]

describe('quantized collections', () => {
  let dir: string
  let db: Quiver

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-quant-'))
    db = await Quiver.open(dir)
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function build(
    name: string,
    vectors: readonly number[][],
    options: Partial<CreateCollectionOptions>,
  ): Promise<HostedCollection> {
    const c = await db.createCollection(name, { dimension: DIM, metric: 'Euclid', ...options })
    // batches below 256 points are linked one by one on this thread (larger ones in parallel on the
    // core pool, where the graph depends on timing): equal data gives equal graphs
    for (let start = 0; start < vectors.length; start += 200) {
      const batch = vectors.slice(start, start + 200).map((vector, i) => ({ id: start + i, vector }))
      await c.upsert(batch)
    }
    return c
  }

  /** Files of every segment directory the collection has on disk. */
  async function segmentFiles(name: string): Promise<string[][]> {
    const segs = join(dir, 'collections', name, 'segments')
    const out: string[][] = []
    for (const s of await readdir(segs)) out.push((await readdir(join(segs, s))).sort())
    return out
  }

  for (const { name, config, oversampling, metric } of CASES) {
    it(`${name}: trains, and with rescoring finds nearly what float32 finds`, async () => {
      const facts = quantizerFacts(config, metric)
      const n = Math.max(3000, facts.minTraining)
      const data = clustered(n, 7)
      const queries = clustered(60, 8)
      const c = await build('q', data, { metric, quantization: config })
      expect(c.config.vectors.get('')!.quantization).toEqual(config)
      expect(c.stats().quantizationBytes).toBe(facts.bytesPerVector * n)
      let recall = 0
      let recallFloat = 0
      let recallCodesOnly = 0
      for (const q of queries) {
        const truth = await c.search(q, { limit: K, exact: true })
        const hits = await c.search(q, { limit: K, ef: 128, quantization: { oversampling } })
        recall += overlap(hits, truth) / K
        const float = await c.search(q, { limit: K, ef: 128, quantization: { ignore: true } })
        recallFloat += overlap(float, truth) / K
        const codesOnly = await c.search(q, { limit: K, ef: 128, quantization: { rescore: false } })
        recallCodesOnly += overlap(codesOnly, truth) / K
      }
      recall /= queries.length
      recallFloat /= queries.length
      recallCodesOnly /= queries.length
      expect(recall).toBeGreaterThanOrEqual(recallFloat - 0.05)
      expect(recall).toBeGreaterThan(recallCodesOnly)
    })
  }

  it('exact: true and ignore: true search the float32 vectors; codes give approximate scores', async () => {
    const data = clustered(3000, 11)
    const queries = clustered(20, 12)
    const c = await build('q', data, { quantization: SCALAR })
    const plain = await build('plain', data, {})
    expect(c.stats().quantizationBytes).toBeGreaterThan(0)
    let differing = 0
    for (const q of queries) {
      const truth = await plain.search(q, { limit: K, exact: true })
      // exact ignores codes even when asked not to rescore
      expect(await c.search(q, { limit: K, exact: true, quantization: { rescore: false } })).toEqual(truth)
      // same data, same seed, same insert order: the same graph; ignore = the unquantized search
      expect(await c.search(q, { limit: K, ef: 40, quantization: { ignore: true } })).toEqual(
        await plain.search(q, { limit: K, ef: 40 }),
      )
      const codes = await c.search(q, { limit: K, ef: 40, quantization: { rescore: false } })
      const byId = new Map(truth.map((h) => [h.id, h.score]))
      for (const h of codes) {
        const exactScore = byId.get(h.id)
        if (exactScore !== undefined && Math.abs(exactScore - h.score) > 1e-4) differing++
      }
    }
    expect(differing).toBeGreaterThan(0)
  })

  it('rescored hits carry float32 scores', async () => {
    const data = clustered(2000, 21)
    const c = await build('q', data, { quantization: SCALAR })
    const plain = await build('plain', data, {})
    for (const q of clustered(10, 22)) {
      const truth = new Map((await plain.search(q, { limit: 50, exact: true })).map((h) => [h.id, h.score]))
      for (const h of await c.search(q, { limit: K, quantization: { rescore: true, oversampling: 2 } })) {
        const s = truth.get(h.id)
        if (s !== undefined) expect(h.score).toBeCloseTo(s, 4)
      }
    }
  })

  it('keeps the trained quantizer across a reopen: restored from quantization.bin, not retrained', async () => {
    const data = clustered(3000, 31)
    const queries = clustered(15, 32)
    const c = await build('q', data, { quantization: SCALAR })
    const before: ScoredPoint[][] = []
    for (const q of queries) before.push(await c.search(q, { limit: K, quantization: { rescore: false } }))
    const bytes = c.stats().quantizationBytes
    await db.close()
    const files = await segmentFiles('q')
    expect(files.some((f) => f.includes('quantization.bin'))).toBe(true)
    db = await Quiver.open(dir)
    const again = await db.getCollection('q')
    expect(again.config.vectors.get('')!.quantization).toEqual(SCALAR)
    expect(again.stats().quantizationBytes).toBe(bytes)
    for (let i = 0; i < queries.length; i++) {
      expect(await again.search(queries[i]!, { limit: K, quantization: { rescore: false } })).toEqual(
        before[i],
      )
    }
    // a write after the reopen is encoded with the restored parameters and found on codes
    await again.upsert([{ id: 'a5a5a5a5-0000-4000-8000-000000000001', vector: queries[0]! }])
    const [top] = await again.search(queries[0]!, { limit: 1, quantization: { rescore: false } })
    expect(top?.id).toBe('a5a5a5a5-0000-4000-8000-000000000001')
  })

  it('a snapshot carries the trained quantizer: the recovered collection answers on the same codes', async () => {
    const data = clustered(2000, 35)
    const queries = clustered(10, 36)
    const c = await build('q', data, { quantization: SCALAR })
    const snap = await db.createSnapshot('q')
    await db.recoverSnapshot('copy', await db.snapshotPath('q', snap.name))
    const copy = await db.getCollection('copy')
    expect(copy.config.vectors.get('')!.quantization).toEqual(SCALAR)
    expect(copy.stats().quantizationBytes).toBe(c.stats().quantizationBytes)
    for (const q of queries) {
      expect(await copy.search(q, { limit: K, quantization: { rescore: false } })).toEqual(
        await c.search(q, { limit: K, quantization: { rescore: false } }),
      )
    }
  })

  it('a collection below the training size searches float32 and writes no quantization.bin', async () => {
    const { minTraining } = quantizerFacts(SCALAR, 'Euclid')
    const n = Math.min(5, Math.max(1, minTraining - 1))
    const data = clustered(n, 41)
    const c = await build('small', data, { quantization: SCALAR })
    expect(c.stats().quantizationBytes).toBe(0)
    const hits = await c.search(data[0]!, { limit: 3 })
    expect(hits[0]).toMatchObject({ id: 0, score: 0 })
    await db.close()
    for (const files of await segmentFiles('small')) expect(files).not.toContain('quantization.bin')
    db = await Quiver.open(dir)
    const again = await db.getCollection('small')
    expect((await again.search(data[0]!, { limit: 3 }))[0]).toMatchObject({ id: 0, score: 0 })
    expect(again.config.vectors.get('')!.quantization).toEqual(SCALAR)
  })

  it('collections without quantization report none and write no quantization.bin', async () => {
    const c = await build('plain', clustered(300, 51), {})
    expect(c.config.vectors.get('')!.quantization).toBeUndefined()
    expect(c.stats().quantizationBytes).toBeUndefined()
    await db.close()
    for (const files of await segmentFiles('plain')) expect(files).not.toContain('quantization.bin')
    db = await Quiver.open(dir)
  })

  /** True when some hit's score differs from its float32 score: the hits were ranked on codes. */
  async function scoredOnCodes(c: HostedCollection, q: number[]): Promise<boolean> {
    const exact = new Map((await c.search(q, { limit: 50, exact: true })).map((h) => [h.id, h.score]))
    const codes = await c.search(q, { limit: K, quantization: { rescore: false } })
    return codes.some((h) => exact.has(h.id) && Math.abs(exact.get(h.id)! - h.score) > 1e-4)
  }

  it('vacuum and merge output segments are trained after their copy, and reopen as trained', async () => {
    const { bytesPerVector, minTraining } = quantizerFacts(SCALAR, 'Euclid')
    const perSegment = Math.max(1000, 4 * minTraining)
    const data = clustered(perSegment * 4, 61)
    // seals every perSegment points; vacuum at 30% deleted, then merges the shrunk sealed segments
    const c = await build('q', data, {
      quantization: SCALAR,
      optimizers: {
        maxSegmentSize: Math.ceil((perSegment * DIM * 4) / 1024),
        defaultSegmentNumber: 2,
        deletedThreshold: 0.3,
        vacuumMinVectorNumber: 50,
      },
    })
    await c.waitForOptimizers()
    expect(c.stats().segmentsCount).toBeGreaterThanOrEqual(4)
    const gone = data.map((_, i) => i).filter((i) => i % 10 < 7)
    await c.delete({ ids: gone })
    await c.waitForOptimizers()
    const stats = c.stats()
    expect(stats.optimizer.completed.vacuum).toBeGreaterThan(0)
    expect(stats.optimizer.completed.merge).toBeGreaterThan(0)
    expect(stats.storedCount).toBe(data.length - gone.length)
    // every segment (each holds more than minTraining points) is trained
    expect(stats.quantizationBytes).toBe(bytesPerVector * stats.storedCount)
    const q = data[7]!
    expect(await scoredOnCodes(c, q)).toBe(true)
    expect((await c.search(q, { limit: 1 }))[0]).toMatchObject({ id: 7, score: 0 })
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('q')
    expect(again.stats().quantizationBytes).toBe(stats.quantizationBytes)
    expect(await scoredOnCodes(again, q)).toBe(true)
  })

  it('refuses a bad quantization config or search parameters, naming the field', async () => {
    await expect(
      db.createCollection('bad', {
        dimension: DIM,
        quantization: { scalar: { type: 'int4' } } as unknown as QuantizationConfig,
      }),
    ).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
      message: expect.stringMatching(/^quantization\.scalar\.type:/),
    })
    expect(db.listCollections()).not.toContain('bad')
    const c = await build('q', clustered(10, 81), { quantization: SCALAR })
    await expect(c.search(clustered(1, 82)[0]!, { quantization: { oversampling: 0 } })).rejects.toMatchObject(
      {
        code: 'INVALID_ARGUMENT',
        message: expect.stringMatching(/^quantization\.oversampling:/),
      },
    )
    await expect(
      c.searchBatch([
        { vector: clustered(1, 83)[0]!, quantization: { rescore: 'no' as unknown as boolean } },
      ]),
    ).rejects.toMatchObject({ message: expect.stringMatching(/^requests\[0\]\.quantization\.rescore:/) })
  })
})
