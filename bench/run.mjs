#!/usr/bin/env node
// @ts-check
// Side-by-side benchmark of Quiver and its peers (hnswlib-node, FAISS, usearch, Orama) on one dataset:
// each engine in its own child process, one after another; recall@k / QPS / latency sweeps, QPS at
// target recalls with Quiver / peer ratios, build time and memory, a recall-vs-QPS SVG.
// Usage: npm run bench -- --help (README.md beside this file explains the outputs).
import { spawn, spawnSync } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Command, InvalidArgumentError, Option } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { intList, log, positiveInt, positiveNumber } from './lib/options.mjs'
import { peersMarkdown, summarize } from './lib/peers-report.mjs'
import { recallQpsSvg } from './lib/plot.mjs'
import { bruteForce, topK } from './lib/truth.mjs'

/**
 * @typedef {import('./lib/peer-worker.mjs').WorkerResult} WorkerResult
 * @typedef {import('./lib/peer-worker.mjs').WorkerConfig} WorkerConfig
 * @typedef {import('./lib/peer-worker.mjs').Curve} Curve
 * @typedef {import('./lib/peer-worker.mjs').Build} Build
 */

/**
 * @typedef {object} Options
 * @property {string} dataset
 * @property {string | undefined} datasetsDir
 * @property {string[]} peers
 * @property {number} m
 * @property {number} efConstruct
 * @property {number} k
 * @property {number[]} ef
 * @property {number[]} nprobe
 * @property {number | undefined} queries
 * @property {number} oramaQueries
 * @property {number | undefined} limit
 * @property {number} minTime
 * @property {number} batch
 * @property {string} out
 */

const DATASETS = ['glove-100-cosine', 'sift-5k-euclidean', 'mnist-784-euclidean']
const PEERS = ['hnswlib-node', 'faiss', 'usearch', 'orama']
const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))
const WORKER = fileURLToPath(new URL('./lib/peer-worker.mjs', import.meta.url))
const FAISS_SCRIPT = fileURLToPath(new URL('./peers/faiss_bench.py', import.meta.url))

/** @param {string} v */
function peerList(v) {
  if (v === 'none') return []
  const list = v.split(',').map((s) => s.trim())
  for (const p of list) {
    if (!PEERS.includes(p))
      throw new InvalidArgumentError(`unknown peer ${p} (known: ${PEERS.join(', ')}, none)`)
  }
  return list
}

/**
 * A Python interpreter that can `import faiss` ($BENCH_PYTHON, python3, /usr/bin/python3 in that
 * order: a pyenv or venv python3 on PATH often lacks Debian's python3-faiss), or why there is none.
 * @returns {{ python: string } | { python: null, reason: string }}
 */
function findFaissPython() {
  const candidates = [process.env.BENCH_PYTHON, 'python3', '/usr/bin/python3'].filter(
    /** @returns {c is string} */ (c) => typeof c === 'string' && c !== '',
  )
  const tried = []
  for (const c of [...new Set(candidates)]) {
    const r = spawnSync(c, ['-c', 'import faiss, numpy'], { encoding: 'utf8' })
    if (r.status === 0) return { python: c }
    const why = r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)
    tried.push(`${c}: ${why}`)
  }
  return { python: null, reason: `no Python with faiss (run npm run bench:setup); ${tried.join('; ')}` }
}

/**
 * Runs one child, forwarding its stderr, and parses the last JSON line of its stdout.
 * @param {string} label
 * @param {string} cmd
 * @param {string[]} args
 * @param {NodeJS.ProcessEnv} env
 * @returns {Promise<WorkerResult | { engine: string, state: 'failed', reason: string }>}
 */
function runChild(label, cmd, args, env) {
  return new Promise((done) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env })
    let out = ''
    let errTail = ''
    child.stdout.on('data', (b) => {
      out += b
    })
    child.stderr.on('data', (b) => {
      process.stderr.write(b)
      errTail = (errTail + b).slice(-600)
    })
    child.on('error', (err) => done({ engine: label, state: 'failed', reason: err.message }))
    child.on('close', (code, signal) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code === 0 && line.startsWith('{')) {
        try {
          done(JSON.parse(line))
          return
        } catch {}
      }
      const last = errTail.trim().split('\n').slice(-2).join(' / ')
      done({ engine: label, state: 'failed', reason: `exit ${code ?? signal}: ${last}` })
    })
  })
}

