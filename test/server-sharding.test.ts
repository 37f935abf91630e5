// Local sharding over the Qdrant REST API with the official @qdrant/js-client-rest against a real
// server: `shard_number` at creation (refused outside 1..64, nothing created), reported by
// `GET /collections/{c}` and `GET /collections/{c}/cluster`, and a 3-shard collection answering
// every read exactly as a `shard_number: 1` collection holding the same points (exact search).
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { shardOf } from '../src/shards/routing.js'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const DIM = 12
const SHARDS = 3
const CITIES = ['Berlin', 'London', 'Paris', 'Madrid', 'Oslo'] as const
const ONE = 'one'
const MANY = 'many'

type Id = number | string
interface WirePoint {
  id: Id
  vector: number[]
  payload: { city: string; year: number; weight?: number; label: string }
}

const r = rng(14_0002)
const vec = (dim = DIM) => Array.from({ length: dim }, () => r() * 2 - 1)
const hex = (n: number) => Array.from({ length: n }, () => Math.floor(r() * 16).toString(16)).join('')
// integer ids with gaps, then a few UUIDs (they sort after integers in a scroll)
const IDS: Id[] = [
  ...Array.from({ length: 380 }, (_, i) => 2 * i + (i % 3 === 0 ? 1 : 0)),
  ...Array.from({ length: 20 }, () => `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`),
]
const POINTS: WirePoint[] = IDS.map((id, i) => {
  const payload: WirePoint['payload'] = {
    city: CITIES[Math.floor(r() * CITIES.length)]!,
    year: 2000 + Math.floor(r() * 12),
    label: `L${i}`,
  }
  if (r() < 0.9) payload.weight = Math.round(r() * 1e4) / 100
  return { id, vector: vec(), payload }
})
const QUERIES = Array.from({ length: 4 }, () => vec())
const INT_IDS = IDS.filter((id): id is number => typeof id === 'number')
const onShard = (s: number, nth = 0) => INT_IDS.filter((id) => shardOf(id, SHARDS) === s)[nth]!

const FILTERS = [
  undefined,
  { must: [{ key: 'city', match: { value: 'Paris' } }] },
  {
    must: [{ key: 'year', range: { gte: 2003, lt: 2008 } }],
    must_not: [{ key: 'city', match: { value: 'Oslo' } }],
  },
  {
    should: [
      { has_id: [onShard(0), onShard(1), onShard(2), IDS[390]!, 3] },
      { key: 'year', match: { value: 2011 } },
    ],
  },
]

/** Hits without `version` (each shard has its own WAL, so versions are per shard). */
function hits<T extends { version?: number }>(list: readonly T[]): Omit<T, 'version'>[] {
  return list.map(({ version: _, ...rest }) => rest)
}

function perShard(ids: readonly Id[], shards = SHARDS): number[] {
  const counts = new Array<number>(shards).fill(0)
  for (const id of ids) counts[shardOf(id, shards)]!++
  return counts
}

