// Defects a review of the point model found, each pinned by the behaviour a user sees: IVF
// placeholders after training survive a reopen, automatic IVF lists do not retrain on every batch,
// a batch into several dense indexes never hides committed points, an id updated twice in one call
// gets both updates, `hnsw.m = 0` means exact search, multivector Euclid scores as Qdrant's, vectors
// named like VectorParams fields, and points/batch errors in Qdrant's names.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import { call, startTestServer } from './server-harness.js'

describe('point model regressions', () => {
  let dir: string
  let db: Quiver
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-pm-reg-'))
    db = await Quiver.open(dir)
  })
  afterEach(async () => {
    await db.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it('a point without the IVF vector, stored after the lists trained, survives a reopen', async () => {
    const c = await db.createCollection('c', {
      vectors: {
        iv: { dimension: 2, metric: 'Euclid', index: { type: 'ivf', nlist: 2 } },
        b: { dimension: 2, metric: 'Dot' },
      },
    })
    await c.upsert(Array.from({ length: 200 }, (_, i) => ({ id: i, vector: { iv: [i, 1], b: [1, i] } })))
    await c.upsert([{ id: 1000, vector: { b: [1, 1] } }])
    expect(c.checkIntegrity()).toEqual({ ok: true, problems: [] })
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('c')
    expect(await again.count()).toBe(201)
    expect((await again.search([7.2, 1], { using: 'iv', limit: 1 }))[0]!.id).toBe(7)
  })

  it('automatic IVF lists of a vector most points lack do not retrain on every batch', async () => {
    const c = await db.createCollection('c', {
      vectors: {
        iv: { dimension: 2, metric: 'Euclid', index: { type: 'ivf' } },
        b: { dimension: 2, metric: 'Dot' },
      },
    })
    await c.upsert(
      Array.from({ length: 400 }, (_, i) => ({ id: i, vector: { iv: [i % 50, i % 7], b: [1, i] } })),
    )
    await c.upsert(Array.from({ length: 4000 }, (_, i) => ({ id: 10_000 + i, vector: { b: [1, i] } })))
    const seg = () => (c as unknown as { holder: { appendable: { mutations: number } } }).holder.appendable
    const before = seg().mutations
    await c.upsert([{ id: 99_999, vector: { b: [0, 1] } }])
    // one upsert of one point: one mutation, no retraining of the lists
    expect(seg().mutations - before).toBe(1)
  })

  it('an id updated twice in one updateVectors call gets both updates', async () => {
    const c = await db.createCollection('c', {
      vectors: { a: { dimension: 1, metric: 'Dot' }, b: { dimension: 1, metric: 'Dot' } },
    })
    await c.upsert([{ id: 1, vector: { a: [1], b: [1] } }])
    await c.updateVectors([
      { id: 1, vector: { a: [-1] } },
      { id: 1, vector: { b: [-1] } },
    ])
    expect((await c.get([1], { withVector: true }))[0]!.vector).toEqual({ a: [-1], b: [-1] })
  })

  it('hnsw m = 0 makes a vector exact-only (Qdrant: no graph); a multivector accepts it too', async () => {
    const c = await db.createCollection('c', {
      vectors: {
        rerank: { dimension: 3, metric: 'Euclid', hnsw: { m: 0 } },
        colbert: { dimension: 2, metric: 'Euclid', multivector: { comparator: 'max_sim' }, hnsw: { m: 0 } },
      },
    })
    await c.upsert(
      Array.from({ length: 300 }, (_, i) => ({
        id: i,
        vector: {
          rerank: [i, i % 3, 0],
          colbert: [
            [i, 0],
            [0, i],
          ],
        },
      })),
    )
    expect((await c.search([41.2, 2, 0], { using: 'rerank', limit: 3 })).map((h) => h.id)).toEqual([
      41, 40, 43,
    ])
    // Qdrant's max_sim on Euclid: sum of the smallest squared L2 per query row, score = its root
    const [top] = (
      await c.query({
        query: [
          [10, 0],
          [0, 11],
        ],
        using: 'colbert',
        limit: 1,
      })
    ).points
    expect(top!.id).toBe(10)
    expect(top!.score).toBeCloseTo(1, 6) // rows [10,0],[0,10]: 0 + 1 -> sqrt(1)
    expect(c.config.vectors.get('rerank')!.hnsw.m).toBe(0)
  })

  it('a batch into several dense indexes never hides the points already committed', async () => {
    const c = await db.createCollection('c', {
      vectors: { a: { dimension: 2, metric: 'Euclid' }, b: { dimension: 2, metric: 'Euclid' } },
    })
    await c.upsert(Array.from({ length: 300 }, (_, i) => ({ id: i, vector: { a: [i, 0], b: [0, i] } })))
    const big = c.upsert(
      Array.from({ length: 6000 }, (_, i) => ({ id: 1000 + i, vector: { a: [5 + i / 1e4, 0], b: [0, 5] } })),
    )
    // while the batch is being linked (on the pool), searches of `a` still find 10 committed points
    let seen = 0
    let done = false
    const finished = big.then(() => {
      done = true
    })
    while (!done) {
      const hits = await c.search([5, 0], { using: 'a', limit: 10 })
      expect(hits.length).toBe(10)
      seen++
      await new Promise<void>((r) => setImmediate(r))
    }
    await finished
    expect(seen).toBeGreaterThan(0)
    expect(await c.count()).toBe(6300)
  })
})

