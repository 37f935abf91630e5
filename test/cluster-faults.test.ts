// Faults under a write load against a cluster on real processes (issue 14): three nats-servers as
// one JetStream cluster (streams and catalog kept on all three) and two `quiver serve --cluster`
// nodes, driven by the Qdrant client. (1) The NATS server leading a shard's stream is SIGKILLed
// mid-load: no write acknowledged by either node is lost, nothing is half applied, reads through
// both nodes are answered throughout, and the longest write stall is reported. (2) A Quiver node is
// SIGSTOPped past its heartbeats: the other node drops it from /cluster and keeps taking writes;
// after SIGCONT it answers with every write made meanwhile. Skipped without nats-server.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { jetstreamManager } from '@nats-io/jetstream'
import { connect } from '@nats-io/transport-node'
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawnCli } from './support/cli.js'
import { idsOn, type QuiverNode, seededVector } from './support/cluster.js'
import { type NatsCluster, natsServerMissing, startNatsCluster } from './support/nats.js'

const DIM = 8

if (natsServerMissing !== null) console.warn(`skipping the cluster fault suite: ${natsServerMissing}`)

const vec = (seed: number): number[] => seededVector(seed, DIM, 17)

/**
 * Batches of 10 (ids first .. first + 9) are whole or absent, but for batches whose write failed:
 * a batch split over shards whose write failed on one shard's log may be on the others (the client
 * was told it failed; Qdrant has the same property). Returns how many failed batches are partial.
 */
function expectWholeBatches(ids: Set<number>, failed: ReadonlySet<number>): number {
  let partial = 0
  const seen = new Set<number>()
  for (const id of ids) {
    const first = id - (id % 10)
    if (seen.has(first)) continue
    seen.add(first)
    const whole = Array.from({ length: 10 }, (_, k) => ids.has(first + k)).every(Boolean)
    if (whole) continue
    expect(failed.has(first), `batch at ${first} is half there, yet its write was acknowledged`).toBe(true)
    partial++
  }
  return partial
}