describe('sharded collections over REST (Qdrant JS client)', () => {
  let srv: TestServer
  let client: QdrantClient

  /** Runs `read` on the 1-shard and the 3-shard collection; expects equal answers and returns the 1-shard one. */
  async function same<T>(
    read: (name: string) => Promise<T>,
    strip: (x: T) => unknown = (x) => x,
  ): Promise<T> {
    const want = await read(ONE)
    const got = await read(MANY)
    expect(strip(got)).toEqual(strip(want))
    return want
  }

  async function create(name: string, shards?: number): Promise<void> {
    expect(
      await client.createCollection(name, {
        vectors: { size: DIM, distance: 'Euclid' },
        ...(shards === undefined ? {} : { shard_number: shards }),
      }),
    ).toBe(true)
  }

  async function fill(name: string, points: readonly WirePoint[] = POINTS): Promise<void> {
    await client.upsert(name, { wait: true, points: points.slice(0, 150) })
    await client.createPayloadIndex(name, { field_name: 'city', field_schema: 'keyword', wait: true })
    await client.createPayloadIndex(name, {
      field_name: 'year',
      field_schema: { type: 'integer', lookup: true, range: true },
      wait: true,
    })
    await client.createPayloadIndex(name, { field_name: 'weight', field_schema: 'float', wait: true })
    for (let i = 150; i < points.length; i += 125) {
      await client.upsert(name, { wait: true, points: points.slice(i, i + 125) })
    }
  }

  /** The comparisons below mean something only if MANY really is split: checked at the start of each. */
  async function expectSharded(name = MANY): Promise<void> {
    expect((await client.getCollection(name)).config.params.shard_number).toBe(SHARDS)
    expect((await client.collectionClusterInfo(name)).shard_count).toBe(SHARDS)
  }

  /** Every page of a scroll by id: ids and next_page_offset. */
  async function pages(name: string, limit: number, filter?: (typeof FILTERS)[number]) {
    const out: { ids: Id[]; next: unknown }[] = []
    let offset: Id | undefined
    for (let guard = 0; guard < 500; guard++) {
      const page = await client.scroll(name, {
        limit,
        with_payload: false,
        ...(filter ? { filter } : {}),
        ...(offset === undefined ? {} : { offset }),
      })
      out.push({ ids: page.points.map((p) => p.id), next: page.next_page_offset ?? null })
      if (page.next_page_offset === null || page.next_page_offset === undefined) return out
      offset = page.next_page_offset as Id
    }
    throw new Error('scroll did not end')
  }

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await create(ONE)
    await create(MANY, SHARDS)
    await fill(ONE)
    await fill(MANY)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('GET /collections/{c} reports shard_number (3, and 1 for a collection created without it)', async () => {
    const many = await client.getCollection(MANY)
    expect(many.config.params.shard_number).toBe(3)
    expect(many.points_count).toBe(POINTS.length)
    const one = await client.getCollection(ONE)
    expect(one.config.params.shard_number).toBe(1)
    expect(many.config.params.vectors).toEqual(one.config.params.vectors)
    expect(many.payload_schema).toEqual(one.payload_schema)
    const raw = await call(srv.url, 'GET', `/collections/${MANY}`)
    expect(raw.status).toBe(200)
    expect(raw.body.result.config.params.shard_number).toBe(3)
  })

  it('GET /collections/{c}/cluster: three active local shards holding the points routed to them', async () => {
    const expected = perShard(IDS)
    for (const n of expected) expect(n).toBeGreaterThan(0)
    const info = await client.collectionClusterInfo(MANY)
    expect(info).toMatchObject({
      peer_id: expect.any(Number),
      shard_count: 3,
      local_shards: expected.map((points_count, shard_id) => ({ shard_id, points_count, state: 'Active' })),
      remote_shards: [],
      shard_transfers: [],
    })
    expect(info.local_shards.reduce((s, x) => s + x.points_count, 0)).toBe(POINTS.length)
    const one = await client.collectionClusterInfo(ONE)
    expect(one).toMatchObject({
      peer_id: info.peer_id,
      shard_count: 1,
      local_shards: [{ shard_id: 0, points_count: POINTS.length, state: 'Active' }],
      remote_shards: [],
      shard_transfers: [],
    })
    const raw = await call(srv.url, 'GET', `/collections/${MANY}/cluster`)
    expect(raw.status).toBe(200)
    expect(raw.body.result.shard_count).toBe(3)
    expect((await apiError(client.collectionClusterInfo('nowhere'))).status).toBe(404)
  })

  it('refuses shard_number 0, 65, 1.5, "3" and -1 with 400 and creates nothing', async () => {
    for (const bad of [0, 65, 1.5, '3', -1]) {
      const res = await call(srv.url, 'PUT', '/collections/bad', {
        vectors: { size: DIM, distance: 'Euclid' },
        shard_number: bad,
      })
      expect(res.status, `shard_number ${JSON.stringify(bad)}`).toBe(400)
      expect(await client.collectionExists('bad')).toEqual({ exists: false })
    }
    const viaClient = await apiError(
      client.createCollection('bad', { vectors: { size: DIM, distance: 'Euclid' }, shard_number: 65 }),
    )
    expect(viaClient.status).toBe(400)
    expect((await client.getCollections()).collections.map((c) => c.name).sort()).toEqual([MANY, ONE])
    expect((await call(srv.url, 'GET', '/collections/bad')).status).toBe(404)
  })

  it('search and searchBatch (exact) equal the 1-shard collection', async () => {
    await expectSharded()
    for (const vector of QUERIES) {
      for (const filter of FILTERS) {
        const f = filter ? { filter } : {}
        const top = await same(
          (c) => client.search(c, { vector, limit: 10, params: { exact: true }, with_payload: true, ...f }),
          hits,
        )
        expect(top.length).toBeGreaterThan(0)
        await same(
          (c) => client.search(c, { vector, limit: 5, offset: 4, params: { exact: true }, ...f }),
          hits,
        )
        const threshold = top[Math.floor(top.length / 2)]!.score
        await same(
          (c) =>
            client.search(c, {
              vector,
              limit: 100,
              score_threshold: threshold,
              params: { exact: true },
              ...f,
            }),
          hits,
        )
      }
    }
    const searches = QUERIES.map((vector, i) => ({
      vector,
      limit: 7,
      params: { exact: true },
      ...(FILTERS[i] ? { filter: FILTERS[i] } : {}),
    }))
    const batch = await same(
      (c) => client.searchBatch(c, { searches }),
      (b) => b.map(hits),
    )
    expect(batch[0]).toHaveLength(7)
  })

  it('query (nearest by vector and by id, fusion, order_by) and query groups equal', async () => {
    await expectSharded()
    const exact = { exact: true }
    const points = (res: { points: { version?: number }[] }) => hits(res.points)
    const r1 = await same(
      (c) => client.query(c, { query: QUERIES[0]!, params: exact, limit: 10, with_payload: true }),
      points,
    )
    expect(r1.points).toHaveLength(10)
    await same(
      (c) =>
        client.query(c, {
          query: { nearest: QUERIES[1]! },
          params: exact,
          filter: FILTERS[2]!,
          limit: 6,
          offset: 2,
        }),
      points,
    )
    for (const id of [onShard(0, 3), onShard(1, 3), onShard(2, 3), IDS[395]!]) {
      const byId = await same((c) => client.query(c, { query: id, params: exact, limit: 8 }), points)
      expect(byId.points.map((p) => p.id)).not.toContain(id)
    }
    const prefetch = [
      { query: QUERIES[2]!, params: exact, limit: 25 },
      { query: QUERIES[3]!, params: exact, filter: FILTERS[1]!, limit: 25 },
    ]
    const fused = await same(
      (c) => client.query(c, { prefetch, query: { fusion: 'rrf' }, limit: 12 }),
      points,
    )
    expect(fused.points).toHaveLength(12)
    await same(
      (c) =>
        client.query(c, {
          query: { order_by: { key: 'weight', direction: 'desc' } },
          limit: 20,
          with_payload: true,
        }),
      points,
    )
    await same(
      (c) => client.query(c, { query: { order_by: 'year' }, filter: FILTERS[1]!, limit: 30 }),
      points,
    )
    const groups = await same(
      (c) =>
        client.queryGroups(c, {
          query: QUERIES[0]!,
          params: exact,
          group_by: 'city',
          group_size: 3,
          limit: 4,
        }),
      (g) => g.groups.map((x) => ({ id: x.id, hits: hits(x.hits) })),
    )
    expect(groups.groups).toHaveLength(4)
  })

  it('recommend (ids on several shards and a raw vector) equals', async () => {
    await expectSharded()
    const positive = [onShard(0, 5), onShard(2, 5)]
    const negative = [onShard(1, 5)]
    for (const strategy of ['average_vector', 'best_score'] as const) {
      const rec = await same(
        (c) =>
          client.recommend(c, {
            positive,
            negative,
            strategy,
            limit: 10,
            params: { exact: true },
            with_payload: true,
          }),
        hits,
      )
      expect(rec).toHaveLength(10)
      for (const id of [...positive, ...negative]) expect(rec.map((h) => h.id)).not.toContain(id)
    }
    await same(
      (c) =>
        client.query(c, {
          query: { recommend: { positive: [onShard(1, 6), QUERIES[0]!], negative: [onShard(0, 6)] } },
          params: { exact: true },
          filter: FILTERS[2]!,
          limit: 8,
        }),
      (res) => hits(res.points),
    )
  })

  it('scroll (the same pages and next_page_offset chain, order_by), count, facet and retrieve equal', async () => {
    await expectSharded()
    const all = await same((c) => pages(c, 33))
    expect(all.flatMap((p) => p.ids)).toHaveLength(POINTS.length)
    for (const filter of FILTERS.slice(1)) {
      const p = await same((c) => pages(c, 9, filter))
      expect(p.flatMap((x) => x.ids).length).toBeGreaterThan(0)
    }
    await same((c) => client.scroll(c, { limit: 15, with_payload: true, with_vector: true }))
    await same((c) =>
      client.scroll(c, { limit: 25, order_by: { key: 'weight', start_from: 40 }, with_payload: true }),
    )
    await same((c) => client.scroll(c, { limit: 25, order_by: { key: 'year', direction: 'desc' } }))

    expect((await same((c) => client.count(c, { exact: true }))).count).toBe(POINTS.length)
    for (const filter of FILTERS.slice(1)) {
      expect((await same((c) => client.count(c, { filter: filter!, exact: true }))).count).toBeGreaterThan(0)
    }
    const cities = await same((c) => client.facet(c, { key: 'city', exact: true }))
    expect(cities.hits.reduce((s, h) => s + h.count, 0)).toBe(POINTS.length)
    await same((c) => client.facet(c, { key: 'year', limit: 4, filter: FILTERS[2]!, exact: true }))

    const ids = [onShard(2, 7), 3, IDS[385]!, onShard(0, 7), onShard(1, 7)]
    const got = await same((c) => client.retrieve(c, { ids, with_payload: true, with_vector: true }))
    expect(got).toHaveLength(4)
  })

  it('writes through the client keep a 3-shard collection equal to a 1-shard one', async () => {
    await create('w_one')
    await create('w_many', SHARDS)
    await fill('w_one', POINTS.slice(0, 200))
    await fill('w_many', POINTS.slice(0, 200))
    await expectSharded('w_many')
    const both = async (write: (c: string) => Promise<unknown>) => {
      await write('w_one')
      await write('w_many')
      expect(await pages('w_many', 500)).toEqual(await pages('w_one', 500))
      const [a, b] = await Promise.all(
        ['w_one', 'w_many'].map((c) =>
          client.scroll(c, { limit: 500, with_payload: true, with_vector: true }),
        ),
      )
      expect(b).toEqual(a)
      const count = (await client.count('w_one', { exact: true })).count
      expect((await client.count('w_many', { exact: true })).count).toBe(count)
      const info = await client.collectionClusterInfo('w_many')
      expect(info.local_shards.reduce((s, x) => s + x.points_count, 0)).toBe(count)
    }
    const ids = [onShard(0, 1), onShard(1, 1), onShard(2, 1)]
    await both((c) => client.setPayload(c, { payload: { flag: true }, points: ids, wait: true }))
    await both((c) => client.setPayload(c, { payload: { band: 'b' }, filter: FILTERS[1]!, wait: true }))
    await both((c) => client.deletePayload(c, { keys: ['weight'], filter: FILTERS[2]!, wait: true }))
    await both((c) => client.delete(c, { points: [onShard(0, 2), onShard(2, 2), 3], wait: true }))
    await both((c) =>
      client.delete(c, { filter: { must: [{ key: 'city', match: { value: 'Berlin' } }] }, wait: true }),
    )
    expect(
      (await client.count('w_many', { filter: { must: [{ key: 'flag', match: { value: true } }] } })).count,
    ).toBe(3)

    // a batch with one wrong-dimension point (routed to another shard than the others) writes nothing
    const fresh = Array.from({ length: 60 }, (_, i) => 9000 + i)
    const good = fresh.filter((id) => shardOf(id, SHARDS) === 0).slice(0, 6)
    const badId = fresh.find((id) => shardOf(id, SHARDS) === 2)!
    const batch = [
      ...good.map((id) => ({ id, vector: vec(), payload: { city: 'Rome' } })),
      { id: badId, vector: vec(DIM - 2) },
    ]
    const before = await client.collectionClusterInfo('w_many')
    const refusedOne = await apiError(client.upsert('w_one', { wait: true, points: batch }))
    const refusedMany = await apiError(client.upsert('w_many', { wait: true, points: batch }))
    expect(refusedOne.status).toBe(400)
    expect(refusedMany.status).toBe(refusedOne.status)
    // a part written anyway by some shard lands before the barrier (a write to every shard, awaited)
    await new Promise((done) => setTimeout(done, 50))
    const never = { must: [{ key: 'never_set', match: { value: 'x' } }] }
    for (const c of ['w_one', 'w_many']) await client.delete(c, { filter: never, wait: true })
    expect(await client.retrieve('w_many', { ids: [...good, badId] })).toEqual([])
    expect(await client.collectionClusterInfo('w_many')).toEqual(before)
    await both(async () => undefined)

    expect(await client.deleteCollection('w_many')).toBe(true)
    expect(await client.collectionExists('w_many')).toEqual({ exists: false })
    expect((await apiError(client.collectionClusterInfo('w_many'))).status).toBe(404)
  })
})
