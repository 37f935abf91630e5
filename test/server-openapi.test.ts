// The wire declared by schema: every route the app registers is in GET /openapi.json, and one real
// request to each (through a real server on 127.0.0.1) is checked against the document with ajv —
// the request body against its requestBody schema, the answer against its response schema.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyRequest } from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import { buildServer } from '../src/server/app.js'
import { registeredRoutes } from '../src/server/routes/openapi.js'
import { openApiPath } from '../src/server/schema/document.js'
import { call, type RawReply, startTestServer, type TestServer } from './server-harness.js'
import './support/prototype-guard.js'

// biome-ignore lint/suspicious/noExplicitAny: the document is checked by shape
type Doc = any

let srv: TestServer
let doc: Doc
const ajv = new Ajv({ strict: false, allErrors: true })
ajv.addFormat('uuid', /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i)
ajv.addFormat('binary', true)
const compiled = new Map<string, ValidateFunction>()
/** "METHOD /openapi/{path}" of every operation exercised with a 2xx answer. */
const exercised = new Set<string>()

/**
 * Compiles a schema of the document (its `#/components` refs resolve into the document). `closed`
 * (answers): objects that list their properties get `additionalProperties: false`, so a field the
 * server answers but the document does not declare fails; requests stay open as the parsers are.
 */
function validator(key: string, schema: unknown, closed = false): ValidateFunction {
  const known = compiled.get(key)
  if (known !== undefined) return known
  const base = closed ? 'urn:quiver:closed' : 'urn:quiver:openapi'
  const text = JSON.stringify(closed ? closeObjects(schema) : schema).replaceAll(
    '"#/components/',
    `"${base}#/components/`,
  )
  const v = ajv.compile({ $id: `urn:quiver:probe:${compiled.size}`, allOf: [JSON.parse(text)] })
  compiled.set(key, v)
  return v
}

function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects)
  if (schema === null || typeof schema !== 'object') return schema
  const out: Record<string, unknown> = Object.create(null)
  for (const [k, v] of Object.entries(schema))
    out[k] = k === 'properties' ? mapValues(v, closeObjects) : closeObjects(v)
  if (
    out.properties !== undefined &&
    out.additionalProperties === undefined &&
    out.patternProperties === undefined
  )
    out.additionalProperties = false
  return { ...out }
}

function mapValues(o: unknown, f: (v: unknown) => unknown): unknown {
  return Object.fromEntries(Object.entries(o as object).map(([k, v]) => [k, f(v)]))
}

function check(what: string, v: ValidateFunction, value: unknown): void {
  const ok = v(value)
  expect(
    ok,
    `${what}: ${ajv.errorsText(v.errors, { separator: '\n' })}\n${JSON.stringify(value).slice(0, 600)}`,
  ).toBe(true)
}

function operationOf(method: string, path: string): Doc {
  const op = doc.paths[path]?.[method.toLowerCase()]
  expect(op, `${method} ${path} is in /openapi.json`).toBeDefined()
  return op
}

/**
 * Sends `method url` (a fastify route path with `params` filled in) with `body`, validating the body
 * against the operation's requestBody schema first and the answer against its response schema.
 * Returns the reply; records the operation as exercised when it answered 200.
 */
async function exercise(
  method: string,
  route: string,
  params: Record<string, string>,
  body?: unknown,
  { query = '', invalid = false }: { query?: string; invalid?: boolean } = {},
): Promise<RawReply> {
  const path = openApiPath(route)
  const op = operationOf(method, path)
  if (body !== undefined) {
    const schema = op.requestBody?.content?.['application/json']?.schema
    expect(schema, `${method} ${path} declares a JSON body`).toBeDefined()
    const v = validator(`${method} ${path} request`, schema)
    if (invalid) expect(v(body), `${method} ${path}: the schema refuses ${JSON.stringify(body)}`).toBe(false)
    else check(`${method} ${path} request`, v, body)
  }
  const url = route.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => encodeURIComponent(params[name]!))
  const reply = await call(srv.url, method, `${url}${query}`, body)
  if (invalid)
    expect(reply.status, `${method} ${path} refuses what its schema refuses`).toBeGreaterThanOrEqual(400)
  checkReply(method, path, op, reply)
  return reply
}

