#!/usr/bin/env node
// @ts-check
// Vectors on disk (`onDisk: true`): one quantized collection built with its float32 vectors held in
// memory (`quiver-ram`), the same with them on disk (`quiver-disk`: sealed segments keep only the
// graph and the codes in memory; rescoring reads rows from the vector file), and hnswlib-node, on a
// real dataset or on clustered synthetic data (`--synthetic N`, bench/lib/synthetic.mjs). Per engine: build time, RSS before / peak / steady, RSS after close + reopen in the
// same process, and RSS of a fresh process that only opens the index and runs the timed queries
// (the honest steady state); recall@k, QPS, p50 / p99 per ef (Quiver: per ef x oversampling), bytes
// per point, disk bytes; ratio lines against the goals.
//
//   npm run bench:setup                                    # hnswlib-node
//   npm run bench:on-disk                                  # glove-100-cosine, scalar int8
//   npm run bench:on-disk -- --dataset bge-m3-1024-tiny-cosine --quantization binary
//   npm run bench:on-disk -- --limit 5000 --queries 50 --min-time 0.05 --out /tmp/on-disk.md   # quick check
//   npm run bench:on-disk -- --synthetic 100000 --quantization binary   # 100k x 1024 synthetic, cosine
//
// Every engine runs in child processes of this script, one after another: `--child <engine>`
// builds it (and reopens it in the same process), then `--child <engine>-reopen` opens the
// directory (or index file) the first one left and runs every timed query, so each RSS figure is
// that engine's alone. With `--synthetic`, the base, query and exact-truth files are generated
// once and cached (as bench/scale.mjs does, in $TMPDIR/quiver-scale-cache); the children stream the
// base from its row file in upsert batches, so no process holds the whole base in JS.
import { spawn } from 'node:child_process'
import { closeSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, InvalidArgumentError } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, loadQueries, readDescriptor, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { qpsAtRecall } from './lib/curves.mjs'
import { loadHnswlib } from './lib/engines.mjs'
import { diskBytes, peakTracker, settledRss } from './lib/memory.mjs'
import { intList, log, oversamplingList, positiveInt, positiveNumber } from './lib/options.mjs'
import {
  describeGenerator,
  ensureData,
  ensureTruth,
  LATENT,
  NOISE,
  readFloats,
  readRows,
  SEEDS,
} from './lib/synthetic.mjs'
import { measure } from './lib/timing.mjs'
import { groundTruth } from './lib/truth.mjs'

/**
 * @typedef {import('../dist/index.js').QuantizationConfig} QuantizationConfig
 * @typedef {import('../dist/cli/datasets.js').Dataset} Dataset
 */

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
const MiB = 2 ** 20
const ENGINES = ['quiver-ram', 'quiver-disk', 'hnswlib-node']
const COLLECTION = 'on-disk'

/** @type {Record<string, QuantizationConfig>} */
const QUANTIZATION = {
  scalar: { scalar: { type: 'int8' } },
  binary: { binary: {} },
  // no quantization: quiver-ram searches float32; quiver-disk traverses int8 codes of its own
  // (onDisk without quantization) and rescores its candidate list from disk
  none: null,
}

/** @param {string} v */
function engineList(v) {
  const list = v.split(',').map((s) => s.trim())
  for (const e of list)
    if (!ENGINES.includes(e))
      throw new InvalidArgumentError(`unknown engine ${e} (known: ${ENGINES.join(', ')})`)
  return list
}

/** @param {string} v */
function syntheticMetric(v) {
  if (v !== 'cosine' && v !== 'euclid') throw new InvalidArgumentError('cosine or euclid')
  return v
}

/** @param {string} v */
function quantizationName(v) {
  if (!(v in QUANTIZATION)) throw new InvalidArgumentError('scalar, binary or none')
  return v
}

// ---------------------------------------------------------------------------------------------
// segment layout: the appendable (last) segment always stays in memory, so the build fills
// `segments` sealed segments and ends with a small tail batch that seals the last of them

/**
 * Upsert batches and `optimizers.maxSegmentSize` such that the first n - tail points form
 * `segments` segments of about equal size and the last batch (the tail) does not fit the last of
 * them, so the holder seals it and the tail alone stays in the appendable segment. The tail is the
 * smallest one (at least `minTail`) for which a simulation of the holder's rule (seal before a
 * batch when stored + batch > maxSegmentSize KiB of dim float32) gives that layout.
 * @param {number} n
 * @param {number} dim
 * @param {number} batch
 * @param {number} segments
 * @param {number} minTail
 */
function segmentPlan(n, dim, batch, segments, minTail) {
  for (let tail = Math.max(1, minTail); tail < n - segments; tail++) {
    const sealedTotal = n - tail
    const per = Math.ceil(sealedTotal / segments)
    const maxSegmentSize = Math.max(1, Math.ceil((per * dim * 4) / 1024))
    /** @type {[number, number][]} */
    const batches = []
    for (let s = 0; s < segments; s++) {
      const to = Math.min(sealedTotal, (s + 1) * per)
      for (let i = s * per; i < to; i += batch) batches.push([i, Math.min(to, i + batch)])
    }
    batches.push([sealedTotal, n])
    const cap = (maxSegmentSize * 1024) / (dim * 4)
    const sizes = [0]
    for (const [a, b] of batches) {
      const last = sizes.length - 1
      if (/** @type {number} */ (sizes[last]) > 0 && /** @type {number} */ (sizes[last]) + (b - a) > cap)
        sizes.push(0)
      sizes[sizes.length - 1] = /** @type {number} */ (sizes[sizes.length - 1]) + (b - a)
    }
    if (sizes.length === segments + 1 && sizes[segments] === tail)
      return { tail, perSegment: per, maxSegmentSize, batches, expectedSegments: sizes }
  }
  throw new InvalidArgumentError(`no layout of ${n} points into ${segments} sealed segments and a tail`)
}

