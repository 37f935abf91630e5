// The live recall estimate over the Qdrant REST API: a real server sampling every search, the
// unchanged Qdrant client querying with a low hnsw_ef, and the estimate visible in collection
// info (`recall_estimates`), in /metrics and as a warning of GET /health.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'

const DIM = 24

describe('live recall estimate over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(31)
  const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  beforeAll(async () => {
    srv = await startTestServer({
      recallSampleRate: 1,
      recallCpuShare: 1,
      queryCacheBytes: 0,
      health: { minRecall: 0.9 },
    })
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('shows the estimate in collection info and /metrics, and /health warns when it is low', async () => {
    await client.createCollection('low', {
      vectors: { size: DIM, distance: 'Euclid' },
      hnsw_config: { m: 4, ef_construct: 8 },
    })
    await client.upsert('low', {
      wait: true,
      points: Array.from({ length: 3000 }, (_, id) => ({ id, vector: vec() })),
    })
    let health = (await call(srv.url, 'GET', '/health')).body
    expect(health).toMatchObject({ status: 'ok', warnings: [] })

    // queries until 20 were sampled (a sample due while two run is skipped): bounded, no sleeps
    type Estimate = {
      vector: string
      class: string
      window: number
      estimate: number
      lower: number
      upper: number
    }
    let estimates: Estimate[] = []
    for (let i = 0; i < 400 && (estimates[0]?.window ?? 0) < 20; i++) {
      await client.query('low', { query: vec(), limit: 10, params: { hnsw_ef: 10 } })
      estimates = (await call(srv.url, 'GET', '/collections/low')).body.result.recall_estimates
    }
    expect(estimates).toHaveLength(1)
    const [e] = estimates
    expect(e).toMatchObject({ vector: '', class: 'unfiltered', quantized: false })
    expect(e!.window).toBeGreaterThanOrEqual(20)
    expect(e!.estimate).toBeLessThan(0.9)
    expect(e!.lower).toBeLessThanOrEqual(e!.estimate)
    expect(e!.upper).toBeGreaterThanOrEqual(e!.estimate)

    const text = (await call(srv.url, 'GET', '/metrics')).body as string
    const line = text
      .split('\n')
      .find((l) => l.startsWith('quiver_search_recall_estimate{') && l.includes('collection="low"'))
    expect(line).toContain('class="unfiltered"')
    // a sample may land between the two reads: the series says the same, not the same digits
    const scraped = Number(line!.slice(line!.lastIndexOf(' ') + 1))
    expect(scraped).toBeGreaterThan(0)
    expect(scraped).toBeLessThan(0.9)
    expect(text).toMatch(/quiver_search_recall_samples_total\{[^}]*collection="low"[^}]*\} \d+/)

    health = (await call(srv.url, 'GET', '/health')).body
    expect(health.status).toBe('warning')
    expect(health.thresholds).toEqual({ min_recall: 0.9, max_p99_ms: 100 })
    expect(health.warnings[0]).toMatchObject({ collection: 'low', check: 'recall', class: 'unfiltered' })
    expect(health.warnings[0].message).toContain('is below 0.9')
  })

  it('takes search_config.recall_sample_rate at create and PATCH, echoes it, and refuses a bad one', async () => {
    const put = await call(srv.url, 'PUT', '/collections/cfg', {
      vectors: { size: DIM, distance: 'Dot' },
      search_config: { recall_sample_rate: 0.5 },
    })
    expect(put.status).toBe(200)
    let info = (await call(srv.url, 'GET', '/collections/cfg')).body.result
    expect(info.config.search_config).toEqual({ recall_sample_rate: 0.5, target_recall: null })
    await client.updateCollection('cfg', { search_config: { recall_sample_rate: 0 } } as never)
    info = (await call(srv.url, 'GET', '/collections/cfg')).body.result
    expect(info.config.search_config).toEqual({ recall_sample_rate: 0, target_recall: null })
    for (const bad of [{ recall_sample_rate: 1.5 }, { recall_sample_rate: 'x' }, { rate: 1 }, 3]) {
      const res = await call(srv.url, 'PATCH', '/collections/cfg', { search_config: bad })
      expect(res.status).toBe(400)
      expect(JSON.stringify(res.body)).toContain('search_config')
    }
    const bad = await call(srv.url, 'PUT', '/collections/cfg2', {
      vectors: { size: DIM, distance: 'Dot' },
      search_config: { recall_sample_rate: -1 },
    })
    expect(bad.status).toBe(400)
    expect((await call(srv.url, 'GET', '/collections/cfg2')).status).toBe(404)
  })
})
