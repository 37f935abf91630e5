// Soak: a real server and many official Qdrant JS clients at once. Writers own disjoint id ranges
// and keep a model of what they wrote (upserts wait=true, deletes, payload updates); readers search,
// scroll, count and retrieve meanwhile. Proven: no request fails, every read shows only writes that
// had begun (vector and payload of one version together), and at the end the server equals the
// union of the writers' models. Duration: QUIVER_SOAK_SECONDS (default 20; CI can raise it).
import { QdrantClient } from '@qdrant/js-client-rest'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serve } from '../src/server/index.js'
import { startTestServer, type TestServer } from './server-harness.js'
import { rng } from './support/random.js'

const SECONDS = Number(process.env['QUIVER_SOAK_SECONDS'] ?? 20)
const SEED = Number(process.env['QUIVER_SOAK_SEED'] ?? Math.floor(Math.random() * 1e9))
const WRITERS = 8
const READERS = 3
const RANGE = 150
const DIM = 8
const COLLECTION = 'soak'

/** A vector as the wire prints it (shortest float32 decimals, as Qdrant), read back as float32. */
function f32(v: unknown): unknown {
  return Array.isArray(v) ? v.map((x) => Math.fround(x as number)) : v
}

/** The vector of point `id` at vector version `vv`, float32-exact as stored. */
function vectorFor(id: number, vv: number): number[] {
  return Array.from({ length: DIM }, (_, j) => Math.fround(Math.sin(id * 0.3 + vv * 0.07 + j)))
}
/** `w`: the writer that owns the id; `vv`: vector version; `pv`: payload version. */
type Payload = { w: number; vv: number; pv: number; note?: string }
const owner = (id: number) => Math.floor(id / 100_000)

let srv: TestServer
/** `${id}:${vv}:${pv}` of every point version whose write has begun (reads may show only these). */
const begun = new Set<string>()
const key = (id: number, p: Payload) => `${id}:${p.vv}:${p.pv}`

beforeAll(async () => {
  srv = await startTestServer()
  const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  await client.createCollection(COLLECTION, { vectors: { size: DIM, distance: 'Euclid' } })
  await client.createPayloadIndex(COLLECTION, { field_name: 'w', field_schema: 'integer', wait: true })
})

afterAll(async () => {
  await srv?.close()
})

async function writer(w: number, deadline: number, model: Map<number, Payload>): Promise<number> {
  const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  const random = rng(SEED + w)
  const base = w * 100_000
  let version = 0
  let ops = 0
  const someIds = (n: number) => Array.from({ length: n }, () => base + Math.floor(random() * RANGE))
  const existing = (n: number) => [...new Set(someIds(n))].filter((id) => model.has(id))
  while (Date.now() < deadline) {
    const r = random()
    version++
    if (r < 0.5) {
      const ids = [...new Set(someIds(1 + Math.floor(random() * 10)))]
      const pts = ids.map((id) => ({ id, payload: { w, vv: version, pv: version } as Payload }))
      for (const p of pts) begun.add(key(p.id, p.payload))
      await client.upsert(COLLECTION, {
        wait: true,
        points: pts.map((p) => ({ id: p.id, vector: vectorFor(p.id, version), payload: p.payload })),
      })
      for (const p of pts) model.set(p.id, p.payload)
    } else if (r < 0.65) {
      const ids = someIds(1 + Math.floor(random() * 4))
      await client.delete(COLLECTION, { wait: true, points: ids })
      for (const id of ids) model.delete(id)
    } else if (r < 0.85) {
      const ids = existing(5)
      if (ids.length === 0) continue
      const note = `n${version}`
      for (const id of ids) begun.add(key(id, { ...model.get(id)!, pv: version }))
      await client.setPayload(COLLECTION, { wait: true, payload: { pv: version, note }, points: ids })
      for (const id of ids) model.set(id, { ...model.get(id)!, pv: version, note })
    } else {
      const ids = existing(3)
      if (ids.length === 0) continue
      // overwrite per point: each keeps its own vector version
      for (const id of ids) {
        const p: Payload = { w, vv: model.get(id)!.vv, pv: version }
        begun.add(key(id, p))
        await client.overwritePayload(COLLECTION, { wait: true, payload: p, points: [id] })
        model.set(id, p)
      }
    }
    ops++
  }
  return ops
}

type Seen = { id: string | number; payload?: Record<string, unknown> | null; vector?: unknown }

