// The official @qdrant/js-client-rest, unchanged, against a real Quiver server on 127.0.0.1: facet,
// scroll order_by, query order_by, the distance matrix (pairs, offsets), queryGroups (with_lookup),
// searchPointGroups, recommendPointGroups, discoverPoints and discoverBatchPoints, each checked
// against brute force over the points sent; and the client's view of a refusal (status, message).
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const BOOKS = 'books'
const AUTHORS = 'authors'

interface Book {
  id: number
  vector: number[]
  payload: { author: string; year: number; price: number }
}

// Dot over float32-exact components (multiples of 1/4): every score below is exact
const BOOKS_DATA: Book[] = [
  [1, [1, 0, 0], 'ann', 1990, 10],
  [2, [0.75, 0.25, 0], 'ann', 2001, 12.5],
  [3, [0.5, 0.5, 0], 'ann', 2010, 8],
  [4, [0, 1, 0], 'bob', 1985, 20],
  [5, [0, 0.75, 0.25], 'bob', 2020, 15],
  [6, [0, 0, 1], 'cid', 1999, 5],
  [7, [0.25, 0, 0.75], 'cid', 2005, 30],
  [8, [0.5, 0, 0.5], 'dee', 2015, 7.5],
].map(([id, vector, author, year, price]) => ({
  id: id as number,
  vector: vector as number[],
  payload: { author: author as string, year: year as number, price: price as number },
}))

const dot = (a: readonly number[], b: readonly number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0)
const byId = new Map(BOOKS_DATA.map((b) => [b.id, b]))

/** Books by descending dot with `q` (ties by id), optionally without some ids. */
function ranked(q: number[], without: readonly number[] = []): Book[] {
  return BOOKS_DATA.filter((b) => !without.includes(b.id)).sort(
    (a, b) => dot(q, b.vector) - dot(q, a.vector) || a.id - b.id,
  )
}

/** Groups of a ranking by author: order of each group's best hit, `size` hits each. */
function groupsOf(list: Book[], size: number, limit: number): { id: string; hits: number[] }[] {
  const m = new Map<string, number[]>()
  for (const b of list) {
    const hits = m.get(b.payload.author) ?? []
    m.set(b.payload.author, hits)
    if (hits.length < size) hits.push(b.id)
  }
  return [...m].slice(0, limit).map(([id, hits]) => ({ id, hits }))
}

const sigmoid = (x: number) => 0.5 * (x / (1 + Math.abs(x)) + 1)

