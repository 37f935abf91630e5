// `quiver bench`: builds an HNSW collection from a dataset in a fresh temporary data directory and
// measures build speed, memory, recall@k / QPS / latency per ef, and reopen time.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { arch, cpus, platform, tmpdir } from 'node:os'
import { join } from 'node:path'
import { Quiver } from '../db/quiver.js'
import { invalid } from '../errors.js'
import type { Collection, Distance, PointId, PointStruct } from '../types.js'
import { type Dataset, loadDataset, resolveDatasetsDir } from './datasets.js'
import { formatCount, formatDuration, formatMiB, formatTable } from './format.js'
import { createProgress } from './progress.js'
import { percentile, recallAtK } from './recall.js'

/** The machine a benchmark ran on, as reports print it. */
export interface MachineInfo {
  cpu: string
  cores: number
  node: string
  os: string
}

/** CPU model, core count, Node version and OS of this machine (for benchmark reports). */
export function machineInfo(): MachineInfo {
  const cpu = cpus()
  return {
    cpu: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    node: process.version,
    os: `${platform()} ${arch()}`,
  }
}

export interface BenchOptions {
  dataset: string
  datasets?: string
  m: number
  efConstruct: number
  /** Query-time ef values, each measured in turn. */
  ef: number[]
  /** Use only the first `queries` queries. */
  queries?: number
  /** Build from only the first `limit` base rows (ground truth then comes from exact search). */
  limit?: number
  k: number
  batch: number
  /** Write the report as JSON to this file. */
  json?: string
  /** Write the report as a Markdown section (for BENCHMARKS.md) to this file. */
  markdown?: string
  /** The command line as typed, recorded in the report. */
  command: string
  /** Hide progress output (tests). */
  quiet?: boolean
}

export interface EfResult {
  ef: number
  /** Mean recall@k over the queries, 0..1. */
  recall: number
  /** Queries per second, one after another on one thread. */
  qps: number
  p50Ms: number
  p99Ms: number
}

export interface BenchReport {
  date: string
  machine: MachineInfo
  command: string
  dataset: { name: string; n: number; totalN: number; dim: number; metric: Distance; queries: number }
  params: { m: number; efConstruct: number; k: number; batch: number }
  /** `dataset` (the shipped gt.i32) or `exact` (exact search, when the base was subsampled). */
  groundTruth: 'dataset' | 'exact'
  build: { ms: number; vectorsPerSecond: number }
  /** process.memoryUsage().rss in bytes, after loading the dataset and after building the index. */
  memory: { rssBeforeBytes: number; rssAfterBytes: number }
  results: EfResult[]
  /** Close, then `Quiver.open` + `getCollection` (openMs) and the first search (firstQueryMs). */
  reopen: { openMs: number; firstQueryMs: number; totalMs: number }
}

function vectorOf(ds: Dataset, rows: Float32Array, i: number): Float32Array {
  return rows.subarray(i * ds.dim, (i + 1) * ds.dim)
}

async function build(col: Collection, ds: Dataset, batch: number, quiet: boolean): Promise<number> {
  const progress = quiet ? undefined : createProgress('build', ds.n, { unit: 'vec' })
  const started = performance.now()
  try {
    for (let start = 0; start < ds.n; start += batch) {
      const end = Math.min(ds.n, start + batch)
      const points: PointStruct[] = []
      for (let i = start; i < end; i++) points.push({ id: i, vector: vectorOf(ds, ds.base, i) })
      await col.upsert(points)
      progress?.update(end)
    }
  } finally {
    progress?.stop()
  }
  return performance.now() - started
}

/** Ground-truth rows (`nq x k`, flattened) for the loaded base, by exact search. */
async function exactTruth(col: Collection, ds: Dataset, nq: number, k: number): Promise<Int32Array> {
  const truth = new Int32Array(nq * k).fill(-1)
  for (let qi = 0; qi < nq; qi++) {
    const hits = await col.search(vectorOf(ds, ds.queries, qi), { limit: k, exact: true })
    hits.forEach((h, j) => {
      truth[qi * k + j] = typeof h.id === 'number' ? h.id : -1
    })
  }
  return truth
}

const MIN_TIMED_MS = 1000
const MAX_PASSES = 100