/** A point a reader saw: a version whose write had begun, vector and payload from one version. */
function checkSeen(p: Seen, where: string): void {
  const id = p.id as number
  const payload = p.payload as Payload
  expect(payload?.w, `${where}: point ${id} owner`).toBe(owner(id))
  expect(
    begun.has(key(id, payload)),
    `${where}: point ${id} version ${key(id, payload)} was never written`,
  ).toBe(true)
  if (p.vector !== undefined)
    expect(f32(p.vector), `${where}: point ${id} vector`).toEqual(vectorFor(id, payload.vv))
}

async function reader(r: number, deadline: number): Promise<number> {
  const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  const random = rng(SEED + 1000 + r)
  let reads = 0
  while (Date.now() < deadline) {
    const w = Math.floor(random() * WRITERS)
    const q = vectorFor(Math.floor(random() * 1000), 1)
    const filter = { must: [{ key: 'w', match: { value: w } }] }
    switch (reads % 4) {
      case 0:
        for (const p of await client.search(COLLECTION, {
          vector: q,
          limit: 10,
          with_payload: true,
          with_vector: true,
        }))
          checkSeen(p, 'search')
        for (const p of await client.search(COLLECTION, { vector: q, limit: 5, filter, with_payload: true }))
          checkSeen(p, 'filtered search')
        break
      case 1: {
        const page = await client.scroll(COLLECTION, {
          limit: 50,
          filter,
          with_payload: true,
          with_vector: true,
        })
        for (const p of page.points) checkSeen(p, 'scroll')
        break
      }
      case 2:
        expect((await client.count(COLLECTION, { filter, exact: true })).count).toBeLessThanOrEqual(RANGE)
        break
      default: {
        const ids = Array.from({ length: 10 }, () => w * 100_000 + Math.floor(random() * RANGE))
        for (const p of await client.retrieve(COLLECTION, { ids, with_payload: true, with_vector: true }))
          checkSeen(p, 'retrieve')
      }
    }
    reads++
  }
  return reads
}

describe(`concurrent clients over HTTP (${SECONDS} s, QUIVER_SOAK_SECONDS; seed ${SEED}, QUIVER_SOAK_SEED)`, () => {
  it(
    `${WRITERS} writers and ${READERS} readers: no error, no lost write, reads consistent with the models`,
    async () => {
      const deadline = Date.now() + SECONDS * 1000
      const models = Array.from({ length: WRITERS }, () => new Map<number, Payload>())
      const [ops, reads] = await Promise.all([
        Promise.all(models.map((m, w) => writer(w, deadline, m))),
        Promise.all(Array.from({ length: READERS }, (_, r) => reader(r, deadline))),
      ])
      process.stdout.write(
        `fault-concurrency: ${ops.reduce((a, b) => a + b, 0)} writes, ${reads.reduce((a, b) => a + b, 0)} reads in ${SECONDS} s\n`,
      )
      expect(Math.min(...ops)).toBeGreaterThan(0)

      const client = new QdrantClient({ url: srv.url, checkCompatibility: false })
      let total = 0
      for (const [w, model] of models.entries()) {
        const filter = { must: [{ key: 'w', match: { value: w } }] }
        const page = await client.scroll(COLLECTION, {
          limit: RANGE + 1,
          filter,
          with_payload: true,
          with_vector: true,
        })
        expect(page.next_page_offset ?? null).toBeNull()
        const stored = new Map(page.points.map((p) => [p.id as number, p]))
        expect([...stored.keys()].sort(), `writer ${w} ids`).toEqual([...model.keys()].sort())
        for (const [id, payload] of model) {
          expect(stored.get(id)!.payload, `point ${id}`).toEqual(payload)
          expect(f32(stored.get(id)!.vector), `point ${id}`).toEqual(vectorFor(id, payload.vv))
        }
        expect((await client.count(COLLECTION, { filter, exact: true })).count).toBe(model.size)
        total += model.size
      }
      expect((await client.count(COLLECTION, { exact: true })).count).toBe(total)
      // the same state after a restart (WAL replay / persisted segments)
      await srv.server.close()
      const again = await serve({ dataDir: srv.dir, port: 0, logLevel: 'silent', handleSignals: false })
      const after = new QdrantClient({ url: again.url, checkCompatibility: false })
      expect((await after.count(COLLECTION, { exact: true })).count).toBe(total)
      const all = await after.scroll(COLLECTION, { limit: WRITERS * RANGE + 1, with_payload: true })
      const union = new Map(models.flatMap((m) => [...m]))
      expect(new Map(all.points.map((p) => [p.id as number, p.payload]))).toEqual(union)
      await again.close()
    },
    SECONDS * 1000 + 60_000,
  )
})