describe('Qdrant JS client: facet, order_by, matrix, groups, discover', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection(BOOKS, { vectors: { size: 3, distance: 'Dot' } })
    await client.upsert(BOOKS, { wait: true, points: BOOKS_DATA })
    await client.createPayloadIndex(BOOKS, { field_name: 'author', field_schema: 'keyword', wait: true })
    await client.createPayloadIndex(BOOKS, {
      field_name: 'year',
      field_schema: { type: 'integer', range: true, lookup: true },
      wait: true,
    })
    await client.createPayloadIndex(BOOKS, { field_name: 'price', field_schema: 'float', wait: true })
    await client.createCollection(AUTHORS, { vectors: { size: 1, distance: 'Dot' } })
    // group ids must be point ids to be looked up: the year groups (integers) find these two
    await client.upsert(AUTHORS, {
      wait: true,
      points: [
        { id: 1990, vector: [1], payload: { decade: 'nineties' } },
        { id: 2010, vector: [1], payload: { decade: 'tens' } },
      ],
    })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('facet counts values, ordered by count then value, with a filter', async () => {
    expect(await client.facet(BOOKS, { key: 'author' })).toEqual({
      hits: [
        { value: 'ann', count: 3 },
        { value: 'bob', count: 2 },
        { value: 'cid', count: 2 },
        { value: 'dee', count: 1 },
      ],
    })
    const recent = await client.facet(BOOKS, {
      key: 'author',
      limit: 2,
      exact: true,
      filter: { must: [{ key: 'year', range: { gte: 2000 } }] },
    })
    expect(recent).toEqual({
      hits: [
        { value: 'ann', count: 2 },
        { value: 'bob', count: 1 },
      ],
    })
    expect(await client.facet(BOOKS, { key: 'year', limit: 1 })).toEqual({
      hits: [{ value: 1985, count: 1 }],
    })
  })

  it('scroll with order_by: a key, or { key, direction, start_from }', async () => {
    const asc = [...BOOKS_DATA].sort((a, b) => a.payload.price - b.payload.price)
    const page = await client.scroll(BOOKS, { order_by: 'price', limit: 3, with_payload: false })
    expect(page).toEqual({
      points: asc.slice(0, 3).map((b) => ({ id: b.id, order_value: b.payload.price })),
      next_page_offset: null,
    })
    const desc = await client.scroll(BOOKS, {
      order_by: { key: 'year', direction: 'desc', start_from: 2005 },
      limit: 3,
      with_payload: ['year'],
    })
    expect(desc.points).toEqual([
      { id: 7, payload: { year: 2005 }, order_value: 2005 },
      { id: 2, payload: { year: 2001 }, order_value: 2001 },
      { id: 6, payload: { year: 1999 }, order_value: 1999 },
    ])
  })

  it('query with order_by answers the ordered points with order_value', async () => {
    const res = await client.query(BOOKS, {
      query: { order_by: { key: 'price', direction: 'desc' } },
      limit: 2,
    })
    expect(res.points).toEqual([
      { id: 7, version: expect.any(Number), score: 1, order_value: 30 },
      { id: 4, version: expect.any(Number), score: 1, order_value: 20 },
    ])
    // over a prefetch: the 4 nearest to [1, 0, 0], cheapest first
    const pre = await client.query(BOOKS, {
      prefetch: { query: [1, 0, 0], limit: 4 },
      query: { order_by: 'price' },
      limit: 10,
    })
    const near = ranked([1, 0, 0]).slice(0, 4)
    expect(pre.points.map((p) => p.id)).toEqual(
      [...near].sort((a, b) => a.payload.price - b.payload.price).map((b) => b.id),
    )
  })

  it('searchMatrixPairs and searchMatrixOffsets give the sample nearest neighbours', async () => {
    const pairs = await client.searchMatrixPairs(BOOKS, { sample: 8, limit: 2 })
    expect(pairs.pairs).toHaveLength(16)
    for (const b of BOOKS_DATA) {
      const mine = pairs.pairs.filter((p) => p.a === b.id)
      const best = BOOKS_DATA.filter((o) => o.id !== b.id)
        .map((o) => dot(b.vector, o.vector))
        .sort((x, y) => y - x)
        .slice(0, 2)
      expect(mine.map((p) => p.score)).toEqual(best)
      for (const p of mine) expect(p.score).toBe(dot(b.vector, byId.get(p.b as number)!.vector))
    }
    const offsets = await client.searchMatrixOffsets(BOOKS, {
      sample: 3,
      limit: 1,
      filter: { must: [{ key: 'author', match: { value: 'ann' } }] },
    })
    expect(offsets.ids).toEqual([1, 2, 3])
    expect(offsets.offsets_row).toEqual([0, 1, 2])
    // 1 -> 2 (0.75), 2 -> 1 or 3 (0.75 vs 0.5: 1), 3 -> 2 (0.5)
    expect(offsets.offsets_col).toEqual([1, 0, 1])
    expect(offsets.scores).toEqual([0.75, 0.75, 0.5])
  })

  it('queryGroups groups by author; with_lookup finds the group id in another collection', async () => {
    const q = [0.25, 0.5, 0.25]
    const res = await client.queryGroups(BOOKS, { query: q, group_by: 'author', group_size: 2, limit: 3 })
    expect(res.groups.map((g) => ({ id: g.id, hits: g.hits.map((h) => h.id) }))).toEqual(
      groupsOf(ranked(q), 2, 3),
    )
    for (const g of res.groups)
      for (const h of g.hits) expect(h.score).toBe(dot(q, byId.get(h.id as number)!.vector))

    const byYear = await client.queryGroups(BOOKS, {
      query: [1, 0, 0],
      group_by: 'year',
      group_size: 1,
      limit: 3,
      with_payload: ['author'],
      with_lookup: { collection: AUTHORS, with_payload: true, with_vectors: false },
    })
    expect(byYear.groups).toEqual([
      {
        id: 1990,
        hits: [{ id: 1, version: expect.any(Number), score: 1, payload: { author: 'ann' } }],
        lookup: { id: 1990, payload: { decade: 'nineties' } },
      },
      { id: 2001, hits: [{ id: 2, version: expect.any(Number), score: 0.75, payload: { author: 'ann' } }] },
      {
        id: 2010,
        hits: [{ id: 3, version: expect.any(Number), score: 0.5, payload: { author: 'ann' } }],
        lookup: { id: 2010, payload: { decade: 'tens' } },
      },
    ])
  })

  it('searchPointGroups and recommendPointGroups', async () => {
    const q = [0, 0.25, 1]
    const s = await client.searchPointGroups(BOOKS, {
      vector: q,
      group_by: 'author',
      group_size: 1,
      limit: 2,
      with_payload: true,
    })
    expect(s.groups).toEqual(
      groupsOf(ranked(q), 1, 2).map((g) => ({
        id: g.id,
        hits: g.hits.map((id) => ({
          id,
          version: expect.any(Number),
          score: dot(q, byId.get(id)!.vector),
          payload: byId.get(id)!.payload,
        })),
      })),
    )
    const r = await client.recommendPointGroups(BOOKS, {
      positive: [1],
      negative: [6],
      group_by: 'author',
      group_size: 2,
      limit: 2,
    })
    // average_vector: 2 * [1, 0, 0] - [0, 0, 1]; the examples are excluded
    expect(r.groups.map((g) => ({ id: g.id, hits: g.hits.map((h) => h.id) }))).toEqual(
      groupsOf(ranked([2, 0, -1], [1, 6]), 2, 2),
    )
  })

  it('discoverPoints and discoverBatchPoints rank by the context pairs, then the target', async () => {
    const context = [{ positive: 4, negative: 1 }]
    const res = await client.discoverPoints(BOOKS, { target: [0, 0, 1], context, limit: 3 })
    // rank +1 for books nearer 4 = [0, 1, 0] than 1 = [1, 0, 0] (by dot), -1 the other way, 0 for ties
    const score = (b: Book) =>
      Math.sign(dot(b.vector, [0, 1, 0]) - dot(b.vector, [1, 0, 0])) + sigmoid(b.vector[2]!)
    const want = BOOKS_DATA.filter((b) => b.id !== 4 && b.id !== 1)
      .sort((a, b) => score(b) - score(a) || a.id - b.id)
      .slice(0, 3)
    expect(res.map((p) => p.id)).toEqual(want.map((b) => b.id))
    res.forEach((p, i) => {
      expect(p.score).toBeCloseTo(score(want[i]!), 6)
    })

    const batch = await client.discoverBatchPoints(BOOKS, {
      searches: [
        { target: [0, 0, 1], context, limit: 3 },
        { context: [{ positive: 6, negative: 4 }], limit: 2 },
      ],
    })
    expect(batch).toHaveLength(2)
    expect(batch[0]).toEqual(res)
    expect(batch[1]).toHaveLength(2)
    for (const p of batch[1]!) expect(p.score).toBeLessThanOrEqual(0)
  })

  it('the client sees Qdrant statuses and messages for refusals', async () => {
    expect(await apiError(client.facet(BOOKS, { key: 'author', limit: 0 }))).toEqual({
      status: 422,
      message: 'Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]',
    })
    const noIndex = await apiError(client.scroll(BOOKS, { order_by: 'nope' }))
    expect(noIndex.status).toBe(400)
    expect(noIndex.message).toMatch(/No range index for `order_by` key: `nope`/)
    expect((await apiError(client.searchMatrixPairs(BOOKS, { sample: 1 }))).status).toBe(422)
    expect((await apiError(client.discoverPoints(BOOKS, { limit: 2 }))).status).toBe(400)
    expect((await client.count(BOOKS)).count).toBe(BOOKS_DATA.length)
  })
})
