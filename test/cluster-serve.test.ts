// `quiver serve --cluster` (issue 14): three Quiver nodes as real child processes over a real
// nats-server, driven through the unchanged Qdrant JS client. A collection created with 3 shards
// through one node is served by every node; points upserted through all nodes answer every node's
// queries exactly as a single-node collection holding the same points does; GET /cluster and
// GET /collections/{c}/cluster report the nodes. Then a node is SIGKILLed during a write load
// through all three: every write acknowledged by any node is on every live node, nothing is half
// applied, the live nodes answer reads throughout, and the restarted node catches up and serves
// the same answers. Skipped (saying how to install it) without nats-server.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Quiver } from '../src/index.js'
import { spawnCli } from './support/cli.js'
import { idsOn, type QuiverNode, seededVector } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 16
const N = 1200

if (natsServerMissing !== null) console.warn(`skipping the cluster server suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 99991)

describe.skipIf(natsServerMissing !== null)('quiver serve --cluster: three nodes over NATS JetStream', () => {
  let nats: NatsServer
  const dirs: string[] = []
  const nodes: QuiverNode[] = []

  async function startNode(nodeId: string, dir?: string): Promise<QuiverNode> {
    const d = dir ?? (await mkdtemp(join(tmpdir(), `quiver-cluster-${nodeId}-`)))
    if (dir === undefined) dirs.push(d)
    const proc = spawnCli(
      ['serve', '--data', d, '--port', '0', '--threads', '0', '--log-level', 'warn'],
      // the environment variables, as a container would set them
      { env: { QUIVER__CLUSTER__URL: nats.url, QUIVER__CLUSTER__NODE_ID: nodeId } },
    )
    const line = await proc.waitFor(/Quiver listening on (\S+)/)
    expect(line).toContain(`cluster node ${nodeId}`)
    const url = /Quiver listening on (\S+)/.exec(line)![1]!
    const node = { nodeId, dir: d, proc, url, client: new QdrantClient({ url, checkCompatibility: false }) }
    nodes.push(node)
    return node
  }

  beforeAll(async () => {
    nats = await startNats()
  }, 30_000)
  afterAll(async () => {
    for (const n of nodes) await n.proc.kill()
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('serves one collection from every node, equal to a single node, and survives a node SIGKILLed mid-load', async () => {
    const [n1, n2, n3] = [await startNode('n1'), await startNode('n2'), await startNode('n3')]
    const all = [n1, n2, n3]

    // membership: every node sees the three, and they agree on the controller
    const statuses = await Promise.all(
      // biome-ignore lint/suspicious/noExplicitAny: Qdrant's ClusterStatus JSON, checked field by field
      all.map(async (n) => ((await fetch(`${n.url}/cluster`).then((r) => r.json())) as any).result),
    )
    for (const s of statuses) {
      expect(s.status).toBe('enabled')
      expect(Object.keys(s.peers)).toHaveLength(3)
      expect(s.raft_info.leader).toBe(statuses[0].raft_info.leader)
    }
    expect(new Set(statuses.map((s) => s.peer_id)).size).toBe(3)
    expect(
      Object.values(statuses[0].peers)
        .map((p) => (p as { uri: string }).uri)
        .sort(),
    ).toEqual(all.map((n) => n.url).sort())

    await n1.client.createCollection('docs', {
      vectors: { size: DIM, distance: 'Euclid' },
      shard_number: 3,
      replication_factor: 2,
    })
    // another node knows it at once
    expect((await n2.client.collectionExists('docs')).exists).toBe(true)
    expect((await n3.client.getCollections()).collections.map((c) => c.name)).toEqual(['docs'])
    await n3.client.createPayloadIndex('docs', { field_name: 'group', field_schema: 'keyword', wait: true })

    // upserts round-robin through the three nodes
    // the wire carries scores as float32 (Qdrant's), so they are compared as float32
    const point = (i: number) => ({ id: i, vector: vec(i), payload: { group: `g${i % 5}`, i } })
    for (let b = 0; b < N / 100; b++) {
      const node = all[b % 3]!
      await node.client.upsert('docs', {
        wait: true,
        points: Array.from({ length: 100 }, (_, k) => point(b * 100 + k)),
      })
    }

    // the reference: one single-node collection with the same points
    const refDir = await mkdtemp(join(tmpdir(), 'quiver-cluster-ref-'))
    dirs.push(refDir)
    const ref = await Quiver.open(refDir, { threads: 0 })
    const refDocs = await ref.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
    await refDocs.upsert(Array.from({ length: N }, (_, i) => point(i)))
    const filter = { must: [{ key: 'group', match: { value: 'g2' } }] }
    for (const q of [3, 77, 501]) {
      const want = await refDocs.search(vec(q * 13), { limit: 10, exact: true })
      const wantFiltered = await refDocs.search(vec(q), { limit: 5, exact: true, filter })
      for (const n of all) {
        const got = await n.client.query('docs', { query: vec(q * 13), limit: 10, params: { exact: true } })
        expect(got.points.map((p) => [p.id, Math.fround(p.score)])).toEqual(
          want.map((h) => [h.id, Math.fround(h.score)]),
        )
        const gotFiltered = await n.client.search('docs', {
          vector: vec(q),
          limit: 5,
          filter,
          params: { exact: true },
        })
        expect(gotFiltered.map((p) => [p.id, Math.fround(p.score)])).toEqual(
          wantFiltered.map((h) => [h.id, Math.fround(h.score)]),
        )
      }
    }
    for (const n of all) expect((await n.client.count('docs', { exact: true })).count).toBe(N)

    // the collection's cluster info: 3 shards x 2 replicas over 3 nodes, each node hosting 2 shards
    // and naming the other replica of each (and both replicas of the shard it lacks)
    for (const n of all) {
      // biome-ignore lint/suspicious/noExplicitAny: Qdrant's CollectionClusterInfo JSON
      const ci = ((await fetch(`${n.url}/collections/docs/cluster`).then((r) => r.json())) as any).result
      expect(ci.shard_count).toBe(3)
      expect(ci.local_shards).toHaveLength(2)
      expect(ci.remote_shards).toHaveLength(4)
      const replicas = new Map<number, number[]>()
      for (const s of ci.local_shards)
        replicas.set(s.shard_id, [...(replicas.get(s.shard_id) ?? []), ci.peer_id])
      for (const s of ci.remote_shards) {
        expect(s.state).toBe('Active')
        replicas.set(s.shard_id, [...(replicas.get(s.shard_id) ?? []), s.peer_id])
      }
      expect([...replicas.keys()].sort()).toEqual([0, 1, 2])
      for (const peers of replicas.values()) expect(new Set(peers).size).toBe(2)
    }

    // Qdrant's replicate_shard then drop_replica through the unchanged client: a shard n1 lacks
    // gets a replica on n1, then one of its old replicas goes; counts stay whole throughout
    // biome-ignore lint/suspicious/noExplicitAny: Qdrant's CollectionClusterInfo JSON
    const clusterOf = async (n: QuiverNode): Promise<any> =>
      ((await fetch(`${n.url}/collections/docs/cluster`).then((r) => r.json())) as { result: unknown }).result
    const before = await clusterOf(n1)
    const local1 = new Set(before.local_shards.map((s: { shard_id: number }) => s.shard_id))
    const lacking = [0, 1, 2].find((i) => !local1.has(i))!
    const fromPeer = before.remote_shards.find((s: { shard_id: number }) => s.shard_id === lacking).peer_id
    expect(
      await n2.client.updateCollectionCluster('docs', {
        replicate_shard: { shard_id: lacking, from_peer_id: fromPeer, to_peer_id: before.peer_id },
      }),
    ).toBe(true)
    const until = async (what: string, cond: () => Promise<boolean>) => {
      const deadline = performance.now() + 30_000
      while (!(await cond())) expect(performance.now(), what).toBeLessThan(deadline)
    }
    await until('n1 hosts the shard', async () =>
      (await clusterOf(n1)).local_shards.some((s: { shard_id: number }) => s.shard_id === lacking),
    )
    for (const n of all) expect((await n.client.count('docs', { exact: true })).count).toBe(N)
    await n3.client.updateCollectionCluster('docs', {
      drop_replica: { shard_id: lacking, peer_id: fromPeer },
    })
    await until('the old replica is gone', async () => {
      const ci = await clusterOf(n2)
      const peers = [
        ...ci.local_shards.filter((s: { shard_id: number }) => s.shard_id === lacking).map(() => ci.peer_id),
        ...ci.remote_shards
          .filter((s: { shard_id: number }) => s.shard_id === lacking)
          .map((s: { peer_id: number }) => s.peer_id),
      ]
      return peers.length === 2 && !peers.includes(fromPeer) && peers.includes(before.peer_id)
    })
    for (const n of all) expect((await n.client.count('docs', { exact: true })).count).toBe(N)
    // refused as Qdrant refuses a bad operation: 400, nothing changes
    const refused = await fetch(`${n1.url}/collections/docs/cluster`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ drop_replica: { shard_id: 7, peer_id: fromPeer } }),
    })
    expect(refused.status).toBe(400)

    // a write load through all three nodes; n3 is SIGKILLed in the middle of it
    const acked = new Set<number>()
    let failedReads = 0
    let killed = false
    let longestWrite = 0
    let longestRead = 0
    const writer = async (node: QuiverNode, base: number) => {
      for (let b = 0; b < 40; b++) {
        const ids = Array.from({ length: 10 }, (_, k) => base + b * 10 + k)
        try {
          const t0 = performance.now()
          await node.client.upsert('docs', { wait: true, points: ids.map((id) => point(id)) })
          if (node !== n3) longestWrite = Math.max(longestWrite, performance.now() - t0)
          for (const id of ids) acked.add(id)
        } catch (err) {
          // only the killed node may refuse
          if (!(node === n3 && killed)) throw err
          return
        }
        if (node === n1 && b === 15) {
          killed = true
          await n3.proc.kill()
        }
      }
    }
    let writing = true
    let reads = 0
    const reader = async () => {
      // reads through the live nodes never fail meanwhile
      while (writing) {
        for (const node of [n1, n2]) {
          try {
            const t0 = performance.now()
            await node.client.query('docs', { query: vec(reads), limit: 3 })
            longestRead = Math.max(longestRead, performance.now() - t0)
            reads++
          } catch {
            failedReads++
          }
        }
      }
    }
    const writers = Promise.all([writer(n1, 100_000), writer(n2, 200_000), writer(n3, 300_000)]).finally(
      () => {
        writing = false
      },
    )
    await Promise.all([writers, reader()])
    expect(reads).toBeGreaterThan(0)
    expect(failedReads).toBe(0)
    // a replica that dies mid-request is noticed by the probe (~0.5 s), not after the 30 s timeout
    expect(longestWrite).toBeLessThan(5000)
    expect(longestRead).toBeLessThan(5000)
    console.log(
      `node SIGKILLed under load (3 shards x 2 replicas): longest write through a live node ${Math.round(longestWrite)} ms, longest read ${Math.round(longestRead)} ms, reads ${reads} (none failed)`,
    )
    // n3 died with writes still to make
    expect([...acked].filter((id) => id >= 300_000).length).toBeLessThan(400)
    expect(acked.size).toBeGreaterThanOrEqual(800)

    const on1 = await idsOn(n1, 'docs')
    const on2 = await idsOn(n2, 'docs')
    expect([...acked].filter((id) => !on1.has(id))).toEqual([])
    expect([...on1].sort()).toEqual([...on2].sort())
    // nothing half applied: a batch of 10 is there whole or not at all
    for (const id of on1) {
      if (id < 100_000) continue
      const first = id - (id % 10)
      for (let k = 0; k < 10; k++) expect(on1.has(first + k)).toBe(true)
    }

    // the killed node restarts on its directory, catches up, and answers as the others
    const n3b = await startNode('n3', n3.dir)
    expect((await n3b.client.count('docs', { exact: true })).count).toBe(on1.size)
    const probe = vec(4242)
    const fromN1 = await n1.client.query('docs', { query: probe, limit: 10, params: { exact: true } })
    const fromN3 = await n3b.client.query('docs', { query: probe, limit: 10, params: { exact: true } })
    expect(fromN3.points.map((p) => [p.id, p.score])).toEqual(fromN1.points.map((p) => [p.id, p.score]))

    // a drop through one node goes everywhere
    await n3b.client.deleteCollection('docs')
    expect((await n1.client.collectionExists('docs')).exists).toBe(false)
    expect((await n2.client.getCollections()).collections).toEqual([])
    await ref.close()
  }, 180_000)
})

describe.skipIf(natsServerMissing !== null)('quiver serve --cluster with NATS gone', () => {
  it('answers 503 for a name it cannot look up, and stops on SIGTERM (its NATS connection closed, not left reconnecting)', async () => {
    const nats = await startNats()
    const dir = await mkdtemp(join(tmpdir(), 'quiver-cluster-term-'))
    const proc = spawnCli(['serve', '--data', dir, '--port', '0', '--threads', '0', '--log-level', 'warn'], {
      env: { QUIVER__CLUSTER__URL: nats.url, QUIVER__CLUSTER__NODE_ID: 'lone' },
    })
    try {
      const url = /Quiver listening on (\S+)/.exec(await proc.waitFor(/Quiver listening on (\S+)/))![1]!
      const client = new QdrantClient({ url, checkCompatibility: false })
      await client.createCollection('docs', { vectors: { size: DIM, distance: 'Cosine' }, shard_number: 2 })
      await client.upsert('docs', { wait: true, points: [{ id: 1, vector: vec(1) }] })
      nats.process.kill('SIGKILL')
      await new Promise((r) => nats.process.once('exit', r))
      // a name it cannot look up in the catalog: unavailable, not a false "does not exist"
      const res = await fetch(`${url}/collections/nope`)
      expect([res.status, res.headers.get('x-quiver-error-code')]).toEqual([503, 'LOG_UNAVAILABLE'])
      // the collection it holds still answers
      expect((await client.count('docs', { exact: false })).count).toBe(1)
      proc.child.kill('SIGTERM')
      const gone = await Promise.race([
        proc.exited.then(() => 'exited'),
        new Promise<string>((r) => setTimeout(() => r('still running 30 s after SIGTERM'), 30_000).unref()),
      ])
      expect(gone, proc.output()).toBe('exited')
    } finally {
      await proc.kill()
      await nats.stop()
      await rm(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
