#!/usr/bin/env node
// Cluster benchmark (issue 14), side by side in one run on one machine: a single-node `quiver
// serve` (local WAL) and a three-node `quiver serve --cluster` over one nats-server (R1), all child
// processes on 127.0.0.1, driven by the official Qdrant client. Measures batched ingest
// (wait=true) through one node and spread over the three, query QPS and p50/p99 through one node
// and spread over three, and the catch-up rate of a fourth node that joins after the ingest
// (spawn to serving, replaying every shard's log). Then the same ingest and queries on placed
// collections (replication_factor 1 and 2: each shard on R of the three nodes, the others reached
// over NATS request/reply).
//
//   npm run build && node bench/cluster.mjs [--dataset glove-100-cosine] [--limit 20000] [--shards 3]
// Needs nats-server on PATH (apt-get install -y nats-server). Without the dataset
// (../shared/datasets or QUIVER_DATASETS) it uses random vectors of --dim.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'

const opts = new Command()
  .option('--dataset <name>', 'dataset', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets folder')
  .option('--limit <n>', 'points', '20000')
  .option('--dim <n>', 'dimension of random vectors when the dataset is absent', '100')
  .option('--batch <n>', 'points per upsert', '256')
  .option('--shards <n>', 'shard_number of the collections', '3')
  .option('--queries <n>', 'queries per measurement', '600')
  .option('--clients <n>', 'concurrent clients for the QPS runs', '3')
  .parse()
  .opts()
const limit = Number(opts.limit)
const batch = Number(opts.batch)
const shards = Number(opts.shards)
const nq = Number(opts.queries)
const clients = Number(opts.clients)
const MAIN = resolve(import.meta.dirname, '../dist/cli/main.js')

let vectors
let queries
let metric = 'Cosine'
let source
try {
  const data = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), { limit })
  const d = data.dim
  vectors = Array.from({ length: data.n }, (_, i) => Array.from(data.base.subarray(i * d, (i + 1) * d)))
  queries = Array.from({ length: data.q }, (_, i) => Array.from(data.queries.subarray(i * d, (i + 1) * d)))
  metric = data.metric
  source = `${opts.dataset} (first ${data.n})`
} catch (err) {
  console.error(`dataset ${opts.dataset} not found (${err.message}); using random vectors`)
  let seed = 7
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648 - 0.5
  }
  const dim = Number(opts.dim)
  vectors = Array.from({ length: limit }, () => Array.from({ length: dim }, rand))
  queries = Array.from({ length: 1000 }, () => Array.from({ length: dim }, rand))
  source = `random ${limit} x ${dim}`
}
const n = vectors.length
const dim = vectors[0].length

const temps = []
const procs = []
const temp = async (p) => {
  const d = await mkdtemp(join(tmpdir(), p))
  temps.push(d)
  return d
}

/** Spawns `argv` and resolves with the first stdout/stderr match of `re` (rejects if it exits first). */
function start(argv, re, env = {}) {
  const child = spawn(argv[0], argv.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  })
  procs.push(child)
  return new Promise((done, fail) => {
    let log = ''
    const on = (d) => {
      log += d
      const m = re.exec(log)
      if (m) done({ child, match: m })
    }
    child.stdout.on('data', on)
    child.stderr.on('data', on)
    child.once('exit', (code) =>
      fail(new Error(`${argv.join(' ')} exited with ${code}: ${log.slice(-2000)}`)),
    )
  })
}

const serveArgs = async (name, extra = []) => [
  process.execPath,
  MAIN,
  'serve',
  '--data',
  await temp(`quiver-bench-${name}-`),
  '--port',
  '0',
  '--log-level',
  'warn',
  // the query cache off: the timed passes repeat queries
  '--query-cache-mb',
  '0',
  ...extra,
]
const LISTENING = /Quiver listening on (\S+)/

async function ingest(targets, name, wait = true) {
  const t0 = performance.now()
  let next = 0
  // one writer per target node, each taking the next batch
  await Promise.all(
    targets.map(async (client) => {
      for (;;) {
        const i = next
        next += batch
        if (i >= n) return
        await client.upsert(name, {
          wait,
          points: vectors.slice(i, i + batch).map((vector, k) => ({ id: i + k, vector })),
        })
      }
    }),
  )
  return n / ((performance.now() - t0) / 1000)
}