function checkReply(method: string, path: string, op: Doc, reply: RawReply): void {
  const type = (reply.headers.get('content-type') ?? '').split(';')[0]!.trim()
  if (reply.status === 200) {
    const content = op.responses['200'].content
    expect(Object.keys(content), `${method} ${path} answers a declared media type`).toContain(type)
    if (type === 'application/json')
      check(
        `${method} ${path} response`,
        validator(`${method} ${path} 200`, content[type].schema, true),
        reply.body,
      )
    else if (type === 'text/plain') expect(typeof reply.body).toBe('string')
    exercised.add(`${method} ${path}`)
  } else {
    const declared = op.responses[String(reply.status)] ?? op.responses.default
    expect(declared, `${method} ${path} ${reply.status}`).toBeDefined()
    const own = declared.content?.['application/json']?.schema
    if (own !== undefined && declared !== op.responses.default) {
      expect(type).toBe('application/json')
      check(
        `${method} ${path} ${reply.status}`,
        validator(`${method} ${path} ${reply.status}`, own, true),
        reply.body,
      )
    } else if (type === 'application/json')
      check(
        `${method} ${path} error`,
        validator('error', op.responses.default.content['application/json'].schema, true),
        reply.body,
      )
  }
}

beforeAll(async () => {
  srv = await startTestServer()
  const res = await call(srv.url, 'GET', '/openapi.json')
  expect(res.status).toBe(200)
  doc = res.body
  ajv.addSchema({ $id: 'urn:quiver:openapi', components: doc.components })
  ajv.addSchema({ $id: 'urn:quiver:closed', components: closeObjects(doc.components) })
})

afterAll(async () => {
  await srv?.close()
})

