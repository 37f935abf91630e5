// A data directory written by format 1 (one unnamed vector per point; test/fixtures/format-v1,
// written by commit 72dc747 with make.mjs) opens unchanged with this release: every point, payload,
// payload index, quantization and IVF setting, WAL-only write and snapshot survives, and the
// directory is upgraded in place to the current format (config.json at open, manifest and segments
// at the next persist), then reopens. A format-2 directory (test/fixtures/format-v2, written by
// commit dc561eb) opens likewise.
import { cp, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { decode } from '@msgpack/msgpack'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { FORMAT_VERSION } from '../src/collection/persistence.js'
import type { HostedCollection } from '../src/index.js'
import { Quiver } from '../src/index.js'

const FIXTURE = join(import.meta.dirname, 'fixtures', 'format-v1', 'data')

// the generator's data (make.mjs)
const vec = (i: number, dim: number) =>
  Array.from({ length: dim }, (_, j) => Math.sin((i + 1) * (j + 1) * 0.37))
const payload = (i: number) => ({
  n: i,
  tag: ['red', 'green', 'blue'][i % 3]!,
  text: `point number ${i} ${i % 2 === 0 ? 'even' : 'odd'}`,
  nested: { k: i % 5 },
})
const UUID = '5c56c793-69f3-4fbf-87e6-c4bf54c28c26'

function unit(v: number[]): number[] {
  const n = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  return v.map((x) => x / n)
}

/** The docs collection's expected points after every write of make.mjs. */
function expectedDocs(): Map<number | string, { vector: number[]; payload: Record<string, unknown> }> {
  const m = new Map<number | string, { vector: number[]; payload: Record<string, unknown> }>()
  for (let i = 0; i < 300; i++) m.set(i, { vector: vec(i, 8), payload: payload(i) })
  m.set(UUID, { vector: vec(1000, 8), payload: { tag: 'uuid', n: 1000 } })
  for (const id of [3, 4, 5, 250]) m.delete(id)
  for (const id of [10, 11]) m.get(id)!.payload = { ...m.get(id)!.payload, extra: true }
  m.set(5000, { vector: vec(5000, 8), payload: { tag: 'wal-only', n: 5000 } })
  m.delete(6)
  return m
}

async function formatOf(path: string): Promise<number> {
  const outer = JSON.parse(await readFile(path, 'utf8')) as { body: string }
  return (JSON.parse(outer.body) as { formatVersion: number }).formatVersion
}

async function checkDocs(docs: HostedCollection): Promise<void> {
  const want = expectedDocs()
  expect(await docs.count()).toBe(want.size)
  const got = await docs.get([...want.keys()], { withVector: true })
  expect(got.length).toBe(want.size)
  for (const p of got) {
    const w = want.get(p.id)!
    expect(p.payload).toEqual(w.payload)
    const v = p.vector as number[]
    for (const [j, x] of unit(w.vector).entries()) expect(v[j]).toBeCloseTo(x, 5)
  }
  // the payload indexes came along and answer filters (keyword, integer range, full text)
  const info = await docs.info()
  expect(Object.keys(info.payloadSchema).sort()).toEqual(['n', 'tag', 'text'])
  expect(info.payloadSchema.tag!.dataType).toBe('keyword')
  const reds = [...want].filter(([, w]) => w.payload.tag === 'red').length
  expect(await docs.count({ filter: { must: [{ key: 'tag', match: { value: 'red' } }] } })).toBe(reds)
  const range = [...want].filter(([, w]) => typeof w.payload.n === 'number' && (w.payload.n as number) < 50)
  expect(await docs.count({ filter: { must: [{ key: 'n', range: { lt: 50 } }] } })).toBe(range.length)
  expect(await docs.count({ filter: { must: [{ key: 'text', match: { text: 'even' } }] } })).toBe(
    [...want].filter(([, w]) => String(w.payload.text ?? '').includes('even')).length,
  )
  // quantization config and search: the exact nearest neighbour of a stored point is itself (the
  // fixture's sine vectors repeat nearly every 17 ids, so the quantized search may rank a twin first)
  expect(docs.config.vectors.get('')!.quantization).toEqual({
    scalar: { type: 'int8', quantile: 0.99, always_ram: true },
  })
  for (const id of [0, 42, 299, UUID, 5000]) {
    const [top] = await docs.search(want.get(id)!.vector, { limit: 1, exact: true })
    expect(top!.id).toBe(id)
    const [approx] = await docs.search(want.get(id)!.vector, { limit: 1 })
    expect(approx!.score).toBeGreaterThan(0.99)
  }
  expect(docs.checkIntegrity().ok).toBe(true)
}

async function checkIvf(ivf: HostedCollection): Promise<void> {
  expect(await ivf.count()).toBe(400)
  expect(ivf.config.vectors.get('')!.index).toEqual({ type: 'ivf', nlist: 4, nprobe: null })
  const q = vec(17, 4)
  const exact = await ivf.search(q, { limit: 5, exact: true })
  expect((await ivf.search(q, { limit: 5, nprobe: 4 })).map((h) => h.id)).toEqual(exact.map((h) => h.id))
  expect(exact[0]!.id).toBe(18) // point i + 1 holds vec(i)
}

describe('format 1 data directory (written by the previous release)', () => {
  let dir: string
  const open: Quiver[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-upgrade-'))
    await cp(FIXTURE, dir, { recursive: true })
  })
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it('opens with every point, payload, index, quantization and IVF setting, and the WAL-only writes', async () => {
    expect(await formatOf(join(dir, 'collections', 'docs', 'config.json'))).toBe(1)
    const db = await Quiver.open(dir)
    try {
      expect(db.listCollections().sort()).toEqual(['docs', 'ivf'])
      await checkDocs(await db.getCollection('docs'))
      await checkIvf(await db.getCollection('ivf'))
    } finally {
      await db.close()
    }
  })

  it('is upgraded in place to the current format and reopens', async () => {
    const db = await Quiver.open(dir)
    open.push(db)
    const docs = await db.getCollection('docs')
    // config.json is rewritten at open; manifest and segments at the next persist (close at the latest)
    expect(await formatOf(join(dir, 'collections', 'docs', 'config.json'))).toBe(FORMAT_VERSION)
    await docs.upsert([{ id: 7000, vector: vec(7000, 8), payload: { tag: 'after-upgrade' } }])
    await db.close()
    for (const name of ['docs', 'ivf']) {
      const cdir = join(dir, 'collections', name)
      expect(await formatOf(join(cdir, 'config.json'))).toBe(FORMAT_VERSION)
      expect(await formatOf(join(cdir, 'manifest.json'))).toBe(FORMAT_VERSION)
      for (const seg of await readdir(join(cdir, 'segments'))) {
        const points = decode(await readFile(join(cdir, 'segments', seg, 'points.msgpack'))) as { v: number }
        expect(points.v).toBe(2)
      }
    }
    const again = await Quiver.open(dir)
    open.push(again)
    const docs2 = await again.getCollection('docs')
    expect((await docs2.get([7000]))[0]!.payload).toEqual({ tag: 'after-upgrade' })
    await docs2.delete({ ids: [7000] })
    await checkDocs(docs2)
    await checkIvf(await again.getCollection('ivf'))
    await again.close()
  })

  it('recovers the collection and full snapshots that format 1 wrote', async () => {
    const db = await Quiver.open(dir)
    open.push(db)
    const [snap] = await db.listSnapshots('docs')
    expect(snap).toBeDefined()
    await db.recoverSnapshot('restored', await db.snapshotPath('docs', snap!.name))
    const restored = await db.getCollection('restored')
    // the snapshot was taken before the WAL-only writes (5000 added, 6 deleted)
    const want = expectedDocs()
    want.delete(5000)
    expect(await restored.count()).toBe(want.size + 1)
    expect((await restored.get([6]))[0]!.payload).toEqual(payload(6))
    const [full] = await db.listFullSnapshots()
    await db.deleteCollection('ivf')
    const names = await db.recoverFullSnapshot(await db.fullSnapshotPath(full!.name))
    expect(names.sort()).toEqual(['docs', 'ivf'])
    await checkIvf(await db.getCollection('ivf'))
    // the full snapshot predates the WAL-only writes too
    expect(await (await db.getCollection('docs')).count()).toBe(want.size + 1)
    await db.close()
  })
})

