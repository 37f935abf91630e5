// @ts-check
// Both cores and the memory bound, on one dataset: HNSW build one-by-one on the main thread vs
// addBatch on the core pool (worker threads over shared WebAssembly memory), single-thread search
// vs searchBatch on the pool, and the exact full scan against a read-bandwidth probe over the same
// vectors in the same WebAssembly memory (the bound a scan cannot beat on one thread).
//   npm run build && node bench/threads.mjs --dataset glove-100-cosine
import { mkdir, writeFile } from 'node:fs/promises'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { CorePool } from '../dist/engine/pool.js'
import { HnswIndex } from '../dist/index/hnsw.js'
import { indexMetric } from '../dist/segment/segment.js'
import { log, positiveInt } from './lib/options.mjs'

const program = new Command()
  .option('--dataset <name>', 'dataset in the datasets directory', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets directory (default ../shared/datasets or $QUIVER_DATASETS)')
  .option('--limit <n>', 'base rows to load', positiveInt)
  .option('--queries <n>', 'queries to run', positiveInt, 1000)
  .option('--m <n>', 'HNSW m', positiveInt, 16)
  .option('--ef-construct <n>', 'HNSW ef_construct', positiveInt, 200)
  .option('--ef <n>', 'query ef', positiveInt, 64)
  .option('--out <dir>', 'where JSON and Markdown go', 'bench/results')
  .parse()
const opts = program.opts()

const ds = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), { limit: opts.limit })
const { n, dim } = ds
const nq = Math.min(opts.queries, ds.q)
const queries = ds.queries.subarray(0, nq * dim)
const pool = CorePool.shared()
if (!pool)
  throw new Error('no core pool: run npm run build (dist/engine/worker.js) and leave QUIVER_THREADS unset')
const params = {
  dimension: dim,
  metric: indexMetric(ds.metric),
  m: opts.m,
  efConstruct: opts.efConstruct,
  seed: 7,
}
const row = (/** @type {Float32Array} */ m, /** @type {number} */ i) => m.subarray(i * dim, (i + 1) * dim)
log(`${ds.name}: ${n} x ${dim}, ${nq} queries, pool of ${pool.size} threads`)

/** recall@10 against the dataset's ground truth (exact search when --limit subsampled the base). */
function recall(
  /** @type {HnswIndex} */ index,
  /** @type {import('../dist/index/hnsw.js').SearchHits[]} */ hits,
) {
  let found = 0
  for (let i = 0; i < nq; i++) {
    const truth = new Set(
      n === ds.totalN
        ? Array.from(ds.groundTruth.subarray(i * ds.gtK, i * ds.gtK + 10))
        : Array.from(index.searchExact(row(queries, i), 10).offsets),
    )
    for (const o of hits[i].offsets) if (truth.has(o)) found++
  }
  return found / (nq * 10)
}

function time(/** @type {() => void} */ fn) {
  const t = performance.now()
  fn()
  return performance.now() - t
}

