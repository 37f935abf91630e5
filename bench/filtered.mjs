#!/usr/bin/env node
// @ts-check
// Filtered-search benchmark: Quiver's payload indexes + filter-aware planner against hnswlib-node's
// filter callback, on sigmod24's per-query predicates and a seeded selectivity sweep over glove.
// Usage: node bench/filtered.mjs --help (README.md beside this file explains the tables).
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, Option } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { buildHnswlib, buildQuiver, hnswlibSearch, loadHnswlib, quiverSearch } from './lib/engines.mjs'
import { intList, log, positiveInt, positiveNumber } from './lib/options.mjs'
import { reportMarkdown, verdict } from './lib/report.mjs'
import { measure } from './lib/timing.mjs'
import { bruteForce, topK, truthAgreement } from './lib/truth.mjs'
import {
  maskOf,
  SIGMOD_QUERY_TYPES,
  selectivityOf,
  sigmodFilter,
  sweepConditions,
  syntheticPayloads,
} from './lib/workload.mjs'

/**
 * @typedef {import('../dist/index.js').Payload} Payload
 * @typedef {import('../dist/index.js').Filter} Filter
 * @typedef {import('../dist/cli/datasets.js').Dataset} Dataset
 * @typedef {import('./lib/report.mjs').Row} Row
 */

/**
 * A set of queries measured together (one table row per ef): one sweep condition over every query,
 * or one sigmod query type over its queries. Indices are query rows.
 * @typedef {object} Group
 * @property {string} name
 * @property {string} kind
 * @property {number} expected designed selectivity (NaN when not designed)
 * @property {number[]} queries
 * @property {(qi: number) => Filter | null} filter
 * @property {(qi: number) => Uint8Array | null} mask
 * @property {(qi: number) => ((label: number) => number) | null} callback hnswlib's filter
 * @property {(qi: number) => Int32Array} truth k exact filtered neighbours, -1-padded
 */

/**
 * What a dataset brings to the run.
 * @typedef {object} Plan
 * @property {readonly Payload[]} payloads one per base row
 * @property {Record<string, 'keyword' | 'integer' | 'float'>} indexes payload indexes to create
 * @property {Group[]} groups the first one is the unfiltered baseline
 * @property {string} workload one line for the report
 * @property {{ source: string, check: string | null, agreement: number | null }} groundTruth
 * @property {boolean} ratioBar whether the QPS-ratio bar applies
 */

const SIGMOD = 'sigmod24-clip-100-euclidean'
const GLOVE = 'glove-100-cosine'
const K = 10
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/**
 * @param {Dataset} ds
 * @param {Float32Array} rows
 * @param {number} i
 */
function row(ds, rows, i) {
  return rows.subarray(i * ds.dim, (i + 1) * ds.dim)
}

/**
 * A companion file of a dataset named in its descriptor's `files` (query_meta, filtered_gt).
 * @param {string} dir
 * @param {string} name
 * @param {string} key
 * @param {string} fallback
 */
async function companionPath(dir, name, key, fallback) {
  const desc = JSON.parse(await readFile(join(dir, `${name}.json`), 'utf8'))
  const file = desc?.files?.[key]
  return join(dir, typeof file === 'string' && !file.includes('/') ? file : fallback)
}

/**
 * Runs `fn(qi, distances)` for each query with its brute-force distances to every base row.
 * @param {Dataset} ds
 * @param {number} nq
 * @param {'cosine' | 'l2'} metric
 * @param {(qi: number, dist: Float64Array) => void} fn
 */
