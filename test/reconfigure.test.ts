// Live reconfiguration (`updateConfig`, Qdrant's PATCH /collections/{name}): every kind of change
// applied while a writer and a reader run, checked against a model of the acknowledged writes and
// against exact search; refused changes change nothing; a change survives a reopen (also one
// whose rebuild was cut short) and its rebuild resumes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { CollectionUpdate, Payload, QuiverError } from '../src/index.js'
import { type HostedCollection, Quiver } from '../src/index.js'
import { rng } from './support/random.js'

const A = 16
const B = 8

/** Point `id`'s vectors at version `v` (deterministic, so the model needs only `v`). */
function vectorsFor(id: number, v: number) {
  const a = Array.from({ length: A }, (_, j) => Math.fround(Math.sin(id * 0.73 + v * 0.017 + j * 1.7) * 3))
  const b = Array.from({ length: B }, (_, j) => Math.cos(id * 0.41 + v * 0.029 + j * 0.9))
  return { a, b, s: { indices: [id % 13, 20 + (v % 5)], values: [1, 0.5] } }
}

async function newCollection(db: Quiver): Promise<HostedCollection> {
  return db.createCollection('docs', {
    vectors: {
      a: { dimension: A, metric: 'Euclid' },
      b: { dimension: B, metric: 'Cosine', hnsw: { m: 6 } },
    },
    sparseVectors: { s: {} },
    hnsw: { m: 10, efConstruct: 40 },
    // small segments: several of them, each rebuilt on its own
    optimizers: { maxSegmentSize: 24, defaultSegmentNumber: 2 },
  })
}

async function expectFailure(p: Promise<unknown>): Promise<QuiverError> {
  try {
    await p
  } catch (err) {
    return err as QuiverError
  }
  throw new Error('expected a rejection')
}

/** recall@10 of HNSW/quantized search on `a` against exact search, over `n` queries. */
async function recallA(c: HostedCollection, n: number): Promise<number> {
  const r = rng(99)
  let found = 0
  for (let q = 0; q < n; q++) {
    const query = Array.from({ length: A }, () => (r() * 2 - 1) * 3)
    const exact = new Set((await c.search(query, { using: 'a', limit: 10, exact: true })).map((h) => h.id))
    for (const h of await c.search(query, { using: 'a', limit: 10, ef: 64 })) if (exact.has(h.id)) found++
  }
  return found / (n * 10)
}