// ---------------------------------------------------------------------------------------------
// children

/**
 * @typedef {object} ChildConfig
 * @property {string} engine `quiver-ram`, `quiver-disk`, `hnswlib-node`
 * @property {string} dataset the dataset's name (synthetic: a label, not loaded)
 * @property {string} datasetsDir
 * @property {number | undefined} limit
 * @property {{ basePath: string, queryPath: string } | null} synthetic row files of `--synthetic` (base:
 *   n x dim float32, at least; queries: nq x dim), read instead of the dataset
 * @property {number} n
 * @property {number} dim
 * @property {string} metric the dataset's Distance (`Cosine`, `Euclid`)
 * @property {number} nq
 * @property {number} k
 * @property {number} m
 * @property {number} efConstruct
 * @property {number[]} efs
 * @property {number[]} oversampling
 * @property {string} quantization `scalar` or `binary`
 * @property {{ maxSegmentSize: number, defaultSegmentNumber: number, batches: [number, number][] }} layout
 * @property {number} minTimeMs
 * @property {string} truthPath nq x k int32
 * @property {string} workDir the engine's own directory (Quiver's data dir; hnswlib's index file inside)
 */

/**
 * @typedef {{ ef: number, oversampling: number | null, recall: number, qps: number, p50Ms: number, p99Ms: number }} Point
 * @typedef {{ segmentsCount: number, storedCount: number, memoryBytes: number, onDiskVectorBytes: number, quantizationBytes: number }} QuiverStats
 */

/**
 * The queries of a child: the dataset's, or the first nq rows of the synthetic query file.
 * @param {ChildConfig} cfg
 * @returns {Promise<Float32Array>}
 */
async function childQueries(cfg) {
  if (cfg.synthetic !== null) return readFloats(cfg.synthetic.queryPath, cfg.nq * cfg.dim)
  return loadQueries(await readDescriptor(cfg.dataset, cfg.datasetsDir))
}

/**
 * The base of a build child, row range by row range: the loaded dataset (`rows` are views into it),
 * or positioned reads of the synthetic row file into one reused batch buffer (`rows` is valid until
 * the next call). `release` drops the dataset / closes the file.
 * @param {ChildConfig} cfg
 * @returns {Promise<{ rows(from: number, to: number): Float32Array, release(): void }>}
 */
async function childBase(cfg) {
  if (cfg.synthetic !== null) {
    const fd = openSync(cfg.synthetic.basePath, 'r')
    const most = Math.max(1, ...cfg.layout.batches.map(([from, to]) => to - from))
    /** @type {Float32Array | undefined} */
    let buf = new Float32Array(most * cfg.dim)
    return {
      rows: (from, to) => readRows(fd, cfg.dim, from, to - from, /** @type {Float32Array} */ (buf)),
      release: () => {
        closeSync(fd)
        buf = undefined
      },
    }
  }
  /** @type {Dataset | undefined} */
  let ds = await loadDataset(
    cfg.dataset,
    cfg.datasetsDir,
    cfg.limit === undefined ? {} : { limit: cfg.limit },
  )
  return {
    rows: (from, to) => /** @type {Dataset} */ (ds).base.subarray(from * cfg.dim, to * cfg.dim),
    release: () => {
      ds = undefined
    },
  }
}

/**
 * The engine module a child runs: Quiver's dist build, or hnswlib-node (throws when not installed).
 * @param {string} engine
 */
async function loadEngine(engine) {
  const quiver = engine.startsWith('quiver')
  const engineModule = quiver ? await import('../dist/index.js') : null
  const hnswlib = quiver ? null : loadHnswlib()
  if (hnswlib !== null && 'reason' in hnswlib)
    throw new Error(`hnswlib-node is not installed (npm run bench:setup): ${hnswlib.reason}`)
  return { quiver, engineModule, hnswlib }
}

/**
 * The build child: RSS before anything was loaded, then the dataset (synthetic: the row file opened,
 * one batch buffer); build (Quiver: upserts, optimizers, persist; hnswlib: addPoint one by one),
 * steady RSS; close (hnswlib: writeIndexSync) and drop the dataset; reopen in the same process and
 * one query.
 * @param {ChildConfig} cfg
 */