function forEachQueryDistances(ds, nq, metric, fn) {
  const distances = bruteForce(ds.base, ds.dim, metric)
  const buf = new Float64Array(ds.n)
  const t0 = performance.now()
  for (let qi = 0; qi < nq; qi++) fn(qi, distances(row(ds, ds.queries, qi), buf))
  log(
    `ground truth: brute force over ${nq} queries x ${ds.n} rows in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  )
}

/**
 * sigmod24: the dataset's own payloads and per-query predicates, one group per query type.
 * Truth = the shipped filtered_gt.i32 (checked against brute force), or brute force when --limit
 * subsampled the base.
 * @param {Dataset} ds
 * @param {string} dir
 * @param {number} nq
 * @returns {Promise<Plan>}
 */
async function sigmodPlan(ds, dir, nq) {
  const payloads = ds.meta
  if (payloads === undefined) throw new Error(`${ds.name}: meta.jsonl is missing`)
  const metaText = await readFile(
    await companionPath(dir, ds.name, 'query_meta', `${ds.name}.query.meta.jsonl`),
    'utf8',
  )
  const qmeta = metaText
    .split('\n')
    .filter((l) => l.trim() !== '')
    .slice(0, nq)
    .map((l) => /** @type {import('./lib/workload.mjs').SigmodQueryMeta} */ (JSON.parse(l)))
  if (qmeta.length < nq) throw new Error(`${ds.name}: query.meta.jsonl has ${qmeta.length} lines, need ${nq}`)
  const filters = qmeta.map(sigmodFilter)
  const masks = filters.map((f) => (f.filter === null ? null : maskOf(payloads, f.test)))
  const callbacks = masks.map((m) => (m === null ? null : (/** @type {number} */ label) => m[label] ?? 0))

  const brute = new Int32Array(nq * K)
  forEachQueryDistances(ds, nq, 'l2', (qi, dist) => brute.set(topK(dist, masks[qi] ?? null, K), qi * K))
  /** @type {Plan['groundTruth']} */
  let groundTruth = {
    source: `brute force over the ${ds.n} loaded rows (float64)`,
    check: null,
    agreement: null,
  }
  let truthRows = brute
  let width = K
  if (ds.n === ds.totalN) {
    const path = await companionPath(dir, ds.name, 'filtered_gt', `${ds.name}.filtered_gt.i32`)
    const buf = await readFile(path)
    width = ds.gtK
    truthRows = new Int32Array(buf.buffer, buf.byteOffset, ds.q * width)
    const agreement = truthAgreement(brute, K, truthRows, width, nq, K)
    groundTruth = {
      source: 'the shipped filtered_gt.i32',
      check: `independent float64 brute force agrees on the top-${K} set of ${(agreement * 100).toFixed(1)}% of the queries`,
      agreement,
    }
  }
  const rows = truthRows
  const w = width
  const groups = SIGMOD_QUERY_TYPES.map((label, type) => ({
    name: label,
    kind: type === 0 ? 'none' : 'sigmod',
    expected: Number.NaN,
    queries: qmeta.flatMap((m, qi) => (m.query_type === type ? [qi] : [])),
    filter: (/** @type {number} */ qi) => filters[qi]?.filter ?? null,
    mask: (/** @type {number} */ qi) => masks[qi] ?? null,
    callback: (/** @type {number} */ qi) => callbacks[qi] ?? null,
    truth: (/** @type {number} */ qi) => rows.subarray(qi * w, qi * w + K),
  }))
  return {
    payloads,
    indexes: { category: 'integer', timestamp: 'float' },
    groups,
    workload:
      'the dataset payload {category, timestamp} and per-query predicates of query.meta.jsonl, one row per query type',
    groundTruth,
    ratioBar: false,
  }
}

/**
 * glove: seeded synthetic payload `{ tags, bucket }` and the selectivity sweep, every query under
 * every condition. Truth = brute force per condition (cosine, float64).
 * @param {Dataset} ds
 * @param {number} nq
 * @param {number} seed
 * @returns {Plan}
 */
function glovePlan(ds, nq, seed) {
  const payloads = syntheticPayloads(ds.n, seed)
  const conditions = sweepConditions()
  const masks = conditions.map((c) => (c.filter === null ? null : maskOf(payloads, c.test)))
  const truths = conditions.map(() => new Int32Array(nq * K))
  forEachQueryDistances(ds, nq, 'cosine', (qi, dist) => {
    for (let ci = 0; ci < conditions.length; ci++) truths[ci]?.set(topK(dist, masks[ci] ?? null, K), qi * K)
  })
  /** @type {Plan['groundTruth']} */
  const groundTruth = {
    source: 'brute force per condition over the loaded rows (float64, normalised)',
    check: null,
    agreement: null,
  }
  if (ds.n === ds.totalN && truths[0] !== undefined) {
    const agreement = truthAgreement(truths[0], K, ds.groundTruth, ds.gtK, nq, K)
    groundTruth.agreement = agreement
    groundTruth.check = `unfiltered brute force agrees with the shipped gt.i32 on the top-${K} set of ${(agreement * 100).toFixed(1)}% of the queries`
  }
  const all = Array.from({ length: nq }, (_, i) => i)
  const groups = conditions.map((c, ci) => {
    const mask = masks[ci] ?? null
    const callback = mask === null ? null : (/** @type {number} */ label) => mask[label] ?? 0
    const truth = /** @type {Int32Array} */ (truths[ci])
    return {
      name: c.name,
      kind: c.kind,
      expected: c.expected,
      queries: all,
      filter: () => c.filter,
      mask: () => mask,
      callback: () => callback,
      truth: (/** @type {number} */ qi) => truth.subarray(qi * K, (qi + 1) * K),
    }
  })
  return {
    payloads,
    indexes: { tags: 'keyword', bucket: 'integer' },
    groups,
    workload: `synthetic payload from seed ${seed}: tags (array; tag sP held independently with probability P%) and bucket (uniform integer 0..999)`,
    groundTruth,
    ratioBar: true,
  }
}

/**
 * @typedef {object} Options
 * @property {string} dataset
 * @property {string | undefined} datasetsDir
 * @property {number[] | undefined} ef
 * @property {number | undefined} queries
 * @property {number | undefined} limit
 * @property {'hnswlib-node' | 'none'} peers
 * @property {string} out
 * @property {number} minTime seconds
 * @property {number} seed
 * @property {number} m
 * @property {number} efConstruct
 * @property {number} batch
 * @property {boolean} payloadIndex
 */

/**
 * Benchmarks one dataset and returns its JSON report.
 * @param {string} name
 * @param {Options} opts
 * @param {string} command
 */
async function runDataset(name, opts, command) {
  const dir = resolveDatasetsDir(opts.datasetsDir)
  const ds = await loadDataset(name, dir, {
    withMeta: name === SIGMOD,
    ...(opts.limit === undefined ? {} : { limit: opts.limit }),
  })
  /** @type {'cosine' | 'l2'} */
  const metric = name === GLOVE ? 'cosine' : 'l2'
  const nq = Math.min(opts.queries ?? (name === GLOVE ? 200 : ds.q), ds.q)
  const efs = opts.ef ?? [64, 128]
  log(`== ${name}: ${ds.n} x ${ds.dim} (${metric}), ${nq} queries, ef ${efs.join(',')}`)
  const plan = name === SIGMOD ? await sigmodPlan(ds, dir, nq) : glovePlan(ds, nq, opts.seed)
  if (plan.groundTruth.check !== null) log(`ground truth check: ${plan.groundTruth.check}`)

  const buildInput = {
    base: ds.base,
    n: ds.n,
    dim: ds.dim,
    metric,
    m: opts.m,
    efConstruct: opts.efConstruct,
    quiet: false,
  }
  const peer = opts.peers === 'hnswlib-node' ? loadHnswlib() : { lib: null, reason: '--peers none' }
  if (peer.lib === null)
    log(`hnswlib-node: skipped (${'reason' in peer ? peer.reason : ''}; run npm run bench:setup)`)

  const dataDir = await mkdtemp(join(tmpdir(), 'quiver-bench-filtered-'))
  /** @type {Awaited<ReturnType<typeof buildQuiver>> | undefined} */
  let q
  try {
    q = await buildQuiver(dataDir, {
      ...buildInput,
      payloads: plan.payloads,
      indexes: plan.indexes,
      useIndexes: opts.payloadIndex,
      batch: opts.batch,
    })
    log(
      `quiver: built in ${(q.buildMs / 1000).toFixed(1)} s; payload indexes ${q.indexState.state}${q.indexState.error ? ` (${q.indexState.error})` : ''}`,
    )
    const hnsw = peer.lib === null ? null : buildHnswlib(peer.lib, buildInput)
    if (hnsw !== null) log(`hnswlib-node: built in ${(hnsw.buildMs / 1000).toFixed(1)} s`)

    const col = q.col
    const qVectors = Array.from({ length: nq }, (_, i) => row(ds, ds.queries, i))
    const qArrays = qVectors.map((v) => Array.from(v))
    const minTimeMs = opts.minTime * 1000
    /** @type {Row[]} */
    const rows = []
    for (const ef of efs) {
      hnsw?.index.setEf(ef)
      /** @type {{ group: Group, quiver: import('./lib/timing.mjs').Measurement, hnswlib: import('./lib/timing.mjs').Measurement | null }[]} */
      const measured = []
      for (const g of plan.groups) {
        const at = (/** @type {number} */ j) => /** @type {number} */ (g.queries[j])
        const truth = (/** @type {number} */ j) => g.truth(at(j))
        const mask = (/** @type {number} */ j) => g.mask(at(j))
        const filters = g.queries.map((qi) => g.filter(qi))
        const quiver = await measure(
          g.queries.length,
          (j) => quiverSearch(col, /** @type {Float32Array} */ (qVectors[at(j)]), K, ef, filters[j] ?? null),
          truth,
          mask,
          { k: K, minTimeMs },
        )
        let hnswlib = null
        if (hnsw !== null) {
          const callbacks = g.queries.map((qi) => g.callback(qi))
          hnswlib = await measure(
            g.queries.length,
            (j) =>
              hnswlibSearch(hnsw.index, /** @type {number[]} */ (qArrays[at(j)]), K, callbacks[j] ?? null),
            truth,
            mask,
            { k: K, minTimeMs },
          )
        }
        log(
          `[${name} ef=${ef}] ${g.name}: quiver recall ${quiver.recall.toFixed(4)} ${Math.round(quiver.qps)} QPS` +
            (hnswlib === null
              ? ''
              : ` | hnswlib recall ${hnswlib.recall.toFixed(4)} ${Math.round(hnswlib.qps)} QPS`),
        )
        measured.push({ group: g, quiver, hnswlib })
      }
      const base = measured[0]
      for (const { group: g, quiver, hnswlib } of measured) {
        const qRow = { ...quiver, ratio: quiver.qps / (base?.quiver.qps ?? Number.NaN) }
        const hRow =
          hnswlib === null ? null : { ...hnswlib, ratio: hnswlib.qps / (base?.hnswlib?.qps ?? Number.NaN) }
        const sels = g.queries.map((qi) => {
          const m = g.mask(qi)
          return m === null ? 1 : selectivityOf(m)
        })
        const sparse = g.queries.filter((qi) => g.truth(qi).includes(-1)).length
        rows.push({
          ef,
          name: g.name,
          kind: g.kind,
          expectedSelectivity: g.expected,
          selectivity: sels.reduce((a, b) => a + b, 0) / Math.max(1, sels.length),
          queries: g.queries.length,
          sparseQueries: sparse,
          quiver: qRow,
          hnswlib: hRow,
          quiverVsHnswlib: hRow === null ? null : qRow.qps / hRow.qps,
          ...verdict(qRow, plan.ratioBar && g.kind !== 'none'),
        })
      }
    }

    const info = /** @type {any} */ (await col.info())
    const failed = rows.filter((r) => !r.pass)
    return {
      date: new Date().toISOString(),
      machine: machineInfo(),
      command,
      dataset: { name, n: ds.n, totalN: ds.totalN, dim: ds.dim, metric, queries: nq },
      params: {
        m: opts.m,
        efConstruct: opts.efConstruct,
        k: K,
        ef: efs,
        minTimeS: opts.minTime,
        seed: opts.seed,
        batch: opts.batch,
      },
      workload: plan.workload,
      groundTruth: plan.groundTruth,
      baseline: plan.groups[0]?.name ?? '',
      ratioBar: plan.ratioBar,
      peers: {
        'hnswlib-node':
          peer.lib === null
            ? { state: 'skipped', reason: 'reason' in peer ? peer.reason : '' }
            : { state: 'ok', version: 'version' in peer ? peer.version : '' },
      },
      build: {
        quiver: {
          buildMs: q.buildMs,
          indexMs: q.indexMs,
          indexState: q.indexState,
          payloadSchema: info.payloadSchema ?? {},
          unindexedFilterFields: info.unindexedFilterFields ?? null,
        },
        hnswlib: hnsw === null ? null : { buildMs: hnsw.buildMs },
      },
      summary:
        failed.length === 0
          ? `all ${rows.length} rows PASS`
          : `${failed.length} of ${rows.length} rows FAIL (${failed.map((r) => `${r.name} @ ef ${r.ef}`).join(', ')})`,
      rows,
    }
  } finally {
    await q?.db.close()
    await rm(dataDir, { recursive: true, force: true })
  }
}

async function main() {
  const program = new Command()
    .name('bench:filtered')
    .description(
      'Filtered search: Quiver payload indexes vs hnswlib-node filter callback (recall@10, QPS, latency).',
    )
    .addOption(
      new Option('--dataset <name>', 'dataset to run (default: both)')
        .choices([SIGMOD, GLOVE, 'both'])
        .default('both'),
    )
    .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
    .option('--ef <list>', 'query-time ef values, comma-separated (default 64,128)', intList)
    .option('--queries <n>', 'queries per dataset (default: glove 200, sigmod all 1000)', positiveInt)
    .option('--limit <n>', 'use only the first N base vectors (ground truth by brute force)', positiveInt)
    .addOption(
      new Option('--peers <name>', 'peer engine').choices(['hnswlib-node', 'none']).default('hnswlib-node'),
    )
    .option(
      '--out <dir>',
      'where to write filtered-<dataset>.json and .md',
      join(REPO_ROOT, 'bench', 'results'),
    )
    .option('--min-time <s>', 'timed seconds per configuration, at least', positiveNumber, 1)
    .option('--seed <n>', 'seed of the synthetic glove payload', positiveInt, 42)
    .option('--m <n>', 'HNSW M (both engines)', positiveInt, 16)
    .option('--ef-construct <n>', 'HNSW ef_construction (both engines)', positiveInt, 200)
    .option('--batch <n>', 'Quiver upsert batch size', positiveInt, 1000)
    .option('--no-payload-index', 'do not create payload indexes (measures the unindexed filter path)')
    .parse()
  const opts = /** @type {Options} */ (program.opts())
  const command = [
    'node',
    relative(process.cwd(), fileURLToPath(import.meta.url)),
    ...process.argv.slice(2),
  ].join(' ')
  const names = opts.dataset === 'both' ? [SIGMOD, GLOVE] : [opts.dataset]
  const out = resolve(opts.out)
  await mkdir(out, { recursive: true })
  for (const name of names) {
    const report = await runDataset(name, opts, command)
    const md = reportMarkdown(report)
    await writeFile(join(out, `filtered-${name}.json`), `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(join(out, `filtered-${name}.md`), md)
    process.stdout.write(`${md}\n`)
    log(`wrote ${join(out, `filtered-${name}.json`)} and .md`)
  }
}

main().catch((err) => {
  process.stderr.write(
    `bench:filtered failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
