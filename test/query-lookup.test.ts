// Qdrant's `lookup_from`: a stage's example ids name points of another collection, whose vector
// (`vector`, default the unnamed one) is used as the example; they are not excluded from the
// results. Embedded (Quiver resolves the collection), and over REST, where a collection-scoped JWT
// must be allowed to read the lookup collection too.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SignJWT } from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HostedCollection } from '../src/index.js'
import { Quiver } from '../src/index.js'
import { call, startTestServer, type TestServer } from './server-harness.js'
import { expectError } from './support/errors.js'

const item = (i: number) => [Math.cos(i), Math.sin(i), (i % 5) / 5, 1]
const pref = (u: number) => [Math.cos(u * 3), Math.sin(u * 3), 0.5, 1]

describe('lookup_from (embedded)', () => {
  let dir: string
  let db: Quiver
  let items: HostedCollection

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-lookup-'))
    db = await Quiver.open(dir)
    items = await db.createCollection('items', { dimension: 4, metric: 'Euclid' })
    await items.upsert(Array.from({ length: 60 }, (_, i) => ({ id: i, vector: item(i) })))
    const users = await db.createCollection('users', {
      vectors: { pref: { dimension: 4, metric: 'Dot' }, tiny: { dimension: 2, metric: 'Dot' } },
    })
    await users.upsert(
      Array.from({ length: 10 }, (_, u) => ({ id: u, vector: { pref: pref(u), tiny: [u, 1] } })),
    )
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('nearest by an id of another collection uses that point vector and excludes nothing', async () => {
    const lookupFrom = { collection: 'users', vector: 'pref' }
    const got = (await items.query({ query: 7, lookupFrom, limit: 60 })).points
    const want = (await items.search(pref(7), { limit: 60 })).map((h) => h.id)
    expect(got.map((h) => h.id)).toEqual(want)
    expect(got.map((h) => h.id)).toContain(7) // item 7 is not the example: it stays
  })

  it('recommend examples come from the lookup collection', async () => {
    const lookupFrom = { collection: 'users', vector: 'pref' }
    const got = await items.query({
      query: { recommend: { positive: [1, 2], negative: [3], strategy: 'best_score' } },
      lookupFrom,
      limit: 10,
    })
    const given = await items.query({
      query: { recommend: { positive: [pref(1), pref(2)], negative: [pref(3)], strategy: 'best_score' } },
      limit: 10,
    })
    expect(got.points.map((h) => [h.id, h.score])).toEqual(given.points.map((h) => [h.id, h.score]))
  })

  it('refuses an unknown collection, vector or id, and a vector of the wrong size', async () => {
    await expectError(items.query({ query: 1, lookupFrom: { collection: 'nope' } }), 'COLLECTION_NOT_FOUND')
    await expectError(
      items.query({ query: 1, lookupFrom: { collection: 'users', vector: 'missing' } }),
      'INVALID_ARGUMENT',
      /lookupFrom\.vector: Wrong input: Not existing vector name error: "missing"/,
    )
    await expectError(
      items.query({ query: 99, lookupFrom: { collection: 'users', vector: 'pref' } }),
      'POINT_NOT_FOUND',
      /no point with id 99 holding vector "pref" in collection users/,
    )
    await expectError(
      items.query({ query: 1, lookupFrom: { collection: 'users', vector: 'tiny' } }),
      'INVALID_VECTOR',
      /lookupFrom \(users vector "tiny"\) has dimension 2, expected 4/,
    )
  })
})

describe('lookup_from over REST', () => {
  const KEY = 'lookup-test-key-0123456789abcdef'
  let srv: TestServer
  const auth = { 'api-key': KEY }
  const jwt = (claims: Record<string, unknown>) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(KEY))

  beforeAll(async () => {
    srv = await startTestServer({ security: { apiKey: KEY, jwtRbac: true } })
    for (const [name, body] of [
      ['items', { vectors: { size: 4, distance: 'Euclid' } }],
      ['users', { vectors: { pref: { size: 4, distance: 'Dot' } } }],
    ] as const)
      expect((await call(srv.url, 'PUT', `/collections/${name}`, body, auth)).status).toBe(200)
    const points = Array.from({ length: 30 }, (_, i) => ({ id: i, vector: item(i) }))
    expect((await call(srv.url, 'PUT', '/collections/items/points?wait=true', { points }, auth)).status).toBe(
      200,
    )
    const users = Array.from({ length: 5 }, (_, u) => ({ id: u, vector: { pref: pref(u) } }))
    expect(
      (await call(srv.url, 'PUT', '/collections/users/points?wait=true', { points: users }, auth)).status,
    ).toBe(200)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('answers points/query and legacy recommend with lookup_from, and checks read access to it', async () => {
    const body = { query: 2, lookup_from: { collection: 'users', vector: 'pref' }, limit: 5 }
    const q = await call(srv.url, 'POST', '/collections/items/points/query', body, auth)
    expect(q.status).toBe(200)
    const direct = await call(
      srv.url,
      'POST',
      '/collections/items/points/query',
      { query: pref(2), limit: 5 },
      auth,
    )
    expect(q.body.result.points.map((p: { id: number }) => p.id)).toEqual(
      direct.body.result.points.map((p: { id: number }) => p.id),
    )
    const rec = await call(
      srv.url,
      'POST',
      '/collections/items/points/recommend',
      { positive: [1], lookup_from: { collection: 'users', vector: 'pref' }, limit: 3 },
      auth,
    )
    expect(rec.status).toBe(200)
    expect(rec.body.result.length).toBe(3)
    const onlyItems = {
      authorization: `Bearer ${await jwt({ access: [{ collection: 'items', access: 'r' }] })}`,
    }
    const refused = await call(srv.url, 'POST', '/collections/items/points/query', body, onlyItems)
    expect(refused.status).toBe(403)
    const bad = await call(
      srv.url,
      'POST',
      '/collections/items/points/query',
      { query: 2, lookup_from: { collection: 7 } },
      auth,
    )
    expect(bad.status).toBe(400)
    expect(bad.body.status.error).toMatch(/lookup_from\.collection/)
  })
})
