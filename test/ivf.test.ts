// IVF collections end to end on real files: recall against exact search and its rise with nprobe,
// filtered searches (indexed and unindexed keyword + range conditions), deletes and updates, a
// reopen and a snapshot answering identically, a vacuum rebuilding IVF segments, IVF-PQ, the
// automatic nlist, and bad configs refused before anything is created.
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { EmbeddedCollection, type HostedCollection, Quiver } from '../src/index.js'
import type { CreateCollectionOptions, Filter, IndexOptions, ScoredPoint } from '../src/types.js'
import { normal, rng } from './support/random.js'

const DIM = 32
const K = 10
const N = 4000
const NLIST = 50
const IVF: IndexOptions = { type: 'ivf', nlist: NLIST, nprobe: 8 }
const IVF_MAGIC = 0x56495651

function gaussian(r: () => number): () => number {
  return () => normal(r)
}

const CENTRES = (() => {
  const gauss = gaussian(rng(2000))
  return Array.from({ length: 200 }, () => Array.from({ length: DIM }, () => gauss()))
})()

/** `n` points drawn from `seed` around 200 fixed centres (overlapping clusters: 50 lists cut through them). */
function clustered(n: number, seed: number): number[][] {
  const r = rng(seed)
  const gauss = gaussian(r)
  return Array.from({ length: n }, () => {
    const c = CENTRES[Math.floor(r() * CENTRES.length)]!
    return c.map((x) => x + 0.6 * gauss())
  })
}

const COLORS = ['red', 'green', 'blue', 'cyan', 'black']

function payloadOf(i: number) {
  return { color: COLORS[i % COLORS.length]!, n: (i * 7919) % 1000 }
}

function overlap(a: readonly ScoredPoint[], b: readonly ScoredPoint[]): number {
  const want = new Set(b.map((h) => h.id))
  return a.filter((h) => want.has(h.id)).length
}

