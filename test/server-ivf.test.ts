// The IVF index over the REST API (Quiver's extension of Qdrant's wire format) with the official
// @qdrant/js-client-rest against a real server: `ivf_config` at creation and in collection info,
// `params.nprobe` on search and query, and 400s naming the field for bad configs and for PATCH of ivf_config.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const DIM = 16
const N = 2000
const NLIST = 32

/** `params` with Quiver's `nprobe` (the client's types know only Qdrant's search parameters). */
function nprobe(n: number): { hnsw_ef: number } {
  return { nprobe: n } as unknown as { hnsw_ef: number }
}

describe('IVF over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(9)
  const vectors = Array.from({ length: N }, () => Array.from({ length: DIM }, () => r() * 2 - 1))

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('creates IVF collections with ivf_config (top level, or in vectors for the official client)', async () => {
    // @qdrant/js-client-rest forwards only the top-level keys it knows, but `vectors` as given
    const body = { vectors: { size: DIM, distance: 'Euclid', ivf_config: { nlist: NLIST, nprobe: 4 } } }
    expect(
      await client.createCollection('ivf', body as Parameters<QdrantClient['createCollection']>[1]),
    ).toBe(true)
    const info = await client.getCollection('ivf')
    expect((info.config as unknown as { ivf_config: unknown }).ivf_config).toEqual({
      nlist: NLIST,
      nprobe: 4,
    })
    expect(info.config.hnsw_config).toBeDefined()
    const top = await call(srv.url, 'PUT', '/collections/auto', {
      vectors: { size: DIM, distance: 'Cosine' },
      ivf_config: {},
    })
    expect(top.status).toBe(200)
    const auto = await call(srv.url, 'GET', '/collections/auto')
    expect(auto.body.result.config.ivf_config).toEqual({ nlist: null, nprobe: null })
    await client.createCollection('plain', { vectors: { size: DIM, distance: 'Euclid' } })
    const plain = await call(srv.url, 'GET', '/collections/plain')
    expect(plain.body.result.config.ivf_config).toBeNull()
  })

  it('searches with params.nprobe on search, query and batch; nprobe = nlist equals exact search', async () => {
    for (let i = 0; i < N; i += 500) {
      const points = vectors
        .slice(i, i + 500)
        .map((vector, j) => ({ id: i + j, vector, payload: { even: (i + j) % 2 === 0 } }))
      await client.upsert('ivf', { wait: true, points })
    }
    let found = 0
    let narrowRecall = 0
    for (const qi of [3, 400, 1234, 1999]) {
      const q = vectors[qi]!
      const exact = await client.search('ivf', { vector: q, limit: 10, params: { exact: true } })
      expect(exact[0]).toMatchObject({ id: qi, score: 0 })
      const all = await client.search('ivf', {
        vector: q,
        limit: 10,
        params: nprobe(NLIST),
      })
      expect(all).toEqual(exact)
      const narrow = await client.query('ivf', {
        query: q,
        limit: 10,
        params: nprobe(1),
      })
      if (narrow.points[0]?.id === qi) found++
      const truth = new Set(exact.map((p) => p.id))
      narrowRecall += narrow.points.filter((p) => truth.has(p.id)).length
      const filtered = await client.search('ivf', {
        vector: q,
        limit: 5,
        filter: { must: [{ key: 'even', match: { value: true } }] },
        with_payload: true,
        params: nprobe(8),
      })
      for (const p of filtered) expect(p.payload).toEqual({ even: true })
      const batch = await client.searchBatch('ivf', {
        searches: [{ vector: q, limit: 10, params: nprobe(NLIST) }],
      })
      expect(batch[0]!.map((p) => [p.id, p.score])).toEqual(exact.map((p) => [p.id, p.score]))
    }
    // a point lies in the list of its nearest centroid: one probe finds it
    expect(found).toBe(4)
    expect(narrowRecall).toBeLessThan(40)
    const info = await client.getCollection('ivf')
    expect(info.points_count).toBe(N)
  })

  it('refuses bad ivf_config with 400 naming the field, creating nothing', async () => {
    const bad: [unknown, RegExp][] = [
      [{ nlist: 0 }, /ivf_config\.nlist: expected an integer in 1\.\.65536, got 0/],
      [{ nlist: 8, nprobe: 9 }, /ivf_config\.nprobe: expected an integer in 1\.\.8, got 9/],
      [{ nlist: 'many' }, /ivf_config\.nlist: expected an integer/],
      [{ lists: 4 }, /ivf_config\.lists: unknown field/],
      [[8], /ivf_config: expected an object/],
    ]
    for (const [config, message] of bad) {
      const reply = await call(srv.url, 'PUT', '/collections/broken', {
        vectors: { size: DIM, distance: 'Cosine' },
        ivf_config: config,
      })
      expect(reply.status, JSON.stringify(reply.body)).toBe(400)
      expect(reply.code).toBe('INVALID_CONFIG')
      expect(reply.body.status.error).toMatch(message)
    }
    // segments of at most 1024 KiB hold 16384 vectors of 16 floats: too few to train 1000 lists
    const tooMany = [
      {
        vectors: { size: DIM, distance: 'Cosine', ivf_config: { nlist: 1000 } },
        optimizers_config: { max_segment_size: 1024 },
      },
    ]
    for (const body of tooMany) {
      const reply = await call(srv.url, 'PUT', '/collections/broken', body)
      const message =
        /vectors\.ivf_config\.nlist: 1000 lists need 39000 vectors in one segment to train .* holds at most 16384/
      expect(reply.status, JSON.stringify(reply.body)).toBe(400)
      expect(reply.code).toBe('INVALID_CONFIG')
      expect(reply.body.status.error).toMatch(message)
    }
    expect((await client.collectionExists('broken')).exists).toBe(false)
    const search = await apiError(client.search('ivf', { vector: vectors[0]!, params: nprobe(0) }))
    expect(search.status).toBe(400)
    expect(search.message).toMatch(/params\.nprobe: expected an integer >= 1/)
  })

  it('refuses changing the index with PATCH', async () => {
    const patched = await call(srv.url, 'PATCH', '/collections/ivf', { ivf_config: { nprobe: 8 } })
    expect(patched.status).toBe(400)
    expect(patched.body.status.error).toMatch(
      /ivf_config: the IVF index of an existing collection cannot change/,
    )
  })
})
