#!/usr/bin/env node
// Catch-up of a new cluster replica (issue 14, docs/cluster.md "Shard snapshots"), side by side in
// one run: a node joining a cluster whose shard logs hold every record (it replays and indexes them
// all), and a node joining after the shards were snapshotted to the JetStream Object Store and the
// logs truncated (it loads the segments and replays only what came after). Embedded nodes in this
// process over one nats-server (R1); the collection is held whole by every node.
//
//   npm run build && node bench/cluster-catchup.mjs [--dataset glove-100-cosine] [--limit 100000] [--shards 3]
// Needs nats-server on PATH (apt-get install -y nats-server). Without the dataset
// (../shared/datasets or QUIVER_DATASETS) it uses random vectors of --dim.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { loadDataset, resolveDatasetsDir } from '../dist/cli/datasets.js'
import { connectJetStreamLogs, natsTransport, openCatalog, openSnapshotStore } from '../dist/cluster/index.js'
import { Quiver } from '../dist/index.js'

const opts = new Command()
  .option('--dataset <name>', 'dataset', 'glove-100-cosine')
  .option('--datasets-dir <dir>', 'datasets folder')
  .option('--limit <n>', 'points', '100000')
  .option('--dim <n>', 'dimension of random vectors when the dataset is absent', '100')
  .option('--batch <n>', 'points per upsert', '256')
  .option('--shards <n>', 'shard_number of the collection', '3')
  .parse()
  .opts()
const limit = Number(opts.limit)
const batch = Number(opts.batch)
const shards = Number(opts.shards)

let base
let dim
let metric = 'Cosine'
let source
try {
  const data = await loadDataset(opts.dataset, resolveDatasetsDir(opts.datasetsDir), { limit })
  base = data.base
  dim = data.dim
  metric = data.metric
  source = `${opts.dataset} (first ${data.n})`
} catch (err) {
  console.error(`dataset ${opts.dataset} not found (${err.message}); using random vectors`)
  dim = Number(opts.dim)
  let seed = 7
  base = Float32Array.from({ length: limit * dim }, () => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648 - 0.5
  })
  source = `random ${limit} x ${dim}`
}
const n = base.length / dim
const points = (from, to) =>
  Array.from({ length: to - from }, (_, k) => ({
    id: from + k,
    vector: base.subarray((from + k) * dim, (from + k + 1) * dim),
  }))

const temps = []
const temp = async (p) => {
  const d = await mkdtemp(join(tmpdir(), p))
  temps.push(d)
  return d
}
const open = []

async function node(natsUrl, id) {
  const logs = await connectJetStreamLogs({ servers: [natsUrl], shared: true })
  const catalog = await openCatalog(logs, { nodeId: id, heartbeatMs: 500 })
  const snapshots = await openSnapshotStore(logs)
  const db = await Quiver.open(await temp(`quiver-catchup-${id}-`), {
    openLog: logs.openLog,
    catalog,
    transport: natsTransport(logs.connection, catalog),
    snapshots,
    // snapshots only when this benchmark asks for them
    shardSnapshots: { everyRecords: 1e9, everyBytes: 2 ** 50 },
    rebalance: false,
  })
  const handle = {
    db,
    snapshots,
    close: async () => {
      await db.close()
      await catalog.close()
      await logs.close()
    },
  }
  open.push(handle)
  return handle
}

/** Seconds from opening node `id` until it applied every record of every shard of `name`. */
async function join_(natsUrl, id, name) {
  const t0 = performance.now()
  const m = await node(natsUrl, id)
  const c = await m.db.getCollection(name)
  await c.catchUp()
  const s = (performance.now() - t0) / 1000
  return { node: m, seconds: s, count: await c.count() }
}

