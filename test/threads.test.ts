// The core pool end to end on real files: a collection searched on worker threads
// (`searchThreads`, what `quiver serve` uses) and through `searchBatch` answers exactly what the
// calling-thread search answers — several segments, payload filters indexed and not, exact scans,
// quantized codes — and upserts large enough to be linked on every core build a graph that finds
// the exact neighbours, also after a reopen.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CorePool } from '../src/engine/pool.js'
import { Quiver } from '../src/index.js'
import type { Filter, PointStruct, SearchOptions } from '../src/types.js'
import { rng } from './support/random.js'

const DIM = 24

function points(n: number, seed: number, from = 0): (PointStruct & { vector: number[] })[] {
  const r = rng(seed)
  const centres = Array.from({ length: 16 }, () => Array.from({ length: DIM }, () => r() * 4 - 2))
  return Array.from({ length: n }, (_, i) => {
    const c = centres[Math.floor(r() * centres.length)]!
    return {
      id: from + i,
      vector: c.map((x) => x + (r() - 0.5)),
      payload: { color: ['red', 'green', 'blue'][i % 3]!, n: i % 100, note: `p${i % 7}` },
    }
  })
}

const FILTERS: (Filter | null)[] = [
  null,
  { must: [{ key: 'color', match: { value: 'red' } }] }, // indexed
  { must: [{ key: 'note', match: { value: 'p3' } }] }, // not indexed
  { must: [{ key: 'n', range: { gte: 10, lt: 12 } }] }, // few matches: exact scan
]

let dir: string
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-threads-'))
})
afterEach(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('searches on the core pool', () => {
  it('answer exactly what calling-thread searches answer', async () => {
    const queries = points(3020, 7)
      .slice(3000)
      .map((p) => p.vector as number[])
    const requests: SearchOptions[] = []
    for (const filter of FILTERS) {
      for (const exact of [false, true]) requests.push({ limit: 10, filter, exact, withPayload: true })
    }
    requests.push({ limit: 5, offset: 3, quantization: { rescore: true, oversampling: 2 } })
    requests.push({ limit: 10, quantization: { rescore: false } })

    const plain = await Quiver.open(dir)
    const col = await plain.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      optimizers: { maxSegmentSize: 100 }, // ~1000 points per segment: several segments
      quantization: { scalar: { type: 'int8' } },
    })
    await col.createPayloadIndex('color', 'keyword')
    await col.createPayloadIndex('n', 'integer')
    const all = points(3000, 7)
    for (let i = 0; i < all.length; i += 500) await col.upsert(all.slice(i, i + 500))
    await col.waitForOptimizers()
    expect((await col.info()).segmentsCount).toBeGreaterThan(1)
    const expected = []
    for (const q of queries) for (const r of requests) expected.push(await col.search(q, r))
    await plain.close()

    const threaded = await Quiver.open(dir, { searchThreads: true })
    const tcol = await threaded.getCollection('c')
    let i = 0
    for (const q of queries) {
      for (const r of requests) {
        const got = await tcol.search(q, r)
        expect(got).toEqual(expected[i++])
      }
    }
    // searchBatch: the same answers, all requests in one call
    const batch = await tcol.searchBatch(queries.flatMap((vector) => requests.map((r) => ({ ...r, vector }))))
    expect(batch).toEqual(expected)
    await threaded.close()
  })
})

describe('an embedded search over several large segments', () => {
  it('searches all but the largest on the pool meanwhile, answering what one thread answers', async () => {
    const db = await Quiver.open(dir)
    const col = await db.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      // 10,500 points per segment (24 floats each): two segments past the 10,000-point mark
      optimizers: { maxSegmentSize: Math.ceil((10_500 * DIM * 4) / 1024), defaultSegmentNumber: 4 },
    })
    const all = points(21_200, 9)
    for (let i = 0; i < all.length; i += 1000) await col.upsert(all.slice(i, i + 1000))
    await col.waitForOptimizers()
    const sizes = col.stats()
    expect(sizes.segmentsCount).toBeGreaterThanOrEqual(2)
    const queries = points(30, 10).map((p) => p.vector)
    const requests: SearchOptions[] = [
      { limit: 10, ef: 64 },
      { limit: 10, ef: 200 },
      { limit: 10, filter: { must: [{ key: 'color', match: { value: 'red' } }] } },
    ]
    const pool = CorePool.shared()!
    const before = pool.tasksStarted
    const parallel = []
    for (const q of queries) for (const r of requests) parallel.push(await col.search(q, r))
    expect(pool.tasksStarted - before).toBeGreaterThanOrEqual(queries.length * requests.length)
    await db.close()
    const single = await Quiver.open(dir, { searchThreads: false })
    const scol = await single.getCollection('c')
    const started = pool.tasksStarted
    let i = 0
    for (const q of queries) for (const r of requests) expect(await scol.search(q, r)).toEqual(parallel[i++])
    expect(pool.tasksStarted).toBe(started) // searchThreads: false: the calling thread only
    await single.close()
  }, 60_000)
})

