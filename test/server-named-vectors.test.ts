// Named dense, sparse (idf) and multi vectors through the official @qdrant/js-client-rest against a
// real server on 127.0.0.1: collection shape, upsert (points and batch with named columns),
// retrieve / scroll outputs, query with using + prefetch fusion (hybrid), legacy named search,
// updateVectors / deleteVectors, has_vector, and errors in Qdrant's envelope changing nothing.
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startTestServer, type TestServer } from './server-harness.js'
import { apiError } from './support/errors.js'
import { rng } from './support/random.js'

/**
 * The wire prints float32 values as their shortest decimals (as Qdrant: 0.05, not
 * 0.05000000074505806); read back as float32 they are the stored values exactly.
 */
function f32(v: unknown): unknown {
  if (typeof v === 'number') return Math.fround(v)
  if (Array.isArray(v)) return v.map(f32)
  if (typeof v === 'object' && v !== null)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, k === 'indices' ? x : f32(x)]))
  return v
}

const C = 'nv'

type Sparse = { indices: number[]; values: number[] }
interface Pt {
  id: number
  text?: number[]
  image?: number[]
  colbert?: number[][]
  bm25?: Sparse
  payload: { n: number }
}

const r = rng(515)
// eighths in [-2, 2): float32-exact, so stored vectors and Dot scores compare exactly
const val = () => (Math.floor(r() * 32) - 16) / 8
const vec = (n: number) => Array.from({ length: n }, val)
const sparse = (): Sparse => {
  const set = new Set<number>()
  const n = 1 + Math.floor(r() * 4)
  while (set.size < n) set.add(Math.floor(r() * 10))
  const indices = [...set].sort((a, b) => a - b)
  return { indices, values: indices.map(() => (1 + Math.floor(r() * 8)) / 4) }
}
const unitRow = (v: number[]) => {
  const n = Math.hypot(...v)
  return v.map((x) => Math.fround(x / n))
}

const POINTS: Pt[] = Array.from({ length: 30 }, (_, i) => {
  const id = i + 1
  const p: Pt = { id, payload: { n: id } }
  if (id % 5 !== 0) p.text = vec(4)
  if (id % 3 !== 0) p.image = vec(3)
  if (id % 4 !== 1) p.bm25 = sparse()
  if (id % 2 === 0) p.colbert = [unitRow(vec(2).map((x) => x + 3)), unitRow(vec(2).map((x) => x - 3))]
  return p
})
const model = new Map(POINTS.map((p) => [p.id, p]))

const NAMES = ['text', 'image', 'colbert', 'bm25'] as const
/** A point's vectors in Qdrant's output shape. */
function vectorsOf(p: Pt, names: readonly string[] = NAMES): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const n of names) {
    const v = p[n as (typeof NAMES)[number]]
    if (v !== undefined) out[n] = v
  }
  return out
}
const dot = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0)
const refText = (q: number[]) =>
  [...model.values()]
    .filter((p) => p.text !== undefined)
    .map((p) => ({ id: p.id, score: dot(q, p.text!) }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
const refImage = (q: number[]) =>
  [...model.values()]
    .filter((p) => p.image !== undefined)
    .map((p) => ({ id: p.id, score: Math.hypot(...p.image!.map((x, i) => x - q[i]!)) }))
    .sort((a, b) => a.score - b.score || a.id - b.id)
const refSparse = (q: Sparse) => {
  const holders = [...model.values()].filter((p) => p.bm25 !== undefined)
  const idf = (t: number) => {
    const df = holders.filter((p) => p.bm25!.indices.includes(t)).length
    return Math.log((holders.length - df + 0.5) / (df + 0.5) + 1)
  }
  return holders
    .filter((p) => p.bm25!.indices.some((t) => q.indices.includes(t)))
    .map((p) => ({
      id: p.id,
      score: p.bm25!.indices.reduce((s, t, i) => {
        const j = q.indices.indexOf(t)
        return j < 0 ? s : s + q.values[j]! * idf(t) * p.bm25!.values[i]!
      }, 0),
    }))
    .sort((a, b) => b.score - a.score || a.id - b.id)
}

/** Same ids in order, scores within 1e-5 relative (the references avoid ties by construction or check). */
function expectHits(
  got: { id: string | number; score: number }[],
  want: { id: number; score: number }[],
): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id))
  got.forEach((h, i) => {
    expect(Math.abs(h.score - want[i]!.score)).toBeLessThanOrEqual(
      1e-5 * Math.max(1, Math.abs(want[i]!.score)),
    )
  })
}
/** Top-k of `ref` with distinct scores at and around the cut, so the expected ids are unambiguous. */
function untied(ref: { id: number; score: number }[], k: number) {
  for (let i = 1; i < Math.min(ref.length, k + 1); i++)
    expect(Math.abs(ref[i]!.score - ref[i - 1]!.score), 'the fixture has a tie').toBeGreaterThan(1e-6)
  return ref.slice(0, k)
}

