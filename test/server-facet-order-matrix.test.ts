// REST facet, scroll order_by, query { order_by } and the distance matrix (pairs, offsets) against a real server, held
// against brute force over the points sent; bad input answers Qdrant's status (400 for a wrong type
// or a missing index, 422 for a value out of range) with a message naming the field.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'

const C = 'shop'
const N = 24
const r = rng(7_2026)
const COLORS = ['red', 'green', 'blue']

interface Pt {
  id: number
  vector: number[]
  payload: { color: string | string[]; price: number; day?: string }
}

// float32-exact components (multiples of 1/8), Dot: scores are exact sums
const POINTS: Pt[] = Array.from({ length: N }, (_, i) => ({
  id: i + 1,
  vector: Array.from({ length: 4 }, () => Math.floor(r() * 16) / 8 - 1),
  payload: {
    color: i % 5 === 0 ? [COLORS[i % 3]!, COLORS[(i + 1) % 3]!] : COLORS[i % 3]!,
    price: (i * 7) % 11,
    ...(i % 4 === 0 ? {} : { day: new Date(Date.UTC(2026, 0, 1 + i)).toISOString() }),
  },
}))

function dot(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, x, i) => s + x * b[i]!, 0)
}

describe('REST facet, scroll order_by, search matrix', () => {
  let srv: TestServer
  const post = (path: string, body?: unknown) => call(srv.url, 'POST', `/collections/${C}${path}`, body)

  beforeAll(async () => {
    srv = await startTestServer()
    expect(
      (await call(srv.url, 'PUT', `/collections/${C}`, { vectors: { size: 4, distance: 'Dot' } })).status,
    ).toBe(200)
    expect((await call(srv.url, 'PUT', `/collections/${C}/points`, { points: POINTS })).status).toBe(200)
    for (const [field, schema] of [
      ['color', 'keyword'],
      ['price', 'float'],
      ['day', 'datetime'],
    ])
      expect(
        (await call(srv.url, 'PUT', `/collections/${C}/index`, { field_name: field, field_schema: schema }))
          .status,
      ).toBe(200)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('facets a keyword field: counts per value, by count then value, filtered', async () => {
    const counts = new Map<string, number>()
    for (const p of POINTS)
      for (const c of new Set([p.payload.color].flat())) counts.set(c, (counts.get(c) ?? 0) + 1)
    const want = [...counts]
      .map(([value, count]) => ({ value, count }))
      .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : 1))
    const res = await post('/facet', { key: 'color' })
    expect(res.status).toBe(200)
    expect(res.body.status).toBe('ok')
    expect(res.body.result).toEqual({ hits: want })
    expect((await post('/facet', { key: 'color', limit: 1 })).body.result.hits).toEqual(want.slice(0, 1))

    const cheap = POINTS.filter((p) => p.payload.price < 5)
    const cheapReds = cheap.filter((p) => [p.payload.color].flat().includes('red')).length
    const filtered = await post('/facet', {
      key: 'color',
      filter: { must: [{ key: 'price', range: { lt: 5 } }] },
      exact: true,
    })
    expect(filtered.body.result.hits).toContainEqual({ value: 'red', count: cheapReds })
  })

  it('refuses facet input as Qdrant does', async () => {
    const noIndex = await post('/facet', { key: 'nope' })
    expect(noIndex.status).toBe(400)
    expect(noIndex.code).toBe('INDEX_REQUIRED')
    expect(noIndex.body.status.error).toMatch(/No appropriate index for faceting: `nope`/)
    const zero = await post('/facet', { key: 'color', limit: 0 })
    expect(zero.status).toBe(422)
    expect(zero.code).toBe('VALIDATION_FAILED')
    expect(zero.body.status.error).toBe(
      'Validation error in JSON body: [limit: value 0 invalid, must be 1 or larger]',
    )
    expect((await post('/facet', { key: 'color', limit: -1 })).status).toBe(400)
    expect((await post('/facet', { key: 'color', limit: 'ten' })).status).toBe(400)
    expect((await post('/facet', { limit: 3 })).body.status.error).toMatch(/^key: /)
    expect((await post('/facet', { key: 'color', exact: 'yes' })).status).toBe(400)
  })

  it('scrolls in order_by order: a key or { key, direction, start_from }, next_page_offset null', async () => {
    const asc = [...POINTS].sort((a, b) => a.payload.price - b.payload.price || a.id - b.id)
    const byKey = await post('/points/scroll', { order_by: 'price', limit: 5, with_payload: false })
    expect(byKey.status).toBe(200)
    expect(byKey.body.result).toEqual({
      points: asc.slice(0, 5).map((p) => ({ id: p.id, order_value: p.payload.price })),
      next_page_offset: null,
    })

    const desc = [...POINTS].sort((a, b) => b.payload.price - a.payload.price || b.id - a.id)
    const from = desc.filter((p) => p.payload.price <= 6)
    const res = await post('/points/scroll', {
      order_by: { key: 'price', direction: 'desc', start_from: 6 },
      limit: 4,
      with_payload: ['price'],
    })
    expect(res.body.result.points).toEqual(
      from
        .slice(0, 4)
        .map((p) => ({ id: p.id, payload: { price: p.payload.price }, order_value: p.payload.price })),
    )
    expect(res.body.result.next_page_offset).toBeNull()

    const dated = POINTS.filter((p) => p.payload.day !== undefined && p.payload.day >= '2026-01-10')
    const byDay = await post('/points/scroll', {
      order_by: { key: 'day', start_from: '2026-01-10T00:00:00Z' },
      limit: 100,
      with_payload: false,
    })
    expect(byDay.body.result.points.map((p: { id: number }) => p.id)).toEqual(dated.map((p) => p.id))
    expect(byDay.body.result.points[0].order_value).toBe(Date.parse(dated[0]!.payload.day!) * 1000)
  })

  it('answers points/query { order_by } as the ordered scroll, with order_value and score 1', async () => {
    const scroll = await post('/points/scroll', { order_by: { key: 'price', direction: 'desc' }, limit: 7 })
    const query = await post('/points/query', {
      query: { order_by: { key: 'price', direction: 'desc' } },
      limit: 7,
      with_payload: true,
    })
    expect(query.status).toBe(200)
    expect(query.body.result.points).toEqual(
      scroll.body.result.points.map((p: object) => ({ ...p, score: 1, version: expect.any(Number) })),
    )
    const refused = await post('/points/query', { query: { order_by: 'price' }, score_threshold: 10 })
    expect(refused.status).toBe(400)
    expect(refused.body.status.error).toMatch(/Can't use score_threshold with an order_by query/)
    expect((await post('/points/query', { query: { order_by: 'color' } })).code).toBe('INDEX_REQUIRED')
  })

  it('refuses bad order_by input with 400 and a message naming the field', async () => {
    const cases: [unknown, RegExp][] = [
      [{ order_by: 'color' }, /No range index for `order_by` key: `color`/],
      [{ order_by: { key: 'price', direction: 'up' } }, /order_by\.direction: expected "asc" or "desc"/],
      [{ order_by: { key: 'price', start_from: true } }, /order_by\.start_from: expected a number/],
      [
        { order_by: { key: 'price', start_from: 'yesterday' } },
        /order_by\.start_from: expected a number or an RFC 3339 datetime, got string "yesterday"/,
      ],
      [{ order_by: { key: 'price', sort: 'asc' } }, /order_by\.sort: unknown field/],
      [{ order_by: 42 }, /order_by: expected a payload key/],
      [{ order_by: 'price', offset: 3 }, /Cannot use an `offset` when using `order_by`/],
    ]
    for (const [body, message] of cases) {
      const res = await post('/points/scroll', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.status.error).toMatch(message)
    }
  })

  it('answers the distance matrix as pairs and offsets, each the sample nearest by brute force', async () => {
    const pairs = await post('/points/search/matrix/pairs', { sample: N, limit: 3 })
    expect(pairs.status).toBe(200)
    const offsets = await post('/points/search/matrix/offsets', { sample: N, limit: 3 })
    expect(offsets.status).toBe(200)
    const { ids, offsets_row, offsets_col, scores } = offsets.body.result
    expect(ids).toEqual(POINTS.map((p) => p.id))
    expect(offsets_row).toHaveLength(N * 3)
    const byId = new Map(POINTS.map((p) => [p.id, p]))
    for (let k = 0; k < offsets_row.length; k++) {
      const a = byId.get(ids[offsets_row[k]])!
      const b = byId.get(ids[offsets_col[k]])!
      expect(a.id).not.toBe(b.id)
      expect(scores[k]).toBe(dot(a.vector, b.vector))
    }
    // each row's scores are the 3 best among the other sampled points
    for (const p of POINTS) {
      const best = POINTS.filter((q) => q.id !== p.id)
        .map((q) => dot(p.vector, q.vector))
        .sort((x, y) => y - x)
        .slice(0, 3)
      const row = pairs.body.result.pairs.filter((x: { a: number }) => x.a === p.id)
      expect(row.map((x: { score: number }) => x.score)).toEqual(best)
    }
    expect(pairs.body.result.pairs).toHaveLength(N * 3)

    const small = await post('/points/search/matrix/pairs', {
      filter: { must: [{ key: 'color', match: { value: 'red' } }] },
    })
    const reds = new Set(POINTS.filter((p) => [p.payload.color].flat().includes('red')).map((p) => p.id))
    for (const x of small.body.result.pairs) {
      expect(reds.has(x.a) && reds.has(x.b)).toBe(true)
    }
    expect(new Set(small.body.result.pairs.map((x: { a: number }) => x.a)).size).toBe(Math.min(10, reds.size))
  })

  it('refuses matrix input as Qdrant does: sample < 2 and limit 0 are 422, wrong types 400', async () => {
    const one = await post('/points/search/matrix/pairs', { sample: 1 })
    expect(one.status).toBe(422)
    expect(one.body.status.error).toBe(
      'Validation error in JSON body: [sample: value 1 invalid, must be 2 or larger]',
    )
    expect((await post('/points/search/matrix/offsets', { limit: 0 })).status).toBe(422)
    expect((await post('/points/search/matrix/offsets', { limit: 1.5 })).status).toBe(400)
    const named = await post('/points/search/matrix/pairs', { using: 'image' })
    expect(named.status).toBe(400)
    expect(named.body.status.error).toMatch(/Not existing vector name error: "image"/)
    expect((await call(srv.url, 'POST', '/collections/nope/facet', { key: 'a' })).status).toBe(404)
  })
})
