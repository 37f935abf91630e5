// REST groups against a real server: points/query/groups and the legacy search/groups and
// recommend/groups in Qdrant's GroupsResult shape, with_lookup (a name or an object) in another
// collection, which a collection-scoped JWT must be allowed to read; bad input is 400 / 422 as Qdrant.
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, startTestServer, type TestServer } from './server-harness.js'

const RW = 'groups-test-key'
const BOOKS = 'books'
const AUTHORS = 'authors'

// Dot, float32-exact vectors: scores are exact; author 3 has no record in `authors`
const BOOK_POINTS = [
  { id: 1, vector: [1, 0], payload: { author: 1, title: 'a1' } },
  { id: 2, vector: [0.875, 0], payload: { author: 1, title: 'a2' } },
  { id: 3, vector: [0.75, 0], payload: { author: 1, title: 'a3' } },
  { id: 4, vector: [0.5, 0.5], payload: { author: 2, title: 'b1' } },
  { id: 5, vector: [0.25, 0.5], payload: { author: [2, 3], title: 'b2' } },
  { id: 6, vector: [0, 1], payload: { author: 3, title: 'c1' } },
  { id: 7, vector: [0.625, 0], payload: { author: 2.5, title: 'float: no group' } },
  { id: 8, vector: [0.9375, 0], payload: { title: 'no author' } },
]

function jwt(claims: Record<string, unknown>): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(RW))
}

