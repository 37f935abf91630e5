#!/usr/bin/env node
// @ts-check
// Quantization benchmark: one embedded collection per setting (none, scalar int8, binary, product
// x8 / x16) on one dataset; per ef, recall@k against the exact ground truth, QPS and latency on
// float32, on codes only, and on codes rescored with float32 at several oversampling factors, plus
// code bytes per vector and the segments' memory. Usage: node bench/quantization.mjs --help.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, InvalidArgumentError } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { createProgress } from '../dist/cli/progress.js'
import { Quiver } from '../dist/index.js'
import { intList, log, oversamplingList, positiveInt, positiveNumber } from './lib/options.mjs'
import { measure } from './lib/timing.mjs'
import { groundTruth } from './lib/truth.mjs'

/**
 * @typedef {import('../dist/index.js').QuantizationConfig} QuantizationConfig
 * @typedef {import('../dist/index.js').QuantizationSearchParams} QuantizationSearchParams
 * @typedef {import('../dist/index.js').EmbeddedCollection} EmbeddedCollection
 * @typedef {import('./lib/timing.mjs').Measurement} Measurement
 */

/**
 * @typedef {object} Options
 * @property {string} dataset
 * @property {string | undefined} datasetsDir
 * @property {string[]} settings
 * @property {number} k
 * @property {number[]} ef
 * @property {number[]} oversampling
 * @property {number | undefined} queries
 * @property {number | undefined} limit
 * @property {number} m
 * @property {number} efConstruct
 * @property {number} batch
 * @property {number} minTime seconds
 * @property {string} out
 */

/**
 * One measured operating point.
 * @typedef {object} Row
 * @property {string} setting
 * @property {number} ef
 * @property {string} mode `float32`, `codes` (no rescoring) or `rescore xN`
 * @property {QuantizationSearchParams | null} params what the search passed as `quantization`
 * @property {number} recall mean recall@k, 0..1
 * @property {number} qps
 * @property {number} p50Ms
 * @property {number} p99Ms
 */

/** @type {Record<string, QuantizationConfig | null>} */
const SETTINGS = {
  none: null,
  scalar: { scalar: { type: 'int8', quantile: 0.99 } },
  binary: { binary: {} },
  'product-x8': { product: { compression: 'x8' } },
  'product-x16': { product: { compression: 'x16' } },
}
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/** @param {string} v */
function settingList(v) {
  const list = v.split(',').map((s) => s.trim())
  for (const s of list) {
    if (!(s in SETTINGS))
      throw new InvalidArgumentError(`unknown setting ${s} (known: ${Object.keys(SETTINGS).join(', ')})`)
  }
  return list
}

/**
 * Builds one collection with `quantization` (null: none) from the dataset's base rows (id = row).
 * @param {Quiver} db
 * @param {string} name
 * @param {import('../dist/cli/datasets.js').Dataset} ds
 * @param {QuantizationConfig | null} quantization
 * @param {Options} opts
 */
async function build(db, name, ds, quantization, opts) {
  const col = await db.createCollection(name, {
    dimension: ds.dim,
    metric: ds.metric,
    hnsw: { m: opts.m, efConstruct: opts.efConstruct },
    ...(quantization === null ? {} : { quantization }),
  })
  const progress = createProgress(`build ${name}`, ds.n, { unit: 'vec' })
  const started = performance.now()
  for (let start = 0; start < ds.n; start += opts.batch) {
    const end = Math.min(ds.n, start + opts.batch)
    const points = []
    for (let i = start; i < end; i++)
      points.push({ id: i, vector: ds.base.subarray(i * ds.dim, (i + 1) * ds.dim) })
    await col.upsert(points)
    progress.update(end)
  }
  progress.stop()
  await col.waitForOptimizers()
  return { col, buildMs: performance.now() - started }
}

/**
 * Measures every setting and returns the JSON report.
 * @param {Options} opts
 * @param {string} command
 */
