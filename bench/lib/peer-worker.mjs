// @ts-check
// One engine of the peer benchmark (bench/run.mjs) in its own process: builds the index, measures
// the RSS growth of the build, sweeps ef, and prints one JSON line (WorkerResult) on stdout.
// Usage: node --expose-gc bench/lib/peer-worker.mjs <quiver|hnswlib-node|usearch|orama> <config.json>
import { readFile, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { loadDataset } from '../../dist/cli/datasets.js'
import { buildHnswlib, buildQuiver, loadHnswlib, loadPeer } from './engines.mjs'
import { measure } from './timing.mjs'

/**
 * What the parent hands every worker (written to a JSON file).
 * @typedef {object} WorkerConfig
 * @property {string} dataset
 * @property {string} datasetsDir
 * @property {number | null} limit first base rows only (null: all)
 * @property {number} queries first queries used
 * @property {number} oramaQueries queries for the brute-force peer
 * @property {number} k
 * @property {number} m
 * @property {number} efConstruct
 * @property {number[]} efs
 * @property {number[]} nprobes
 * @property {number} minTimeS
 * @property {number} batch Quiver upsert batch
 * @property {string} truthPath raw int32 `queries x k`, nearest first
 * @property {string} tmpDir scratch directory of this run
 * @property {'cosine' | 'l2'} metric
 */

/**
 * @typedef {{ param: number, recall: number, qps: number, p50Ms: number, p99Ms: number, passes: number, queries: number }} SweepPoint
 * @typedef {{ label: string, engine: string, param: 'ef' | 'nprobe' | 'none', points: SweepPoint[], note?: string }} Curve
 * @typedef {{ label: string, buildMs: number, vectorsPerSecond: number, rssBeforeBytes: number, rssAfterBytes: number, note?: string }} Build
 * @typedef {{ engine: string, state: 'ok', version: string, builds: Build[], curves: Curve[], notes: string[] } | { engine: string, state: 'skipped', reason: string }} WorkerResult
 */

/** @param {string} msg */
const log = (msg) => process.stderr.write(`${msg}\n`)

const gc = /** @type {(() => void) | undefined} */ (/** @type {any} */ (globalThis).gc)

function rss() {
  gc?.()
  return process.memoryUsage().rss
}

/**
 * Sweeps `params`, measuring `makeSearch(param)` over the first `nq` queries.
 * @param {number[]} params
 * @param {number} nq
 * @param {(param: number) => Promise<(qi: number) => number[] | Promise<number[]>>} makeSearch
 * @param {(qi: number) => ArrayLike<number>} truth
 * @param {WorkerConfig} cfg
 * @param {string} label
 * @param {number} [maxPasses]
 * @returns {Promise<SweepPoint[]>}
 */
async function sweep(params, nq, makeSearch, truth, cfg, label, maxPasses) {
  /** @type {SweepPoint[]} */
  const points = []
  for (const param of params) {
    const search = await makeSearch(param)
    const opts = { k: cfg.k, minTimeMs: cfg.minTimeS * 1000 }
    const m = await measure(
      nq,
      search,
      truth,
      () => null,
      maxPasses === undefined ? opts : { ...opts, maxPasses },
    )
    log(`  ${label} ${param}: recall ${m.recall.toFixed(4)}, ${Math.round(m.qps)} QPS`)
    points.push({
      param,
      recall: m.recall,
      qps: m.qps,
      p50Ms: m.p50Ms,
      p99Ms: m.p99Ms,
      passes: m.passes,
      queries: m.queries,
    })
  }
  return points
}

/**
 * @param {string} label
 * @param {number} n
 * @param {number} buildMs
 * @param {number} before
 * @param {number} after
 * @returns {Build}
 */
function buildRow(label, n, buildMs, before, after) {
  return {
    label,
    buildMs,
    vectorsPerSecond: n / (buildMs / 1000),
    rssBeforeBytes: before,
    rssAfterBytes: after,
  }
}

/**
 * @typedef {object} Ctx
 * @property {WorkerConfig} cfg
 * @property {import('../../dist/cli/datasets.js').Dataset} ds
 * @property {number} nq
 * @property {(qi: number) => Float32Array} query
 * @property {(qi: number) => ArrayLike<number>} truth
 */

/**
 * A Quiver collection of the dataset's base vectors, no payloads (HNSW, or IVF with `ivf`).
 * @param {WorkerConfig} cfg
 * @param {import('../../dist/cli/datasets.js').Dataset} ds
 * @param {string} dataDir
 * @param {{ nlist: number }} [ivf]
 */
function buildPlain(cfg, ds, dataDir, ivf) {
  return buildQuiver(dataDir, {
    base: ds.base,
    n: ds.n,
    dim: ds.dim,
    metric: cfg.metric,
    m: cfg.m,
    efConstruct: cfg.efConstruct,
    quiet: false,
    payloads: null,
    indexes: {},
    useIndexes: false,
    batch: cfg.batch,
    ...(ivf ? { ivf } : {}),
  })
}

/**
 * Quiver: embedded API build and `collection.search`, plus the same segments searched through
 * their HnswIndex directly (curve `quiver (index)`), which shows the embedded API's overhead.
 * @param {Ctx} ctx
 * @returns {Promise<WorkerResult>}
 */
async function runQuiver({ cfg, ds, nq, query, truth }) {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  const dataDir = join(cfg.tmpDir, 'quiver-data')
  const before = rss()
  const q = await buildPlain(cfg, ds, dataDir)
  try {
    const col = /** @type {any} */ (q.col)
    if (typeof col.waitForOptimizers === 'function') await col.waitForOptimizers()
    const after = rss()
    const build = buildRow('quiver', ds.n, q.buildMs, before, after)
    log(`quiver: built in ${(q.buildMs / 1000).toFixed(1)} s`)
    const k = cfg.k
    const notes = []
    /** @type {any[] | undefined} */
    const segments = col.holder?.segments
    const live = segments?.filter((s) => s.index?.size > 0) ?? []
    const withRaw = live.length > 0 && live.every((s) => Array.isArray(s.ids))
    notes.push(
      withRaw
        ? `quiver (index): HnswIndex.search on the ${live.length} segment(s) of the same collection, measured right after quiver at each ef`
        : 'quiver (index) skipped: this build of dist/ does not expose segment indexes',
    )
    /** @type {SweepPoint[]} */
    const apiPoints = []
    /** @type {SweepPoint[]} */
    const rawPoints = []
    for (const ef of cfg.efs) {
      const api = await sweep(
        [ef],
        nq,
        async () => async (qi) => {
          const hits = await q.col.search(query(qi), { limit: k, ef })
          return hits.map((h) => /** @type {number} */ (h.id))
        },
        truth,
        cfg,
        'quiver ef',
      )
      apiPoints.push(...api)
      if (withRaw) {
        rawPoints.push(
          ...(await sweep(
            [ef],
            nq,
            async () => rawSearch(live, k, ef, query),
            truth,
            cfg,
            'quiver (index) ef',
          )),
        )
      }
    }
    /** @type {Curve[]} */
    const curves = [
      {
        label: 'quiver',
        engine: 'quiver',
        param: 'ef',
        note: 'collection.search (embedded API)',
        points: apiPoints,
      },
    ]
    if (withRaw) {
      curves.push({
        label: 'quiver (index)',
        engine: 'quiver',
        param: 'ef',
        note: `segment.index.search (raw HnswIndex, ${live.length} segment(s))`,
        points: rawPoints,
      })
    }
    return { engine: 'quiver', state: 'ok', version: String(pkg.version), builds: [build], curves, notes }
  } finally {
    await q.db.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Quiver with an IVF index (`index: { type: 'ivf', nlist }`, nlist = round(sqrt(n)) like the FAISS
 * IVF-Flat run), embedded API build and `collection.search` swept over nprobe.
 * @param {Ctx} ctx
 * @returns {Promise<WorkerResult>}
 */
async function runQuiverIvf({ cfg, ds, nq, query, truth }) {
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8'))
  const dataDir = join(cfg.tmpDir, 'quiver-ivf-data')
  const nlist = Math.max(1, Math.round(Math.sqrt(ds.n)))
  const before = rss()
  const q = await buildPlain(cfg, ds, dataDir, { nlist })
  try {
    const after = rss()
    const build = buildRow('quiver-ivf', ds.n, q.buildMs, before, after)
    log(`quiver-ivf: built in ${(q.buildMs / 1000).toFixed(1)} s`)
    const k = cfg.k
    const points = await sweep(
      cfg.nprobes.filter((p) => p <= nlist),
      nq,
      async (nprobe) => async (qi) => {
        const hits = await q.col.search(query(qi), { limit: k, nprobe })
        return hits.map((h) => /** @type {number} */ (h.id))
      },
      truth,
      cfg,
      'quiver-ivf nprobe',
    )
    return {
      engine: 'quiver-ivf',
      state: 'ok',
      version: String(pkg.version),
      builds: [build],
      curves: [
        {
          label: 'quiver-ivf',
          engine: 'quiver-ivf',
          param: 'nprobe',
          note: 'collection.search, IVF index',
          points,
        },
      ],
      notes: [
        `quiver-ivf: index { type: 'ivf', nlist: ${nlist} = round(sqrt(n)) }, k-means trained as the upserts arrive (build includes training)`,
      ],
    }
  } finally {
    await q.db.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

/**
 * Raw index search over the collection's segments: offsets mapped to ids, segments merged by
 * distance (lower is better in every HnswIndex metric).
 * @param {any[]} segments
 * @param {number} k
 * @param {number} ef
 * @param {(qi: number) => Float32Array} query
 * @returns {(qi: number) => number[]}
 */
function rawSearch(segments, k, ef, query) {
  if (segments.length === 1) {
    const seg = segments[0]
    return (qi) => {
      const hits = seg.index.search(query(qi), k, ef)
      return Array.from(hits.offsets, (o) => seg.ids[o])
    }
  }
  return (qi) => {
    /** @type {{ id: number, d: number }[]} */
    const all = []
    for (const seg of segments) {
      const hits = seg.index.search(query(qi), k, ef)
      hits.offsets.forEach((/** @type {number} */ o, /** @type {number} */ j) => {
        all.push({ id: seg.ids[o], d: hits.distances[j] })
      })
    }
    all.sort((a, b) => a.d - b.d)
    return all.slice(0, k).map((h) => h.id)
  }
}

/**
 * @param {Ctx} ctx
 * @returns {Promise<WorkerResult>}
 */
async function runHnswlib({ cfg, ds, nq, query, truth }) {
  const peer = loadHnswlib()
  if (peer.lib === null)
    return { engine: 'hnswlib-node', state: 'skipped', reason: 'reason' in peer ? peer.reason : '' }
  const before = rss()
  const { index, buildMs } = buildHnswlib(peer.lib, {
    base: ds.base,
    n: ds.n,
    dim: ds.dim,
    metric: cfg.metric,
    m: cfg.m,
    efConstruct: cfg.efConstruct,
    quiet: false,
  })
  const after = rss()
  log(`hnswlib-node: built in ${(buildMs / 1000).toFixed(1)} s`)
  const arrays = Array.from({ length: nq }, (_, i) => Array.from(query(i)))
  const points = await sweep(
    cfg.efs,
    nq,
    async (ef) => {
      index.setEf(ef)
      return (qi) => index.searchKnn(arrays[qi], cfg.k).neighbors
    },
    truth,
    cfg,
    'hnswlib-node ef',
  )
  return {
    engine: 'hnswlib-node',
    state: 'ok',
    version: 'version' in peer ? peer.version : '',
    builds: [buildRow('hnswlib-node', ds.n, buildMs, before, after)],
    curves: [{ label: 'hnswlib-node', engine: 'hnswlib-node', param: 'ef', points }],
    notes: ['hnswlib-node: queries passed as number[] (converted before timing); single-threaded addPoint'],
  }
}

/**
 * usearch: one batch `add` with threads = 1, then per ef the saved index loaded into an Index
 * created with `expansion_search = ef` (the JS binding cannot change it on a live index).
 * @param {Ctx} ctx
 * @returns {Promise<WorkerResult>}
 */
async function runUsearch({ cfg, ds, nq, query, truth }) {
  const peer = await loadPeer('usearch')
  if (peer.lib === null)
    return { engine: 'usearch', state: 'skipped', reason: 'reason' in peer ? peer.reason : '' }
  const { Index } = peer.lib
  const metric = cfg.metric === 'cosine' ? 'cos' : 'l2sq'
  /** @param {number} ef */
  const make = (ef) =>
    new Index({
      metric,
      dimensions: ds.dim,
      connectivity: cfg.m,
      expansion_add: cfg.efConstruct,
      expansion_search: ef,
    })
  const before = rss()
  const t0 = performance.now()
  const index = make(cfg.efs[0] ?? 64)
  const keys = new BigUint64Array(ds.n)
  for (let i = 0; i < ds.n; i++) keys[i] = BigInt(i)
  index.add(keys, ds.base, 1)
  const buildMs = performance.now() - t0
  const after = rss()
  log(`usearch: built in ${(buildMs / 1000).toFixed(1)} s`)
  const file = join(cfg.tmpDir, 'usearch.index')
  index.save(file)
  try {
    const points = await sweep(
      cfg.efs,
      nq,
      async (ef) => {
        const at = make(ef)
        at.load(file)
        return (qi) => Array.from(at.search(query(qi), cfg.k, 1).keys, Number)
      },
      truth,
      cfg,
      'usearch ef',
    )
    return {
      engine: 'usearch',
      state: 'ok',
      version: 'version' in peer ? peer.version : '',
      builds: [buildRow('usearch', ds.n, buildMs, before, after)],
      curves: [{ label: 'usearch', engine: 'usearch', param: 'ef', points }],
      notes: [`usearch: metric ${metric}, f32, connectivity ${cfg.m}, add and search with threads = 1`],
    }
  } finally {
    await rm(file, { force: true })
  }
}

/**
 * Orama (pure TypeScript): vector property `vector[dim]`, exhaustive cosine search with
 * similarity threshold 0; one operating point over `oramaQueries` queries, one timed pass.
 * @param {Ctx} ctx
 * @returns {Promise<WorkerResult>}
 */
async function runOrama({ cfg, ds, nq, query, truth }) {
  const peer = await loadPeer('@orama/orama')
  if (peer.lib === null)
    return { engine: 'orama', state: 'skipped', reason: 'reason' in peer ? peer.reason : '' }
  const { create, insertMultiple, search, MODE_VECTOR_SEARCH } = peer.lib
  const before = rss()
  const t0 = performance.now()
  const db = create({ schema: { v: `vector[${ds.dim}]` } })
  for (let start = 0; start < ds.n; start += cfg.batch) {
    const docs = []
    for (let i = start; i < Math.min(ds.n, start + cfg.batch); i++) {
      docs.push({ id: String(i), v: Array.from(ds.base.subarray(i * ds.dim, (i + 1) * ds.dim)) })
    }
    await insertMultiple(db, docs, cfg.batch)
  }
  const buildMs = performance.now() - t0
  const after = rss()
  log(`orama: built in ${(buildMs / 1000).toFixed(1)} s`)
  const oq = Math.min(nq, cfg.oramaQueries)
  const arrays = Array.from({ length: oq }, (_, i) => Array.from(query(i)))
  const points = await sweep(
    [0],
    oq,
    async () => async (qi) => {
      const r = await search(db, {
        mode: MODE_VECTOR_SEARCH,
        vector: { value: arrays[qi], property: 'v' },
        similarity: 0,
        limit: cfg.k,
        includeVectors: false,
      })
      return r.hits.map((/** @type {{ id: string }} */ h) => Number(h.id))
    },
    truth,
    cfg,
    'orama',
    1,
  )
  const notes = [`orama: exhaustive vector search, ${oq} queries, one timed pass after the warm-up pass`]
  if (cfg.metric !== 'cosine')
    notes.push(
      'orama: ranks by cosine similarity only; this dataset is L2, so recall is against the L2 truth',
    )
  return {
    engine: 'orama',
    state: 'ok',
    version: 'version' in peer ? peer.version : '',
    builds: [buildRow('orama', ds.n, buildMs, before, after)],
    curves: [{ label: 'orama', engine: 'orama', param: 'none', points }],
    notes,
  }
}

const RUNNERS = {
  quiver: runQuiver,
  'quiver-ivf': runQuiverIvf,
  'hnswlib-node': runHnswlib,
  usearch: runUsearch,
  orama: runOrama,
}

async function main() {
  const [engine, cfgPath] = process.argv.slice(2)
  const runner = RUNNERS[/** @type {keyof typeof RUNNERS} */ (engine)]
  if (runner === undefined || cfgPath === undefined) {
    throw new Error(`usage: peer-worker.mjs <${Object.keys(RUNNERS).join('|')}> <config.json>`)
  }
  /** @type {WorkerConfig} */
  const cfg = JSON.parse(await readFile(cfgPath, 'utf8'))
  const ds = await loadDataset(cfg.dataset, cfg.datasetsDir, cfg.limit === null ? {} : { limit: cfg.limit })
  const raw = await readFile(cfg.truthPath)
  const truthAll = new Int32Array(new Uint8Array(raw).buffer)
  const nq = cfg.queries
  const query = (/** @type {number} */ qi) => ds.queries.subarray(qi * ds.dim, (qi + 1) * ds.dim)
  const truth = (/** @type {number} */ qi) => truthAll.subarray(qi * cfg.k, (qi + 1) * cfg.k)
  const result = await runner({ cfg, ds, nq, query, truth })
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

main().catch((err) => {
  process.stderr.write(
    `peer-worker failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
