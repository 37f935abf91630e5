#!/usr/bin/env node
// Planner sweep: for random allow-sets of each selectivity over one HNSW segment, times the three
// filtered search paths side by side — exact scan over the matches, waypoint traversal and two-hop
// traversal — with recall@10 against the exact scan. Its table is what the planner's
// `fullScanThreshold` and `twoHopThreshold` defaults were chosen from (docs/query-planner.md).
//
//   npm run build && node bench/planner.mjs [--dataset glove-100-cosine] [--ef 64,128] [--queries 200]
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Bitset } from '../dist/filter/bitset.js'
import { Segment } from '../dist/segment/segment.js'

const program = new Command()
  .option('--dataset <name>', 'dataset', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets folder')
  .option('--ef <list>', 'ef values', '64,128')
  .option(
    '--selectivity <list>',
    'fractions of the segment allowed',
    '0.005,0.01,0.02,0.05,0.1,0.2,0.3,0.5,0.7,0.9',
  )
  .option('--queries <n>', 'queries', '200')
  .option('--min-time <s>', 'seconds per timing', '1')
  .option('--out <dir>', 'results folder', 'bench/results')
  .parse()
const opts = program.opts()

/** Repeats `fn` (one pass over the queries) for at least `minMs`; returns ms per pass. */
function time(fn, minMs) {
  fn()
  const t0 = performance.now()
  let n = 0
  do {
    fn()
    n++
  } while (performance.now() - t0 < minMs)
  return (performance.now() - t0) / n
}

/** Deterministic LCG in [0, 1). */
function lcg(seed) {
  let a = seed >>> 0
  return () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0
    return a / 4294967296
  }
}

const dir = resolveDatasetsDir(opts.datasetsDir)
const ds = await loadDataset(opts.dataset, dir)
const desc = { n: ds.n, d: ds.dim, q: ds.q }
const config = {
  dimension: desc.d,
  metric: ds.metric,
  hnsw: { m: 16, efConstruct: 200, fullScanThreshold: 10000, ef: 64 },
}
process.stderr.write(`building ${opts.dataset} (${desc.n} x ${desc.d}) ...\n`)
const segment = Segment.create(config)
for (let i = 0; i < desc.n; i++)
  segment.upsert(i, ds.base.subarray(i * desc.d, (i + 1) * desc.d), undefined, i + 1)
const index = segment.index
const nq = Math.min(Number(opts.queries), desc.q)
const queries = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * desc.d, (i + 1) * desc.d))
const minMs = Number(opts.minTime) * 1000
const qps = (ms) => Math.round((nq / ms) * 1000)

const rows = []
for (const ef of opts.ef.split(',').map(Number)) {
  const unfiltered = qps(
    time(() => {
      for (const q of queries) index.search(q, 10, ef)
    }, minMs),
  )
  process.stderr.write(`ef ${ef}: unfiltered ${unfiltered} QPS\n`)
  for (const s of opts.selectivity.split(',').map(Number)) {
    const rnd = lcg(Math.round(s * 1e6) + ef)
    const allow = new Bitset(desc.n)
    for (let o = 0; o < desc.n; o++) if (rnd() < s) allow.add(o)
    const list = allow.toOffsets()
    const truth = queries.map((q) => new Set(index.searchExact(q, 10, list).offsets))
    const recall = (search) => {
      let found = 0
      let wanted = 0
      queries.forEach((q, i) => {
        for (const o of search(q)) if (truth[i].has(o)) found++
        wanted += truth[i].size
      })
      return found / wanted
    }
    const waypoint = (q) => index.search(q, 10, ef, { allow: allow.words, twoHop: false }).offsets
    const twoHop = (q) => index.search(q, 10, ef, { allow: allow.words, twoHop: true }).offsets
    const row = {
      ef,
      selectivity: s,
      matches: list.length,
      kib: Math.round((list.length * desc.d * 4) / 1024),
      unfiltered,
      exact: qps(
        time(() => {
          for (const q of queries) index.searchExact(q, 10, list)
        }, minMs),
      ),
      waypoint: qps(
        time(() => {
          for (const q of queries) waypoint(q)
        }, minMs),
      ),
      waypointRecall: recall(waypoint),
      twoHop: qps(
        time(() => {
          for (const q of queries) twoHop(q)
        }, minMs),
      ),
      twoHopRecall: recall(twoHop),
    }
    rows.push(row)
    process.stderr.write(`${JSON.stringify(row)}\n`)
  }
}

const header =
  '| ef | selectivity | matches | KiB | exact QPS | waypoint QPS | waypoint recall | two-hop QPS | two-hop recall | unfiltered QPS |\n' +
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
const table =
  header +
  rows
    .map(
      (r) =>
        `| ${r.ef} | ${r.selectivity} | ${r.matches} | ${r.kib} | ${r.exact} | ${r.waypoint} | ${r.waypointRecall.toFixed(3)} | ${r.twoHop} | ${r.twoHopRecall.toFixed(3)} | ${r.unfiltered} |`,
    )
    .join('\n')
const m = machineInfo()
const machine = `${m.cpu}, ${m.cores} cores, Node ${m.node}`
const md = `# Planner sweep: ${opts.dataset}\n\n\`node bench/planner.mjs ${process.argv.slice(2).join(' ')}\` — ${new Date().toISOString().slice(0, 10)}, ${machine}, single thread, k = 10, M = 16, ef_construct = 200, ${nq} queries; recall@10 against the exact scan over the same matches.\n\n${table}\n`
console.log(md)
await mkdir(opts.out, { recursive: true })
await writeFile(join(opts.out, `planner-${opts.dataset}.md`), md)
await writeFile(join(opts.out, `planner-${opts.dataset}.json`), JSON.stringify({ machine, rows }, null, 2))