async function buildChild(cfg) {
  const queries = await childQueries(cfg)
  const q0 = queries.subarray(0, cfg.dim)
  const { engineModule, hnswlib } = await loadEngine(cfg.engine)
  const rssBaseline = await settledRss()
  /** @type {Awaited<ReturnType<typeof childBase>> | undefined} */
  let base = await childBase(cfg)
  const rssBefore = await settledRss()
  const peak = peakTracker()
  /** @type {Record<string, unknown>} */
  const out = { engine: cfg.engine, rssBaselineBytes: rssBaseline, rssBeforeBytes: rssBefore }
  if (engineModule !== null) {
    const { Quiver } = engineModule
    out.version = String(JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).version)
    const started = performance.now()
    let db = await Quiver.open(cfg.workDir, { queryCacheBytes: 0, recallSampleRate: 0 })
    let col = await db.createCollection(COLLECTION, {
      dimension: cfg.dim,
      metric: /** @type {any} */ (cfg.metric),
      hnsw: { m: cfg.m, efConstruct: cfg.efConstruct },
      quantization: /** @type {QuantizationConfig} */ (QUANTIZATION[cfg.quantization]),
      onDisk: cfg.engine === 'quiver-disk',
      optimizers: {
        maxSegmentSize: cfg.layout.maxSegmentSize,
        defaultSegmentNumber: cfg.layout.defaultSegmentNumber,
      },
    })
    for (const [i, [from, to]] of cfg.layout.batches.entries()) {
      const rows = base.rows(from, to)
      const points = []
      for (let r = from; r < to; r++)
        points.push({ id: r, vector: rows.subarray((r - from) * cfg.dim, (r - from + 1) * cfg.dim) })
      await col.upsert(points)
      if (i % 20 === 0) log(`${cfg.engine}: ${to.toLocaleString('en-US')} upserted`)
    }
    await col.waitForOptimizers()
    const buildMs = performance.now() - started
    const p0 = performance.now()
    await col.persist()
    // a persist that moved vectors may let an optimizer run again; persist whatever it changed
    await col.waitForOptimizers()
    await col.persist()
    const persistMs = performance.now() - p0
    peak.stop()
    out.rssPeakBytes = peak.peak()
    out.rssSteadyBytes = await settledRss()
    out.buildMs = buildMs
    out.persistMs = persistMs
    out.stats = quiverStats(col.stats())
    out.segmentSizes = segmentSizes(col)
    await db.close()
    // @ts-expect-error released for the GC
    col = undefined
    // @ts-expect-error released for the GC
    db = undefined
    base.release()
    base = undefined
    out.rssAfterCloseBytes = await settledRss()
    out.diskBytes = await diskBytes(cfg.workDir)
    const t0 = performance.now()
    db = await Quiver.open(cfg.workDir, { queryCacheBytes: 0, recallSampleRate: 0 })
    col = await db.getCollection(COLLECTION)
    out.reopenMs = performance.now() - t0
    await col.search(q0, { limit: cfg.k, ef: cfg.efs[0] ?? 64 })
    out.reopenFirstQueryMs = performance.now() - t0
    out.rssAfterReopenBytes = await settledRss()
    out.statsAfterReopen = quiverStats(col.stats())
    await db.close()
    out.notes = [
      `core pool threads for the build: ${process.env.QUIVER_THREADS ?? 'default (one per core)'}`,
      'build = upserts + waitForOptimizers; persist (which moves sealed segments to vector files) timed apart',
    ]
  } else {
    const lib = /** @type {{ lib: any, version: string }} */ (hnswlib).lib
    out.version = /** @type {{ lib: any, version: string }} */ (hnswlib).version
    const space = cfg.metric === 'Cosine' ? 'cosine' : 'l2'
    const started = performance.now()
    let index = new lib.HierarchicalNSW(space, cfg.dim)
    index.initIndex(cfg.n, cfg.m, cfg.efConstruct, 100)
    for (const [from, to] of cfg.layout.batches) {
      const rows = base.rows(from, to)
      for (let i = from; i < to; i++) {
        index.addPoint(Array.from(rows.subarray((i - from) * cfg.dim, (i - from + 1) * cfg.dim)), i)
        if ((i + 1) % 20_000 === 0) log(`${cfg.engine}: ${(i + 1).toLocaleString('en-US')} added`)
      }
    }
    out.buildMs = performance.now() - started
    peak.stop()
    out.rssPeakBytes = peak.peak()
    out.rssSteadyBytes = await settledRss()
    const file = join(cfg.workDir, 'hnswlib.bin')
    await mkdir(cfg.workDir, { recursive: true })
    const p0 = performance.now()
    index.writeIndexSync(file)
    out.persistMs = performance.now() - p0
    index = undefined
    base.release()
    base = undefined
    out.rssAfterCloseBytes = await settledRss()
    out.diskBytes = statSync(file).size
    const t0 = performance.now()
    index = new lib.HierarchicalNSW(space, cfg.dim)
    index.readIndexSync(file)
    out.reopenMs = performance.now() - t0
    index.setEf(cfg.efs[0] ?? 64)
    index.searchKnn(Array.from(q0), cfg.k)
    out.reopenFirstQueryMs = performance.now() - t0
    out.rssAfterReopenBytes = await settledRss()
    out.notes = [`space ${space}; single-threaded addPoint; close = writeIndexSync, reopen = readIndexSync`]
  }
  return out
}

/**
 * The fresh-process child: RSS baseline (module loaded, queries and truth read), open the index the
 * build child left, every timed query, RSS after the open and after the queries.
 * @param {ChildConfig} cfg
 */