describe('live reconfiguration (updateConfig)', () => {
  let dir: string
  let db: Quiver | undefined
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-reconf-'))
  })
  afterEach(async () => {
    await db?.close().catch(() => undefined)
    db = undefined
    await rm(dir, { recursive: true, force: true })
  })

  it('applies every kind of change while a writer and a reader run; the data matches a model', async () => {
    db = await Quiver.open(dir)
    const c = await newCollection(db)
    const model = new Map<number, { v: number; p: Payload }>()
    const r = rng(7)
    const seed: { id: number; vector: ReturnType<typeof vectorsFor>; payload: Payload }[] = []
    for (let id = 0; id < 1200; id++) {
      seed.push({ id, vector: vectorsFor(id, 0), payload: { g: id % 7 } })
      model.set(id, { v: 0, p: { g: id % 7 } })
    }
    for (let i = 0; i < seed.length; i += 300) await c.upsert(seed.slice(i, i + 300))
    await c.waitForOptimizers()

    let acks = 0
    let stop = false
    const waiters: { at: number; resolve: () => void }[] = []
    const afterAcks = (n: number) => new Promise<void>((resolve) => waiters.push({ at: acks + n, resolve }))
    const writer = (async () => {
      for (let k = 1; !stop; k++) {
        const x = r()
        if (x < 0.7) {
          const ids = Array.from({ length: 1 + Math.floor(r() * 30) }, () => Math.floor(r() * 1500))
          const unique = [...new Set(ids)]
          await c.upsert(unique.map((id) => ({ id, vector: vectorsFor(id, k), payload: { g: id % 7, k } })))
          for (const id of unique) model.set(id, { v: k, p: { g: id % 7, k } })
        } else if (x < 0.85) {
          const ids = Array.from({ length: 1 + Math.floor(r() * 10) }, () => Math.floor(r() * 1500))
          await c.delete({ ids })
          for (const id of ids) model.delete(id)
        } else {
          const ids = [...model.keys()].slice(0, 5)
          await c.setPayload({ touched: k }, { ids })
          for (const id of ids) model.get(id)!.p = { ...model.get(id)!.p, touched: k }
        }
        acks++
        for (const w of waiters.filter((w) => acks >= w.at)) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve()
        }
      }
    })()
    let reads = 0
    const readerErrors: unknown[] = []
    const reader = (async () => {
      const q = rng(3)
      while (!stop) {
        try {
          const query = Array.from({ length: A }, () => (q() * 2 - 1) * 3)
          const hits = await c.search(query, { using: 'a', limit: 10, withPayload: true })
          if (hits.length !== 10) throw new Error(`search returned ${hits.length} hits`)
          const bq = Array.from({ length: B }, () => q() * 2 - 1)
          await c.query({ query: bq, using: 'b', limit: 5 })
          await c.search({ indices: [1, 21], values: [1, 1] }, { using: 's', limit: 3 })
          reads++
        } catch (err) {
          readerErrors.push(err)
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
    })()

    const updates: CollectionUpdate[] = [
      { hnsw: { m: 6 } }, // both vectors follow (b's own m 6 stays)
      { quantization: { scalar: { type: 'int8', quantile: 0.99 } } },
      { vectors: { b: { quantization: { binary: {} }, hnsw: { efConstruct: 24 } } } },
      { hnsw: { efConstruct: 64, fullScanThreshold: 500 } },
      { vectors: { a: { quantization: { product: { compression: 'x4' } } } } },
      { optimizers: { deletedThreshold: 0.1, vacuumMinVectorNumber: 50 } },
      { sparseVectors: { s: { modifier: 'idf' } } },
      { params: { replicationFactor: 2, onDiskPayload: true } },
      { vectors: { a: { onDisk: true, hnsw: { m: 0 } } } }, // a: no graph (exact scans)
      // the collection-level quantizer removed: vectors with their own keep theirs until removed too
      {
        vectors: { a: { hnsw: { m: 12 }, quantization: null }, b: { quantization: null } },
        quantization: null,
      },
    ]
    for (const update of updates) {
      await afterAcks(8)
      await c.updateConfig(update)
    }
    await afterAcks(8)
    stop = true
    await Promise.all([writer, reader])
    await c.waitForOptimizers()

    expect(readerErrors).toEqual([])
    expect(reads).toBeGreaterThan(0)
    const info = await c.info()
    expect(info.status).toBe('green')
    const a = c.config.vectors.get('a')!
    const b = c.config.vectors.get('b')!
    expect(a.hnsw).toEqual({ m: 12, efConstruct: 64, fullScanThreshold: 500, ef: 64 })
    expect(a.onDisk).toBe(true)
    expect(a.quantization).toBeUndefined()
    expect(b.hnsw).toEqual({ m: 6, efConstruct: 24, fullScanThreshold: 500, ef: 64 })
    expect(b.quantization).toBeUndefined()
    expect(c.config.hnsw).toEqual({ m: 6, efConstruct: 64, fullScanThreshold: 500, ef: 64 })
    expect(c.config.quantization).toBeUndefined()
    expect(c.config.sparseVectors.get('s')!.modifier).toBe('idf')
    expect(c.config.optimizers.deletedThreshold).toBe(0.1)
    expect(c.config.params).toEqual({ replicationFactor: 2, onDiskPayload: true })
    expect(c.stats().optimizer.completed.reconfigure).toBeGreaterThan(0)

    const got = await c.get([...model.keys()], { withVector: ['a'], withPayload: true })
    expect(got.length).toBe(model.size)
    for (const p of got) {
      const m = model.get(p.id as number)!
      expect(p.payload).toEqual(m.p)
      expect((p.vector as { a: number[] }).a).toEqual(vectorsFor(p.id as number, m.v).a)
    }
    expect(await c.count()).toBe(model.size)
    expect(await recallA(c, 20)).toBeGreaterThanOrEqual(0.9)

    // the config and every rebuilt segment survive a reopen
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('docs')
    expect(again.config.vectors.get('a')).toEqual(a)
    expect(again.config.params).toEqual({ replicationFactor: 2, onDiskPayload: true })
    expect((await again.info()).status).toBe('green')
    expect(await again.count()).toBe(model.size)
  }, 120_000)

  it('refuses a bad change, naming the field, and changes nothing', async () => {
    db = await Quiver.open(dir)
    const c = await newCollection(db)
    await c.upsert([{ id: 1, vector: vectorsFor(1, 0) }])
    const before = c.config
    const seq = c.stats().appliedSeq
    const bad: [unknown, RegExp][] = [
      [{ hnsw: { m: 1 } }, /hnsw\.m must be 0 \(no graph\) or >= 2/],
      [{ hnsw: { efConstruct: 0 } }, /hnsw\.efConstruct/],
      [{ vectors: { c: { onDisk: true } } }, /vectors\.c: the collection has no dense vector "c"/],
      [{ vectors: { s: { onDisk: true } } }, /vectors\.s: .*it is a sparse vector/],
      [
        { vectors: { a: { quantization: { scalar: { type: 'int4' } } } } },
        /vectors\.a\.quantization\.scalar\.type/,
      ],
      [{ vectors: { a: { size: 3 } } }, /vectors\.a\.size: unknown field/],
      [{ quantization: { product: { compression: 'x3' } } }, /quantization\.product\.compression/],
      [{ sparseVectors: { s: { modifier: 'bm25' } } }, /sparseVectors\.s\.modifier/],
      [{ sparseVectors: { a: {} } }, /sparseVectors\.a: the collection has no sparse vector/],
      [{ optimizers: { deletedThreshold: 2 } }, /deletedThreshold/],
      [{ params: { replicationFactor: 0 } }, /params\.replicationFactor/],
      [{ dimension: 4 }, /dimension: unknown field/],
      // valid first half, bad second half: nothing of it applies
      [{ hnsw: { m: 20 }, vectors: { b: { hnsw: { m: 1 } } } }, /vectors\.b\.hnsw\.m/],
    ]
    for (const [update, message] of bad) {
      const err = await expectFailure(c.updateConfig(update as CollectionUpdate))
      expect(err.code, JSON.stringify(update)).toBe('INVALID_CONFIG')
      expect(err.message).toMatch(message)
    }
    expect(c.config).toBe(before)
    expect(c.stats().appliedSeq).toBe(seq)
    // a change to what is already set is not logged either
    await c.updateConfig({ hnsw: { m: 10 } })
    expect(c.stats().appliedSeq).toBe(seq)
  })

  it('keeps a change whose rebuild was cut short by a close, and finishes the rebuild after the reopen', async () => {
    db = await Quiver.open(dir)
    const c = await newCollection(db)
    const pts = Array.from({ length: 2000 }, (_, id) => ({ id, vector: vectorsFor(id, 0), payload: { id } }))
    for (let i = 0; i < pts.length; i += 250) await c.upsert(pts.slice(i, i + 250))
    await c.waitForOptimizers()
    const segments = (await c.info()).segmentsCount
    expect(segments).toBeGreaterThan(2)
    await c.updateConfig({ vectors: { a: { hnsw: { m: 4 }, quantization: { scalar: { type: 'int8' } } } } })
    expect((await c.info()).status).toBe('yellow')
    // close stops the optimizer at its next slice: some segments are still built for the old config
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('docs')
    expect((await again.info()).status).toBe('yellow')
    expect(again.config.vectors.get('a')!.hnsw.m).toBe(4)
    expect(again.config.vectors.get('a')!.quantization).toEqual({ scalar: { type: 'int8' } })
    await again.waitForOptimizers()
    expect((await again.info()).status).toBe('green')
    expect(await again.count()).toBe(2000)
    expect(await recallA(again, 10)).toBeGreaterThanOrEqual(0.9)
    for (const p of await again.get([0, 999, 1999], { withVector: ['a'] }))
      expect((p.vector as { a: number[] }).a).toEqual(vectorsFor(p.id as number, 0).a)
  }, 60_000)

  it('a change logged but not yet persisted is replayed from the WAL', async () => {
    db = await Quiver.open(dir)
    const c = await newCollection(db)
    await c.upsert([{ id: 1, vector: vectorsFor(1, 0) }])
    await c.updateConfig({ hnsw: { efConstruct: 77 }, params: { writeConsistencyFactor: 3 } })
    await c.closeWithoutPersist()
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('docs')
    expect(again.config.hnsw.efConstruct).toBe(77)
    expect(again.config.vectors.get('a')!.hnsw.efConstruct).toBe(77)
    expect(again.config.params).toEqual({ writeConsistencyFactor: 3 })
  })

  it("a vector's quantization removed falls back to the collection-level one (as Qdrant)", async () => {
    db = await Quiver.open(dir)
    const c = await newCollection(db)
    await c.updateConfig({
      quantization: { scalar: { type: 'int8' } },
      vectors: { b: { quantization: { binary: {} } } },
    })
    expect(c.config.vectors.get('a')!.quantization).toEqual({ scalar: { type: 'int8' } })
    expect(c.config.vectors.get('b')!.quantization).toEqual({ binary: {} })
    await c.updateConfig({ vectors: { b: { quantization: null } } })
    expect(c.config.vectors.get('b')!.quantization).toEqual({ scalar: { type: 'int8' } })
    await c.updateConfig({ quantization: null })
    expect(c.config.vectors.get('a')!.quantization).toBeUndefined()
    expect(c.config.vectors.get('b')!.quantization).toBeUndefined()
  })

  it('db.updateCollection changes a collection by name', async () => {
    db = await Quiver.open(dir)
    await newCollection(db)
    await db.updateCollection('docs', { vectors: { b: { hnsw: { ef: 200 } } } })
    expect((await db.getCollection('docs')).config.vectors.get('b')!.hnsw.ef).toBe(200)
    const err = await expectFailure(db.updateCollection('nope', {}))
    expect(err.code).toBe('COLLECTION_NOT_FOUND')
  })
})
