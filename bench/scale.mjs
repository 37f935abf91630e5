// @ts-check
// Quiver at scale on one machine (issue 15): clustered synthetic float32 points with exact ground
// truth (computed once, cached), built through the collection API, next to hnswlib-node in its own
// process. Per size (a growth curve, default 100k / 300k / 1M): build time, RSS growth in steady
// state and at its peak, bytes per point, recall@k / QPS / p50 / p99 per ef, disk bytes, close +
// reopen + first query, and the RSS left after close.
//
//   npm run build && npm run bench:setup
//   npm run bench:scale                                  # 100k, 300k, 1M x 128, both engines
//   npm run bench:scale -- --sizes 100000 --queries 200 --min-time 0.2   # quick check
//
// Every engine runs in a child process of its own (`--child <engine>`), one after another, so each
// one's RSS is its own. Base vectors are streamed from the cached file in batches (neither engine
// holds the whole base in JS), so RSS growth is the index. The peak is the kernel's VmHWM, reset
// before the build (/proc/self/clear_refs); without /proc the peak is sampled every 50 ms.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { availableParallelism, cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command } from 'commander'
import { qpsAtRecall } from './lib/curves.mjs'
import { loadHnswlib } from './lib/engines.mjs'
import { diskBytes, peakTracker, settledRss } from './lib/memory.mjs'
import { intList, log, positiveInt, positiveNumber } from './lib/options.mjs'
import { bytesOf, ensureData, ensureTruth, readFloats, readRows } from './lib/synthetic.mjs'
import { measure } from './lib/timing.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const MiB = 2 ** 20

// ---------------------------------------------------------------------------------------------
// one engine, one size (child process)

/**
 * @typedef {object} ChildConfig
 * @property {'quiver' | 'hnswlib-node'} engine
 * @property {number} n
 * @property {number} dim
 * @property {number} nq
 * @property {number} k
 * @property {number} m
 * @property {number} efConstruct
 * @property {number[]} efs
 * @property {number} batch
 * @property {number} minTimeMs
 * @property {string} basePath
 * @property {string} queryPath
 * @property {string} truthPath
 * @property {string} workDir
 */

/**
 * @typedef {{ ef: number, recall: number, qps: number, p50Ms: number, p99Ms: number }} Point
 * @typedef {object} ChildResult
 * @property {string} engine
 * @property {string} version
 * @property {number} n
 * @property {number} buildMs
 * @property {number} rssBeforeBytes RSS before the build (module loaded, queries read)
 * @property {number} rssSteadyBytes after the build, optimizers idle, after GC
 * @property {number} rssPeakBytes highest RSS during the build
 * @property {number} diskBytes
 * @property {number} reopenMs close, then open and answer one query (in the build process)
 * @property {number} [freshReopenMs] open and answer one query in a fresh process (set by the parent)
 * @property {number} rssAfterCloseBytes after closing the index and a GC
 * @property {number} rssAfterReopenBytes
 * @property {Point[]} points
 * @property {string[]} notes
 */