let nats
try {
  const store = await temp('quiver-catchup-nats-')
  nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const natsUrl = await new Promise((done, fail) => {
    let log = ''
    const on = (d) => {
      log += d
      const m = /Listening for client connections on ([\d.]+:\d+)/.exec(log)
      if (m) done(`nats://${m[1]}`)
    }
    nats.stdout.on('data', on)
    nats.stderr.on('data', on)
    nats.once('exit', (code) => fail(new Error(`nats-server exited with ${code}: ${log}`)))
  })

  const a = await node(natsUrl, 'a')
  const docs = await a.db.createCollection('docs', {
    dimension: dim,
    metric,
    params: { shardNumber: shards },
  })
  let t = performance.now()
  for (let i = 0; i < n; i += batch) await docs.upsert(points(i, Math.min(n, i + batch)))
  console.error(`ingest through a: ${(n / ((performance.now() - t) / 1000)).toFixed(0)} vectors/s`)
  await docs.waitForOptimizers()
  const logBytes = async () => {
    let total = 0
    for (const id of docs.logIds) total += (await a.snapshots.logState(id)).bytes
    return total
  }
  const fullLog = await logBytes()

  // B joins while the logs hold every record: it replays and indexes all of them
  const b = await join_(natsUrl, 'b', 'docs')
  if (b.count !== n) throw new Error(`b holds ${b.count} points, expected ${n}`)
  console.error(`b (replay): ${b.seconds.toFixed(1)} s`)

  // snapshots of every shard, logs truncated; then a few more writes the next node replays
  t = performance.now()
  const written = await a.db.snapshotShards()
  const snapshotS = (performance.now() - t) / 1000
  const snapshotBytes = written.reduce((s, w) => s + w.snapshot.bytes, 0)
  const more = Math.min(5000, Math.floor(n / 20))
  const extra = points(n, n + more).map((p, k) => ({ ...p, vector: points(k, k + 1)[0].vector }))
  for (let i = 0; i < extra.length; i += batch) await docs.upsert(extra.slice(i, i + batch))
  const truncatedLog = await logBytes()

  // C joins now: segments from the snapshots, then only the records after them
  const c = await join_(natsUrl, 'c', 'docs')
  if (c.count !== n + more) throw new Error(`c holds ${c.count} points, expected ${n + more}`)
  console.error(`c (snapshot): ${c.seconds.toFixed(1)} s`)

  const mi = machineInfo()
  const f = (x) => x.toFixed(0)
  const mib = (x) => (x / 2 ** 20).toFixed(1)
  console.log(
    [
      `### Cluster catch-up: ${source}, ${metric}, shard_number ${shards}, held whole by every node, one nats-server (R1)`,
      '',
      `${new Date().toISOString().slice(0, 10)}, ${mi.cpu}, ${mi.cores} cores, Node ${mi.node}; embedded nodes in one process. Command: \`node bench/cluster-catchup.mjs --limit ${limit} --shards ${shards}\`.`,
      '',
      '| a node joining | points | log bytes it reads | spawn to caught up | catch-up vectors/s |',
      '| --- | ---: | ---: | ---: | ---: |',
      `| logs hold every record (replay, index every point) | ${b.count} | ${mib(fullLog)} MiB | ${b.seconds.toFixed(1)} s | ${f(b.count / b.seconds)} |`,
      `| after shard snapshots (load ${mib(snapshotBytes)} MiB of segments, replay ${more} points) | ${c.count} | ${mib(truncatedLog)} MiB | ${c.seconds.toFixed(1)} s | ${f(c.count / c.seconds)} (${(c.count / c.seconds / (b.count / b.seconds)).toFixed(1)}x) |`,
      '',
      `Writing the ${written.length} shard snapshots through node a took ${snapshotS.toFixed(1)} s (${mib(snapshotBytes)} MiB into the Object Store); the logs went from ${mib(fullLog)} MiB to ${mib(truncatedLog)} MiB.`,
    ].join('\n'),
  )
} finally {
  for (const h of open.reverse()) await h.close().catch(() => undefined)
  nats?.kill('SIGKILL')
  await new Promise((r) => setTimeout(r, 300))
  for (const d of temps) await rm(d, { recursive: true, force: true })
}
