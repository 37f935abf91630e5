// @ts-check
// Hybrid search quality on real data: documents made of GloVe words, each point holding a dense
// vector (the mean of its words' GloVe vectors) and a BM25 sparse vector of its text (Quiver's
// server-side `qdrant/bm25`, IDF from the collection). Queries are a few words of a random document
// plus one random word. For each query the exact fused ranking is RRF (Qdrant's, k = 2) over the
// exact dense top-L (a flat scan) and the BM25 top-L (the inverted index is exact); Quiver's answer is
// the same query with the dense prefetch on HNSW. Reports recall@10 of the fused list against the
// exact fused ranking per hnsw_ef, and QPS of the hybrid, dense-only and BM25-only queries.
//   npm run build && node bench/hybrid.mjs --docs 20000 --queries 200
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'
import { intList, log, positiveInt } from './lib/options.mjs'

const opts = new Command()
  .option('--datasets-dir <dir>', 'datasets directory (default ../shared/datasets or $QUIVER_DATASETS)')
  .option('--docs <n>', 'documents', positiveInt, 20000)
  .option('--words <n>', 'words per document (mean; 0.5x .. 1.5x)', positiveInt, 12)
  .option('--queries <n>', 'queries', positiveInt, 200)
  .option('--prefetch <n>', 'candidates per prefetch (L)', positiveInt, 50)
  .option('--ef <list>', 'hnsw_ef of the dense prefetch', intList, [32, 64, 128])
  .option('--seed <n>', 'random seed', positiveInt, 7)
  .parse()
  .opts()

const ds = await loadDataset('glove-100-cosine', resolveDatasetsDir(opts.datasetsDir), { withMeta: true })
const { dim } = ds
const words = (ds.meta ?? []).map((m) => String(m.word))
if (words.length !== ds.n) throw new Error('glove-100-cosine.meta.jsonl is needed (the words)')

let state = opts.seed
const rand = () => {
  state = (Math.imul(state, 1664525) + 1013904223) >>> 0
  return state / 2 ** 32
}
// word choice biased to frequent words (freq_rank order ~ row order is random, so use meta freq_rank)
const byFreq = Array.from({ length: ds.n }, (_, i) => i).sort(
  (a, b) => Number(ds.meta?.[a]?.freq_rank) - Number(ds.meta?.[b]?.freq_rank),
)
const pickWord = () => byFreq[Math.floor(ds.n * rand() ** 2)]
const isWord = (w) => /^[a-z]+$/.test(w)

/** Mean of the words' vectors (rows). @param {number[]} rows */
function meanVector(rows) {
  const v = new Float32Array(dim)
  for (const r of rows) for (let j = 0; j < dim; j++) v[j] += ds.base[r * dim + j]
  for (let j = 0; j < dim; j++) v[j] /= rows.length
  return v
}

const docs = []
for (let d = 0; d < opts.docs; d++) {
  const len = Math.max(2, Math.round(opts.words * (0.5 + rand())))
  const rows = []
  while (rows.length < len) {
    const r = pickWord()
    if (isWord(words[r])) rows.push(r)
  }
  docs.push({ rows, text: rows.map((r) => words[r]).join(' ') })
}
const queries = Array.from({ length: opts.queries }, () => {
  const doc = docs[Math.floor(rand() * docs.length)]
  const rows = doc.rows.slice(0, 3)
  let extra = pickWord()
  while (!isWord(words[extra])) extra = pickWord()
  rows.push(extra)
  return { dense: meanVector(rows), text: rows.map((r) => words[r]).join(' ') }
})

const dir = await mkdtemp(join(tmpdir(), 'quiver-hybrid-'))
const db = await Quiver.open(dir, { queryCacheBytes: 0 })
try {
  const col = await db.createCollection('docs', {
    vectors: { dense: { dimension: dim, metric: 'Cosine', hnsw: { m: 16, efConstruct: 200 } } },
    sparseVectors: { bm25: { modifier: 'idf' } },
  })
  const bm25 = (text) => ({ text, model: 'qdrant/bm25' })
  const t0 = performance.now()
  for (let i = 0; i < docs.length; i += 1000) {
    await col.upsert(
      docs.slice(i, i + 1000).map((d, j) => ({
        id: i + j,
        vector: { dense: meanVector(d.rows), bm25: bm25(d.text) },
      })),
    )
  }
  await col.waitForOptimizers()
  log(`built ${docs.length} documents in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  const L = opts.prefetch

  /** Qdrant's RRF (k = 2): score = sum over lists of 1 / (rank + 2), rank 0-based. */
  function rrf(lists) {
    const s = new Map()
    for (const list of lists)
      for (const [rank, id] of list.entries()) s.set(id, (s.get(id) ?? 0) + 1 / (rank + 2))
    return [...s].sort((a, b) => b[1] - a[1]).map(([id]) => id)
  }
  const exact = []
  for (const q of queries) {
    const dense = (await col.query({ query: q.dense, using: 'dense', limit: L, params: { exact: true } }))
      .points
    const sparse = (await col.query({ query: bm25(q.text), using: 'bm25', limit: L })).points
    exact.push(rrf([dense.map((h) => h.id), sparse.map((h) => h.id)]).slice(0, 10))
  }

  const rows = [
    '| dense prefetch hnsw_ef | recall@10 of the fused list vs exact fusion | hybrid QPS | dense-only QPS | BM25-only QPS |',
    '| ---: | ---: | ---: | ---: | ---: |',
  ]
  const timeIt = async (fn) => {
    for (const q of queries) await fn(q) // warm-up pass
    const t = performance.now()
    for (const q of queries) await fn(q)
    return queries.length / ((performance.now() - t) / 1000)
  }
  for (const ef of opts.ef) {
    let hit = 0
    for (const [i, q] of queries.entries()) {
      const got = (
        await col.query({
          prefetch: [
            { query: q.dense, using: 'dense', limit: L, params: { hnswEf: ef } },
            { query: bm25(q.text), using: 'bm25', limit: L },
          ],
          query: { fusion: 'rrf' },
          limit: 10,
        })
      ).points.map((h) => h.id)
      const want = new Set(exact[i])
      for (const id of got) if (want.has(id)) hit++
    }
    const recall = hit / (queries.length * 10)
    const hybrid = await timeIt((q) =>
      col.query({
        prefetch: [
          { query: q.dense, using: 'dense', limit: L, params: { hnswEf: ef } },
          { query: bm25(q.text), using: 'bm25', limit: L },
        ],
        query: { fusion: 'rrf' },
        limit: 10,
      }),
    )
    const dense = await timeIt((q) =>
      col.query({ query: q.dense, using: 'dense', limit: L, params: { hnswEf: ef } }),
    )
    const sparse = await timeIt((q) => col.query({ query: bm25(q.text), using: 'bm25', limit: L }))
    rows.push(
      `| ${ef} | ${recall.toFixed(4)} | ${hybrid.toFixed(0)} | ${dense.toFixed(0)} | ${sparse.toFixed(0)} |`,
    )
  }
  console.log(`${docs.length} documents of ~${opts.words} GloVe words, ${queries.length} queries, L = ${L}\n`)
  console.log(rows.join('\n'))
} finally {
  await db.close()
  await rm(dir, { recursive: true, force: true })
}