/** @param {ChildConfig} cfg @returns {Promise<ChildResult>} */
async function runChild(cfg) {
  const queries = readFloats(cfg.queryPath, cfg.nq * cfg.dim)
  const truthAll = new Int32Array(bytesOf(cfg.truthPath, cfg.nq * cfg.k * 4).buffer)
  const truth = (/** @type {number} */ qi) => truthAll.subarray(qi * cfg.k, (qi + 1) * cfg.k)
  const query = (/** @type {number} */ qi) => queries.subarray(qi * cfg.dim, (qi + 1) * cfg.dim)
  const fd = openSync(cfg.basePath, 'r')
  const rows = new Float32Array(cfg.batch * cfg.dim)
  const minTimeMs = cfg.minTimeMs
  return cfg.engine === 'quiver' ? runQuiver() : runHnswlib()

  async function runQuiver() {
    const { Quiver } = await import('../dist/index.js')
    const pkg = JSON.parse(readFileSync(join(here, '..', 'package.json'), 'utf8'))
    const dir = join(cfg.workDir, 'quiver')
    const before = await settledRss()
    const peak = peakTracker()
    const started = performance.now()
    // query cache and recall sampler off: timed passes repeat the same queries
    let db = await Quiver.open(dir, { queryCacheBytes: 0, recallSampleRate: 0 })
    let col = await db.createCollection('scale', {
      dimension: cfg.dim,
      metric: 'euclid',
      hnsw: { m: cfg.m, efConstruct: cfg.efConstruct },
    })
    for (let start = 0; start < cfg.n; start += cfg.batch) {
      const m = Math.min(cfg.batch, cfg.n - start)
      const data = readRows(fd, cfg.dim, start, m, rows)
      const points = []
      for (let r = 0; r < m; r++)
        points.push({ id: start + r, vector: data.subarray(r * cfg.dim, (r + 1) * cfg.dim) })
      await col.upsert(points)
      if ((start / cfg.batch) % 50 === 0) log(`quiver ${cfg.n}: ${start.toLocaleString('en-US')} upserted`)
    }
    await col.waitForOptimizers()
    const buildMs = performance.now() - started
    peak.stop()
    const rssPeak = peak.peak()
    const steady = await settledRss()
    const info = await col.info()
    const points = await sweep((ef) => async (qi) => {
      const hits = await col.search(query(qi), { limit: cfg.k, ef })
      return hits.map((h) => /** @type {number} */ (h.id))
    })
    await db.close()
    // @ts-expect-error released for the GC
    col = undefined
    // @ts-expect-error released for the GC
    db = undefined
    const afterClose = await settledRss()
    const disk = await diskBytes(dir)
    const t0 = performance.now()
    db = await Quiver.open(dir, { queryCacheBytes: 0, recallSampleRate: 0 })
    col = await db.getCollection('scale')
    await col.search(query(0), { limit: cfg.k, ef: cfg.efs[0] ?? 64 })
    const reopenMs = performance.now() - t0
    const afterReopen = await settledRss()
    await db.close()
    return finish({
      engine: 'quiver',
      version: String(pkg.version),
      buildMs,
      rssBeforeBytes: before,
      rssSteadyBytes: steady,
      rssPeakBytes: rssPeak,
      diskBytes: disk,
      reopenMs,
      rssAfterCloseBytes: afterClose,
      rssAfterReopenBytes: afterReopen,
      points,
      notes: [
        `${info.segmentsCount ?? '?'} segment(s) after the build; core pool threads: ${process.env.QUIVER_THREADS ?? 'default (one per core)'}`,
      ],
    })
  }

  async function runHnswlib() {
    const loaded = loadHnswlib()
    if (loaded.lib === null)
      throw new Error(`hnswlib-node is not installed (npm run bench:setup): ${loaded.reason}`)
    const before = await settledRss()
    const peak = peakTracker()
    const started = performance.now()
    let index = new loaded.lib.HierarchicalNSW('l2', cfg.dim)
    index.initIndex(cfg.n, cfg.m, cfg.efConstruct, 100)
    for (let start = 0; start < cfg.n; start += cfg.batch) {
      const m = Math.min(cfg.batch, cfg.n - start)
      const data = readRows(fd, cfg.dim, start, m, rows)
      for (let r = 0; r < m; r++)
        index.addPoint(Array.from(data.subarray(r * cfg.dim, (r + 1) * cfg.dim)), start + r)
      if ((start / cfg.batch) % 50 === 0) log(`hnswlib ${cfg.n}: ${start.toLocaleString('en-US')} added`)
    }
    const buildMs = performance.now() - started
    peak.stop()
    const rssPeak = peak.peak()
    const steady = await settledRss()
    const arrays = Array.from({ length: cfg.nq }, (_, qi) => Array.from(query(qi)))
    const points = await sweep((ef) => {
      index.setEf(ef)
      return (qi) => index.searchKnn(arrays[qi], cfg.k).neighbors
    })
    const file = join(cfg.workDir, 'hnswlib.bin')
    await mkdir(cfg.workDir, { recursive: true })
    index.writeIndexSync(file)
    index = undefined
    const afterClose = await settledRss()
    const disk = statSync(file).size
    const t0 = performance.now()
    index = new loaded.lib.HierarchicalNSW('l2', cfg.dim)
    index.readIndexSync(file)
    index.setEf(cfg.efs[0] ?? 64)
    index.searchKnn(arrays[0], cfg.k)
    const reopenMs = performance.now() - t0
    const afterReopen = await settledRss()
    return finish({
      engine: 'hnswlib-node',
      version: loaded.version,
      buildMs,
      rssBeforeBytes: before,
      rssSteadyBytes: steady,
      rssPeakBytes: rssPeak,
      diskBytes: disk,
      reopenMs,
      rssAfterCloseBytes: afterClose,
      rssAfterReopenBytes: afterReopen,
      points,
      notes: ['single-threaded addPoint; reopen = readIndexSync + one query'],
    })
  }

  /** @param {(ef: number) => ((qi: number) => number[] | Promise<number[]>) | Promise<(qi: number) => number[] | Promise<number[]>>} make */
  async function sweep(make) {
    /** @type {Point[]} */
    const out = []
    for (const ef of cfg.efs) {
      const search = await make(ef)
      const r = await measure(cfg.nq, search, truth, () => null, { k: cfg.k, minTimeMs })
      out.push({ ef, recall: r.recall, qps: r.qps, p50Ms: r.p50Ms, p99Ms: r.p99Ms })
      log(`  ${cfg.engine} ${cfg.n} ef ${ef}: recall ${r.recall.toFixed(4)}, ${Math.round(r.qps)} QPS`)
    }
    return out
  }

  /** @param {Omit<ChildResult, 'n'>} r @returns {ChildResult} */
  function finish(r) {
    closeSync(fd)
    return { ...r, n: cfg.n }
  }
}

