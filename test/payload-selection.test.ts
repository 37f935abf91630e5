// Payload selection (`withPayload` / `with_payload`: true, false, a list, { include }, { exclude })
// with Qdrant's nested key paths, applied by the engine on every read path (get, scroll, search,
// query, groups) and therefore the same embedded and over HTTP with the official Qdrant client.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type HostedCollection, type Payload, Quiver, type WithPayload } from '../src/index.js'
import { startTestServer, type TestServer } from './server-harness.js'
import { apiError, expectError } from './support/errors.js'

const PAYLOAD: Payload = {
  n: { k: 1, j: 2, deep: { x: 1, y: 2 } },
  a: [{ b: 1, c: 2 }, { b: 3 }, 5],
  s: 'top',
  'dot.key': 7,
}

/** Each selection and what Qdrant's PayloadSelector returns for PAYLOAD. */
const CASES: [WithPayload, Payload | undefined][] = [
  [true, PAYLOAD],
  [false, undefined],
  [['n.k'], { n: { k: 1 } }],
  [{ include: ['n.k'] }, { n: { k: 1 } }],
  [{ include: ['n.deep.x', 's'] }, { n: { deep: { x: 1 } }, s: 'top' }],
  [{ include: ['n'] }, { n: PAYLOAD.n! }],
  // arrays are entered by `[]` only; a scalar element on the way is kept as it is
  [{ include: ['a[].b'] }, { a: [{ b: 1 }, { b: 3 }, 5] }],
  [{ include: ['a.b'] }, { a: [] }],
  // a scalar where the path wants an object is kept (Qdrant keeps ancestors of a pattern)
  [{ include: ['s.x'] }, { s: 'top' }],
  [{ include: ['"dot.key"'] }, { 'dot.key': 7 }],
  [{ include: ['dot.key'] }, {}],
  [{ include: ['missing'] }, {}],
  [{ include: [] }, {}],
  [{ exclude: ['n.k'] }, { n: { j: 2, deep: { x: 1, y: 2 } }, a: PAYLOAD.a!, s: 'top', 'dot.key': 7 }],
  [
    { exclude: ['n.deep.y', 'a[].b'] },
    { n: { k: 1, j: 2, deep: { x: 1 } }, a: [{ c: 2 }, {}, 5], s: 'top', 'dot.key': 7 },
  ],
  [{ exclude: ['a.b'] }, PAYLOAD],
  [{ exclude: ['a[]'] }, { n: PAYLOAD.n!, a: [], s: 'top', 'dot.key': 7 }],
  [{ exclude: ['n', 's', '"dot.key"'] }, { a: PAYLOAD.a! }],
  [{ exclude: [] }, PAYLOAD],
]

const label = (w: WithPayload) => JSON.stringify(w)

describe('payload selection in the engine', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-payload-selection-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('c', { dimension: 2, metric: 'Dot' })
    await c.upsert([
      { id: 1, vector: [1, 0], payload: PAYLOAD },
      { id: 2, vector: [0, 1] },
    ])
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  for (const [withPayload, expected] of CASES) {
    it(`${label(withPayload)} on get, scroll, search, query and groups`, async () => {
      const [got] = await c.get([1], { withPayload })
      expect(got!.payload).toEqual(expected)
      const { points } = await c.scroll({ withPayload, filter: { must: [{ has_id: [1] }] } })
      expect(points[0]!.payload).toEqual(expected)
      const [hit] = await c.search([1, 0], { limit: 1, withPayload })
      expect(hit!.payload).toEqual(expected)
      const q = await c.query({ query: [1, 0], limit: 1, withPayload })
      expect(q.points[0]!.payload).toEqual(expected)
      const g = await c.queryGroups({ query: [1, 0], groupBy: 's', limit: 1, withPayload })
      expect(g.groups[0]!.hits[0]!.payload).toEqual(expected)
      // a point without payload reads as {} whenever any payload is asked for
      const [bare] = await c.get([2], { withPayload })
      expect(bare!.payload).toEqual(withPayload === false ? undefined : {})
    })
  }

  it('leaves the stored payload untouched', async () => {
    await c.get([1], { withPayload: { exclude: ['n.k', 'a[].b'] } })
    await c.get([1], { withPayload: { include: ['n.k'] } })
    const [p] = await c.get([1])
    expect(p!.payload).toEqual(PAYLOAD)
  })

  it('refuses malformed selections and bad key paths, naming them', async () => {
    await expectError(
      c.get([1], { withPayload: { include: ['__proto__'] } }),
      'INVALID_ARGUMENT',
      /withPayload\.include\[0\].*__proto__/,
    )
    await expectError(
      c.get([1], { withPayload: { exclude: ['a..b'] } }),
      'INVALID_ARGUMENT',
      /withPayload\.exclude\[0\]/,
    )
    await expectError(c.get([1], { withPayload: ['n', ''] }), 'INVALID_ARGUMENT', /withPayload\[1\]/)
    const both = { include: ['n'], exclude: ['s'] } as unknown as WithPayload
    await expectError(
      c.search([1, 0], { withPayload: both }),
      'INVALID_ARGUMENT',
      /withPayload: expected true, false/,
    )
    await expectError(
      c.query({ query: [1, 0], withPayload: { include: [3] } as unknown as WithPayload }),
      'INVALID_ARGUMENT',
      /withPayload\.include\[0\]: expected a string/,
    )
  })
})

describe('payload selection over HTTP (official Qdrant client)', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection('c', { vectors: { size: 2, distance: 'Dot' } })
    await client.upsert('c', {
      wait: true,
      points: [
        { id: 1, vector: [1, 0], payload: PAYLOAD },
        { id: 2, vector: [0, 1] },
      ],
    })
  })
  afterAll(async () => {
    await srv?.close()
  })

  for (const [with_payload, expected] of CASES) {
    it(`${label(with_payload)} on retrieve, scroll, query, search and groups`, async () => {
      const [got] = await client.retrieve('c', { ids: [1], with_payload })
      expect(got!.payload ?? undefined).toEqual(expected)
      const page = await client.scroll('c', { with_payload, filter: { must: [{ has_id: [1] }] } })
      expect(page.points[0]!.payload ?? undefined).toEqual(expected)
      const q = await client.query('c', { query: [1, 0], limit: 1, with_payload })
      expect(q.points[0]!.payload ?? undefined).toEqual(expected)
      const [hit] = await client.search('c', { vector: [1, 0], limit: 1, with_payload })
      expect(hit!.payload ?? undefined).toEqual(expected)
      const g = await client.queryGroups('c', { query: [1, 0], group_by: 's', limit: 1, with_payload })
      expect(g.groups[0]!.hits[0]!.payload ?? undefined).toEqual(expected)
    })
  }

  it('refuses bad key paths with 400 naming the wire field', async () => {
    const bad = await apiError(client.retrieve('c', { ids: [1], with_payload: { include: ['a..b'] } }))
    expect(bad.status).toBe(400)
    expect(bad.message).toMatch(/with_payload\.include\[0\]/)
    const proto = await apiError(
      client.query('c', { query: [1, 0], with_payload: { exclude: ['n.__proto__'] } }),
    )
    expect(proto.status).toBe(400)
    expect(proto.message).toMatch(/with_payload\.exclude\[0\].*__proto__/)
  })
})
