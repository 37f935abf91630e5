// Payload indexes over the REST API with the official Qdrant JS client: every index type appears in
// `payload_schema` with live point counts, filtered reads answer the same with and without indexes,
// bad requests change nothing, and indexes survive a server restart on the same data directory.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serve } from '../src/server/index.js'
import { call, type RawReply, rng, startTestServer, type TestServer } from './server-harness.js'

type Payload = Record<string, unknown>
type Pt = { id: number; vector: number[]; payload: Payload }
type Filter = Record<string, unknown>

const N = 400
const DIM = 4
const CITIES = ['Berlin', 'London', 'Paris', 'Rome', 'Oslo']
const WORDS = ['quick', 'brown', 'fox', 'lazy', 'dog', 'jumps', 'over', 'river', 'Bank', 'a']

function hex(r: () => number, n: number): string {
  let s = ''
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16)
  return s
}

/** Seeded points; every field is missing from some points and holds a value of another type in a few. */
function makePoints(seed: number, count: number, firstId: number): Pt[] {
  const r = rng(seed)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!
  return Array.from({ length: count }, (_, i) => {
    const id = firstId + i
    const payload: Payload = {}
    if (r() < 0.9) payload.city = r() < 0.15 ? [pick(CITIES), pick(CITIES)] : pick(CITIES)
    if (r() < 0.85) payload.n = Math.floor(r() * 100)
    if (r() < 0.8) payload.price = Math.round(r() * 800) / 8
    if (r() < 0.8) payload.ok = r() < 0.5
    if (r() < 0.8) {
      const day = String(1 + Math.floor(r() * 28)).padStart(2, '0')
      const hour = String(Math.floor(r() * 24)).padStart(2, '0')
      payload.at = r() < 0.2 ? `2024-01-${day}T${hour}:30:00+02:00` : `2024-01-${day}T${hour}:00:00Z`
    }
    if (r() < 0.5) payload.uid = `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-8${hex(r, 3)}-${hex(r, 12)}`
    if (r() < 0.7)
      payload.title = Array.from({ length: 2 + Math.floor(r() * 4) }, () => pick(WORDS)).join(' ')
    if (r() < 0.7) payload.loc = { lat: 50 + r() * 4, lon: 10 + r() * 4 }
    if (id % 97 === 5) {
      payload.n = 'seven'
      payload.at = 'not a date'
      payload.uid = 'not-a-uuid'
      payload.ok = 'yes'
    }
    return { id, vector: Array.from({ length: DIM }, () => r() * 2 - 1), payload }
  })
}

const isDate = (v: unknown) => typeof v === 'string' && !Number.isNaN(Date.parse(v))
const isGeo = (v: unknown) =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as Payload).lat === 'number' &&
  typeof (v as Payload).lon === 'number'

/** Which values each index type holds (Qdrant's rules): a point counts when its field has one. */
const HOLDS: Record<string, (v: unknown) => boolean> = {
  city: (v) => typeof v === 'string',
  n: (v) => Number.isSafeInteger(v),
  price: (v) => typeof v === 'number',
  ok: (v) => typeof v === 'boolean',
  at: isDate,
  // Quiver's uuid index holds every string as stored (as keyword); Qdrant's only strings that parse as UUIDs.
  uid: (v) => typeof v === 'string',
  title: (v) => typeof v === 'string',
  loc: isGeo,
}

function indexedPoints(points: readonly Pt[], field: string): number {
  const holds = HOLDS[field]!
  return points.filter((p) => {
    const v = p.payload[field]
    return Array.isArray(v) ? v.some(holds) : holds(v)
  }).length
}

/** Every index type, in string form or with parameters. */
const SCHEMAS = {
  city: 'keyword',
  n: { type: 'integer', lookup: true, range: true },
  price: 'float',
  ok: 'bool',
  at: { type: 'datetime', on_disk: true, is_principal: false },
  uid: 'uuid',
  title: { type: 'text', tokenizer: 'word', min_token_len: 1, max_token_len: 20, lowercase: true },
  loc: 'geo',
} as const

/** `params` as payload_schema reports them: every default filled in, Qdrant's storage hints dropped. */
const FILLED: Record<keyof typeof SCHEMAS, Record<string, unknown>> = {
  city: { type: 'keyword', is_tenant: false },
  n: { type: 'integer', lookup: true, range: true },
  price: { type: 'float' },
  ok: { type: 'bool' },
  at: { type: 'datetime' },
  uid: { type: 'uuid', is_tenant: false },
  title: {
    type: 'text',
    tokenizer: 'word',
    min_token_len: 1,
    max_token_len: 20,
    lowercase: true,
    phrase_matching: false,
  },
  loc: { type: 'geo' },
}

