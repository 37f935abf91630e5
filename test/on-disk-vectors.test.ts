// `onDisk: true` end to end on real files: sealed quantized segments write their float32 vectors to
// a vector file and stop holding them in memory; answers (rescored, exact, filtered, retrieved
// vectors) are those of the same collection held in memory; a reopen, a delete + persist (the file
// is linked, not rewritten), a snapshot and a config change keep them; a damaged vector file is
// CORRUPTED (when opened, or when the damaged row is read), never a wrong answer.
import { existsSync } from 'node:fs'
import { mkdtemp, open, readdir, readlink, rm, stat, truncate } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import type { CreateCollectionOptions, ScoredPoint } from '../src/types.js'
import { normal, rng } from './support/random.js'

const DIM = 24
const PER_SEGMENT = 600
const N = PER_SEGMENT * 3 + 150 // three sealed segments and an appendable one

function points(n: number, seed: number) {
  const r = rng(seed)
  const centres = Array.from({ length: 12 }, () => Array.from({ length: DIM }, () => normal(r)))
  return Array.from({ length: n }, (_, i) => {
    const c = centres[i % centres.length]!
    return { id: i, vector: c.map((x) => x + 0.4 * normal(r)), payload: { group: i % 5 } }
  })
}

const DATA = points(N, 3)
const QUERIES = points(12, 4).map((p) => p.vector)

function options(onDisk: boolean): CreateCollectionOptions {
  return {
    dimension: DIM,
    metric: 'Euclid',
    onDisk,
    // payloads on disk too: every test below (snapshots, deletes, reopen) covers both files
    ...(onDisk ? { params: { onDiskPayload: true } } : {}),
    quantization: { scalar: { type: 'int8' } },
    optimizers: { maxSegmentSize: Math.ceil((PER_SEGMENT * DIM * 4) / 1024), defaultSegmentNumber: 8 },
  }
}

const ids = (hits: readonly ScoredPoint[]) => hits.map((h) => h.id)

async function segmentFiles(dir: string, collection: string): Promise<string[][]> {
  const root = join(dir, 'collections', collection, 'segments')
  const out: string[][] = []
  for (const seg of (await readdir(root)).sort()) out.push((await readdir(join(root, seg))).sort())
  return out
}

async function vectorFiles(dir: string, collection: string): Promise<string[]> {
  const root = join(dir, 'collections', collection, 'segments')
  const out: string[] = []
  for (const seg of await readdir(root))
    for (const f of await readdir(join(root, seg))) if (f === 'vectors.bin') out.push(join(root, seg, f))
  return out.sort()
}