describe('named, sparse and multi vectors through the Qdrant JS client', () => {
  let srv: TestServer
  let client: QdrantClient
  const count = async () => (await client.count(C, { exact: true })).count

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('creates a collection of named, sparse and multi vectors and reports them in Qdrant shape', async () => {
    expect(
      await client.createCollection(C, {
        vectors: {
          text: { size: 4, distance: 'Dot' },
          image: { size: 3, distance: 'Euclid', datatype: 'float16' },
          colbert: { size: 2, distance: 'Cosine', multivector_config: { comparator: 'max_sim' } },
        },
        sparse_vectors: { bm25: { modifier: 'idf' } },
        optimizers_config: { max_segment_size: 1 },
      }),
    ).toBe(true)
    const info = await client.getCollection(C)
    expect(info.config.params.vectors).toEqual({
      text: { size: 4, distance: 'Dot' },
      image: { size: 3, distance: 'Euclid', datatype: 'float16' },
      colbert: { size: 2, distance: 'Cosine', multivector_config: { comparator: 'max_sim' } },
    })
    expect(info.config.params.sparse_vectors).toEqual({ bm25: { modifier: 'idf' } })
  })

  it('upserts named and sparse points, and a batch with named columns', async () => {
    const list = POINTS.slice(0, 20)
    await client.upsert(C, {
      wait: true,
      points: list.map((p) => ({ id: p.id, vector: vectorsOf(p) as never, payload: p.payload })),
    })
    // the batch form: one column per name; every point of the batch holds text and bm25 here
    const batch = POINTS.slice(20).map((p) => {
      p.text ??= vec(4)
      p.bm25 ??= sparse()
      delete p.image
      delete p.colbert
      return p
    })
    await client.upsert(C, {
      wait: true,
      batch: {
        ids: batch.map((p) => p.id),
        vectors: { text: batch.map((p) => p.text!), bm25: batch.map((p) => p.bm25!) } as never,
        payloads: batch.map((p) => p.payload),
      },
    })
    expect(await count()).toBe(30)
    const got = await client.retrieve(C, {
      ids: POINTS.map((p) => p.id),
      with_vector: true,
      with_payload: true,
    })
    expect(got.map((p) => ({ id: p.id, payload: p.payload, vector: f32(p.vector) }))).toEqual(
      POINTS.map((p) => ({ id: p.id, payload: p.payload, vector: vectorsOf(p) })),
    )
    const some = await client.retrieve(C, { ids: [2, 3, 4], with_vector: ['image', 'bm25'] })
    expect(some.map((p) => p.vector)).toEqual(
      [2, 3, 4].map((id) => vectorsOf(model.get(id)!, ['image', 'bm25'])),
    )
  })

  it('queries each vector by using, and fuses a dense and a sparse prefetch (hybrid)', async () => {
    const q = vec(4)
    const dense = refText(q)
    const hits = await client.query(C, { query: q, using: 'text', limit: 5, params: { exact: true } })
    expectHits(hits.points, untied(dense, 5))
    const sq = { indices: [1, 4, 7], values: [1, 0.5, 2] }
    const sp = refSparse(sq)
    expectHits((await client.query(C, { query: sq, using: 'bm25', limit: 5 })).points, untied(sp, 5))
    expectHits(
      (await client.query(C, { query: { nearest: sq }, using: 'bm25', limit: 5 })).points,
      untied(sp, 5),
    )
    // RRF with Qdrant's k = 2: 1 / (2 + rank) per list, rank from 0
    const lists = [dense.slice(0, 10), sp.slice(0, 10)]
    const fused = new Map<number, number>()
    for (const list of lists)
      list.forEach((h, rank) => {
        fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (2 + rank))
      })
    const want = [...fused].map(([id, score]) => ({ id, score })).sort((a, b) => b.score - a.score)
    const got = await client.query(C, {
      prefetch: [
        { query: q, using: 'text', limit: 10, params: { exact: true } },
        { query: sq, using: 'bm25', limit: 10 },
      ],
      query: { fusion: 'rrf' },
      limit: 8,
      with_payload: true,
    })
    // fused scores repeat (1/2 for a first place in either list): compare each id's own fused score
    expect(got.points.map((h) => h.score)).toEqual(want.slice(0, 8).map((h) => expect.closeTo(h.score, 6)))
    for (const h of got.points) {
      expect(h.score).toBeCloseTo(fused.get(h.id as number)!, 6)
      expect(h.payload).toEqual({ n: h.id })
    }
    // a multivector query: rows of the multivector, max_sim on unit rows
    const rows = [unitRow([1, 0.5]), unitRow([-1, 2])]
    const refC = [...model.values()]
      .filter((p) => p.colbert !== undefined)
      .map((p) => ({
        id: p.id,
        score: rows.reduce((s, row) => s + Math.max(...p.colbert!.map((pr) => dot(row, pr))), 0),
      }))
      .sort((a, b) => b.score - a.score)
    const mc = await client.query(C, { query: rows, using: 'colbert', limit: 3 })
    mc.points.forEach((h, i) => {
      expect(h.score).toBeCloseTo(refC[i]!.score, 5)
    })
  })

  it('searches a named vector by { name, vector } (legacy search)', async () => {
    const q = vec(3)
    const hits = await client.search(C, { vector: { name: 'image', vector: q }, limit: 4 })
    // float16 storage: the fixture's eighths are exact in float16
    expectHits(hits, untied(refImage(q), 4))
    const sq = { indices: [2, 3], values: [1, 1] }
    expectHits(
      await client.search(C, { vector: { name: 'bm25', vector: sq }, limit: 4 }),
      untied(refSparse(sq), 4),
    )
  })

  it('updates and deletes vectors; has_vector filters follow', async () => {
    const lacking = POINTS.filter((p) => p.image === undefined)
      .slice(0, 3)
      .map((p) => p.id)
    const images = lacking.map(() => vec(3))
    await client.updateVectors(C, {
      wait: true,
      points: lacking.map((id, i) => ({ id, vector: { image: images[i]! } })),
    })
    lacking.forEach((id, i) => {
      model.get(id)!.image = images[i]!
    })
    const drop = [2, 3, 6]
    await client.deleteVectors(C, { wait: true, points: drop, vector: ['bm25', 'colbert'] })
    for (const id of drop) {
      delete model.get(id)!.bm25
      delete model.get(id)!.colbert
    }
    const all = await client.retrieve(C, {
      ids: POINTS.map((p) => p.id),
      with_vector: true,
      with_payload: false,
    })
    expect(all.map((p) => f32(p.vector))).toEqual(POINTS.map((p) => vectorsOf(model.get(p.id)!)))
    for (const name of NAMES) {
      const page = await client.scroll(C, { filter: { must: [{ has_vector: name }] }, limit: 100 })
      expect(page.points.map((p) => p.id)).toEqual(
        POINTS.filter((p) => model.get(p.id)![name] !== undefined).map((p) => p.id),
      )
      const none = await client.count(C, { filter: { must_not: [{ has_vector: name }] }, exact: true })
      expect(none.count).toBe(POINTS.filter((p) => model.get(p.id)![name] === undefined).length)
    }
  })

  it('answers bad requests with 400 in Qdrant envelope, naming the field, changing nothing', async () => {
    const before = await client.retrieve(C, { ids: [1, 2], with_vector: true })
    const cases: [Promise<unknown>, RegExp][] = [
      [
        client.upsert(C, { points: [{ id: 99, vector: { nope: [1, 2] } }] }),
        /points\[0\]\.vector\.nope.*Not existing vector name/,
      ],
      [
        client.upsert(C, { points: [{ id: 99, vector: { text: [1, 2] } }] }),
        /points\[0\]\.vector\.text has dimension 2, expected 4/,
      ],
      [
        client.upsert(C, { points: [{ id: 99, vector: { bm25: { indices: [3, 3], values: [1, 2] } } }] }),
        /points\[0\]\.vector\.bm25\.indices: index 3 appears twice/,
      ],
      [
        client.updateVectors(C, { points: [{ id: 1, vector: { nope: [1] } }] }),
        /vector\.nope.*Not existing vector name/,
      ],
      [client.deleteVectors(C, { points: [1], vector: ['nope'] }), /vector\[0\].*"nope"/],
      [client.query(C, { query: [1, 2, 3, 4], using: 'nope' }), /using.*"nope"/],
      [client.search(C, { vector: { name: 'text', vector: [1, 2] } }), /vector.*dimension 2, expected 4/],
      // a Document (text + model) is an inference input, unlike a vector named text
      [
        client.upsert(C, { points: [{ id: 99, vector: { text: 'hello', model: 'qdrant/bm25' } as never }] }),
        /points\[0\]\.vector: inference inputs .* are not supported/,
      ],
      // a plain array means the unnamed vector, which this collection does not have
      [
        client.search(C, { vector: [1, 2, 3, 4] }),
        /Not existing vector name error: \(the unnamed vector ""\)/,
      ],
      [client.query(C, { query: [1, 2, 3, 4] }), /Not existing vector name error: \(the unnamed vector ""\)/],
      [
        client.upsert(C, { points: [{ id: 99, vector: [1, 2, 3, 4] }] }),
        /points\[0\]\.vector: this collection has no unnamed vector/,
      ],
      [client.deleteVectors(C, { points: [1], vector: [''] }), /vector\[0\].*the unnamed vector ""/],
      [
        client.createCollection('bad', { sparse_vectors: { s: { modifier: 'bm25' as never } } }),
        /sparse_vectors\.s\.modifier: expected "idf" or "none"/,
      ],
    ]
    for (const [p, message] of cases) {
      const e = await apiError(p)
      expect(e.status, e.message).toBe(400)
      expect(e.message).toMatch(message)
    }
    expect(await count()).toBe(30)
    expect(await client.retrieve(C, { ids: [1, 2], with_vector: true })).toEqual(before)
  })
})
