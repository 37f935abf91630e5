#!/usr/bin/env node
// Sparse micro-benchmark: SparseIndex.search (term-at-a-time over posting lists) next to a
// brute-force scan of every document's forward vector, on synthetic Zipf-distributed data, in the
// same run. Also times the build, serialize and restore, and checks both give the same top-k.
//
//   npm run build:ts && node bench/sparse.mjs [--docs 100000] [--nnz 100] [--vocab 100000] [--terms 10]
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { SparseIndex, toSparseVector } from '../dist/sparse/sparse-index.js'
import { seededRng } from './lib/workload.mjs'

const program = new Command()
  .option('--docs <n>', 'documents', '100000')
  .option('--nnz <n>', 'non-zeros per document (mean)', '100')
  .option('--vocab <n>', 'vocabulary size (dimensions)', '100000')
  .option('--zipf <s>', 'Zipf exponent of term frequencies', '1.0')
  .option('--terms <n>', 'terms per query', '10')
  .option('--queries <n>', 'queries', '200')
  .option('--k <n>', 'top-k', '10')
  .option('--min-time <s>', 'seconds per timing', '2')
  .option('--seed <n>', 'PRNG seed', '42')
  .parse()
const o = program.opts()
const N = Number(o.docs)
const NNZ = Number(o.nnz)
const V = Number(o.vocab)
const Q = Number(o.queries)
const T = Number(o.terms)
const K = Number(o.k)

const r = seededRng(Number(o.seed))

// Zipf CDF over ranks 1..V; term id = a fixed random permutation of rank so ids are not ordered by frequency
const cdf = new Float64Array(V)
let acc = 0
for (let i = 0; i < V; i++) {
  acc += 1 / (i + 1) ** Number(o.zipf)
  cdf[i] = acc
}
const perm = Uint32Array.from({ length: V }, (_, i) => i)
for (let i = V - 1; i > 0; i--) {
  const j = Math.floor(r() * (i + 1))
  const t = perm[i]
  perm[i] = perm[j]
  perm[j] = t
}
function zipfTerm() {
  const x = r() * acc
  let lo = 0
  let hi = V - 1
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (cdf[mid] < x) lo = mid + 1
    else hi = mid
  }
  return perm[lo]
}
function randomVector(nnz, weightOf) {
  const seen = new Map()
  let tries = 0
  while (seen.size < nnz && tries++ < nnz * 20) {
    const t = zipfTerm()
    seen.set(t, (seen.get(t) ?? 0) + 1)
  }
  const indices = [...seen.keys()]
  return toSparseVector({ indices, values: indices.map((t) => weightOf(seen.get(t))) }, 'v')
}

const log = (m) => process.stderr.write(`${m}\n`)
log(`generating ${N} docs x ~${NNZ} nnz over ${V} terms (Zipf ${o.zipf}), ${Q} queries x ${T} terms`)
// document values: a BM25-like saturated tf in (0, 2.2)
const docs = []
for (let d = 0; d < N; d++) {
  const nnz = Math.max(1, Math.round(NNZ * (0.5 + r())))
  docs.push(randomVector(nnz, (tf) => (tf * 2.2) / (tf + 1.2 * (0.25 + 0.75 * r() * 2))))
}
const queries = Array.from({ length: Q }, () => randomVector(T, () => 1))

let t0 = performance.now()
const ix = SparseIndex.create()
for (let d = 0; d < N; d++) ix.set(d, docs[d])
const buildMs = performance.now() - t0
let totalNnz = 0
for (const d of docs) totalNnz += d.indices.length