const C = { collection_name: 'docs' }
const N = { collection_name: 'named' }
const P = '/collections/:collection_name/points'
const vec = (i: number) => [Math.cos(i), Math.sin(i), 0.5, (i % 3) / 3]

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document whose operations are exactly the routes the app registers', () => {
    expect(doc.openapi).toBe('3.1.0')
    expect(doc.info['x-qdrant-api-version']).toMatch(/^\d+\.\d+\.\d+$/)
    const registered = new Set(
      registeredRoutes(srv.server.app)
        // fastify adds a HEAD route for every GET; the document declares the GET
        .filter((r) => r.method !== 'HEAD')
        .map((r) => `${r.method} ${openApiPath(r.url)}`),
    )
    const declared = new Set<string>()
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Doc>>))
      for (const method of Object.keys(item)) declared.add(`${method.toUpperCase()} ${path}`)
    expect(registered.size).toBeGreaterThan(40)
    expect(
      [...registered].filter((r) => !declared.has(r)),
      'routes without a schema',
    ).toEqual([])
    expect(
      [...declared].filter((r) => !registered.has(r)),
      'schemas without a route',
    ).toEqual([])
  })

  it('marks Quiver extensions and resolves every reference', () => {
    expect(doc.paths['/openapi.json'].get['x-quiver-extension']).toBe(true)
    const info = doc.components.schemas.CollectionInfo
    expect(info.properties.unindexed_filter_fields['x-quiver-extension']).toBe(true)
    expect(doc.components.schemas.SearchParams.properties.nprobe['x-quiver-extension']).toBe(true)
    expect(doc.paths['/collections/{collection_name}/points/search'].post.deprecated).toBe(true)
    const text = JSON.stringify(doc)
    for (const [, name] of text.matchAll(/"#\/components\/schemas\/([^"]+)"/g))
      expect(doc.components.schemas, `component ${name}`).toHaveProperty([name!])
    // every operation has a unique operationId
    const ids = Object.values(doc.paths as Record<string, Record<string, Doc>>).flatMap((item) =>
      Object.values(item).map((op) => op.operationId),
    )
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('every route, request and answer against the document', () => {
  it('service and observability', async () => {
    for (const url of ['/', '/healthz', '/health', '/livez', '/readyz', '/metrics', '/openapi.json'])
      expect((await exercise('GET', url, {})).status).toBe(200)
    expect((await exercise('GET', '/cluster', {})).body.result).toEqual({ status: 'disabled' })
    expect((await exercise('GET', '/telemetry', {}, undefined, { query: '?details_level=0' })).status).toBe(
      200,
    )
  })

  it('collections', async () => {
    const create = await exercise('PUT', '/collections/:collection_name', C, {
      vectors: { size: 4, distance: 'Cosine' },
      hnsw_config: { m: 8 },
      optimizers_config: { deleted_threshold: 0.3 },
    })
    expect(create.body.result).toBe(true)
    await exercise('PUT', '/collections/:collection_name', N, {
      vectors: {
        dense: { size: 4, distance: 'Dot' },
        multi: { size: 2, distance: 'Euclid', multivector_config: { comparator: 'max_sim' } },
      },
      sparse_vectors: { text: { modifier: 'idf' } },
    })
    expect((await exercise('GET', '/collections', {})).body.result.collections).toHaveLength(2)
    await exercise('GET', '/collections/:collection_name', C)
    expect((await exercise('GET', '/collections/:collection_name/exists', C)).body.result.exists).toBe(true)
    expect((await exercise('GET', '/collections/:collection_name/cluster', C)).body.result).toMatchObject({
      shard_count: 1,
      local_shards: [{ shard_id: 0, state: 'Active' }],
      remote_shards: [],
    })
    // cluster mode only: one node answers 400 (test/cluster-serve.test.ts drives it on a cluster with the Qdrant client)
    const cluster = await exercise('POST', '/collections/:collection_name/cluster', C, {
      replicate_shard: { shard_id: 0, from_peer_id: 1, to_peer_id: 2 },
    })
    expect(cluster.status).toBe(400)
    expect(cluster.body.status.error).toContain('cluster mode')
    expect((await exercise('PATCH', '/collections/:collection_name', C, {})).status).toBe(200)
    // live reconfiguration, every part of UpdateCollection
    const patch = {
      hnsw_config: { ef_construct: 64 },
      optimizers_config: { deleted_threshold: 0.25 },
      quantization_config: { scalar: { type: 'int8', quantile: 0.5 } },
      params: { replication_factor: 2, write_consistency_factor: 1, read_fan_out_factor: 2 },
    }
    expect((await exercise('PATCH', '/collections/:collection_name', C, patch)).status).toBe(200)
    expect(
      (await exercise('PATCH', '/collections/:collection_name', C, { quantization_config: 'Disabled' }))
        .status,
    ).toBe(200)
    const named = {
      vectors: { dense: { hnsw_config: { m: 12 }, on_disk: false } },
      sparse_vectors: { text: { index: { full_scan_threshold: 100 }, modifier: 'idf' } },
    }
    expect((await exercise('PATCH', '/collections/:collection_name', N, named)).status).toBe(200)
    const info = (await exercise('GET', '/collections/:collection_name', C)).body.result
    expect(info.config.params).toMatchObject({ replication_factor: 2, read_fan_out_factor: 2 })
    expect(
      (await exercise('GET', '/collections/:collection_name', N)).body.result.config.params.vectors.dense
        .hnsw_config,
    ).toEqual({ m: 12 })
    // a refused change is an error answer in the declared envelope
    expect(
      (await exercise('PATCH', '/collections/:collection_name', C, { vectors: { nope: { on_disk: true } } }))
        .status,
    ).toBe(400)
    expect(
      (
        await exercise('GET', '/collections/:collection_name/optimizations', C, undefined, {
          query: '?with=queued,completed,idle_segments&completed_limit=4',
        })
      ).body.result.running,
    ).toBeInstanceOf(Array)
    // aliases
    const aliases = {
      actions: [
        { create_alias: { collection_name: 'docs', alias_name: 'docs_old' } },
        { rename_alias: { old_alias_name: 'docs_old', new_alias_name: 'docs_now' } },
        { create_alias: { collection_name: 'named', alias_name: 'gone' } },
        { delete_alias: { alias_name: 'gone' } },
      ],
    }
    expect(
      (await exercise('POST', '/collections/aliases', {}, aliases, { query: '?timeout=5' })).body.result,
    ).toBe(true)
    expect((await exercise('GET', '/aliases', {})).body.result.aliases).toEqual([
      { alias_name: 'docs_now', collection_name: 'docs' },
    ])
    expect(
      (await exercise('GET', '/collections/:collection_name/aliases', C)).body.result.aliases,
    ).toHaveLength(1)
  })

  it('points: writes', async () => {
    const points = Array.from({ length: 12 }, (_, i) => ({
      id: i,
      vector: vec(i),
      payload: { lang: i % 2 ? 'en' : 'de', n: i, tags: ['a', `t${i % 3}`], m: { k: i } },
    }))
    expect((await exercise('PUT', P, C, { points }, { query: '?wait=true' })).body.result.status).toBe(
      'completed',
    )
    await exercise('PUT', P, C, {
      batch: {
        ids: [100, '5c56c793-69f3-4fbf-87e6-c4bf54c28c26'],
        vectors: [vec(100), vec(101)],
        payloads: [{ lang: 'fr' }, null],
      },
    })
    await exercise('PUT', P, N, {
      points: [1, 2, 3, 4].map((i) => ({
        id: i,
        vector: {
          dense: vec(i),
          multi: [
            [i, 1],
            [1, i],
          ],
          text: { indices: [i, 7], values: [0.5, 1] },
        },
        payload: { g: i % 2 },
      })),
    })
    await exercise('PUT', '/collections/:collection_name/index', C, {
      field_name: 'lang',
      field_schema: 'keyword',
    })
    await exercise('PUT', '/collections/:collection_name/index', C, {
      field_name: 'n',
      field_schema: { type: 'integer', range: true },
    })
    await exercise('PUT', `${P}/vectors`, N, { points: [{ id: 1, vector: { dense: vec(9) } }] })
    await exercise('POST', `${P}/vectors/delete`, N, { points: [2], vector: ['multi'] })
    await exercise('POST', `${P}/payload`, C, { payload: { extra: true }, points: [1, 2] })
    await exercise('POST', `${P}/payload`, C, {
      payload: { z: 1 },
      filter: { must: [{ key: 'n', range: { gte: 10 } }] },
      key: 'm',
    })
    await exercise('PUT', `${P}/payload`, C, { payload: { lang: 'en', n: 3 }, points: [3] })
    await exercise('POST', `${P}/payload/delete`, C, { keys: ['extra'], points: [1] })
    await exercise('POST', `${P}/payload/clear`, C, { points: ['5c56c793-69f3-4fbf-87e6-c4bf54c28c26'] })
    const later = await exercise(
      'POST',
      `${P}/payload`,
      C,
      { payload: { later: true }, points: [5] },
      { query: '?wait=false&ordering=strong' },
    )
    expect(later.body.result.status).toBe('acknowledged')
    const batch = await exercise('POST', `${P}/batch`, C, {
      operations: [
        { upsert: { points: [{ id: 50, vector: vec(50), payload: { lang: 'en' } }] } },
        { set_payload: { payload: { b: 1 }, points: [50] } },
        { delete_payload: { keys: ['b'], points: [50] } },
        { delete: { points: [50] } },
      ],
    })
    expect(batch.body.result).toHaveLength(4)
    await exercise('POST', `${P}/delete`, C, { filter: { must: [{ has_id: [100] }] } })
  })

  it('points: reads', async () => {
    const got = await exercise('POST', P, N, { ids: [1, 2, 3], with_payload: true, with_vector: true })
    expect(got.body.result).toHaveLength(3)
    await exercise(
      'POST',
      P,
      C,
      { ids: [1], with_payload: { exclude: ['m.k'] }, with_vector: false },
      { query: '?consistency=majority&timeout=5' },
    )
    await exercise('POST', P, C, { ids: [1], with_payload: { include: ['m.k', 'tags'] } })
    expect((await exercise('GET', `${P}/:id`, { ...C, id: '1' })).body.result.id).toBe(1)
    expect((await exercise('GET', `${P}/:id`, { ...C, id: '999' })).status).toBe(404)
    await exercise('POST', `${P}/scroll`, C, { limit: 3, with_payload: ['lang'], with_vector: true })
    await exercise('POST', `${P}/scroll`, C, { order_by: { key: 'n', direction: 'desc' }, limit: 2 })
    await exercise('POST', `${P}/count`, C, {
      filter: { must: [{ key: 'lang', match: { value: 'en' } }] },
      exact: true,
    })
    await exercise('POST', '/collections/:collection_name/facet', C, { key: 'lang', limit: 5 })
    await exercise(
      'POST',
      '/collections/:collection_name/facet',
      C,
      { key: 'lang', limit: 0 },
      { invalid: true },
    ) // 422
    await exercise('POST', `${P}/search/matrix/pairs`, C, { sample: 5, limit: 2 })
    await exercise('POST', `${P}/search/matrix/offsets`, C, {
      sample: 5,
      limit: 2,
      filter: { must_not: [{ is_empty: { key: 'lang' } }] },
    })
  })

  it('search, recommend, discover and groups', async () => {
    const filter = {
      should: [
        { key: 'lang', match: { any: ['en', 'de'] } },
        { nested: { key: 'tags', filter: { must: [] } } },
      ],
    }
    const q = await exercise('POST', `${P}/query`, C, { query: vec(1), limit: 3, with_payload: true, filter })
    expect(q.body.result.points.length).toBeGreaterThan(0)
    await exercise('POST', `${P}/query`, C, {
      prefetch: [
        { query: vec(2), limit: 5 },
        { query: { recommend: { positive: [1], negative: [2] } }, limit: 5 },
      ],
      query: { fusion: 'rrf' },
      limit: 3,
      with_vector: true,
      params: { hnsw_ef: 32, exact: false },
    })
    await exercise('POST', `${P}/query`, C, {
      query: { formula: { sum: ['$score', { mult: [0.1, 'n'] }] }, defaults: { n: 0 } },
      prefetch: { query: vec(3), limit: 4 },
    })
    await exercise('POST', `${P}/query`, C, { query: { order_by: 'n' }, limit: 2 })
    await exercise('POST', `${P}/query`, N, {
      query: { indices: [1, 7], values: [1, 1] },
      using: 'text',
      with_vector: ['text'],
    })
    await exercise('POST', `${P}/query`, N, {
      query: { nearest: vec(2), mmr: { diversity: 0.5 } },
      using: 'dense',
    })
    await exercise('POST', `${P}/query`, C, {
      query: { discover: { target: 1, context: [{ positive: 2, negative: 3 }] } },
      limit: 2,
    })
    await exercise('POST', `${P}/query`, C, { query: 'not-a-vector' }, { invalid: true }) // 400 in the declared envelope
    await exercise('POST', `${P}/query/batch`, C, {
      searches: [
        { query: vec(1), limit: 1 },
        { query: { sample: 'random' }, limit: 2 },
      ],
    })
    const groups = await exercise('POST', `${P}/query/groups`, C, {
      query: vec(4),
      group_by: 'lang',
      group_size: 2,
      limit: 2,
      with_lookup: { collection: 'named', with_payload: true, with_vectors: false },
    })
    expect(groups.body.result.groups.length).toBeGreaterThan(0)
    await exercise('POST', `${P}/search`, C, {
      vector: vec(5),
      limit: 2,
      with_payload: { include: ['lang'] },
      score_threshold: -1,
    })
    await exercise('POST', `${P}/search`, N, {
      vector: { name: 'dense', vector: vec(5) },
      limit: 2,
      with_vector: true,
    })
    await exercise('POST', `${P}/search/batch`, C, {
      searches: [
        { vector: vec(6), limit: 1 },
        { vector: vec(7), limit: 2, offset: 1 },
      ],
    })
    await exercise('POST', `${P}/search/groups`, C, {
      vector: vec(8),
      group_by: 'lang',
      group_size: 1,
      limit: 2,
    })
    await exercise('POST', `${P}/recommend`, C, {
      positive: [1, vec(3)],
      negative: [2],
      strategy: 'best_score',
      limit: 3,
    })
    await exercise('POST', `${P}/recommend/batch`, C, { searches: [{ positive: [1], limit: 2 }] })
    await exercise('POST', `${P}/recommend/groups`, C, {
      positive: [1],
      group_by: 'lang',
      group_size: 1,
      limit: 2,
    })
    await exercise('POST', `${P}/discover`, C, {
      target: vec(1),
      context: [{ positive: 1, negative: 2 }],
      limit: 3,
    })
    await exercise('POST', `${P}/discover/batch`, C, {
      searches: [{ context: [{ positive: 1, negative: 2 }], limit: 2 }],
    })
  })

  it('snapshots', async () => {
    const SNAP = '/collections/:collection_name/snapshots'
    const created = await exercise('POST', SNAP, C, undefined, { query: '?wait=true' })
    const name: string = created.body.result.name
    expect((await exercise('GET', SNAP, C)).body.result.map((s: { name: string }) => s.name)).toContain(name)
    const download = await exercise('GET', `${SNAP}/:snapshot_name`, { ...C, snapshot_name: name })
    expect(download.headers.get('content-type')).toMatch(/^application\/octet-stream/)
    const location = `file://${join(srv.dir, 'snapshots', 'docs', name)}`
    await exercise(
      'PUT',
      `${SNAP}/recover`,
      { collection_name: 'copy' },
      { location, priority: 'snapshot' },
      { query: '?wait=true' },
    )

    const upload = `${srv.url}/collections/uploaded/snapshots/upload?wait=true&priority=snapshot`
    const form = new FormData()
    form.append('snapshot', new Blob([await readFile(join(srv.dir, 'snapshots', 'docs', name))]), name)
    const res = await fetch(upload, { method: 'POST', body: form })
    const op = operationOf('POST', '/collections/{collection_name}/snapshots/upload')
    expect(Object.keys(op.requestBody.content)).toEqual(['multipart/form-data'])
    checkReply('POST', '/collections/{collection_name}/snapshots/upload', op, {
      status: res.status,
      body: await res.json(),
      code: res.headers.get('x-quiver-error-code'),
      headers: res.headers,
    })
    expect(res.status).toBe(200)
    await exercise('DELETE', `${SNAP}/:snapshot_name`, { ...C, snapshot_name: name })

    const full = await exercise('POST', '/snapshots', {})
    const fullName: string = full.body.result.name
    await exercise('GET', '/snapshots', {})
    await exercise('GET', '/snapshots/:snapshot_name', { snapshot_name: fullName })
    await exercise('DELETE', '/snapshots/:snapshot_name', { snapshot_name: fullName })
    await exercise('GET', '/snapshots/:snapshot_name', { snapshot_name: fullName }) // 404
    // wait=false: 202 { status: 'accepted' } as declared, the deletion done in the background
    const other: string = (await exercise('POST', '/snapshots', {})).body.result.name
    const accepted = await exercise(
      'DELETE',
      '/snapshots/:snapshot_name',
      { snapshot_name: other },
      undefined,
      {
        query: '?wait=false',
      },
    )
    expect(accepted.status).toBe(202)
    expect(accepted.body.status).toBe('accepted')
    let listed = true
    for (let i = 0; i < 500 && listed; i++)
      listed = (await call(srv.url, 'GET', '/snapshots')).body.result.some(
        (d: { name: string }) => d.name === other,
      )
    expect(listed, 'the accepted deletion happened').toBe(false)
  })

  it('telemetry per collection, issues, index and collection deletion', async () => {
    await exercise('GET', '/telemetry', {}, undefined, { query: '?details_level=3&anonymize=true' })
    // `tags` was filtered on (nested) without a payload index
    const issues = (await exercise('GET', '/issues', {})).body.result.issues
    expect(issues.map((i: { id: string }) => i.id)).toContain('UNINDEXED_FIELD/docs/tags')
    expect((await exercise('DELETE', '/issues', {})).body.result).toBe(true)
    expect((await exercise('GET', '/issues', {})).body.result.issues).toEqual([])
    await exercise('GET', '/collections/:collection_name', N)
    await exercise('DELETE', '/collections/:collection_name/index/:field_name', { ...C, field_name: 'lang' })
    expect(
      (await exercise('DELETE', '/collections/:collection_name', N, undefined, { query: '?timeout=10' })).body
        .result,
    ).toBe(true)
    await exercise('GET', '/collections/:collection_name', N) // 404
  })

  it('schema and server refuse the same malformed bodies, and accept the same edge cases', async () => {
    const E = { collection_name: 'edge' }
    const refused: [string, string, Record<string, string>, unknown][] = [
      ['PUT', '/collections/:collection_name', E, { vectors: { size: 0, distance: 'Cosine' } }],
      ['PUT', '/collections/:collection_name', E, { vectors: { size: 4, distance: 'Cosine2' } }],
      ['PUT', P, C, { points: [{ id: -1, vector: vec(1) }] }],
      ['PUT', P, C, { points: [{ id: 'not-a-uuid', vector: vec(1) }] }],
      ['POST', `${P}/scroll`, C, { limit: 0 }],
      ['POST', `${P}/scroll`, C, { limit: '5' }],
      ['POST', `${P}/scroll`, C, { order_by: { key: 'n', direction: 'up' } }],
      ['POST', `${P}/query`, C, { query: vec(1), limit: 0 }],
      ['POST', `${P}/query`, C, { query: vec(1), with_payload: 5 }],
      ['POST', '/collections/:collection_name/facet', C, { key: '' }],
      ['POST', `${P}/search/matrix/pairs`, C, { sample: 1 }],
      ['POST', `${P}/search/groups`, C, { vector: vec(1), group_by: 'lang', limit: 2 }],
      ['POST', `${P}/discover`, C, { target: 1 }],
      ['PUT', '/collections/:collection_name/index', C, { field_name: '', field_schema: 'keyword' }],
      ['PUT', '/collections/:collection_name/index', C, { field_name: 'x', field_schema: 'blob' }],
      ['POST', `${P}/payload/delete`, C, { keys: 'lang', points: [1] }],
      ['POST', `${P}/count`, C, { filter: { must: [{ key: 'n', range: { gte: true } }] } }],
    ]
    for (const [method, route, params, body] of refused)
      await exercise(method, route, params, body, { invalid: true })
    const accepted: [string, string, Record<string, string>, unknown][] = [
      [
        'PUT',
        '/collections/:collection_name',
        E,
        { vectors: { size: 2, distance: 'Dot' }, shard_number: 1, on_disk_payload: true, wal_config: null },
      ],
      [
        'PUT',
        '/collections/:collection_name',
        { collection_name: 'edge_q' },
        { vectors: { size: 2, distance: 'Dot' }, quantization: { scalar: { type: 'int8', quantile: 0.5 } } },
      ],
      ['POST', `${P}/scroll`, C, { filter: null, limit: null, offset: null, with_payload: null }],
      ['POST', `${P}/query`, C, { query: null, filter: null, params: null, limit: 2 }],
      ['POST', `${P}/search`, C, { vector: vec(1), filter: null, params: null, limit: 3, offset: null }],
      [
        'POST',
        `${P}/count`,
        C,
        { filter: { min_should: { conditions: [{ key: 'n', range: { lt: 5 } }], min_count: 1 } } },
      ],
      ['POST', `${P}/count`, C, { filter: { must: { key: 'lang', match: { except: ['en'] } } } }],
      [
        'POST',
        `${P}/count`,
        C,
        { filter: { must: [{ slice: { total: 2, index: 0 } }, { is_null: { key: 'x' } }] } },
      ],
    ]
    for (const [method, route, params, body] of accepted)
      expect(
        (await exercise(method, route, params, body)).status,
        `${method} ${route} ${JSON.stringify(body)}`,
      ).toBe(200)
  })

  it('exercised every declared operation with a 200 answer', () => {
    const declared: string[] = []
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, Doc>>))
      for (const method of Object.keys(item)) declared.push(`${method.toUpperCase()} ${path}`)
    // answered 200 only in cluster mode (exercised above with its 400, and on a cluster elsewhere)
    const clusterOnly = new Set(['POST /collections/{collection_name}/cluster'])
    expect(declared.filter((d) => !exercised.has(d) && !clusterOnly.has(d))).toEqual([])
  })
})

