// @ts-check
// The embedded API's own cost per query: the same collection searched through `collection.search`
// and through its segment's raw HnswIndex, alternating in timed windows (A, B, A, B) so that drift
// of this shared machine hits both; reports 1 - QPS(api) / QPS(raw) from the best window of each.
//   npm run build && node bench/overhead.mjs --dataset glove-100-cosine --ef 10,32,64,128
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'
import { intList, log, positiveInt, positiveNumber } from './lib/options.mjs'

const opts = new Command()
  .option('--dataset <name>', 'dataset in the datasets directory', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets directory (default ../shared/datasets or $QUIVER_DATASETS)')
  .option('--limit <n>', 'base rows to load', positiveInt)
  .option('--queries <n>', 'queries per pass', positiveInt, 1000)
  .option('--ef <list>', 'query ef values', intList, [10, 32, 64, 128])
  .option('--seconds <s>', 'seconds per timed window', positiveNumber, 2)
  .parse()
  .opts()

const ds = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), { limit: opts.limit })
const { dim } = ds
const dir = await mkdtemp(join(tmpdir(), 'quiver-overhead-'))
const db = await Quiver.open(dir, { queryCacheBytes: 0 })
try {
  const col = await db.createCollection('c', {
    dimension: dim,
    metric: ds.metric,
    hnsw: { m: 16, efConstruct: 200 },
  })
  for (let i = 0; i < ds.n; i += 1000) {
    const points = []
    for (let j = i; j < Math.min(ds.n, i + 1000); j++) {
      points.push({ id: j, vector: ds.base.subarray(j * dim, (j + 1) * dim) })
    }
    await col.upsert(points)
  }
  const segments = /** @type {any} */ (col).holder?.segments
  if (segments?.length !== 1) throw new Error('expected one segment (internal field holder.segments)')
  const index = segments[0].index
  const queries = Array.from({ length: Math.min(opts.queries, ds.q) }, (_, i) =>
    ds.queries.subarray(i * dim, (i + 1) * dim),
  )

  /** Microseconds per query over a window of at least opts.seconds. @param {(q: Float32Array) => unknown} fn */
  async function window(fn) {
    for (const q of queries) await fn(q) // warm
    const t0 = performance.now()
    let n = 0
    while (performance.now() - t0 < opts.seconds * 1000) {
      for (const q of queries) await fn(q)
      n += queries.length
    }
    return ((performance.now() - t0) * 1000) / n
  }

  log(`${ds.name}: ${ds.n} x ${dim}, ${queries.length} queries, windows of ${opts.seconds} s`)
  process.stdout.write(
    '| ef | raw index µs/query | collection.search µs/query | overhead |\n| ---: | ---: | ---: | ---: |\n',
  )
  for (const ef of opts.ef) {
    const api = (/** @type {Float32Array} */ q) => col.search(q, { limit: 10, ef })
    const raw = (/** @type {Float32Array} */ q) => index.search(q, 10, ef)
    const a1 = await window(api)
    const b1 = await window(raw)
    const a2 = await window(api)
    const b2 = await window(raw)
    const a = Math.min(a1, a2)
    const b = Math.min(b1, b2)
    process.stdout.write(
      `| ${ef} | ${b.toFixed(1)} | ${a.toFixed(1)} | ${((1 - b / a) * 100).toFixed(1)}% |\n`,
    )
  }
} finally {
  await db.close()
  await rm(dir, { recursive: true, force: true })
}