/**
 * Opens what the build child of `cfg` left (Quiver's directory, hnswlib's index file) in this fresh
 * process and answers one query: the reopen a restarted server pays.
 * @param {ChildConfig} cfg
 * @returns {Promise<{ freshReopenMs: number }>}
 */
async function reopenChild(cfg) {
  const q = readFloats(cfg.queryPath, cfg.dim)
  const ef = cfg.efs[0] ?? 64
  if (cfg.engine === 'quiver') {
    const { Quiver } = await import('../dist/index.js')
    const t0 = performance.now()
    const db = await Quiver.open(join(cfg.workDir, 'quiver'), { queryCacheBytes: 0, recallSampleRate: 0 })
    const col = await db.getCollection('scale')
    await col.search(q, { limit: cfg.k, ef })
    const freshReopenMs = performance.now() - t0
    await db.close()
    return { freshReopenMs }
  }
  const loaded = loadHnswlib()
  if (loaded.lib === null) throw new Error(`hnswlib-node is not installed: ${loaded.reason}`)
  const t0 = performance.now()
  const index = new loaded.lib.HierarchicalNSW('l2', cfg.dim)
  index.readIndexSync(join(cfg.workDir, 'hnswlib.bin'))
  index.setEf(ef)
  index.searchKnn(Array.from(q), cfg.k)
  return { freshReopenMs: performance.now() - t0 }
}

// ---------------------------------------------------------------------------------------------
// the parent

/** @param {string[]} args @returns {Promise<any>} the child's last stdout line, parsed */
function spawnChild(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let out = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.once('error', reject)
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0) reject(new Error(`child ${args.join(' ')} exited with ${code}`))
      else resolve(JSON.parse(line))
    })
  })
}

/** @param {ChildResult} r @param {number} dim @param {number} m */
function derived(r, dim, m) {
  const raw = r.n * dim * 4
  // layer 0 holds 2m links + a degree word per point; upper layers about 1/m of that again
  const links = r.n * (2 * m + 1) * 4 * (1 + 1 / m)
  const growth = r.rssSteadyBytes - r.rssBeforeBytes
  const peakGrowth = r.rssPeakBytes - r.rssBeforeBytes
  return {
    growth,
    peakGrowth,
    bytesPerPoint: growth / r.n,
    steadyVsRawLinks: growth / (raw + links),
    peakVsRawLinks: peakGrowth / (raw + links),
    qps95: qpsAtRecall(r.points, 0.95),
    returnedAfterClose: r.rssSteadyBytes - r.rssAfterCloseBytes,
  }
}

/** @param {number} b */
const mib = (b) => (b / MiB).toFixed(0)
/** @param {number | null} q */
const qps = (q) => (q === null ? 'not reached' : Math.round(q).toLocaleString('en-US'))

/**
 * @param {{ date: string, machine: string, command: string, dim: number, m: number, efConstruct: number, k: number, nq: number, results: ChildResult[] }} report
 */