async function measure(
  col: Collection,
  ds: Dataset,
  nq: number,
  k: number,
  ef: number,
  truth: (qi: number) => ArrayLike<number>,
): Promise<EfResult> {
  const latencies: number[] = []
  let recallSum = 0
  // Recall from the first pass; timing over as many passes as fit in MIN_TIMED_MS (small query
  // sets would otherwise be timed over a few milliseconds, mostly JIT and GC noise).
  let passes = 0
  const started = performance.now()
  do {
    for (let qi = 0; qi < nq; qi++) {
      const t0 = performance.now()
      const hits = await col.search(vectorOf(ds, ds.queries, qi), { limit: k, ef })
      latencies.push(performance.now() - t0)
      if (passes === 0) {
        recallSum += recallAtK(
          hits.map((h): PointId => h.id),
          truth(qi),
          k,
        )
      }
    }
    passes++
  } while (performance.now() - started < MIN_TIMED_MS && passes < MAX_PASSES)
  const totalMs = performance.now() - started
  latencies.sort((a, b) => a - b)
  return {
    ef,
    recall: recallSum / nq,
    qps: (nq * passes) / (totalMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
  }
}

/**
 * Runs the benchmark and returns its report; progress goes to stderr unless `quiet`.
 * Throws INVALID_ARGUMENT when k exceeds the ground truth's width or the base size, and whatever
 * the dataset loader or the engine throws. The temporary data directory is always removed.
 */
export async function runBench(opts: BenchOptions): Promise<BenchReport> {
  const dir = resolveDatasetsDir(opts.datasets)
  const ds = await loadDataset(opts.dataset, dir, opts.limit === undefined ? {} : { limit: opts.limit })
  const subsampled = ds.n < ds.totalN
  if (!subsampled && opts.k > ds.gtK) {
    throw invalid(`--k ${opts.k} exceeds the ${ds.gtK} ground-truth neighbours of dataset ${ds.name}`)
  }
  if (opts.k > ds.n) throw invalid(`--k ${opts.k} exceeds the ${ds.n} base points`)
  const nq = Math.min(opts.queries ?? ds.q, ds.q)
  const rssBefore = process.memoryUsage().rss
  const dataDir = await mkdtemp(join(tmpdir(), 'quiver-bench-'))
  let db: Quiver | undefined
  try {
    // the query cache off: the passes repeat queries, which would time cache hits, not search
    db = await Quiver.open(dataDir, { queryCacheBytes: 0 })
    const col = await db.createCollection('bench', {
      dimension: ds.dim,
      metric: ds.metric,
      hnsw: { m: opts.m, efConstruct: opts.efConstruct },
    })
    const buildMs = await build(col, ds, opts.batch, opts.quiet === true)
    const rssAfter = process.memoryUsage().rss

    let truth: (qi: number) => ArrayLike<number>
    if (subsampled) {
      const exact = await exactTruth(col, ds, nq, opts.k)
      truth = (qi) => exact.subarray(qi * opts.k, (qi + 1) * opts.k)
    } else {
      truth = (qi) => ds.groundTruth.subarray(qi * ds.gtK, qi * ds.gtK + opts.k)
    }

    const firstEf = opts.ef[0] ?? 64
    for (let qi = 0; qi < Math.min(nq, 20); qi++) {
      await col.search(vectorOf(ds, ds.queries, qi), { limit: opts.k, ef: firstEf })
    }
    const results: EfResult[] = []
    for (const ef of opts.ef) results.push(await measure(col, ds, nq, opts.k, ef, truth))

    await db.close()
    db = undefined
    const t0 = performance.now()
    db = await Quiver.open(dataDir, { queryCacheBytes: 0 })
    const reopened = await db.getCollection('bench')
    const t1 = performance.now()
    await reopened.search(vectorOf(ds, ds.queries, 0), { limit: opts.k, ef: firstEf })
    const t2 = performance.now()

    return {
      date: new Date().toISOString(),
      machine: machineInfo(),
      command: opts.command,
      dataset: { name: ds.name, n: ds.n, totalN: ds.totalN, dim: ds.dim, metric: ds.metric, queries: nq },
      params: { m: opts.m, efConstruct: opts.efConstruct, k: opts.k, batch: opts.batch },
      groundTruth: subsampled ? 'exact' : 'dataset',
      build: { ms: buildMs, vectorsPerSecond: ds.n / (buildMs / 1000) },
      memory: { rssBeforeBytes: rssBefore, rssAfterBytes: rssAfter },
      results,
      reopen: { openMs: t1 - t0, firstQueryMs: t2 - t1, totalMs: t2 - t0 },
    }
  } finally {
    await db?.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

function groundTruthLine(r: BenchReport): string {
  return r.groundTruth === 'exact'
    ? `exact search over the ${formatCount(r.dataset.n)}-point subsample (the dataset's ground truth covers all ${formatCount(r.dataset.totalN)} points and does not apply)`
    : `the dataset's shipped ground truth (gt.i32)`
}

function resultRows(r: BenchReport): string[][] {
  return r.results.map((e) => [
    String(e.ef),
    e.recall.toFixed(4),
    formatCount(e.qps),
    e.p50Ms.toFixed(3),
    e.p99Ms.toFixed(3),
  ])
}

function headers(r: BenchReport): string[] {
  return ['ef', `recall@${r.params.k}`, 'QPS', 'p50 ms', 'p99 ms']
}

/** The human-readable report `quiver bench` prints: summary lines and an aligned table. */
export function formatBenchReport(r: BenchReport): string {
  const d = r.dataset
  return [
    `dataset       ${d.name}: ${formatCount(d.n)} x ${d.dim} (${d.metric}), ${formatCount(d.queries)} queries, k = ${r.params.k}`,
    `index         HNSW m = ${r.params.m}, ef_construct = ${r.params.efConstruct}`,
    `ground truth  ${groundTruthLine(r)}`,
    `build         ${formatDuration(r.build.ms)} (${formatCount(r.build.vectorsPerSecond)} vectors/s, batches of ${r.params.batch})`,
    `memory (RSS)  ${formatMiB(r.memory.rssBeforeBytes)} before build, ${formatMiB(r.memory.rssAfterBytes)} after`,
    `reopen        open ${formatDuration(r.reopen.openMs)} + first query ${formatDuration(r.reopen.firstQueryMs)} = ${formatDuration(r.reopen.totalMs)}`,
    '',
    formatTable(headers(r), resultRows(r), ['right', 'right', 'right', 'right', 'right']),
    '',
  ].join('\n')
}

/** The report as a Markdown section for BENCHMARKS.md (date, machine, command, table). */
export function formatBenchMarkdown(r: BenchReport): string {
  const d = r.dataset
  const h = headers(r)
  return [
    `### ${d.name} (${formatCount(d.n)} x ${d.dim}, ${d.metric})`,
    '',
    `- date: ${r.date}`,
    `- machine: ${r.machine.cpu}, ${r.machine.cores} cores, ${r.machine.os}, Node ${r.machine.node}`,
    `- command: \`${r.command}\``,
    `- index: HNSW m = ${r.params.m}, ef_construct = ${r.params.efConstruct}; ${formatCount(d.queries)} queries, k = ${r.params.k}, one at a time on one thread`,
    `- ground truth: ${groundTruthLine(r)}`,
    `- build: ${formatDuration(r.build.ms)} (${formatCount(r.build.vectorsPerSecond)} vectors/s)`,
    `- memory (RSS): ${formatMiB(r.memory.rssBeforeBytes)} before build, ${formatMiB(r.memory.rssAfterBytes)} after`,
    `- reopen: open ${formatDuration(r.reopen.openMs)} + first query ${formatDuration(r.reopen.firstQueryMs)}`,
    '',
    `| ${h.join(' | ')} |`,
    `| ${h.map(() => '---:').join(' | ')} |`,
    ...resultRows(r).map((row) => `| ${row.join(' | ')} |`),
    '',
  ].join('\n')
}

/** Runs the benchmark, prints the report to `out`, and writes the JSON / Markdown files asked for. */
export async function benchCommand(
  opts: BenchOptions,
  out: NodeJS.WritableStream = process.stdout,
): Promise<void> {
  const report = await runBench(opts)
  out.write(formatBenchReport(report))
  if (opts.json !== undefined) await writeFile(opts.json, `${JSON.stringify(report, null, 2)}\n`)
  if (opts.markdown !== undefined) await writeFile(opts.markdown, formatBenchMarkdown(report))
}
