// Bad requests over raw HTTP: each gets a 4xx in Qdrant's error envelope with a message naming the
// problem, and changes nothing.
import { mkdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { call, type RawReply, startTestServer, type TestServer } from './server-harness.js'

const C = 'errs'
const POINTS = `/collections/${C}/points`

function expectError(r: RawReply, status: number, code: string, ...fragments: Array<string | RegExp>): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status)
  expect(r.code).toBe(code)
  expect(typeof r.body.time).toBe('number')
  expect(r.body.result).toBeUndefined()
  const message = r.body.status.error as string
  expect(typeof message).toBe('string')
  for (const f of fragments) expect(message).toMatch(f)
}

describe('server error envelopes', () => {
  let srv: TestServer
  const count = async (): Promise<number> =>
    (await call(srv.url, 'POST', `${POINTS}/count`, {})).body.result.count

  beforeAll(async () => {
    srv = await startTestServer()
    const created = await call(srv.url, 'PUT', `/collections/${C}`, {
      vectors: { size: 4, distance: 'Cosine' },
    })
    expect(created.body).toMatchObject({ result: true, status: 'ok' })
    const up = await call(srv.url, 'PUT', `${POINTS}?wait=true`, {
      points: [
        { id: 1, vector: [1, 2, 3, 4], payload: { city: 'Berlin' } },
        { id: 2, vector: [4, 3, 2, 1] },
      ],
    })
    expect(up.body).toMatchObject({ result: { status: 'completed' }, status: 'ok' })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('rejects a vector of the wrong dimension', async () => {
    const r = await call(srv.url, 'PUT', POINTS, { points: [{ id: 3, vector: [1, 2, 3] }] })
    expectError(r, 400, 'INVALID_VECTOR', 'points[0].vector', /4/, /3/)
    const q = await call(srv.url, 'POST', `${POINTS}/query`, { query: [1, 2] })
    expectError(q, 400, 'INVALID_VECTOR', 'query', /4/)
    expect(await count()).toBe(2)
  })

  it('rejects a non-number inside a vector', async () => {
    const r = await call(srv.url, 'PUT', POINTS, { points: [{ id: 3, vector: [1, 'NaN', 3, 4] }] })
    expectError(r, 400, 'INVALID_VECTOR', 'points[0].vector[1]', /number/)
    const s = await call(srv.url, 'POST', `${POINTS}/search`, { vector: [1, null, 3, 4], limit: 1 })
    expectError(s, 400, 'INVALID_VECTOR', 'vector[1]')
  })

  it('writes nothing from a large batch with one bad point', async () => {
    const points = Array.from({ length: 2000 }, (_, i) => ({
      id: 100 + i,
      vector: [i, 1, 2, 3],
      payload: { i },
    }))
    const body = JSON.stringify({ points }).replace('[1777,1,2,3]', '[1777,1,1e400,3]')
    const r = await call(srv.url, 'PUT', POINTS, body)
    expectError(r, 400, 'INVALID_VECTOR', 'points[1777].vector[2]', /finite/)
    const batch = {
      batch: {
        ids: [10, 11, 12],
        vectors: [
          [1, 2, 3, 4],
          [1, 2, 3, 4],
          [1, 2, 'x', 4],
        ],
      },
    }
    expectError(await call(srv.url, 'PUT', POINTS, batch), 400, 'INVALID_VECTOR', 'batch.vectors[2][2]')
    expect(await count()).toBe(2)
  })

  it('refuses Dot/Euclid/Manhattan vectors whose scores could overflow (3e38: 400, never "score": null)', async () => {
    for (const distance of ['Dot', 'Euclid', 'Manhattan']) {
      const base = `/collections/big_${distance}/points`
      await call(srv.url, 'PUT', `/collections/big_${distance}`, { vectors: { size: 4, distance } })
      const near = 1e16 * (1 - 1e-6)
      const good = [
        { id: 1, vector: [near, 0, 0, 0] },
        { id: 2, vector: [-near, 0, 0, 0] },
        { id: 3, vector: [0, -near / 2, near / 2, -near / 2] },
      ]
      const up = await call(srv.url, 'PUT', base, {
        points: [...good, { id: 4, vector: [3e38, 3e38, 0, 1] }],
      })
      expectError(up, 400, 'INVALID_VECTOR', 'points[3].vector', /squared L2 norm 1\.8\d*e\+77/, /1e\+32/)
      const batch = {
        batch: {
          ids: [5, 6],
          vectors: [
            [1, 2, 3, 4],
            [0, 0, -3e38, 0],
          ],
        },
      }
      expectError(
        await call(srv.url, 'PUT', base, batch),
        400,
        'INVALID_VECTOR',
        'points[1].vector',
        /-3e\+38/,
      )
      expect((await call(srv.url, 'POST', `${base}/count`, {})).body.result.count).toBe(0)
      for (const [path, body] of [
        ['query', { query: [0, 3e38, 0, 0] }],
        ['search', { vector: [0, 3e38, 0, 0], limit: 3 }],
        ['query/batch', { searches: [{ query: [1, 1, 1, 1] }, { query: [0, 3e38, 0, 0] }] }],
        ['search/batch', { searches: [{ vector: [0, 3e38, 0, 0], limit: 3 }] }],
      ] as const) {
        expectError(await call(srv.url, 'POST', `${base}/${path}`, body), 400, 'INVALID_VECTOR', /3e\+38/)
      }
      expect((await call(srv.url, 'PUT', `${base}?wait=true`, { points: good })).status).toBe(200)
      for (const { vector } of good) {
        const res = await fetch(`${srv.url}${base}/query`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: vector, limit: 3 }),
        })
        const text = await res.text()
        expect(res.status, text).toBe(200)
        expect(text).not.toMatch(/"score":\s*null/)
        const hits = JSON.parse(text).result.points as { score: unknown }[]
        expect(hits).toHaveLength(3)
        for (const h of hits) expect(Number.isFinite(h.score), String(h.score)).toBe(true)
      }
      expect((await call(srv.url, 'DELETE', `/collections/big_${distance}`)).status).toBe(200)
    }
  })

  it.each([
    [-1, '-1'],
    [1.5, '1.5'],
    ['not-a-uuid', 'not-a-uuid'],
  ])('rejects point id %j', async (id, shown) => {
    const r = await call(srv.url, 'PUT', POINTS, { points: [{ id, vector: [1, 2, 3, 4] }] })
    expectError(r, 400, 'INVALID_POINT_ID', 'points[0].id', shown)
    const d = await call(srv.url, 'POST', `${POINTS}/delete`, { points: [1, id] })
    expectError(d, 400, 'INVALID_POINT_ID', 'points[1]')
    expect(await count()).toBe(2)
  })

  it('quotes an integer id beyond 2^53 as the client sent it, not as the double JSON.parse rounded it to', async () => {
    const vector = '[1,2,3,4]'
    const cases: [string, string, string, string][] = [
      [
        'PUT',
        POINTS,
        `{"points":[{"id":18446744073709551616,"vector":${vector}}]}`,
        'points[0].id: 18446744073709551616',
      ],
      [
        'PUT',
        POINTS,
        `{"batch":{"ids":[1,9007199254740993],"vectors":[${vector},${vector}]}}`,
        'batch.ids[1]: 9007199254740993',
      ],
      ['POST', `${POINTS}/delete`, '{"points":[1,18446744073709551617]}', 'points[1]: 18446744073709551617'],
      ['POST', POINTS, '{"ids":[18446744073709551615]}', 'ids[0]: 18446744073709551615'],
      ['POST', `${POINTS}/scroll`, '{"offset":18446744073709551616}', 'offset: 18446744073709551616'],
      [
        'POST',
        `${POINTS}/count`,
        '{"filter":{"must":[{"has_id":[2,18446744073709551616]}]}}',
        'has_id[1]: number 18446744073709551616',
      ],
      ['GET', `${POINTS}/18446744073709551616`, '', 'path id: 18446744073709551616'],
    ]
    for (const [method, path, body, fragment] of cases) {
      const r = await call(srv.url, method, path, body === '' ? undefined : body)
      expect(r.code, body).toMatch(/^INVALID_(POINT_ID|FILTER)$/)
      expect(r.status, body).toBe(400)
      expect(r.body.status.error, body).toContain(fragment)
      expect(r.body.status.error, body).not.toMatch(/18446744073709552000|9007199254740992/)
    }
    // elsewhere such integers are numbers as before: a payload value, a payload key named id
    const ok = await call(
      srv.url,
      'PUT',
      `${POINTS}?wait=true`,
      `{"points":[{"id":3,"vector":${vector},"payload":{"id":18446744073709551616,"n":[18446744073709551616]}}]}`,
    )
    expect(ok.status, JSON.stringify(ok.body)).toBe(200)
    const got = await call(srv.url, 'GET', `${POINTS}/3`)
    expect(got.body.result.payload).toEqual(
      JSON.parse('{"id":18446744073709551616,"n":[18446744073709551616]}'),
    )
    await call(srv.url, 'POST', `${POINTS}/delete?wait=true`, { points: [3] })
    expect(await count()).toBe(2)
  })

  it('rejects a bad id in the URL and answers 404 for a missing point', async () => {
    expectError(await call(srv.url, 'GET', `${POINTS}/xyz`), 400, 'INVALID_POINT_ID', 'xyz')
    expectError(await call(srv.url, 'GET', `${POINTS}/12345`), 404, 'POINT_NOT_FOUND', '12345')
  })

  it('answers 404 for an unknown collection on every resource', async () => {
    expectError(await call(srv.url, 'GET', '/collections/nope'), 404, 'COLLECTION_NOT_FOUND', 'nope')
    expectError(
      await call(srv.url, 'POST', '/collections/nope/points/query', { query: [1, 2, 3, 4] }),
      404,
      'COLLECTION_NOT_FOUND',
      'nope',
    )
    expectError(
      await call(srv.url, 'PUT', '/collections/nope/points', { points: [{ id: 1, vector: [1, 2, 3, 4] }] }),
      404,
      'COLLECTION_NOT_FOUND',
    )
    expect((await call(srv.url, 'DELETE', '/collections/nope')).body).toMatchObject({
      result: false,
      status: 'ok',
    })
  })

  it('rejects malformed filters', async () => {
    expectError(
      await call(srv.url, 'POST', `${POINTS}/count`, { filter: 'city = Berlin' }),
      400,
      'INVALID_FILTER',
      'filter',
    )
    const r = await call(srv.url, 'POST', `${POINTS}/scroll`, {
      filter: { must: [{ key: 'city', range: { gt: 'abc' } }] },
    })
    expectError(r, 400, 'INVALID_FILTER', /gt|range/)
    const d = await call(srv.url, 'POST', `${POINTS}/delete`, { filter: { must: [{ match: { value: 1 } }] } })
    expectError(d, 400, 'INVALID_FILTER', /key/)
    expect(await count()).toBe(2)
  })

  it('rejects a body that is not valid JSON', async () => {
    const r = await call(srv.url, 'PUT', POINTS, '{"points": [{"id": 1, "vector": [1,2,3,4]}')
    expectError(r, 400, 'INVALID_ARGUMENT', /^Invalid JSON body/)
    const arr = await call(srv.url, 'POST', `${POINTS}/query`, '[1,2,3,4]')
    expectError(arr, 400, 'INVALID_ARGUMENT', 'body', /object/)
  })

  it('rejects a payload that is not an object', async () => {
    const r = await call(srv.url, 'PUT', POINTS, {
      points: [{ id: 5, vector: [1, 2, 3, 4], payload: [1, 2] }],
    })
    expectError(r, 400, 'INVALID_PAYLOAD', 'points[0].payload', /object/)
    const s = await call(srv.url, 'POST', `${POINTS}/payload`, { payload: 'red', points: [1] })
    expectError(s, 400, 'INVALID_PAYLOAD', 'payload')
    const got = await call(srv.url, 'POST', POINTS, { ids: [1, 5] })
    expect(got.body.result).toEqual([{ id: 1, payload: { city: 'Berlin' } }])
  })

  it('rejects unsupported collection options and duplicates', async () => {
    expectError(
      await call(srv.url, 'PUT', '/collections/named', {
        vectors: { image: { size: 4, distance: 'Dotty' } },
      }),
      400,
      'INVALID_CONFIG',
      'vectors.image.distance',
    )
    expectError(
      await call(srv.url, 'PUT', '/collections/sparse', {
        vectors: { size: 4, distance: 'Dot' },
        sparse_vectors: { text: { modifier: 'bm42' } },
      }),
      400,
      'INVALID_CONFIG',
      'sparse_vectors.text.modifier',
    )
    expectError(
      await call(srv.url, 'PUT', '/collections/multi', {
        vectors: { size: 4, distance: 'Dot', multivector_config: { comparator: 'min_sim' } },
      }),
      400,
      'INVALID_CONFIG',
      'vectors.multivector_config.comparator',
    )
    expectError(
      await call(srv.url, 'PUT', '/collections/bad', { vectors: { size: 4, distance: 'cosine-ish' } }),
      400,
      'INVALID_CONFIG',
      'vectors.distance',
    )
    expectError(
      await call(srv.url, 'PUT', `/collections/${C}`, { vectors: { size: 4, distance: 'Dot' } }),
      409,
      'COLLECTION_EXISTS',
    )
    expect((await call(srv.url, 'GET', '/collections')).body.result.collections).toEqual([{ name: C }])
  })

  it('rejects unsupported query forms and bad search parameters', async () => {
    expectError(
      await call(srv.url, 'POST', `${POINTS}/query`, { query: { fusion: 'rrf' } }),
      400,
      'INVALID_ARGUMENT',
      'query',
      /fusion/,
    )
    expectError(
      await call(srv.url, 'POST', `${POINTS}/query`, { query: [1, 2, 3, 4], limit: 0 }),
      400,
      'INVALID_ARGUMENT',
      'limit',
    )
    expectError(
      await call(srv.url, 'POST', `${POINTS}/query`, { query: [1, 2, 3, 4], with_payload: 5 }),
      400,
      'INVALID_ARGUMENT',
      'with_payload',
    )
  })

  it('answers unknown routes with a 404 envelope', async () => {
    expectError(await call(srv.url, 'GET', '/no/such/route'), 404, 'NOT_FOUND', '/no/such/route')
    expect((await call(srv.url, 'GET', '/healthz')).body).toBe('healthz check passed')
  })

  it('names files relative to the data directory in a 5xx message, never the directory itself', async () => {
    // a file where the collection's snapshot directory must go: creating the snapshot fails with an I/O error
    await mkdir(join(srv.dir, 'snapshots'), { recursive: true })
    await writeFile(join(srv.dir, 'snapshots', C), 'not a directory')
    const r = await call(srv.url, 'POST', `/collections/${C}/snapshots?wait=true`)
    expect(r.status, JSON.stringify(r.body)).toBeGreaterThanOrEqual(500)
    const message = r.body.status.error as string
    expect(message).toContain(`snapshots/${C}`)
    expect(message).not.toContain(srv.dir)
    expect(message).not.toContain(tmpdir())
    await rm(join(srv.dir, 'snapshots', C))
  })
})