function dataType(schema: (typeof SCHEMAS)[keyof typeof SCHEMAS]): string {
  return typeof schema === 'string' ? schema : schema.type
}

const POINTS = makePoints(1, N, 1)
const SOME_UUID = POINTS.map((p) => p.payload.uid).find((u) => typeof u === 'string' && u.length === 36)

/** Filters whose results an index must not change (everything but full-text `match.text`). */
const FILTERS: Array<[string, Filter]> = [
  ['keyword value', { must: [{ key: 'city', match: { value: 'London' } }] }],
  ['keyword any', { must: [{ key: 'city', match: { any: ['Paris', 'Rome'] } }] }],
  ['keyword except', { must: [{ key: 'city', match: { except: ['Berlin', 'Oslo'] } }] }],
  ['keyword must_not', { must_not: [{ key: 'city', match: { value: 'Berlin' } }] }],
  ['integer value', { must: [{ key: 'n', match: { value: 7 } }] }],
  ['integer any', { must: [{ key: 'n', match: { any: [1, 2, 3, 50] } }] }],
  ['integer range', { must: [{ key: 'n', range: { gte: 10, lt: 40 } }] }],
  ['float range', { must: [{ key: 'price', range: { gt: 20.5, lte: 80 } }] }],
  ['bool', { must: [{ key: 'ok', match: { value: true } }] }],
  [
    'datetime range',
    { must: [{ key: 'at', range: { gte: '2024-01-10T00:00:00Z', lt: '2024-01-20T12:00:00Z' } }] },
  ],
  ['uuid value', { must: [{ key: 'uid', match: { value: SOME_UUID } }] }],
  ['uuid any', { must: [{ key: 'uid', match: { any: [SOME_UUID, 'not-a-uuid'] } }] }],
  ['geo radius', { must: [{ key: 'loc', geo_radius: { center: { lat: 52, lon: 12 }, radius: 100_000 } }] }],
  [
    'keyword and integer',
    {
      must: [
        { key: 'city', match: { value: 'London' } },
        { key: 'n', range: { lt: 50 } },
      ],
    },
  ],
  [
    'should over indexed fields',
    {
      should: [
        { key: 'ok', match: { value: false } },
        { key: 'price', range: { lt: 10 } },
      ],
    },
  ],
]

function filterNamed(name: string): Filter {
  const found = FILTERS.find(([n]) => n === name)
  if (found === undefined) throw new Error(`no filter ${name}`)
  return found[1]
}

function expectError(r: RawReply, status: number, code: string, ...fragments: Array<string | RegExp>): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.code).toBe(code)
  expect(typeof r.body.time).toBe('number')
  expect(r.body.result).toBeUndefined()
  for (const f of fragments) expect(r.body.status.error).toMatch(f)
}

