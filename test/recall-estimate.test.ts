// The live recall estimate through the embedded API: searches re-run exactly in the background,
// the estimate per class agrees with recall@10 measured independently (exact search per query) at
// three ef values, on GloVe-100 held-out style queries when the datasets are present and on
// clustered synthetic data always; filtered searches land in their selectivity bucket; sampling
// stays within its CPU share, never counts unindexed fields twice, and 0 turns it off.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { loadDataset } from '../src/cli/datasets.js'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { realDatasets } from './support/datasets.js'
import { clustered } from './support/vectors.js'

const GLOVE = 'glove-100-cosine'
const data = realDatasets('recall-estimate', [GLOVE])

/** recall@10 of `given` against `truth` by id. */
function recall(given: readonly { id: unknown }[], truth: readonly { id: unknown }[]): number {
  const t = new Set(truth.map((h) => h.id))
  return given.filter((h) => t.has(h.id)).length / truth.length
}

describe('live recall estimate (embedded)', () => {
  let dir: string
  let db: Quiver

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-recall-'))
  })
  afterEach(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  /**
   * Builds `base` (n x dim) into a collection sampling every search, then at each ef runs the
   * queries, measures recall@10 against exact search itself, and checks the class estimate.
   */
  async function checkAgainstMeasured(
    base: readonly Float32Array[],
    queries: readonly Float32Array[],
    efs: readonly number[],
    metric: 'Cosine' | 'Euclid',
  ): Promise<void> {
    db = await Quiver.open(dir, { recallSampleRate: 1, recallCpuShare: 1, queryCacheBytes: 0 })
    const dim = base[0]!.length
    for (const ef of efs) {
      const c = await db.createCollection(`ef${ef}`, {
        dimension: dim,
        metric,
        hnsw: { m: 8, efConstruct: 32 },
      })
      for (let i = 0; i < base.length; i += 2000)
        await c.upsert(base.slice(i, i + 2000).map((vector, k) => ({ id: i + k, vector })))
      await c.waitForOptimizers()
      let measured = 0
      for (const q of queries) {
        const hits = await c.search(q, { limit: 10, ef })
        await c.recallSamplesIdle()
        measured += recall(hits, await c.search(q, { limit: 10, exact: true }))
      }
      measured /= queries.length
      const [e] = c.recallEstimates()
      expect(e).toMatchObject({ vector: '', class: 'unfiltered', quantized: false })
      // budget permitting every search is sampled; an exact search is never sampled
      expect(e!.samples).toBeGreaterThanOrEqual(queries.length * 0.9)
      expect(e!.samples).toBeLessThanOrEqual(queries.length)
      expect(e!.lower).toBeLessThanOrEqual(measured + 0.02)
      expect(e!.upper).toBeGreaterThanOrEqual(measured - 0.02)
      expect(Math.abs(e!.estimate - measured)).toBeLessThan(0.03)
      expect(e!.upper - e!.lower).toBeLessThan(0.2)
      if (ef === efs[0]) expect(measured).toBeLessThan(0.99) // the low ef really misses neighbours
      await db.deleteCollection(c.name)
    }
  }

  it('agrees with recall@10 measured by exact search at three ef values (clustered synthetic data)', async () => {
    const all = clustered(6000, 32, 30, 17, 2)
    await checkAgainstMeasured(all.slice(0, 5800), all.slice(5800), [4, 16, 64], 'Euclid')
  })

  it.skipIf(!data.present(GLOVE))(
    'agrees with recall@10 measured by exact search at three ef values (GloVe-100, held-out queries)',
    async () => {
      const ds = await loadDataset(GLOVE, data.dir!, { limit: 20_000 })
      const row = (m: Float32Array, i: number) => m.slice(i * ds.dim, (i + 1) * ds.dim)
      const base = Array.from({ length: ds.n }, (_, i) => row(ds.base, i))
      // the dataset's own queries are not in the base: held out
      const queries = Array.from({ length: 150 }, (_, i) => row(ds.queries, i))
      await checkAgainstMeasured(base, queries, [8, 24, 96], 'Cosine')
    },
  )

  it('files filtered searches under their selectivity bucket, and never counts unindexed fields twice', async () => {
    db = await Quiver.open(dir, { recallSampleRate: 1, recallCpuShare: 1, queryCacheBytes: 0 })
    const c: HostedCollection = await db.createCollection('c', { dimension: 16, metric: 'Euclid' })
    const points = clustered(3000, 16, 10, 5)
    await c.upsert(points.map((vector, id) => ({ id, vector, payload: { g: id % 200, q: id % 4 } })))
    await c.createPayloadIndex('g', 'integer')
    const rare = { must: [{ key: 'g', match: { value: 7 } }] } // 0.5%
    const most = { must_not: [{ key: 'q', match: { value: 0 } }] } // 75%, unindexed
    for (let i = 0; i < 20; i++) {
      // one at a time: at most two re-runs are in flight, a third sample would be skipped
      await c.search(points[i]!, { limit: 5, filter: rare })
      await c.recallSamplesIdle()
      await c.search(points[i]!, { limit: 5, filter: most })
      await c.recallSamplesIdle()
      await c.search(points[i]!, { limit: 5 })
      await c.recallSamplesIdle()
    }
    const byClass = new Map(c.recallEstimates().map((e) => [`${e.class}/${e.selectivity ?? ''}`, e]))
    expect([...byClass.keys()].sort()).toEqual(['filtered/gt_50pct', 'filtered/lt_1pct', 'unfiltered/'])
    for (const e of byClass.values()) expect(e.samples).toBe(20)
    // the exact re-runs are not requests: 20 filtered searches evaluated `q` point by point
    expect((await c.info()).unindexedFilterFields).toEqual({ q: 20 })
    expect((await c.info()).recallEstimates).toHaveLength(3)
  })

  it('takes a per-collection rate (searchConfig.recallSampleRate) over the database default, kept across a reopen', async () => {
    db = await Quiver.open(dir, { recallSampleRate: 0, recallCpuShare: 1, queryCacheBytes: 0 })
    const points = clustered(500, 8, 5, 3)
    let c = await db.createCollection('c', {
      dimension: 8,
      metric: 'Euclid',
      searchConfig: { recallSampleRate: 1 },
    })
    await c.upsert(points.map((vector, id) => ({ id, vector })))
    expect((await c.info()).config.searchConfig).toEqual({ recallSampleRate: 1 })
    await c.search(points[1]!, { limit: 3 })
    await c.recallSamplesIdle()
    expect(c.recallEstimates()[0]?.samples).toBe(1)
    // 0 for this collection: no more samples; a bad value changes nothing
    await c.updateConfig({ searchConfig: { recallSampleRate: 0 } })
    await c.search(points[2]!, { limit: 3 })
    await c.recallSamplesIdle()
    expect(c.recallEstimates()[0]?.samples).toBe(1)
    for (const bad of [{ recallSampleRate: 2 }, { recallSampleRate: '1' }, { rate: 1 }])
      expect(
        ((await c.updateConfig({ searchConfig: bad as never }).catch((e: unknown) => e)) as QuiverError).code,
      ).toBe('INVALID_CONFIG')
    expect((await c.info()).config.searchConfig).toEqual({ recallSampleRate: 0 })
    await db.close()
    db = await Quiver.open(dir, { recallSampleRate: 1 })
    c = await db.getCollection('c')
    expect((await c.info()).config.searchConfig).toEqual({ recallSampleRate: 0 })
    await c.search(points[3]!, { limit: 3 })
    await c.recallSamplesIdle()
    expect(c.recallEstimates()).toEqual([])
  })

  it('takes no samples at rate 0, and refuses a bad rate or CPU share before opening anything', async () => {
    db = await Quiver.open(dir, { recallSampleRate: 0 })
    const c = await db.createCollection('c', { dimension: 4, metric: 'Dot' })
    await c.upsert([{ id: 1, vector: [1, 2, 3, 4] }])
    await c.search([1, 0, 0, 0])
    await c.recallSamplesIdle()
    expect(c.recallEstimates()).toEqual([])
    expect(c.searchLatency()?.count).toBe(1)
    for (const bad of [{ recallSampleRate: 1.5 }, { recallSampleRate: -0.1 }, { recallCpuShare: 0 }]) {
      const e = await Quiver.open(join(dir, 'x'), bad).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(QuiverError)
      expect((e as QuiverError).code).toBe('INVALID_CONFIG')
    }
  })
})
