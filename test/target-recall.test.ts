// Target recall instead of ef: with `targetRecall` (a request's, or the collection's
// searchConfig.targetRecall) Quiver chooses ef from a calibration per vector and filter
// selectivity; measured recall@10 on held-out queries reaches 0.90 / 0.95 / 0.99, unfiltered and
// filtered, at an ef no larger than needed; an explicit ef wins; over REST `params.target_recall`
// and `search_config.target_recall`.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import type { Filter } from '../src/types.js'
import { call, startTestServer, type TestServer } from './server-harness.js'
import { clustered } from './support/vectors.js'

const DIM = 32

/** Mean recall@10 of `search` against exact search over `queries`. */
async function measured(
  c: HostedCollection,
  queries: readonly Float32Array[],
  options: { targetRecall?: number; ef?: number; filter?: Filter },
): Promise<number> {
  let sum = 0
  for (const q of queries) {
    const hits = await c.search(q, { limit: 10, ...options })
    const truth = new Set(
      (
        await c.search(q, { limit: 10, exact: true, ...(options.filter ? { filter: options.filter } : {}) })
      ).map((h) => h.id),
    )
    sum += hits.filter((h) => truth.has(h.id)).length / Math.max(1, truth.size)
  }
  return sum / queries.length
}

describe('target recall (embedded)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const all = clustered(12_000, DIM, 40, 23, 2.5)
  const base = all.slice(0, 11_800)
  const queries = all.slice(11_800) // held out: never stored, never a calibration query

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-target-'))
    db = await Quiver.open(dir, { queryCacheBytes: 0, recallSampleRate: 0 })
    c = await db.createCollection('c', { dimension: DIM, metric: 'Euclid', hnsw: { m: 8, efConstruct: 48 } })
    for (let i = 0; i < base.length; i += 2000)
      await c.upsert(
        base.slice(i, i + 2000).map((vector, k) => ({ id: i + k, vector, payload: { g: (i + k) % 5 } })),
      )
    await c.waitForOptimizers()
  })
  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('reaches 0.90, 0.95 and 0.99 on held-out queries, where a small ef does not', async () => {
    const low = await measured(c, queries, { ef: 10 })
    expect(low).toBeLessThan(0.9)
    for (const target of [0.9, 0.95, 0.99]) {
      const got = await measured(c, queries, { targetRecall: target })
      expect([target, got >= target - 0.01]).toEqual([target, true])
    }
    // an explicit ef wins over a target
    expect(await measured(c, queries, { ef: 10, targetRecall: 0.99 })).toBeCloseTo(low, 5)
  })

  it('calibrates filtered searches by selectivity, and takes the collection default', async () => {
    const filter = { must: [{ key: 'g', match: { value: 2 } }] } // 20%
    await c.updateConfig({ searchConfig: { targetRecall: 0.95 } })
    expect((await c.info()).config.searchConfig).toMatchObject({ targetRecall: 0.95 })
    const got = await measured(c, queries, { filter })
    expect(got).toBeGreaterThanOrEqual(0.94)
    const unfiltered = await measured(c, queries, {})
    expect(unfiltered).toBeGreaterThanOrEqual(0.94)
    // a filter matching too few points to calibrate on is searched exactly
    const few = { must: [{ has_id: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] }] }
    expect(await measured(c, queries.slice(0, 20), { filter: few })).toBe(1)
    // ... without a calibration per search: a filter every segment scans exactly (below
    // fullScanThreshold KiB of vectors) needs none (it once calibrated each search: 40x slower)
    const internals = c as unknown as { calibrate: (...args: unknown[]) => Promise<unknown> }
    expect(typeof internals.calibrate).toBe('function')
    const calibrate = vi.spyOn(internals, 'calibrate')
    try {
      const small = {
        must: [{ key: 'g', match: { value: 3 } }, { has_id: Array.from({ length: 400 }, (_, i) => i) }],
      }
      expect(await measured(c, queries.slice(0, 20), { filter: small, targetRecall: 0.99 })).toBe(1)
      expect(calibrate).not.toHaveBeenCalled()
    } finally {
      calibrate.mockRestore()
    }
    // null removes the default
    await c.updateConfig({ searchConfig: { targetRecall: null } })
    expect((await c.info()).config.searchConfig).toBeUndefined()
  })

  it('a small filter on quantized codes still reaches the target (the scan of codes is approximate)', async () => {
    const q = await db.createCollection('quantized', {
      dimension: 64,
      metric: 'Cosine',
      quantization: { binary: {} },
    })
    const points = clustered(4000, 64, 20, 7, 2)
    await q.upsert(points.map((vector, id) => ({ id, vector, payload: { g: id % 20 } })))
    await q.waitForOptimizers()
    const filter = { must: [{ key: 'g', match: { value: 3 } }] } // 200 points: below fullScanThreshold
    const probes = clustered(30, 64, 20, 99, 2)
    expect(await measured(q, probes, { filter, targetRecall: 0.99 })).toBeGreaterThanOrEqual(0.95)
    await db.deleteCollection('quantized')
  })

  it('refuses a target outside (0, 1), changing nothing', async () => {
    for (const bad of [0, 1, 1.2, -0.1, Number.NaN]) {
      const e = await c.search(queries[0]!, { targetRecall: bad }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(QuiverError)
      expect((e as QuiverError).code).toBe('INVALID_ARGUMENT')
      const q = await c
        .query({ query: queries[0]!, params: { targetRecall: bad } })
        .catch((err: unknown) => err)
      expect((q as QuiverError).code).toBe('INVALID_ARGUMENT')
      const u = await c.updateConfig({ searchConfig: { targetRecall: bad } }).catch((err: unknown) => err)
      expect((u as QuiverError).code).toBe('INVALID_CONFIG')
    }
    expect((await c.info()).config.searchConfig).toBeUndefined()
  })
})

describe('target recall over the Qdrant REST API', () => {
  let srv: TestServer
  beforeAll(async () => {
    srv = await startTestServer({ queryCacheBytes: 0, recallSampleRate: 0 })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('takes params.target_recall and search_config.target_recall through the unchanged client', async () => {
    const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    const points = clustered(3000, 16, 10, 9)
    // the client's createCollection passes only Qdrant's fields: Quiver's search_config goes raw
    const created = await call(srv.url, 'PUT', '/collections/t', {
      vectors: { size: 16, distance: 'Euclid' },
      hnsw_config: { m: 4, ef_construct: 16 },
      search_config: { target_recall: 0.97 },
    })
    expect(created.status).toBe(200)
    await client.upsert('t', { wait: true, points: points.map((v, id) => ({ id, vector: Array.from(v) })) })
    const info = (await call(srv.url, 'GET', '/collections/t')).body.result
    expect(info.config.search_config).toEqual({ recall_sample_rate: null, target_recall: 0.97 })
    const q = Array.from(points[5]!, (x) => x + 0.01)
    const res = await client.query('t', { query: q, limit: 10, params: { target_recall: 0.99 } as never })
    expect(res.points).toHaveLength(10)
    const legacy = await client.search('t', { vector: q, limit: 10, params: { target_recall: 0.9 } as never })
    expect(legacy).toHaveLength(10)
    const bad = await call(srv.url, 'POST', '/collections/t/points/query', {
      query: q,
      params: { target_recall: 1.5 },
    })
    expect(bad.status).toBe(400)
    expect(JSON.stringify(bad.body)).toContain('target_recall')
  })
})