async function reopenChild(cfg) {
  const queries = await childQueries(cfg)
  const truthAll = new Int32Array(Uint8Array.prototype.slice.call(readFileSync(cfg.truthPath)).buffer)
  const truth = (/** @type {number} */ qi) => truthAll.subarray(qi * cfg.k, (qi + 1) * cfg.k)
  const query = (/** @type {number} */ qi) => queries.subarray(qi * cfg.dim, (qi + 1) * cfg.dim)
  const { engineModule, hnswlib } = await loadEngine(cfg.engine)
  const rssBaseline = await settledRss()
  const peak = peakTracker()
  /** @type {Point[]} */
  const points = []
  /** @type {Record<string, unknown>} */
  const out = { engine: cfg.engine, rssBaselineBytes: rssBaseline }
  const t0 = performance.now()
  if (engineModule !== null) {
    const { Quiver } = engineModule
    const db = await Quiver.open(cfg.workDir, { queryCacheBytes: 0, recallSampleRate: 0 })
    const col = await db.getCollection(COLLECTION)
    out.openMs = performance.now() - t0
    out.rssAfterOpenBytes = await settledRss()
    out.memoryAfterOpen = process.memoryUsage()
    out.stats = quiverStats(col.stats())
    out.segmentSizes = segmentSizes(col)
    for (const ef of cfg.efs) {
      for (const oversampling of cfg.oversampling) {
        const options = { limit: cfg.k, ef, quantization: { rescore: true, oversampling } }
        const r = await measure(
          cfg.nq,
          async (qi) => (await col.search(query(qi), options)).map((h) => /** @type {number} */ (h.id)),
          truth,
          () => null,
          { k: cfg.k, minTimeMs: cfg.minTimeMs },
        )
        points.push({ ef, oversampling, recall: r.recall, qps: r.qps, p50Ms: r.p50Ms, p99Ms: r.p99Ms })
        log(
          `  ${cfg.engine} ef ${ef} x${oversampling}: recall ${r.recall.toFixed(4)}, ${Math.round(r.qps)} QPS`,
        )
      }
    }
    peak.stop()
    out.rssAfterQueriesBytes = await settledRss()
    out.memoryAfterQueries = process.memoryUsage()
    out.rssPeakBytes = peak.peak()
    out.statsAfterQueries = quiverStats(col.stats())
    await db.close()
  } else {
    const lib = /** @type {{ lib: any, version: string }} */ (hnswlib).lib
    const index = new lib.HierarchicalNSW(cfg.metric === 'Cosine' ? 'cosine' : 'l2', cfg.dim)
    index.readIndexSync(join(cfg.workDir, 'hnswlib.bin'))
    out.openMs = performance.now() - t0
    out.rssAfterOpenBytes = await settledRss()
    out.memoryAfterOpen = process.memoryUsage()
    const arrays = Array.from({ length: cfg.nq }, (_, qi) => Array.from(query(qi)))
    for (const ef of cfg.efs) {
      index.setEf(ef)
      const r = await measure(
        cfg.nq,
        (qi) => index.searchKnn(arrays[qi], cfg.k).neighbors,
        truth,
        () => null,
        { k: cfg.k, minTimeMs: cfg.minTimeMs },
      )
      points.push({ ef, oversampling: null, recall: r.recall, qps: r.qps, p50Ms: r.p50Ms, p99Ms: r.p99Ms })
      log(`  ${cfg.engine} ef ${ef}: recall ${r.recall.toFixed(4)}, ${Math.round(r.qps)} QPS`)
    }
    peak.stop()
    out.rssAfterQueriesBytes = await settledRss()
    out.memoryAfterQueries = process.memoryUsage()
    out.rssPeakBytes = peak.peak()
  }
  out.points = points
  return out
}

/** @param {import('../dist/index.js').CollectionStats} s @returns {QuiverStats} */
function quiverStats(s) {
  return {
    segmentsCount: s.segmentsCount,
    storedCount: s.storedCount,
    memoryBytes: s.memoryBytes,
    onDiskVectorBytes: s.onDiskVectorBytes,
    quantizationBytes: s.quantizationBytes ?? 0,
  }
}

/**
 * Stored points per segment, sealed first (from the embedded collection's internals when it exposes
 * them; null otherwise: the report then shows only segmentsCount).
 * @param {unknown} col
 * @returns {number[] | null}
 */
function segmentSizes(col) {
  const segs = /** @type {any} */ (col).holder?.segments
  if (!Array.isArray(segs)) return null
  return segs.map((s) => Number(s.storedCount))
}

// ---------------------------------------------------------------------------------------------
// the parent

/**
 * Runs `--child <engine> --config <path>`; resolves with its JSON line, or `{ failed }` with the end
 * of its stderr (which is forwarded as it comes).
 * @param {string} engine
 * @param {string} configPath
 * @returns {Promise<Record<string, any>>}
 */
function spawnChild(engine, configPath) {
  return new Promise((resolvePromise) => {
    const child = spawn(
      process.execPath,
      ['--expose-gc', fileURLToPath(import.meta.url), '--child', engine, '--config', configPath],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => {
      out += d
    })
    child.stderr.on('data', (d) => {
      process.stderr.write(d)
      err = (err + d).slice(-2000)
    })
    child.once('error', (e) => resolvePromise({ engine, failed: e.message }))
    child.once('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0) {
        try {
          resolvePromise(JSON.parse(line))
          return
        } catch {}
      }
      resolvePromise({ engine, failed: `exit ${code}: ${err.trim().split('\n').slice(-6).join(' | ')}` })
    })
  })
}

/**
 * @typedef {object} Options
 * @property {string} dataset
 * @property {string | undefined} datasetsDir
 * @property {number | undefined} limit
 * @property {number | undefined} queries
 * @property {number} k
 * @property {number[]} ef
 * @property {number[]} oversampling
 * @property {number} m
 * @property {number} efConstruct
 * @property {string} quantization
 * @property {number} segments
 * @property {number} tail
 * @property {number} batch
 * @property {number} minTime
 * @property {string[]} engines
 * @property {string} out
 * @property {number | undefined} synthetic base rows of synthetic data (instead of the dataset)
 * @property {number | undefined} dim synthetic: dimension (default 1024)
 * @property {'cosine' | 'euclid' | undefined} metric synthetic: metric (default cosine)
 * @property {number | undefined} clusters synthetic: clusters (default 100)
 * @property {string | undefined} cacheDir synthetic: where the row and truth files are cached
 */

/**
 * @typedef {object} DataInfo what the report says about the data
 * @property {string} name
 * @property {number} n
 * @property {number} totalN
 * @property {number} dim
 * @property {string} metric a Distance (`Cosine`, `Euclid`)
 * @property {number} queries
 * @property {SyntheticInfo} [synthetic] set for `--synthetic`
 *
 * @typedef {object} SyntheticInfo
 * @property {string} generator
 * @property {typeof SEEDS} seeds
 * @property {number} clusters
 * @property {number} latent
 * @property {number} noise
 * @property {string} tag the cache tag of the row files
 * @property {string} cacheDir
 *
 * @typedef {object} DataSource
 * @property {DataInfo} info
 * @property {string} datasetsDir
 * @property {{ basePath: string, queryPath: string } | null} synthetic
 * @property {(work: string) => Promise<{ truthPath: string, source: string }>} truth the nq x k int32
 *   truth file (computed when needed; a real dataset's goes to the work directory)
 */

