// The official @qdrant/js-client-rest, used unchanged against a real Quiver server: every supported
// endpoint, checking the actual results.
import { readFileSync } from 'node:fs'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './server-harness.js'

const UUID = '5c56c793-69f3-4fbf-87e6-c4bf54c28c26'
const COLLECTION = 'docs'

// Dot product over float32-exact numbers, so stored vectors and scores can be compared exactly.
const POINTS = [
  { id: 1, vector: [1, 0, 0, 0], payload: { city: 'Berlin', n: 1 } },
  { id: 2, vector: [0.5, 0.5, 0, 0], payload: { city: 'London', n: 2 } },
  { id: 3, vector: [0, 1, 0, 0], payload: { city: 'London', n: 3 } },
  { id: 4, vector: [0, 0, 1, 0], payload: { city: 'Moscow', n: 4 } },
  { id: 5, vector: [0.25, 0.25, 0.25, 0.25], payload: { city: 'Berlin', n: 5 } },
  { id: 6, vector: [0, 0, 0, 1] },
]
const BATCH = {
  ids: [7, 8, UUID],
  vectors: [
    [1.5, 0, 0, 0],
    [0, 0, 0.5, 0.5],
    [0.625, 0, 0.25, 0],
  ],
  payloads: [{ city: 'Paris', n: 7 }, { city: 'London', n: 8 }, null],
}

type Pt = { id: number | string; vector: number[]; payload?: Record<string, unknown> | null }
const ALL: Pt[] = [
  ...POINTS,
  ...BATCH.ids.map((id, i) => ({ id, vector: BATCH.vectors[i]!, payload: BATCH.payloads[i]! })),
]

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, x, i) => s + x * b[i]!, 0)
}

/** Brute-force reference ranking: ids by descending dot product, ties by id as a string. */
function ranking(
  query: number[],
  keep: (p: Pt) => boolean = () => true,
): Array<{ id: number | string; score: number }> {
  return ALL.filter(keep)
    .map((p) => ({ id: p.id, score: dot(query, p.vector) }))
    .sort((a, b) => b.score - a.score)
}