describe('point model regressions over REST', () => {
  it('vectors named "size" / "distance" are named vectors; points/batch errors use Qdrant names', async () => {
    const srv = await startTestServer()
    try {
      const created = await call(srv.url, 'PUT', '/collections/c', {
        vectors: { size: { size: 2, distance: 'Dot' }, distance: { size: 1, distance: 'Euclid' } },
      })
      expect(created.status).toBe(200)
      const info = await call(srv.url, 'GET', '/collections/c')
      expect(info.body.result.config.params.vectors).toEqual({
        size: { size: 2, distance: 'Dot' },
        distance: { size: 1, distance: 'Euclid' },
      })
      const bad = await call(srv.url, 'POST', '/collections/c/points/batch', {
        operations: [
          { upsert: { points: [{ id: 1, vector: { size: [1, 2], distance: [3] } }] } },
          { update_vectors: { points: [{ id: 2, vector: { size: [1, 2, 3] } }] } },
        ],
      })
      expect(bad.status).toBe(400)
      expect(bad.body.status.error).toMatch(
        /^operations\[1\]\.update_vectors\.points\[0\]\.vector\.size has dimension 3/,
      )
      expect((await call(srv.url, 'POST', '/collections/c/points/count', {})).body.result.count).toBe(0)
    } finally {
      await srv.close()
    }
  })
})

describe('points/batch existence in order', () => {
  it('an operation on an id an earlier operation deleted is POINT_NOT_FOUND naming it; nothing is written', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-batch-order-'))
    const db = await Quiver.open(dir)
    try {
      const c = await db.createCollection('c', { dimension: 2, metric: 'Dot', hnsw: { m: 0 } })
      expect(c.config.vectors.get('')!.hnsw.m).toBe(0) // collection-level m = 0 (no graph)
      await c.upsert([{ id: 1, vector: [1, 0] }])
      await expect(
        c.batchUpdate([
          { upsert: { points: [{ id: 7, vector: [0, 1] }] } },
          { delete: { selector: { ids: [7, 1] } } },
          { setPayload: { payload: { a: 1 }, selector: { ids: [7] } } },
        ]),
      ).rejects.toMatchObject({
        code: 'POINT_NOT_FOUND',
        message: expect.stringMatching(/^operations\[2\]\.setPayload\.selector: no point with id 7/),
      })
      await expect(
        c.batchUpdate([
          { upsert: { points: [{ id: 8, vector: [0, 1] }] } },
          { clearPayload: { selector: { ids: [99] } } },
        ]),
      ).rejects.toMatchObject({
        code: 'POINT_NOT_FOUND',
        message: expect.stringMatching(/^operations\[1\]\.clearPayload/),
      })
      expect(await c.count()).toBe(1)
      // in order: upsert 7, set its payload, delete 1
      await c.batchUpdate([
        { upsert: { points: [{ id: 7, vector: [0, 1] }] } },
        { setPayload: { payload: { a: 1 }, selector: { ids: [7] } } },
        { delete: { selector: { ids: [1] } } },
      ])
      expect(await c.get([1, 7])).toEqual([{ id: 7, payload: { a: 1 } }])
    } finally {
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('legacy search/groups on named vectors', () => {
  it('searches the vector a NamedVector names, and prints matrix scores as float32', async () => {
    const srv = await startTestServer()
    try {
      await call(srv.url, 'PUT', '/collections/g', { vectors: { dense: { size: 2, distance: 'Dot' } } })
      const points = Array.from({ length: 6 }, (_, id) => ({
        id,
        vector: { dense: [1, id / 10] },
        payload: { cat: id % 2 },
      }))
      await call(srv.url, 'PUT', '/collections/g/points?wait=true', { points })
      const r = await call(srv.url, 'POST', '/collections/g/points/search/groups', {
        vector: { name: 'dense', vector: [0, 1] },
        group_by: 'cat',
        group_size: 1,
        limit: 2,
      })
      expect(r.status).toBe(200)
      expect(r.body.result.groups.map((g: { hits: { id: number }[] }) => g.hits[0]!.id)).toEqual([5, 4])
      const m = await call(srv.url, 'POST', '/collections/g/points/search/matrix/pairs', {
        sample: 6,
        limit: 1,
        using: 'dense',
      })
      for (const p of m.body.result.pairs as { score: number }[])
        expect(String(p.score).replace('-', '').replace('.', '').length).toBeLessThanOrEqual(9)
    } finally {
      await srv.close()
    }
  })
})
