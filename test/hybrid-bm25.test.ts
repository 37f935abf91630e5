// Server-side BM25 (`{ text, model: 'qdrant/bm25' }` in place of a sparse vector) and hybrid
// search: stored documents get BM25 term weights, queries weight each term once and the collection's
// IDF (N and df over every segment, after deletes and updates) multiplies them; a dense and a BM25
// prefetch fuse with RRF. Checked against a reference computed here from the documents' tokens.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { HostedCollection } from '../src/index.js'
import { Quiver } from '../src/index.js'
import { bm25Tokens, parseBm25Options, tokenId } from '../src/sparse/index.js'
import { startTestServer, type TestServer } from './server-harness.js'
import { expectError } from './support/errors.js'

const WORDS = [
  'quantum',
  'computer',
  'bread',
  'river',
  'music',
  'garden',
  'engine',
  'planet',
  'market',
  'poetry',
]
const OPTIONS = parseBm25Options(undefined, 'options')

/** Deterministic documents: 3-9 words drawn from WORDS by a small LCG. */
function documents(n: number): string[] {
  let x = 12345
  const next = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x
  }
  return Array.from({ length: n }, () => {
    const len = 3 + (next() % 7)
    return Array.from({ length: len }, () => WORDS[next() % WORDS.length]).join(' ')
  })
}

/** Reference BM25 scores of `query` over `docs` (id -> text): Robertson-Sparck Jones IDF + BM25 tf. */
function reference(docs: Map<number, string>, query: string): { id: number; score: number }[] {
  const { k, b, avgLen } = OPTIONS
  const tf = new Map<number, Map<number, number>>()
  for (const [id, text] of docs) {
    const tokens = bm25Tokens(text, OPTIONS, 'document')
    const counts = new Map<number, number>()
    for (const t of tokens) counts.set(tokenId(t), (counts.get(tokenId(t)) ?? 0) + 1)
    const weights = new Map<number, number>()
    for (const [t, c] of counts)
      weights.set(t, Math.fround((c * (k + 1)) / (k * (1 - b + (b * tokens.length) / avgLen) + c)))
    tf.set(id, weights)
  }
  const n = docs.size
  const terms = [...new Set(bm25Tokens(query, OPTIONS, 'query').map(tokenId))]
  const idfOf = (t: number) => {
    let df = 0
    for (const w of tf.values()) if (w.has(t)) df++
    return Math.log((n - df + 0.5) / (df + 0.5) + 1)
  }
  const out: { id: number; score: number }[] = []
  for (const [id, w] of tf) {
    let score = 0
    let shared = false
    for (const t of terms) {
      const v = w.get(t)
      if (v === undefined) continue
      shared = true
      score += idfOf(t) * v
    }
    if (shared) out.push({ id, score })
  }
  return out.sort((a, c) => c.score - a.score || a.id - c.id)
}

function expectRanking(got: { id: unknown; score: number }[], want: { id: number; score: number }[]): void {
  expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id))
  for (const [i, h] of got.entries()) expect(h.score).toBeCloseTo(want[i]!.score, 4)
}

const bm25 = (text: string) => ({ text, model: 'qdrant/bm25' })