/**
 * @param {string} name
 * @param {Options} opts
 * @param {string} command
 * @param {string} out
 */
async function runDataset(name, opts, command, out) {
  const datasetsDir = resolveDatasetsDir(opts.datasetsDir)
  const ds = await loadDataset(name, datasetsDir, opts.limit === undefined ? {} : { limit: opts.limit })
  const metric = ds.metric === 'Cosine' ? 'cosine' : 'l2'
  if (ds.metric !== 'Cosine' && ds.metric !== 'Euclid')
    throw new Error(`${name}: metric ${ds.metric} not supported`)
  const nq = Math.min(opts.queries ?? ds.q, ds.q)
  const k = opts.k
  if (k > ds.n) throw new InvalidArgumentError(`--k ${k} exceeds the ${ds.n} base points`)
  const subsampled = ds.n < ds.totalN
  if (!subsampled && k > ds.gtK)
    throw new InvalidArgumentError(`--k ${k} exceeds the ${ds.gtK} ground-truth columns`)
  log(`== ${name}: ${ds.n} x ${ds.dim} (${metric}), ${nq} queries, k = ${k}`)

  const truth = new Int32Array(nq * k)
  let groundTruth
  if (subsampled) {
    const dist = bruteForce(ds.base, ds.dim, metric)
    const buf = new Float64Array(ds.n)
    for (let qi = 0; qi < nq; qi++) {
      truth.set(topK(dist(ds.queries.subarray(qi * ds.dim, (qi + 1) * ds.dim), buf), null, k), qi * k)
    }
    groundTruth = `brute force in float64 over the first ${ds.n.toLocaleString('en-US')} base rows (--limit)`
  } else {
    for (let qi = 0; qi < nq; qi++) truth.set(ds.groundTruth.subarray(qi * ds.gtK, qi * ds.gtK + k), qi * k)
    groundTruth = "the dataset's shipped gt.i32"
  }

  const tmpDir = await mkdtemp(join(tmpdir(), 'quiver-peers-'))
  try {
    const truthPath = join(tmpDir, 'truth.i32')
    await writeFile(truthPath, new Uint8Array(truth.buffer))
    /** @type {WorkerConfig} */
    const cfg = {
      dataset: name,
      datasetsDir,
      limit: opts.limit ?? null,
      queries: nq,
      oramaQueries: opts.oramaQueries,
      k,
      m: opts.m,
      efConstruct: opts.efConstruct,
      efs: opts.ef,
      nprobes: opts.nprobe,
      minTimeS: opts.minTime,
      batch: opts.batch,
      truthPath,
      tmpDir,
      metric,
    }
    const cfgPath = join(tmpDir, 'config.json')
    await writeFile(cfgPath, JSON.stringify(cfg))
    // one thread everywhere: BLAS pools, and Quiver's core pool (QUIVER_THREADS=1 links batches on
    // one thread; bench/threads.mjs measures both cores)
    const env = {
      ...process.env,
      OMP_NUM_THREADS: '1',
      OPENBLAS_NUM_THREADS: '1',
      MKL_NUM_THREADS: '1',
      QUIVER_THREADS: '1',
    }
    const node = (/** @type {string} */ engine) =>
      runChild(engine, process.execPath, ['--expose-gc', WORKER, engine, cfgPath], env)

    /** @type {Record<string, { state: string, version?: string, reason?: string }>} */
    const peers = {}
    /** @type {Build[]} */
    const builds = []
    /** @type {Curve[]} */
    const curves = []
    /** @type {string[]} */
    const notes = []
    /**
     * @param {string} key
     * @param {WorkerResult | { engine: string, state: 'failed', reason: string }} r
     */
    const collect = (key, r) => {
      if (r.state === 'ok') {
        peers[key] = { state: 'ok', version: r.version }
        builds.push(...r.builds)
        curves.push(...r.curves)
        for (const n of r.notes) if (!notes.includes(n)) notes.push(n)
      } else {
        peers[key] = { state: r.state, reason: r.reason }
        log(`${key}: ${r.state} (${r.reason})`)
      }
    }

    log('-- quiver')
    collect('quiver', await node('quiver'))
    log('-- quiver-ivf')
    collect('quiver-ivf', await node('quiver-ivf'))
    for (const peer of opts.peers) {
      log(`-- ${peer}`)
      if (peer !== 'faiss') {
        collect(peer, await node(peer))
        continue
      }
      const py = findFaissPython()
      if (py.python === null) {
        collect('faiss', { engine: 'faiss', state: 'skipped', reason: 'reason' in py ? py.reason : '' })
        continue
      }
      for (const kind of ['hnsw', 'ivf']) {
        const r = await runChild(`faiss-${kind}`, py.python, [FAISS_SCRIPT, cfgPath, kind], env)
        collect(`faiss-${kind}`, r)
      }
    }

    const summary = summarize(curves)
    const svgName = `bench-${name}.svg`
    let svg = null
    try {
      const text = recallQpsSvg(
        curves.map((c) => ({ label: c.label, points: c.points })),
        {
          title: `${name}: recall@${k} vs QPS (1 thread, ${ds.n.toLocaleString('en-US')} x ${ds.dim})`,
          xLabel: `recall@${k}`,
        },
      )
      await writeFile(join(out, svgName), text)
      svg = svgName
    } catch (err) {
      if (!(err instanceof RangeError)) throw err
      log(`no plot: ${err.message}`)
    }
    return {
      date: new Date().toISOString(),
      machine: machineInfo(),
      command,
      dataset: { name, n: ds.n, totalN: ds.totalN, dim: ds.dim, metric, queries: nq },
      params: {
        m: opts.m,
        efConstruct: opts.efConstruct,
        k,
        ef: opts.ef,
        nprobe: opts.nprobe,
        minTimeS: opts.minTime,
        oramaQueries: opts.oramaQueries,
        batch: opts.batch,
        threads: 1,
      },
      groundTruth,
      peers,
      notes,
      builds,
      curves,
      summary,
      svg,
    }
  } finally {
    await rm(tmpDir, { recursive: true, force: true })
  }
}

