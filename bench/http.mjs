#!/usr/bin/env node
// HTTP serving benchmark: the same k-NN queries in-process (collection.search) and over HTTP on
// 127.0.0.1 through the official Qdrant client against `quiver serve` in a child process, with one
// client and with N concurrent clients. Prints QPS and the ratios issue 3 sets targets for.
//
//   npm run build && node bench/http.mjs [--dataset glove-100-cosine] [--limit 100000] [--clients 8]
import { spawn } from 'node:child_process'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { QdrantClient } from '@qdrant/js-client-rest'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { Quiver } from '../dist/index.js'

const program = new Command()
  .option('--dataset <name>', 'dataset', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets folder')
  .option('--limit <n>', 'points', '100000')
  .option('--ef <n>', 'search ef', '64')
  .option('--k <n>', 'neighbours', '10')
  .option('--clients <n>', 'concurrent HTTP clients', '8')
  .option('--min-time <s>', 'seconds per measurement', '5')
  .option('--out <dir>', 'results folder', 'bench/results')
  .parse()
const opts = program.opts()
const ef = Number(opts.ef)
const k = Number(opts.k)
const minMs = Number(opts.minTime) * 1000

const data = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), {
  limit: Number(opts.limit),
})
const { n, dim } = data
const metric = data.metric
const queries = Array.from({ length: data.q }, (_, i) =>
  Array.from(data.queries.subarray(i * dim, (i + 1) * dim)),
)

/** Runs `one(i)` from `clients` concurrent loops for `minMs`; returns queries per second. */
async function qps(clients, one) {
  const until = performance.now() + minMs
  let done = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      for (let i = c; performance.now() < until; i += clients) {
        await one(i % queries.length)
        done++
      }
    }),
  )
  return done / ((performance.now() - t0) / 1000)
}

const dir = await mkdtemp(join(tmpdir(), 'quiver-http-bench-'))
const results = {}
let server
try {
  console.error(`building ${n} x ${dim} (${opts.dataset})`)
  let db = await Quiver.open(dir, { queryCacheBytes: 0 })
  const c = await db.createCollection('bench', { dimension: dim, metric })
  for (let i = 0; i < n; i += 1000) {
    const m = Math.min(1000, n - i)
    await c.upsert(
      Array.from({ length: m }, (_, j) => ({
        id: i + j,
        vector: data.base.subarray((i + j) * dim, (i + j + 1) * dim),
      })),
    )
  }
  await db.close()

  db = await Quiver.open(dir, { queryCacheBytes: 0 })
  const col = await db.getCollection('bench')
  await qps(1, (i) => col.search(queries[i], { limit: k, ef })) // warm-up
  results.inProcess = await qps(1, (i) => col.search(queries[i], { limit: k, ef }))
  console.error(`in-process: ${results.inProcess.toFixed(0)} QPS`)
  await db.close()

  server = spawn(
    process.execPath,
    [
      'dist/cli/main.js',
      'serve',
      '--data',
      dir,
      '--port',
      '0',
      '--log-level',
      'warn',
      '--query-cache-mb',
      '0',
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
  const url = await new Promise((resolve, reject) => {
    server.once('exit', (code) => reject(new Error(`server exited with ${code}`)))
    createInterface({ input: server.stdout }).on('line', (line) => {
      const m = /listening on (\S+)/.exec(line)
      if (m) resolve(m[1])
    })
  })
  const client = new QdrantClient({ url, checkCompatibility: false })
  const search = (i) => client.query('bench', { query: queries[i], limit: k, params: { hnsw_ef: ef } })
  await qps(1, search) // warm-up
  results.http1 = await qps(1, search)
  console.error(`HTTP, 1 client: ${results.http1.toFixed(0)} QPS`)
  results.httpN = await qps(Number(opts.clients), search)
  console.error(`HTTP, ${opts.clients} clients: ${results.httpN.toFixed(0)} QPS`)
} finally {
  server?.kill('SIGTERM')
  if (server) await new Promise((resolve) => server.once('exit', resolve))
  await rm(dir, { recursive: true, force: true })
}

const m = machineInfo()
const md = [
  `### Over HTTP: ${opts.dataset}, ${n} points, k ${k}, ef ${ef}`,
  '',
  `${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Node ${m.node}. Command: \`node bench/http.mjs --dataset ${opts.dataset} --limit ${n} --clients ${opts.clients}\`. The server is \`quiver serve\` in a child process; the clients are \`@qdrant/js-client-rest\` in the benchmark process, so server and clients share the 2 cores.`,
  '',
  '| mode | QPS | ratio | target |',
  '| --- | ---: | ---: | --- |',
  `| in-process \`collection.search\` | ${results.inProcess.toFixed(0)} | 1.00x | |`,
  `| HTTP, 1 client | ${results.http1.toFixed(0)} | ${(results.http1 / results.inProcess).toFixed(2)}x of in-process | >= 0.6x |`,
  `| HTTP, ${opts.clients} clients | ${results.httpN.toFixed(0)} | ${(results.httpN / results.http1).toFixed(2)}x of 1 client | >= 1.7x |`,
].join('\n')
console.log(md)
await mkdir(opts.out, { recursive: true })
await writeFile(join(opts.out, `http-${opts.dataset}.md`), `${md}\n`)
await writeFile(
  join(opts.out, `http-${opts.dataset}.json`),
  JSON.stringify({ n, dim, ef, k, ...results }, null, 2),
)
