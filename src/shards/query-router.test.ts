// The query router against one collection holding the same points: three shard collections and a
// reference in one database, every query kind of query-router.ts, the same ids, scores and order
// (exact search), and the same errors.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { Quiver } from '../db/quiver.js'
import { QuiverError } from '../errors.js'
import type { Collection, PointId, PointRecord, QueryRequest, ScoredPoint } from '../types.js'
import { routeQuery, routeQueryBatch, routeQueryGroups, routeSearchMatrix } from './query-router.js'
import { shardOf } from './routing.js'
import type { ShardSet } from './shard-set.js'

const S = 3
const N = 240
const exact = { exact: true }

/** A hit without its version (each collection has its own WAL seqs). */
const strip = (points: ScoredPoint[]) => points.map(({ version: _, ...p }) => p)

/** What a promise rejects with (a QuiverError's code and message), or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (e) {
    if (!(e instanceof QuiverError)) throw e
    // shards carry their collection's name (open.ts); here they are s0..s2 beside ref
    return `${e.code}: ${e.message.replace(/\/collections\/(s\d|ref)\//g, '/collections/<name>/')}`
  }
}

for (const metric of ['Cosine', 'Euclid'] as const) {
  describe(`query router (${metric}, ${S} shards vs one collection)`, () => {
    let dir: string
    let db: Quiver
    let ref: Collection
    let set: ShardSet
    const r = rng(metric === 'Cosine' ? 11 : 12)
    const vec = (dim: number) => Array.from({ length: dim }, () => r() * 2 - 1)

    /** Asserts that the router answers `request` as the reference collection does. */
    async function same(request: QueryRequest): Promise<ScoredPoint[]> {
      const want = strip((await ref.query(request)).points)
      const got = strip((await routeQuery(set, request)).points)
      expect(got).toEqual(want)
      return got
    }

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'quiver-query-router-'))
      db = await Quiver.open(dir)
      const options = { vectors: { a: { dimension: 6, metric }, b: { dimension: 4, metric } } }
      ref = await db.createCollection('ref', options)
      const shards: Collection[] = []
      for (let s = 0; s < S; s++) shards.push(await db.createCollection(`s${s}`, options))
      const points = Array.from({ length: N }, (_, id) => ({
        id,
        // every 10th point lacks vector b
        vector: id % 10 === 9 ? { a: vec(6) } : { a: vec(6), b: vec(4) },
        payload: {
          group: `g${id % 7}`,
          n: id % 13,
          price: Math.round(r() * 1000) / 10,
          tags: [id % 2, id % 3],
        },
      }))
      for (const c of [ref, ...shards]) {
        await c.createPayloadIndex('price', 'float')
        await c.createPayloadIndex('group', 'keyword')
      }
      await ref.upsert(points)
      for (let s = 0; s < S; s++) await shards[s]!.upsert(points.filter((p) => shardOf(p.id, S) === s))
      set = {
        name: 'ref',
        config: ref.config,
        shards,
        shardOf: (id) => shardOf(id, S),
        async get(ids, options) {
          const lists = await Promise.all(
            shards.map((c, s) =>
              c.get(
                ids.filter((id) => shardOf(id, S) === s),
                options,
              ),
            ),
          )
          const byId = new Map<PointId, PointRecord>(lists.flat().map((rec) => [rec.id, rec]))
          return ids.flatMap((id) => byId.get(id) ?? [])
        },
      }
      // the shards really split the points
      for (const c of shards) expect(await c.count()).toBeGreaterThan(N / S / 2)
    })

    afterAll(async () => {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    })

    it('nearest by vector: limit, offset, score_threshold, filter, payload and vectors', async () => {
      const q = vec(6)
      await same({ query: q, using: 'a', limit: 7, params: exact })
      await same({ query: q, using: 'a', limit: 5, offset: 9, params: exact, withPayload: true })
      await same({ query: q, using: 'a', limit: 5, params: exact, withVector: ['a'], withPayload: ['group'] })
      const all = await same({ query: q, using: 'a', limit: 50, params: exact })
      const threshold = all[20]!.score
      await same({ query: q, using: 'a', limit: 50, scoreThreshold: threshold, params: exact })
      await same({
        query: { nearest: q },
        using: 'a',
        limit: 10,
        params: exact,
        filter: { must: [{ key: 'group', match: { value: 'g2' } }] },
      })
      // HNSW: the same up to recall (tiny collections are searched exactly anyway)
      const hnsw = strip((await routeQuery(set, { query: q, using: 'a', limit: 10 })).points)
      const want = strip((await ref.query({ query: q, using: 'a', limit: 10 })).points)
      expect(hnsw.filter((h) => want.some((w) => w.id === h.id)).length).toBeGreaterThanOrEqual(9)
    })

    it('nearest by id: that point excluded, on every shard', async () => {
      for (const id of [0, 5, 17, 101]) {
        const got = await same({ query: id, using: 'a', limit: 8, params: exact })
        expect(got.some((h) => h.id === id)).toBe(false)
      }
      await same({
        query: { nearest: 33 },
        using: 'b',
        limit: 6,
        offset: 2,
        params: exact,
        withPayload: true,
      })
    })

    it('recommend with ids, every strategy', async () => {
      for (const strategy of ['average_vector', 'best_score', 'sum_scores'] as const) {
        await same({
          query: { recommend: { positive: [1, 2, 40], negative: [7, 88], strategy } },
          using: 'a',
          limit: 10,
          params: exact,
        })
        await same({
          query: { recommend: { positive: [3, vec(4)], strategy } },
          using: 'b',
          limit: 5,
          offset: 3,
          params: exact,
          filter: { must_not: [{ key: 'group', match: { value: 'g1' } }] },
        })
      }
      await same({ query: { recommend: { negative: [5, 6], strategy: 'best_score' } }, using: 'a', limit: 5 })
    })

    it('discover and context with ids', async () => {
      await same({
        query: {
          discover: {
            target: 12,
            context: [
              { positive: 3, negative: 4 },
              { positive: vec(6), negative: 90 },
            ],
          },
        },
        using: 'a',
        limit: 10,
      })
      await same({ query: { context: [{ positive: 21, negative: 22 }] }, using: 'a', limit: 10, offset: 4 })
      await same({ query: { context: { positive: 2, negative: vec(4) } }, using: 'b', limit: 6 })
    })

    it('fusion: rrf, dbsf and weighted rrf over two prefetches', async () => {
      const prefetch = [
        { query: vec(6), using: 'a', limit: 30, params: exact },
        {
          query: vec(4),
          using: 'b',
          limit: 25,
          params: exact,
          filter: { must: [{ key: 'n', range: { lt: 8 } }] },
        },
      ]
      await same({ prefetch, query: { fusion: 'rrf' }, limit: 10 })
      await same({ prefetch, query: { fusion: 'dbsf' }, limit: 10, offset: 5, withPayload: true })
      await same({ prefetch, query: { rrf: { k: 7, weights: [1, 3] } }, limit: 12, withVector: true })
      await same({ prefetch, query: { fusion: 'rrf' }, limit: 10, scoreThreshold: 0.3 })
      // example ids inside prefetches are excluded from every stage
      await same({
        prefetch: [
          { query: 9, using: 'a', limit: 20, params: exact },
          { query: 10, using: 'b', limit: 20, params: exact },
        ],
        query: { fusion: 'dbsf' },
        limit: 15,
      })
    })

    it('nested prefetch, re-ranked by nearest and by recommend', async () => {
      const inner = {
        prefetch: [
          { query: vec(6), using: 'a', limit: 40, params: exact },
          { query: vec(4), using: 'b', limit: 40, params: exact },
        ],
        query: { fusion: 'rrf' as const },
        limit: 30,
      }
      await same({ prefetch: inner, query: vec(6), using: 'a', limit: 10 })
      await same({ prefetch: inner, query: 44, using: 'b', limit: 8, offset: 1, withPayload: ['n'] })
      await same({
        prefetch: [inner, { query: vec(6), using: 'a', limit: 5, params: exact }],
        query: { recommend: { positive: [8, 9], strategy: 'best_score' } },
        using: 'a',
        limit: 10,
        filter: { must_not: [{ key: 'group', match: { value: 'g3' } }] },
      })
      await same({
        prefetch: inner,
        query: { discover: { target: 50, context: { positive: 51, negative: 52 } } },
        using: 'a',
        limit: 7,
      })
      await same({ prefetch: inner, query: { orderBy: { key: 'price', direction: 'desc' } }, limit: 9 })
      await same({
        prefetch: inner,
        query: { recommend: { positive: [60, vec(6)], negative: [61] } },
        using: 'a',
        limit: 9,
        scoreThreshold: metric === 'Cosine' ? -0.5 : 3,
      })
    })

    it('formula over prefetches (scores, payload, conditions, defaults)', async () => {
      const prefetch = [
        { query: vec(6), using: 'a', limit: 30, params: exact },
        { query: vec(4), using: 'b', limit: 30, params: exact },
      ]
      await same({
        prefetch,
        query: {
          formula: {
            sum: [
              '$score',
              { mult: [0.5, '$score[1]'] },
              { mult: [0.01, 'n'] },
              { mult: [0.3, { key: 'group', match: { value: 'g2' } }] },
              { mult: [0.2, { has_id: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10] }] },
            ],
          },
          defaults: { '$score[1]': -1 },
        },
        limit: 12,
        offset: 2,
        withPayload: true,
      })
      // ties (a constant formula) keep candidate order, as the collection does
      await same({ prefetch, query: { formula: { mult: [2, 'tags[0]'] } }, limit: 20 })
      // a candidate without a variable fails with the collection's error
      const bad: QueryRequest = { prefetch, query: { formula: { sum: ['$score', 'missing'] } }, limit: 5 }
      expect(await outcome(routeQuery(set, bad))).toBe(await outcome(ref.query(bad)))
      expect(await outcome(ref.query(bad))).not.toBe('ok')
    })

    it('MMR at the leaf and over prefetches', async () => {
      const q = vec(6)
      await same({
        query: { nearest: q, mmr: { diversity: 0.6, candidatesLimit: 40 } },
        using: 'a',
        limit: 8,
        params: exact,
      })
      await same({
        query: { nearest: 15, mmr: { diversity: 0.3 } },
        using: 'a',
        limit: 6,
        offset: 2,
        params: exact,
        withVector: ['b'],
      })
      await same({
        prefetch: [
          { query: vec(6), using: 'a', limit: 30, params: exact },
          { query: vec(4), using: 'b', limit: 30, params: exact },
        ],
        query: { nearest: q, mmr: { diversity: 0.5, candidatesLimit: 20 } },
        using: 'a',
        limit: 7,
      })
    })

    it('order_by, no query (id order), and random samples', async () => {
      await same({ query: { orderBy: 'price' }, limit: 15, withPayload: ['price'] })
      await same({
        query: { orderBy: { key: 'price', direction: 'desc', startFrom: 50 } },
        limit: 10,
        offset: 3,
      })
      await same({
        query: { orderBy: 'price' },
        limit: 10,
        filter: { must: [{ key: 'group', match: { value: 'g4' } }] },
      })
      await same({ limit: 20, offset: 7 })
      await same({ limit: 5, filter: { must: [{ key: 'n', match: { value: 3 } }] }, withPayload: true })
      const sample = (await routeQuery(set, { query: { sample: 'random' }, limit: 50, withPayload: true }))
        .points
      expect(sample).toHaveLength(50)
      expect(new Set(sample.map((p) => p.id)).size).toBe(50)
      expect(sample.every((p) => p.score === 0 && p.payload !== undefined)).toBe(true)
      expect(new Set(sample.map((p) => shardOf(p.id, S))).size).toBe(S)
      const filtered = (
        await routeQuery(set, {
          query: { sample: 'random' },
          limit: 100,
          filter: { must: [{ key: 'group', match: { value: 'g0' } }] },
        })
      ).points
      expect(filtered.map((p) => p.id).sort((a, b) => (a as number) - (b as number))).toEqual(
        Array.from({ length: N }, (_, i) => i).filter((i) => i % 7 === 0),
      )
      const fromPrefetch = (
        await routeQuery(set, {
          prefetch: { query: vec(6), using: 'a', limit: 30, params: exact },
          query: { sample: 'random' },
          limit: 10,
        })
      ).points
      expect(new Set(fromPrefetch.map((p) => p.id)).size).toBe(10)
    })

    it('queryBatch: the same as one query each', async () => {
      const requests: QueryRequest[] = [
        { query: vec(6), using: 'a', limit: 4, params: exact },
        { query: 77, using: 'b', limit: 3, params: exact },
        {
          prefetch: [{ query: vec(6), using: 'a', limit: 20, params: exact }],
          query: { orderBy: 'price' },
          limit: 5,
        },
      ]
      const want = (await ref.queryBatch(requests)).map((r) => strip(r.points))
      const got = (await routeQueryBatch(set, requests, { timeout: 30 })).map((r) => strip(r.points))
      expect(got).toEqual(want)
      const bad = [requests[0]!, { query: [1, 2], using: 'a' }]
      expect(await outcome(routeQueryBatch(set, bad))).toBe(await outcome(ref.queryBatch(bad)))
    })

    it('queryGroups: groups spread over shards, best hits from all of them', async () => {
      const stripGroups = (g: { groups: { id: unknown; hits: ScoredPoint[] }[] }) =>
        g.groups.map((x) => ({ id: x.id, hits: strip(x.hits) }))
      const requests = [
        { query: vec(6), using: 'a', groupBy: 'group', groupSize: 3, limit: 4, params: exact },
        { query: 5, using: 'a', groupBy: 'group', groupSize: 20, limit: 7, params: exact, withPayload: true },
        { query: vec(4), using: 'b', groupBy: 'tags[]', groupSize: 2, limit: 5, params: exact },
        {
          prefetch: [
            { query: vec(6), using: 'a', limit: 10, params: exact },
            { query: vec(4), using: 'b', limit: 10, params: exact },
          ],
          query: { fusion: 'rrf' as const },
          groupBy: 'group',
          groupSize: 2,
          limit: 3,
        },
      ]
      for (const request of requests) {
        const want = stripGroups(await ref.queryGroups(request))
        const got = stripGroups(await routeQueryGroups(set, request))
        expect(got).toEqual(want)
        const shardsOfGroups = got.map((g) => new Set(g.hits.map((h) => shardOf(h.id, S))).size)
        if (request.groupSize >= 3) expect(Math.max(...shardsOfGroups)).toBeGreaterThan(1)
      }
      const bad = { query: vec(6), using: 'a', groupBy: '', limit: 3 }
      expect(await outcome(routeQueryGroups(set, bad))).toBe(await outcome(ref.queryGroups(bad)))
    })

    it('searchMatrix: the shape, and with every point sampled the reference matrix', async () => {
      const small = await routeSearchMatrix(set, { sample: 10, limit: 3, using: 'a' })
      expect(small.sampleIds).toHaveLength(10)
      expect([...small.sampleIds].sort((x, y) => (x as number) - (y as number))).toEqual(small.sampleIds)
      expect(small.nearest).toHaveLength(10)
      for (const [i, row] of small.nearest.entries()) {
        expect(row).toHaveLength(3)
        for (const h of row) expect(small.sampleIds).toContain(h.id)
        expect(row.some((h) => h.id === small.sampleIds[i])).toBe(false)
      }
      // vector b: points lacking it are not sampled
      const all = { sample: N, limit: 4, using: 'b', filter: { must: [{ key: 'n', range: { lt: 6 } }] } }
      const want = await ref.searchMatrix(all)
      const got = await routeSearchMatrix(set, all)
      expect(got).toEqual(want)
      expect(got.sampleIds.every((id) => (id as number) % 10 !== 9)).toBe(true)
      for (const bad of [{ sample: 1 }, { using: 'nope' }, { limit: 0 }]) {
        expect(await outcome(routeSearchMatrix(set, bad))).toBe(await outcome(ref.searchMatrix(bad)))
      }
    })

    it('invalid requests and missing ids throw what the collection throws', async () => {
      const bad: QueryRequest[] = [
        { query: [1, 2, 3], using: 'a' },
        { query: vec(6), using: 'nope' },
        { query: vec(6) },
        { query: { fusion: 'rrf' } },
        { query: { orderBy: 'price' }, scoreThreshold: 1 },
        { query: vec(6), using: 'a', limit: 0 },
        { query: vec(6), using: 'a', filter: { must: [{ key: 'n', match: {} }] } as never },
        { query: 100_000, using: 'a' },
        { query: { recommend: { positive: [1, 999_999] } }, using: 'a' },
        { query: { discover: { target: 3, context: [{ positive: 1, negative: 'not-an-id' }] } }, using: 'a' },
        { query: 9, using: 'b' }, // 9 lacks vector b
        { prefetch: [{ query: 424_242, using: 'a' }], query: { fusion: 'rrf' } },
        { query: { orderBy: 'n' } }, // no range index
      ]
      for (const request of bad) {
        const want = await outcome(ref.query(request))
        expect(want).not.toBe('ok')
        expect(await outcome(routeQuery(set, request))).toBe(want)
      }
    })
  })
}