async function timeAsync(/** @type {() => Promise<unknown>} */ fn) {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

// build
log('build: one thread ...')
const serial = HnswIndex.create(params)
const serialMs = time(() => {
  for (let i = 0; i < n; i++) serial.add(row(ds.base, i))
})
log(`  ${(n / (serialMs / 1000)).toFixed(0)} vectors/s`)
log('build: core pool ...')
const parallel = HnswIndex.create(params)
const parallelMs = await timeAsync(() => parallel.addBatch(ds.base))
log(`  ${(n / (parallelMs / 1000)).toFixed(0)} vectors/s`)
if (!parallel.checkIntegrity().ok) throw new Error('parallel build failed its integrity check')

// search
const one = []
const oneMs = time(() => {
  for (let i = 0; i < nq; i++) one.push(parallel.search(row(queries, i), 10, opts.ef))
})
await parallel.searchBatch(queries, 10, opts.ef) // warm the threads
let batch = []
const batchMs = await timeAsync(async () => {
  batch = await parallel.searchBatch(queries, 10, opts.ef)
})

// exact scan vs the read-bandwidth bound over the same bytes
const core = parallel.coreExports
const scanBytes = n * core.getPaddedDim() * 4
const scanQueries = Math.max(5, Math.min(nq, Math.round(2e9 / scanBytes)))
// the stored vectors sit in chunks (contiguous within one): the probe reads them chunk by chunk
const rowBytes = core.getPaddedDim() * 4
const perChunk = core.chunkPoints()
const streamAll = () => {
  for (let first = 0; first < n; first += perChunk) {
    core.streamSum(core.vectorPtr(first), Math.min(perChunk, n - first) * rowBytes)
  }
}
streamAll() // warm
const probeRuns = scanQueries
const probeMs = time(() => {
  for (let i = 0; i < probeRuns; i++) streamAll()
})
const scanMs = time(() => {
  for (let i = 0; i < scanQueries; i++) parallel.searchExact(row(queries, i % nq), 10)
})
const bandwidth = (scanBytes * probeRuns) / (probeMs / 1000)
const scanRate = (scanBytes * scanQueries) / (scanMs / 1000)

const report = {
  date: new Date().toISOString(),
  machine: machineInfo(),
  command: `node bench/threads.mjs ${process.argv.slice(2).join(' ')}`.trim(),
  dataset: { name: ds.name, n, dim, metric: ds.metric, queries: nq },
  threads: pool.size,
  build: {
    oneThread: { vectorsPerSecond: n / (serialMs / 1000), recall: recall(serial, one.length ? one : []) },
    pool: { vectorsPerSecond: n / (parallelMs / 1000) },
    speedup: serialMs / parallelMs,
  },
  search: {
    ef: opts.ef,
    oneThread: { qps: nq / (oneMs / 1000), recall: recall(parallel, one) },
    pool: { qps: nq / (batchMs / 1000), recall: recall(parallel, batch) },
    speedup: oneMs / batchMs,
  },
  exactScan: {
    bytesPerScan: scanBytes,
    readBandwidthGBs: bandwidth / 1e9,
    scanGBs: scanRate / 1e9,
    qps: scanQueries / (scanMs / 1000),
    fractionOfBound: scanRate / bandwidth,
  },
}
// recall of the one-thread build, measured with its own searches
const serialHits = []
for (let i = 0; i < nq; i++) serialHits.push(serial.search(row(queries, i), 10, opts.ef))
report.build.oneThread.recall = recall(serial, serialHits)
report.build.pool.recall = recall(parallel, one)

const f = (/** @type {number} */ x, d = 0) => x.toFixed(d)
const md = [
  `### Both cores and the memory bound: ${ds.name} (${n} x ${dim}), ${report.date.slice(0, 10)}`,
  '',
  `\`${report.command}\` on ${report.machine.cpu}, ${report.machine.cores} cores, Node ${report.machine.node}; pool of ${pool.size} worker threads.`,
  '',
  '| measure | one thread | core pool | ratio |',
  '| --- | --- | --- | --- |',
  `| HNSW build (m ${opts.m}, ef_construct ${opts.efConstruct}), vectors/s | ${f(report.build.oneThread.vectorsPerSecond)} | ${f(report.build.pool.vectorsPerSecond)} | ${f(report.build.speedup, 2)}x |`,
  `| recall@10 at ef ${opts.ef} of that build | ${f(report.build.oneThread.recall, 4)} | ${f(report.build.pool.recall, 4)} | |`,
  `| search ef ${opts.ef}, QPS (${nq} queries) | ${f(report.search.oneThread.qps)} | ${f(report.search.pool.qps)} | ${f(report.search.speedup, 2)}x |`,
  '',
  `Exact scan (one thread): ${f(report.exactScan.qps, 1)} QPS = ${f(report.exactScan.scanGBs, 2)} GB/s of vectors read; a plain SIMD read of the same ${f(scanBytes / 2 ** 20, 1)} MiB in the same WebAssembly memory runs at ${f(report.exactScan.readBandwidthGBs, 2)} GB/s: the scan reaches **${f(report.exactScan.fractionOfBound, 2)}x** of that bound.`,
  '',
].join('\n')
await mkdir(opts.out, { recursive: true })
const stem = `${opts.out}/threads-${ds.name}`
await writeFile(`${stem}.json`, `${JSON.stringify(report, null, 2)}\n`)
await writeFile(`${stem}.md`, md)
process.stdout.write(md)
