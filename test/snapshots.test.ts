// Snapshots of the embedded database on real files: restore into a fresh directory gives identical
// results, a snapshot under concurrent writes is a point-in-time cut, damaged archives are refused
// without touching live data, recovery replaces a collection and repairs an unavailable one.
import { createHash } from 'node:crypto'
import { copyFile, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import type { Filter, PointStruct } from '../src/types.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 8
const r = rng(7)
const points: (PointStruct & { vector: number[] })[] = Array.from({ length: 600 }, (_, i) => ({
  id: i,
  vector: Array.from({ length: DIM }, () => r() * 2 - 1),
  payload: { group: ['a', 'b', 'c'][i % 3]!, n: i, tags: i % 2 === 0 ? ['even'] : ['odd'] },
}))
const queries = Array.from({ length: 8 }, () => Array.from({ length: DIM }, () => r() * 2 - 1))
const filters: (Filter | undefined)[] = [
  undefined,
  { must: [{ key: 'group', match: { value: 'b' } }] },
  {
    must: [{ key: 'n', range: { gte: 100, lt: 400 } }],
    must_not: [{ key: 'tags', match: { value: 'odd' } }],
  },
]

async function fingerprint(c: HostedCollection): Promise<unknown> {
  const searches = []
  for (const q of queries) {
    for (const filter of filters) {
      const hits = await c.search(q, { limit: 10, withPayload: true, ...(filter ? { filter } : {}) })
      searches.push(hits.map((h) => [h.id, h.score, h.payload]))
    }
  }
  const counts = []
  for (const filter of filters) counts.push(await c.count(filter ? { filter } : {}))
  const info = await c.info()
  const records = await c.get([0, 1, 2, 299, 599], { withPayload: true, withVector: true })
  return { searches, counts, payloadSchema: info.payloadSchema, config: info.config, records }
}

async function flipByte(path: string, at?: number): Promise<void> {
  const data = await readFile(path)
  const i = at ?? Math.floor(data.length / 2)
  data[i] = data[i]! ^ 0xff
  await writeFile(path, data)
}

describe('snapshots (embedded)', () => {
  let root: string
  let db: Quiver
  let docs: HostedCollection

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'quiver-snap-'))
    db = await Quiver.open(join(root, 'a'))
    docs = await db.createCollection('docs', { dimension: DIM, metric: 'Cosine' })
    await docs.createPayloadIndex('group', 'keyword')
    await docs.createPayloadIndex('n', 'integer')
    await docs.upsert(points)
    await docs.delete({ ids: [5, 6, 7] })
  })

  afterEach(async () => {
    await db.close()
    await rm(root, { recursive: true, force: true })
  })

  it('restores into a fresh data directory with identical results', async () => {
    const snap = await db.createSnapshot('docs')
    expect(snap.name).toMatch(/^docs-\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9a-f]{6}\.snapshot$/)
    expect(snap.creationTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/)
    const path = await db.snapshotPath('docs', snap.name)
    const bytes = await readFile(path)
    expect(snap.size).toBe(bytes.length)
    expect(snap.checksum).toBe(createHash('sha256').update(bytes).digest('hex'))
    expect(await db.listSnapshots('docs')).toEqual([snap])

    const fresh = await Quiver.open(join(root, 'b'))
    try {
      await fresh.recoverSnapshot('restored', path)
      const restored = await fresh.getCollection('restored')
      expect(await fingerprint(restored)).toEqual(await fingerprint(docs))
      expect((await restored.info()).name).toBe('restored')
      // it takes writes and survives a reopen
      await restored.upsert([{ id: 10_000, vector: queries[0]!, payload: { group: 'z' } }])
      await fresh.close()
      const again = await Quiver.open(join(root, 'b'))
      try {
        const c = await again.getCollection('restored')
        expect(await c.count()).toBe(points.length - 3 + 1)
        expect(await readdir(join(root, 'b', 'collections'))).toEqual(['restored'])
      } finally {
        await again.close()
      }
    } finally {
      await fresh.close()
    }
  })

  it('takes a point-in-time cut while writes stream in', async () => {
    const live = await db.createCollection('live', { dimension: DIM })
    const BATCH = 20
    const state = new Map<number, 'acked' | 'pending'>()
    let stop = false
    let startedAfter: number[] = []
    let resolved = false
    let next = 0
    const writer = async (): Promise<void> => {
      while (!stop) {
        const b = next++
        if (resolved) startedAfter.push(b)
        state.set(b, 'pending')
        await live.upsert(
          Array.from({ length: BATCH }, (_, k) => ({
            id: b * BATCH + k,
            vector: points[k]!.vector,
            payload: { b },
          })),
        )
        state.set(b, 'acked')
      }
    }
    const writers = [writer(), writer(), writer()]
    const yieldToIo = (): Promise<void> => new Promise((done) => setImmediate(done))
    while ([...state.values()].filter((s) => s === 'acked').length < 30) await yieldToIo()
    const ackedBefore = [...state.entries()].filter(([, s]) => s === 'acked').map(([b]) => b)
    const snap = await db.createSnapshot('live')
    resolved = true
    startedAfter = []
    while (startedAfter.length < 3) await yieldToIo()
    stop = true
    await Promise.all(writers)

    const fresh = await Quiver.open(join(root, 'cut'))
    try {
      await fresh.recoverSnapshot('live', await db.snapshotPath('live', snap.name))
      const c = await fresh.getCollection('live')
      const ids = new Set<number>()
      let offset: number | string | undefined
      do {
        const page = await c.scroll({ limit: 1000, ...(offset !== undefined ? { offset } : {}) })
        for (const p of page.points) ids.add(p.id as number)
        offset = (page.nextPageOffset ?? undefined) as number | undefined
      } while (offset !== undefined)
      const batches = new Map<number, number>()
      for (const id of ids)
        batches.set(Math.floor(id / BATCH), (batches.get(Math.floor(id / BATCH)) ?? 0) + 1)
      for (const [b, n] of batches) expect(n, `batch ${b} is whole`).toBe(BATCH)
      for (const b of ackedBefore) expect(batches.has(b), `batch ${b} acknowledged before`).toBe(true)
      for (const b of startedAfter) expect(batches.has(b), `batch ${b} started after`).toBe(false)
    } finally {
      await fresh.close()
    }
  })

  it('refuses a damaged archive or a wrong checksum and leaves the live collection as it was', async () => {
    const snap = await db.createSnapshot('docs')
    const path = await db.snapshotPath('docs', snap.name)
    const before = await fingerprint(docs)
    await docs.upsert([{ id: 5000, vector: queries[1]!, payload: { group: 'new' } }])
    const current = await fingerprint(docs)
    expect(current).not.toEqual(before)

    // wrong checksum given by the caller
    await expectError(db.recoverSnapshot('docs', path, { checksum: '0'.repeat(64) }), 'CORRUPTED', /SHA-256/)
    await expectError(db.recoverSnapshot('docs', path, { checksum: 'xyz' }), 'INVALID_ARGUMENT', /checksum/)

    // one byte flipped: the sidecar checksum catches it
    const damaged = join(root, 'damaged.snapshot')
    await copyFile(path, damaged)
    await copyFile(`${path}.checksum`, `${damaged}.checksum`)
    await flipByte(damaged, 700)
    await expectError(db.recoverSnapshot('docs', damaged), 'CORRUPTED', /SHA-256/)
    // without a sidecar the per-entry SHA-256 in snapshot.json catches it
    await rm(`${damaged}.checksum`)
    await expectError(db.recoverSnapshot('docs', damaged), 'CORRUPTED')
    await expectError(db.recoverSnapshot('docs', join(root, 'nope.snapshot')), 'SNAPSHOT_NOT_FOUND')

    expect(await fingerprint(await db.getCollection('docs'))).toEqual(current)
    expect((await readdir(join(root, 'a', 'collections'))).sort()).toEqual(['docs'])
  })

  it('replaces an existing collection with the snapshot content', async () => {
    const snap = await db.createSnapshot('docs')
    const before = await fingerprint(docs)
    await docs.delete({ ids: Array.from({ length: 300 }, (_, i) => i) })
    await docs.upsert([{ id: 9999, vector: queries[2]!, payload: { group: 'late' } }])
    await db.recoverSnapshot('docs', await db.snapshotPath('docs', snap.name))
    const recovered = await db.getCollection('docs')
    expect(recovered).not.toBe(docs)
    await expectError(docs.count(), 'CLOSED')
    expect(await fingerprint(recovered)).toEqual(before)
    expect(await recovered.get([9999])).toEqual([])
    docs = recovered
  })

  it('repairs a collection left unavailable by a corrupted segment file', async () => {
    const snap = await db.createSnapshot('docs')
    const path = join(root, 'kept.snapshot')
    await copyFile(await db.snapshotPath('docs', snap.name), path)
    const before = await fingerprint(docs)
    await db.close()
    const segments = join(root, 'a', 'collections', 'docs', 'segments')
    const seg = (await readdir(segments))[0]!
    await flipByte(join(segments, seg, 'index.bin'))

    db = await Quiver.open(join(root, 'a'))
    expect(db.listCollections()).toEqual(['docs'])
    await expectError(db.getCollection('docs'), 'CORRUPTED', /index\.bin/)
    await db.recoverSnapshot('docs', path)
    docs = await db.getCollection('docs')
    expect(db.unavailableCollections().size).toBe(0)
    expect(await fingerprint(docs)).toEqual(before)
  })

  it('takes and recovers full snapshots of the store', async () => {
    const other = await db.createCollection('other', { dimension: 3, metric: 'Dot' })
    await other.upsert([{ id: 'f6b1c2a8-1d2e-4f00-9abc-1234567890ab', vector: [1, 2, 3], payload: { k: 1 } }])
    const full = await db.createFullSnapshot()
    expect(full.name).toMatch(/^full-.*\.snapshot$/)
    expect(await db.listFullSnapshots()).toEqual([full])
    const path = await db.fullSnapshotPath(full.name)
    await expectError(db.recoverSnapshot('docs', path), 'INVALID_ARGUMENT', /full snapshot/)

    const fresh = await Quiver.open(join(root, 'full'))
    try {
      expect(await fresh.recoverFullSnapshot(path)).toEqual(['docs', 'other'])
      expect(await fingerprint(await fresh.getCollection('docs'))).toEqual(await fingerprint(docs))
      expect(
        await (await fresh.getCollection('other')).get(['f6b1c2a8-1d2e-4f00-9abc-1234567890ab']),
      ).toHaveLength(1)
      const single = await db.createSnapshot('other')
      await expectError(
        fresh.recoverFullSnapshot(await db.snapshotPath('other', single.name)),
        'INVALID_ARGUMENT',
      )
    } finally {
      await fresh.close()
    }
    await db.deleteFullSnapshot(full.name)
    expect(await db.listFullSnapshots()).toEqual([])
    await expectError(db.fullSnapshotPath(full.name), 'SNAPSHOT_NOT_FOUND')
  })

  it('validates snapshot names and deletes snapshots', async () => {
    const snap = await db.createSnapshot('docs')
    for (const bad of ['../x.snapshot', '..', 'a/b.snapshot', '.hidden.snapshot', 'x.tar', '']) {
      await expectError(db.snapshotPath('docs', bad), 'INVALID_ARGUMENT')
    }
    await expectError(db.snapshotPath('nope', snap.name), 'COLLECTION_NOT_FOUND')
    await expectError(db.snapshotPath('docs', 'docs-missing.snapshot'), 'SNAPSHOT_NOT_FOUND')
    await db.deleteSnapshot('docs', snap.name)
    expect(await db.listSnapshots('docs')).toEqual([])
    expect(await readdir(join(root, 'a', 'snapshots', 'docs'))).toEqual([])
  })

  it('completes a validated recovery interrupted between its renames at the next open', async () => {
    const snap = await db.createSnapshot('docs')
    const path = join(root, 'kept.snapshot')
    await copyFile(await db.snapshotPath('docs', snap.name), path)
    const before = await fingerprint(docs)
    await db.close()
    // a crash after the live directory was moved away and before the validated one was moved in
    const other = await Quiver.open(join(root, 'staging-src'))
    await other.recoverSnapshot('docs', path)
    await other.close()
    const cols = join(root, 'a', 'collections')
    const { rename } = await import('node:fs/promises')
    await rename(join(cols, 'docs'), join(cols, '.dropping-0123456789abcdef'))
    await rename(
      join(root, 'staging-src', 'collections', 'docs'),
      join(cols, '.recovered-0123456789abcdef-docs'),
    )
    db = await Quiver.open(join(root, 'a'))
    expect(await readdir(cols)).toEqual(['docs'])
    docs = await db.getCollection('docs')
    expect(await fingerprint(docs)).toEqual(before)
  })
})
