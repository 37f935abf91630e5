// Qdrant's `write_consistency_factor` and `consistency` read parameter in cluster mode (issue 14,
// docs/cluster.md "Consistency"): a `wait=true` write with factor W returns once W replicas of
// every shard applied it; a read with `consistency` N once N replicas of every shard caught up;
// fewer able to: SHARD_UNAVAILABLE (503), never a hang. Against a real nats-server, three
// `Quiver` nodes in this process and one `quiver serve --cluster` through the Qdrant client.
// Skipped (saying how to install it) without nats-server.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openCatalog, peerIdOf } from '../src/cluster/catalog.js'
import { connectJetStreamLogs } from '../src/cluster/jetstream-log.js'
import { type HostedCollection, QuiverError } from '../src/index.js'
import { localShards } from '../src/shards/open.js'
import { type CliProcess, spawnCli } from './support/cli.js'
import { type InProcessNode, openInProcessNode, seededVector } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 4

if (natsServerMissing !== null) console.warn(`skipping the cluster consistency suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 31)

/** The points shard `shardId` holds on this node, counted on the local shard itself (no read barrier, no fan-out). */
async function localCount(c: HostedCollection, shardId: number): Promise<number | undefined> {
  const shard = localShards(c).find((s) => s.shardId === shardId)?.shard
  return shard === undefined ? undefined : shard.count()
}

/** The first id from `from` on that falls in one of `shards` of collection `c`. */
function idIn(c: HostedCollection, shards: readonly number[], from: number): number {
  const shardOf = (id: number) => (c as unknown as { shardOf(id: number): number }).shardOf(id)
  let id = from
  while (!shards.includes(shardOf(id))) id++
  return id
}

async function rejection(p: Promise<unknown>): Promise<QuiverError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  )
  expect(e).toBeInstanceOf(QuiverError)
  return e as QuiverError
}

describe.skipIf(natsServerMissing !== null)(
  'cluster consistency: write_consistency_factor and read consistency',
  () => {
    let nats: NatsServer
    const dirs: string[] = []
    const nodes: InProcessNode[] = []
    let server: CliProcess | undefined

    beforeAll(async () => {
      nats = await startNats()
      for (const id of ['ca', 'cb', 'cc']) {
        const d = await mkdtemp(join(tmpdir(), `quiver-consist-${id}-`))
        dirs.push(d)
        nodes.push(await openInProcessNode(nats.url, id, d))
      }
      const deadline = performance.now() + 10_000
      for (const n of nodes)
        while ((await n.catalog.status()).peers.length !== 3 || n.catalog.liveNodes().size !== 3)
          expect(performance.now()).toBeLessThan(deadline)
    }, 60_000)
    afterAll(async () => {
      await server?.kill()
      for (const n of nodes) await n.close().catch(() => undefined)
      await nats?.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    })

    it('a write with factor 2 is applied on both replicas when it returns; reads ask for the replicas they need', async () => {
      const [a] = nodes as [InProcessNode, InProcessNode, InProcessNode]
      // more confirmations than replicas could ever give: refused at create, nothing made
      const tooMany = await rejection(
        a.db.createCollection('never', {
          dimension: DIM,
          metric: 'Dot',
          params: { shardNumber: 2, replicationFactor: 2, writeConsistencyFactor: 3 },
        }),
      )
      expect(tooMany.code).toBe('INVALID_CONFIG')
      expect(a.db.listCollections()).not.toContain('never')

      const docs = await a.db.createCollection('docs', {
        dimension: DIM,
        metric: 'Dot',
        params: { shardNumber: 3, replicationFactor: 2, writeConsistencyFactor: 2 },
      })
      const placement = (await a.db.shardPlacement('docs'))!
      // nor by a later change of the parameters, which changes nothing then
      for (const params of [{ writeConsistencyFactor: 3 }, { replicationFactor: 1 }]) {
        const patched = await rejection(a.db.updateCollection('docs', { params }))
        expect([params, patched.code]).toEqual([params, 'INVALID_CONFIG'])
      }
      expect((await a.db.getCollection('docs')).config.params).toMatchObject({
        replicationFactor: 2,
        writeConsistencyFactor: 2,
      })
      for (const n of nodes) await n.db.syncCatalog()
      const byId = new Map(nodes.map((n) => [n.id, n]))
      // each write through a node that hosts at most one replica of a shard: as it returns, every
      // replica of every shard holds what was written so far, counted on the replicas themselves
      for (let batch = 0; batch < 6; batch++) {
        const via = nodes[batch % 3]!
        await (await via.db.getCollection('docs')).upsert(
          Array.from({ length: 10 }, (_, k) => ({ id: batch * 10 + k + 1, vector: vec(batch * 10 + k + 1) })),
        )
        const counts = await Promise.all(
          placement.map(async (replicas, shardId) =>
            Promise.all(
              replicas.map(async (r) => localCount(await byId.get(r)!.db.getCollection('docs'), shardId)),
            ),
          ),
        )
        const perShard = counts.map((c) => c[0]!)
        for (const c of counts) expect(c[0]).toBe(c[1])
        expect(perShard.reduce((x, y) => x + y, 0)).toBe((batch + 1) * 10)
      }
      // reads: all (2 of 2), majority (2 of 2), a number; more than a shard has is refused
      for (const consistency of ['all', 'majority', 'quorum', 2, 1] as const)
        expect(await docs.count({ consistency })).toBe(60)
      expect((await docs.search(vec(7), { limit: 3, consistency: 'all' })).length).toBe(3)
      const three = await rejection(docs.count({ consistency: 3 }))
      expect(three.code).toBe('INVALID_ARGUMENT')
      expect(three.message).toContain('more replicas than a shard has (2)')
    }, 60_000)

    it('with a replica gone: consistency 1 reads go on, all fails fast; a factor 2 write answers SHARD_UNAVAILABLE', async () => {
      const [a, b, c] = nodes as [InProcessNode, InProcessNode, InProcessNode]
      const placement = (await a.db.shardPlacement('docs'))!
      await c.close()
      const deadline = performance.now() + 10_000
      while ((await a.catalog.status()).peers.length !== 2 || a.catalog.liveNodes().size !== 2)
        expect(performance.now()).toBeLessThan(deadline)
      const docs = await a.db.getCollection('docs')
      expect(await docs.count()).toBe(60)
      expect(await docs.count({ consistency: 1 })).toBe(60)
      const started = performance.now()
      const all = await rejection(docs.count({ consistency: 'all' }))
      expect(all.code).toBe('SHARD_UNAVAILABLE')
      expect(all.message).toMatch(/needs 2 replicas of shard \d/)
      // c is not live: nobody waits for it
      expect(performance.now() - started).toBeLessThan(5000)
      const onC = placement.map((r, i) => (r.includes('cc') ? i : -1)).filter((i) => i >= 0)
      expect(onC.length).toBe(2)
      // a write touching only the shard c does not host: both its replicas are live, confirmed
      const fine = idIn(
        docs,
        [0, 1, 2].filter((i) => !onC.includes(i)),
        900,
      )
      expect((await docs.upsert([{ id: fine, vector: vec(fine) }])).status).toBe('completed')
      // a write touching a shard c hosted: in the log (and applied on the live replica), not confirmed twice
      const one = idIn(docs, onC, 1000)
      const two = idIn(docs, onC, one + 1)
      const w = await rejection(
        docs.upsert([
          { id: one, vector: vec(one) },
          { id: two, vector: vec(two) },
        ]),
      )
      expect(w.code).toBe('SHARD_UNAVAILABLE')
      expect(w.message).toContain('write_consistency_factor 2')
      expect(w.message).toContain('too few of its replicas are alive')
      expect(await (await b.db.getCollection('docs')).count()).toBe(63)
    }, 60_000)

    it('over REST through the Qdrant client: consistency on reads, 503 for a write short of replicas', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'quiver-consist-srv-'))
      dirs.push(dir)
      server = spawnCli([
        'serve',
        '--data',
        dir,
        '--port',
        '0',
        '--threads',
        '0',
        '--log-level',
        'warn',
        '--cluster',
        nats.url,
        '--node-id',
        'cs',
        // its controller moves nothing: the suite's placement stays as it made it
        '--no-rebalance',
      ])
      const url = /Quiver listening on (\S+)/.exec(await server.waitFor(/Quiver listening on (\S+)/))![1]!
      const client = new QdrantClient({ url, checkCompatibility: false })
      // the server attaches docs from the catalog; ca and cb are live, cc is gone
      const until = performance.now() + 20_000
      while (!(await client.collectionExists('docs')).exists) expect(performance.now()).toBeLessThan(until)
      expect((await client.count('docs', { exact: true, consistency: 'majority' } as never)).count).toBe(63)
      // PATCH checks the factors as create does (a 400, nothing changed)
      const patched = await fetch(`${url}/collections/docs`, {
        method: 'PATCH',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ params: { write_consistency_factor: 9 } }),
      })
      expect([
        patched.status,
        ((await patched.json()) as { status: { error: string } }).status.error,
      ]).toEqual([
        400,
        expect.stringContaining('write_consistency_factor 9 is more than replication_factor 2'),
      ])
      const hits = await client.query('docs', { query: vec(5), limit: 2, consistency: 1 } as never)
      expect(hits.points).toHaveLength(2)
      const bad = await fetch(`${url}/collections/docs/points/count?consistency=most`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      expect(bad.status).toBe(400)
      const tooMany = await fetch(`${url}/collections/docs/points/count?consistency=3`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
      expect(tooMany.status).toBe(400)
      // a shard hosted on cc: the write is in its log, but one replica cannot confirm factor 2
      const docsHere = await nodes[0]!.db.getCollection('docs')
      const onC = (await nodes[0]!.db.shardPlacement('docs'))!.flatMap((r, i) =>
        r.includes('cc') ? [i] : [],
      )
      const x = idIn(docsHere, onC, 2000)
      const write = await client.upsert('docs', { wait: true, points: [{ id: x, vector: vec(x) }] }).then(
        () => undefined,
        (e: unknown) => e as { status?: number },
      )
      expect(write?.status).toBe(503)
    }, 60_000)

    it('a replica placed on a node that does not serve it yet shows as Partial, with a shard transfer to it', async () => {
      const [a] = nodes as [InProcessNode]
      // a node in the cluster (heartbeats) with no database: it never catches up
      const logs = await connectJetStreamLogs({ servers: [nats.url], shared: true })
      const catalog = await openCatalog(logs, { nodeId: 'fk', heartbeatMs: 200 })
      try {
        const deadline = performance.now() + 10_000
        while (!a.catalog.liveNodes().has('fk')) {
          await a.catalog.status()
          expect(performance.now()).toBeLessThan(deadline)
        }
        const from = (await a.db.shardPlacement('docs'))![0]!.find((n) => n !== 'cc')!
        await a.db.updateCollectionCluster('docs', {
          replicateShard: { shardId: 0, fromPeerId: peerIdOf(from), toPeerId: peerIdOf('fk') },
        })
        const info = await (await a.db.getCollection('docs')).clusterInfo()
        expect(info.remoteShards).toContainEqual({ shardId: 0, peerId: peerIdOf('fk'), state: 'Partial' })
        expect(info.shardTransfers).toContainEqual(
          expect.objectContaining({ shardId: 0, to: peerIdOf('fk'), from: peerIdOf(from), sync: true }),
        )
        // one transfer of a shard at a time
        const second = await rejection(
          a.db.updateCollectionCluster('docs', {
            replicateShard: { shardId: 0, fromPeerId: peerIdOf(from), toPeerId: peerIdOf('cs') },
          }),
        )
        expect(second.code).toBe('INVALID_ARGUMENT')
        expect(second.message).toContain('is in progress')
        // reads go on from the replicas that serve
        expect(await (await a.db.getCollection('docs')).count()).toBe(64)
        await a.db.updateCollectionCluster('docs', { dropReplica: { shardId: 0, peerId: peerIdOf('fk') } })
        expect((await (await a.db.getCollection('docs')).clusterInfo()).shardTransfers).toEqual([])
      } finally {
        await catalog.close()
        await logs.close()
      }
    }, 60_000)
  },
)
