// The query-result cache over the Qdrant REST API, through the unchanged @qdrant/js-client-rest
// against a real server: a repeated query is a hit, an upsert of a point that belongs in its
// results makes the same query include it, and /metrics counts hits, misses and evictions.
// Also `quiver serve`'s --query-cache-mb / QUIVER__QUERY_CACHE_MB parsing.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { UsageError } from '../src/cli/args.js'
import { queryCacheBytes } from '../src/cli/serve.js'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'

const DIM = 6

/** The value of metric `name` with labels `labels` (e.g. `{collection="c"}`) in a Prometheus text body. */
function metric(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels} `))
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('query-result cache over the Qdrant REST API', () => {
  let srv: TestServer
  let client: QdrantClient
  const r = rng(21)
  const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('serves a repeated query from the cache, never stale after an upsert, and counts it in /metrics', async () => {
    await client.createCollection('c', { vectors: { size: DIM, distance: 'Dot' } })
    await client.upsert('c', {
      wait: true,
      points: Array.from({ length: 100 }, (_, id) => ({ id, vector: vec(), payload: { n: id } })),
    })
    const q = vec()
    const first = await client.query('c', { query: q, limit: 5, with_payload: true })
    const again = await client.query('c', { query: q, limit: 5, with_payload: true })
    expect(again.points).toEqual(first.points)
    // 10x the query: first in any Dot ranking
    await client.upsert('c', {
      wait: true,
      points: [{ id: 500, vector: q.map((x) => x * 10), payload: { n: 500 } }],
    })
    const after = await client.query('c', { query: q, limit: 5, with_payload: true })
    expect(after.points[0]!.id).toBe(500)
    expect(after.points[0]!.payload).toEqual({ n: 500 })
    // the legacy search route goes through the same cache
    await client.search('c', { vector: q, limit: 3 })
    await client.search('c', { vector: q, limit: 3 })

    const text = (await call(srv.url, 'GET', '/metrics')).body as string
    expect(metric(text, 'quiver_query_cache_hits_total', '{collection="c"}')).toBe(2)
    expect(metric(text, 'quiver_query_cache_misses_total', '{collection="c"}')).toBe(3)
    expect(metric(text, 'quiver_query_cache_evictions_total')).toBe(0)
    expect(metric(text, 'quiver_query_cache_entries')).toBe(3)
    expect(metric(text, 'quiver_query_cache_bytes')).toBeGreaterThan(0)
  })

  it('a request with Cache-Control: no-cache or no-store is answered afresh and stores nothing', async () => {
    await client.createCollection('nc', { vectors: { size: DIM, distance: 'Dot' } })
    await client.upsert('nc', {
      wait: true,
      points: Array.from({ length: 50 }, (_, id) => ({ id, vector: vec() })),
    })
    const body = JSON.stringify({ query: vec(), limit: 5 })
    const ask = async (headers: Record<string, string> = {}) => {
      const res = await fetch(`${srv.url}/collections/nc/points/query`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body,
      })
      expect(res.status).toBe(200)
      return ((await res.json()) as { result: { points: unknown[] } }).result.points
    }
    const counts = async () => {
      const text = (await call(srv.url, 'GET', '/metrics')).body as string
      return [
        metric(text, 'quiver_query_cache_hits_total', '{collection="nc"}') ?? 0,
        metric(text, 'quiver_query_cache_misses_total', '{collection="nc"}') ?? 0,
      ]
    }
    const plain = await ask({ 'cache-control': 'no-store' })
    expect(await counts()).toEqual([0, 0])
    expect(await ask({ 'Cache-Control': 'max-age=0, no-cache' })).toEqual(plain)
    expect(await counts()).toEqual([0, 0])
    // an unrelated directive changes nothing: a miss, then a hit
    await ask({ 'cache-control': 'max-age=60' })
    await ask()
    expect(await counts()).toEqual([1, 1])
    // a cached entry is not served to a no-cache request either
    await ask({ 'cache-control': 'no-cache' })
    expect(await counts()).toEqual([1, 1])
  })

  it('is off with a budget of 0', async () => {
    const off = await startTestServer({ queryCacheBytes: 0 })
    try {
      const c = new QdrantClient({ url: off.url, checkCompatibility: false })
      await c.createCollection('c', { vectors: { size: DIM, distance: 'Dot' } })
      await c.upsert('c', { wait: true, points: [{ id: 1, vector: vec() }] })
      await c.query('c', { query: vec() })
      await c.query('c', { query: vec() })
      const text = (await call(off.url, 'GET', '/metrics')).body as string
      expect(metric(text, 'quiver_query_cache_misses_total', '{collection="c"}')).toBe(0)
      expect(metric(text, 'quiver_query_cache_entries')).toBe(0)
    } finally {
      await off.close()
    }
  })

  it('takes --query-cache-mb, else QUIVER__QUERY_CACHE_MB, refusing a bad value', () => {
    expect(queryCacheBytes(undefined, undefined)).toBeUndefined()
    expect(queryCacheBytes(undefined, '')).toBeUndefined()
    expect(queryCacheBytes(8, '64')).toBe(8 * 1024 * 1024)
    expect(queryCacheBytes(undefined, '64')).toBe(64 * 1024 * 1024)
    expect(queryCacheBytes(0, undefined)).toBe(0)
    for (const bad of ['-1', 'lots', '1.5', '1e3'])
      expect(() => queryCacheBytes(undefined, bad)).toThrow(UsageError)
    expect(() => queryCacheBytes(2_000_000, undefined)).toThrow(/out of range/)
  })
})
