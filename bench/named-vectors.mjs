// @ts-check
// The point model's cost per query, side by side in one process: the same dataset in
//  - `before`: the release before named vectors (its dist/, e.g. a worktree of commit 72dc747), unnamed vector;
//  - `unnamed`: this build, unnamed vector;
//  - `named`: this build, the same vectors as the named vector "text" of a collection that also has
//    a second named dense vector and a sparse vector (so the segment really holds several vectors).
// Queries alternate between the three in timed windows (A B C A B C ...) so this shared machine's
// drift hits all; reports QPS per window kind (best window) and the ratios, plus recall@10 of each.
//   npm run build && node bench/named-vectors.mjs --before /tmp/v1/dist --dataset glove-100-cosine --ef 64
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Command } from 'commander'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'
import { intList, log, positiveInt, positiveNumber } from './lib/options.mjs'

const opts = new Command()
  .option('--dataset <name>', 'dataset in the datasets directory', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets directory (default ../shared/datasets or $QUIVER_DATASETS)')
  .option(
    '--before <dist>',
    "the previous release's dist/ directory (omit to compare unnamed and named only)",
  )
  .option('--limit <n>', 'base rows to load', positiveInt)
  .option('--queries <n>', 'queries per pass', positiveInt, 1000)
  .option('--ef <list>', 'query ef values', intList, [64])
  .option('--seconds <s>', 'seconds per timed window', positiveNumber, 2)
  .option('--rounds <n>', 'windows per kind and ef', positiveInt, 4)
  .parse()
  .opts()

const ds = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), { limit: opts.limit })
const { dim } = ds
const queries = Array.from({ length: Math.min(opts.queries, ds.q) }, (_, i) =>
  ds.queries.subarray(i * dim, (i + 1) * dim),
)
// recall@10 against the dataset's exact neighbours (valid for the full base only)
const truth = opts.limit === undefined ? ds.groundTruth : undefined
const gtK = ds.gtK

/** @param {any} col @param {(i: number) => any} vectorOf */
async function fill(col, vectorOf) {
  for (let i = 0; i < ds.n; i += 1000) {
    const points = []
    for (let j = i; j < Math.min(ds.n, i + 1000); j++) points.push({ id: j, vector: vectorOf(j) })
    await col.upsert(points)
  }
  await col.waitForOptimizers()
}

const dirs = []
const dbs = []
/** @param {any} Q */
async function open(Q) {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-named-'))
  dirs.push(dir)
  const db = await Q.open(dir, { queryCacheBytes: 0 }) // timed passes repeat queries
  dbs.push(db)
  return db
}

try {
  const engines = []
  const hnsw = { m: 16, efConstruct: 200 }
  const row = (j) => ds.base.subarray(j * dim, (j + 1) * dim)
  if (opts.before) {
    const { Quiver: Before } = await import(pathToFileURL(resolve(opts.before, 'index.js')).href)
    const db = await open(Before)
    const col = await db.createCollection('c', { dimension: dim, metric: ds.metric, hnsw })
    log('building before (previous release, unnamed)')
    await fill(col, row)
    engines.push({ name: 'before', search: (q, ef) => col.search(q, { limit: 10, ef }) })
  }
  {
    const db = await open(Quiver)
    const col = await db.createCollection('c', { dimension: dim, metric: ds.metric, hnsw })
    log('building unnamed (this build)')
    await fill(col, row)
    engines.push({ name: 'unnamed', search: (q, ef) => col.search(q, { limit: 10, ef }) })
  }
  {
    const db = await open(Quiver)
    const col = await db.createCollection('c', {
      vectors: {
        text: { dimension: dim, metric: ds.metric, hnsw },
        small: { dimension: 8, metric: 'Dot', hnsw: { m: 4, efConstruct: 16 } },
      },
      sparseVectors: { tags: { modifier: 'idf' } },
    })
    log('building named (this build, "text" + "small" + sparse "tags")')
    await fill(col, (j) => ({
      text: row(j),
      small: Array.from({ length: 8 }, (_, k) => ((j * 7 + k) % 13) / 13),
      tags: { indices: [j % 97, 100 + (j % 31)], values: [1, 0.5] },
    }))
    engines.push({ name: 'named', search: (q, ef) => col.search(q, { limit: 10, ef, using: 'text' }) })
  }

  /** Microseconds per query over a window. */
  async function window(engine, ef) {
    for (const q of queries.slice(0, 100)) await engine.search(q, ef) // warm
    const t0 = performance.now()
    let n = 0
    while (performance.now() - t0 < opts.seconds * 1000) {
      for (const q of queries) await engine.search(q, ef)
      n += queries.length
    }
    return ((performance.now() - t0) * 1000) / n
  }

  const lines = []
  lines.push(
    `| ef | engine | recall@10 | QPS (best of ${opts.rounds} windows of ${opts.seconds} s) | QPS / unnamed |`,
  )
  lines.push('| ---: | --- | ---: | ---: | ---: |')
  for (const ef of opts.ef) {
    const best = new Map()
    for (let r = 0; r < opts.rounds; r++) {
      for (const e of engines) {
        const us = await window(e, ef)
        best.set(e.name, Math.min(best.get(e.name) ?? Number.POSITIVE_INFINITY, us))
      }
    }
    const recall = new Map()
    for (const e of engines) {
      let hit = 0
      for (let i = 0; i < queries.length; i++) {
        const got = new Set((await e.search(queries[i], ef)).map((h) => h.id))
        for (let j = 0; j < 10; j++) if (truth && got.has(truth[i * gtK + j])) hit++
      }
      recall.set(e.name, truth ? hit / (queries.length * 10) : Number.NaN)
    }
    const base = 1e6 / best.get('unnamed')
    for (const e of engines) {
      const qps = 1e6 / best.get(e.name)
      lines.push(
        `| ${ef} | ${e.name} | ${recall.get(e.name).toFixed(4)} | ${qps.toFixed(0)} | ${(qps / base).toFixed(3)} |`,
      )
    }
  }
  console.log(lines.join('\n'))
} finally {
  for (const db of dbs) await db.close()
  for (const dir of dirs) await rm(dir, { recursive: true, force: true })
}
