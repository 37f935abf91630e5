#!/usr/bin/env node
// Ingest through the collection API with the operation log local (the WAL) and in NATS JetStream
// (a real nats-server, R1, on 127.0.0.1), side by side in one run: vectors/s with wait=true, and
// the time to reopen from the log alone (no persisted segments).
//
//   npm run build && node bench/log-ingest.mjs [--points 20000] [--dim 100] [--batch 100]
// Needs nats-server on PATH (apt-get install -y nats-server).
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Command } from 'commander'
import { machineInfo } from '../dist/cli/bench.js'
import { connectJetStreamLogs } from '../dist/cluster/jetstream-log.js'
import { Quiver } from '../dist/index.js'

const opts = new Command()
  .option('--points <n>', 'points', '20000')
  .option('--dim <n>', 'dimension', '100')
  .option('--batch <n>', 'points per upsert', '100')
  .parse()
  .opts()
const n = Number(opts.points)
const dim = Number(opts.dim)
const batch = Number(opts.batch)
let seed = 3
const rand = () => {
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed / 2147483648 - 0.5
}
const vectors = Array.from({ length: n }, () => Array.from({ length: dim }, rand))

const store = await mkdtemp(join(tmpdir(), 'quiver-bench-nats-'))
const nats = spawn('nats-server', ['-js', '-a', '127.0.0.1', '-p', '-1', '-sd', store], {
  stdio: ['ignore', 'ignore', 'pipe'],
})
const url = await new Promise((resolve, reject) => {
  let log = ''
  nats.once('exit', (code) => reject(new Error(`nats-server exited with ${code}`)))
  nats.stderr.on('data', (d) => {
    log += d
    const m = /Listening for client connections on ([\d.]+:\d+)/.exec(log)
    if (m) resolve(`nats://${m[1]}`)
  })
})
const logs = await connectJetStreamLogs({ servers: [url] })

async function run(label, extra) {
  const dir = await mkdtemp(join(tmpdir(), 'quiver-bench-log-'))
  // flushBytes high: every operation stays in the log, so the reopen replays all of it
  const db = await Quiver.open(dir, { ...extra, flushBytes: 1 << 30 })
  const c = await db.createCollection('c', { dimension: dim, metric: 'Cosine' })
  const t0 = performance.now()
  for (let i = 0; i < n; i += batch)
    await c.upsert(vectors.slice(i, i + batch).map((vector, k) => ({ id: i + k, vector })))
  const ingest = n / ((performance.now() - t0) / 1000)
  await c.closeWithoutPersist()
  await db.close()
  const t1 = performance.now()
  const again = await Quiver.open(dir, { ...extra })
  const count = await (await again.getCollection('c')).count()
  const reopen = (performance.now() - t1) / 1000
  await again.close()
  await rm(dir, { recursive: true, force: true })
  if (count !== n) throw new Error(`${label}: reopened with ${count} points, expected ${n}`)
  console.error(`${label}: ${ingest.toFixed(0)} vectors/s, reopen from the log ${reopen.toFixed(2)} s`)
  return { ingest, reopen }
}

try {
  const results = []
  for (let round = 0; round < 2; round++) {
    results.push(['local WAL', await run('local WAL', {})])
    results.push(['JetStream R1', await run('JetStream R1', { openLog: logs.openLog })])
  }
  const best = (label, k) =>
    Math.max(...results.filter(([l]) => l === label).map(([, r]) => (k === 'ingest' ? r[k] : -r[k])))
  const local = best('local WAL', 'ingest')
  const js = best('JetStream R1', 'ingest')
  const m = machineInfo()
  console.log(
    [
      `### Operation log: local WAL vs NATS JetStream, ${n} x ${dim} float32, batches of ${batch}, wait=true`,
      '',
      `${new Date().toISOString().slice(0, 10)}, ${m.cpu}, ${m.cores} cores, Node ${m.node}, nats-server on 127.0.0.1 (same machine). Command: \`node bench/log-ingest.mjs --points ${n} --dim ${dim} --batch ${batch}\`. Best of 2 interleaved rounds.`,
      '',
      '| log | ingest vectors/s | ratio | reopen from the log alone (s) |',
      '| --- | ---: | ---: | ---: |',
      `| local WAL | ${local.toFixed(0)} | 1.00x | ${(-best('local WAL', 'reopen')).toFixed(2)} |`,
      `| JetStream R1 | ${js.toFixed(0)} | ${(js / local).toFixed(2)}x | ${(-best('JetStream R1', 'reopen')).toFixed(2)} |`,
    ].join('\n'),
  )
} finally {
  await logs.close()
  nats.kill('SIGTERM')
  await new Promise((resolve) => nats.once('exit', resolve))
  await rm(store, { recursive: true, force: true })
}