describe('REST groups', () => {
  let srv: TestServer
  const auth = { 'api-key': RW }
  const post = (path: string, body: unknown, headers: Record<string, string> = auth) =>
    call(srv.url, 'POST', `/collections/${BOOKS}/points${path}`, body, headers)

  beforeAll(async () => {
    srv = await startTestServer({ security: { apiKey: RW, jwtRbac: true } })
    for (const [name, size] of [
      [BOOKS, 2],
      [AUTHORS, 1],
    ] as const)
      expect(
        (await call(srv.url, 'PUT', `/collections/${name}`, { vectors: { size, distance: 'Dot' } }, auth))
          .status,
      ).toBe(200)
    await call(srv.url, 'PUT', `/collections/${BOOKS}/points`, { points: BOOK_POINTS }, auth)
    await call(
      srv.url,
      'PUT',
      `/collections/${AUTHORS}/points`,
      {
        points: [
          { id: 1, vector: [1], payload: { name: 'Ann', born: 1900 } },
          { id: 2, vector: [0.5], payload: { name: 'Bob', born: 1950 } },
        ],
      },
      auth,
    )
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('query/groups: groups by best hit, group_size hits each, array values join every group', async () => {
    const res = await post('/query/groups', {
      query: [1, 0.25],
      group_by: 'author',
      group_size: 2,
      limit: 3,
      with_payload: ['title'],
    })
    expect(res.status).toBe(200)
    // scores: 1 -> 1, 2 -> 0.875, 3 -> 0.75, 4 -> 0.625, 5 -> 0.375, 6 -> 0.25 (7, 8 join none)
    expect(res.body.result).toEqual({
      groups: [
        {
          id: 1,
          hits: [
            { id: 1, version: expect.any(Number), score: 1, payload: { title: 'a1' } },
            { id: 2, version: expect.any(Number), score: 0.875, payload: { title: 'a2' } },
          ],
        },
        {
          id: 2,
          hits: [
            { id: 4, version: expect.any(Number), score: 0.625, payload: { title: 'b1' } },
            { id: 5, version: expect.any(Number), score: 0.375, payload: { title: 'b2' } },
          ],
        },
        {
          id: 3,
          hits: [
            { id: 5, version: expect.any(Number), score: 0.375, payload: { title: 'b2' } },
            { id: 6, version: expect.any(Number), score: 0.25, payload: { title: 'c1' } },
          ],
        },
      ],
    })
    // defaults: group_size 3, limit 10
    const all = await post('/query/groups', { query: [1, 0.25], group_by: 'author' })
    expect(all.body.result.groups.map((g: { id: number; hits: unknown[] }) => [g.id, g.hits.length])).toEqual(
      [
        [1, 3],
        [2, 2],
        [3, 2],
      ],
    )
  })

  it('with_lookup as a name or an object looks each group id up in the other collection', async () => {
    const byName = await post('/query/groups', {
      query: [1, 0.25],
      group_by: 'author',
      group_size: 1,
      with_lookup: AUTHORS,
    })
    expect(byName.body.result.groups.map((g: { id: number; lookup?: unknown }) => [g.id, g.lookup])).toEqual([
      [1, { id: 1, payload: { name: 'Ann', born: 1900 } }],
      [2, { id: 2, payload: { name: 'Bob', born: 1950 } }],
      [3, undefined],
    ])
    const shaped = await post('/search/groups', {
      vector: [1, 0.25],
      group_by: 'author',
      group_size: 1,
      limit: 1,
      with_lookup: { collection: AUTHORS, with_payload: ['name'], with_vectors: true },
    })
    expect(shaped.body.result.groups).toEqual([
      {
        id: 1,
        hits: [{ id: 1, version: expect.any(Number), score: 1 }],
        lookup: { id: 1, payload: { name: 'Ann' }, vector: [1] },
      },
    ])
    const missing = await post('/query/groups', { query: [1, 0], group_by: 'author', with_lookup: 'nope' })
    expect(missing.status).toBe(404)
  })

  it('a collection-scoped JWT needs read access to the lookup collection too', async () => {
    const onlyBooks = {
      authorization: `Bearer ${await jwt({ access: [{ collection: BOOKS, access: 'r' }] })}`,
    }
    const plain = await post('/query/groups', { query: [1, 0], group_by: 'author' }, onlyBooks)
    expect(plain.status).toBe(200)
    const refused = await post(
      '/query/groups',
      { query: [1, 0], group_by: 'author', with_lookup: AUTHORS },
      onlyBooks,
    )
    expect(refused.status).toBe(403)
    expect(refused.body.status.error).toMatch(/also needs read access to collection "authors"/)
    const both = {
      authorization: `Bearer ${await jwt({
        access: [
          { collection: BOOKS, access: 'r' },
          { collection: AUTHORS, access: 'r' },
        ],
      })}`,
    }
    expect(
      (await post('/query/groups', { query: [1, 0], group_by: 'author', with_lookup: AUTHORS }, both)).status,
    ).toBe(200)
  })

  it('legacy search/groups and recommend/groups answer the same groups as query/groups', async () => {
    const search = await post('/search/groups', {
      vector: [1, 0.25],
      group_by: 'author',
      group_size: 2,
      limit: 3,
    })
    const query = await post('/query/groups', {
      query: [1, 0.25],
      group_by: 'author',
      group_size: 2,
      limit: 3,
    })
    expect(search.status).toBe(200)
    expect(search.body.result).toEqual(query.body.result)

    const reco = await post('/recommend/groups', {
      positive: [1],
      negative: [6],
      strategy: 'best_score',
      group_by: 'author',
      group_size: 1,
      limit: 2,
    })
    const recoQuery = await post('/query/groups', {
      query: { recommend: { positive: [1], negative: [6], strategy: 'best_score' } },
      group_by: 'author',
      group_size: 1,
      limit: 2,
    })
    expect(reco.status).toBe(200)
    expect(reco.body.result).toEqual(recoQuery.body.result)
    // the example point 1 is excluded, and point 8 (closer) has no author: author 1's best is point 2
    expect(reco.body.result.groups[0].hits[0].id).toBe(2)
  })

  it('refuses bad grouping input: 400 for types, 422 for ranges, legacy sizes required', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['/query/groups', { query: [1, 0] }, 400, /^group_by: expected a payload key/],
      ['/query/groups', { query: [1, 0], group_by: '' }, 400, /group_by/],
      ['/query/groups', { query: [1, 0], group_by: 'a..b' }, 400, /^group_by/],
      [
        '/query/groups',
        { query: [1, 0], group_by: 'author', group_size: 0 },
        422,
        /\[group_size: value 0 invalid, must be 1 or larger\]/,
      ],
      ['/query/groups', { query: [1, 0], group_by: 'author', limit: 0 }, 422, /\[limit: value 0 invalid/],
      [
        '/query/groups',
        { query: [1, 0], group_by: 'author', limit: -1 },
        400,
        /limit: expected a non-negative integer/,
      ],
      [
        '/query/groups',
        { query: [1, 0], group_by: 'author', with_lookup: 5 },
        400,
        /with_lookup: expected a collection name/,
      ],
      ['/query/groups', { query: [1], group_by: 'author' }, 400, /query: expected 2 numbers/],
      ['/search/groups', { vector: [1, 0], group_by: 'author', limit: 2 }, 400, /group_size: required/],
      ['/recommend/groups', { positive: [1], group_by: 'author', group_size: 1 }, 400, /limit: required/],
      [
        '/recommend/groups',
        { positive: [99], group_by: 'author', group_size: 1, limit: 1 },
        404,
        /no point with id 99/,
      ],
    ]
    for (const [path, body, status, message] of cases) {
      const res = await post(path, body)
      expect(res.status, JSON.stringify(body)).toBe(status)
      expect(res.body.status.error).toMatch(message)
    }
  })
})