describe('payload indexes over REST', () => {
  let srv: TestServer
  let client: QdrantClient
  const points = POINTS

  const schemaOf = async (name: string) => (await client.getCollection(name)).payload_schema
  const ids = async (name: string, filter: Filter) =>
    (await client.scroll(name, { filter, limit: N + 100, with_payload: false })).points.map((p) => p.id)

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    for (const name of ['plain', 'indexed']) {
      await client.createCollection(name, { vectors: { size: DIM, distance: 'Cosine' } })
      await client.upsert(name, { wait: true, points })
    }
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('creates every index type and lists it in payload_schema with its point count', async () => {
    for (const [field, schema] of Object.entries(SCHEMAS)) {
      const r = await client.createPayloadIndex('indexed', {
        wait: true,
        field_name: field,
        field_schema: schema,
      })
      expect(r.status).toBe('completed')
      expect(typeof r.operation_id).toBe('number')
    }
    const schema = await schemaOf('indexed')
    expect(Object.keys(schema).sort()).toEqual(Object.keys(SCHEMAS).sort())
    for (const [field, sent] of Object.entries(SCHEMAS)) {
      const info = schema[field]!
      expect(info.data_type, field).toBe(dataType(sent))
      expect(info.params, field).toEqual(FILLED[field as keyof typeof SCHEMAS])
      expect(info.points, field).toBe(indexedPoints(points, field))
      expect(info.points, field).toBeGreaterThan(0)
    }
    expect(await schemaOf('plain')).toEqual({})
  })

  it.each(FILTERS)('answers a %s filter the same with and without indexes', async (_name, filter) => {
    const plain = (await client.count('plain', { filter })).count
    expect(plain).toBeGreaterThan(0)
    expect(plain).toBeLessThan(N)
    expect((await client.count('indexed', { filter })).count).toBe(plain)
    const plainIds = await ids('plain', filter)
    expect(plainIds).toHaveLength(plain)
    expect(await ids('indexed', filter)).toEqual(plainIds)
    const query = [0.3, -0.2, 0.9, 0.1]
    for (const exact of [true, false]) {
      const want = await client.query('plain', { query, filter, limit: 10, params: { exact } })
      const got = await client.query('indexed', { query, filter, limit: 10, params: { exact } })
      expect(got.points.map((p) => p.id)).toEqual(want.points.map((p) => p.id))
      expect(got.points.map((p) => p.score)).toEqual(want.points.map((p) => p.score))
    }
  })

  it('counts keyword and integer matches as a model of the data does', async () => {
    const london = points.filter((p) => [p.payload.city].flat().includes('London')).length
    expect((await client.count('indexed', { filter: filterNamed('keyword value') })).count).toBe(london)
    const inRange = points.filter(
      (p) => typeof p.payload.n === 'number' && p.payload.n >= 10 && p.payload.n < 40,
    )
    expect((await client.count('indexed', { filter: filterNamed('integer range') })).count).toBe(
      inRange.length,
    )
  })

  it('matches indexed text by tokens, lowercased, in any order', async () => {
    const tokens = (s: string) => s.toLowerCase().split(/[^\p{L}\p{N}]+/u)
    const want = points
      .filter((p) => typeof p.payload.title === 'string')
      .filter((p) => ['bank', 'fox'].every((t) => tokens(p.payload.title as string).includes(t)))
      .map((p) => p.id)
    expect(want.length).toBeGreaterThan(0)
    expect(await ids('indexed', { must: [{ key: 'title', match: { text: 'Fox BANK' } }] })).toEqual(want)
  })

  it('counts filters evaluated without an index in unindexed_filter_fields, and not those an index answers', async () => {
    const unindexed = async (name: string) =>
      ((await client.getCollection(name)) as unknown as { unindexed_filter_fields: Record<string, number> })
        .unindexed_filter_fields
    const rome = { must: [{ key: 'city', match: { value: 'Rome' } }] }
    const plainBefore = (await unindexed('plain')).city ?? 0
    const indexedBefore = (await unindexed('indexed')).city ?? 0
    for (const name of ['plain', 'indexed']) await client.count(name, { filter: rome })
    expect((await unindexed('plain')).city).toBe(plainBefore + 1)
    expect((await unindexed('indexed')).city ?? 0).toBe(indexedBefore)
  })

  it('keeps point counts and filtered results in step with upserts, payload changes and deletes', async () => {
    const current = new Map(points.map((p) => [p.id, p]))
    const both = async (op: (name: string) => Promise<unknown>) => {
      await op('plain')
      await op('indexed')
    }
    const expectCounts = async () => {
      const schema = await schemaOf('indexed')
      const live = [...current.values()]
      for (const field of Object.keys(SCHEMAS))
        expect(schema[field]!.points, field).toBe(indexedPoints(live, field))
    }
    const added = makePoints(2, 30, 1000)
    for (const p of added) current.set(p.id, p)
    current.set(3, { ...points[2]!, payload: { city: 'Oslo', n: 1 } })
    await both((c) => client.upsert(c, { wait: true, points: [...added, current.get(3)!] }))
    await expectCounts()
    expect((await schemaOf('indexed')).city!.points).toBeGreaterThan(indexedPoints(points, 'city'))

    const extra = { title: 'fresh words', loc: { lat: 1, lon: 2 }, n: 12 }
    await both((c) => client.setPayload(c, { payload: extra, points: [4, 5] }))
    for (const id of [4, 5]) {
      const p = current.get(id)!
      current.set(id, { ...p, payload: { ...p.payload, ...extra } })
    }
    await both((c) => client.clearPayload(c, { points: [6, 7] }))
    for (const id of [6, 7]) current.set(id, { ...current.get(id)!, payload: {} })
    await both((c) => client.overwritePayload(c, { payload: { ok: true }, points: [9] }))
    current.set(9, { ...current.get(9)!, payload: { ok: true } })
    await both((c) => client.deletePayload(c, { keys: ['city', 'n'], points: [8] }))
    const p8 = { ...current.get(8)!.payload }
    delete p8.city
    delete p8.n
    current.set(8, { ...current.get(8)!, payload: p8 })
    await expectCounts()

    const gone = [...Array(40).keys()].map((i) => 10 + i * 7)
    await both((c) => client.delete(c, { wait: true, points: gone }))
    for (const id of gone) current.delete(id)
    await both((c) => client.delete(c, { filter: { must: [{ key: 'city', match: { value: 'Paris' } }] } }))
    for (const [id, p] of current) if ([p.payload.city].flat().includes('Paris')) current.delete(id)
    await expectCounts()
    expect((await client.count('indexed')).count).toBe(current.size)
    for (const [name, filter] of FILTERS) {
      const want = await ids('plain', filter)
      expect(await ids('indexed', filter), name).toEqual(want)
      expect((await client.count('indexed', { filter })).count, name).toBe(want.length)
    }
  })

  it('lists an index created on an empty collection with 0 points, and indexes points upserted later', async () => {
    await client.createCollection('empty', { vectors: { size: DIM, distance: 'Dot' } })
    await client.createPayloadIndex('empty', { field_name: 'city', field_schema: 'keyword', wait: true })
    expect((await schemaOf('empty')).city).toMatchObject({ data_type: 'keyword', points: 0 })
    await client.upsert('empty', { points: points.slice(0, 50) })
    expect((await schemaOf('empty')).city!.points).toBe(indexedPoints(points.slice(0, 50), 'city'))
    const rome = { must: [{ key: 'city', match: { value: 'Rome' } }] }
    const want = points.slice(0, 50).filter((p) => [p.payload.city].flat().includes('Rome'))
    expect(await ids('empty', rome)).toEqual(want.map((p) => p.id))
    await client.deleteCollection('empty')
  })

  it('replaces an index when created again with another schema', async () => {
    await client.createPayloadIndex('indexed', {
      field_name: 'n',
      field_schema: { type: 'integer', lookup: false, range: true },
    })
    const n = (await schemaOf('indexed')).n!
    expect(n.data_type).toBe('integer')
    expect(n.params).toMatchObject({ type: 'integer', lookup: false, range: true })
    await client.createPayloadIndex('indexed', { field_name: 'n', field_schema: 'float' })
    expect((await schemaOf('indexed')).n).toMatchObject({ data_type: 'float', params: { type: 'float' } })
    await client.createPayloadIndex('indexed', { field_name: 'n', field_schema: SCHEMAS.n })
    expect((await schemaOf('indexed')).n!.data_type).toBe('integer')
  })

  it('deletes an index, and deleting a missing one is a no-op', async () => {
    const filter = filterNamed('float range')
    const before = await ids('indexed', filter)
    expect((await client.deletePayloadIndex('indexed', 'price', { wait: true })).status).toBe('completed')
    const schema = await schemaOf('indexed')
    expect(schema).not.toHaveProperty('price')
    expect(Object.keys(schema)).toHaveLength(Object.keys(SCHEMAS).length - 1)
    expect(await ids('indexed', filter)).toEqual(before)
    expect((await client.deletePayloadIndex('indexed', 'price')).status).toBe('completed')
    expect((await client.deletePayloadIndex('indexed', 'never.indexed')).status).toBe('completed')
    expect(Object.keys(await schemaOf('indexed'))).toHaveLength(Object.keys(SCHEMAS).length - 1)
  })

  it('answers 404 for an unknown collection', async () => {
    const put = await call(srv.url, 'PUT', '/collections/nope/index', {
      field_name: 'a',
      field_schema: 'keyword',
    })
    expectError(put, 404, 'COLLECTION_NOT_FOUND', /nope/)
    expectError(
      await call(srv.url, 'DELETE', '/collections/nope/index/a'),
      404,
      'COLLECTION_NOT_FOUND',
      /nope/,
    )
    await expect(
      client.createPayloadIndex('nope', { field_name: 'a', field_schema: 'keyword' }),
    ).rejects.toMatchObject({ status: 404 })
  })

  it.each([
    ['an unknown type name', 'vector'],
    ['a number', 42],
    ['an array', ['keyword']],
    ['an unknown type', { type: 'nope' }],
    ['a missing type', { tokenizer: 'word' }],
    ['an unknown parameter', { type: 'integer', bogus: true }],
    ['a bad tokenizer', { type: 'text', tokenizer: 'spaces' }],
    ['a bad parameter type', { type: 'integer', range: 'yes' }],
  ])('rejects %s as field_schema with 400 and creates nothing', async (_what, fieldSchema) => {
    const before = await schemaOf('indexed')
    const r = await call(srv.url, 'PUT', '/collections/indexed/index?wait=true', {
      field_name: 'fresh',
      field_schema: fieldSchema,
    })
    expectError(r, 400, 'INVALID_ARGUMENT')
    expect(r.body.status.error.length).toBeGreaterThan(10)
    expect(await schemaOf('indexed')).toEqual(before)
  })

  it('rejects a missing field_name or field_schema with 400 and creates nothing', async () => {
    const before = await schemaOf('indexed')
    expectError(
      await call(srv.url, 'PUT', '/collections/indexed/index', { field_schema: 'keyword' }),
      400,
      'INVALID_ARGUMENT',
      'field_name',
    )
    expectError(
      await call(srv.url, 'PUT', '/collections/indexed/index', { field_name: 'fresh' }),
      400,
      'INVALID_ARGUMENT',
      'field_schema',
      /infer/,
    )
    expectError(await call(srv.url, 'PUT', '/collections/indexed/index', ''), 400, 'INVALID_ARGUMENT', 'body')
    expectError(
      await call(srv.url, 'PUT', '/collections/indexed/index', {
        field_name: 'a..b[',
        field_schema: 'keyword',
      }),
      400,
      'INVALID_ARGUMENT',
      'field_name',
    )
    await expect(client.createPayloadIndex('indexed', { field_name: 'fresh' })).rejects.toMatchObject({
      status: 400,
    })
    expect(await schemaOf('indexed')).toEqual(before)
  })
})