describe('vectors on disk (onDisk: true)', () => {
  let dir: string
  let db: Quiver

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-on-disk-'))
    db = await Quiver.open(dir)
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  async function build(name: string, onDisk: boolean): Promise<HostedCollection> {
    const c = await db.createCollection(name, options(onDisk))
    for (let i = 0; i < DATA.length; i += 200) await c.upsert(DATA.slice(i, i + 200))
    await c.waitForOptimizers()
    await c.persist()
    return c
  }

  async function sameAnswers(a: HostedCollection, b: HostedCollection) {
    for (const q of QUERIES) {
      for (const params of [
        { ef: 64, quantization: { rescore: true, oversampling: 3 } },
        { ef: 64 },
        { exact: true },
        { ef: 64, quantization: { ignore: true } },
      ]) {
        const x = await a.search(q, { limit: 10, ...params })
        const y = await b.search(q, { limit: 10, ...params })
        expect(ids(y)).toEqual(ids(x))
        expect(y.map((h) => h.score)).toEqual(x.map((h) => h.score))
      }
      const filter = { must: [{ key: 'group', match: { value: 2 } }] }
      expect(ids(await b.search(q, { limit: 10, filter }))).toEqual(
        ids(await a.search(q, { limit: 10, filter })),
      )
    }
    const got = await b.get([0, 700, 1300, N - 1], { withVector: true })
    const want = await a.get([0, 700, 1300, N - 1], { withVector: true })
    expect(got).toEqual(want)
  }

  it('sealed segments keep their vectors in a vector file and answer as in memory', async () => {
    const ram = await build('ram', false)
    const disk = await build('disk', true)
    const rs = ram.stats()
    const ds = disk.stats()
    expect(ds.segmentsCount).toBe(rs.segmentsCount)
    expect(ds.segmentsCount).toBeGreaterThanOrEqual(4)
    expect(rs.onDiskVectorBytes).toBe(0)
    // every sealed segment's rows (24 floats each) are on disk; the appendable one's stay in memory
    expect(ds.onDiskVectorBytes).toBeGreaterThanOrEqual(PER_SEGMENT * 3 * DIM * 4)
    expect(ds.memoryBytes).toBeLessThan(rs.memoryBytes - ds.onDiskVectorBytes / 2)
    const files = await segmentFiles(dir, 'disk')
    expect(files.filter((f) => f.includes('vectors.bin')).length).toBe(ds.segmentsCount - 1)
    expect((await segmentFiles(dir, 'ram')).some((f) => f.includes('vectors.bin'))).toBe(false)
    expect((await disk.info()).config.vectors.get('')?.onDisk).toBe(true)
    await sameAnswers(ram, disk)
    // reopened: restored from the graph file (no vectors) and the vector file
    await db.close()
    db = await Quiver.open(dir)
    const ram2 = await db.getCollection('ram')
    const disk2 = await db.getCollection('disk')
    expect(disk2.stats().onDiskVectorBytes).toBe(ds.onDiskVectorBytes)
    await sameAnswers(ram2, disk2)
  })

  it('a delete in a sealed segment persists by linking the vector file, and survives a reopen', async () => {
    const disk = await build('disk', true)
    const before = await vectorFiles(dir, 'disk')
    const inodes = new Set(await Promise.all(before.map(async (p) => (await stat(p)).ino)))
    const nearest = (await disk.search(QUERIES[0]!, { limit: 3, exact: true })).map((h) => h.id)
    await disk.delete({ ids: nearest })
    await disk.persist()
    const after = await vectorFiles(dir, 'disk')
    expect(after).not.toEqual(before) // the changed segment moved to a new directory...
    for (const p of after) expect(inodes.has((await stat(p)).ino)).toBe(true) // ...its vector file linked there
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('disk')
    for (const params of [{ exact: true }, { ef: 64 }]) {
      const hits = ids(await again.search(QUERIES[0]!, { limit: 10, ...params }))
      for (const id of nearest) expect(hits).not.toContain(id)
    }
    expect(await again.get(nearest)).toEqual([])
  })

  it.skipIf(!existsSync('/proc/self/fd'))(
    'a segment replaced by a vacuum closes its files at once (no deleted file stays open)',
    async () => {
      const disk = await db.createCollection('vac', {
        ...options(true),
        optimizers: { ...options(true).optimizers, deletedThreshold: 0.2, vacuumMinVectorNumber: 100 },
      })
      for (let i = 0; i < DATA.length; i += 200) await disk.upsert(DATA.slice(i, i + 200))
      await disk.waitForOptimizers()
      await disk.persist()
      const held = async () => {
        const out: string[] = []
        for (const fd of await readdir('/proc/self/fd')) {
          const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '')
          if (target.includes('quiver-on-disk-') && /(vectors|payloads)\.bin \(deleted\)$/.test(target))
            out.push(target)
        }
        return out
      }
      // half of the first sealed segment goes: the vacuum rewrites it; the persist removes its directory
      await disk.delete({ ids: DATA.slice(0, PER_SEGMENT / 2).map((p) => p.id) })
      await disk.waitForOptimizers()
      expect(disk.stats().optimizer.completed.vacuum).toBeGreaterThan(0)
      await disk.persist()
      expect(await held()).toEqual([])
      expect(disk.stats().onDiskVectorBytes).toBeGreaterThan(0)
      expect(await disk.count()).toBe(N - PER_SEGMENT / 2)
    },
  )

  it('a snapshot of an on-disk collection recovers with the same answers', async () => {
    const disk = await build('disk', true)
    const snap = await db.createSnapshot('disk')
    await db.recoverSnapshot('copy', await db.snapshotPath('disk', snap.name))
    const copy = await db.getCollection('copy')
    expect(copy.stats().pointsCount).toBe(N)
    await sameAnswers(disk, copy)
  })

  it('turning onDisk off rebuilds the segments in memory; turning it on moves them at the next persist', async () => {
    const disk = await build('disk', true)
    await disk.updateConfig({ vectors: { '': { onDisk: false } } })
    await disk.waitForOptimizers()
    await disk.persist()
    expect(disk.stats().onDiskVectorBytes).toBe(0)
    expect(await vectorFiles(dir, 'disk')).toEqual([])
    await disk.updateConfig({ vectors: { '': { onDisk: true } } })
    await disk.persist()
    expect(disk.stats().onDiskVectorBytes).toBeGreaterThan(0)
    const ram = await build('ram', false)
    await sameAnswers(ram, disk)
  })

  it('onDisk without quantization: its own int8 codes steer the graph, candidates rescored from disk', async () => {
    const plain = { ...options(false), quantization: null }
    const ram = await db.createCollection('plain', plain)
    const disk = await db.createCollection('plaindisk', { ...plain, onDisk: true })
    for (const c of [ram, disk]) {
      for (let i = 0; i < DATA.length; i += 200) await c.upsert(DATA.slice(i, i + 200))
      await c.waitForOptimizers()
      await c.persist()
    }
    expect(ram.stats().onDiskVectorBytes).toBe(0)
    expect(disk.stats().onDiskVectorBytes).toBeGreaterThanOrEqual(PER_SEGMENT * 3 * DIM * 4)
    expect(disk.stats().quantizationBytes).toBeUndefined() // no quantization configured
    expect(disk.stats().memoryBytes).toBeLessThan(ram.stats().memoryBytes)
    let found = 0
    for (const q of QUERIES) {
      const exact = ids(await ram.search(q, { limit: 10, exact: true }))
      expect(ids(await disk.search(q, { limit: 10, exact: true }))).toEqual(exact)
      const hits = await disk.search(q, { limit: 10, ef: 64 })
      found += hits.filter((h) => exact.includes(h.id)).length
      // scores are float32 distances (rescored), as in memory
      const x = await ram.search(q, { limit: 3, exact: true })
      expect(hits[0]!.score).toBeCloseTo(x[0]!.score, 4)
    }
    expect(found / (QUERIES.length * 10)).toBeGreaterThanOrEqual(0.95)
    // turning it on later builds the codes (a rebuild), then moves the vectors at the next persist
    await ram.updateConfig({ vectors: { '': { onDisk: true } } })
    await ram.waitForOptimizers()
    await ram.persist()
    expect(ram.stats().onDiskVectorBytes).toBeGreaterThan(0)
    const moved = disk.stats().onDiskVectorBytes
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('plaindisk')
    expect(again.stats().onDiskVectorBytes).toBe(moved)
    expect((await again.search(QUERIES[0]!, { limit: 10 })).length).toBe(10)
  })

  it('datatype float16 writes half-size vector files and answers as the float16 collection in memory', async () => {
    const f16 = (onDisk: boolean) => ({ ...options(onDisk), datatype: 'float16' as const })
    const ram = await db.createCollection('h-ram', f16(false))
    const disk = await db.createCollection('h-disk', f16(true))
    const full = await build('h-f32', true)
    for (const c of [ram, disk]) {
      for (let i = 0; i < DATA.length; i += 200) await c.upsert(DATA.slice(i, i + 200))
      await c.waitForOptimizers()
      await c.persist()
    }
    const sizes = async (name: string) =>
      Promise.all((await vectorFiles(dir, name)).map(async (p) => (await stat(p)).size))
    const half = (await sizes('h-disk')).reduce((a, b) => a + b, 0)
    const whole = (await sizes('h-f32')).reduce((a, b) => a + b, 0)
    expect(half).toBeLessThan(whole * 0.6) // rows of 24 halves + a 4-byte CRC vs 24 floats + CRC
    expect(full.stats().onDiskVectorBytes).toBeGreaterThan(0)
    await sameAnswers(ram, disk)
  })

  it('onDiskPayload keeps sealed payloads in a payload file: filters, retrieval, updates and reopen as in memory', async () => {
    let mem = await build('mem', false)
    const c = await db.createCollection('pl', { ...options(true), params: { onDiskPayload: true } })
    await c.createPayloadIndex('group', 'integer')
    for (let i = 0; i < DATA.length; i += 200)
      await c.upsert(
        DATA.slice(i, i + 200).map((p) => ({ ...p, payload: { ...p.payload, text: `doc ${p.id}` } })),
      )
    await c.waitForOptimizers()
    await c.persist()
    const files = (await segmentFiles(dir, 'pl')).filter((f) => f.includes('payloads.bin'))
    expect(files.length).toBe(c.stats().segmentsCount - 1) // every sealed segment
    const base = (id: number): Record<string, unknown> => ({ group: id % 5, text: `doc ${id}` })
    const check = async (col: HostedCollection, want: (id: number) => Record<string, unknown>) => {
      const got = await col.get([0, 650, 1300, N - 1], { withPayload: true })
      expect(got.map((r) => r.payload)).toEqual([0, 650, 1300, N - 1].map(want))
      // an unindexed field (read from the file) and an indexed one
      const byText = await col.scroll({
        filter: { must: [{ key: 'text', match: { value: 'doc 777' } }] },
        limit: 5,
      })
      expect(byText.points.map((p) => p.id)).toEqual([777])
      expect(await col.count({ filter: { must: [{ key: 'group', match: { value: 3 } }] } })).toBe(
        DATA.filter((p) => p.payload.group === 3).length,
      )
      for (const q of QUERIES.slice(0, 4)) {
        const filter = { must: [{ key: 'group', match: { value: 1 } }] }
        expect(ids(await col.search(q, { limit: 10, filter }))).toEqual(
          ids(await mem.search(q, { limit: 10, filter })),
        )
      }
    }
    await check(c, base)
    expect(c.stats().memoryBytes).toBeLessThan(mem.stats().memoryBytes)
    // a payload change on a sealed point: kept in memory, written as a new payload file at the persist
    await c.setPayload({ extra: true }, { ids: [650] })
    const changed = (id: number) => (id === 650 ? { ...base(id), extra: true } : base(id))
    await check(c, changed)
    await c.persist()
    await db.close()
    db = await Quiver.open(dir)
    const again = await db.getCollection('pl')
    mem = await db.getCollection('mem')
    await check(again, changed)
    // turning it off brings the payloads back into memory at the next persist
    await again.updateConfig({ params: { onDiskPayload: false } })
    await again.persist()
    expect((await segmentFiles(dir, 'pl')).some((f) => f.includes('payloads.bin'))).toBe(false)
    await check(again, changed)
  })

  it('a torn vector file fails the open; a flipped bit in a row fails the search that reads it', async () => {
    await build('disk', true)
    await db.close()
    const [first] = await vectorFiles(dir, 'disk')
    const size = (await stat(first!)).size
    await truncate(first!, size - 64)
    db = await Quiver.open(dir)
    await expect(db.getCollection('disk')).rejects.toThrow(/vectors\.bin fails its size check/)
    await db.close()
    await rm(dir, { recursive: true, force: true })
    db = await Quiver.open(dir)
    await build('disk', true)
    await db.close()
    // flip one bit in every row's first float of one file: any search reading a row of it fails
    const [victim] = await vectorFiles(dir, 'disk')
    const rows = ((await stat(victim!)).size - 64 - 4) / (DIM * 4 + 4)
    const h = await open(victim!, 'r+')
    try {
      const b = Buffer.alloc(1)
      for (let r = 0; r < rows; r++) {
        await h.read(b, 0, 1, 64 + r * DIM * 4)
        b[0]! ^= 0x40
        await h.write(b, 0, 1, 64 + r * DIM * 4)
      }
    } finally {
      await h.close()
    }
    db = await Quiver.open(dir)
    const c = await db.getCollection('disk')
    await expect(c.search(QUERIES[0]!, { limit: 5, exact: true })).rejects.toThrow(
      /collections\/disk\/segments\/seg-[0-9a-f-]+\/vectors\.bin: row [0-9]+ fails its CRC32C check/,
    )
  })
})