/**
 * The real dataset, loaded here for its sizes and ground truth (each child loads it again).
 * @param {Options} opts
 * @returns {Promise<DataSource>}
 */
async function datasetSource(opts) {
  const datasetsDir = resolveDatasetsDir(opts.datasetsDir)
  const ds = await loadDataset(
    opts.dataset,
    datasetsDir,
    opts.limit === undefined ? {} : { limit: opts.limit },
  )
  const nq = Math.min(opts.queries ?? ds.q, ds.q)
  if (opts.k > ds.n) throw new InvalidArgumentError(`--k ${opts.k} exceeds the ${ds.n} base points`)
  return {
    info: { name: ds.name, n: ds.n, totalN: ds.totalN, dim: ds.dim, metric: ds.metric, queries: nq },
    datasetsDir,
    synthetic: null,
    truth: async (work) => {
      const gt = groundTruth(ds, nq, opts.k)
      const truthPath = join(work, 'truth.i32')
      writeFileSync(truthPath, new Uint8Array(gt.truth.buffer))
      return { truthPath, source: gt.source }
    },
  }
}

/**
 * `--synthetic N`: N base rows and the queries of bench/lib/synthetic.mjs's clustered generator,
 * written to the cache directory unless there already, and their exact truth (cached as well).
 * @param {Options} opts
 * @returns {Promise<DataSource>}
 */
async function syntheticSource(opts) {
  const n = /** @type {number} */ (opts.synthetic)
  const dim = opts.dim ?? 1024
  const metric = opts.metric ?? 'cosine'
  const clusters = opts.clusters ?? 100
  const nq = opts.queries ?? 1000
  if (opts.k > n) throw new InvalidArgumentError(`--k ${opts.k} exceeds the ${n} base points`)
  const cacheDir = resolve(opts.cacheDir ?? join(tmpdir(), 'quiver-scale-cache'))
  await mkdir(cacheDir, { recursive: true })
  const { basePath, queryPath, tag } = ensureData(cacheDir, n, nq, dim, clusters)
  const truthMetric = metric === 'cosine' ? 'cosine' : 'l2'
  return {
    info: {
      name: `synthetic ${tag}`,
      n,
      totalN: n,
      dim,
      metric: metric === 'cosine' ? 'Cosine' : 'Euclid',
      queries: nq,
      synthetic: {
        generator: describeGenerator(dim, clusters),
        seeds: SEEDS,
        clusters,
        latent: LATENT,
        noise: NOISE,
        tag,
        cacheDir,
      },
    },
    datasetsDir: '',
    synthetic: { basePath, queryPath },
    truth: async () => {
      const truthPath = await ensureTruth({
        dir: cacheDir,
        tag,
        basePath,
        queries: readFloats(queryPath, nq * dim),
        dim,
        n,
        k: opts.k,
        metric: truthMetric,
        label: 'on-disk',
      })
      return {
        truthPath,
        source: `exact brute force in float64 over all ${n.toLocaleString('en-US')} base rows (${truthMetric === 'cosine' ? '1 - cos' : 'squared L2'}; cached in ${truthPath})`,
      }
    },
  }
}

/** @param {Options} opts @param {string} command */
async function run(opts, command) {
  const source = opts.synthetic === undefined ? await datasetSource(opts) : await syntheticSource(opts)
  const ds = source.info
  const nq = ds.queries
  const k = opts.k
  const paddedDim = Math.ceil(ds.dim / 4) * 4
  const plan = segmentPlan(ds.n, ds.dim, opts.batch, opts.segments, opts.tail)
  log(
    `== ${ds.name}: ${ds.n} x ${ds.dim} (${ds.metric}), ${nq} queries, k = ${k}, ${opts.quantization}; ` +
      `maxSegmentSize ${plan.maxSegmentSize} KiB, expected segments ${plan.expectedSegments.join(' + ')}`,
  )
  const work = await mkdtemp(join(tmpdir(), 'quiver-on-disk-'))
  /** @type {Record<string, any>[]} */
  const results = []
  /** @type {string} */
  let truthSource
  try {
    const gt = await source.truth(work)
    const truthPath = gt.truthPath
    truthSource = gt.source
    for (const engine of opts.engines) {
      if (engine === 'hnswlib-node') {
        const loaded = loadHnswlib()
        if ('reason' in loaded) {
          results.push({ engine, skipped: `not installed (npm run bench:setup): ${loaded.reason}` })
          log(`${engine}: skipped (${loaded.reason})`)
          continue
        }
      }
      /** @type {ChildConfig} */
      const cfg = {
        engine,
        dataset: source.synthetic === null ? opts.dataset : ds.name,
        datasetsDir: source.datasetsDir,
        limit: source.synthetic === null ? opts.limit : undefined,
        synthetic: source.synthetic,
        n: ds.n,
        dim: ds.dim,
        metric: ds.metric,
        nq,
        k,
        m: opts.m,
        efConstruct: opts.efConstruct,
        efs: opts.ef,
        oversampling: opts.oversampling,
        quantization: opts.quantization,
        layout: {
          maxSegmentSize: plan.maxSegmentSize,
          defaultSegmentNumber: opts.segments + 1,
          batches: plan.batches,
        },
        minTimeMs: opts.minTime * 1000,
        truthPath,
        workDir: join(work, engine),
      }
      const cfgPath = join(work, `${engine}.json`)
      writeFileSync(cfgPath, JSON.stringify(cfg))
      log(`on-disk: ${engine}: build`)
      const built = await spawnChild(engine, cfgPath)
      /** @type {Record<string, any>} */
      let fresh = { failed: 'the build failed' }
      if (built.failed === undefined) {
        log(`on-disk: ${engine}: fresh process, open + queries`)
        fresh = await spawnChild(`${engine}-reopen`, cfgPath)
      }
      results.push({ engine, build: built, fresh })
      await rm(cfg.workDir, { recursive: true, force: true })
    }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    command,
    dataset: {
      name: ds.name,
      n: ds.n,
      totalN: ds.totalN,
      dim: ds.dim,
      paddedDim,
      metric: ds.metric,
      queries: nq,
      ...(ds.synthetic === undefined ? {} : { synthetic: ds.synthetic }),
    },
    params: {
      k,
      ef: opts.ef,
      oversampling: opts.oversampling,
      m: opts.m,
      efConstruct: opts.efConstruct,
      quantization: /** @type {QuantizationConfig} */ (QUANTIZATION[opts.quantization]),
      batch: opts.batch,
      minTimeS: opts.minTime,
      maxSegmentSizeKiB: plan.maxSegmentSize,
      defaultSegmentNumber: opts.segments + 1,
      expectedSegments: plan.expectedSegments,
      tail: plan.tail,
    },
    groundTruth: truthSource,
    results,
  }
}