describe.skipIf(natsServerMissing !== null)(
  'cluster faults: three nats-servers, two then three Quiver nodes',
  () => {
    let nats: NatsCluster
    const dirs: string[] = []
    const nodes: QuiverNode[] = []
    /** First ids of every batch whose write failed, across the tests (the collection is shared). */
    const failedBatches = new Set<number>()

    async function startNode(nodeId: string): Promise<QuiverNode> {
      const dir = await mkdtemp(join(tmpdir(), `quiver-fault-${nodeId}-`))
      dirs.push(dir)
      const proc = spawnCli([
        'serve',
        '--data',
        dir,
        '--port',
        '0',
        '--threads',
        '0',
        '--log-level',
        'error',
        '--cluster',
        nats.urls.join(','),
        '--node-id',
        nodeId,
        '--cluster-replicas',
        '3',
      ])
      const line = await proc.waitFor(/Quiver listening on (\S+)/)
      const url = /Quiver listening on (\S+)/.exec(line)![1]!
      const node = { nodeId, dir, proc, url, client: new QdrantClient({ url, checkCompatibility: false }) }
      nodes.push(node)
      return node
    }

    beforeAll(async () => {
      nats = await startNatsCluster(3)
    }, 60_000)
    afterAll(async () => {
      for (const n of nodes) {
        n.proc.child.kill('SIGCONT')
        await n.proc.kill()
      }
      await nats?.stop()
      for (const d of dirs) await rm(d, { recursive: true, force: true })
    })

    /**
     * Writes batches of 10 through `node` until `stop()` says so; failed writes (the cluster busy
     * electing) are retried as new batches. Returns the acknowledged ids and the longest gap between
     * two acknowledgements (ms).
     */
    function writeLoad(node: QuiverNode, name: string, base: number, stop: () => boolean) {
      const acked: number[] = []
      const failed = new Set<number>()
      let longest = 0
      let failures = 0
      const done = (async () => {
        let last = performance.now()
        for (let b = 0; !stop(); b++) {
          const ids = Array.from({ length: 10 }, (_, k) => base + b * 10 + k)
          try {
            await node.client.upsert(name, { wait: true, points: ids.map((id) => ({ id, vector: vec(id) })) })
            acked.push(...ids)
            const now = performance.now()
            longest = Math.max(longest, now - last)
            last = now
          } catch {
            failures++
            failed.add(ids[0]!)
            failedBatches.add(ids[0]!)
          }
        }
      })()
      return { acked, failed, done, stall: () => longest, failures: () => failures }
    }

    it('SIGKILL of the NATS server leading a shard stream: no acknowledged write lost, reads answered throughout', async () => {
      const a = await startNode('fa')
      const b = await startNode('fb')
      await a.client.createCollection('docs', { vectors: { size: DIM, distance: 'Euclid' }, shard_number: 2 })
      // shard 0's stream, from its log pointer (bounded wait: seen missing once in a full run, under
      // investigation, see the issue 14 note)
      const pointer = join(a.dir, 'collections', 'docs', 'shards', '0', 'log.json')
      const deadline = performance.now() + 10_000
      let text: string | undefined
      while (text === undefined) {
        text = await readFile(pointer, 'utf8').catch(() => undefined)
        if (text === undefined) expect(performance.now(), `${pointer} exists`).toBeLessThan(deadline)
      }
      const log = JSON.parse(text)
      const nc = await connect({ servers: [...nats.urls] })
      const jsm = await jetstreamManager(nc)
      const leader = (await jsm.streams.info(log.stream)).cluster?.leader
      await nc.close()
      const victim = nats.names.indexOf(leader ?? '')
      expect(victim).toBeGreaterThanOrEqual(0)

      let stopping = false
      let readFailures = 0
      let reads = 0
      const wa = writeLoad(a, 'docs', 1_000_000, () => stopping)
      const wb = writeLoad(b, 'docs', 2_000_000, () => stopping)
      const readLoop = (async () => {
        while (!stopping) {
          for (const n of [a, b]) {
            try {
              await n.client.query('docs', { query: vec(reads), limit: 3 })
              reads++
            } catch {
              readFailures++
            }
          }
        }
      })()
      // kill the leader once both writers got going, then run on until each acked 20 more batches
      while (wa.acked.length < 100 || wb.acked.length < 100) await new Promise((r) => setImmediate(r))
      nats.process(victim).kill('SIGKILL')
      const [ba, bb] = [wa.acked.length, wb.acked.length]
      while (wa.acked.length < ba + 200 || wb.acked.length < bb + 200)
        await new Promise((r) => setImmediate(r))
      stopping = true
      await Promise.all([wa.done, wb.done, readLoop])
      expect(readFailures).toBe(0)
      await nats.restart(victim)

      const acked = [...wa.acked, ...wb.acked]
      const onA = await idsOn(a, 'docs')
      const onB = await idsOn(b, 'docs')
      expect(acked.filter((id) => !onA.has(id))).toEqual([])
      expect([...onB].sort()).toEqual([...onA].sort())
      const partial = expectWholeBatches(onA, failedBatches)
      console.log(
        `NATS stream leader SIGKILLed: longest write stall ${Math.round(Math.max(wa.stall(), wb.stall()))} ms, failed writes ${wa.failures() + wb.failures()} (${partial} of them on one shard only), reads ${reads} (none failed)`,
      )
    }, 120_000)

    it('a node SIGSTOPped past its heartbeats leaves /cluster; the other keeps writing; after SIGCONT it has every write', async () => {
      const [a, b] = nodes
      expect(a && b).toBeTruthy()
      const peers = async (n: QuiverNode): Promise<number> =>
        Object.keys(
          (
            (await fetch(`${n.url}/cluster`, { signal: AbortSignal.timeout(10_000) }).then((r) =>
              r.json(),
            )) as { result: { peers: object } }
          ).result.peers,
        ).length
      expect(await peers(a!)).toBe(2)
      b!.proc.child.kill('SIGSTOP')
      let stopping = false
      const wa = writeLoad(a!, 'docs', 3_000_000, () => stopping)
      // until a no longer lists b (3 missed heartbeats), bounded
      const deadline = performance.now() + 20_000
      while ((await peers(a!)) !== 1) expect(performance.now()).toBeLessThan(deadline)
      while (wa.acked.length < 100) await new Promise((r) => setImmediate(r))
      stopping = true
      await wa.done
      b!.proc.child.kill('SIGCONT')
      const onA = await idsOn(a!, 'docs')
      const onB = await idsOn(b!, 'docs')
      expect(wa.acked.filter((id) => !onB.has(id))).toEqual([])
      expect([...onB].sort()).toEqual([...onA].sort())
      expectWholeBatches(onB, failedBatches)
      expect(await peers(b!)).toBe(2)
    }, 120_000)

    it('3 shards x 2 replicas: a node SIGSTOPped under writes and reads through the others; none fails, nothing lost', async () => {
      const [a, b] = nodes as [QuiverNode, QuiverNode]
      const c = await startNode('fc')
      const peers = async (n: QuiverNode): Promise<number> =>
        Object.keys(
          (
            (await fetch(`${n.url}/cluster`, { signal: AbortSignal.timeout(10_000) }).then((r) =>
              r.json(),
            )) as {
              result: { peers: object }
            }
          ).result.peers,
        ).length
      const deadline = performance.now() + 20_000
      while ((await peers(a)) !== 3 || (await peers(c)) !== 3)
        expect(performance.now()).toBeLessThan(deadline)
      await a.client.createCollection('placed', {
        vectors: { size: DIM, distance: 'Euclid' },
        shard_number: 3,
        replication_factor: 2,
      })
      const info = (await (
        await fetch(`${a.url}/collections/placed/cluster`, { signal: AbortSignal.timeout(10_000) })
      ).json()) as { result: { local_shards: unknown[]; remote_shards: unknown[] } }
      expect(info.result.local_shards.length + info.result.remote_shards.length).toBe(6)

      let stopping = false
      let reads = 0
      let readFailures = 0
      let longestRead = 0
      const wa = writeLoad(a, 'placed', 5_000_000, () => stopping)
      const wc = writeLoad(c, 'placed', 6_000_000, () => stopping)
      const readLoop = (async () => {
        while (!stopping) {
          for (const n of [a, c]) {
            const t0 = performance.now()
            try {
              await n.client.query('placed', { query: vec(reads), limit: 3 })
              reads++
            } catch {
              readFailures++
            }
            longestRead = Math.max(longestRead, performance.now() - t0)
          }
        }
      })()
      while (wa.acked.length < 50 || wc.acked.length < 50) await new Promise((r) => setImmediate(r))
      // b hosts two of the three shards: its replicas stop answering, its heartbeats lapse
      b.proc.child.kill('SIGSTOP')
      const stopped = performance.now()
      while ((await peers(a)) !== 2) expect(performance.now() - stopped).toBeLessThan(20_000)
      const [ba, bc] = [wa.acked.length, wc.acked.length]
      while (wa.acked.length < ba + 100 || wc.acked.length < bc + 100)
        await new Promise((r) => setImmediate(r))
      stopping = true
      await Promise.all([wa.done, wc.done, readLoop])
      b.proc.child.kill('SIGCONT')
      expect(readFailures).toBe(0)
      expect(wa.failures() + wc.failures()).toBe(0)
      const acked = [...wa.acked, ...wc.acked]
      const onA = await idsOn(a, 'placed')
      expect(acked.filter((id) => !onA.has(id))).toEqual([])
      // b, back, answers with every write made while it was stopped
      const until = performance.now() + 20_000
      while ((await peers(b)) !== 3) expect(performance.now()).toBeLessThan(until)
      const onB = await idsOn(b, 'placed')
      const onC = await idsOn(c, 'placed')
      expect([...onB].sort()).toEqual([...onA].sort())
      expect([...onC].sort()).toEqual([...onA].sort())
      console.log(
        `placed collection, a replica node SIGSTOPped: longest write stall ${Math.round(Math.max(wa.stall(), wc.stall()))} ms, longest read ${Math.round(longestRead)} ms, reads ${reads} (none failed)`,
      )
    }, 120_000)
  },
)
