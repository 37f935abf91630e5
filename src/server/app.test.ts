// The HTTP layer alone (envelopes, parsing, routing, error mapping) over a recording fake database,
// so these checks do not depend on the engine; test/server-*.test.ts run the real one.

import { describe, expect, it } from 'vitest'
import { singleVector } from '../../test/support/configs.js'
import { DEFAULT_OPTIMIZERS } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import type {
  Collection,
  CollectionConfig,
  CreateCollectionOptions,
  PointId,
  PointRecord,
  QueryRequest,
  ScoredPoint,
  SearchOptions,
  SearchRequest,
} from '../types.js'
import { buildServer, type ServerDatabase } from './app.js'

interface Call {
  method: string
  args: unknown[]
}

const CONFIG: CollectionConfig = singleVector({
  dimension: 3,
  metric: 'Dot',
  hnsw: { m: 16, efConstruct: 100, fullScanThreshold: 10000, ef: 64 },
  optimizers: DEFAULT_OPTIMIZERS,
})

function fakeDb(): { db: ServerDatabase; calls: Call[] } {
  const calls: Call[] = []
  const done = { operationId: 7, status: 'completed' as const }
  const record =
    (method: string) =>
    async (...args: unknown[]) => {
      calls.push({ method, args })
      return done
    }
  const hit: ScoredPoint = { id: 1, score: 0.5, payload: { a: 1, b: { c: 2, d: 3 } } }
  const collection: Collection = {
    name: 'c',
    config: CONFIG,
    upsert: record('upsert'),
    get: async (ids: readonly PointId[]): Promise<PointRecord[]> => {
      calls.push({ method: 'get', args: [ids] })
      // as the engine: a point without payload reads as {} when payload is asked for (the default)
      return ids.filter((id) => id === 1).map((id) => ({ id, payload: {}, vector: [1, 2, 3] }))
    },
    delete: record('delete'),
    updateVectors: record('updateVectors'),
    deleteVectors: record('deleteVectors'),
    batchUpdate: record('batchUpdate'),
    updateConfig: record('updateConfig'),
    count: async () => 3,
    scroll: async () => ({
      points: [{ id: 1, payload: {} }],
      nextPageOffset: 'b4c9f6d2-5a39-4b87-9d8e-0e6f1c2a3b4d',
    }),
    facet: async () => ({ hits: [] }),
    searchMatrix: async () => ({ sampleIds: [], nearest: [] }),
    queryGroups: async () => ({ groups: [] }),
    search: async (vector, options?: SearchOptions) => {
      calls.push({ method: 'search', args: [vector, options] })
      return [hit]
    },
    searchBatch: async (reqs: readonly SearchRequest[]) => {
      calls.push({ method: 'searchBatch', args: [reqs] })
      return reqs.map(() => [hit])
    },
    query: async (request?: QueryRequest) => {
      calls.push({ method: 'query', args: [request] })
      return { points: [hit] }
    },
    queryBatch: async (reqs: readonly QueryRequest[]) => {
      calls.push({ method: 'queryBatch', args: [reqs] })
      return reqs.map(() => ({ points: [hit] }))
    },
    setPayload: record('setPayload'),
    overwritePayload: record('overwritePayload'),
    deletePayload: record('deletePayload'),
    clearPayload: record('clearPayload'),
    createPayloadIndex: record('createPayloadIndex'),
    deletePayloadIndex: record('deletePayloadIndex'),
    info: async () => ({
      name: 'c',
      status: 'green',
      optimizerStatus: 'ok',
      pointsCount: 3,
      indexedVectorsCount: 3,
      segmentsCount: 1,
      config: CONFIG,
      payloadSchema: {
        tags: {
          dataType: 'keyword',
          params: { type: 'keyword', is_tenant: false, on_disk: false },
          points: 2,
        },
      },
      unindexedFilterFields: { city: 4 },
    }),
  }
  const db: ServerDatabase = {
    createCollection: async (name: string, options: CreateCollectionOptions) => {
      calls.push({ method: 'createCollection', args: [name, options] })
      if (name === 'c') throw new QuiverError('COLLECTION_EXISTS', 'collection c exists')
      return collection
    },
    getCollection: async (name: string) => {
      if (name !== 'c') throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} not found`)
      return collection
    },
    hasCollection: (name) => name === 'c',
    listCollections: () => ['c'],
    deleteCollection: async (name) => name === 'c',
  }
  return { db, calls }
}

async function inject(
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  url: string,
  payload?: unknown,
  contentType = 'application/json',
) {
  const { db, calls } = fakeDb()
  const app = buildServer({ db, bodyLimit: 4096 })
  const res = await app.inject({
    method,
    url,
    ...(payload === undefined
      ? {}
      : {
          payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
          headers: { 'content-type': contentType },
        }),
  })
  await app.close()
  return {
    status: res.statusCode,
    body: res.json(),
    code: res.headers['x-quiver-error-code'],
    calls,
    text: res.body,
  }
}

describe('buildServer', () => {
  it('wraps results in the Qdrant envelope with time in seconds', async () => {
    const r = await inject('GET', '/collections')
    expect(r.status).toBe(200)
    expect(r.body).toEqual({
      result: { collections: [{ name: 'c' }] },
      status: 'ok',
      time: expect.any(Number),
    })
    expect(r.body.time).toBeLessThan(5)
  })

  it('answers GET / unwrapped, as Qdrant does', async () => {
    const r = await inject('GET', '/')
    const { commit, ...rest } = r.body
    expect(rest).toEqual({ title: expect.stringContaining('quiver'), version: '1.18.0' })
    // the build's commit (dist/build-info.json), absent when built outside git
    if (commit !== undefined) expect(commit).toMatch(/^[0-9a-f]{40}$/)
  })

  it('maps create options and reports conflicts as 409', async () => {
    const ok = await inject('PUT', '/collections/new', {
      vectors: { size: 8, distance: 'Euclid', on_disk: true },
      hnsw_config: { m: 4, ef_construct: 40, full_scan_threshold: 100, max_indexing_threads: 2 },
      shard_number: 1,
      optimizers_config: { default_segment_number: 3, deleted_threshold: 0.3, flush_interval_sec: 5 },
    })
    expect(ok.body.result).toBe(true)
    expect(ok.calls[0]).toEqual({
      method: 'createCollection',
      args: [
        'new',
        {
          dimension: 8,
          metric: 'Euclid',
          onDisk: true,
          hnsw: { m: 4, efConstruct: 40, fullScanThreshold: 100 },
          optimizers: { defaultSegmentNumber: 3, deletedThreshold: 0.3 },
          params: { shardNumber: 1 },
        },
      ],
    })
    const dup = await inject('PUT', '/collections/c', { vectors: { size: 3, distance: 'Dot' } })
    expect(dup.status).toBe(409)
    expect(dup.body.status.error).toBe('collection c exists')
  })

  it('passes search parameters and the payload selection to the engine', async () => {
    const r = await inject('POST', '/collections/c/points/query', {
      query: { nearest: [1, 2, 3] },
      limit: 4,
      offset: 2,
      score_threshold: 0.1,
      params: { hnsw_ef: 99, exact: false },
      filter: { must: [{ key: 'a', match: { value: 1 } }] },
      with_payload: { exclude: ['b.c'] },
    })
    expect(r.calls[0]).toEqual({
      method: 'query',
      args: [
        {
          query: { nearest: [1, 2, 3] },
          limit: 4,
          offset: 2,
          scoreThreshold: 0.1,
          params: { hnswEf: 99, exact: false },
          filter: { must: [{ key: 'a', match: { value: 1 } }] },
          withPayload: { exclude: ['b.c'] },
          withVector: false,
        },
      ],
    })
    // the engine applies the selection; the wire returns its payload as it is
    expect(r.body.result).toEqual({
      points: [{ id: 1, version: 0, score: 0.5, payload: { a: 1, b: { c: 2, d: 3 } } }],
    })
  })

  it('combines points and filter of payload operations as Qdrant does', async () => {
    const filter = { must: [{ key: 'a', match: { value: 1 } }] }
    const r = await inject('POST', '/collections/c/points/payload?wait=true', {
      payload: { x: 1 },
      points: [1, 2],
      filter,
      key: 'k',
    })
    expect(r.body.result).toEqual({ operation_id: 7, status: 'completed' })
    expect(r.calls[0]).toEqual({
      method: 'setPayload',
      args: [{ x: 1 }, { filter: { must: [{ has_id: [1, 2] }, filter] } }, { wait: true, key: 'k' }],
    })
  })

  it('returns a single point by id and 404 when it is missing', async () => {
    expect((await inject('GET', '/collections/c/points/1')).body.result).toEqual({
      id: 1,
      payload: {},
      vector: [1, 2, 3],
    })
    const missing = await inject('GET', '/collections/c/points/2')
    expect(missing.status).toBe(404)
    expect(missing.code).toBe('POINT_NOT_FOUND')
  })

  it.each([
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'application/vnd.api+json',
    'application/vnd.api+json; charset=utf-8',
    'application/foo+json;x=1',
  ])('parses a JSON body sent as %s', async (type) => {
    const r = await inject('POST', '/collections/c/points/count', '{"filter": null}', type)
    expect(r.body.result).toEqual({ count: 3 })
  })

  it.each([
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonp',
    'application/json+xml',
    'application/x+jsonx; a=b',
    'application/octet-stream',
  ])('refuses a body sent as %s with 415 in the envelope, without calling the engine', async (type) => {
    const r = await inject('POST', '/collections/c/points/delete', '{"filter": {}}', type)
    expect(r.status).toBe(415)
    expect(r.code).toBe('UNSUPPORTED_MEDIA_TYPE')
    expect(r.body.status.error).toMatch(/application\/json/)
    expect(r.body.status.error).toContain(type.split(';')[0])
    expect(typeof r.body.time).toBe('number')
    expect(r.calls).toEqual([])
  })

  it('accepts an empty body where all fields are optional', async () => {
    const empty = await inject('POST', '/collections/c/points/scroll', '')
    expect(empty.body.result).toEqual({
      points: [{ id: 1, payload: {} }],
      next_page_offset: 'b4c9f6d2-5a39-4b87-9d8e-0e6f1c2a3b4d',
    })
  })

  it('rejects a __proto__ key, a bad wait flag and a body over the limit', async () => {
    const proto = await inject(
      'PUT',
      '/collections/c/points',
      '{"points": [{"id": 1, "vector": [1,2,3], "payload": {"__proto__": {"x": 1}}}]}',
    )
    expect(proto.status).toBe(400)
    expect(proto.body.status.error).toMatch(/__proto__/)
    const wait = await inject('POST', '/collections/c/points/delete?wait=maybe', { points: [1] })
    expect(wait.status).toBe(400)
    expect(wait.body.status.error).toMatch(/wait/)
    expect(wait.calls).toEqual([])
    const big = await inject('PUT', '/collections/c/points', {
      points: [{ id: 1, vector: [1, 2, 3], payload: { s: 'x'.repeat(5000) } }],
    })
    expect(big.status).toBe(413)
    expect(big.body.status.error).toEqual(expect.any(String))
  })

  it('passes payload index requests to the engine and reports payload_schema in snake_case', async () => {
    const schema = { type: 'text', tokenizer: 'word', min_token_len: 2 }
    const put = await inject('PUT', '/collections/c/index?wait=true&ordering=strong', {
      field_name: 'meta.title',
      field_schema: schema,
    })
    expect(put.body.result).toEqual({ operation_id: 7, status: 'completed' })
    expect(put.calls).toEqual([
      { method: 'createPayloadIndex', args: ['meta.title', schema, { wait: true }] },
    ])
    const del = await inject('DELETE', '/collections/c/index/tags%5B%5D?wait=false')
    expect(del.body.result).toEqual({ operation_id: 7, status: 'completed' })
    expect(del.calls).toEqual([{ method: 'deletePayloadIndex', args: ['tags[]', { wait: false }] }])
    const info = await inject('GET', '/collections/c')
    expect(info.body.result.payload_schema).toEqual({
      tags: {
        data_type: 'keyword',
        params: { type: 'keyword', is_tenant: false, on_disk: false },
        points: 2,
      },
    })
    expect(info.body.result.unindexed_filter_fields).toEqual({ city: 4 })
  })

  it.each([
    [{ field_schema: 'keyword' }, 'field_name', /non-empty string/],
    [{ field_name: '', field_schema: 'keyword' }, 'field_name', /non-empty string/],
    [{ field_name: 7, field_schema: 'keyword' }, 'field_name', /number 7/],
    [{ field_name: 'a' }, 'field_schema', /does not infer/],
    [{ field_name: 'a', field_schema: null }, 'field_schema', /does not infer/],
    [['a', 'keyword'], 'body', /JSON object/],
  ])('rejects the create index envelope %j without calling the engine', async (body, path, why) => {
    const r = await inject('PUT', '/collections/c/index', body)
    expect(r.status).toBe(400)
    expect(r.code).toBe('INVALID_ARGUMENT')
    expect(r.body.status.error).toMatch(new RegExp(`^${path}: `))
    expect(r.body.status.error).toMatch(why)
    expect(r.calls).toEqual([])
  })

  it('hides unexpected errors behind a 500 envelope', async () => {
    const { db } = fakeDb()
    db.listCollections = () => {
      throw new Error('disk exploded at /secret')
    }
    const app = buildServer({ db })
    const res = await app.inject({ method: 'GET', url: '/collections' })
    await app.close()
    expect(res.statusCode).toBe(500)
    expect(res.json().status.error).not.toMatch(/secret/)
  })

  it('answers a non-finite score with 500 INTERNAL, never "score": null', async () => {
    for (const score of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const { db } = fakeDb()
      const collection = await db.getCollection('c')
      const hits: ScoredPoint[] = [
        { id: 1, score: 0.5 },
        { id: 2, score },
      ]
      db.getCollection = async () => ({
        ...collection,
        search: async () => hits,
        searchBatch: async (reqs) => reqs.map(() => hits),
        query: async () => ({ points: hits }),
        queryBatch: async (reqs) => reqs.map(() => ({ points: hits })),
      })
      const app = buildServer({ db })
      for (const [url, payload] of [
        ['query', { query: [1, 2, 3] }],
        ['search', { vector: [1, 2, 3], limit: 2 }],
        ['query/batch', { searches: [{ query: [1, 2, 3] }] }],
        ['recommend', { positive: [1] }],
        ['recommend/batch', { searches: [{ positive: [1] }] }],
        ['search/batch', { searches: [{ vector: [1, 2, 3], limit: 2 }] }],
      ] as const) {
        const res = await app.inject({ method: 'POST', url: `/collections/c/points/${url}`, payload })
        expect(res.statusCode, res.body).toBe(500)
        expect(res.headers['x-quiver-error-code']).toBe('INTERNAL')
        expect(res.body).not.toMatch(/"score":\s*null/)
      }
      await app.close()
    }
  })
})