describe('upserts linked on every core', () => {
  it('build a graph that finds the exact neighbours, before and after a reopen', async () => {
    const db = await Quiver.open(dir)
    const col = await db.createCollection('c', { dimension: DIM, metric: 'Cosine' })
    const generated = points(4050, 11)
    const all = generated.slice(0, 4000)
    await col.upsert(all.slice(0, 2500)) // one batch: parallel insert into an empty graph
    await col.upsert(all.slice(2500)) // and into an existing one
    // replacements inside a batch: the later vector wins
    await col.upsert([...all.slice(0, 300).map((p) => ({ ...p, vector: all[3999]!.vector })), all[0]!])
    expect((await col.info()).pointsCount).toBe(4000)
    const queries = generated.slice(4000).map((p) => p.vector as number[])
    async function recall(): Promise<number> {
      let found = 0
      for (const q of queries) {
        const truth = new Set((await col.search(q, { limit: 10, exact: true })).map((h) => h.id))
        for (const h of await col.search(q, { limit: 10, ef: 64 })) if (truth.has(h.id)) found++
      }
      return found / (queries.length * 10)
    }
    expect(await recall()).toBeGreaterThan(0.9)
    const near = await col.search(all[3999]!.vector, { limit: 300, exact: true })
    expect(near.map((h) => h.id)).toContain(1) // point 1 now has point 3999's vector
    expect((await col.get([0], { withVector: true }))[0]!.vector).toHaveLength(DIM)
    const before = await Promise.all(queries.map((q) => col.search(q, { limit: 10 })))
    await db.close()
    const again = await Quiver.open(dir)
    const reopened = await again.getCollection('c')
    expect(await Promise.all(queries.map((q) => reopened.search(q, { limit: 10 })))).toEqual(before)
    await again.close()
  })
})

describe('a server-style collection (searchThreads)', () => {
  it('leaves the event loop free while a long search runs on the pool', async () => {
    // no recall sampling: its exact re-runs are pool tasks too
    const db = await Quiver.open(dir, { searchThreads: true, recallSampleRate: 0 })
    const col = await db.createCollection('c', { dimension: DIM, metric: 'Euclid' })
    const all = points(20_000, 5)
    for (let i = 0; i < all.length; i += 5000) await col.upsert(all.slice(i, i + 5000))
    // graphs built: a segment still waiting for its graph is scanned, and a small scan runs inline
    await col.waitForOptimizers()
    const q = all[7]!.vector
    // ef 4000 goes to a worker thread (ef > 128): the search runs there, the calling thread is free
    // (counted as pool tasks: the order of a setImmediate and the reply is not, under load)
    const pool = CorePool.shared()!
    const before = pool.tasksStarted
    const hits = await col.search(q, { limit: 10, ef: 4000 })
    expect(pool.tasksStarted).toBeGreaterThan(before)
    expect(hits[0]!.id).toBe(7)
    // and the same search answers the same on the calling thread of a plain collection
    await db.close()
    const plain = await Quiver.open(dir)
    const again = await (await plain.getCollection('c')).search(q, { limit: 10, ef: 4000 })
    expect(again).toEqual(hits)
    await plain.close()
  })
})

describe('writes racing pool work', () => {
  it('a point moved out of a sealed segment is never missing while the batch that moves it is linked', async () => {
    const db = await Quiver.open(dir)
    const col = await db.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      // small segments, no merging or vacuum: the second upsert moves ids out of a sealed segment
      optimizers: { maxSegmentSize: 50, defaultSegmentNumber: 100, deletedThreshold: 0.99 },
    })
    const first = points(600, 61)
    await col.upsert(first)
    const second = points(600, 62)
    const probe = second[5]!.vector
    const pending = col.upsert(second) // 600 points: linked on the pool
    let done = false
    void pending.then(() => {
      done = true
    })
    let probes = 0
    while (!done) {
      // id 5 exists throughout: first its old vector, then its new one
      expect((await col.get([5])).length).toBe(1)
      const hits = await col.search(probe, { limit: 1, exact: true })
      expect(hits).toHaveLength(1)
      probes++
      await new Promise((r) => setImmediate(r))
    }
    await pending
    expect(probes).toBeGreaterThan(0)
    expect((await col.search(probe, { limit: 1 }))[0]!.id).toBe(5)
    expect(await col.count()).toBe(600)
    await db.close()
  })

  it('a point replaced during a pool search is found at its old or its new place, never lost', async () => {
    const db = await Quiver.open(dir)
    const col = await db.createCollection('c', { dimension: DIM, metric: 'Euclid' })
    const all = points(3000, 71)
    await col.upsert(all)
    const fresh = points(20, 72)
    for (let round = 0; round < 10; round++) {
      const requests = fresh.map((p) => ({ vector: p.vector, limit: 3000, exact: true }))
      const [results] = await Promise.all([
        col.searchBatch(requests),
        col.upsert([{ id: 5, vector: fresh[round]!.vector }]),
      ])
      for (const r of results) {
        expect(r).toHaveLength(3000)
        expect(r.some((h) => h.id === 5)).toBe(true)
      }
    }
    await db.close()
  })
})