/** @param {number | null | undefined} b */
const mib = (b) => (b === null || b === undefined || !Number.isFinite(b) ? '–' : (b / MiB).toFixed(1))
/** @param {number | null} q */
const fmtQps = (q) => (q === null ? 'not reached' : Math.round(q).toLocaleString('en-US'))
/** @param {number | null | undefined} ms */
const secs = (ms) => (ms === null || ms === undefined ? '–' : (ms / 1000).toFixed(2))

/**
 * Derived figures of one engine's result.
 * @param {Record<string, any>} r
 * @param {{ n: number, dim: number, paddedDim: number }} d
 */
function derive(r, d) {
  const b = r.build ?? {}
  const f = r.fresh ?? {}
  const stats = /** @type {QuiverStats | undefined} */ (f.stats ?? b.stats)
  const onDiskPoints = stats === undefined ? 0 : stats.onDiskVectorBytes / (d.paddedDim * 4)
  const freshGrowth =
    f.rssAfterQueriesBytes === undefined ? null : f.rssAfterQueriesBytes - f.rssBaselineBytes
  return {
    steadyGrowth: b.rssSteadyBytes - b.rssBeforeBytes,
    peakGrowth: b.rssPeakBytes - b.rssBeforeBytes,
    sameChildReopenGrowth: b.rssAfterReopenBytes - b.rssBaselineBytes,
    freshOpenGrowth: f.rssAfterOpenBytes === undefined ? null : f.rssAfterOpenBytes - f.rssBaselineBytes,
    freshGrowth,
    bytesPerPoint: freshGrowth === null ? null : freshGrowth / d.n,
    pointsInRam: stats === undefined ? null : stats.storedCount - onDiskPoints,
    stats,
    points: /** @type {Point[]} */ (f.points ?? []),
  }
}

