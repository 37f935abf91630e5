#!/usr/bin/env node
// The query-result cache's cost and gain, side by side in one run over one collection (GloVe-100
// 100k when the datasets are there, else clustered synthetic data): the same queries through the
// embedded API with the cache off, on with every query new (all misses: the cost of hashing the
// request and storing its result), and on with every query repeated (all hits). Rounds alternate
// the three modes so the machine's noise falls on all of them; reports QPS and ratios to "off".
//
//   npm run build && node bench/query-cache.mjs [--queries 2000] [--rounds 3] [--limit 10] [--payload]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'

const opts = new Command()
  .option('--queries <n>', 'queries per mode and round', '2000')
  .option('--rounds <n>', 'rounds (each runs every mode once)', '3')
  .option('--limit <n>', 'hits per query', '10')
  .option('--payload', 'return payloads (bigger results to copy)')
  .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
  .parse()
  .opts()
const nq = Number(opts.queries)
const rounds = Number(opts.rounds)
const limit = Number(opts.limit)
const log = (m) => process.stderr.write(`${m}\n`)

let base
let dim
let name
try {
  const ds = await loadDataset('glove-100-cosine', resolveDatasetsDir(opts.datasetsDir))
  base = ds.base
  dim = ds.dim
  name = `GloVe-100 ${ds.n.toLocaleString('en-US')}`
} catch {
  dim = 100
  const n = 100_000
  base = new Float32Array(n * dim)
  let seed = 7
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648 - 0.5
  }
  const centers = Array.from({ length: 100 }, () => Array.from({ length: dim }, rand))
  for (let i = 0; i < n; i++) {
    const c = centers[i % 100]
    for (let d = 0; d < dim; d++) base[i * dim + d] = c[d] + rand() * 0.3
  }
  name = 'synthetic clustered 100,000 x 100'
}
const n = base.length / dim
log(`${name}: building`)
const dir = await mkdtemp(join(tmpdir(), 'quiver-bench-cache-'))
let db = await Quiver.open(dir)
const col = await db.createCollection('c', { dimension: dim, metric: 'Cosine' })
for (let i = 0; i < n; i += 1000) {
  const points = []
  for (let j = i; j < Math.min(n, i + 1000); j++)
    points.push({
      id: j,
      vector: base.subarray(j * dim, (j + 1) * dim),
      payload: { i: j, tag: `t${j % 50}` },
    })
  await col.upsert(points)
}
await col.waitForOptimizers()
await db.close()

// queries: base rows perturbed, so none is a stored point
let seed = 11
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648 - 0.5
}
const query = () => {
  const row = Math.floor(((rand() + 0.5) * n) % n)
  return Array.from(base.subarray(row * dim, (row + 1) * dim), (x) => x + rand() * 0.05)
}

async function run(mode) {
  db = await Quiver.open(dir, mode === 'off' ? { queryCacheBytes: 0 } : {})
  const c = await db.getCollection('c')
  const qs = Array.from({ length: nq }, query)
  const request = (q) => ({ query: q, limit, withPayload: opts.payload === true })
  if (mode === 'hit') for (const q of qs) await c.query(request(q)) // fill
  for (let i = 0; i < 50; i++) await c.query(request(query())) // warm up
  const t0 = performance.now()
  for (const q of qs) await c.query(request(q))
  const ms = performance.now() - t0
  const s = c.stats().queryCache
  await db.close()
  return { qps: (nq * 1000) / ms, hits: s.hits, misses: s.misses }
}

const modes = ['off', 'miss', 'hit']
const results = new Map(modes.map((m) => [m, []]))
for (let r = 0; r < rounds; r++) {
  // the order alternates, so neither mode always runs first after a reopen
  for (const m of r % 2 === 0 ? modes : [...modes].reverse()) {
    const res = await run(m)
    results.get(m).push(res.qps)
    log(`round ${r + 1} ${m}: ${res.qps.toFixed(0)} QPS (hits ${res.hits}, misses ${res.misses})`)
  }
}
await rm(dir, { recursive: true, force: true })
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
/** Median over rounds of mode's QPS / off's QPS in the same round (noise shared by both). */
const ratio = (mode) => median(results.get(mode).map((q, i) => q / results.get('off')[i]))
const m = machineInfo()
console.log(`### Query-result cache (${new Date().toISOString().slice(0, 10)})`)
console.log('')
console.log(
  `\`node bench/query-cache.mjs --queries ${nq} --rounds ${rounds} --limit ${limit}${opts.payload ? ' --payload' : ''}\`; ${name}, Cosine, HNSW defaults, embedded \`query\` with limit ${limit}${opts.payload ? ' and payloads' : ''}, one client; ${m.cpu}, ${m.cores} cores, Node ${m.node}. ${rounds} rounds, each mode once per round, order alternating.`,
)
console.log('')
console.log('| mode | QPS (median) | vs off (median of per-round ratios) |')
console.log('|---|---:|---:|')
for (const mode of modes) {
  const q = median(results.get(mode))
  const label = {
    off: 'cache off',
    miss: 'cache on, every query new (misses)',
    hit: 'cache on, every query repeated (hits)',
  }[mode]
  console.log(`| ${label} | ${q.toFixed(0)} | ${ratio(mode).toFixed(2)}x |`)
}