describe('BM25 documents and hybrid search (embedded, several segments)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  const texts = new Map<number, string>()
  const dense = (id: number) => [Math.cos(id), Math.sin(id), 0.5]

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-bm25-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('docs', {
      vectors: { dense: { dimension: 3, metric: 'Cosine' } },
      sparseVectors: { bm25: { modifier: 'idf' } },
      // small segments: the IDF must be summed over all of them
      optimizers: { maxSegmentSize: 1, defaultSegmentNumber: 8 },
    })
    const all = documents(300)
    for (let from = 0; from < all.length; from += 60) {
      const batch = all.slice(from, from + 60).map((text, i) => {
        const id = from + i + 1
        texts.set(id, text)
        return { id, vector: { dense: dense(id), bm25: bm25(text) }, payload: { text } }
      })
      await c.upsert(batch)
    }
  })
  afterAll(async () => {
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('scores a text query by BM25 with the collection-wide IDF', async () => {
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
    for (const q of ['quantum computers', 'bread', 'river garden poetry', 'the music of the planets']) {
      const got = (await c.query({ query: bm25(q), using: 'bm25', limit: 400 })).points
      expectRanking(got, reference(texts, q))
    }
  })

  it('keeps df and N exact after deletes, updates and a reopen', async () => {
    await c.delete({ ids: [1, 2, 3, 50, 51] })
    for (const id of [1, 2, 3, 50, 51]) texts.delete(id)
    await c.updateVectors([{ id: 10, vector: { bm25: bm25('quantum quantum quantum') } }])
    texts.set(10, 'quantum quantum quantum')
    const q = 'quantum engine'
    expectRanking((await c.query({ query: bm25(q), using: 'bm25', limit: 400 })).points, reference(texts, q))
    await db.close()
    db = await Quiver.open(dir)
    c = await db.getCollection('docs')
    expectRanking((await c.query({ query: bm25(q), using: 'bm25', limit: 400 })).points, reference(texts, q))
  })

  it('fuses a dense and a BM25 prefetch with RRF (Qdrant: 1 / (rank + k), k = 2)', async () => {
    const q = 'market poetry'
    const qv = [1, 0.2, 0.5]
    const denseList = (await c.query({ query: qv, using: 'dense', limit: 20, params: { exact: true } }))
      .points
    const sparseList = (await c.query({ query: bm25(q), using: 'bm25', limit: 20 })).points
    const fused = new Map<unknown, number>()
    for (const list of [denseList, sparseList])
      for (const [rank, h] of list.entries()) fused.set(h.id, (fused.get(h.id) ?? 0) + 1 / (rank + 2))
    const want = [...fused].sort((a, b) => b[1] - a[1])
    const got = (
      await c.query({
        prefetch: [
          { query: qv, using: 'dense', limit: 20, params: { exact: true } },
          { query: bm25(q), using: 'bm25', limit: 20 },
        ],
        query: { fusion: 'rrf' },
        limit: 10,
      })
    ).points
    for (const [i, h] of got.entries()) expect(h.score).toBeCloseTo(want[i]![1], 9)
    expect(new Set(got.map((h) => h.id))).toEqual(new Set(want.slice(0, 10).map(([id]) => id)))
  })

  it('refuses other models, bad text and unknown options, changing nothing', async () => {
    const before = await c.count()
    await expectError(
      c.upsert([
        { id: 999, vector: { dense: [1, 0, 0], bm25: { text: 'x', model: 'openai/text-embedding-3' } } },
      ]),
      'INVALID_ARGUMENT',
      /points\[0\]\.vector\.bm25\.model: Quiver computes only the "qdrant\/bm25" model/,
    )
    await expectError(
      c.upsert([
        { id: 999, vector: { dense: [1, 0, 0], bm25: { text: 42, model: 'qdrant/bm25' } as never } },
      ]),
      'INVALID_VECTOR',
      /points\[0\]\.vector\.bm25\.text must be a string/,
    )
    await expectError(
      c.query({ query: { text: 'x', model: 'qdrant/bm25', options: { b: 2 } }, using: 'bm25' }),
      'INVALID_ARGUMENT',
      /query\.options\.b/,
    )
    expect(await c.count()).toBe(before)
  })
})

describe('BM25 through the official Qdrant client', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('creates a hybrid collection, stores documents and answers a fused query', async () => {
    await client.createCollection('articles', {
      vectors: { dense: { size: 3, distance: 'Cosine' } },
      sparse_vectors: { bm25: { modifier: 'idf' } },
    })
    const texts = new Map<number, string>(documents(40).map((t, i) => [i + 1, t]))
    await client.upsert('articles', {
      wait: true,
      points: [...texts].map(([id, text]) => ({
        id,
        vector: { dense: [Math.cos(id), Math.sin(id), 0.5], bm25: bm25(text) },
      })),
    })
    const info = await client.getCollection('articles')
    expect(info.config.params.sparse_vectors).toEqual({ bm25: { modifier: 'idf' } })
    expect(info.config.params.vectors).toEqual({ dense: { size: 3, distance: 'Cosine' } })
    const q = 'quantum bread'
    const { points } = await client.query('articles', { query: bm25(q), using: 'bm25', limit: 100 })
    expectRanking(points as { id: number; score: number }[], reference(texts, q))
    const fused = await client.query('articles', {
      prefetch: [
        { query: [1, 0, 0.5], using: 'dense', limit: 10 },
        { query: bm25(q), using: 'bm25', limit: 10 },
      ],
      query: { fusion: 'rrf' },
      limit: 5,
    })
    expect(fused.points.length).toBe(5)
  })
})
