// The background optimizers on real files: sealing at the size threshold, vacuum of deleted points,
// merge of small segments, writes racing an optimization, status reporting, persistence of the
// result, and HNSW quality after heavy churn compared with a fresh build.
import { mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import type { CreateCollectionOptions, Payload } from '../src/types.js'
import { rng } from './support/random.js'

const DIM = 16

type Model = Map<number, { vector: number[]; payload: Payload }>

function randomVector(r: () => number): number[] {
  return Array.from({ length: DIM }, () => r() * 2 - 1)
}

/** Asserts the collection holds exactly the model's points (ids, payloads, vectors) and finds them. */
async function expectModel(c: HostedCollection, model: Model): Promise<void> {
  expect(await c.count()).toBe(model.size)
  const seen: number[] = []
  let offset: number | string | null = null
  do {
    const page = await c.scroll({ limit: 97, offset, withVector: true })
    for (const p of page.points) {
      const want = model.get(p.id as number)
      expect(want, `point ${p.id} should not exist`).toBeDefined()
      expect(p.payload).toEqual(want!.payload)
      expect((p.vector as number[]).map((x) => Math.fround(x))).toEqual(
        want!.vector.map((x) => Math.fround(x)),
      )
      seen.push(p.id as number)
    }
    offset = page.nextPageOffset
  } while (offset !== null)
  expect(seen).toEqual([...model.keys()].sort((a, b) => a - b))
  expect(c.checkIntegrity()).toEqual({ ok: true, problems: [] })
  const ids = [...model.keys()]
  for (let i = 0; i < Math.min(20, ids.length); i++) {
    const id = ids[Math.floor((i * ids.length) / 20)]!
    const [hit] = await c.search(model.get(id)!.vector, { limit: 1, exact: true })
    expect(hit?.id).toBe(id)
  }
}

describe('optimizers', () => {
  let dir: string
  let db: Quiver

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-optim-'))
    db = await Quiver.open(dir)
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function create(options: Partial<CreateCollectionOptions> = {}): Promise<HostedCollection> {
    return db.createCollection('c', { dimension: DIM, metric: 'Euclid', ...options })
  }

  async function fill(c: HostedCollection, n: number, seed: number, model: Model): Promise<void> {
    const r = rng(seed)
    for (let start = 0; start < n; start += 250) {
      const batch = Array.from({ length: Math.min(250, n - start) }, (_, i) => {
        const id = start + i
        const point = { id, vector: randomVector(r), payload: { n: id, group: id % 5 } }
        model.set(id, { vector: point.vector, payload: point.payload })
        return point
      })
      await c.upsert(batch)
    }
  }

  it('vacuums a segment whose deleted fraction passes the threshold, keeping every live point', async () => {
    const c = await create({ optimizers: { deletedThreshold: 0.2, vacuumMinVectorNumber: 100 } })
    const model: Model = new Map()
    await fill(c, 2000, 1, model)
    await c.createPayloadIndex('group', 'integer')
    await c.waitForOptimizers()
    expect((await c.info()).status).toBe('green')
    const ids = [...model.keys()].filter((id) => id % 2 === 0)
    await c.delete({ ids })
    for (const id of ids) model.delete(id)
    await c.waitForOptimizers()
    const stats = c.stats()
    expect(stats.optimizer.completed.vacuum).toBeGreaterThanOrEqual(1)
    expect(stats.storedCount).toBe(model.size)
    const info = await c.info()
    expect(info.status).toBe('green')
    expect(info.optimizerStatus).toBe('ok')
    expect(info.payloadSchema.group?.points).toBe(model.size)
    await expectModel(c, model)
    expect(await c.count({ filter: { must: [{ key: 'group', match: { value: 3 } }] } })).toBe(
      [...model.values()].filter((p) => p.payload.group === 3).length,
    )
    await db.close()
    db = await Quiver.open(dir)
    const reopened = await db.getCollection('c')
    expect(reopened.stats().storedCount).toBe(model.size)
    await expectModel(reopened, model)
  })

  it('applies writes made while an optimization runs', async () => {
    const c = await create({ optimizers: { deletedThreshold: 0.1, vacuumMinVectorNumber: 100 } })
    const model: Model = new Map()
    await fill(c, 5000, 2, model)
    const r = rng(3)
    // deleting 40% schedules a vacuum; the writes below race it (each awaited write yields to it)
    const gone = [...model.keys()].filter((id) => id % 5 < 2)
    await c.delete({ ids: gone })
    for (const id of gone) model.delete(id)
    expect(c.stats().optimizer.running).toBe(true)
    let racing = 0
    for (let step = 0; c.stats().optimizer.running && step < 10_000; step++) {
      const id = Math.floor(r() * 6000)
      const kind = step % 4
      if (kind === 0) {
        const point = { id, vector: randomVector(r), payload: { n: id, group: step % 5, step } }
        await c.upsert([point])
        model.set(id, { vector: point.vector, payload: point.payload })
      } else if (kind === 1) {
        await c.delete({ ids: [id] })
        model.delete(id)
      } else if (model.has(id)) {
        await c.setPayload({ touched: step }, { ids: [id] })
        model.get(id)!.payload = { ...model.get(id)!.payload, touched: step }
      }
      racing++
    }
    expect(racing).toBeGreaterThan(3)
    await c.waitForOptimizers()
    expect(c.stats().optimizer.completed.vacuum).toBeGreaterThanOrEqual(1)
    await expectModel(c, model)
    await db.close()
    db = await Quiver.open(dir)
    await expectModel(await db.getCollection('c'), model)
  })

  it('seals the appendable segment at maxSegmentSize and serves every read across segments', async () => {
    // 16 KiB = 256 points of 16 floats per segment
    const c = await create({ optimizers: { maxSegmentSize: 16, defaultSegmentNumber: 2 } })
    const model: Model = new Map()
    await fill(c, 1000, 4, model)
    await c.waitForOptimizers()
    expect(c.stats().segmentsCount).toBeGreaterThanOrEqual(4)
    await expectModel(c, model)
    // replacing points that live in sealed segments moves them into the appendable one
    const r = rng(5)
    for (const id of [3, 300, 600, 999]) {
      const point = { id, vector: randomVector(r), payload: { n: id, moved: true } }
      await c.upsert([point])
      model.set(id, { vector: point.vector, payload: point.payload })
    }
    await c.setPayload({ flag: 1 }, { filter: { must: [{ key: 'n', range: { lt: 10 } }] } })
    for (const p of model.values()) if ((p.payload.n as number) < 10) p.payload = { ...p.payload, flag: 1 }
    await expectModel(c, model)
    const q = randomVector(r)
    const exact = new Set((await c.search(q, { limit: 10, exact: true })).map((h) => h.id))
    const hits = await c.search(q, { limit: 10, ef: 200 })
    expect(hits.filter((h) => exact.has(h.id)).length).toBeGreaterThanOrEqual(9)
    await db.close()
    db = await Quiver.open(dir)
    await expectModel(await db.getCollection('c'), model)
  })

  it('merges small segments left by vacuum and reports status while working', async () => {
    const c = await create({
      optimizers: {
        maxSegmentSize: 16,
        defaultSegmentNumber: 2,
        deletedThreshold: 0.3,
        vacuumMinVectorNumber: 50,
      },
    })
    const model: Model = new Map()
    await fill(c, 1200, 6, model)
    await c.waitForOptimizers()
    const before = c.stats().segmentsCount
    const gone = [...model.keys()].filter((id) => id % 10 < 7)
    await c.delete({ ids: gone })
    for (const id of gone) model.delete(id)
    expect((await c.info()).status).toBe('yellow')
    await c.waitForOptimizers()
    const stats = c.stats()
    expect(stats.optimizer.completed.merge).toBeGreaterThanOrEqual(1)
    expect(stats.segmentsCount).toBeLessThan(before)
    expect((await c.info()).status).toBe('green')
    await expectModel(c, model)
  })

  it('does not merge again on every write once the sealed segments are joined', async () => {
    const c = await create({
      optimizers: {
        maxSegmentSize: 16,
        defaultSegmentNumber: 1,
        deletedThreshold: 0.3,
        vacuumMinVectorNumber: 50,
      },
    })
    const model: Model = new Map()
    await fill(c, 1000, 10, model)
    const gone = [...model.keys()].filter((id) => id % 10 < 6)
    await c.delete({ ids: gone })
    await c.waitForOptimizers()
    const settled = c.stats().optimizer.completed
    const r = rng(11)
    for (let i = 0; i < 20; i++) {
      await c.upsert([{ id: 10_000 + i, vector: randomVector(r), payload: null }])
      await c.waitForOptimizers()
    }
    expect(c.stats().optimizer.completed).toEqual(settled)
    expect((await c.info()).status).toBe('green')
  })

  it('persists only segments that changed', async () => {
    const c = await create({ optimizers: { maxSegmentSize: 16 } })
    await fill(c, 800, 7, new Map())
    await c.waitForOptimizers()
    await c.persist()
    const segDir = join(dir, 'collections', 'c', 'segments')
    const first = new Set(await readdir(segDir))
    await c.upsert([{ id: 5000, vector: randomVector(rng(8)), payload: null }])
    await c.persist()
    const second = new Set(await readdir(segDir))
    const kept = [...first].filter((d) => second.has(d))
    expect(second.size).toBe(first.size)
    expect(kept.length).toBe(first.size - 1) // only the appendable segment was rewritten
  })

  it('keeps HNSW quality after half the collection is replaced, compared with a fresh build', async () => {
    const n = 4000
    const r = rng(9)
    const vectors = Array.from({ length: n * 2 }, () => randomVector(r))
    const churned = await create({ optimizers: { deletedThreshold: 0.2, vacuumMinVectorNumber: 100 } })
    const fresh = await db.createCollection('fresh', { dimension: DIM, metric: 'Euclid' })
    const upsertAll = async (c: HostedCollection, ids: number[], offset: number) => {
      for (let i = 0; i < ids.length; i += 500) {
        await c.upsert(ids.slice(i, i + 500).map((id) => ({ id, vector: vectors[id + offset]! })))
      }
    }
    const all = Array.from({ length: n }, (_, i) => i)
    await upsertAll(churned, all, 0)
    // replace half: 25% by upserting new vectors under existing ids, 25% deleted and new ids added
    const replaced = all.filter((i) => i % 4 === 0)
    const deleted = all.filter((i) => i % 4 === 1)
    await upsertAll(churned, replaced, n)
    await churned.delete({ ids: deleted })
    const added = deleted.map((i) => i + n)
    await upsertAll(churned, added, 0)
    await churned.waitForOptimizers()
    const live = all.filter((i) => i % 4 !== 1).concat(added)
    const vectorOf = (id: number) => (id >= n ? vectors[id]! : id % 4 === 0 ? vectors[id + n]! : vectors[id]!)
    for (let i = 0; i < live.length; i += 500) {
      await fresh.upsert(live.slice(i, i + 500).map((id) => ({ id, vector: vectorOf(id) })))
    }
    expect(await churned.count()).toBe(live.length)
    const queries = Array.from({ length: 100 }, () => randomVector(r))
    const recall = async (c: HostedCollection) => {
      let hits = 0
      for (const q of queries) {
        const truth = new Set((await c.search(q, { limit: 10, exact: true })).map((h) => h.id))
        for (const h of await c.search(q, { limit: 10, ef: 32 })) if (truth.has(h.id)) hits++
      }
      return hits / (queries.length * 10)
    }
    const rChurned = await recall(churned)
    const rFresh = await recall(fresh)
    expect(rChurned).toBeGreaterThanOrEqual(rFresh - 0.02)
    const sc = churned.stats()
    const sf = fresh.stats()
    expect(sc.storedCount).toBeLessThanOrEqual(sf.storedCount * 1.2)
    expect(sc.memoryBytes).toBeLessThanOrEqual(sf.memoryBytes * 1.2)
  })
})
