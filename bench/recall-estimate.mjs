#!/usr/bin/env node
// The live recall estimate against recall@10 measured on every query (GloVe-100 100k, its own
// held-out queries and ground truth): searches at three ef values, half of them sampled (so the
// 500-sample window holds only the current ef), and the estimate, its 95% interval and whether
// the measured recall lies inside it. Needs the datasets ($QUIVER_DATASETS or ../shared/datasets).
//
//   npm run build && node bench/recall-estimate.mjs
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'

const ds = await loadDataset('glove-100-cosine', resolveDatasetsDir())
const dir = await mkdtemp(join(tmpdir(), 'rc-'))
const db = await Quiver.open(dir, { recallSampleRate: 0.5, recallCpuShare: 1, queryCacheBytes: 0 })
const row = (m, i) => m.slice(i * ds.dim, (i + 1) * ds.dim)
const c = await db.createCollection('g', { dimension: ds.dim, metric: 'Cosine' })
for (let i = 0; i < ds.n; i += 2000)
  await c.upsert(
    Array.from({ length: Math.min(2000, ds.n - i) }, (_, k) => ({ id: i + k, vector: row(ds.base, i + k) })),
  )
await c.waitForOptimizers()
const nq = Math.min(ds.q, 1000)
console.log(
  `GloVe-100 ${ds.n} x ${ds.dim}, m 16, ef_construct 100; ${nq} dataset queries (held out of the base); sample rate 0.5 (the 500-sample window holds only the current ef)`,
)
console.log(
  '| ef | measured recall@10 (all queries, vs ground truth) | estimate | 95% interval | samples | inside |',
)
console.log('|---:|---:|---:|---|---:|---|')
for (const ef of [16, 32, 128]) {
  let measured = 0
  const before = c.recallEstimates()[0]?.samples ?? 0
  for (let q = 0; q < nq; q++) {
    const hits = await c.search(row(ds.queries, q), { limit: 10, ef })
    await c.recallSamplesIdle()
    const gt = new Set(Array.from(ds.groundTruth.subarray(q * ds.gtK, q * ds.gtK + 10)))
    measured += hits.filter((h) => gt.has(h.id)).length / 10
  }
  measured /= nq
  const e = c.recallEstimates()[0]
  console.log(
    `| ${ef} | ${measured.toFixed(4)} | ${e.estimate.toFixed(4)} | ${e.lower.toFixed(4)}-${e.upper.toFixed(4)} | ${e.samples - before} (window ${e.window}) | ${measured >= e.lower && measured <= e.upper ? 'yes' : 'no'} |`,
  )
}
await db.close()
await rm(dir, { recursive: true, force: true })