function markdown(report) {
  const { dim, m } = report
  const lines = [
    `### Scale: clustered ${dim}-d float32, Euclid, m ${m}, ef_construct ${report.efConstruct}`,
    '',
    `- date: ${report.date}`,
    `- machine: ${report.machine}`,
    `- command: \`${report.command}\``,
    `- ${report.nq} held-out queries, recall@${report.k} against exact ground truth (brute force, float64 sums, cached); each engine in its own process, one after another; base vectors streamed from disk in batches`,
    "- RSS growth: steady RSS after the build (optimizers idle, after GC) minus RSS before it; peak: the kernel's VmHWM during the build minus the same baseline; raw + links: n x dim x 4 + n x (2m + 1) x 4 x (1 + 1/m)",
    '',
    '| engine | n | build s | vectors/s | RSS growth MiB | bytes/point | growth / (raw + links) | peak growth MiB | peak / (raw + links) | QPS @ 0.95 | disk MiB | reopen + 1st query s (fresh process) | reopen + 1st query s (build process) | RSS returned on close MiB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const r of report.results) {
    const d = derived(r, dim, m)
    lines.push(
      `| ${r.engine} | ${r.n.toLocaleString('en-US')} | ${(r.buildMs / 1000).toFixed(1)} | ${Math.round(r.n / (r.buildMs / 1000)).toLocaleString('en-US')} | ${mib(d.growth)} | ${Math.round(d.bytesPerPoint)} | ${d.steadyVsRawLinks.toFixed(2)}x | ${mib(d.peakGrowth)} | ${d.peakVsRawLinks.toFixed(2)}x | ${qps(d.qps95)} | ${mib(r.diskBytes)} | ${r.freshReopenMs === undefined ? '–' : (r.freshReopenMs / 1000).toFixed(2)} | ${(r.reopenMs / 1000).toFixed(2)} | ${mib(d.returnedAfterClose)} |`,
    )
  }
  const sizes = [...new Set(report.results.map((r) => r.n))]
  lines.push(
    '',
    '#### Quiver / hnswlib-node',
    '',
    '| n | RSS growth | peak growth | build time | QPS @ 0.95 | reopen (fresh process) |',
    '| ---: | ---: | ---: | ---: | ---: | ---: |',
  )
  for (const n of sizes) {
    const q = report.results.find((r) => r.n === n && r.engine === 'quiver')
    const h = report.results.find((r) => r.n === n && r.engine === 'hnswlib-node')
    if (!q || !h) continue
    const dq = derived(q, dim, m)
    const dh = derived(h, dim, m)
    const ratio = (/** @type {number | null} */ a, /** @type {number | null} */ b) =>
      a === null || b === null ? '–' : `${(a / b).toFixed(2)}x`
    lines.push(
      `| ${n.toLocaleString('en-US')} | ${ratio(dq.growth, dh.growth)} | ${ratio(dq.peakGrowth, dh.peakGrowth)} | ${ratio(q.buildMs, h.buildMs)} | ${ratio(dq.qps95, dh.qps95)} | ${ratio(q.freshReopenMs ?? null, h.freshReopenMs ?? null)} |`,
    )
  }
  for (const r of report.results) {
    lines.push(
      '',
      `**${r.engine}, n = ${r.n.toLocaleString('en-US')}**${r.notes.length ? ` (${r.notes.join('; ')})` : ''}`,
      '',
      '| ef | recall@k | QPS | p50 ms | p99 ms |',
      '| ---: | ---: | ---: | ---: | ---: |',
    )
    for (const p of r.points) {
      lines.push(
        `| ${p.ef} | ${p.recall.toFixed(4)} | ${Math.round(p.qps).toLocaleString('en-US')} | ${p.p50Ms.toFixed(3)} | ${p.p99Ms.toFixed(3)} |`,
      )
    }
  }
  return `${lines.join('\n')}\n`
}

