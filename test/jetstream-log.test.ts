// The operation log in NATS JetStream (issue 14, first slice) against a real nats-server: the log
// contract (append, replay, truncate, reopen), a collection that keeps its log in a stream and
// recovers from it, a writer process SIGKILLed mid-load that loses no acknowledged write, and a
// dropped collection whose stream goes with it. Skipped (saying how to install it) without nats-server.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { jetstreamManager } from '@nats-io/jetstream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectJetStreamLogs, type JetStreamLogs } from '../src/cluster/jetstream-log.js'
import { Quiver, QuiverError } from '../src/index.js'
import type { OperationLog } from '../src/storage/operation-log.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 8
const CHILD = new URL('./fixtures/jetstream-writer.mjs', import.meta.url).pathname

if (natsServerMissing !== null) console.warn(`skipping the JetStream log suite: ${natsServerMissing}`)

describe.skipIf(natsServerMissing !== null)('operation log in NATS JetStream', () => {
  let nats: NatsServer
  let logs: JetStreamLogs
  const dirs: string[] = []
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'quiver-js-log-'))
    dirs.push(d)
    return d
  }
  const bytes = (s: string) => new TextEncoder().encode(s)
  const text = (b: Uint8Array) => new TextDecoder().decode(b)
  const all = async (log: OperationLog, after: number) => {
    const out: [number, string][] = []
    for await (const r of log.replay(after)) out.push([r.seq, text(r.body)])
    return out
  }

  beforeAll(async () => {
    nats = await startNats()
    logs = await connectJetStreamLogs({ servers: [nats.url] })
  })
  afterAll(async () => {
    await logs?.close()
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('appends in order, replays, truncates, and reopens the same stream', async () => {
    const dir = await tempDir()
    const open = () =>
      logs.openLog({ dir, collection: 'docs.v1_x', walSegmentBytes: 1 << 20, relativeTo: dir })
    const log = await open()
    expect(log.lastSeq).toBe(0)
    expect(await log.append([bytes('a')])).toBe(1)
    // concurrent appends keep call order
    const seqs = await Promise.all([log.append([bytes('b'), bytes('c')]), log.append([bytes('d')])])
    expect(seqs).toEqual([3, 4])
    expect(log.lastSeq).toBe(4)
    expect(await all(log, 0)).toEqual([
      [1, 'a'],
      [2, 'b'],
      [3, 'c'],
      [4, 'd'],
    ])
    expect(await all(log, 2)).toEqual([
      [3, 'c'],
      [4, 'd'],
    ])
    expect(await all(log, 4)).toEqual([])
    await log.truncateUpTo(2)
    expect(await all(log, 2)).toEqual([
      [3, 'c'],
      [4, 'd'],
    ])
    // records below the truncation are gone: a replay that needs them is refused, not silent
    const e = await all(log, 0).then(
      () => undefined,
      (err: unknown) => err,
    )
    expect(e).toBeInstanceOf(QuiverError)
    expect((e as QuiverError).code).toBe('CORRUPTED')
    await log.close()
    const again = await open()
    expect(again.lastSeq).toBe(4)
    expect(again.location).toMatch(/^JetStream stream QUIVER_docs_dv1__x_[0-9a-f]{12}$/)
    expect(await again.append([bytes('e')])).toBe(5)
    await again.close()
    // another directory (a new collection of the same name) gets a new, empty stream
    const other = await logs.openLog({
      dir: await tempDir(),
      collection: 'docs.v1_x',
      walSegmentBytes: 1,
      relativeTo: dir,
    })
    expect(other.lastSeq).toBe(0)
    expect(other.location).not.toBe(again.location)
    await other.close()
  })

  it('a collection writes its operations to the stream and recovers them from it', async () => {
    const dir = await tempDir()
    const db = await Quiver.open(dir, { openLog: logs.openLog, threads: 0 })
    const c = await db.createCollection('c', { dimension: DIM, metric: 'Euclid' })
    for (let b = 0; b < 5; b++)
      await c.upsert(
        Array.from({ length: 20 }, (_, k) => ({
          id: b * 20 + k,
          vector: Array.from({ length: DIM }, (_, d) => b + k + d),
          payload: { b },
        })),
      )
    await c.delete({ ids: [0, 1] })
    await c.setPayload({ seen: true }, { ids: [5] })
    const stats = c.stats()
    expect(stats.walBytes).toBeGreaterThan(0)
    // skip the persist: everything must come back from the stream alone
    await c.closeWithoutPersist()
    await db.close()
    const back = await Quiver.open(dir, { openLog: logs.openLog, threads: 0 })
    const c2 = await back.getCollection('c')
    expect(await c2.count()).toBe(98)
    expect((await c2.get([5]))[0]?.payload).toEqual({ b: 0, seen: true })
    expect(await c2.get([0])).toEqual([])
    // a persist purges the stream below the persisted seq; the next open still has everything
    await back.close()
    const third = await Quiver.open(dir, { openLog: logs.openLog, threads: 0 })
    expect(await (await third.getCollection('c')).count()).toBe(98)
    await third.close()
  })

  it('refuses a write larger than a NATS message before publishing it, and keeps taking writes', async () => {
    const db = await Quiver.open(await tempDir(), { openLog: logs.openLog, threads: 0 })
    const c = await db.createCollection('big', { dimension: 1024, metric: 'Dot' })
    // 300 x 1024 float32 = 1.2 MB once encoded, over nats-server's default max_payload (1 MiB)
    const points = (n: number) =>
      Array.from({ length: n }, (_, i) => ({ id: i, vector: new Array(1024).fill(i + 1) }))
    const err = await c.upsert(points(300)).catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('max_payload') })
    expect(await c.count()).toBe(0)
    await c.upsert(points(100))
    expect(await c.count()).toBe(100)
    await db.close()
  })

  it('loses no acknowledged write when the writer process is SIGKILLed', async () => {
    const dir = await tempDir()
    const acked = new Set<number>()
    for (const [round, first] of [
      [0, 0],
      [1, 1_000_000],
    ] as const) {
      const child: ChildProcess = spawn(process.execPath, [CHILD, dir, nats.url, String(DIM)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, QUIVER_FIRST_ID: String(first) },
      })
      let stderr = ''
      child.stderr!.on('data', (d) => {
        stderr += String(d)
      })
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
      let batches = 0
      for await (const line of createInterface({ input: child.stdout! })) {
        const m = /^ack (\d+) (\d+)$/.exec(line)
        if (!m) continue
        for (let k = 0; k < Number(m[2]); k++) acked.add(Number(m[1]) + k)
        // kill at a different point each round, past several persists (flushBytes) and purges
        if (++batches === 40 + round * 17) child.kill('SIGKILL')
      }
      await exited
      expect(child.signalCode, stderr).toBe('SIGKILL')
    }
    expect(acked.size).toBeGreaterThanOrEqual(970)
    const db = await Quiver.open(dir, { openLog: logs.openLog, threads: 0 })
    const c = await db.getCollection('c')
    const present = new Set((await c.scroll({ limit: 100_000, withPayload: false })).points.map((p) => p.id))
    const missing = [...acked].filter((id) => !present.has(id))
    expect(missing).toEqual([])
    // nothing half applied: every point present is whole (its payload is its id)
    const sample = await c.get([...present].slice(0, 50))
    for (const p of sample) expect(p.payload).toEqual({ id: p.id })
    await db.close()
  })

  it('drops the stream with the collection', async () => {
    const dir = await tempDir()
    const db = await Quiver.open(dir, { openLog: logs.openLog, threads: 0 })
    const c = await db.createCollection('gone', { dimension: DIM, metric: 'Euclid' })
    await c.upsert([{ id: 1, vector: Array.from({ length: DIM }, () => 1) }])
    const jsm = await jetstreamManager(logs.connection)
    const names = async () => {
      const out: string[] = []
      for await (const s of jsm.streams.list()) out.push(s.config.name)
      return out
    }
    const before = (await names()).filter((n) => n.startsWith('QUIVER_gone_'))
    expect(before).toHaveLength(1)
    await db.deleteCollection('gone')
    expect(await names()).not.toContain(before[0])
    await db.close()
  })
})
