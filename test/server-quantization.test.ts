// Quantization over the REST API with the official @qdrant/js-client-rest against a real server:
// `quantization_config` at creation and in collection info, `params.quantization` on search and
// query, changes by PATCH, and 400s naming the field for bad configs, bad search parameters and PATCH.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const DIM = 16
const N = 1500

describe('quantization over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(5)
  const vectors = Array.from({ length: N }, () => Array.from({ length: DIM }, () => r() * 2 - 1))

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('creates a collection with quantization_config and reports it in the info', async () => {
    expect(
      await client.createCollection('sq', {
        vectors: { size: DIM, distance: 'Euclid' },
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
      }),
    ).toBe(true)
    const info = await client.getCollection('sq')
    expect(info.config.quantization_config).toEqual({
      scalar: { type: 'int8', quantile: 0.99, always_ram: true },
    })
    await client.createCollection('plain', { vectors: { size: DIM, distance: 'Euclid' } })
    expect((await client.getCollection('plain')).config.quantization_config).toBeNull()
  })

  it('accepts quantization_config inside vectors (which wins, as in Qdrant)', async () => {
    await client.createCollection('bq', {
      vectors: { size: DIM, distance: 'Cosine', quantization_config: { binary: { always_ram: false } } },
      quantization_config: { scalar: { type: 'int8' } },
    })
    expect((await client.getCollection('bq')).config.quantization_config).toEqual({
      binary: { always_ram: false },
    })
  })

  it('searches with params.quantization on search and query, finding what exact search finds', async () => {
    for (let i = 0; i < N; i += 500) {
      const points = vectors.slice(i, i + 500).map((vector, j) => ({ id: i + j, vector }))
      await client.upsert('sq', { wait: true, points })
    }
    for (const qi of [3, 400, 1234]) {
      const q = vectors[qi]!
      const exact = await client.search('sq', { vector: q, limit: 5, params: { exact: true } })
      expect(exact[0]).toMatchObject({ id: qi, score: 0 })
      const rescored = await client.search('sq', {
        vector: q,
        limit: 5,
        params: { hnsw_ef: 64, quantization: { rescore: true, oversampling: 2 } },
      })
      expect(rescored.map((p) => p.id)).toEqual(exact.map((p) => p.id))
      rescored.forEach((p, i) => {
        expect(p.score).toBeCloseTo(exact[i]!.score, 4)
      })
      const codes = await client.query('sq', {
        query: q,
        limit: 5,
        params: { quantization: { rescore: false } },
      })
      expect(codes.points[0]!.id).toBe(qi)
      const ignored = await client.query('sq', {
        query: q,
        limit: 5,
        params: { quantization: { ignore: true } },
      })
      expect(ignored.points.map((p) => p.id)).toEqual(exact.map((p) => p.id))
      const batch = await client.searchBatch('sq', {
        searches: [{ vector: q, limit: 5, params: { quantization: { oversampling: 3 } } }],
      })
      expect(batch[0]!.map((p) => p.id)).toEqual(exact.map((p) => p.id))
    }
  })

  it('refuses bad quantization configs with 400 naming the field, creating nothing', async () => {
    const bad: [unknown, RegExp][] = [
      [{ scalar: { type: 'int4' } }, /quantization_config\.scalar\.type: expected "int8"/],
      [{ scalar: { type: 'int8', quantile: 0.2 } }, /quantization_config\.scalar\.quantile/],
      [{ product: { compression: 'x3' } }, /quantization_config\.product\.compression/],
      [{ binary: { encoding: 'two_bits' } }, /quantization_config\.binary\.encoding/],
      [{ scalar: { type: 'int8' }, binary: {} }, /exactly one of/],
      [{ turbo: {} }, /quantization_config\.turbo: unknown field/],
    ]
    for (const [config, message] of bad) {
      const reply = await call(srv.url, 'PUT', '/collections/broken', {
        vectors: { size: DIM, distance: 'Cosine' },
        quantization_config: config,
      })
      expect(reply.status, JSON.stringify(reply.body)).toBe(400)
      expect(reply.code).toBe('INVALID_CONFIG')
      expect(reply.body.status.error).toMatch(message)
    }
    const viaClient = await apiError(
      client.createCollection('broken', {
        vectors: { size: DIM, distance: 'Cosine' },
        quantization_config: { product: { compression: 'x3' as 'x4' } },
      }),
    )
    expect(viaClient.status).toBe(400)
    expect(viaClient.message).toMatch(/quantization_config\.product\.compression/)
    expect((await client.collectionExists('broken')).exists).toBe(false)
  })

  it('refuses bad params.quantization with 400 naming the field', async () => {
    const q = vectors[0]!
    const search = await apiError(
      client.search('sq', { vector: q, limit: 3, params: { quantization: { oversampling: 0.5 } } }),
    )
    expect(search).toMatchObject({ status: 400 })
    expect(search.message).toMatch(/params\.quantization\.oversampling: expected a number >= 1/)
    const query = await call(srv.url, 'POST', '/collections/sq/points/query', {
      query: q,
      params: { quantization: { rescore: 'yes' } },
    })
    expect(query.status).toBe(400)
    expect(query.body.status.error).toMatch(/params\.quantization\.rescore: expected true or false/)
    const batch = await call(srv.url, 'POST', '/collections/sq/points/search/batch', {
      searches: [
        { vector: q, limit: 1 },
        { vector: q, limit: 1, params: { quantization: { fast: true } } },
      ],
    })
    expect(batch.status).toBe(400)
    expect(batch.body.status.error).toMatch(/searches\[1\]\.params\.quantization\.fast: unknown field/)
  })

  it('changes quantization with PATCH (a bad config changes nothing); an empty PATCH is a no-op', async () => {
    const bad = await apiError(
      client.updateCollection('sq', { quantization_config: { binary: { fast: 1 } } as never }),
    )
    expect(bad.status).toBe(400)
    expect(bad.message).toMatch(/quantization_config\.binary\.fast/)
    expect((await client.getCollection('sq')).config.quantization_config).toEqual({
      scalar: { type: 'int8', quantile: 0.99, always_ram: true },
    })
    expect(await client.updateCollection('sq', {})).toBe(true)
    expect(await client.updateCollection('sq', { quantization_config: { binary: {} } })).toBe(true)
    expect((await client.getCollection('sq')).config.quantization_config).toEqual({ binary: {} })
    expect(await client.updateCollection('sq', { quantization_config: 'Disabled' })).toBe(true)
    expect((await client.getCollection('sq')).config.quantization_config).toBeNull()
    const missing = await call(srv.url, 'PATCH', '/collections/nope', { quantization_config: null })
    expect(missing.status).toBe(404)
  })
})
