// The same queries answered over HTTP (official Qdrant client) and in-process return the same ids
// and the same scores, bit for bit: the server adds no reordering, rounding or filtering of its own.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/db/quiver.js'
import { buildServer } from '../src/server/index.js'
import type { Collection, Filter } from '../src/types.js'
import { rng } from './server-harness.js'

const DIM = 16
const N = 400
const NAME = 'parity'

describe.each(['Cosine', 'Euclid'] as const)('HTTP and in-process parity (%s)', (metric) => {
  let dir: string
  let db: Quiver
  let app: FastifyInstance
  let collection: Collection
  let client: QdrantClient
  const rand = rng(metric === 'Cosine' ? 7 : 11)
  const vec = (): number[] => Array.from({ length: DIM }, () => rand() * 2 - 1)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-parity-'))
    db = await Quiver.open(dir)
    app = buildServer({ db })
    const url = await app.listen({ host: '127.0.0.1', port: 0 })
    client = new QdrantClient({ url, checkCompatibility: false })
    await client.createCollection(NAME, { vectors: { size: DIM, distance: metric } })
    const points = Array.from({ length: N }, (_, i) => ({
      id: i,
      vector: vec(),
      payload: { group: i % 5, weight: Math.floor(rand() * 100), tag: i % 3 === 0 ? 'a' : 'b' },
    }))
    for (let i = 0; i < N; i += 100) await client.upsert(NAME, { points: points.slice(i, i + 100) })
    collection = await db.getCollection(NAME)
  })
  afterAll(async () => {
    await app?.close()
    await db?.close()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  const FILTERS: Array<Filter | undefined> = [
    undefined,
    { must: [{ key: 'group', match: { value: 2 } }] },
    {
      must: [{ key: 'weight', range: { gte: 20, lt: 70 } }],
      must_not: [{ key: 'tag', match: { value: 'a' } }],
    },
    { should: [{ key: 'group', match: { any: [0, 4] } }, { has_id: [1, 2, 3] }] },
  ]

  it('returns the same hits for query, legacy search and batch search', async () => {
    expect(await collection.count()).toBe(N)
    for (let q = 0; q < 6; q++) {
      const query = vec()
      for (const filter of FILTERS) {
        for (const exact of [false, true]) {
          const limit = 5 + q * 3
          const local = await collection.search(query, { limit, exact, ...(filter ? { filter } : {}) })
          expect(local.length).toBeGreaterThan(0)
          const expected = local.map((h) => ({ id: h.id, score: Math.fround(h.score) }))

          const viaQuery = await client.query(NAME, {
            query,
            limit,
            params: { exact },
            ...(filter ? { filter } : {}),
          })
          expect(viaQuery.points.map((h) => ({ id: h.id, score: Math.fround(h.score) }))).toEqual(expected)

          const viaSearch = await client.search(NAME, {
            vector: query,
            limit,
            params: { exact },
            with_payload: false,
            ...(filter ? { filter } : {}),
          })
          expect(viaSearch.map((h) => ({ id: h.id, score: Math.fround(h.score) }))).toEqual(expected)
        }
      }
    }
    const queries = [vec(), vec(), vec()]
    const local = await collection.searchBatch(
      queries.map((vector, i) => ({ vector, limit: 7, filter: FILTERS[i] ?? null })),
    )
    const remote = await client.searchBatch(NAME, {
      searches: queries.map((vector, i) => ({ vector, limit: 7, filter: FILTERS[i] ?? null })),
    })
    expect(remote.map((hits) => hits.map((h) => ({ id: h.id, score: Math.fround(h.score) })))).toEqual(
      local.map((hits) => hits.map((h) => ({ id: h.id, score: Math.fround(h.score) }))),
    )
  })

  it('returns the same counts and scroll pages', async () => {
    for (const filter of FILTERS) {
      const opts = filter ? { filter } : {}
      expect((await client.count(NAME, opts)).count).toBe(await collection.count(opts))
      const local = await collection.scroll({ ...opts, limit: 25, withPayload: true })
      const remote = await client.scroll(NAME, { ...opts, limit: 25 })
      expect(remote.points).toEqual(local.points)
      expect(remote.next_page_offset ?? null).toEqual(local.nextPageOffset)
    }
  })
})