async function main() {
  const program = new Command()
    .name('bench')
    .description(
      'Quiver next to its peers: recall@k / QPS / latency sweeps, QPS at recall, build time and memory.',
    )
    .addOption(
      new Option('--dataset <name>', 'dataset to run')
        .choices([...DATASETS, 'all'])
        .default('glove-100-cosine'),
    )
    .option('--datasets-dir <dir>', 'datasets directory (default: $QUIVER_DATASETS or ../shared/datasets)')
    .option('--peers <list>', `comma-separated peers, or none (default: ${PEERS.join(',')})`, peerList, PEERS)
    .option('--m <n>', 'HNSW M (every HNSW engine)', positiveInt, 16)
    .option('--ef-construct <n>', 'HNSW ef_construction (every HNSW engine)', positiveInt, 200)
    .option('--k <n>', 'neighbours per query (recall@k)', positiveInt, 10)
    .option(
      '--ef <list>',
      'query-time ef sweep',
      intList,
      [10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512],
    )
    .option(
      '--nprobe <list>',
      'FAISS IVF-Flat nprobe sweep (capped at nlist = round(sqrt(n)))',
      intList,
      [1, 2, 4, 8, 16, 32, 64, 128],
    )
    .option('--queries <n>', 'use the first N queries (default: all)', positiveInt)
    .option('--orama-queries <n>', 'queries for Orama (exhaustive, slow)', positiveInt, 100)
    .option('--limit <n>', 'use only the first N base vectors (ground truth by brute force)', positiveInt)
    .option('--min-time <s>', 'timed seconds per operating point, at least', positiveNumber, 1)
    .option('--batch <n>', 'Quiver upsert / Orama insert batch size', positiveInt, 1000)
    .option(
      '--out <dir>',
      'where to write bench-<dataset>.json, .md and .svg',
      join(REPO_ROOT, 'bench', 'results'),
    )
    .parse()
  const opts = /** @type {Options} */ (program.opts())
  const command = ['npm run bench --', ...process.argv.slice(2)].join(' ')
  const names = opts.dataset === 'all' ? DATASETS : [opts.dataset]
  const out = resolve(opts.out)
  await mkdir(out, { recursive: true })
  for (const name of names) {
    const report = await runDataset(name, opts, command, out)
    const md = peersMarkdown(report)
    await writeFile(join(out, `bench-${name}.json`), `${JSON.stringify(report, null, 2)}\n`)
    await writeFile(join(out, `bench-${name}.md`), md)
    process.stdout.write(`${md}\n`)
    log(`wrote ${relative(process.cwd(), join(out, `bench-${name}`))}.json, .md and .svg`)
  }
}

main().catch((err) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
