// REST discover against a real server: query { discover } / { context } and the legacy
// points/discover and discover/batch answer the same ranking; Qdrant's refusals (400 / 422).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, rng, startTestServer, type TestServer } from './server-harness.js'

const C = 'disc'
const r = rng(5150)
const POINTS = Array.from({ length: 40 }, (_, i) => ({
  id: i + 1,
  vector: Array.from({ length: 3 }, () => Math.floor(r() * 16) / 8 - 1),
  payload: { even: i % 2 === 1 },
}))

describe('REST discover and context', () => {
  let srv: TestServer
  const post = (path: string, body: unknown) => call(srv.url, 'POST', `/collections/${C}/points${path}`, body)

  beforeAll(async () => {
    srv = await startTestServer()
    await call(srv.url, 'PUT', `/collections/${C}`, { vectors: { size: 3, distance: 'Euclid' } })
    expect((await call(srv.url, 'PUT', `/collections/${C}/points`, { points: POINTS })).status).toBe(200)
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('legacy discover is the discover query; without a target it is the context query', async () => {
    const context = [
      { positive: 3, negative: [1, 1, 1] },
      { positive: [0, 0.5, -0.5], negative: 7 },
    ]
    const filter = { must: [{ key: 'even', match: { value: true } }] }
    const legacy = await post('/discover', { target: 5, context, limit: 6, filter, with_payload: true })
    expect(legacy.status).toBe(200)
    const query = await post('/query', {
      query: { discover: { target: 5, context } },
      limit: 6,
      filter,
      with_payload: true,
    })
    expect(legacy.body.result).toEqual(query.body.result.points)
    expect(legacy.body.result).toHaveLength(6)
    for (const p of legacy.body.result) {
      expect(p.payload.even).toBe(true)
      expect([3, 5, 7]).not.toContain(p.id)
    }

    const ctx = await post('/discover', { context, limit: 5, offset: 2 })
    const ctxQuery = await post('/query', { query: { context }, limit: 5, offset: 2 })
    expect(ctx.body.result).toEqual(ctxQuery.body.result.points)
    for (const p of ctx.body.result) expect(p.score).toBeLessThanOrEqual(0)

    const single = await post('/query', { query: { context: context[0] }, limit: 3 })
    const listed = await post('/query', { query: { context: [context[0]] }, limit: 3 })
    expect(single.body.result).toEqual(listed.body.result)
  })

  it('discover/batch answers each search in order', async () => {
    const a = { target: [0.5, 0.5, 0.5], context: [{ positive: 2, negative: 9 }], limit: 3 }
    const b = { context: [{ positive: 4, negative: 8 }], limit: 2 }
    const batch = await post('/discover/batch', { searches: [a, b] })
    expect(batch.status).toBe(200)
    expect(batch.body.result).toEqual([
      (await post('/discover', a)).body.result,
      (await post('/discover', b)).body.result,
    ])
  })

  it('refuses bad discover input as Qdrant does', async () => {
    const cases: [string, unknown, number, RegExp][] = [
      ['/discover', { target: 1 }, 400, /^limit: required/],
      ['/discover', { target: 1, limit: 0 }, 422, /\[limit: value 0 invalid, must be 1 or larger\]/],
      ['/discover', { limit: 3 }, 400, /target and\/or context pairs must be specified/],
      ['/discover', { context: [], limit: 3 }, 400, /target and\/or context pairs must be specified/],
      ['/discover', { context: { positive: 1, negative: 2 }, limit: 3 }, 400, /^context: expected a list/],
      ['/discover', { context: [{ positive: 1 }], limit: 3 }, 400, /context\[0\]\.negative: required/],
      ['/discover', { target: [1, 2], limit: 3 }, 400, /target: expected 3 numbers/],
      ['/discover', { target: 999, limit: 3 }, 404, /no point with id 999/],
      [
        '/discover/batch',
        { searches: [{ target: 1, limit: 1 }, { limit: 1 }] },
        400,
        /^searches\[1\]: target and\/or context/,
      ],
      ['/query', { query: { discover: { context: [] } } }, 400, /query\.discover\.target: required/],
      ['/query', { query: { context: [{ negative: 1 }] } }, 400, /query\.context\[0\]\.positive: required/],
    ]
    for (const [path, body, status, message] of cases) {
      const res = await post(path, body)
      expect(res.status, JSON.stringify(body)).toBe(status)
      expect(res.body.status.error).toMatch(message)
    }
  })
})