async function run(opts, command) {
  const ds = await loadDataset(
    opts.dataset,
    resolveDatasetsDir(opts.datasetsDir),
    opts.limit === undefined ? {} : { limit: opts.limit },
  )
  const nq = Math.min(opts.queries ?? ds.q, ds.q)
  const k = opts.k
  if (k > ds.n) throw new InvalidArgumentError(`--k ${k} exceeds the ${ds.n} base points`)
  log(`== ${ds.name}: ${ds.n} x ${ds.dim} (${ds.metric}), ${nq} queries, k = ${k}`)
  const gt = groundTruth(ds, nq, k)
  const queries = Array.from({ length: nq }, (_, i) => ds.queries.subarray(i * ds.dim, (i + 1) * ds.dim))
  const truth = (/** @type {number} */ qi) => gt.truth.subarray(qi * k, (qi + 1) * k)
  const minTimeMs = opts.minTime * 1000

  const dataDir = await mkdtemp(join(tmpdir(), 'quiver-bench-quant-'))
  const db = await Quiver.open(dataDir, { queryCacheBytes: 0 })
  /** @type {Row[]} */
  const rows = []
  /** @type {Record<string, unknown>[]} */
  const builds = []
  try {
    for (const setting of opts.settings) {
      const config = /** @type {QuantizationConfig | null} */ (SETTINGS[setting])
      const { col, buildMs } = await build(db, setting, ds, config, opts)
      const stats = col.stats()
      const codeBytes = stats.quantizationBytes ?? 0
      const trained = config === null || codeBytes > 0
      builds.push({
        setting,
        config,
        buildMs,
        trained,
        segments: stats.segmentsCount,
        memoryBytes: stats.memoryBytes,
        codeBytes,
        codeBytesPerVector: stats.storedCount === 0 ? 0 : codeBytes / stats.storedCount,
        float32BytesPerVector: ds.dim * 4,
      })
      log(
        `${setting}: built in ${(buildMs / 1000).toFixed(1)} s, memory ${(stats.memoryBytes / 2 ** 20).toFixed(1)} MiB, codes ${(codeBytes / 2 ** 20).toFixed(2)} MiB${trained ? '' : ' (NOT trained: too few vectors for this quantizer)'}`,
      )
      /** @type {[string, QuantizationSearchParams | null][]} */
      const modes =
        config === null || !trained
          ? [['float32', null]]
          : [
              ['codes', { rescore: false }],
              ...opts.oversampling.map(
                (o) =>
                  /** @type {[string, QuantizationSearchParams]} */ ([
                    `rescore x${o}`,
                    { rescore: true, oversampling: o },
                  ]),
              ),
            ]
      for (const ef of opts.ef) {
        for (const [mode, params] of modes) {
          const options = params === null ? { limit: k, ef } : { limit: k, ef, quantization: params }
          const m = await measure(
            nq,
            async (qi) =>
              (await col.search(/** @type {Float32Array} */ (queries[qi]), options)).map(
                (h) => /** @type {number} */ (h.id),
              ),
            truth,
            () => null,
            { k, minTimeMs },
          )
          log(`[${setting} ef=${ef}] ${mode}: recall ${m.recall.toFixed(4)} ${Math.round(m.qps)} QPS`)
          rows.push({
            setting,
            ef,
            mode,
            params,
            recall: m.recall,
            qps: m.qps,
            p50Ms: m.p50Ms,
            p99Ms: m.p99Ms,
          })
        }
      }
      await db.deleteCollection(setting)
    }
  } finally {
    await db.close()
    await rm(dataDir, { recursive: true, force: true })
  }
  return {
    date: new Date().toISOString(),
    machine: machineInfo(),
    command,
    dataset: { name: ds.name, n: ds.n, totalN: ds.totalN, dim: ds.dim, metric: ds.metric, queries: nq },
    params: {
      k,
      ef: opts.ef,
      oversampling: opts.oversampling,
      m: opts.m,
      efConstruct: opts.efConstruct,
      batch: opts.batch,
      minTimeS: opts.minTime,
    },
    groundTruth: gt.source,
    builds,
    rows,
  }
}

/** @param {number} n */
function mib(n) {
  return (n / 2 ** 20).toFixed(1)
}

/**
 * The report as Markdown: one table of builds, one of operating points.
 * @param {Awaited<ReturnType<typeof run>>} r
 */