// brute force: CSR copy of all forward vectors, merge-walk with the query per document
const csrStart = new Uint32Array(N + 1)
for (let d = 0; d < N; d++) csrStart[d + 1] = csrStart[d] + docs[d].indices.length
const csrIdx = new Uint32Array(totalNnz)
const csrVal = new Float32Array(totalNnz)
for (let d = 0; d < N; d++) {
  csrIdx.set(docs[d].indices, csrStart[d])
  csrVal.set(docs[d].values, csrStart[d])
}
const scratch = new Float32Array(1)
function bruteForce(q, k, weights) {
  const qi = q.indices
  const qv = weights === undefined ? q.values : q.values.map((v, i) => v * weights[i])
  const qn = qi.length
  const hits = []
  let worst = Number.NEGATIVE_INFINITY
  for (let d = 0; d < N; d++) {
    let i = csrStart[d]
    const e = csrStart[d + 1]
    let t = 0
    let overlap = false
    scratch[0] = 0
    while (i < e && t < qn) {
      const a = csrIdx[i]
      const b = qi[t]
      if (a < b) i++
      else if (a > b) t++
      else {
        scratch[0] += qv[t] * csrVal[i]
        overlap = true
        i++
        t++
      }
    }
    if (!overlap) continue
    const s = scratch[0]
    if (hits.length < k || s > worst) {
      hits.push([d, s])
      if (hits.length > k * 4) {
        hits.sort((x, y) => y[1] - x[1] || x[0] - y[0])
        hits.length = k
        worst = hits[k - 1][1]
      }
    }
  }
  hits.sort((x, y) => y[1] - x[1] || x[0] - y[0])
  return hits.slice(0, k)
}

// IDF weights per query term, as Qdrant's `modifier: "idf"` gives BM25 queries
const idfOf = (df) => Math.log((N - df + 0.5) / (df + 0.5) + 1)
const idfWeights = queries.map((q) => Float32Array.from(q.indices, (d) => idfOf(ix.df(d))))
const weightsFor = (mode, qi) => (mode === 'idf' ? idfWeights[qi] : undefined)

// same answers?
let mismatches = 0
for (const mode of ['unit', 'idf'])
  for (let qi = 0; qi < 20; qi++) {
    const a = ix.search(queries[qi], K, undefined, weightsFor(mode, qi))
    const b = bruteForce(queries[qi], K, weightsFor(mode, qi))
    if (a.offsets.length !== b.length || b.some(([d], i) => a.offsets[i] !== d)) mismatches++
  }

function timeQps(fn) {
  const minMs = Number(o.minTime) * 1000
  for (let qi = 0; qi < 10; qi++) fn(queries[qi], qi)
  let n = 0
  t0 = performance.now()
  do {
    for (let qi = 0; qi < queries.length; qi++) fn(queries[qi], qi)
    n += queries.length
  } while (performance.now() - t0 < minMs)
  return n / ((performance.now() - t0) / 1000)
}
let touched = 0
for (const q of queries) for (let i = 0; i < q.indices.length; i++) touched += ix.df(q.indices[i])
const qps = {}
for (const mode of ['unit', 'idf']) {
  const index = timeQps((q, qi) => ix.search(q, K, undefined, weightsFor(mode, qi)))
  SparseIndex.pruning = false
  const exhaustive = timeQps((q, qi) => ix.search(q, K, undefined, weightsFor(mode, qi)))
  SparseIndex.pruning = true
  const brute = timeQps((q, qi) => bruteForce(q, K, weightsFor(mode, qi)))
  qps[mode] = {
    index: Math.round(index),
    indexWithoutPruning: Math.round(exhaustive),
    bruteForce: +brute.toFixed(1),
    speedup: +(index / brute).toFixed(1),
  }
}
t0 = performance.now()
const bytes = ix.serialize()
const serializeMs = performance.now() - t0
t0 = performance.now()
const restored = SparseIndex.restore(bytes)
const restoreMs = performance.now() - t0

const m = machineInfo()
const result = {
  date: new Date().toISOString().slice(0, 10),
  machine: `${m.cpu}, ${m.cores} cores, ${m.os}, Node ${m.node}`,
  docs: N,
  totalNnz,
  vocab: V,
  zipf: Number(o.zipf),
  queryTerms: T,
  k: K,
  postingsPerQuery: Math.round(touched / queries.length),
  buildMs: Math.round(buildMs),
  memoryMiB: +(ix.memoryBytes / 2 ** 20).toFixed(1),
  memoryAfterRestoreMiB: +(restored.memoryBytes / 2 ** 20).toFixed(1),
  serializedMiB: +(bytes.length / 2 ** 20).toFixed(1),
  serializeMs: Math.round(serializeMs),
  restoreMs: Math.round(restoreMs),
  qpsUnitWeights: qps.unit,
  qpsIdfWeights: qps.idf,
  topKMismatches: mismatches,
}
console.log(JSON.stringify(result, null, 2))