describe('payload indexes across a server restart', () => {
  let dir: string
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-index-restart-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  const start = async () => {
    const server = await serve({ dataDir: dir, port: 0, logLevel: 'silent', handleSignals: false })
    return { server, client: new QdrantClient({ url: server.url, checkCompatibility: false }) }
  }

  it('keeps indexes, their parameters and counts, and a deletion, after reopening the data directory', async () => {
    const points = makePoints(3, 120, 1)
    const filter: Filter = {
      must: [
        { key: 'city', match: { value: 'Rome' } },
        { key: 'n', range: { gte: 20 } },
      ],
    }
    const first = await start()
    let schema: Awaited<ReturnType<QdrantClient['getCollection']>>['payload_schema']
    let count: number
    try {
      await first.client.createCollection('kept', { vectors: { size: DIM, distance: 'Dot' } })
      await first.client.upsert('kept', { points: points.slice(0, 60) })
      for (const field of ['city', 'n', 'title', 'at'] as const)
        await first.client.createPayloadIndex('kept', { field_name: field, field_schema: SCHEMAS[field] })
      await first.client.upsert('kept', { points: points.slice(60) })
      await first.client.createCollection('bare', { vectors: { size: DIM, distance: 'Dot' } })
      await first.client.createPayloadIndex('bare', { field_name: 'tags[]', field_schema: 'keyword' })
      await first.client.deletePayloadIndex('kept', 'at')
      schema = (await first.client.getCollection('kept')).payload_schema
      count = (await first.client.count('kept', { filter })).count
      expect(Object.keys(schema).sort()).toEqual(['city', 'n', 'title'])
      expect(schema.city!.points).toBe(indexedPoints(points, 'city'))
      expect(count).toBeGreaterThan(0)
    } finally {
      await first.server.close()
    }

    const second = await start()
    try {
      expect((await second.client.getCollection('kept')).payload_schema).toEqual(schema)
      expect((await second.client.getCollection('bare')).payload_schema).toEqual({
        'tags[]': { data_type: 'keyword', params: { type: 'keyword', is_tenant: false }, points: 0 },
      })
      expect((await second.client.count('kept', { filter })).count).toBe(count)
      await second.client.upsert('kept', {
        points: [{ id: 500, vector: [1, 0, 0, 0], payload: { city: 'Rome', n: 99 } }],
      })
      expect((await second.client.count('kept', { filter })).count).toBe(count + 1)
      await second.client.deletePayloadIndex('kept', 'title')
    } finally {
      await second.server.close()
    }

    const third = await start()
    try {
      const after = (await third.client.getCollection('kept')).payload_schema
      expect(Object.keys(after).sort()).toEqual(['city', 'n'])
      expect(after.city!.points).toBe(schema.city!.points + 1)
      expect((await third.client.count('kept', { filter })).count).toBe(count + 1)
    } finally {
      await third.server.close()
    }
  })
})
