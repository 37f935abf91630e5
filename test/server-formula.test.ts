// The score-boosting formula query over REST: the official @qdrant/js-client-rest, unchanged, against
// a real Quiver server on 127.0.0.1; values hand-computed from float32-exact vectors and payloads.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'

const COLLECTION = 'boost'

describe('formula query through the Qdrant JS client', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection(COLLECTION, { vectors: { size: 4, distance: 'Dot' } })
    await client.upsert(COLLECTION, {
      wait: true,
      points: [
        { id: 1, vector: [1, 0, 0, 0], payload: { city: 'Berlin', n: 1 } },
        { id: 2, vector: [0.5, 0.5, 0, 0], payload: { city: 'London', n: 2 } },
        { id: 3, vector: [0, 1, 0, 0], payload: { city: 'London', n: 3 } },
        { id: 4, vector: [0, 0, 1, 0], payload: { city: 'Moscow', n: 4 } },
        { id: 5, vector: [0.25, 0.25, 0.25, 0.25], payload: { city: 'Berlin' } },
      ],
    })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('rescores the prefetch by $score, a linear decay of a payload value and a condition', async () => {
    // prefetch scores (dot with [1, 0.5, 0, 0]): 1 -> 1, 2 -> 0.75, 3 -> 0.5, 4 -> 0, 5 -> 0.375
    // lin_decay(n, target 3, scale 2, midpoint 0.5) = 1 - 0.25 |n - 3|, n missing -> default 0
    // score = $score + 0.5 * decay + (city == London)
    const res = await client.query(COLLECTION, {
      prefetch: { query: [1, 0.5, 0, 0], limit: 10, params: { exact: true } },
      query: {
        formula: {
          sum: [
            '$score',
            { mult: [0.5, { lin_decay: { x: 'n', target: 3, scale: 2 } }] },
            { key: 'city', match: { value: 'London' } },
          ],
        },
        defaults: { n: 0 },
      },
      score_threshold: 0.5,
      limit: 4,
      with_payload: ['city'],
    })
    expect(res.points.map((p) => ({ id: p.id, score: p.score, city: p.payload?.city }))).toEqual([
      { id: 2, score: 0.75 + 0.375 + 1, city: 'London' },
      { id: 3, score: 0.5 + 0.5 + 1, city: 'London' },
      { id: 1, score: 1 + 0.25, city: 'Berlin' },
      { id: 5, score: 0.375 + 0.125, city: 'Berlin' },
    ])
  })

  it('answers 400 naming the node and the point for a division by zero, and for an unknown operator', async () => {
    const prefetch = { query: [1, 0.5, 0, 0], limit: 10, params: { exact: true } }
    const div = await apiError(
      client.query(COLLECTION, {
        prefetch,
        query: { formula: { div: { left: '$score', right: { sum: ['n', -1] } } } },
      }),
    )
    expect(div.status).toBe(400)
    expect(div.message).toMatch(/query\.formula\.div: point 1: 1\/0 = Infinity is not a finite number/)
    const unknown = await apiError(
      client.query(COLLECTION, { prefetch, query: { formula: { sum: [1, { cube: 2 }] } } as never }),
    )
    expect(unknown.status).toBe(400)
    expect(unknown.message).toMatch(/query\.formula\.sum\[1\]: unknown operator "cube"/)
  })
})