const FIXTURE_V2 = join(import.meta.dirname, 'fixtures', 'format-v2', 'data')

/** The format-2 fixture's docs points after every write of its make.mjs: id -> payload. */
function expectedV2(): Map<number, Record<string, unknown>> {
  const m = new Map<number, Record<string, unknown>>()
  for (let i = 0; i < 300; i++) m.set(i, { n: i, tag: ['red', 'green', 'blue'][i % 3]! })
  for (const id of [3, 4, 250, 6]) m.delete(id)
  for (const id of [10, 11]) m.set(id, { ...m.get(id)!, extra: true })
  m.set(5000, { tag: 'wal-only', n: 5000 })
  return m
}

async function checkV2(docs: HostedCollection): Promise<void> {
  const want = expectedV2()
  expect(await docs.count()).toBe(want.size)
  const got = await docs.get([...want.keys()], { withVector: true })
  expect(new Map(got.map((p) => [p.id, p.payload]))).toEqual(want)
  const p21 = got.find((p) => p.id === 21)!.vector as Record<string, unknown>
  expect(Object.keys(p21).sort()).toEqual(['image', 'keywords', 'text'])
  // point 30 had no image vector (i % 10 === 0)
  expect(Object.keys(got.find((p) => p.id === 30)!.vector as object).sort()).toEqual(['keywords', 'text'])
  // each vector answers searches: the point's own vector is its nearest
  // (text vectors of the fixture come in near-duplicate pairs: 42's is 0.99994 from 25's)
  const text = await docs.search(vec(42, 8), { using: 'text', limit: 3 })
  expect(text.map((h) => h.id)).toContain(42)
  const image = (
    await docs.search(
      vec(42, 4).map((_, j) => Math.sin(43 * (j + 1) * 0.11)),
      { using: 'image', limit: 1 },
    )
  )[0]!
  expect(image.id).toBe(42)
  expect(await docs.count({ filter: { must: [{ key: 'tag', match: { value: 'wal-only' } }] } })).toBe(1)
}