async function main() {
  const program = new Command('bench:scale')
    .description('Quiver at 100k..1M points next to hnswlib-node: memory, build, recall / QPS, disk, reopen')
    .option(
      '--sizes <list>',
      'base sizes of the growth curve (prefixes of one dataset)',
      intList,
      [100_000, 300_000, 1_000_000],
    )
    .option('--dim <n>', 'dimension', positiveInt, 128)
    .option('--clusters <n>', 'clusters of the synthetic data', positiveInt, 100)
    .option('--queries <n>', 'held-out queries', positiveInt, 1000)
    .option('--k <n>', 'neighbours per query', positiveInt, 10)
    .option('--m <n>', 'HNSW m', positiveInt, 16)
    .option('--ef-construct <n>', 'HNSW ef_construct', positiveInt, 100)
    .option('--ef <list>', 'query-time ef sweep', intList, [16, 32, 64, 128, 256])
    .option('--batch <n>', 'upsert batch', positiveInt, 1000)
    .option('--min-time <s>', 'timed seconds per ef', positiveNumber, 1)
    .option('--peers <list>', 'hnswlib-node or none', 'hnswlib-node')
    .option(
      '--cache-dir <dir>',
      'where the synthetic data and its ground truth are kept',
      join(tmpdir(), 'quiver-scale-cache'),
    )
    .option('--out <dir>', 'results directory', join(here, 'results'))
    .option('--child <json>', 'internal: run one engine from this config file')
    .option('--reopen-child <json>', 'internal: reopen what that engine left, in a fresh process')
  program.parse()
  const opts = program.opts()
  if (opts.child) {
    const cfg = JSON.parse(readFileSync(opts.child, 'utf8'))
    process.stdout.write(`${JSON.stringify(await runChild(cfg))}\n`)
    return
  }
  if (opts.reopenChild) {
    const cfg = JSON.parse(readFileSync(opts.reopenChild, 'utf8'))
    process.stdout.write(`${JSON.stringify(await reopenChild(cfg))}\n`)
    return
  }
  const sizes = [.../** @type {number[]} */ (opts.sizes)].sort((a, b) => a - b)
  const maxN = sizes[sizes.length - 1] ?? 0
  await mkdir(opts.cacheDir, { recursive: true })
  await mkdir(opts.out, { recursive: true })
  const { basePath, queryPath, tag } = ensureData(opts.cacheDir, maxN, opts.queries, opts.dim, opts.clusters)
  const queries = readFloats(queryPath, opts.queries * opts.dim)
  const peers = opts.peers === 'none' ? [] : String(opts.peers).split(',')
  for (const p of peers) {
    if (p !== 'hnswlib-node')
      throw new Error(`--peers: unknown peer ${JSON.stringify(p)} (hnswlib-node or none)`)
    const loaded = loadHnswlib()
    if (loaded.lib === null)
      throw new Error(
        `hnswlib-node is not installed (npm run bench:setup, or --peers none): ${loaded.reason}`,
      )
  }
  const engines = ['quiver', ...peers]
  /** @type {ChildResult[]} */
  const results = []
  const work = await mkdtemp(join(tmpdir(), 'quiver-scale-'))
  try {
    for (const n of sizes) {
      const truthPath = await ensureTruth({
        dir: opts.cacheDir,
        tag,
        basePath,
        queries,
        dim: opts.dim,
        n,
        k: opts.k,
        label: 'scale',
      })
      for (const engine of engines) {
        const workDir = join(work, `${engine}-${n}`)
        /** @type {ChildConfig} */
        const cfg = {
          engine: /** @type {any} */ (engine),
          n,
          dim: opts.dim,
          nq: opts.queries,
          k: opts.k,
          m: opts.m,
          efConstruct: opts.efConstruct,
          efs: opts.ef,
          batch: opts.batch,
          minTimeMs: opts.minTime * 1000,
          basePath,
          queryPath,
          truthPath,
          workDir,
        }
        const cfgPath = join(work, `${engine}-${n}.json`)
        writeFileSync(cfgPath, JSON.stringify(cfg))
        log(`scale: ${engine}, n = ${n.toLocaleString('en-US')}`)
        const result = await spawnChild(['--child', cfgPath])
        log(`scale: ${engine}, n = ${n.toLocaleString('en-US')}: reopen in a fresh process`)
        result.freshReopenMs = (await spawnChild(['--reopen-child', cfgPath])).freshReopenMs
        results.push(result)
        await rm(workDir, { recursive: true, force: true })
      }
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  const report = {
    date: new Date().toISOString(),
    machine: `${cpu}, ${availableParallelism()} cores, ${process.platform} ${process.arch}, Node ${process.version}`,
    command: `npm run bench:scale -- ${process.argv.slice(2).join(' ')}`.trim(),
    dim: opts.dim,
    m: opts.m,
    efConstruct: opts.efConstruct,
    k: opts.k,
    nq: opts.queries,
    results,
  }
  const md = markdown(report)
  writeFileSync(join(opts.out, 'scale.json'), `${JSON.stringify(report, null, 2)}\n`)
  writeFileSync(join(opts.out, 'scale.md'), md)
  process.stdout.write(md)
  log(`wrote ${join(opts.out, 'scale.json')} and scale.md`)
}

await main()
