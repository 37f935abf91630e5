// PATCH /collections/{name} through the unchanged @qdrant/js-client-rest against a real server:
// per-vector and collection-level HNSW / quantization changes echoed as Qdrant echoes them,
// params, sparse vector settings, optimizers; the rebuild runs while queries keep succeeding; a
// bad PATCH answers 400 naming the field and changes nothing.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const DIM = 4

describe('PATCH /collections/{name} (live reconfiguration) over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(11)

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it("changes the unnamed vector's and the collection's settings apart, as Qdrant reports them", async () => {
    await client.createCollection('one', {
      vectors: { size: DIM, distance: 'Dot' },
      sparse_vectors: { 'sparse-text': { index: { on_disk: false } } },
    })
    await client.upsert('one', {
      wait: true,
      points: Array.from({ length: 300 }, (_, id) => ({
        id,
        vector: Array.from({ length: DIM }, () => r() * 2 - 1),
        payload: { id },
      })),
    })
    let info = await client.getCollection('one')
    const vectors = info.config.params.vectors as Record<string, unknown>
    expect(vectors.hnsw_config).toBeUndefined()
    expect(vectors.quantization_config).toBeUndefined()
    expect(info.config.params.on_disk_payload).toBe(false)
    expect(info.config.hnsw_config).toMatchObject({ m: 16, ef_construct: 100 })
    expect(info.config.quantization_config).toBeNull()

    expect(
      await client.updateCollection('one', {
        vectors: {
          '': {
            hnsw_config: { m: 32 },
            quantization_config: { scalar: { type: 'int8', quantile: 0.8 } },
            on_disk: true,
          },
        },
        hnsw_config: { ef_construct: 123 },
        quantization_config: { scalar: { type: 'int8', quantile: 0.99, always_ram: true } },
        params: {
          on_disk_payload: true,
          replication_factor: 2,
          write_consistency_factor: 2,
          read_fan_out_factor: 0,
        },
        sparse_vectors: { 'sparse-text': { index: { on_disk: true }, modifier: 'idf' } },
        optimizers_config: { default_segment_number: 6, indexing_threshold: 10000 },
      }),
    ).toBe(true)
    info = await client.getCollection('one')
    const v = info.config.params.vectors as Record<string, Record<string, unknown>>
    expect(v.hnsw_config!.m).toBe(32)
    expect(v.quantization_config).toEqual({ scalar: { type: 'int8', quantile: 0.8 } })
    expect(v.on_disk).toBe(true)
    expect(info.config.params.on_disk_payload).toBe(true)
    expect(info.config.params.replication_factor).toBe(2)
    expect(info.config.params.write_consistency_factor).toBe(2)
    expect(info.config.params.read_fan_out_factor).toBe(0)
    expect(info.config.params.sparse_vectors!['sparse-text']).toEqual({
      index: { on_disk: true },
      modifier: 'idf',
    })
    expect(info.config.hnsw_config).toMatchObject({ m: 16, ef_construct: 123 })
    expect(info.config.quantization_config).toEqual({
      scalar: { type: 'int8', quantile: 0.99, always_ram: true },
    })
    expect(info.config.optimizer_config.default_segment_number).toBe(6)

    // the vector's own quantization removed: it follows the collection-level one again
    await client.updateCollection('one', { vectors: { '': { quantization_config: 'Disabled' } } })
    info = await client.getCollection('one')
    expect((info.config.params.vectors as Record<string, unknown>).quantization_config).toBeUndefined()
    await client.updateCollection('one', { quantization_config: 'Disabled' })
    expect((await client.getCollection('one')).config.quantization_config).toBeNull()

    // writes and reads work on the reconfigured collection
    await client.upsert('one', {
      wait: true,
      points: [{ id: 7, vector: [0.15, 0.31, 0.76, 0.74], payload: { city: 'Rome' } }],
    })
    expect((await client.retrieve('one', { ids: [7], with_payload: true }))[0]!.payload).toEqual({
      city: 'Rome',
    })
  })

  it('rebuilds named vectors in the background while queries through the client keep succeeding', async () => {
    await client.createCollection('named', {
      vectors: { text: { size: 8, distance: 'Cosine' }, image: { size: DIM, distance: 'Euclid' } },
      optimizers_config: { max_segment_size: 16, default_segment_number: 2 },
    })
    for (let b = 0; b < 6; b++) {
      await client.upsert('named', {
        wait: true,
        points: Array.from({ length: 250 }, (_, i) => ({
          id: b * 250 + i,
          vector: {
            text: Array.from({ length: 8 }, () => r() * 2 - 1),
            image: Array.from({ length: DIM }, () => r() * 2 - 1),
          },
        })),
      })
    }
    let stop = false
    let ok = 0
    const failures: unknown[] = []
    const load = (async () => {
      while (!stop) {
        try {
          const res = await client.query('named', {
            query: Array.from({ length: 8 }, () => r() * 2 - 1),
            using: 'text',
            limit: 5,
          })
          if (res.points.length !== 5) throw new Error(`${res.points.length} points`)
          ok++
        } catch (err) {
          failures.push(err)
        }
      }
    })()
    await client.updateCollection('named', {
      vectors: { text: { hnsw_config: { m: 8, ef_construct: 50 }, quantization_config: { binary: {} } } },
    })
    const during = await client.getCollection('named')
    expect(during.status).toBe('yellow')
    const info = await waitGreen(client, 'named')
    stop = true
    await load
    expect(failures).toEqual([])
    expect(ok).toBeGreaterThan(0)
    const text = (info.config.params.vectors as Record<string, Record<string, unknown>>).text!
    expect(text.hnsw_config).toMatchObject({ m: 8, ef_construct: 50 })
    expect(text.quantization_config).toEqual({ binary: {} })
    expect(info.points_count).toBe(1500)
  }, 60_000)

  it('answers a bad PATCH with 400 naming the field and changes nothing', async () => {
    await client.createCollection('bad', {
      vectors: { size: DIM, distance: 'Euclid' },
      hnsw_config: { m: 12 },
    })
    const before = await client.getCollection('bad')
    const cases: [unknown, RegExp][] = [
      [
        { hnsw_config: { m: 8 }, vectors: { nope: { on_disk: true } } },
        /^Wrong input: Not existing vector name error: nope$/,
      ],
      [{ hnsw_config: { m: 'many' } }, /hnsw_config\.m/],
      [{ quantization_config: 'Enabled' }, /quantization_config/],
      [{ optimizers_config: { deleted_threshold: 5 } }, /optimizers_config\.deleted_threshold/],
      [{ params: { replication_factor: 0 } }, /params\.replication_factor/],
      [{ sparse_vectors: { s: { modifier: 'idf' } } }, /^Wrong input: Not existing vector name error: s$/],
      [{ ivf_config: { nlist: 4 } }, /ivf_config: the IVF index of an existing collection cannot change/],
      [
        { strict_mode_config: { enabled: true, max_query_limit: 0 } },
        /strict_mode_config\.max_query_limit: expected an integer >= 1/,
      ],
    ]
    for (const [body, message] of cases) {
      const res = await call(srv.url, 'PATCH', '/collections/bad', body)
      expect(res.status, JSON.stringify(body)).toBe(400)
      expect(res.body.status.error).toMatch(message)
    }
    expect(await client.getCollection('bad')).toEqual(before)
    const missing = await apiError(client.updateCollection('missing', { hnsw_config: { m: 8 } }))
    expect(missing.status).toBe(404)
  })
})

async function waitGreen(client: QdrantClient, name: string) {
  // the rebuild ends when the optimizers say so: poll the info Qdrant clients poll (bounded)
  for (let i = 0; i < 2000; i++) {
    const info = await client.getCollection(name)
    if (info.status === 'green') return info
    await new Promise((resolve) => setImmediate(resolve))
  }
  throw new Error(`collection ${name} did not turn green`)
}
