// Shard snapshots (issue 14, docs/cluster.md "Shard snapshots"): a replica of each shard writes its
// segments to the JetStream Object Store and the shard's log is truncated below them; a node that
// joins after the truncation, a replica that was down while its log was truncated past it, and a
// shard moved to a new node all start from the newest snapshot and replay the rest of the log. A
// live replica behind the snapshot keeps the log from being truncated past it. Against a real
// nats-server and `Quiver` nodes in this process. Skipped (saying how to install it) without
// nats-server.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serialize } from 'node:v8'
import { Objm } from '@nats-io/obj'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openCatalog, peerIdOf } from '../src/cluster/catalog.js'
import { connectJetStreamLogs } from '../src/cluster/jetstream-log.js'
import { openSnapshotStore } from '../src/cluster/snapshot-store.js'
import { natsTransport } from '../src/cluster/transport.js'
import type { QuiverLogger } from '../src/collection/collection.js'
import { APPLIED_TOPIC } from '../src/db/shard-snapshots.js'
import type { HostedCollection } from '../src/index.js'
import { type InProcessNode, openInProcessNode, seededVector } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 6

if (natsServerMissing !== null) console.warn(`skipping the shard snapshot suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 23)

/** A logger keeping its messages (to tell a snapshot was loaded). */
function recorder(): QuiverLogger & { lines: string[] } {
  const lines: string[] = []
  const keep = (_o: object, m: string) => {
    lines.push(m)
  }
  return { lines, info: keep, warn: keep, error: keep }
}

async function sortedIds(c: HostedCollection): Promise<number[]> {
  return (await c.scroll({ limit: 10_000 })).points.map((p) => p.id as number).sort((a, b) => a - b)
}

async function exactTop(c: HostedCollection): Promise<[number, number][]> {
  return (await c.search(vec(4242), { limit: 10, exact: true })).map((h) => [
    h.id as number,
    Math.fround(h.score),
  ])
}

/** Until `cond` holds, bounded (heartbeats, the catalog watch and catch-up are asynchronous). */
async function until(what: string, cond: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = performance.now() + ms
  while (!(await cond())) expect(performance.now(), what).toBeLessThan(deadline)
}

describe.skipIf(natsServerMissing !== null)('shard snapshots in the JetStream Object Store', () => {
  let nats: NatsServer
  const dirs: string[] = []
  const open: InProcessNode[] = []

  async function node(id: string, dir?: string, logger?: QuiverLogger): Promise<InProcessNode> {
    const d = dir ?? (await mkdtemp(join(tmpdir(), `quiver-snap-${id}-`)))
    if (dir === undefined) dirs.push(d)
    const n = await openInProcessNode(nats.url, id, d, logger === undefined ? {} : { logger })
    open.push(n)
    return n
  }

  const liveOn = async (n: InProcessNode): Promise<string[]> =>
    (await n.catalog.status()).peers.map((p) => p.nodeId).sort()

  async function upsertRange(c: HostedCollection, from: number, to: number, batch = 10): Promise<void> {
    for (let id = from; id <= to; id += batch) {
      const points = []
      for (let k = id; k < Math.min(to + 1, id + batch); k++)
        points.push({ id: k, vector: vec(k), payload: { k } })
      await c.upsert(points)
    }
  }

  beforeAll(async () => {
    nats = await startNats()
  }, 30_000)
  afterAll(async () => {
    for (const n of open) await n.close().catch(() => undefined)
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('truncates the log below a snapshot; a node joining later and one down meanwhile start from it', async () => {
    const a = await node('sa')
    const bDir = await mkdtemp(join(tmpdir(), 'quiver-snap-sb-'))
    dirs.push(bDir)
    let b = await node('sb', bDir)
    await until('two live nodes', async () => (await liveOn(a)).length === 2)
    const docs = await a.db.createCollection('docs', {
      dimension: DIM,
      metric: 'Euclid',
      params: { shardNumber: 2 },
    })
    await upsertRange(docs, 1, 300)
    await (await b.db.getCollection('docs')).catchUp()
    const logIds = docs.logIds
    expect(logIds).toHaveLength(2)
    const store = a.snapshots!

    // every shard snapshotted through a, the logs truncated to the snapshots (b caught up)
    const written = await a.db.snapshotShards()
    expect(written.map((w) => w.shardId).sort()).toEqual([0, 1])
    for (const w of written) {
      expect(w.snapshot.seq).toBeGreaterThan(1)
      expect(w.truncatedTo).toBe(w.snapshot.seq)
      const state = await store.logState(w.snapshot.logId)
      expect(state.firstSeq).toBe(w.snapshot.seq + 1)
      expect((await store.list(w.snapshot.logId)).map((s) => s.seq)).toEqual([w.snapshot.seq])
    }
    // nothing new applied: nothing to write
    expect(await a.db.snapshotShards()).toEqual([])
    await upsertRange(docs, 301, 350)

    // a node joining now cannot replay the logs from their start: it loads the snapshots
    const logC = recorder()
    const c = await node('sc', undefined, logC)
    await until('c holds docs', async () => c.db.listCollections().includes('docs'))
    const onC = await c.db.getCollection('docs')
    expect(await onC.count()).toBe(350)
    expect(await sortedIds(onC)).toEqual(await sortedIds(docs))
    expect(await exactTop(onC)).toEqual(await exactTop(docs))
    expect(logC.lines.filter((l) => l.startsWith('loaded the shard snapshot'))).toHaveLength(2)

    // b goes down; two more snapshots (keep 2) truncate the logs past everything b persisted
    await b.close()
    await until('b is away', async () => !(await liveOn(a)).includes('sb'))
    await upsertRange(docs, 351, 400)
    await onC.catchUp()
    const first = await a.db.snapshotShards()
    await upsertRange(docs, 401, 450)
    await onC.catchUp()
    const second = await a.db.snapshotShards()
    for (const w of second) {
      const older = first.find((f) => f.shardId === w.shardId)!
      // the two newest are kept; the log keeps what follows the older one
      expect((await store.list(w.snapshot.logId)).map((s) => s.seq)).toEqual([
        older.snapshot.seq,
        w.snapshot.seq,
      ])
      expect(w.truncatedTo).toBe(older.snapshot.seq)
    }
    await upsertRange(docs, 451, 470)
    // b restarts on its old directory: its segments end before its logs now start
    const logB = recorder()
    open.splice(open.indexOf(b), 1)
    b = await node('sb', bDir, logB)
    const onB = await b.db.getCollection('docs')
    await onB.catchUp()
    expect(await onB.count()).toBe(470)
    expect(await sortedIds(onB)).toEqual(await sortedIds(docs))
    expect(await exactTop(onB)).toEqual(await exactTop(docs))
    expect(logB.lines.filter((l) => l.startsWith('loaded the shard snapshot'))).toHaveLength(2)

    // a drop through any node removes the snapshots with the logs
    await c.db.deleteCollection('docs')
    for (const id of logIds) expect(await store.list(id)).toEqual([])
  }, 120_000)

  it('a live replica behind the snapshot keeps the log from being truncated past what it applied', async () => {
    const a = open.find((n) => n.id === 'sa')!
    const docs = await a.db.createCollection('slow', { dimension: DIM, metric: 'Dot' })
    await upsertRange(docs, 1, 100)
    const [logId] = docs.logIds as [string]
    // a third party in the cluster that says it applied the log up to seq 3 only
    const logs = await connectJetStreamLogs({ servers: [nats.url], shared: true })
    const catalog = await openCatalog(logs, { nodeId: 'slowpoke', heartbeatMs: 200 })
    // first a nonsense answer (not a seq: the log must not be touched), then seq 3
    let says: unknown = Number.NaN
    const served = natsTransport(logs.connection, catalog).serve(APPLIED_TOPIC, async () =>
      serialize([[logId, says]]),
    )
    try {
      await until('slowpoke is live', async () => (await liveOn(a)).includes('slowpoke'))
      for (const n of open) await (await n.db.getCollection('slow')).catchUp()
      const [nonsense] = await a.db.snapshotShards()
      expect(nonsense!.truncatedTo).toBeUndefined()
      expect((await a.snapshots!.logState(logId)).firstSeq).toBe(1)
      says = 3
      await docs.upsert([{ id: 5000, vector: vec(5000) }])
      const [w] = await a.db.snapshotShards()
      expect(w!.snapshot.seq).toBeGreaterThan(3)
      expect(w!.truncatedTo).toBe(3)
      expect((await a.snapshots!.logState(logId)).firstSeq).toBe(4)
    } finally {
      await served.stop()
      await catalog.close()
      await logs.close()
    }
    await a.db.deleteCollection('slow')
  }, 60_000)

  it('a shard moved to a node after its log was truncated starts there from the snapshot', async () => {
    const nodes = open.filter((n) => ['sa', 'sb', 'sc'].includes(n.id))
    expect(nodes).toHaveLength(3)
    const a = nodes[0]!
    await until('three live nodes', async () => (await liveOn(a)).length === 3)
    const placed = await a.db.createCollection('placed', {
      dimension: DIM,
      metric: 'Euclid',
      params: { shardNumber: 2, replicationFactor: 1 },
    })
    await upsertRange(placed, 1, 200)
    for (const n of nodes) await n.db.snapshotShards()
    const placement = (await a.db.shardPlacement('placed'))!
    const from = placement[0]![0]!
    const to = nodes.map((n) => n.id).find((id) => !placement.flat().includes(id))!
    expect(to).toBeDefined()
    const first = await a.snapshots!.logState(placed.logIds[0]!)
    expect(first.firstSeq).toBeGreaterThan(1)
    await upsertRange(placed, 201, 230)
    await a.db.updateCollectionCluster('placed', {
      moveShard: { shardId: 0, fromPeerId: peerIdOf(from), toPeerId: peerIdOf(to) },
    })
    const target = nodes.find((n) => n.id === to)!
    await until('the new replica hosts shard 0', async () =>
      (await (await target.db.getCollection('placed')).clusterInfo()).localShards.some(
        (s) => s.shardId === 0 && s.state === 'Active',
      ),
    )
    await until('shard 0 moved', async () => {
      const p = (await a.db.shardPlacement('placed'))![0]!
      return p.length === 1 && p[0] === to
    })
    const want = await exactTop(placed)
    for (const n of nodes) {
      const c = await n.db.getCollection('placed')
      expect(await c.count()).toBe(230)
      expect(await exactTop(c)).toEqual(want)
    }
    await a.db.deleteCollection('placed')
  }, 90_000)

  it('the store lists live snapshots only: a tombstone left behind is purged, a snapshot stored again after a remove is kept', async () => {
    const logs = await connectJetStreamLogs({ servers: [nats.url], shared: true, prefix: 'STORETEST' })
    try {
      const store = await openSnapshotStore(logs, { prefix: 'STORETEST' })
      const dir = await mkdtemp(join(tmpdir(), 'quiver-snap-store-'))
      dirs.push(dir)
      const file = join(dir, 'body')
      await writeFile(file, Buffer.alloc(3000, 7))
      for (const seq of [5, 9, 12]) await store.put('LOG_A', seq, file, '{"k":1}')
      await store.put('LOG_B', 4, file, '{"k":2}')
      expect((await store.list('LOG_A')).map((s) => s.seq)).toEqual([5, 9, 12])
      expect([...(await store.newestSeqs())].sort()).toEqual([
        ['LOG_A', 12],
        ['LOG_B', 4],
      ])
      // a delete that did not get to purge its tombstone (the Object Store's own delete)
      const os = await new Objm(logs.connection).open('STORETEST_snapshots')
      await os.delete('LOG_A/0000000000000012')
      expect((await store.list('LOG_A')).map((s) => s.seq)).toEqual([5, 9])
      // the listing purged the tombstone: the newest seqs no longer count it
      expect((await store.newestSeqs()).get('LOG_A')).toBe(9)
      // removed, then the same snapshot written again (a second writer): the new one stays
      await store.remove('LOG_A', 9)
      await store.put('LOG_A', 9, file, '{"k":3}')
      await store.remove('LOG_A', 9).then(() => store.put('LOG_A', 9, file, '{"k":4}'))
      const kept = await store.list('LOG_A')
      expect(kept.map((s) => [s.seq, s.config])).toEqual([
        [5, '{"k":1}'],
        [9, '{"k":4}'],
      ])
      const out = join(dir, 'back')
      await store.download('LOG_A', 9, out)
      expect(await readFile(out)).toEqual(Buffer.alloc(3000, 7))
      await store.removeAll('LOG_A')
      await store.removeAll('LOG_B')
      expect(await store.list('LOG_A')).toEqual([])
      expect((await store.newestSeqs()).size).toBe(0)
      await expect(store.download('LOG_A', 5, join(dir, 'gone'))).rejects.toMatchObject({
        code: 'SNAPSHOT_NOT_FOUND',
      })
    } finally {
      await logs.close()
    }
  }, 30_000)
})