describe('what the official Qdrant client sends and receives', () => {
  it('validates against the document: every body the client sends, every answer it gets', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-openapi-client-'))
    const db = await Quiver.open(dir)
    const app = buildServer({ db })
    const failures: string[] = []
    const seen = new Set<string>()
    const opOf = (req: FastifyRequest) =>
      doc.paths[openApiPath(req.routeOptions.url ?? '')]?.[req.method.toLowerCase()]
    app.addHook('preHandler', async (req) => {
      const op = opOf(req)
      const key = `${req.method} ${req.routeOptions.url}`
      if (op === undefined) return void failures.push(`${key}: not in the document`)
      seen.add(key)
      const schema = op.requestBody?.content?.['application/json']?.schema
      if (req.body === undefined || schema === undefined) return
      const v = validator(`${key} request`, schema)
      if (!v(req.body))
        failures.push(
          `${key} request: ${ajv.errorsText(v.errors)}: ${JSON.stringify(req.body).slice(0, 300)}`,
        )
    })
    app.addHook('onSend', async (req, reply, payload) => {
      const op = opOf(req)
      if (op === undefined || reply.statusCode !== 200 || typeof payload !== 'string') return payload
      if (!String(reply.getHeader('content-type') ?? '').startsWith('application/json')) return payload
      const v = validator(
        `${req.method} ${req.routeOptions.url} 200`,
        op.responses['200'].content['application/json'].schema,
        true,
      )
      const body = JSON.parse(payload)
      if (!v(body))
        failures.push(`${req.method} ${req.routeOptions.url} response: ${ajv.errorsText(v.errors)}`)
      return payload
    })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address() as AddressInfo
    const client = new QdrantClient({ url: `http://127.0.0.1:${address.port}`, checkCompatibility: false })
    try {
      await client.versionInfo()
      await client.createCollection('c', {
        vectors: { size: 4, distance: 'Cosine', on_disk: false },
        hnsw_config: { m: 16, ef_construct: 64 },
        optimizers_config: { default_segment_number: 1 },
        sparse_vectors: { s: { modifier: 'idf' } },
      })
      await client.getCollections()
      await client.collectionExists('c')
      await client.updateCollection('c', {})
      await client.updateCollection('c', {
        hnsw_config: { ef_construct: 32 },
        optimizers_config: { deleted_threshold: 0.4 },
        params: { replication_factor: 1 },
        sparse_vectors: { s: { index: { full_scan_threshold: 10 } } },
      })
      await client.updateCollectionAliases({
        actions: [{ create_alias: { collection_name: 'c', alias_name: 'c_alias' } }],
      })
      await client.getAliases()
      await client.getCollectionAliases('c')
      await client.createPayloadIndex('c', { field_name: 'lang', field_schema: 'keyword', wait: true })
      await client.createPayloadIndex('c', {
        field_name: 'n',
        field_schema: { type: 'integer', lookup: true, range: true },
      })
      await client.upsert('c', {
        wait: true,
        points: Array.from({ length: 10 }, (_, i) => ({
          id: i + 1,
          vector: { '': vec(i), s: { indices: [i, 20], values: [1, 0.5] } },
          payload: { lang: i % 2 ? 'en' : 'de', n: i },
        })),
      })
      await client.upsert('c', {
        batch: { ids: [11], vectors: { '': [vec(11)] }, payloads: [{ lang: 'en' }] },
      })
      await client.getCollection('c')
      await client.getOptimizations('c', { with: 'queued,completed', completed_limit: 2 })
      await client.retrieve('c', { ids: [1, 2], with_payload: true, with_vector: true })
      await client.scroll('c', {
        limit: 3,
        filter: { must: [{ key: 'n', range: { gte: 2 } }] },
        with_payload: ['lang'],
      })
      await client.count('c', { exact: true })
      await client.query('c', { query: vec(1), limit: 3, with_payload: true })
      await client.query('c', { query: { indices: [1, 20], values: [1, 1] }, using: 's', limit: 2 })
      await client.query('c', {
        prefetch: [
          { query: vec(2), limit: 5 },
          { query: { indices: [2], values: [1] }, using: 's', limit: 5 },
        ],
        query: { fusion: 'rrf' },
      })
      await client.queryBatch('c', {
        searches: [{ query: vec(3) }, { query: { recommend: { positive: [1] } } }],
      })
      await client.queryGroups('c', { query: vec(4), group_by: 'lang', group_size: 2 })
      await client.search('c', { vector: vec(5), limit: 2, params: { hnsw_ef: 16 } })
      await client.searchBatch('c', { searches: [{ vector: vec(5), limit: 1 }] })
      await client.searchPointGroups('c', { vector: vec(6), group_by: 'lang', group_size: 1, limit: 2 })
      await client.recommend('c', { positive: [1], limit: 2 })
      await client.recommendBatch('c', { searches: [{ positive: [1], negative: [2], limit: 2 }] })
      await client.recommendPointGroups('c', { positive: [1], group_by: 'lang', group_size: 1, limit: 2 })
      await client.discoverPoints('c', { target: 1, context: [{ positive: 2, negative: 3 }], limit: 2 })
      await client.discoverBatchPoints('c', {
        searches: [{ context: [{ positive: 2, negative: 3 }], limit: 2 }],
      })
      await client.facet('c', { key: 'lang' })
      await client.searchMatrixPairs('c', { sample: 4, limit: 1 })
      await client.searchMatrixOffsets('c', { sample: 4, limit: 1 })
      await client.setPayload('c', { payload: { x: 1 }, points: [1], wait: true })
      await client.overwritePayload('c', { payload: { lang: 'en' }, filter: { must: [{ has_id: [2] }] } })
      await client.deletePayload('c', { keys: ['x'], points: [1] })
      await client.clearPayload('c', { points: [3] })
      await client.updateVectors('c', { points: [{ id: 1, vector: { '': vec(7) } }] })
      await client.deleteVectors('c', { points: [1], vector: ['s'] })
      await client.batchUpdate('c', {
        operations: [{ upsert: { points: [{ id: 20, vector: vec(20) }] } }, { delete: { points: [20] } }],
      })
      await client.delete('c', { points: [11], wait: true })
      const snap = await client.createSnapshot('c', { wait: true })
      await client.listSnapshots('c')
      await client.deleteSnapshot('c', snap!.name)
      const full = await client.createFullSnapshot()
      await client.listFullSnapshots()
      await client.deleteFullSnapshot(full!.name)
      await client.deletePayloadIndex('c', 'lang')
      await client.deleteCollection('c')
    } finally {
      await app.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
    expect(failures).toEqual([])
    expect(seen.size).toBeGreaterThan(40)
  })
})