describe('format 2 data directory (written by the previous release)', () => {
  let dir: string
  const open: Quiver[] = []
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-v2-'))
    await cp(FIXTURE_V2, dir, { recursive: true })
  })
  afterEach(async () => {
    for (const db of open.splice(0)) await db.close().catch(() => undefined)
    await rm(dir, { recursive: true, force: true })
  })

  it('opens with every point, vector, payload index and WAL-only write, and is upgraded at open', async () => {
    const cdir = join(dir, 'collections', 'docs')
    expect(await formatOf(join(cdir, 'manifest.json'))).toBe(2)
    const db = await Quiver.open(dir)
    open.push(db)
    const docs = await db.getCollection('docs')
    await checkV2(docs)
    const c = docs.config
    expect(c.vectors.get('text')!.quantization).toEqual({ scalar: { type: 'int8', quantile: 0.99 } })
    expect(c.vectors.get('image')!.hnsw).toMatchObject({ m: 8, efConstruct: 32 })
    expect(c.sparseVectors.get('keywords')!.modifier).toBe('idf')
    // config.json and manifest.json are rewritten at open (the segment, changed by the WAL-only writes, too)
    expect(await formatOf(join(cdir, 'config.json'))).toBe(FORMAT_VERSION)
    expect(await formatOf(join(cdir, 'manifest.json'))).toBe(FORMAT_VERSION)
    await db.close()
    const again = await Quiver.open(dir)
    open.push(again)
    await checkV2(await again.getCollection('docs'))
    await again.close()
  })

  it('takes a live config change after the upgrade and keeps it across a reopen', async () => {
    const db = await Quiver.open(dir)
    open.push(db)
    const docs = await db.getCollection('docs')
    await docs.updateConfig({ vectors: { text: { quantization: null, hnsw: { m: 6 } } } })
    await docs.waitForOptimizers()
    await checkV2(docs)
    await db.close()
    const again = await Quiver.open(dir)
    open.push(again)
    const docs2 = await again.getCollection('docs')
    expect(docs2.config.vectors.get('text')!.quantization).toBeUndefined()
    expect(docs2.config.vectors.get('text')!.hnsw.m).toBe(6)
    await checkV2(docs2)
    await again.close()
  })

  it('recovers the collection snapshot that format 2 wrote', async () => {
    const db = await Quiver.open(dir)
    open.push(db)
    const [snap] = await db.listSnapshots('docs')
    expect(snap).toBeDefined()
    await db.recoverSnapshot('restored', await db.snapshotPath('docs', snap!.name))
    const restored = await db.getCollection('restored')
    // taken before the WAL-only writes (5000 added, 6 deleted)
    expect(await restored.count()).toBe(expectedV2().size)
    expect((await restored.get([6]))[0]!.payload).toEqual({ n: 6, tag: 'red' })
    await db.close()
  })
})
