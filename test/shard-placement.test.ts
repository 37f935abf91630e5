// Shard placement (issue 14, docs/cluster.md "Shard placement"): a collection created with
// `replicationFactor` R in cluster mode is hosted by R of the live nodes per shard; every other
// node reaches those shards over NATS request/reply (src/shards/remote.ts). Against a real
// nats-server and three `Quiver` nodes in this process: answers through every node equal a single
// node's with the same points, writes through a node that hosts none of a point's shard are visible
// at once through any node, a shard whose only replica is gone fails with SHARD_UNAVAILABLE while
// R=2 keeps answering, malformed or forbidden requests are refused and change nothing, a restarted
// node opens its remote shards from disk, a drop removes every shard's stream.
// Skipped (saying how to install it) without nats-server.
import { access, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { deserialize, serialize } from 'node:v8'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openCatalog, peerIdOf } from '../src/cluster/catalog.js'
import { connectJetStreamLogs } from '../src/cluster/jetstream-log.js'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { shardTopic } from '../src/shards/remote.js'
import { type InProcessNode, openInProcessNode, seededVector } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 6

if (natsServerMissing !== null) console.warn(`skipping the shard placement suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 11)

type Node = InProcessNode

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  )
}

/** The ids and float32 scores of a fixed exact search. */
async function refSearch(c: HostedCollection): Promise<[number, number][]> {
  return (await c.search(vec(777), { limit: 10, exact: true })).map((h) => [
    h.id as number,
    Math.fround(h.score),
  ])
}

async function sortedIds(c: HostedCollection): Promise<number[]> {
  return (await c.scroll({ limit: 10_000 })).points.map((p) => p.id as number).sort((a, b) => a - b)
}

describe.skipIf(natsServerMissing !== null)(
  'shard placement: shards on some nodes, reached over NATS',
  () => {
    let nats: NatsServer
    const dirs: string[] = []
    const open: Node[] = []
    let ref: Quiver
    let refDocs: HostedCollection
    const nodes: Node[] = []

    async function node(id: string, dir?: string): Promise<Node> {
      const d = dir ?? (await mkdtemp(join(tmpdir(), `quiver-place-${id}-`)))
      if (dir === undefined) dirs.push(d)
      const n = await openInProcessNode(nats.url, id, d)
      open.push(n)
      return n
    }

    /** Until every node sees `count` live nodes (heartbeats every 200 ms), bounded. */
    async function untilLive(count: number): Promise<void> {
      const deadline = performance.now() + 10_000
      for (const n of nodes) {
        while ((await n.catalog.status()).peers.length !== count)
          expect(performance.now()).toBeLessThan(deadline)
        // the cached view a create places by
        while (n.catalog.liveNodes().size !== count) await n.catalog.status()
      }
    }

    beforeAll(async () => {
      nats = await startNats()
      for (const id of ['pa', 'pb', 'pc']) nodes.push(await node(id))
      await untilLive(3)
      const refDir = await mkdtemp(join(tmpdir(), 'quiver-place-ref-'))
      dirs.push(refDir)
      ref = await Quiver.open(refDir, { threads: 0 })
      refDocs = await ref.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
    }, 60_000)
    afterAll(async () => {
      await ref?.close()
      for (const n of open) await n.close().catch(() => undefined)
      await nats?.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    })

    it('R=1 over three nodes: each shard on one node, answers through every node equal one node', async () => {
      const [a, b, c] = nodes as [Node, Node, Node]
      await a.db.createCollection('docs', {
        dimension: DIM,
        metric: 'Euclid',
        params: { shardNumber: 3, replicationFactor: 1 },
      })
      const placement = await a.db.shardPlacement('docs')
      expect(placement).toHaveLength(3)
      expect(placement!.every((p) => p.length === 1)).toBe(true)
      expect(new Set(placement!.map((p) => p[0])).size).toBe(3)
      // each node holds its own shard's data and remote.json for the two others
      for (const n of nodes) {
        await n.db.syncCatalog()
        for (const [i, p] of placement!.entries()) {
          expect(await exists(join(n.dir, 'collections', 'docs', 'shards', String(i), 'remote.json'))).toBe(
            p[0] !== n.id,
          )
        }
      }
      // writes through every node, each batch spread over all shards
      for (let batch = 0; batch < 9; batch++) {
        const via = nodes[batch % 3]!
        const points = Array.from({ length: 30 }, (_, k) => {
          const id = batch * 30 + k + 1
          return { id, vector: vec(id), payload: { batch, even: id % 2 === 0 } }
        })
        await (await via.db.getCollection('docs')).upsert(points)
        await refDocs.upsert(points)
      }
      const want = await refDocs.search(vec(9999), { limit: 10, exact: true })
      const wantIds = await sortedIds(refDocs)
      for (const n of [a, b, c]) {
        const docs = await n.db.getCollection('docs')
        expect(await docs.count()).toBe(270)
        expect(await sortedIds(docs)).toEqual(wantIds)
        const got = await docs.search(vec(9999), { limit: 10, exact: true })
        expect(got.map((h) => h.id)).toEqual(want.map((h) => h.id))
        expect(got.map((h) => Math.fround(h.score))).toEqual(want.map((h) => Math.fround(h.score)))
        const filtered = await docs.query({
          query: vec(4242),
          limit: 5,
          filter: { must: [{ key: 'even', match: { value: true } }] },
          params: { exact: true },
        })
        const refFiltered = await refDocs.query({
          query: vec(4242),
          limit: 5,
          filter: { must: [{ key: 'even', match: { value: true } }] },
          params: { exact: true },
        })
        expect(filtered.points.map((p) => p.id)).toEqual(refFiltered.points.map((p) => p.id))
        const got3 = await docs.get([3, 100, 269, 5000], { withPayload: true })
        expect(got3.map((p) => [p.id, p.payload?.batch])).toEqual([
          [3, 0],
          [100, 3],
          [269, 8],
        ])
        // a snapshot needs every shard here: refused for docs, which a full snapshot leaves out
        const snap = await n.db.createSnapshot('docs').catch((e: unknown) => e)
        expect((snap as QuiverError).code).toBe('INVALID_ARGUMENT')
        expect((snap as QuiverError).message).toContain('not on this node')
        await expect(n.db.createFullSnapshot()).resolves.toMatchObject({
          name: expect.stringMatching(/^full-/),
        })
        const info = await docs.clusterInfo()
        expect(info.localShards.map((s) => s.shardId)).toEqual([placement!.findIndex((p) => p[0] === n.id)])
        expect(info.remoteShards).toHaveLength(2)
      }
    }, 60_000)

    it('a write acknowledged through one node is read at once through the others', async () => {
      for (let i = 0; i < 12; i++) {
        const writer = nodes[i % 3]!
        const reader = nodes[(i + 1) % 3]!
        const id = 10_000 + i
        await (await writer.db.getCollection('docs')).upsert([{ id, vector: vec(id), payload: { fresh: i } }])
        const [p] = await (await reader.db.getCollection('docs')).get([id], { withPayload: true })
        expect(p?.payload).toEqual({ fresh: i })
        await (await writer.db.getCollection('docs')).delete({ ids: [id] })
        expect(await (await reader.db.getCollection('docs')).get([id])).toEqual([])
      }
    }, 60_000)

    it('a write sent again with its writeId, through any node, is stored once', async () => {
      const [a, b] = nodes as [Node, Node, Node]
      const point = { id: 20_001, vector: vec(20_001), payload: { v: 1 } }
      const first = await (await a.db.getCollection('docs')).upsert([point], { writeId: 'retry-1' })
      const again = await (await b.db.getCollection('docs')).upsert([{ ...point, payload: { v: 2 } }], {
        writeId: 'retry-1',
      })
      expect(again.operationId).toBe(first.operationId)
      const [p] = await (await b.db.getCollection('docs')).get([20_001], { withPayload: true })
      expect(p?.payload).toEqual({ v: 1 })
      const bad = await (await a.db.getCollection('docs'))
        .upsert([point], { writeId: 'no spaces' })
        .catch((e: unknown) => e)
      expect((bad as QuiverError).code).toBe('INVALID_ARGUMENT')
      await (await a.db.getCollection('docs')).delete({ ids: [20_001] })
    }, 30_000)

    it('a collection whose name is as long as names go is placed and served like any other', async () => {
      const [a, b] = nodes as [Node, Node, Node]
      const name = `${'x_'.repeat(95)}.y`
      const long = await a.db.createCollection(name, {
        dimension: DIM,
        metric: 'Euclid',
        params: { shardNumber: 3, replicationFactor: 1 },
      })
      await long.upsert(Array.from({ length: 30 }, (_, k) => ({ id: k + 1, vector: vec(k + 1) })))
      expect(await (await b.db.getCollection(name)).count()).toBe(30)
      await a.db.deleteCollection(name)
    }, 30_000)

    it('refuses malformed and forbidden shard requests, and keeps serving', async () => {
      const placement = (await nodes[0]!.db.shardPlacement('docs'))!
      const host = placement[0]![0]!
      const logId = (await nodes[0]!.db.getCollection('docs')).logIds[0]!
      const nc = await connect({ servers: [nats.url] })
      try {
        const subject = `QUIVER.rpc.${host}.${shardTopic(logId)}`
        for (const body of [
          new Uint8Array([1, 2, 3]),
          serialize({ m: 'close', a: [] }),
          serialize({ m: 'destroyLog', a: [] }),
          serialize({ m: '__proto__', a: [] }),
          serialize({ m: 'count', a: 'not a list' }),
          serialize({ m: 'upsert', a: [[{ id: -1, vector: [1] }]] }),
          // a few bytes saying "length 2^32 - 1": refused before anything walks it
          serialize({ m: 'updateVectors', a: [new Array(2 ** 32 - 1)] }),
        ]) {
          const answer = deserialize((await nc.request(subject, body, { timeout: 5000 })).data) as {
            e?: { code: string }
          }
          expect(answer.e?.code).toMatch(/^INVALID_/)
        }
      } finally {
        await nc.close()
      }
      for (const n of nodes) expect(await (await n.db.getCollection('docs')).count()).toBe(270)
    }, 30_000)

    it('replicate_shard, drop_replica and move_shard re-place a shard while it serves, nothing lost', async () => {
      const [a] = nodes as [Node, Node, Node]
      const moving = await a.db.createCollection('moving', {
        dimension: DIM,
        metric: 'Dot',
        params: { shardNumber: 2, replicationFactor: 1 },
      })
      await moving.upsert(Array.from({ length: 100 }, (_, k) => ({ id: k + 1, vector: vec(k + 1) })))
      const byId = new Map(nodes.map((n) => [n.id, n]))
      const placementNow = async () => (await a.db.shardPlacement('moving'))!
      const hostsHere = async (n: Node, shard: number) =>
        (await (await n.db.getCollection('moving')).clusterInfo()).localShards.some(
          (s) => s.shardId === shard && s.state === 'Active',
        )
      /** Until `cond` holds, bounded (the catalog watch and the new replica's catch-up are asynchronous). */
      const until = async (what: string, cond: () => Promise<boolean>) => {
        const deadline = performance.now() + 20_000
        while (!(await cond())) expect(performance.now(), what).toBeLessThan(deadline)
      }
      const [[x], [z]] = (await placementNow()) as [[string], [string]]
      const y = nodes.find((n) => n.id !== x)!.id
      // replicate shard 0 to y (through a third node or x), then write before it caught up
      const via = nodes.find((n) => n.id !== y)!
      await via.db.updateCollectionCluster('moving', {
        replicateShard: { shardId: 0, fromPeerId: peerIdOf(x), toPeerId: peerIdOf(y) },
      })
      expect((await placementNow())[0]).toEqual([x, y])
      await moving.upsert(Array.from({ length: 50 }, (_, k) => ({ id: 1000 + k, vector: vec(1000 + k) })))
      await until(`${y} hosts shard 0`, () => hostsHere(byId.get(y)!, 0))
      expect(
        await exists(join(byId.get(y)!.dir, 'collections', 'moving', 'shards', '0', 'remote.json')),
      ).toBe(false)
      for (const n of nodes) expect(await (await n.db.getCollection('moving')).count()).toBe(150)
      // drop the original replica: x hands shard 0 to y
      await a.db.updateCollectionCluster('moving', { dropReplica: { shardId: 0, peerId: peerIdOf(x) } })
      await until(`${x} no longer hosts shard 0`, async () => !(await hostsHere(byId.get(x)!, 0)))
      expect(
        await exists(join(byId.get(x)!.dir, 'collections', 'moving', 'shards', '0', 'remote.json')),
      ).toBe(true)
      // the last replica cannot go
      const last = await a.db
        .updateCollectionCluster('moving', { dropReplica: { shardId: 0, peerId: peerIdOf(y) } })
        .catch((e: unknown) => e)
      expect((last as QuiverError).code).toBe('INVALID_ARGUMENT')
      expect((last as QuiverError).message).toContain('one replica')
      // move shard 1 off z: the new replica first, then z goes once it serves
      const w = nodes.find((n) => n.id !== z)!.id
      await a.db.updateCollectionCluster('moving', {
        moveShard: { shardId: 1, fromPeerId: peerIdOf(z), toPeerId: peerIdOf(w) },
      })
      await until('shard 1 moved', async () => {
        const p = (await placementNow())[1]!
        return p.length === 1 && p[0] === w
      })
      await until(`${z} no longer hosts shard 1`, async () => !(await hostsHere(byId.get(z)!, 1)))
      const want = await refSearch(moving)
      for (const n of nodes) {
        const c = await n.db.getCollection('moving')
        expect(await c.count()).toBe(150)
        expect(await refSearch(c)).toEqual(want)
      }
      // refused, the placement left as it was: a shard out of range, a peer holding no replica, a
      // peer not alive, a collection held whole
      const placedBefore = await placementNow()
      for (const [op, msg] of [
        [{ dropReplica: { shardId: 2, peerId: peerIdOf(w) } }, 'shard_id'],
        [
          { replicateShard: { shardId: 1, fromPeerId: peerIdOf(z), toPeerId: peerIdOf(y) } },
          'holds no replica',
        ],
        [{ replicateShard: { shardId: 1, fromPeerId: peerIdOf(w), toPeerId: 12345 } }, 'not a live peer'],
      ] as const) {
        const e = await a.db.updateCollectionCluster('moving', op).catch((err: unknown) => err)
        expect((e as QuiverError).code).toBe('INVALID_ARGUMENT')
        expect((e as QuiverError).message).toContain(msg)
      }
      expect(await placementNow()).toEqual(placedBefore)
      await a.db.createCollection('whole', { dimension: DIM, metric: 'Dot' })
      const whole = await a.db
        .updateCollectionCluster('whole', { dropReplica: { shardId: 0, peerId: peerIdOf(x) } })
        .catch((e: unknown) => e)
      expect((whole as QuiverError).message).toContain('held whole by every node')
      await a.db.deleteCollection('whole')
    }, 90_000)

    it('R=2 keeps answering with a node gone; R=1 fails with SHARD_UNAVAILABLE for its shard only', async () => {
      const [a, , c] = nodes as [Node, Node, Node]
      const dup = await a.db.createCollection('dup', {
        dimension: DIM,
        metric: 'Cosine',
        params: { shardNumber: 3, replicationFactor: 2 },
      })
      expect((await a.db.shardPlacement('dup'))!.every((p) => p.length === 2)).toBe(true)
      await dup.upsert(Array.from({ length: 60 }, (_, k) => ({ id: k + 1, vector: vec(k + 1) })))
      await c.close()
      // until a sees c gone (3 missed heartbeats of 200 ms)
      const deadline = performance.now() + 10_000
      while ((await a.catalog.status()).peers.length !== 2) expect(performance.now()).toBeLessThan(deadline)
      while (a.catalog.liveNodes().size !== 2) await a.catalog.status()
      const dupA = await a.db.getCollection('dup')
      expect(await dupA.count()).toBe(60)
      expect((await dupA.search(vec(3), { limit: 1 }))[0]?.id).toBe(3)
      const docsA = await a.db.getCollection('docs')
      const cShard = (await a.db.shardPlacement('docs'))!.findIndex((p) => p[0] === 'pc')
      const err = await docsA.count().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(QuiverError)
      expect((err as QuiverError).code).toBe('SHARD_UNAVAILABLE')
      expect((err as QuiverError).message).toContain(`shard ${cShard}`)
      // a point of another shard is still read
      const ids = Array.from({ length: 30 }, (_, k) => k + 1)
      const served = await docsA.get(
        ids.filter((id) => (docsA as unknown as { shardOf(id: number): number }).shardOf(id) !== cShard),
      )
      expect(served.length).toBeGreaterThan(0)
      const info = await dupA.clusterInfo()
      expect(info.localShards.length + info.remoteShards.length).toBe(6)
    }, 60_000)

    it('a restarted node opens its remote shards from disk and answers; a drop removes every stream', async () => {
      const a = nodes[0]!
      const dir = a.dir
      const logIds = [...(await a.db.getCollection('dup')).logIds]
      await a.close()
      const again = await node('pa', dir)
      nodes[0] = again
      const dup = await again.db.getCollection('dup')
      expect(await dup.count()).toBe(60)
      expect(await again.db.deleteCollection('dup')).toBe(true)
      const nc = await connect({ servers: [nats.url] })
      try {
        const jsm = await jetstreamManager(nc)
        for (const id of logIds) await expect(jsm.streams.info(id)).rejects.toThrow()
      } finally {
        await nc.close()
      }
      const b = nodes[1]!
      await b.db.syncCatalog()
      expect(b.db.listCollections()).not.toContain('dup')
    }, 60_000)

    it('a node still loading its data is alive but gets no replicas until it is ready', async () => {
      const [a] = nodes as [Node, Node, Node]
      const logs = await connectJetStreamLogs({ servers: [nats.url], shared: true })
      let ready = false
      const loading = await openCatalog(logs, {
        nodeId: 'loading',
        uri: 'http://127.0.0.1/loading',
        heartbeatMs: 200,
        ready: () => ready,
      })
      try {
        const seen = async (want: boolean) => {
          const deadline = performance.now() + 10_000
          for (;;) {
            const p = (await a.catalog.status()).peers.find((x) => x.nodeId === 'loading')
            if (p !== undefined && p.ready === want && a.catalog.readyNodes?.().has('loading') === want)
              return
            expect(performance.now()).toBeLessThan(deadline)
          }
        }
        await seen(false)
        expect(a.catalog.liveNodes().has('loading')).toBe(true)
        await a.db.createCollection('early', {
          dimension: DIM,
          metric: 'Dot',
          params: { shardNumber: 4, replicationFactor: 3 },
        })
        for (const replicas of (await a.db.shardPlacement('early'))!)
          expect(replicas).not.toContain('loading')
        ready = true
        await loading.announce()
        await seen(true)
        await a.db.createCollection('late', {
          dimension: DIM,
          metric: 'Dot',
          params: { shardNumber: 2, replicationFactor: 4 },
        })
        for (const replicas of (await a.db.shardPlacement('late'))!) expect(replicas).toContain('loading')
        await a.db.deleteCollection('late')
        await a.db.deleteCollection('early')
      } finally {
        await loading.close()
        await logs.close()
      }
    }, 60_000)

    it('two drop_replicas at once never leave a shard only on a replica that does not serve it', async () => {
      const [a, b] = nodes as [Node, Node, Node]
      // a fourth node that heartbeats but answers no shard requests (as one still catching up)
      const mute = await openInProcessNode(
        nats.url,
        'mute',
        await mkdtemp(join(tmpdir(), 'quiver-place-mute-')),
        {
          transport: false,
        },
      )
      open.push(mute)
      dirs.push(mute.dir)
      try {
        while (!a.catalog.liveNodes().has('mute')) await a.catalog.status()
        const racing = await a.db.createCollection('racing', {
          dimension: DIM,
          metric: 'Dot',
          params: { shardNumber: 1, replicationFactor: 2 },
        })
        await racing.upsert([{ id: 1, vector: vec(1) }])
        const [first, second] = (await a.db.shardPlacement('racing'))![0] as [string, string]
        // once both first replicas serve (one transfer of a shard at a time), bounded
        const deadline = performance.now() + 10_000
        for (;;) {
          const done = await a.db
            .updateCollectionCluster('racing', {
              replicateShard: { shardId: 0, fromPeerId: peerIdOf(first), toPeerId: peerIdOf('mute') },
            })
            .catch((err: unknown) => {
              if (!(err as Error).message.includes('is in progress')) throw err
              return false
            })
          if (done) break
          expect(performance.now()).toBeLessThan(deadline)
        }
        // both checks see the other replica serving; the compare-and-set lets one drop through
        const results = await Promise.allSettled([
          a.db.updateCollectionCluster('racing', { dropReplica: { shardId: 0, peerId: peerIdOf(first) } }),
          b.db.updateCollectionCluster('racing', { dropReplica: { shardId: 0, peerId: peerIdOf(second) } }),
        ])
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
        const refused = results.find((r) => r.status === 'rejected') as PromiseRejectedResult
        expect(refused.reason).toMatchObject({ code: 'INVALID_ARGUMENT' })
        expect((refused.reason as Error).message).toContain('serves it now')
        const left = (await a.db.shardPlacement('racing'))![0]!
        expect(left).toHaveLength(2)
        expect(left).toContain('mute')
        expect(await (await a.db.getCollection('racing')).count()).toBe(1)
        await a.db.deleteCollection('racing')
      } finally {
        await mute.close()
      }
    }, 60_000)
  },
)
