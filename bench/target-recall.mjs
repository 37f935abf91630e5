#!/usr/bin/env node
// Target recall against fixed ef, per filter selectivity (issue 16 section 2), side by side in one
// run on GloVe-100 100k (its own held-out queries): for each selectivity bucket (a range filter on
// a uniform integer payload field, indexed) and target (0.90, 0.95, 0.99), the measured recall@10
// and QPS with `targetRecall`, next to two fixed ef of a sweep: the smallest reaching the recall
// the target got, and the smallest reaching the target itself (what a perfect calibration picks).
//
//   npm run build && node bench/target-recall.mjs [--queries 300]
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'

const opts = new Command()
  .option('--queries <n>', 'queries per measurement', '300')
  .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
  .parse()
  .opts()
const log = (m) => process.stderr.write(`${m}\n`)
const ds = await loadDataset('glove-100-cosine', resolveDatasetsDir(opts.datasetsDir))
const nq = Math.min(Number(opts.queries), ds.q)
const row = (m, i) => m.slice(i * ds.dim, (i + 1) * ds.dim)
const dir = await mkdtemp(join(tmpdir(), 'quiver-bench-target-'))
const db = await Quiver.open(dir, { queryCacheBytes: 0, recallSampleRate: 0 })
const c = await db.createCollection('g', { dimension: ds.dim, metric: 'Cosine' })
let seed = 5
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648
}
log('building GloVe-100 100k')
for (let i = 0; i < ds.n; i += 2000)
  await c.upsert(
    Array.from({ length: Math.min(2000, ds.n - i) }, (_, k) => ({
      id: i + k,
      vector: row(ds.base, i + k),
      payload: { r: Math.floor(rand() * 100_000) },
    })),
  )
await c.createPayloadIndex('r', 'integer')
await c.waitForOptimizers()
const queries = Array.from({ length: nq }, (_, i) => row(ds.queries, i))
const buckets = [
  ['unfiltered', null],
  ['0.1%', 0.001],
  ['1%', 0.01],
  ['10%', 0.1],
  ['50%', 0.5],
  ['90%', 0.9],
]
const EFS = [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024]

async function run(filter, options) {
  const t0 = performance.now()
  const out = []
  for (const q of queries)
    out.push(await c.search(q, { limit: 10, ...(filter ? { filter } : {}), ...options }))
  return { hits: out, qps: (queries.length * 1000) / (performance.now() - t0) }
}
const recallOf = (hits, truth) =>
  hits.reduce((n, h, i) => n + h.filter((x) => truth[i].has(x.id)).length / Math.max(1, truth[i].size), 0) /
  hits.length

const lines = []
for (const [label, share] of buckets) {
  const filter = share === null ? null : { must: [{ key: 'r', range: { lt: Math.round(share * 100_000) } }] }
  const truth = (await run(filter, { exact: true })).hits.map((h) => new Set(h.map((x) => x.id)))
  const fixed = []
  for (const ef of EFS) {
    const r = await run(filter, { ef })
    fixed.push({ ef, recall: recallOf(r.hits, truth), qps: r.qps })
  }
  for (const target of [0.9, 0.95, 0.99]) {
    await run(filter, { targetRecall: target }) // calibrates this class (once), warms up
    const t = await run(filter, { targetRecall: target })
    const recall = recallOf(t.hits, truth)
    const same = fixed.find((f) => f.recall >= recall) ?? fixed[fixed.length - 1]
    const least = fixed.find((f) => f.recall >= target) ?? fixed[fixed.length - 1]
    const line = `| ${label} | ${target} | ${recall.toFixed(4)} | ${t.qps.toFixed(0)} | ${same.ef} (${same.qps.toFixed(0)} QPS) | ${(t.qps / same.qps).toFixed(2)}x | ${least.ef} (${least.recall.toFixed(4)}, ${least.qps.toFixed(0)} QPS) | ${(t.qps / least.qps).toFixed(2)}x |`
    log(line)
    lines.push(line)
  }
}
await db.close()
await rm(dir, { recursive: true, force: true })
const m = machineInfo()
console.log(`### Target recall vs fixed ef (${new Date().toISOString().slice(0, 10)})`)
console.log('')
console.log(
  `\`node bench/target-recall.mjs --queries ${nq}\`; GloVe-100 100,000 x 100, Cosine, m 16, ef_construct 100, ${nq} held-out queries, limit 10, one client; filters: range on a uniform integer field (indexed); ${m.cpu}, ${m.cores} cores, Node ${m.node}.`,
)
console.log('')
console.log(
  '| selectivity | target | recall@10 with the target | QPS | smallest fixed ef reaching that recall | QPS ratio | smallest fixed ef reaching the target (recall, QPS) | QPS ratio |',
)
console.log('|---|---:|---:|---:|---:|---:|---:|---:|')
for (const l of lines) console.log(l)