describe('IVF collections', () => {
  let dir: string
  let db: Quiver
  const data = clustered(N, 7)
  const queries = clustered(40, 8)

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-ivf-'))
    db = await Quiver.open(dir)
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function build(
    name: string,
    options: Partial<CreateCollectionOptions>,
    vectors: readonly number[][] = data,
  ): Promise<HostedCollection> {
    const c = await db.createCollection(name, { dimension: DIM, metric: 'Euclid', ...options })
    for (let start = 0; start < vectors.length; start += 500) {
      const batch = vectors
        .slice(start, start + 500)
        .map((vector, i) => ({ id: start + i, vector, payload: payloadOf(start + i) }))
      await c.upsert(batch)
    }
    return c
  }

  async function meanRecall(c: HostedCollection, nprobe: number, filter?: Filter): Promise<number> {
    let sum = 0
    for (const q of queries) {
      const truth = await c.search(q, { limit: K, exact: true, filter: filter ?? null })
      const hits = await c.search(q, { limit: K, nprobe, filter: filter ?? null })
      sum += overlap(hits, truth) / Math.max(1, truth.length)
    }
    return sum / queries.length
  }

  /** Header words (magic, ..., nlist at word 7) of every segment's index.bin on disk. */
  async function indexHeaders(name: string): Promise<Uint32Array[]> {
    const segs = join(dir, 'collections', name, 'segments')
    const out: Uint32Array[] = []
    for (const s of await readdir(segs)) {
      const bytes = await readFile(join(segs, s, 'index.bin'))
      out.push(new Uint32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + 48)))
    }
    return out
  }

  it('reaches recall@10 >= 0.9 at nprobe 8 of 50, rising with nprobe, exact at nprobe = nlist', async () => {
    const c = await build('ivf', { index: IVF })
    expect(c.config.vectors.get('')!.index).toEqual({ type: 'ivf', nlist: NLIST, nprobe: 8 })
    const recalls: number[] = []
    for (const nprobe of [1, 2, 8, NLIST]) recalls.push(await meanRecall(c, nprobe))
    expect(recalls[0]!).toBeLessThan(recalls[2]!)
    expect(recalls[1]!).toBeGreaterThanOrEqual(recalls[0]!)
    expect(recalls[2]!).toBeGreaterThanOrEqual(0.9)
    expect(recalls[3]).toBe(1)
    for (const q of queries.slice(0, 10)) {
      // the configured nprobe is the default; ef means nothing to IVF
      const byDefault = await c.search(q, { limit: K })
      expect(await c.search(q, { limit: K, nprobe: 8 })).toEqual(byDefault)
      expect(await c.search(q, { limit: K, ef: 1 })).toEqual(byDefault)
      expect(await c.search(q, { limit: K, nprobe: NLIST })).toEqual(
        await c.search(q, { limit: K, exact: true }),
      )
    }
    // the same on the worker-thread path (searchBatch)
    const batch = await c.searchBatch(queries.slice(0, 5).map((vector) => ({ vector, limit: K })))
    for (let i = 0; i < 5; i++) expect(batch[i]).toEqual(await c.search(queries[i]!, { limit: K }))
    expect(c.checkIntegrity()).toEqual({ ok: true, problems: [] })
  })

  for (const metric of ['Cosine', 'Dot', 'Manhattan'] as const) {
    it(`${metric}: recall@10 >= 0.9 at nprobe 8, exact at nprobe = nlist`, async () => {
      const c = await build(metric, { metric, index: IVF })
      expect(await meanRecall(c, 8)).toBeGreaterThanOrEqual(0.9)
      for (const q of queries.slice(0, 5)) {
        expect(await c.search(q, { limit: K, nprobe: NLIST })).toEqual(
          await c.search(q, { limit: K, exact: true }),
        )
      }
    })
  }

  it('holds less memory than HNSW over the same points (no graph)', async () => {
    const ivf = await build('ivf', { index: IVF })
    const hnsw = await build('hnsw', {})
    expect(ivf.stats().memoryBytes).toBeLessThan(hnsw.stats().memoryBytes)
  })

  it('filtered searches return only matches and equal exact filtered search at nprobe = nlist', async () => {
    // fullScanThreshold 1 KiB: every filter matching more than 8 points probes the lists
    const options = { index: IVF, hnsw: { fullScanThreshold: 1 } }
    const indexed = await build('indexed', options)
    await indexed.createPayloadIndex('color', 'keyword')
    await indexed.createPayloadIndex('n', 'integer')
    const unindexed = await build('unindexed', options)
    const filters: { filter: Filter; check: (p: ReturnType<typeof payloadOf>) => boolean }[] = [
      { filter: { must: [{ key: 'color', match: { value: 'red' } }] }, check: (p) => p.color === 'red' },
      {
        filter: { must: [{ key: 'n', range: { gte: 100, lt: 400 } }] },
        check: (p) => p.n >= 100 && p.n < 400,
      },
      {
        filter: {
          must: [
            { key: 'color', match: { any: ['green', 'blue'] } },
            { key: 'n', range: { lt: 100 } },
          ],
        },
        check: (p) => (p.color === 'green' || p.color === 'blue') && p.n < 100,
      },
    ]
    for (const c of [indexed, unindexed]) {
      for (const { filter, check } of filters) {
        let approximate = 0
        for (const q of queries.slice(0, 15)) {
          const exact = await c.search(q, { limit: K, filter, exact: true, withPayload: true })
          expect(exact).toHaveLength(K)
          for (const nprobe of [1, 4]) {
            const hits = await c.search(q, { limit: K, filter, nprobe, withPayload: true })
            for (const h of hits) expect(check(h.payload as ReturnType<typeof payloadOf>)).toBe(true)
            if (overlap(hits, exact) < K) approximate++
          }
          expect(await c.search(q, { limit: K, filter, nprobe: NLIST, withPayload: true })).toEqual(exact)
        }
        // the lists were probed (an exact scan would always match)
        expect(approximate).toBeGreaterThan(0)
      }
    }
    // nprobe is widened for filters (x 1 / sqrt(fraction), at most x 4): recall stays that of unfiltered search
    expect(await meanRecall(indexed, 8, filters[0]!.filter)).toBeGreaterThanOrEqual(0.9)
    expect(await meanRecall(unindexed, 8, filters[2]!.filter)).toBeGreaterThanOrEqual(0.9)
  })

  it('deletes and updates: deleted points never return, a moved point is found where it went', async () => {
    const c = await build('ivf', { index: IVF })
    const q = queries[0]!
    const before = await c.search(q, { limit: K })
    const gone = before.slice(0, 5).map((h) => h.id)
    await c.delete({ ids: gone })
    const after = await c.search(q, { limit: K, nprobe: NLIST })
    for (const h of after) expect(gone).not.toContain(h.id)
    expect(after).toEqual(await c.search(q, { limit: K, exact: true }))
    // point 3999 moves onto the query: the IVF search finds it first, at distance 0
    await c.upsert([{ id: N - 1, vector: q, payload: { moved: true } }])
    const [top] = await c.search(q, { limit: 1, withPayload: true })
    expect(top).toEqual({ id: N - 1, score: 0, payload: { moved: true }, version: expect.any(Number) })
    expect(await c.count()).toBe(N - 5)
    expect(c.checkIntegrity().ok).toBe(true)
  })

  it('answers identically after a reopen (lists restored from index.bin, not retrained)', async () => {
    const c = await build('ivf', { index: IVF })
    await c.delete({ ids: [1, 2, 3] })
    const before: ScoredPoint[][] = []
    for (const q of queries) before.push(await c.search(q, { limit: K, nprobe: 2 }))
    await db.close()
    for (const h of await indexHeaders('ivf')) {
      expect(h[0]).toBe(IVF_MAGIC)
      expect(h[7]).toBe(NLIST)
    }
    db = await Quiver.open(dir)
    const again = await db.getCollection('ivf')
    expect(again.config.vectors.get('')!.index).toEqual({ type: 'ivf', nlist: NLIST, nprobe: 8 })
    for (let i = 0; i < queries.length; i++) {
      expect(await again.search(queries[i]!, { limit: K, nprobe: 2 })).toEqual(before[i])
    }
    // a write after the reopen goes into a list and is found
    await again.upsert([{ id: 'a5a5a5a5-0000-4000-8000-000000000001', vector: queries[0]! }])
    expect((await again.search(queries[0]!, { limit: 1, nprobe: 1 }))[0]?.id).toBe(
      'a5a5a5a5-0000-4000-8000-000000000001',
    )
  })

  it('a WAL replay (from scratch, or after a persisted segment) trains identically', async () => {
    await db.close()
    db = await Quiver.open(dir, { flushBytes: 2 ** 40 })
    const c = await build('ivf', { index: IVF }, data.slice(0, 2500))
    // a crash image: the WAL holds every upsert, no segment was persisted since creation
    const crash1 = join(dir, 'crash1')
    await cp(join(dir, 'collections', 'ivf'), crash1, { recursive: true })
    const at2500: ScoredPoint[][] = []
    let approximate = 0
    for (const q of queries.slice(0, 10)) {
      const hits = await c.search(q, { limit: K, nprobe: 2 })
      at2500.push(hits)
      if (overlap(hits, await c.search(q, { limit: K, exact: true })) < K) approximate++
    }
    expect(approximate).toBeGreaterThan(0) // trained: a replay that failed to train would scan exactly
    await c.persist()
    await c.upsert(data.slice(2500).map((vector, i) => ({ id: 2500 + i, vector })))
    await c.delete({ ids: [10, 11] })
    const crash2 = join(dir, 'crash2')
    await cp(join(dir, 'collections', 'ivf'), crash2, { recursive: true })
    const replayed = await EmbeddedCollection.open(crash1, 'ivf')
    const resumed = await EmbeddedCollection.open(crash2, 'ivf')
    try {
      expect(await replayed.count()).toBe(2500)
      expect(await resumed.count()).toBe(N - 2)
      for (let i = 0; i < 10; i++) {
        expect(await replayed.search(queries[i]!, { limit: K, nprobe: 2 })).toEqual(at2500[i])
      }
      for (const q of queries.slice(0, 10)) {
        expect(await resumed.search(q, { limit: K, nprobe: 2 })).toEqual(
          await c.search(q, { limit: K, nprobe: 2 }),
        )
      }
    } finally {
      await replayed.close()
      await resumed.close()
    }
  })

  it('a snapshot recovers as an IVF collection answering identically', async () => {
    const c = await build('ivf', { index: IVF })
    const snap = await db.createSnapshot('ivf')
    await db.recoverSnapshot('copy', await db.snapshotPath('ivf', snap.name))
    const copy = await db.getCollection('copy')
    expect(copy.config.vectors.get('')!.index).toEqual(c.config.vectors.get('')!.index)
    for (const q of queries.slice(0, 10)) {
      expect(await copy.search(q, { limit: K, nprobe: 3 })).toEqual(
        await c.search(q, { limit: K, nprobe: 3 }),
      )
    }
  })

  it('a vacuum rebuilds the segment as a trained IVF segment', async () => {
    const c = await build('ivf', {
      index: IVF,
      optimizers: { deletedThreshold: 0.2, vacuumMinVectorNumber: 100 },
    })
    const gone = data.map((_, i) => i).filter((i) => i % 10 < 3)
    await c.delete({ ids: gone })
    await c.waitForOptimizers()
    const stats = c.stats()
    expect(stats.optimizer.completed.vacuum).toBeGreaterThan(0)
    expect(stats.storedCount).toBe(N - gone.length)
    expect(await meanRecall(c, 8)).toBeGreaterThanOrEqual(0.9)
    expect(await meanRecall(c, 1)).toBeLessThan(1)
    await db.close()
    const headers = await indexHeaders('ivf')
    for (const h of headers) expect(h[0]).toBe(IVF_MAGIC)
    // the rebuilt segment holds every live point and is trained (nlist in its header)
    expect(headers.some((h) => h[6] === N - gone.length && h[7] === NLIST)).toBe(true)
    db = await Quiver.open(dir)
  })

  it('IVF-PQ: lists scanned on product codes, rescored, close to IVF on float32', async () => {
    const c = await build('ivfpq', { index: IVF, quantization: { product: { compression: 'x8' } } })
    expect(c.stats().quantizationBytes).toBeGreaterThan(0)
    let rescored = 0
    let float = 0
    let codesOnly = 0
    let codeScored = 0
    for (const q of queries) {
      const truth = await c.search(q, { limit: K, exact: true })
      rescored += overlap(await c.search(q, { limit: K, quantization: { oversampling: 4 } }), truth)
      float += overlap(await c.search(q, { limit: K, quantization: { ignore: true } }), truth)
      const codes = await c.search(q, { limit: K, quantization: { rescore: false } })
      codesOnly += overlap(codes, truth)
      const exactScore = new Map(truth.map((h) => [h.id, h.score]))
      if (codes.some((h) => exactScore.has(h.id) && Math.abs(exactScore.get(h.id)! - h.score) > 1e-4))
        codeScored++
    }
    expect(rescored).toBeGreaterThanOrEqual(float - 0.05 * K * queries.length)
    expect(rescored).toBeGreaterThan(codesOnly)
    expect(codeScored).toBeGreaterThan(0)
    expect(float / (K * queries.length)).toBeGreaterThanOrEqual(0.9)
  })

  it('scalar codes work with IVF too: lists scanned on int8 codes, rescored', async () => {
    const c = await build('ivfsq', { index: IVF, quantization: { scalar: { type: 'int8' } } })
    expect(c.stats().quantizationBytes).toBeGreaterThan(0)
    let recall = 0
    for (const q of queries) {
      const truth = await c.search(q, { limit: K, exact: true })
      recall += overlap(await c.search(q, { limit: K, quantization: { oversampling: 2 } }), truth) / K
    }
    expect(recall / queries.length).toBeGreaterThanOrEqual(0.9)
    const [top] = await c.search(data[5]!, { limit: 1, quantization: { rescore: false } })
    expect(top?.id).toBe(5)
  })

  it('with an automatic nlist, trains at 1024 points and retrains as the segment grows', async () => {
    const c = await build('auto', { index: { type: 'ivf' } })
    expect(c.config.vectors.get('')!.index).toEqual({ type: 'ivf', nlist: null, nprobe: null })
    expect(await meanRecall(c, 16)).toBeGreaterThanOrEqual(0.9)
    await db.close()
    // trained at 1500 points (38 lists), retrained at 3000 (76 = 3000 / 39), kept at 4000 (102 < 2 x 76)
    const [h] = await indexHeaders('auto')
    expect(h?.[7]).toBe(76)
    db = await Quiver.open(dir)
  })

  it('searches a segment below the training size exactly', async () => {
    const small = data.slice(0, 300)
    const c = await build('small', { index: IVF }, small)
    for (const q of queries.slice(0, 5)) {
      expect(await c.search(q, { limit: K, nprobe: 1 })).toEqual(await c.search(q, { limit: K, exact: true }))
    }
  })

  it('HNSW collections ignore nprobe', async () => {
    const c = await build('hnsw', {}, data.slice(0, 500))
    expect(c.config.vectors.get('')!.index).toBeUndefined()
    const q = queries[0]!
    expect(await c.search(q, { limit: K, nprobe: 1 })).toEqual(await c.search(q, { limit: K }))
  })

  it('refuses bad IVF configs naming the field, creating nothing', async () => {
    const bad: [unknown, RegExp][] = [
      [{ type: 'ivf', nlist: 0 }, /^index\.nlist: expected an integer in 1\.\.65536, got 0/],
      [{ type: 'ivf', nlist: 70000 }, /^index\.nlist: expected an integer in 1\.\.65536/],
      [{ type: 'ivf', nlist: 2.5 }, /^index\.nlist:/],
      [{ type: 'ivf', nlist: 16, nprobe: 17 }, /^index\.nprobe: expected an integer in 1\.\.16, got 17/],
      [{ type: 'ivf', nprobe: 0 }, /^index\.nprobe:/],
      [{ type: 'ivf', lists: 4 }, /^index\.lists: unknown field/],
      [{ type: 'flat' }, /^index\.type: expected 'hnsw' or 'ivf'/],
      [{ type: 'hnsw', m: 4 }, /^index\.m: unknown field/],
      [{ type: 'ivf', nlist: 60000 }, /^index\.nlist: 60000 lists need 2340000 vectors in one segment/],
      ['ivf', /^index: expected/],
    ]
    for (const [index, message] of bad) {
      await expect(
        db.createCollection('bad', { dimension: DIM, index: index as IndexOptions }),
      ).rejects.toMatchObject({ code: 'INVALID_CONFIG', message: expect.stringMatching(message) })
    }
    expect(db.listCollections()).not.toContain('bad')
    // an explicit { type: 'hnsw' } is the default
    const h = await db.createCollection('h', { dimension: DIM, index: { type: 'hnsw' } })
    expect(h.config.vectors.get('')!.index).toBeUndefined()
    const c = await build('ivf', { index: IVF }, data.slice(0, 20))
    await expect(c.search(queries[0]!, { nprobe: 0 })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringMatching(/^nprobe must be an integer/),
    })
    await expect(c.searchBatch([{ vector: queries[0]!, nprobe: 1.5 }])).rejects.toMatchObject({
      message: expect.stringMatching(/^requests\[0\]\.nprobe/),
    })
  })
})
