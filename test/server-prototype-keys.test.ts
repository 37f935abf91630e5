// Keys that name prototype members (`__proto__`, `constructor`, `toString`) in every place a
// request names a key: a 400 that writes nothing, or a correct result; never a polluted
// Object.prototype (test/support/prototype-guard.ts checks that at the end of the file) and never a
// server that dies on the next request.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import { call, type RawReply, startTestServer, type TestServer } from './server-harness.js'

const C = 'proto_keys'
const POINTS = `/collections/${C}/points`
const NAMES = ['constructor', 'toString', 'prototype', 'hasOwnProperty'] as const

function expect400(r: RawReply, fragment: RegExp | string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(400)
  expect(typeof r.body.status.error).toBe('string')
  expect(r.body.status.error).toMatch(fragment)
}

describe('keys named after prototype members over HTTP', () => {
  let srv: TestServer
  const count = async (filter?: unknown): Promise<number> => {
    const r = await call(
      srv.url,
      'POST',
      `${POINTS}/count`,
      filter === undefined ? {} : { filter, exact: true },
    )
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    return r.body.result.count
  }
  const payloadOf = async (id: number): Promise<Record<string, unknown>> => {
    const r = await call(srv.url, 'GET', `${POINTS}/${id}`)
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    return r.body.result.payload
  }

  beforeAll(async () => {
    srv = await startTestServer()
    expect(
      (await call(srv.url, 'PUT', `/collections/${C}`, { vectors: { size: 2, distance: 'Dot' } })).status,
    ).toBe(200)
    const up = await call(srv.url, 'PUT', `${POINTS}?wait=true`, {
      points: [
        { id: 1, vector: [1, 0], payload: { constructor: 'a', toString: 'b', prototype: 1, plain: 'x' } },
        { id: 2, vector: [0, 1], payload: { plain: 'y' } },
      ],
    })
    expect(up.status, JSON.stringify(up.body)).toBe(200)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('refuses a payload index named __proto__ and keeps serving (the index was not created)', async () => {
    for (const field of ['__proto__', 'a.__proto__', '"__proto__"', 'a[].__proto__.b']) {
      const r = await call(srv.url, 'PUT', `/collections/${C}/index?wait=true`, {
        field_name: field,
        field_schema: 'keyword',
      })
      expect400(r, /__proto__/)
    }
    const info = await call(srv.url, 'GET', `/collections/${C}`)
    expect(info.status).toBe(200)
    expect(Object.keys(info.body.result.payload_schema)).toEqual([])
    expect(({} as Record<string, unknown>).points).toBeUndefined()
    // the next requests still work (prom-client would throw on a polluted prototype)
    expect((await call(srv.url, 'GET', '/metrics')).status).toBe(200)
    expect((await call(srv.url, 'GET', '/telemetry')).status).toBe(200)
  })

  it('indexes fields named constructor, toString, prototype, hasOwnProperty and lists each with its count', async () => {
    for (const field of NAMES) {
      const r = await call(srv.url, 'PUT', `/collections/${C}/index?wait=true`, {
        field_name: field,
        field_schema: field === 'prototype' ? 'integer' : 'keyword',
      })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
    }
    const schema = (await call(srv.url, 'GET', `/collections/${C}`)).body.result.payload_schema
    expect(Object.keys(schema).sort()).toEqual([...NAMES].sort())
    expect(schema.constructor).toMatchObject({ data_type: 'keyword', points: 1 })
    expect(schema.toString).toMatchObject({ data_type: 'keyword', points: 1 })
    expect(schema.prototype).toMatchObject({ data_type: 'integer', points: 1 })
    expect(schema.hasOwnProperty).toMatchObject({ data_type: 'keyword', points: 0 })
    // telemetry and metrics serialise the same schema
    expect((await call(srv.url, 'GET', '/telemetry?details_level=3')).status).toBe(200)
    expect((await call(srv.url, 'GET', '/metrics')).status).toBe(200)
    const del = await call(srv.url, 'DELETE', `/collections/${C}/index/toString?wait=true`)
    expect(del.status, JSON.stringify(del.body)).toBe(200)
    const after = (await call(srv.url, 'GET', `/collections/${C}`)).body.result.payload_schema
    expect(Object.keys(after).sort()).toEqual(['constructor', 'hasOwnProperty', 'prototype'])
  })

  it('filters on keys named after prototype members by own payload fields only', async () => {
    expect(await count({ must: [{ key: 'constructor', match: { value: 'a' } }] })).toBe(1)
    expect(await count({ must: [{ key: 'toString', match: { value: 'b' } }] })).toBe(1)
    expect(await count({ must: [{ key: 'prototype', range: { gte: 1 } }] })).toBe(1)
    // point 2 has none of them: they are empty there, not inherited functions
    expect(await count({ must: [{ is_empty: { key: 'constructor' } }] })).toBe(1)
    expect(await count({ must: [{ is_empty: { key: 'hasOwnProperty' } }] })).toBe(2)
    expect(await count({ must_not: [{ is_empty: { key: 'toString' } }] })).toBe(1)
    expect(await count({ must: [{ key: 'plain.constructor', match: { value: 'x' } }] })).toBe(0)
    const r = await call(srv.url, 'POST', `${POINTS}/count`, {
      filter: { must: [{ key: '__proto__', match: { value: 'x' } }] },
    })
    expect400(r, /__proto__/)
    const nested = await call(srv.url, 'POST', `${POINTS}/scroll`, {
      filter: {
        must: [{ nested: { key: 'a', filter: { must: [{ key: '__proto__.x', match: { value: 1 } }] } } }],
      },
    })
    expect400(nested, /__proto__/)
  })

  it('selects payload keys named after prototype members; refuses __proto__ in include and exclude', async () => {
    const include = await call(srv.url, 'POST', POINTS, {
      ids: [1, 2],
      with_payload: ['constructor', 'toString'],
    })
    expect(include.status, JSON.stringify(include.body)).toBe(200)
    const byId = new Map(include.body.result.map((p: { id: number; payload: unknown }) => [p.id, p.payload]))
    expect(byId.get(1)).toEqual({ constructor: 'a', toString: 'b' })
    expect(byId.get(2)).toEqual({})
    const exclude = await call(srv.url, 'POST', `${POINTS}/scroll`, {
      with_payload: { exclude: ['constructor', 'prototype'] },
      limit: 10,
    })
    expect(exclude.status).toBe(200)
    expect(exclude.body.result.points[0].payload).toEqual({ toString: 'b', plain: 'x' })
    for (const with_payload of [['__proto__'], { include: ['__proto__'] }, { exclude: ['a.__proto__'] }]) {
      expect400(await call(srv.url, 'POST', `${POINTS}/scroll`, { with_payload }), /__proto__/)
      expect400(await call(srv.url, 'POST', `${POINTS}/query`, { query: [1, 0], with_payload }), /__proto__/)
    }
  })

  it('sets and deletes payload under keys named after prototype members; refuses __proto__ keys', async () => {
    const set = await call(srv.url, 'POST', `${POINTS}/payload?wait=true`, {
      payload: { hasOwnProperty: 'h' },
      points: [2],
      key: 'constructor',
    })
    expect(set.status, JSON.stringify(set.body)).toBe(200)
    expect(await payloadOf(2)).toEqual({ plain: 'y', constructor: { hasOwnProperty: 'h' } })
    for (const key of ['__proto__', 'constructor.__proto__', 'a[].__proto__']) {
      const r = await call(srv.url, 'POST', `${POINTS}/payload?wait=true`, {
        payload: { x: 1 },
        points: [2],
        key,
      })
      expect400(r, /__proto__/)
    }
    const delBad = await call(srv.url, 'POST', `${POINTS}/payload/delete?wait=true`, {
      keys: ['plain', '__proto__'],
      points: [1, 2],
    })
    expect400(delBad, /__proto__/)
    expect((await payloadOf(1)).plain).toBe('x') // nothing of the refused batch was applied
    const del = await call(srv.url, 'POST', `${POINTS}/payload/delete?wait=true`, {
      keys: ['constructor.hasOwnProperty', 'toString'],
      points: [1, 2],
    })
    expect(del.status, JSON.stringify(del.body)).toBe(200)
    expect(await payloadOf(2)).toEqual({ plain: 'y', constructor: {} })
    expect(await payloadOf(1)).toEqual({ constructor: 'a', prototype: 1, plain: 'x' })
    expect(({} as Record<string, unknown>).hasOwnProperty).toBe(Object.prototype.hasOwnProperty)
  })

  it('serves collections named __proto__, constructor and toString like any other', async () => {
    const names = ['__proto__', 'constructor', 'toString']
    for (const name of names) {
      const r = await call(srv.url, 'PUT', `/collections/${name}`, {
        vectors: { size: 2, distance: 'Cosine' },
      })
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      const up = await call(srv.url, 'PUT', `/collections/${name}/points?wait=true`, {
        points: [{ id: 1, vector: [1, 1], payload: { n: name } }],
      })
      expect(up.status).toBe(200)
      expect((await call(srv.url, 'GET', `/collections/${name}/exists`)).body.result.exists).toBe(true)
      expect((await call(srv.url, 'GET', `/collections/${name}`)).body.result.points_count).toBe(1)
    }
    const list = (await call(srv.url, 'GET', '/collections')).body.result.collections.map(
      (c: { name: string }) => c.name,
    )
    expect(list).toEqual(expect.arrayContaining(names))
    expect((await call(srv.url, 'GET', '/telemetry?details_level=2')).status).toBe(200)
    const metrics = await call(srv.url, 'GET', '/metrics')
    expect(metrics.status).toBe(200)
    expect(String(metrics.body)).toContain('collection="__proto__"')
    for (const name of names) expect((await call(srv.url, 'DELETE', `/collections/${name}`)).status).toBe(200)
    expect((await call(srv.url, 'GET', '/collections/prototype/exists')).body.result.exists).toBe(false)
  })
})

describe('keys named after prototype members, embedded', () => {
  let dir: string
  let db: Quiver
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-proto-'))
    db = await Quiver.open(dir)
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses createPayloadIndex("__proto__") with a QuiverError and lists toString with its count', async () => {
    const c = await db.createCollection('e', { dimension: 2, metric: 'Dot' })
    await c.upsert([{ id: 1, vector: [1, 0], payload: { toString: 'x', constructor: 'y' } }])
    await expect(c.createPayloadIndex('__proto__', 'keyword')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    await c.createPayloadIndex('toString', 'keyword')
    await c.createPayloadIndex('constructor', 'keyword')
    const schema = (await c.info()).payloadSchema
    expect(Object.hasOwn(schema, 'toString')).toBe(true)
    expect(schema.toString).toMatchObject({ dataType: 'keyword', points: 1 })
    expect(schema.constructor).toMatchObject({ dataType: 'keyword', points: 1 })
    expect(Object.keys(schema).sort()).toEqual(['constructor', 'toString'])
    // the same after a reopen (the index is persisted and the WAL replayed)
    await db.close()
    db = await Quiver.open(dir)
    const again = (await (await db.getCollection('e')).info()).payloadSchema
    expect(Object.keys(again).sort()).toEqual(['constructor', 'toString'])
  })
})