describe('Qdrant JS client against Quiver', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('reports a version that passes the client compatibility check', async () => {
    const info = await client.versionInfo()
    const clientVersion = JSON.parse(
      readFileSync(new URL('../node_modules/@qdrant/js-client-rest/package.json', import.meta.url), 'utf8'),
    ).version as string
    const [cMajor, cMinor] = clientVersion.split('.').map(Number)
    const [sMajor, sMinor] = info.version.split('.').map(Number)
    expect(sMajor).toBe(cMajor)
    expect(Math.abs(sMinor! - cMinor!)).toBeLessThanOrEqual(1)
    expect(info.title).toMatch(/quiver/)
  })

  it('creates a collection and describes it in Qdrant shapes', async () => {
    expect(await client.collectionExists(COLLECTION)).toEqual({ exists: false })
    expect(
      await client.createCollection(COLLECTION, {
        vectors: { size: 4, distance: 'Dot' },
        hnsw_config: { m: 8, ef_construct: 64 },
      }),
    ).toBe(true)
    expect(await client.collectionExists(COLLECTION)).toEqual({ exists: true })
    expect((await client.getCollections()).collections).toContainEqual({ name: COLLECTION })
    const info = await client.getCollection(COLLECTION)
    expect(info.status).toBe('green')
    expect(info.points_count).toBe(0)
    expect(info.config.params.vectors).toEqual({ size: 4, distance: 'Dot' })
    expect(info.config.hnsw_config).toMatchObject({ m: 8, ef_construct: 64 })
    expect(info.payload_schema).toEqual({})
  })

  it('upserts in list form and in batch form', async () => {
    const r1 = await client.upsert(COLLECTION, { wait: true, points: POINTS })
    expect(r1.status).toBe('completed')
    expect(typeof r1.operation_id).toBe('number')
    const r2 = await client.upsert(COLLECTION, { batch: BATCH })
    expect(r2.status).toBe('completed')
    expect((await client.count(COLLECTION)).count).toBe(ALL.length)
    expect((await client.getCollection(COLLECTION)).points_count).toBe(ALL.length)
  })

  it('retrieves points by ids and by id path', async () => {
    const got = await client.retrieve(COLLECTION, { ids: [UUID, 2, 999], with_vector: true })
    const byId = new Map(got.map((r) => [r.id, r]))
    expect(got).toHaveLength(2)
    expect(byId.get(2)).toEqual({ id: 2, payload: { city: 'London', n: 2 }, vector: [0.5, 0.5, 0, 0] })
    expect(byId.get(UUID)).toEqual({ id: UUID, payload: {}, vector: [0.625, 0, 0.25, 0] })
    const noPayload = await client.retrieve(COLLECTION, { ids: [1], with_payload: false })
    expect(noPayload).toEqual([{ id: 1 }])
    const one = await client.api().getPoint({ collection_name: COLLECTION, id: 4 })
    expect(one.data.result).toEqual({ id: 4, payload: { city: 'Moscow', n: 4 }, vector: [0, 0, 1, 0] })
  })

  it('answers query with and without a filter', async () => {
    const q = [0.5, 0.25, 1, 0]
    const res = await client.query(COLLECTION, { query: q, limit: 3, with_payload: true })
    const want = ranking(q).slice(0, 3)
    expect(res.points.map((p) => p.id)).toEqual(want.map((p) => p.id))
    res.points.forEach((p, i) => {
      expect(p.score).toBeCloseTo(want[i]!.score, 5)
    })
    expect(res.points[0]!.payload).toEqual(ALL.find((p) => p.id === want[0]!.id)!.payload ?? {})

    const london = (p: Pt) => p.payload?.city === 'London'
    const filtered = await client.query(COLLECTION, {
      query: { nearest: q },
      filter: { must: [{ key: 'city', match: { value: 'London' } }] },
      limit: 10,
    })
    expect(filtered.points.map((p) => p.id)).toEqual(ranking(q, london).map((p) => p.id))
    expect(filtered.points[0]!.payload).toBeUndefined()

    const exact = await client.query(COLLECTION, {
      query: q,
      params: { exact: true, hnsw_ef: 32 },
      limit: 2,
      offset: 1,
      with_payload: { include: ['n'] },
    })
    expect(exact.points.map((p) => p.id)).toEqual(
      ranking(q)
        .slice(1, 3)
        .map((p) => p.id),
    )
    expect(exact.points.map((p) => p.payload)).toEqual([{ n: 7 }, {}])
  })

  it('answers legacy search and batch search', async () => {
    const q = [1, 0.5, 0, 0.25]
    const hits = await client.search(COLLECTION, {
      vector: q,
      limit: 4,
      filter: { must_not: [{ key: 'city', match: { value: 'Paris' } }] },
      with_payload: { exclude: ['city'] },
    })
    const want = ranking(q, (p) => p.payload?.city !== 'Paris').slice(0, 4)
    expect(hits.map((h) => h.id)).toEqual(want.map((p) => p.id))
    expect(hits[0]!.score).toBeCloseTo(want[0]!.score, 5)
    for (const h of hits) expect(h.payload).not.toHaveProperty('city')

    const batch = await client.searchBatch(COLLECTION, {
      searches: [
        { vector: [0, 0, 1, 0], limit: 2 },
        { vector: [0, 0, 0, 1], limit: 1, with_vector: true },
      ],
    })
    expect(batch).toHaveLength(2)
    expect(batch[0]!.map((h) => h.id)).toEqual(
      ranking([0, 0, 1, 0])
        .slice(0, 2)
        .map((p) => p.id),
    )
    expect(batch[1]!.map((h) => h.id)).toEqual([6])
    expect(batch[1]![0]!.vector).toEqual([0, 0, 0, 1])
  })

  it('scrolls through every point page by page', async () => {
    const seen: Array<number | string> = []
    let offset: number | string | null | undefined
    let pages = 0
    do {
      const page = await client.scroll(COLLECTION, { limit: 4, ...(offset === undefined ? {} : { offset }) })
      expect(page.points.length).toBeLessThanOrEqual(4)
      seen.push(...page.points.map((p) => p.id))
      offset = page.next_page_offset as number | string | null
      pages++
    } while (offset !== null && offset !== undefined && pages < 10)
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8, UUID])
    expect(pages).toBe(3)

    const london = await client.scroll(COLLECTION, {
      filter: { must: [{ key: 'city', match: { value: 'London' } }] },
      with_payload: false,
    })
    expect(london.points).toEqual([{ id: 2 }, { id: 3 }, { id: 8 }])
    expect(london.next_page_offset ?? null).toBeNull()
  })

  it('counts with a filter', async () => {
    expect(
      (await client.count(COLLECTION, { filter: { must: [{ key: 'n', range: { gte: 3, lt: 8 } }] } })).count,
    ).toBe(4)
  })

  it('sets, overwrites, deletes and clears payload', async () => {
    const payloadOf = async (id: number) => (await client.retrieve(COLLECTION, { ids: [id] }))[0]!.payload

    expect((await client.setPayload(COLLECTION, { payload: { tag: 'x' }, points: [1] })).status).toBe(
      'completed',
    )
    expect(await payloadOf(1)).toEqual({ city: 'Berlin', n: 1, tag: 'x' })

    await client.setPayload(COLLECTION, { payload: { meta: { a: 1 } }, points: [2] })
    await client.setPayload(COLLECTION, { payload: { b: 2 }, key: 'meta', points: [2] })
    expect(await payloadOf(2)).toEqual({ city: 'London', n: 2, meta: { a: 1, b: 2 } })

    await client.overwritePayload(COLLECTION, { payload: { only: true }, points: [3] })
    expect(await payloadOf(3)).toEqual({ only: true })

    await client.deletePayload(COLLECTION, { keys: ['city'], points: [1] })
    expect(await payloadOf(1)).toEqual({ n: 1, tag: 'x' })

    await client.clearPayload(COLLECTION, { points: [4] })
    expect(await payloadOf(4)).toEqual({})

    await client.setPayload(COLLECTION, {
      payload: { flagged: true },
      filter: { must: [{ key: 'city', match: { value: 'Berlin' } }] },
    })
    const flagged = await client.scroll(COLLECTION, {
      filter: { must: [{ key: 'flagged', match: { value: true } }] },
      with_payload: false,
    })
    expect(flagged.points.map((p) => p.id)).toEqual([5])
  })

  it('deletes points by ids and by filter', async () => {
    expect((await client.delete(COLLECTION, { points: [1, UUID] })).status).toBe('completed')
    expect((await client.retrieve(COLLECTION, { ids: [1, UUID] })).length).toBe(0)
    await client.delete(COLLECTION, {
      filter: { must: [{ key: 'city', match: { any: ['London', 'Paris'] } }] },
    })
    const left = await client.scroll(COLLECTION, { with_payload: false, limit: 100 })
    expect(left.points.map((p) => p.id)).toEqual([3, 4, 5, 6])
    expect((await client.count(COLLECTION)).count).toBe(4)
    const hits = await client.query(COLLECTION, { query: [1, 1, 1, 1], limit: 10 })
    expect(hits.points.map((p) => p.id).sort()).toEqual([3, 4, 5, 6])
  })

  it('deletes the collection', async () => {
    expect(await client.deleteCollection(COLLECTION)).toBe(true)
    expect(await client.collectionExists(COLLECTION)).toEqual({ exists: false })
    expect((await client.getCollections()).collections).toEqual([])
    expect(await client.deleteCollection(COLLECTION)).toBe(false)
  })
})
