// Payload indexes through the embedded API on real files: creation of every type, results identical
// to unindexed evaluation, kept in sync by writes, persisted across reopen, bad schemas refused
// without a WAL record, unindexed-filter reporting.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_UNINDEXED_FIELDS, UNINDEXED_OTHER } from '../src/collection/collection.js'
import { type Filter, type HostedCollection, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 8
const N = 2000
const r = rng(7)
const CITIES = ['berlin', 'paris', 'rome', 'oslo', 'lima']
const points = Array.from({ length: N }, (_, i) => ({
  id: i,
  vector: Array.from({ length: DIM }, () => r() * 2 - 1),
  payload: {
    city: CITIES[i % 5]!,
    n: i % 100,
    price: (i % 37) * 1.5,
    sold: i % 3 === 0,
    at: new Date(Date.UTC(2024, 0, 1) + (i % 60) * 86_400_000).toISOString(),
    uid: `00000000-0000-4000-8000-${String(i % 10).padStart(12, '0')}`,
    body: i % 4 === 0 ? 'The quick brown fox' : 'A lazy dog sleeps',
    loc: { lat: 40 + (i % 20) * 0.5, lon: 10 + (i % 13) * 0.5 },
    tags: i % 2 === 0 ? ['even', `m${i % 7}`] : ['odd'],
  },
}))

const FILTERS: Filter[] = [
  { must: [{ key: 'city', match: { value: 'rome' } }] },
  {
    must: [
      { key: 'city', match: { any: ['rome', 'oslo'] } },
      { key: 'n', range: { lt: 30 } },
    ],
  },
  { must: [{ key: 'n', match: { value: 42 } }] },
  { must: [{ key: 'price', range: { gte: 10, lte: 20 } }] },
  { must: [{ key: 'sold', match: { value: true } }], must_not: [{ key: 'city', match: { value: 'lima' } }] },
  { must: [{ key: 'at', range: { gte: '2024-01-10T00:00:00Z', lt: '2024-01-20T00:00:00Z' } }] },
  { must: [{ key: 'uid', match: { value: '00000000-0000-4000-8000-000000000003' } }] },
  { must: [{ key: 'loc', geo_radius: { center: { lat: 42, lon: 12 }, radius: 200_000 } }] },
  {
    must: [
      {
        key: 'loc',
        geo_bounding_box: { top_left: { lat: 45, lon: 10 }, bottom_right: { lat: 41, lon: 13 } },
      },
    ],
  },
  {
    should: [
      { key: 'tags', match: { value: 'm3' } },
      { key: 'n', range: { gt: 95 } },
    ],
  },
  { must_not: [{ key: 'city', match: { value: 'paris' } }] },
  {
    min_should: {
      conditions: [
        { key: 'sold', match: { value: true } },
        { key: 'n', range: { lt: 50 } },
        { key: 'city', match: { value: 'oslo' } },
      ],
      min_count: 2,
    },
  },
]

const INDEXES = {
  city: 'keyword',
  n: { type: 'integer', lookup: true, range: true },
  price: 'float',
  sold: 'bool',
  at: 'datetime',
  uid: 'uuid',
  body: { type: 'text', tokenizer: 'word' },
  loc: 'geo',
  tags: { type: 'keyword', is_tenant: false },
} as const

describe('payload indexes (embedded)', () => {
  let dir: string
  let db: Quiver
  let plain: HostedCollection
  let indexed: HostedCollection
  const warnings: { obj: object; msg: string }[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-pindex-'))
    warnings.length = 0
    const logger = {
      info: () => {},
      error: () => {},
      warn: (obj: object, msg: string) => warnings.push({ obj, msg }),
    }
    db = await Quiver.open(dir, { logger })
    plain = await db.createCollection('plain', { dimension: DIM, metric: 'Euclid' })
    indexed = await db.createCollection('indexed', { dimension: DIM, metric: 'Euclid' })
    await plain.upsert(points)
    // half the indexes before the points, half built over them
    const entries = Object.entries(INDEXES)
    for (const [field, schema] of entries.slice(0, 4)) await indexed.createPayloadIndex(field, schema)
    await indexed.upsert(points)
    for (const [field, schema] of entries.slice(4)) await indexed.createPayloadIndex(field, schema)
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function expectSameResults(): Promise<void> {
    const q = Array.from({ length: DIM }, (_, i) => (i % 2 ? 0.25 : -0.5))
    for (const filter of FILTERS) {
      const where = JSON.stringify(filter)
      expect(await indexed.count({ filter }), where).toBe(await plain.count({ filter }))
      const exactA = await indexed.search(q, { limit: 10, filter, exact: true })
      const exactB = await plain.search(q, { limit: 10, filter, exact: true })
      expect(
        exactA.map((h) => h.id),
        where,
      ).toEqual(exactB.map((h) => h.id))
      const scrollA = await indexed.scroll({ filter, limit: 50, withPayload: false })
      const scrollB = await plain.scroll({ filter, limit: 50, withPayload: false })
      expect(scrollA, where).toEqual(scrollB)
      const approx = await indexed.search(q, { limit: 10, filter, ef: 128 })
      const truth = new Set(exactB.map((h) => h.id))
      const found = approx.filter((h) => truth.has(h.id)).length
      expect(found, where).toBeGreaterThanOrEqual(Math.min(9, truth.size))
    }
  }

  it('creates every index type and reports it with defaults and point counts', async () => {
    const info = await indexed.info()
    expect(Object.keys(info.payloadSchema).sort()).toEqual(Object.keys(INDEXES).sort())
    expect(info.payloadSchema['city']).toEqual({
      dataType: 'keyword',
      params: expect.objectContaining({ type: 'keyword', is_tenant: false }),
      points: N,
    })
    expect(info.payloadSchema['n']?.params).toMatchObject({ type: 'integer', lookup: true, range: true })
    expect(info.payloadSchema['body']?.params).toMatchObject({
      type: 'text',
      tokenizer: 'word',
      lowercase: true,
    })
    for (const field of Object.keys(INDEXES)) expect(info.payloadSchema[field]?.points, field).toBe(N)
    expect((await plain.info()).payloadSchema).toEqual({})
  })

  it('answers every filter exactly as unindexed evaluation does', async () => {
    await expectSameResults()
  })

  it('stays in sync through upserts, payload updates and deletes', async () => {
    for (const c of [plain, indexed]) {
      await c.upsert(
        points.slice(0, 300).map((p) => ({ ...p, payload: { ...p.payload, city: 'oslo', n: 7 } })),
      )
      await c.setPayload(
        { sold: false, price: 1 },
        { filter: { must: [{ key: 'city', match: { value: 'rome' } }] } },
      )
      await c.overwritePayload({ city: 'lima' }, { ids: [500, 501, 502] })
      await c.deletePayload(['loc', 'tags'], { ids: [600, 601] })
      await c.clearPayload({ ids: [700] })
      await c.delete({ filter: { must: [{ key: 'n', range: { gte: 90 } }] } })
    }
    await expectSameResults()
    const info = await indexed.info()
    expect(info.payloadSchema['city']?.points).toBe(info.pointsCount - 1) // 700 has no payload
    expect(info.payloadSchema['loc']?.points).toBe(info.pointsCount - 1 - 2 - 3)
  })

  it('persists indexes across reopen', async () => {
    await db.close()
    db = await Quiver.open(dir)
    plain = await db.getCollection('plain')
    indexed = await db.getCollection('indexed')
    expect(Object.keys((await indexed.info()).payloadSchema).sort()).toEqual(Object.keys(INDEXES).sort())
    await expectSameResults()
  })

  it('drops an index; filters on the field still work', async () => {
    await indexed.deletePayloadIndex('city')
    await indexed.deletePayloadIndex('never-indexed')
    expect((await indexed.info()).payloadSchema['city']).toBeUndefined()
    await expectSameResults()
  })

  it('refuses bad schemas with a clear error and logs nothing', async () => {
    const before = (await indexed.upsert([points[0]!])).operationId
    await expectError(indexed.createPayloadIndex('x', 'vector' as never), 'INVALID_ARGUMENT', /vector/)
    await expectError(
      indexed.createPayloadIndex('x', { type: 'integer', lookup: false, range: false }),
      'INVALID_ARGUMENT',
    )
    await expectError(
      indexed.createPayloadIndex('x', { type: 'keyword', bogus: 1 } as never),
      'INVALID_ARGUMENT',
      /bogus/,
    )
    await expectError(indexed.createPayloadIndex('', 'keyword'), 'INVALID_ARGUMENT')
    await expectError(indexed.createPayloadIndex('a..b', 'keyword'), 'INVALID_ARGUMENT')
    const after = (await indexed.upsert([points[0]!])).operationId
    expect(after).toBe(before + 1)
    expect(Object.keys((await indexed.info()).payloadSchema)).not.toContain('x')
  })

  it('counts filters on unindexed fields and logs the advice once per field', async () => {
    const q = Array.from({ length: DIM }, () => 0.1)
    const filter = { must: [{ key: 'n', range: { lt: 10 } }] }
    await plain.search(q, { limit: 3, filter })
    await plain.count({ filter })
    await indexed.search(q, { limit: 3, filter })
    const info = await plain.info()
    expect(info.unindexedFilterFields).toEqual({ n: 2 })
    expect((await indexed.info()).unindexedFilterFields).toEqual({})
    expect(warnings).toHaveLength(1)
    expect(warnings[0]!.msg).toMatch(/"n".*no payload index/)
  })

  it('tracks at most MAX_UNINDEXED_FIELDS distinct fields; the rest count together', async () => {
    for (let i = 0; i < MAX_UNINDEXED_FIELDS + 50; i++) {
      await plain.count({ filter: { must: [{ key: `made_up_${i}`, match: { value: 1 } }] } })
    }
    const fields = (await plain.info()).unindexedFilterFields
    expect(Object.keys(fields)).toHaveLength(MAX_UNINDEXED_FIELDS + 1)
    expect(fields[UNINDEXED_OTHER]).toBe(50)
    expect(warnings).toHaveLength(MAX_UNINDEXED_FIELDS)
  })
})