/** @param {Awaited<ReturnType<typeof run>>} r */
function markdown(r) {
  const d = r.dataset
  const p = r.params
  const q = p.quantization
  const qName =
    q === null ? 'no quantization (on disk: int8 codes of its own)' : 'scalar' in q ? 'scalar int8' : 'binary'
  const syn = d.synthetic
  const lines = [
    syn === undefined
      ? `# Vectors on disk: ${d.name}, ${qName}`
      : `# Vectors on disk: synthetic clustered data (seeds ${syn.seeds.model} / ${syn.seeds.base} / ${syn.seeds.queries}), ${d.n.toLocaleString('en-US')} x ${d.dim}, ${d.metric}, ${qName}`,
    '',
    ...(syn === undefined
      ? []
      : [
          `- synthetic data, not a dataset: ${syn.generator}; ${d.n.toLocaleString('en-US')} base rows x ${d.dim}, ${d.queries} queries, metric ${d.metric}; row files ${syn.tag}.{base,query}.f32 in ${syn.cacheDir}, streamed to the engines in upsert batches`,
        ]),
    `- ${d.n.toLocaleString('en-US')} x ${d.dim} (${d.metric}), ${d.queries} queries, recall@${p.k} against ${r.groundTruth}`,
    `- HNSW m = ${p.m}, ef_construct = ${p.efConstruct}; Quiver quantization ${JSON.stringify(q)}; optimizers maxSegmentSize ${p.maxSegmentSizeKiB} KiB, defaultSegmentNumber ${p.defaultSegmentNumber}; upserts of ${p.batch} laid out as segments of ${p.expectedSegments.join(' + ')} points (the last batch, ${p.tail} points, seals the last full segment and stays in the appendable one)`,
    `- machine: ${JSON.stringify(r.machine)}`,
    `- command: \`${r.command}\``,
    `- date: ${r.date}`,
    '- each engine in child processes of its own, one after another: the build process (build, persist, close, reopen in the same process), then a fresh process that only opens the directory / index file and runs every timed query; one query at a time, timed for at least ' +
      `${p.minTimeS} s per operating point; Quiver searches with \`quantization: { rescore: true, oversampling }\`, the query cache and recall sampler off`,
    `- RSS growth: build = steady RSS after the build (persisted, optimizers idle, after GC) minus RSS before it (${syn === undefined ? 'dataset loaded' : 'synthetic: the base row file opened and one batch buffer; the base is never loaded whole'}); peak = the kernel's VmHWM during the build minus the same; same-process reopen = RSS after close, dropping the dataset and reopening minus RSS before the dataset was loaded; fresh process = RSS after the open (and after all timed queries, GC) minus that process's baseline (engine module loaded, queries read). Vector-file reads are positioned reads: the OS page cache holding them is not in RSS (and is warm: the file was just written)`,
    `- Quiver's core pool: ${process.env.QUIVER_THREADS === undefined ? 'default threads (one per core)' : `QUIVER_THREADS=${process.env.QUIVER_THREADS}`}; it builds with addBatch and, in the fresh process, runs the searches it does not inline (ef > 128): its worker threads are in the build process's figures and in "open + queries" once such a query ran`,
    '',
    '| engine | build s | persist s | RSS before build MiB | build growth MiB | peak growth MiB | same-process reopen growth MiB | fresh: open MiB | fresh: open + queries MiB | bytes / point | disk MiB | vectors on disk MiB | points in RAM | segments | WASM memory MiB | open s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ]
  /** @type {Record<string, ReturnType<typeof derive>>} */
  const derived = {}
  for (const res of r.results) {
    if (res.skipped !== undefined) {
      lines.push(`| ${res.engine} | skipped: ${res.skipped} |`)
      continue
    }
    if (res.build.failed !== undefined || res.fresh.failed !== undefined) {
      lines.push(
        `| ${res.engine} | failed: ${String(res.build.failed ?? res.fresh.failed).replaceAll('|', '/')} |`,
      )
      continue
    }
    const x = derive(res, d)
    derived[res.engine] = x
    const b = res.build
    const ram =
      x.pointsInRam === null
        ? '–'
        : `${Math.round(x.pointsInRam).toLocaleString('en-US')} (${((100 * x.pointsInRam) / d.n).toFixed(1)} %)`
    lines.push(
      `| ${res.engine} | ${secs(b.buildMs)} | ${secs(b.persistMs)} | ${mib(b.rssBeforeBytes)} | ${mib(x.steadyGrowth)} | ${mib(x.peakGrowth)} | ${mib(x.sameChildReopenGrowth)} | ${mib(x.freshOpenGrowth)} | ${mib(x.freshGrowth)} | ${x.bytesPerPoint === null ? '–' : Math.round(x.bytesPerPoint)} | ${mib(b.diskBytes)} | ${x.stats === undefined ? '–' : mib(x.stats.onDiskVectorBytes)} | ${x.stats === undefined ? 'all' : ram} | ${x.stats === undefined ? '–' : x.stats.segmentsCount} | ${x.stats === undefined ? '–' : mib(x.stats.memoryBytes)} | ${secs(res.fresh.openMs)} |`,
    )
  }
  const float32Bytes = d.n * d.dim * 4
  lines.push('', `float32 vectors: ${mib(float32Bytes)} MiB (n x dim x 4).`, '')
  // ratio lines
  const disk = derived['quiver-disk']
  const ram = derived['quiver-ram']
  const hnsw = derived['hnswlib-node']
  const ratio = (/** @type {number | null | undefined} */ a, /** @type {number | null | undefined} */ b) =>
    a === null || a === undefined || b === null || b === undefined || b === 0 ? null : a / b
  const fmtRatio = (/** @type {number | null} */ x) => (x === null ? '–' : x.toFixed(2))
  const verdict = (/** @type {number | null} */ x, /** @type {(v: number) => boolean} */ ok) =>
    x === null ? 'n/a' : ok(x) ? 'PASS' : 'FAIL'
  const ratios = {}
  if (disk !== undefined && hnsw !== undefined) {
    const x = ratio(disk.freshGrowth, hnsw.freshGrowth)
    const open = ratio(disk.freshOpenGrowth, hnsw.freshOpenGrowth)
    const build = ratio(disk.steadyGrowth, hnsw.steadyGrowth)
    Object.assign(ratios, { diskVsHnswlibRss: x, diskVsHnswlibRssOpen: open, diskVsHnswlibRssBuild: build })
    lines.push(
      `- RSS growth, fresh process after open + queries, quiver-disk / hnswlib-node: **${fmtRatio(x)}** (${mib(disk.freshGrowth)} / ${mib(hnsw.freshGrowth)} MiB; goal <= 0.5: ${verdict(x, (v) => v <= 0.5)}); after the open only ${fmtRatio(open)}; steady after the build (build process, Quiver's core pool threads included) ${fmtRatio(build)}`,
    )
  }
  if (disk !== undefined && ram !== undefined) {
    const best = (/** @type {Point[]} */ pts) => Math.max(...pts.map((pt) => pt.recall))
    const reach = Math.min(best(disk.points), best(ram.points))
    const target = Math.min(reach, 0.95)
    const qd = qpsAtRecall(disk.points, target)
    const qr = qpsAtRecall(ram.points, target)
    const x = ratio(qd, qr)
    Object.assign(ratios, { diskVsRamQps: x, diskVsRamQpsAtRecall: target })
    lines.push(
      `- QPS at recall@${p.k} ${target.toFixed(4)}${target < 0.95 ? ' (the best both reach; 0.95 not reached)' : ''}, quiver-disk / quiver-ram: **${fmtRatio(x)}** (${fmtQps(qd)} / ${fmtQps(qr)}; goal >= 0.7: ${verdict(x, (v) => v >= 0.7)})`,
    )
  }
  if (disk !== undefined) {
    const x = ratio(disk.freshGrowth, float32Bytes)
    Object.assign(ratios, { diskRssVsFloat32: x })
    const applies = q !== null && 'binary' in q && d.dim >= 1024
    lines.push(
      `- quiver-disk RSS growth (fresh process) / float32 bytes of the vectors: **${fmtRatio(x)}** (goal <= 0.15 for binary on 1024-d${applies ? `: ${verdict(x, (v) => v <= 0.15)}` : '; not this run'})`,
    )
  }
  for (const res of r.results) {
    if (derived[res.engine] === undefined) continue
    const notes = /** @type {string[]} */ (res.build.notes ?? [])
    lines.push(
      '',
      `**${res.engine}** ${res.build.version ? `${res.build.version} ` : ''}(${notes.join('; ')}; reopen in the build process ${secs(res.build.reopenMs)} s, + first query ${secs(res.build.reopenFirstQueryMs)} s${res.build.segmentSizes ? `; segments after the build: ${res.build.segmentSizes.join(' + ')} stored points` : ''})`,
      '',
      `| ef | oversampling | recall@${p.k} | QPS | p50 ms | p99 ms |`,
      '| ---: | ---: | ---: | ---: | ---: | ---: |',
    )
    for (const pt of /** @type {Point[]} */ (res.fresh.points)) {
      lines.push(
        `| ${pt.ef} | ${pt.oversampling ?? '–'} | ${pt.recall.toFixed(4)} | ${Math.round(pt.qps).toLocaleString('en-US')} | ${pt.p50Ms.toFixed(3)} | ${pt.p99Ms.toFixed(3)} |`,
      )
    }
  }
  return { md: `${lines.join('\n')}\n`, ratios }
}

/** @param {string} name camelCase option name -> its flag's kebab-case */
const kebab = (name) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

async function main() {
  const program = new Command()
    .name('bench:on-disk')
    .description(
      'onDisk vectors: a quantized Quiver collection with its float32 vectors on disk, the same in RAM, and hnswlib-node: RSS, build, recall / QPS, disk',
    )
    .option('--dataset <name>', 'dataset name in the datasets directory', 'glove-100-cosine')
    .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
    .option('--limit <n>', 'use only the first N base vectors (ground truth by brute force)', positiveInt)
    .option(
      '--synthetic <n>',
      'instead of a dataset: N clustered synthetic base rows (bench/lib/synthetic.mjs; cached with their exact truth)',
      positiveInt,
    )
    .option('--dim <d>', 'synthetic: dimension (default 1024)', positiveInt)
    .option('--metric <metric>', 'synthetic: cosine or euclid (default cosine)', syntheticMetric)
    .option('--clusters <n>', 'synthetic: Gaussian clusters (default 100)', positiveInt)
    .option(
      '--cache-dir <dir>',
      'synthetic: where the row files and their ground truth are cached (default $TMPDIR/quiver-scale-cache, shared with bench/scale.mjs)',
    )
    .option('--queries <n>', 'first N queries (default: all; synthetic: 1000)', positiveInt)
    .option('--k <n>', 'hits per query (recall@k)', positiveInt, 10)
    .option('--ef <list>', 'query-time ef values, comma-separated', intList, [32, 64, 128, 256])
    .option(
      '--oversampling <list>',
      "oversampling factors of Quiver's rescored searches, comma-separated",
      oversamplingList,
      [1, 2, 4],
    )
    .option('--m <n>', 'HNSW M (every engine)', positiveInt, 16)
    .option('--ef-construct <n>', 'HNSW ef_construction (every engine)', positiveInt, 200)
    .option('--quantization <kind>', 'scalar (int8), binary or none', quantizationName, 'scalar')
    .option('--segments <n>', 'sealed segments the base is split into', positiveInt, 2)
    .option(
      '--tail <n>',
      'points of the last upsert batch, which seals the last full segment and stays in RAM (at least what the sealing rule needs)',
      positiveInt,
      1,
    )
    .option('--batch <n>', 'upsert batch size', positiveInt, 1000)
    .option('--min-time <s>', 'timed seconds per operating point, at least', positiveNumber, 1)
    .option('--engines <list>', `comma-separated from ${ENGINES.join(', ')}`, engineList, ENGINES)
    .option(
      '--out <path>',
      'Markdown report (JSON beside it, .json)',
      join(REPO_ROOT, 'bench', 'results', 'on-disk.md'),
    )
    .option('--child <engine>', 'internal: run one engine in this process')
    .option('--config <path>', 'internal: the child config file')
    .parse()
  const opts = program.opts()
  if (opts.child !== undefined) {
    const cfg = /** @type {ChildConfig} */ (JSON.parse(readFileSync(opts.config, 'utf8')))
    const engine = String(opts.child)
    const result = engine.endsWith('-reopen')
      ? await reopenChild({ ...cfg, engine: engine.slice(0, -'-reopen'.length) })
      : await buildChild({ ...cfg, engine })
    process.stdout.write(`${JSON.stringify(result)}\n`)
    return
  }
  const options = /** @type {Options} */ (opts)
  const fromCli = (/** @type {string} */ name) => program.getOptionValueSource(name) === 'cli'
  const clash =
    options.synthetic === undefined
      ? ['dim', 'metric', 'clusters', 'cacheDir']
          .filter(fromCli)
          .map((o) => `--${kebab(o)} needs --synthetic`)
      : ['dataset', 'datasetsDir', 'limit']
          .filter(fromCli)
          .map((o) => `--${kebab(o)} does not go with --synthetic`)
  if (clash.length > 0) program.error(`error: ${clash.join('; ')}`)
  const command = [
    'node',
    relative(process.cwd(), fileURLToPath(import.meta.url)),
    ...process.argv.slice(2),
  ].join(' ')
  const report = await run(options, command)
  const { md, ratios } = markdown(report)
  const out = resolve(options.out)
  await mkdir(dirname(out), { recursive: true })
  const jsonPath = `${out.replace(/\.md$/, '')}.json`
  await writeFile(jsonPath, `${JSON.stringify({ ...report, ratios }, null, 2)}\n`)
  await writeFile(out, md)
  process.stdout.write(md)
  log(`wrote ${out} and ${jsonPath}`)
}

main().catch((err) => {
  process.stderr.write(
    `bench:on-disk failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
