// Cluster mode of the embedded database (issue 14): several `Quiver`s sharing a NATS JetStream
// catalog (src/cluster/catalog.ts) and shared logs hold the same collections. Against a real
// nats-server: a collection created through one node is served by the others at once (sharded too),
// reads see writes made through any node before them, a drop goes everywhere, a node that was down
// catches up with creates and drops it missed, and two nodes creating one name: exactly one wins.
// Skipped (saying how to install it) without nats-server.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { peerIdOf } from '../src/cluster/catalog.js'
import type { HostedCollection } from '../src/index.js'
import { type InProcessNode, openInProcessNode } from './support/cluster.js'
import { type NatsServer, natsServerMissing, startNats } from './support/nats.js'

const DIM = 6

if (natsServerMissing !== null) console.warn(`skipping the cluster catalog suite: ${natsServerMissing}`)

function vec(seed: number): number[] {
  let s = seed * 2654435761 + 7
  return Array.from({ length: DIM }, () => {
    s = (s * 1103515245 + 12345) % 2147483648
    return (s / 2147483648) * 2 - 1
  })
}

async function contents(c: HostedCollection) {
  return (await c.scroll({ limit: 100_000, withPayload: true, withVector: true })).points
}

type Node = InProcessNode

describe.skipIf(natsServerMissing !== null)('cluster mode: nodes sharing a JetStream catalog', () => {
  let nats: NatsServer
  const dirs: string[] = []
  const open: Node[] = []

  beforeAll(async () => {
    nats = await startNats()
  })
  afterAll(async () => {
    for (const n of open) await n.close().catch(() => undefined)
    await nats?.stop()
    for (const d of dirs) await rm(d, { recursive: true, force: true })
  })

  async function node(nodeId: string, dir?: string): Promise<Node> {
    const d = dir ?? (await mkdtemp(join(tmpdir(), `quiver-node-${nodeId}-`)))
    if (dir === undefined) dirs.push(d)
    // every node holds every collection here: no transport, no placement
    const n = await openInProcessNode(nats.url, nodeId, d, { transport: false })
    open.push(n)
    return n
  }

  it('a collection created through one node is served by every node; reads see every earlier write', async () => {
    const [a, b, c] = [await node('a1'), await node('b1'), await node('c1')]
    const docs = await a.db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
    // through b at once: getCollection attaches what the catalog has
    const onB = await b.db.getCollection('docs')
    await onB.upsert(Array.from({ length: 50 }, (_, i) => ({ id: i, vector: vec(i), payload: { i } })))
    // c never saw a write before; its read waits for every write acknowledged before it
    const onC = await c.db.getCollection('docs')
    expect(await onC.count()).toBe(50)
    await docs.upsert([{ id: 7, vector: vec(700), payload: { i: 700 } }])
    expect((await onC.get([7]))[0]?.payload).toEqual({ i: 700 })
    expect(await contents(onB)).toEqual(await contents(docs))
    expect(await contents(onC)).toEqual(await contents(docs))
    const q = { limit: 5, exact: true }
    expect(await onC.search(vec(3), q)).toEqual(await docs.search(vec(3), q))

    // sharded: every node holds every shard
    const sh = await b.db.createCollection('sharded', {
      dimension: DIM,
      metric: 'Dot',
      params: { shardNumber: 3 },
    })
    expect(sh.logIds).toHaveLength(3)
    await sh.upsert(Array.from({ length: 60 }, (_, i) => ({ id: 1000 + i, vector: vec(i + 5) })))
    const shOnA = await a.db.getCollection('sharded')
    expect(shOnA.logIds).toEqual(sh.logIds)
    expect(await contents(shOnA)).toEqual(await contents(sh))
    expect((await shOnA.clusterInfo()).shardCount).toBe(3)

    // membership: every node sees the others
    const status = await c.catalog.status()
    expect(status.peers.map((p) => p.nodeId)).toEqual(['a1', 'b1', 'c1'])
    expect(status.self.peerId).toBe(peerIdOf('c1'))
    expect(['a1', 'b1', 'c1']).toContain(status.controller)

    // a drop through any node goes everywhere (a is told by the catalog watch; its next read finds nothing)
    expect(await c.db.deleteCollection('docs')).toBe(true)
    await expect(b.db.getCollection('docs')).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' })
    await a.close()
    await b.close()
    await c.close()
  })

  it('a node that was down catches up with the creates and drops it missed', async () => {
    const a = await node('a2')
    const b = await node('b2')
    const keep = await a.db.createCollection('keep', { dimension: DIM, metric: 'Cosine' })
    await a.db.createCollection('gone', { dimension: DIM, metric: 'Cosine' })
    await b.db.getCollection('gone')
    expect((await b.db.getCollection('keep')).logIds).toEqual(keep.logIds)
    const dirB = b.db.dir
    await b.close()
    expect(await a.db.deleteCollection('gone')).toBe(true)
    await a.db.createCollection('fresh', { dimension: DIM, metric: 'Cosine' })
    await keep.upsert([{ id: 1, vector: vec(1) }])
    const b2 = await node('b2', dirB)
    // at open, before any read: the catalog decides what this node holds (the first test's
    // 'sharded' is in the cluster too)
    expect(b2.db.listCollections().sort()).toEqual(['fresh', 'keep', 'sharded'])
    expect(b2.db.unavailableCollections().size).toBe(0)
    expect(await (await b2.db.getCollection('keep')).count()).toBe(1)
    await a.close()
    await b2.close()
  })

  it('two nodes creating the same name at once: one wins, the other gets COLLECTION_EXISTS and keeps nothing', async () => {
    const a = await node('a3')
    const b = await node('b3')
    for (let round = 0; round < 5; round++) {
      const name = `race${round}`
      const results = await Promise.allSettled([
        a.db.createCollection(name, { dimension: DIM, metric: 'Euclid' }),
        b.db.createCollection(name, { dimension: DIM + 1, metric: 'Euclid' }),
      ])
      const won = results.filter((r) => r.status === 'fulfilled')
      const lost = results.filter((r) => r.status === 'rejected')
      expect(won).toHaveLength(1)
      expect(lost).toHaveLength(1)
      expect((lost[0] as PromiseRejectedResult).reason).toMatchObject({ code: 'COLLECTION_EXISTS' })
      const dim = (won[0] as PromiseFulfilledResult<HostedCollection>).value.config.vectors.get('')?.dimension
      // both nodes end with the winner's collection
      const onA = await a.db.getCollection(name)
      const onB = await b.db.getCollection(name)
      expect(onA.logIds).toEqual(onB.logIds)
      expect(onA.config.vectors.get('')?.dimension).toBe(dim)
      expect(onB.config.vectors.get('')?.dimension).toBe(dim)
    }
    await a.close()
    await b.close()
  })

  it("aliases are the cluster's: made through one node, resolved and changed through another, gone with their collection, adopted by a node that joins", async () => {
    const a = await node('a4')
    const b = await node('b4')
    const v1 = await a.db.createCollection('docs_v1', { dimension: DIM, metric: 'Euclid' })
    await v1.upsert([{ id: 1, vector: vec(1) }])
    await a.db.createCollection('docs_v2', { dimension: DIM, metric: 'Euclid' })
    await a.db.updateAliases([{ createAlias: { collectionName: 'docs_v1', aliasName: 'docs' } }])
    // b resolves it at once (its change is in the catalog before a answers)
    const until = async (what: string, cond: () => boolean) => {
      const deadline = performance.now() + 10_000
      while (!cond()) {
        expect(performance.now(), what).toBeLessThan(deadline)
        await b.db.syncCatalog()
      }
    }
    await until('b sees the alias', () => b.db.listAliases().length === 1)
    expect((await b.db.getCollection('docs')).name).toBe('docs_v1')
    expect(await (await b.db.getCollection('docs')).count()).toBe(1)
    // switched through b, seen by a
    await b.db.updateAliases([
      { deleteAlias: { aliasName: 'docs' } },
      { createAlias: { collectionName: 'docs_v2', aliasName: 'docs' } },
    ])
    const deadline = performance.now() + 10_000
    while (a.db.listAliases()[0]?.collectionName !== 'docs_v2') {
      expect(performance.now(), 'a sees the switch').toBeLessThan(deadline)
      await a.db.syncCatalog()
    }
    // a bad change through either node changes nothing anywhere
    await expect(
      a.db.updateAliases([{ createAlias: { collectionName: 'nope', aliasName: 'x' } }]),
    ).rejects.toMatchObject({ code: 'COLLECTION_NOT_FOUND' })
    expect(b.db.listAliases()).toEqual([{ aliasName: 'docs', collectionName: 'docs_v2' }])
    // an alias left naming a collection the cluster does not have (two nodes racing an alias
    // change and a drop) goes with the next alias change through any node
    await a.catalog.updateAliases((cur) => new Map([...cur, ['ghost', 'dropped_meanwhile']]))
    await b.db.updateAliases([{ createAlias: { collectionName: 'docs_v2', aliasName: 'docs2' } }])
    expect(b.db.listAliases().map((x) => x.aliasName)).toEqual(['docs', 'docs2'])
    expect([...((await a.catalog.aliases()) ?? new Map()).keys()].sort()).toEqual(['docs', 'docs2'])
    await b.db.updateAliases([{ deleteAlias: { aliasName: 'docs2' } }])
    // a node that joins adopts the cluster's aliases
    const c = await node('c4')
    expect(c.db.listAliases()).toEqual([{ aliasName: 'docs', collectionName: 'docs_v2' }])
    // dropping the collection drops its alias on every node
    await b.db.deleteCollection('docs_v2')
    const gone = performance.now() + 10_000
    while (a.db.listAliases().length > 0 || c.db.listAliases().length > 0) {
      expect(performance.now(), 'the alias goes everywhere').toBeLessThan(gone)
      await a.db.syncCatalog()
      await c.db.syncCatalog()
    }
    for (const n of [a, b, c]) await n.close()
  })
})
