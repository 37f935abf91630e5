// Replicas over a shared JetStream log (issue 14): several Quiver databases, each with its own data
// directory, hold the same collection by following one stream; writes through any of them are
// applied by all in stream order, so they converge. Against a real nats-server: concurrent writers,
// config and payload-index changes, a replica closed while others write, and a replica process that
// writes and is SIGKILLed, whose directory then reopens and catches up. Skipped (saying how to
// install it) without nats-server.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectJetStreamLogs, type JetStreamLogs } from '../src/cluster/jetstream-log.js'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 8
const CHILD = new URL('./fixtures/replica-writer.mjs', import.meta.url).pathname

if (natsServerMissing !== null) console.warn(`skipping the replica suite: ${natsServerMissing}`)

function vec(seed: number): number[] {
  let s = seed * 2654435761
  return Array.from({ length: DIM }, () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * 2 - 1
  })
}

/** Everything a reader sees of a collection: every point (id, payload, vector) in id order. */
async function contents(c: HostedCollection) {
  const page = await c.scroll({ limit: 100_000, withPayload: true, withVector: true })
  return page.points
}

describe.skipIf(natsServerMissing !== null)('replicas over a shared JetStream log', () => {
  let nats: NatsServer
  let logsA: JetStreamLogs
  let logsB: JetStreamLogs
  const dirs: string[] = []
  const tempDir = async () => {
    const d = await mkdtemp(join(tmpdir(), 'quiver-replica-'))
    dirs.push(d)
    return d
  }

  beforeAll(async () => {
    nats = await startNats()
    // two connections, as two processes would have
    logsA = await connectJetStreamLogs({ servers: [nats.url], shared: true })
    logsB = await connectJetStreamLogs({ servers: [nats.url], shared: true })
  })
  afterAll(async () => {
    await logsA?.close()
    await logsB?.close()
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('converges: writes through either replica, concurrently and to the same ids, end the same on both', async () => {
    const dbA = await Quiver.open(await tempDir(), { openLog: logsA.openLog, threads: 0 })
    const dbB = await Quiver.open(await tempDir(), { openLog: logsB.openLog, threads: 0 })
    const a = await dbA.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
    const logId = a.logId
    expect(logId).toMatch(/^QUIVER_docs_/)
    const b = await dbB.attachCollection('docs', logId!)
    expect(b.config.vectors.get('')?.dimension).toBe(DIM)

    // 20 batches from each side at once; ids 0..99 are written by both (last in the stream wins)
    const writes: Promise<unknown>[] = []
    for (let i = 0; i < 20; i++) {
      const batch = (writer: string, base: number) =>
        Array.from({ length: 10 }, (_, k) => {
          const id = base + ((i * 10 + k) % 100)
          return { id, vector: vec(id * 7 + i), payload: { writer, round: i } }
        })
      writes.push(a.upsert(batch('a', 0)), b.upsert(batch('b', 0)))
      writes.push(a.upsert(batch('a', 1000 + i * 100)), b.upsert(batch('b', 5000 + i * 100)))
    }
    await Promise.all(writes)
    // read-your-writes on the writer; the other replica after catchUp
    expect((await b.get([5000]))[0]?.payload).toEqual({ writer: 'b', round: 0 })
    await a.catchUp()
    await b.catchUp()
    const seenA = await contents(a)
    expect(seenA).toHaveLength(100 + 200 + 200)
    expect(await contents(b)).toEqual(seenA)
    const q = { limit: 10, exact: true }
    expect(await b.search(vec(3), q)).toEqual(await a.search(vec(3), q))

    // config changes and payload indexes travel the log too
    await b.createPayloadIndex('writer', 'keyword')
    await b.updateConfig({ hnsw: { efConstruct: 64 } })
    await b.delete({ filter: { must: [{ key: 'writer', match: { value: 'a' } }] } })
    await a.catchUp()
    const infoA = await a.info()
    expect(infoA.config.hnsw.efConstruct).toBe(64)
    expect(Object.keys(infoA.payloadSchema)).toEqual(['writer'])
    expect(await a.count({ filter: { must: [{ key: 'writer', match: { value: 'a' } }] } })).toBe(0)
    expect(await contents(a)).toEqual(await contents(b))

    // a replica closed meanwhile replays what it missed when it opens again
    const dirB = dbB.dir
    await dbB.close()
    await a.upsert(
      Array.from({ length: 30 }, (_, k) => ({ id: 9000 + k, vector: vec(9000 + k), payload: { late: k } })),
    )
    const again = await Quiver.open(dirB, { openLog: logsB.openLog, threads: 0 })
    const b2 = await again.getCollection('docs')
    await b2.catchUp()
    expect(await contents(b2)).toEqual(await contents(a))
    await again.close()
    await dbA.close()
  })

  it('refuses to attach to what is not a collection log, and a local WAL cannot attach', async () => {
    const db = await Quiver.open(await tempDir(), { openLog: logsA.openLog, threads: 0 })
    const err = await db.attachCollection('x', 'QUIVER_nothing_here').catch((e: unknown) => e)
    expect(err).toBeInstanceOf(QuiverError)
    expect((err as QuiverError).code).toBe('LOG_NOT_FOUND')
    expect(db.listCollections()).toEqual([])
    // a shard's stream holds only that shard's points: attaching it alone is refused
    await db.createCollection('sharded', { dimension: DIM, metric: 'Euclid', params: { shardNumber: 2 } })
    const shardLog = JSON.parse(
      await readFile(join(db.dir, 'collections', 'sharded', 'shards', '0', 'log.json'), 'utf8'),
    )
    const other = await Quiver.open(await tempDir(), { openLog: logsB.openLog, threads: 0 })
    await expect(other.attachCollection('s0', shardLog.stream)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('with the logs of all its shards'),
    })
    expect(other.listCollections()).toEqual([])
    // with every shard's log, in order, it is a replica of the sharded collection
    const sharded = await db.getCollection('sharded')
    await sharded.upsert(Array.from({ length: 20 }, (_, i) => ({ id: i, vector: vec(i) })))
    const copy = await other.attachCollection('sharded', sharded.logIds)
    await copy.catchUp()
    expect(copy.logIds).toEqual(sharded.logIds)
    expect(await contents(copy)).toEqual(await contents(sharded))
    // a wrong shard count is refused, leaving nothing
    await expect(
      other.attachCollection('three', [...sharded.logIds, sharded.logIds[0]!]),
    ).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(other.listCollections()).toEqual(['sharded'])
    await other.close()
    await db.close()
    const local = await Quiver.open(await tempDir(), { threads: 0 })
    await expect(local.attachCollection('x', 'QUIVER_docs_abc')).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
    })
    expect(local.listCollections()).toEqual([])
    await local.close()
  })

  it('a replica process SIGKILLed while it writes loses no acknowledged write; its directory reopens and catches up', async () => {
    const dbA = await Quiver.open(await tempDir(), { openLog: logsA.openLog, threads: 0 })
    const a = await dbA.createCollection('c', { dimension: DIM, metric: 'Euclid' })
    const logId = a.logId!
    const childDir = await tempDir()
    const acked = new Set<number>()
    for (const [round, first] of [
      [0, 0],
      [1, 1_000_000],
    ] as const) {
      const child: ChildProcess = spawn(process.execPath, [CHILD, childDir, nats.url, logId, String(DIM)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, QUIVER_FIRST_ID: String(first) },
      })
      let stderr = ''
      child.stderr!.on('data', (d) => {
        stderr += String(d)
      })
      const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()))
      let batches = 0
      // the primary writes too, while the child does
      const own: Promise<unknown>[] = []
      for await (const line of createInterface({ input: child.stdout! })) {
        const m = /^ack (\d+) (\d+)$/.exec(line)
        if (!m) continue
        for (let k = 0; k < Number(m[2]); k++) acked.add(Number(m[1]) + k)
        batches++
        if (batches % 5 === 0)
          own.push(
            a.upsert([
              { id: 500_000 + round * 1000 + batches, vector: vec(batches), payload: { writer: 'a' } },
            ]),
          )
        if (batches === 30 + round * 13) child.kill('SIGKILL')
      }
      await exited
      await Promise.all(own)
      expect(child.signalCode, stderr).toBe('SIGKILL')
    }
    expect(acked.size).toBeGreaterThanOrEqual(430)
    await a.catchUp()
    const present = new Set((await contents(a)).map((p) => p.id))
    expect([...acked].filter((id) => !present.has(id))).toEqual([])
    // nothing half applied: a child batch is there whole or not at all
    for (const id of present) {
      if (typeof id !== 'number' || id >= 500_000) continue
      const first = id - (id % 10)
      for (let k = 0; k < 10; k++) expect(present.has(first + k)).toBe(true)
    }
    // the killed replica's directory opens (in this process) and catches up to the same state
    const dbC = await Quiver.open(childDir, { openLog: logsB.openLog, threads: 0 })
    const c = await dbC.getCollection('c')
    await c.catchUp()
    expect(await contents(c)).toEqual(await contents(a))
    await dbC.close()
    await dbA.close()
  })
})
