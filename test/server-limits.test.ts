// Request limits of a real server: body size, JSON and filter depth, malformed JSON, batch sizes,
// payload size, `limit`, vector dimension and concurrent requests; each refusal writes nothing.

import { mkdtemp, rm } from 'node:fs/promises'
import { request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/db/quiver.js'
import { buildServer } from '../src/server/app.js'
import { type RunningServer, serve } from '../src/server/index.js'
import { call } from './server-harness.js'

const BODY_LIMIT = 64 * 1024
const LIMITS = {
  maxBatchPoints: 5,
  maxBatchSearches: 3,
  maxPayloadBytes: 1000,
  maxFilterDepth: 4,
  maxLimit: 50,
}

const point = (id: number, payload: Record<string, unknown> = { id }) => ({
  id,
  vector: [1, 0, 0, id],
  payload,
})

/** A filter `depth` clause levels deep: `{ must: [{ must: [ ... { key, match } ] }] }`. */
function deepFilter(depth: number): Record<string, unknown> {
  let f: Record<string, unknown> = { must: [{ key: 'id', match: { value: 1 } }] }
  for (let i = 1; i < depth; i++) f = { must: [f] }
  return f
}

describe('request limits', () => {
  let server: RunningServer
  let dir: string
  let url: string
  let client: QdrantClient
  const count = async (): Promise<number> => (await client.count('c', { exact: true })).count

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-limits-test-'))
    server = await serve({
      dataDir: dir,
      port: 0,
      logLevel: 'silent',
      handleSignals: false,
      bodyLimit: BODY_LIMIT,
      limits: LIMITS,
    })
    url = server.url
    client = new QdrantClient({ url, checkCompatibility: false })
    await client.createCollection('c', { vectors: { size: 4, distance: 'Dot' } })
    await client.upsert('c', { wait: true, points: [1, 2, 3].map((i) => point(i)) })
  })
  afterAll(async () => {
    await server?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('refuses a body over the size limit with 413 in Qdrant envelope', async () => {
    const big = { points: [point(10, { blob: 'x'.repeat(BODY_LIMIT) })] }
    const r = await call(url, 'PUT', '/collections/c/points', big)
    expect(r.status).toBe(413)
    expect(r.code).toBe('PAYLOAD_TOO_LARGE')
    expect(r.body.status.error).toMatch(/too large/i)
    expect(r.body.status.error).toContain(`at most ${BODY_LIMIT} bytes`)
    expect(typeof r.body.time).toBe('number')
    expect(await count()).toBe(3)
  })

  it('refuses deeply nested bodies before parsing them, and stays up', async () => {
    const deep = `${'['.repeat(30_000)}${']'.repeat(30_000)}`
    const r = await call(url, 'PUT', '/collections/c/points', deep)
    expect(r.status).toBe(400)
    expect(r.code).toBe('LIMIT_EXCEEDED')
    expect(r.body.status.error).toMatch(/nested deeper than 64 levels/)
    let payload: unknown = 1
    for (let i = 0; i < 70; i++) payload = { a: payload }
    const p = await call(url, 'PUT', '/collections/c/points', {
      points: [point(11, payload as Record<string, unknown>)],
    })
    expect(p.status).toBe(400)
    expect(p.body.status.error).toMatch(/nested deeper/)
    // brackets inside strings do not count
    const s = await call(url, 'PUT', '/collections/c/points', {
      points: [point(12, { s: '[{'.repeat(100) })],
    })
    expect(s.status).toBe(200)
    await client.delete('c', { wait: true, points: [12] })
    expect((await call(url, 'GET', '/healthz')).status).toBe(200)
    expect(await count()).toBe(3)
  })

  it('refuses malformed JSON with 400', async () => {
    const r = await call(url, 'PUT', '/collections/c/points', '{"points": [')
    expect(r.status).toBe(400)
    expect(r.code).toBe('INVALID_ARGUMENT')
    expect(r.body.status.error).toMatch(/^Invalid JSON body/)
    expect(await count()).toBe(3)
  })

  it('refuses too many points or searches in one request', async () => {
    const six = [10, 11, 12, 13, 14, 15].map((i) => point(i))
    const r = await call(url, 'PUT', '/collections/c/points', { points: six })
    expect(r.status).toBe(400)
    expect(r.code).toBe('LIMIT_EXCEEDED')
    expect(r.body.status.error).toBe('points: 6 in one request exceed the server limit of 5 (maxBatchPoints)')
    const batch = {
      batch: { ids: six.map((p) => p.id), vectors: six.map((p) => p.vector) },
    }
    expect((await call(url, 'PUT', '/collections/c/points', batch)).body.status.error).toMatch(
      /^batch\.ids: 6/,
    )
    expect(
      (await call(url, 'POST', '/collections/c/points/delete', { points: [1, 2, 3, 4, 5, 6] })).status,
    ).toBe(400)
    const searches = Array.from({ length: 4 }, () => ({ vector: [1, 0, 0, 0], limit: 1 }))
    const s = await call(url, 'POST', '/collections/c/points/search/batch', { searches })
    expect(s.status).toBe(400)
    expect(s.body.status.error).toMatch(/searches: 4 .* limit of 3 \(maxBatchSearches\)/)
    let status = 0
    await client.upsert('c', { wait: true, points: six }).catch((e: { status: number }) => {
      status = e.status
    })
    expect(status).toBe(400)
    expect(await count()).toBe(3)
    expect((await client.upsert('c', { wait: true, points: six.slice(0, 5) })).status).toBe('completed')
    await client.delete('c', { wait: true, points: six.slice(0, 5).map((p) => p.id) })
  })

  it('refuses a payload over the per-point size limit', async () => {
    const r = await call(url, 'PUT', '/collections/c/points', {
      points: [point(20), point(21, { s: 'y'.repeat(1000) })],
    })
    expect(r.status).toBe(400)
    expect(r.body.status.error).toMatch(
      /^points\[1\]: payload of 1008 bytes exceeds the server limit of 1000 bytes/,
    )
    const set = await call(url, 'POST', '/collections/c/points/payload', {
      payload: { s: 'z'.repeat(2000) },
      points: [1],
    })
    expect(set.status).toBe(400)
    expect(set.body.status.error).toMatch(/^payload: payload of/)
    const batch = await call(url, 'PUT', '/collections/c/points', {
      batch: { ids: [22], vectors: [[1, 0, 0, 0]], payloads: [{ s: 'é'.repeat(600) }] },
    })
    expect(batch.status).toBe(400)
    expect(batch.body.status.error).toMatch(/^batch\.payloads\[0\]/)
    expect(await count()).toBe(3)
    expect((await client.retrieve('c', { ids: [1] }))[0]?.payload).toEqual({ id: 1 })
  })

  it('refuses filters nested deeper than the limit wherever a filter goes', async () => {
    const ok = await call(url, 'POST', '/collections/c/points/count', { filter: deepFilter(4), exact: true })
    expect(ok.status).toBe(200)
    expect(ok.body.result.count).toBe(1)
    const deep = deepFilter(5)
    for (const [path, body] of [
      ['/collections/c/points/count', { filter: deep }],
      ['/collections/c/points/scroll', { filter: deep }],
      ['/collections/c/points/search', { vector: [1, 0, 0, 0], limit: 1, filter: deep }],
      ['/collections/c/points/query', { query: [1, 0, 0, 0], filter: deep }],
      [
        '/collections/c/points/search/batch',
        { searches: [{ vector: [1, 0, 0, 0], limit: 1, filter: deep }] },
      ],
      ['/collections/c/points/delete', { filter: deep }],
      ['/collections/c/points/payload', { payload: { x: 1 }, filter: deep }],
    ] as const) {
      const r = await call(url, 'POST', path, body)
      expect(r.status, path).toBe(400)
      expect(r.body.status.error, path).toMatch(
        /filter: nested 5 levels deep, deeper than the server limit of 4/,
      )
    }
    expect(await count()).toBe(3)
    expect((await client.retrieve('c', { ids: [1] }))[0]?.payload).toEqual({ id: 1 })
  })

  it('refuses limit or top above the maximum', async () => {
    const s = await call(url, 'POST', '/collections/c/points/search', { vector: [1, 0, 0, 0], limit: 51 })
    expect(s.status).toBe(400)
    expect(s.body.status.error).toBe('limit: 51 exceeds the server limit of 50 (maxLimit)')
    expect((await call(url, 'POST', '/collections/c/points/scroll', { limit: 51 })).status).toBe(400)
    const batch = await call(url, 'POST', '/collections/c/points/query/batch', {
      searches: [
        { query: [1, 0, 0, 0], top: 1 },
        { query: [1, 0, 0, 0], top: 99 },
      ],
    })
    expect(batch.body.status.error).toMatch(/^searches\[1\]\.top: 99/)
    expect(
      (await call(url, 'POST', '/collections/c/points/search', { vector: [1, 0, 0, 0], limit: 50 })).status,
    ).toBe(200)
  })

  it('refuses a vector dimension above 65536 at collection creation', async () => {
    const r = await call(url, 'PUT', '/collections/huge', { vectors: { size: 65_537, distance: 'Dot' } })
    expect(r.status).toBe(400)
    expect(r.code).toBe('INVALID_CONFIG')
    expect(r.body.status.error).toMatch(/65536/)
    expect((await client.collectionExists('huge')).exists).toBe(false)
  })
})

describe('concurrent requests', () => {
  it('answers 429 with retry-after beyond the in-flight limit, then recovers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'quiver-limits-test-'))
    const db = await Quiver.open(dir)
    const app = buildServer({ db, limits: { maxConcurrentRequests: 2, requestTimeoutMs: 5000 } })
    const arrived: Array<() => void> = []
    const arrivals = [0, 1].map((i) => new Promise<void>((done) => (arrived[i] = done)))
    let seen = 0
    app.addHook('onRequest', async (request) => {
      if (request.url.endsWith('/points')) arrived[seen++]?.()
    })
    try {
      await app.listen({ host: '127.0.0.1', port: 0 })
      expect(app.server.requestTimeout).toBe(5000)
      const address = app.server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      const base = `http://127.0.0.1:${port}`
      expect(
        (await call(base, 'PUT', '/collections/c', { vectors: { size: 2, distance: 'Dot' } })).status,
      ).toBe(200)

      // two upserts whose bodies are not finished yet hold both slots
      const body = JSON.stringify({ points: [{ id: 1, vector: [1, 0] }] })
      const held = [0, 1].map(() => {
        const req = httpRequest(`${base}/collections/c/points`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        })
        const reply = new Promise<number>((done, fail) => {
          req.on('response', (res) => {
            res.resume()
            res.on('end', () => done(res.statusCode ?? 0))
          })
          req.on('error', fail)
        })
        req.write(body.slice(0, 5))
        return { req, reply }
      })
      await Promise.all(arrivals)

      const refused = await fetch(`${base}/collections/c/points/count`, { method: 'POST', body: '{}' })
      expect(refused.status).toBe(429)
      expect(refused.headers.get('retry-after')).toBe('1')
      expect(refused.headers.get('x-quiver-error-code')).toBe('TOO_MANY_REQUESTS')
      expect(((await refused.json()) as { status: { error: string } }).status.error).toMatch(
        /Too many requests/,
      )
      expect((await call(base, 'GET', '/healthz')).status).toBe(200)

      for (const h of held) h.req.end(body.slice(5))
      expect(await Promise.all(held.map((h) => h.reply))).toEqual([200, 200])
      const after = await call(base, 'POST', '/collections/c/points/count', {})
      expect(after.status).toBe(200)
      expect(after.body.result.count).toBe(1)
    } finally {
      app.server.closeAllConnections()
      await app.close()
      await db.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