function markdown(r) {
  const d = r.dataset
  const lines = [
    `# Quantization: ${d.name}`,
    '',
    `${d.n.toLocaleString('en-US')} x ${d.dim} (${d.metric}), ${d.queries} queries, recall@${r.params.k} against ${r.groundTruth}.`,
    `HNSW m = ${r.params.m}, ef_construct = ${r.params.efConstruct}; one query at a time, timed for at least ${r.params.minTimeS} s per row.`,
    `Machine: ${JSON.stringify(r.machine)}. Command: \`${r.command}\`. Date: ${r.date}.`,
    '',
    '| setting | trained | code bytes / vector | float32 bytes / vector | codes MiB | memory MiB | build s |',
    '| --- | --- | ---: | ---: | ---: | ---: | ---: |',
  ]
  for (const b of r.builds) {
    lines.push(
      `| ${b.setting} | ${b.trained ? 'yes' : 'no'} | ${Number(b.codeBytesPerVector).toFixed(0)} | ${b.float32BytesPerVector} | ${mib(Number(b.codeBytes))} | ${mib(Number(b.memoryBytes))} | ${(Number(b.buildMs) / 1000).toFixed(1)} |`,
    )
  }
  lines.push(
    '',
    "Memory is the segments' WebAssembly memory (float32 vectors, graph and codes: the originals stay in memory).",
    '',
    `| setting | ef | mode | recall@${r.params.k} | QPS | p50 ms | p99 ms |`,
    '| --- | ---: | --- | ---: | ---: | ---: | ---: |',
  )
  for (const row of r.rows) {
    lines.push(
      `| ${row.setting} | ${row.ef} | ${row.mode} | ${row.recall.toFixed(4)} | ${Math.round(row.qps)} | ${row.p50Ms.toFixed(3)} | ${row.p99Ms.toFixed(3)} |`,
    )
  }
  return `${lines.join('\n')}\n`
}

async function main() {
  const program = new Command()
    .name('bench:quantization')
    .description(
      'Quantized collections (scalar, binary, product) against float32: recall@k, QPS, code bytes, memory.',
    )
    .option('--dataset <name>', 'dataset name in the datasets directory', 'glove-100-cosine')
    .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
    .option(
      '--settings <list>',
      `comma-separated from ${Object.keys(SETTINGS).join(', ')}`,
      settingList,
      Object.keys(SETTINGS),
    )
    .option('--k <n>', 'hits per query (recall@k)', positiveInt, 10)
    .option('--ef <list>', 'query-time ef values, comma-separated', intList, [16, 32, 64, 128])
    .option(
      '--oversampling <list>',
      'oversampling factors of the rescored searches, comma-separated',
      oversamplingList,
      [1, 2, 4],
    )
    .option('--queries <n>', 'first N queries (default: all)', positiveInt)
    .option('--limit <n>', 'use only the first N base vectors (ground truth by brute force)', positiveInt)
    .option('--m <n>', 'HNSW M', positiveInt, 16)
    .option('--ef-construct <n>', 'HNSW ef_construction', positiveInt, 200)
    .option('--batch <n>', 'upsert batch size', positiveInt, 1000)
    .option('--min-time <s>', 'timed seconds per row, at least', positiveNumber, 1)
    .option(
      '--out <dir>',
      'where to write quantization-<dataset>.json and .md',
      join(REPO_ROOT, 'bench', 'results'),
    )
    .parse()
  const opts = /** @type {Options} */ (program.opts())
  const command = [
    'node',
    relative(process.cwd(), fileURLToPath(import.meta.url)),
    ...process.argv.slice(2),
  ].join(' ')
  const report = await run(opts, command)
  const out = resolve(opts.out)
  await mkdir(out, { recursive: true })
  const md = markdown(report)
  await writeFile(join(out, `quantization-${opts.dataset}.json`), `${JSON.stringify(report, null, 2)}\n`)
  await writeFile(join(out, `quantization-${opts.dataset}.md`), md)
  process.stdout.write(md)
  log(`wrote ${join(out, `quantization-${opts.dataset}.json`)} and .md`)
}

main().catch((err) => {
  process.stderr.write(
    `bench:quantization failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
  )
  process.exitCode = 1
})
