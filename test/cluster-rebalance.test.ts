// The cluster controller re-places shards by itself (issue 14, docs/cluster.md "Rebalancing"):
// against a real nats-server and `Quiver` nodes in this process, a node that joins takes replicas
// from the most loaded nodes while writes and reads go on (no acknowledged write lost, no read
// failing), and the replicas of a node that stays away move to the live nodes, after which every
// point is served again. Skipped (saying how to install it) without nats-server.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type InProcessNode, openInProcessNode, seededVector } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 4

if (natsServerMissing !== null) console.warn(`skipping the cluster rebalance suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 3)

type Node = InProcessNode

describe.skipIf(natsServerMissing !== null)('cluster controller: rebalancing', () => {
  let nats: NatsServer
  const dirs: string[] = []
  const open: Node[] = []

  async function node(id: string): Promise<Node> {
    const dir = await mkdtemp(join(tmpdir(), `quiver-rebalance-${id}-`))
    dirs.push(dir)
    const n = await openInProcessNode(nats.url, id, dir, { rebalance: true })
    open.push(n)
    return n
  }

  /** Until `cond` holds, bounded. */
  async function until(what: string, cond: () => Promise<boolean>, ms = 40_000): Promise<void> {
    const deadline = performance.now() + ms
    while (!(await cond())) expect(performance.now(), what).toBeLessThan(deadline)
  }

  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => {
    for (const n of open) await n.close().catch(() => undefined)
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  it('a joining node takes replicas under load; a node away for good hands its replicas to the others', async () => {
    const a = await node('ra')
    const b = await node('rb')
    const live = async (n: Node, count: number) => (await n.db.clusterStatus())!.peers.length === count
    await until('two nodes live', async () => (await live(a, 2)) && (await live(b, 2)))
    await a.db.createCollection('bal', {
      dimension: DIM,
      metric: 'Euclid',
      params: { shardNumber: 4, replicationFactor: 1 },
    })
    const placement = async () => (await a.db.shardPlacement('bal'))!
    expect((await placement()).flat().sort()).toEqual(['ra', 'ra', 'rb', 'rb'])
    const acked: number[] = []
    let next = 1
    const write = async (via: Node) => {
      const ids = Array.from({ length: 10 }, () => next++)
      await (await via.db.getCollection('bal')).upsert(ids.map((id) => ({ id, vector: vec(id) })))
      acked.push(...ids)
    }
    for (let i = 0; i < 10; i++) await write(i % 2 ? a : b)

    // c joins: writes and reads through a and b go on while a replica moves to c
    const c = await node('rc')
    let reads = 0
    let moving = true
    const load = (async () => {
      while (moving) {
        await write(reads % 2 ? a : b)
        for (const n of [a, b]) {
          expect(await (await n.db.getCollection('bal')).count()).toBe(acked.length)
          reads++
        }
      }
    })()
    // the move: c added, caught up and serving, then the old replica dropped; the load runs throughout
    await until('c hosts a shard', async () => (await placement()).some((r) => r.includes('rc')))
    await until('the old replica is dropped', async () => (await placement()).flat().length === 4)
    await until(
      'c serves it',
      async () =>
        (await (await c.db.getCollection('bal')).clusterInfo()).localShards.filter(
          (s) => s.state === 'Active',
        ).length === 1,
    )
    moving = false
    await load
    expect(reads).toBeGreaterThan(0)
    const counts = new Map<string, number>()
    for (const r of await placement()) for (const n of r) counts.set(n, (counts.get(n) ?? 0) + 1)
    expect(counts.get('rc')).toBe(1)
    expect([...counts.values()].sort()).toEqual([1, 1, 2])
    for (const n of [a, b, c]) expect(await (await n.db.getCollection('bal')).count()).toBe(acked.length)

    // c goes away for good: after the controller's grace its replica moves back to a or b
    await c.close()
    await until('c holds nothing', async () => !(await placement()).some((r) => r.includes('rc')), 60_000)
    await until(
      'every shard served',
      async () => (await (await a.db.getCollection('bal')).count().catch(() => -1)) === acked.length,
    )
    const ids = (await (await b.db.getCollection('bal')).scroll({ limit: 10_000 })).points.map((p) => p.id)
    expect(ids.sort((x, y) => (x as number) - (y as number))).toEqual([...acked].sort((x, y) => x - y))
  }, 120_000)

  it('a move whose new replica never serves does not hold up re-placing the replicas of a node gone', async () => {
    // the nodes of the test before go, with their collection
    const before = open.splice(0)
    for (const n of before) await n.db.deleteCollection('bal').catch(() => false)
    for (const n of before) await n.close()
    const a = await node('sa')
    const b = await node('sb')
    const only = async (n: Node) =>
      (await n.db.clusterStatus())!.peers
        .map((p) => p.nodeId)
        .sort()
        .join() === 'sa,sb'
    await until('the two nodes alone live', async () => (await only(a)) && (await only(b)))
    await a.db.createCollection('stuck', {
      dimension: DIM,
      metric: 'Euclid',
      params: { shardNumber: 4, replicationFactor: 1 },
    })
    await (await a.db.getCollection('stuck')).upsert([{ id: 1, vector: vec(1) }])
    const placement = async () => (await a.db.shardPlacement('stuck'))!
    // a node that hosts shards but never answers for them: the controller's balancing move to it
    // never finishes (its second half waits up to 30 minutes)
    const muteDir = await mkdtemp(join(tmpdir(), 'quiver-rebalance-mute-'))
    dirs.push(muteDir)
    const mute = await openInProcessNode(nats.url, 'sm', muteDir, { transport: false })
    open.push(mute)
    await until('a balancing move to the mute node', async () => (await placement()).flat().includes('sm'))
    // the node that is not the controller goes away for good
    const controller = (await a.db.clusterStatus())!.controller
    const [keep, gone] = controller === 'sb' ? [b, a] : [a, b]
    const held = (await placement()).flatMap((r, shard) => (r.includes(gone.id) ? [shard] : []))
    expect(held.length).toBeGreaterThan(0)
    await gone.close()
    await until(
      `the replicas of ${gone.id} placed again while the move to sm is still unfinished`,
      async () => {
        const p = (await keep.db.shardPlacement('stuck'))!
        return held.every((shard) => p[shard]!.some((n) => n !== gone.id))
      },
      40_000,
    )
  }, 90_000)
})
