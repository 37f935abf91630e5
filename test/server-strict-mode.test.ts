// Strict mode over the Qdrant REST API, through the unchanged @qdrant/js-client-rest against a real
// server: `strict_mode_config` at create and PATCH (merged field by field, echoed in collection
// info), 400 with Qdrant's messages for a limit, 429 with `Retry-After` for a rate limit, nothing
// written by a refused request, and a bad config refused.
import { QdrantClient, QdrantClientResourceExhaustedError } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const DIM = 4

describe('strict mode over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(3)
  const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('takes strict_mode_config at create and PATCH, echoes it, and enforces it', async () => {
    await client.createCollection('tenant', {
      vectors: { size: DIM, distance: 'Cosine' },
      strict_mode_config: { enabled: true, max_query_limit: 10, upsert_max_batchsize: 50 },
    })
    await client.upsert('tenant', {
      wait: true,
      points: Array.from({ length: 50 }, (_, id) => ({
        id,
        vector: vec(),
        payload: { city: id % 2 ? 'a' : 'b' },
      })),
    })
    let info = await client.getCollection('tenant')
    expect(info.config.strict_mode_config).toEqual({
      enabled: true,
      max_query_limit: 10,
      upsert_max_batchsize: 50,
    })

    const over = await apiError(client.query('tenant', { query: vec(), limit: 11 }))
    expect(over.status).toBe(400)
    expect(over.message).toBe(
      'Limit exceeded 11 > 10 for "limit". Help: Reduce the "limit" parameter to or below 10.',
    )
    expect((await client.query('tenant', { query: vec(), limit: 10 })).points).toHaveLength(10)

    // a too-large upsert writes nothing
    const big = await apiError(
      client.upsert('tenant', {
        wait: true,
        points: Array.from({ length: 51 }, (_, k) => ({ id: 100 + k, vector: vec() })),
      }),
    )
    expect(big.status).toBe(400)
    expect(big.message).toContain('"upsert limit"')
    expect((await client.count('tenant', { exact: true })).count).toBe(50)

    // PATCH merges field by field; null leaves a field as it is (as Qdrant)
    await client.updateCollection('tenant', {
      strict_mode_config: { unindexed_filtering_retrieve: false, upsert_max_batchsize: null },
    })
    info = await client.getCollection('tenant')
    expect(info.config.strict_mode_config).toEqual({
      enabled: true,
      max_query_limit: 10,
      upsert_max_batchsize: 50,
      unindexed_filtering_retrieve: false,
    })
    const unindexed = await apiError(
      client.query('tenant', { query: vec(), filter: { must: [{ key: 'city', match: { value: 'a' } }] } }),
    )
    expect(unindexed.status).toBe(400)
    expect(unindexed.message).toBe(
      'Index required but not found for "city" of one of the following types: [keyword]. Help: Create an index for this key or use a different filter.',
    )
    await client.createPayloadIndex('tenant', { field_name: 'city', field_schema: 'keyword', wait: true })
    const hits = await client.query('tenant', {
      query: vec(),
      filter: { must: [{ key: 'city', match: { value: 'a' } }] },
      with_payload: true,
    })
    expect(hits.points.every((p) => p.payload?.city === 'a')).toBe(true)

    // max_timeout holds on every read route that takes a timeout, the legacy ones too
    await client.updateCollection('tenant', { strict_mode_config: { max_timeout: 2 } })
    const timed: [string, unknown][] = [
      ['/collections/tenant/points?timeout=3', { ids: [1] }],
      ['/collections/tenant/facet?timeout=3', { key: 'city' }],
      ['/collections/tenant/points/search/matrix/pairs?timeout=3', { sample: 3 }],
      [
        '/collections/tenant/points/discover?timeout=3',
        { target: 1, context: [{ positive: 2, negative: 3 }], limit: 2 },
      ],
    ]
    for (const [path, body] of timed) {
      const res = await call(srv.url, 'POST', path, body)
      expect([path, res.status]).toEqual([path, 400])
      expect(JSON.stringify(res.body)).toContain('Limit exceeded 3 > 2 for \\"timeout\\"')
    }
    expect((await call(srv.url, 'POST', '/collections/tenant/facet?timeout=2', { key: 'city' })).status).toBe(
      200,
    )

    // off again: everything passes
    await client.updateCollection('tenant', { strict_mode_config: { enabled: false } })
    expect((await client.query('tenant', { query: vec(), limit: 20 })).points).toHaveLength(20)
  })

  it('answers 429 with Retry-After past a rate limit, and a PATCH refills it', async () => {
    await client.createCollection('limited', { vectors: { size: DIM, distance: 'Dot' } })
    await client.upsert('limited', { wait: true, points: [{ id: 1, vector: vec() }] })
    await client.updateCollection('limited', { strict_mode_config: { enabled: true, read_rate_limit: 2 } })
    const query = () => call(srv.url, 'POST', '/collections/limited/points/query', { query: vec(), limit: 1 })
    expect((await query()).status).toBe(200)
    expect((await query()).status).toBe(200)
    const limited = await query()
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toBe('30')
    expect(limited.body.status.error).toBe(
      'Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 tokens but only 0.0 were available. Retry after 30s',
    )
    // the client turns a 429 with Retry-After into its own error, carrying the wait
    const viaClient = await client.query('limited', { query: vec(), limit: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(viaClient).toBeInstanceOf(QdrantClientResourceExhaustedError)
    expect((viaClient as QdrantClientResourceExhaustedError).retry_after).toBeGreaterThan(0)
    // larger than the bucket: no Retry-After (waiting never helps)
    const huge = await call(srv.url, 'POST', '/collections/limited/points', { ids: [1, 2, 3] })
    expect(huge.status).toBe(429)
    expect(huge.headers.get('retry-after')).toBeNull()
    expect(huge.body.status.error).toContain('request larger than rate limiter capacity')
    await client.updateCollection('limited', { strict_mode_config: { read_rate_limit: 2 } })
    expect((await query()).status).toBe(200)
  })

  it('refuses a bad strict_mode_config with 400 naming the field, changing nothing', async () => {
    await client.createCollection('plain', { vectors: { size: DIM, distance: 'Dot' } })
    const before = await client.getCollection('plain')
    for (const [config, message] of [
      [{ max_query_limit: 0 }, /strict_mode_config\.max_query_limit: expected an integer >= 1/],
      [{ enabled: 'yes' }, /strict_mode_config\.enabled/],
      [{ no_such_limit: 1 }, /strict_mode_config\.no_such_limit: unknown field/],
      [{ multivector_config: { m: { max_vectors: 0 } } }, /multivector_config\.m\.max_vectors/],
    ] as const) {
      const res = await call(srv.url, 'PATCH', '/collections/plain', { strict_mode_config: config })
      expect(res.status, JSON.stringify(config)).toBe(400)
      expect(res.body.status.error).toMatch(message)
      const created = await call(srv.url, 'PUT', '/collections/plain2', {
        vectors: { size: DIM, distance: 'Dot' },
        strict_mode_config: config,
      })
      expect(created.status).toBe(400)
    }
    expect(await client.getCollection('plain')).toEqual(before)
    expect((await client.collectionExists('plain2')).exists).toBe(false)
  })
})