async function latency(client, name) {
  const times = []
  for (let i = 0; i < nq; i++) {
    const t = performance.now()
    await client.query(name, { query: queries[i % queries.length], limit: 10, params: { hnsw_ef: 64 } })
    times.push(performance.now() - t)
  }
  times.sort((a, b) => a - b)
  return { p50: times[Math.floor(times.length * 0.5)], p99: times[Math.floor(times.length * 0.99)] }
}

async function qps(targets, name) {
  let done = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      const client = targets[c % targets.length]
      for (let i = c; i < nq * 2; i += clients) {
        await client.query(name, { query: queries[i % queries.length], limit: 10, params: { hnsw_ef: 64 } })
        done++
      }
    }),
  )
  return done / ((performance.now() - t0) / 1000)
}

const rows = []
try {
  const store = await temp('quiver-bench-nats-')
  const nats = await start(
    ['nats-server', '-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store],
    /Listening for client connections on ([\d.]+:\d+)/,
  )
  const natsUrl = `nats://${nats.match[1]}`
  const client = (url) => new QdrantClient({ url, checkCompatibility: false })

  const single = client((await start(await serveArgs('single'), LISTENING)).match[1])
  const nodes = []
  for (const id of ['n1', 'n2', 'n3'])
    nodes.push(
      client((await start(await serveArgs(id, ['--cluster', natsUrl, '--node-id', id]), LISTENING)).match[1]),
    )

  const create = (c, name, extra = {}) =>
    c.createCollection(name, { vectors: { size: dim, distance: metric }, shard_number: shards, ...extra })
  await create(single, 'one')
  await create(nodes[0], 'via1')
  await create(nodes[0], 'spread')
  await create(nodes[0], 'r1', { replication_factor: 1 })
  await create(nodes[0], 'r2', { replication_factor: 2 })
  await create(single, 'one_nowait')
  await create(nodes[0], 'r2_nowait', { replication_factor: 2 })
  // the other nodes attach the collections now, not during the first timed batch
  for (const c of nodes.slice(1))
    for (const name of ['via1', 'spread', 'r1', 'r2', 'r2_nowait']) await c.getCollection(name)

  const ingestSingle = await ingest([single], 'one')
  console.error(`single node: ${ingestSingle.toFixed(0)} vectors/s`)
  const ingestVia1 = await ingest([nodes[0]], 'via1')
  console.error(`cluster through one node: ${ingestVia1.toFixed(0)} vectors/s`)
  const ingestSpread = await ingest(nodes, 'spread')
  console.error(`cluster spread over three: ${ingestSpread.toFixed(0)} vectors/s`)
  // every node indexes every point: wait for their optimizers to settle before the queries
  for (const c of [single, ...nodes])
    for (const name of c === single ? ['one'] : ['via1', 'spread'])
      while ((await c.getCollection(name)).status !== 'green') await new Promise((r) => setTimeout(r, 200))

  const latSingle = await latency(single, 'one')
  const latCluster = await latency(nodes[0], 'spread')
  const qpsSingle = await qps([single], 'one')
  const qpsOne = await qps([nodes[0]], 'spread')
  const qpsSpread = await qps(nodes, 'spread')
  console.error(`latency single ${JSON.stringify(latSingle)} cluster ${JSON.stringify(latCluster)}`)

  // a fourth node joins: from spawn to serving every collection (it replays every shard's log)
  const t0 = performance.now()
  // (with the read barrier off, to measure what the barrier costs a read)
  const n4 = client(
    (
      await start(
        await serveArgs('n4', ['--cluster', natsUrl, '--node-id', 'n4', '--read-barrier-ms', '0']),
        LISTENING,
      )
    ).match[1],
  )
  const joinS = (performance.now() - t0) / 1000
  const counted =
    (await n4.count('spread', { exact: true })).count + (await n4.count('via1', { exact: true })).count
  if (counted !== 2 * n) throw new Error(`the new node holds ${counted} points, expected ${2 * n}`)
  while ((await n4.getCollection('spread')).status !== 'green') await new Promise((r) => setTimeout(r, 200))
  const latNoBarrier = await latency(n4, 'spread')

  // placed collections: ingest spread over the three nodes, queries through one and spread
  const placed = {}
  for (const name of ['r1', 'r2']) {
    const ingestRate = await ingest(nodes, name)
    for (const c of nodes)
      while ((await c.getCollection(name)).status !== 'green') await new Promise((r) => setTimeout(r, 200))
    placed[name] = {
      ingest: ingestRate,
      lat: await latency(nodes[0], name),
      qpsOne: await qps([nodes[0]], name),
      qpsSpread: await qps(nodes, name),
    }
    console.error(`placed ${name}: ${JSON.stringify(placed[name])}`)
  }

  // wait=false: acknowledged once durable (the local WAL; the replicated log), applied after
  const noWait = {}
  for (const [name, targets] of [
    ['one_nowait', [single]],
    ['r2_nowait', nodes],
  ]) {
    const t0 = performance.now()
    const acked = await ingest(targets, name, false)
    // until every replica of every shard applied everything (consistency all: each replica caught up)
    for (;;) {
      const c = await targets[0]
        .count(name, { exact: true, ...(name === 'one_nowait' ? {} : { consistency: 'all' }) })
        .catch(() => ({ count: -1 }))
      if (c.count === n) break
      await new Promise((r) => setTimeout(r, 50))
    }
    noWait[name] = { acked, applied: n / ((performance.now() - t0) / 1000) }
    console.error(`${name}: ${JSON.stringify(noWait[name])}`)
  }

  const m = machineInfo()
  const f = (x) => x.toFixed(0)
  const ms = (x) => x.toFixed(2)
  rows.push(
    `### Cluster: ${source}, ${metric}, shard_number ${shards}, batches of ${batch} (wait=true), one nats-server (R1)`,
    '',
    `${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Node ${m.node}; every process (nats-server, 3-4 Quiver nodes, the single node, this client) on the same machine. Command: \`node bench/cluster.mjs --limit ${limit} --shards ${shards}\`.`,
    '',
    '| | single node | cluster, through one node | cluster, spread over 3 nodes | cluster node, read barrier off |',
    '| --- | ---: | ---: | ---: | ---: |',
    `| ingest vectors/s | ${f(ingestSingle)} | ${f(ingestVia1)} (${(ingestVia1 / ingestSingle).toFixed(2)}x) | ${f(ingestSpread)} (${(ingestSpread / ingestSingle).toFixed(2)}x) | |`,
    `| query p50 / p99 ms (1 client, ef 64) | ${ms(latSingle.p50)} / ${ms(latSingle.p99)} | ${ms(latCluster.p50)} / ${ms(latCluster.p99)} | | ${ms(latNoBarrier.p50)} / ${ms(latNoBarrier.p99)} |`,
    `| query QPS (${clients} clients) | ${f(qpsSingle)} | ${f(qpsOne)} (${(qpsOne / qpsSingle).toFixed(2)}x) | ${f(qpsSpread)} (${(qpsSpread / qpsSingle).toFixed(2)}x) | |`,
    ...['r1', 'r2'].map(
      (name) =>
        `| placed, replication_factor ${name.slice(1)}: ingest spread / p50 / p99 through one node / QPS through one, spread | | ${f(placed[name].ingest)} vectors/s (${(placed[name].ingest / ingestSingle).toFixed(2)}x); ${ms(placed[name].lat.p50)} / ${ms(placed[name].lat.p99)} ms | ${f(placed[name].qpsOne)} / ${f(placed[name].qpsSpread)} QPS (${(placed[name].qpsSpread / qpsSingle).toFixed(2)}x) | |`,
    ),
    `| ingest, wait=false (acknowledged once durable) / applied on every replica, vectors/s | ${f(noWait.one_nowait.acked)} / ${f(noWait.one_nowait.applied)} | | placed replication_factor 2, spread: ${f(noWait.r2_nowait.acked)} (${(noWait.r2_nowait.acked / noWait.one_nowait.acked).toFixed(2)}x) / ${f(noWait.r2_nowait.applied)} (${(noWait.r2_nowait.applied / noWait.one_nowait.applied).toFixed(2)}x) | |`,
    '',
    `A fourth node joining after the ingest serves both collections (${2 * n} points, every shard's log replayed and indexed) ${joinS.toFixed(1)} s after it was spawned: ${f((2 * n) / joinS)} vectors/s catch-up.`,
  )
  console.log(rows.join('\n'))
} finally {
  for (const p of procs.reverse()) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL')
  await new Promise((r) => setTimeout(r, 300))
  for (const d of temps) await rm(d, { recursive: true, force: true })
}
