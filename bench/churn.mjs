#!/usr/bin/env node
// Churn benchmark for the vacuum optimizer: replaces half of a collection by upserts and deletes,
// lets the optimizers run, and compares recall@10 at a fixed ef, stored points, memory and disk
// with a fresh build of the same final points (and with the same churn without vacuum).
//
//   npm run build && node bench/churn.mjs [--dataset glove-100-cosine] [--limit 100000] [--ef 64]
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'
import { seededRng } from './lib/workload.mjs'

const program = new Command()
  .option('--dataset <name>', 'dataset', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets folder')
  .option('--limit <n>', 'points', '100000')
  .option('--ef <n>', 'search ef', '64')
  .option('--queries <n>', 'queries', '500')
  .option('--out <dir>', 'results folder', 'bench/results')
  .parse()
const opts = program.opts()
const ef = Number(opts.ef)

const data = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), {
  limit: Number(opts.limit),
})
const { n, dim } = data
const metric = data.metric
const row = (i) => data.base.subarray(i * dim, (i + 1) * dim)

// Final state: ids i % 4 == 0 get a new vector (upsert over the same id), ids i % 4 == 1 are
// deleted and come back as id n + i with a new vector; the other half is untouched.
const rng = seededRng(7)
const fresh = new Map()
function newVector(i) {
  const src = row((i * 7919 + 13) % n)
  return Float32Array.from(src, (x) => x + (rng() - 0.5) * 0.1)
}
for (let i = 0; i < n; i++) {
  if (i % 4 === 0) fresh.set(i, newVector(i))
  else if (i % 4 === 1) fresh.set(n + i, newVector(i))
  else fresh.set(i, row(i))
}

async function dirBytes(dir) {
  let total = 0
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) total += (await stat(join(entry.parentPath, entry.name))).size
  }
  return total
}

async function upsertAll(c, entries, label) {
  const t0 = performance.now()
  for (let i = 0; i < entries.length; i += 1000) {
    await c.upsert(entries.slice(i, i + 1000).map(([id, vector]) => ({ id, vector })))
  }
  console.error(`  ${label}: ${entries.length} upserts in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
}

const root = await mkdtemp(join(tmpdir(), 'quiver-churn-'))
const results = {}
try {
  const queries = Array.from({ length: Math.min(Number(opts.queries), data.q) }, (_, i) =>
    data.queries.subarray(i * dim, (i + 1) * dim),
  )
  let truth
  for (const [name, optimizers] of [
    ['fresh build', {}],
    ['churn + optimizers', {}],
    ['churn, vacuum off', { deletedThreshold: 1 }],
  ]) {
    console.error(`${name}:`)
    const dir = join(root, name.replace(/\W+/g, '-'))
    const db = await Quiver.open(dir, { queryCacheBytes: 0 })
    const c = await db.createCollection('c', { dimension: dim, metric, optimizers })
    const t0 = performance.now()
    if (name === 'fresh build') {
      await upsertAll(c, [...fresh.entries()], 'final points')
    } else {
      await upsertAll(
        c,
        Array.from({ length: n }, (_, i) => [i, row(i)]),
        'initial points',
      )
      await upsertAll(
        c,
        [...fresh.entries()].filter(([id]) => id < n && id % 4 === 0),
        'replacing upserts',
      )
      const gone = Array.from({ length: n }, (_, i) => i).filter((i) => i % 4 === 1)
      for (let i = 0; i < gone.length; i += 1000) await c.delete({ ids: gone.slice(i, i + 1000) })
      await upsertAll(
        c,
        [...fresh.entries()].filter(([id]) => id >= n),
        'new ids',
      )
    }
    await c.waitForOptimizers()
    const seconds = (performance.now() - t0) / 1000
    if (truth === undefined) {
      truth = []
      for (const q of queries)
        truth.push(new Set((await c.search(q, { limit: 10, exact: true })).map((h) => h.id)))
    }
    let hits = 0
    for (let i = 0; i < queries.length; i++) {
      for (const h of await c.search(queries[i], { limit: 10, ef })) if (truth[i].has(h.id)) hits++
    }
    const stats = c.stats()
    await db.close()
    results[name] = {
      seconds,
      recall: hits / (queries.length * 10),
      points: stats.pointsCount,
      stored: stats.storedCount,
      segments: stats.segmentsCount,
      memoryMiB: stats.memoryBytes / 2 ** 20,
      diskMiB: (await dirBytes(join(dir, 'collections', 'c'))) / 2 ** 20,
      walMiB: (await dirBytes(join(dir, 'collections', 'c', 'wal'))) / 2 ** 20,
      vacuums: stats.optimizer.completed.vacuum,
      merges: stats.optimizer.completed.merge,
    }
    console.error(`  ${JSON.stringify(results[name])}`)
  }
} finally {
  await rm(root, { recursive: true, force: true })
}

const base = results['fresh build']
const m = machineInfo()
const lines = [
  `### Churn: ${opts.dataset}, ${n} points, half replaced (ef ${ef}, k 10, ${Number(opts.queries)} queries)`,
  '',
  `${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Node ${m.node}. Command: \`node bench/churn.mjs --dataset ${opts.dataset} --limit ${n} --ef ${ef}\``,
  '',
  '| collection | recall@10 | Δ vs fresh | stored points | segments | memory MiB | vs fresh | disk MiB (WAL) | vs fresh | segment files vs fresh | vacuums / merges |',
  '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
]
for (const [name, r] of Object.entries(results)) {
  lines.push(
    `| ${name} | ${r.recall.toFixed(4)} | ${(r.recall - base.recall).toFixed(4)} | ${r.stored} | ${r.segments} | ${r.memoryMiB.toFixed(1)} | ${(r.memoryMiB / base.memoryMiB).toFixed(2)}x | ${r.diskMiB.toFixed(1)} (${r.walMiB.toFixed(1)}) | ${(r.diskMiB / base.diskMiB).toFixed(2)}x | ${((r.diskMiB - r.walMiB) / (base.diskMiB - base.walMiB)).toFixed(2)}x | ${r.vacuums} / ${r.merges} |`,
  )
}
const md = lines.join('\n')
console.log(md)
await mkdir(opts.out, { recursive: true })
await writeFile(join(opts.out, `churn-${opts.dataset}.md`), `${md}\n`)
await writeFile(join(opts.out, `churn-${opts.dataset}.json`), JSON.stringify(results, null, 2))
