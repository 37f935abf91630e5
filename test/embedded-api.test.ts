// The embedded API end to end on real files: create, upsert, get, search (plain, filtered, exact,
// paginated, thresholded), scroll, count, payload updates, delete, reopen, bad input.
import { existsSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, type OpenProgress, Quiver } from '../src/index.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

const DIM = 8
const r = rng(42)
const vectors = Array.from({ length: 300 }, () => Array.from({ length: DIM }, () => r() * 2 - 1))
const points = vectors.map((vector, i) => ({
  id: i,
  vector,
  payload: { group: i % 3 === 0 ? 'a' : 'b', n: i, tags: i % 2 === 0 ? ['even'] : ['odd'] },
}))

describe('embedded API', () => {
  let dir: string
  let db: Quiver
  let docs: HostedCollection

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-embedded-'))
    db = await Quiver.open(dir)
    docs = await db.createCollection('docs', { dimension: DIM, metric: 'Euclid' })
    await docs.upsert(points)
  })

  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('manages collections', async () => {
    expect(db.listCollections()).toEqual(['docs'])
    await expectError(db.createCollection('docs', { dimension: DIM }), 'COLLECTION_EXISTS')
    await expectError(db.createCollection('bad/name', { dimension: DIM }), 'INVALID_COLLECTION_NAME')
    await expectError(db.createCollection('x', { dimension: 0 }), 'INVALID_CONFIG')
    await expectError(
      db.createCollection('x', { dimension: 4, metric: 'hamming' as never }),
      'INVALID_CONFIG',
    )
    await expectError(db.getCollection('nope'), 'COLLECTION_NOT_FOUND')
    const other = await db.createCollection('other', { dimension: 2 })
    const hnsw = { m: 16, efConstruct: 100, fullScanThreshold: 2000, ef: 64 }
    expect(other.config).toEqual({
      vectors: new Map([['', { dimension: 2, metric: 'Cosine', hnsw, datatype: 'float32' }]]),
      sparseVectors: new Map(),
      hnsw,
      optimizers: {
        deletedThreshold: 0.2,
        vacuumMinVectorNumber: 1000,
        defaultSegmentNumber: 2,
        maxSegmentSize: 262144,
      },
    })
    expect(db.listCollections()).toEqual(['docs', 'other'])
    expect(await db.deleteCollection('other')).toBe(true)
    expect(await db.deleteCollection('other')).toBe(false)
    expect(db.listCollections()).toEqual(['docs'])
  })

  it('gets points by id, with payload and vector on request', async () => {
    const got = await docs.get([5, 999, 7], { withVector: true })
    expect(got.map((p) => p.id)).toEqual([5, 7])
    expect(got[0]!.payload).toEqual({ group: 'b', n: 5, tags: ['odd'] })
    expect((got[0]!.vector as number[]).map((x) => Math.fround(x))).toEqual(
      vectors[5]!.map((x) => Math.fround(x)),
    )
    const bare = await docs.get([5], { withPayload: false })
    expect(bare).toEqual([{ id: 5 }])
  })

  it('search returns the exact nearest neighbours on a small collection, best first', async () => {
    const q = vectors[17]!
    const hits = await docs.search(q, { limit: 5, withPayload: true })
    const exact = await docs.search(q, { limit: 5, exact: true })
    expect(hits.map((h) => h.id)).toEqual(exact.map((h) => h.id))
    expect(hits[0]!.id).toBe(17)
    expect(hits[0]!.score).toBeCloseTo(0, 5)
    for (let i = 1; i < hits.length; i++) expect(hits[i]!.score).toBeGreaterThanOrEqual(hits[i - 1]!.score)
    expect(hits[0]!.payload).toEqual(points[17]!.payload)
    // brute-force reference in JS
    const ref = vectors
      .map((v, id) => ({ id, d: Math.sqrt(v.reduce((s, x, j) => s + (x - q[j]!) ** 2, 0)) }))
      .sort((a, b) => a.d - b.d)
      .slice(0, 5)
    expect(exact.map((h) => h.id)).toEqual(ref.map((x) => x.id))
    for (const [i, h] of exact.entries()) expect(h.score).toBeCloseTo(ref[i]!.d, 4)
  })

  it('filtered search returns only matching points', async () => {
    const filter = {
      must: [{ key: 'group', match: { value: 'a' } }],
      must_not: [{ key: 'n', range: { lt: 30 } }],
    }
    for (const exact of [false, true]) {
      const hits = await docs.search(vectors[3]!, { limit: 20, filter, exact, withPayload: true })
      expect(hits.length).toBe(20)
      for (const h of hits) {
        expect(h.payload!.group).toBe('a')
        expect(h.payload!.n).toBeGreaterThanOrEqual(30)
      }
    }
    const none = await docs.search(vectors[3]!, {
      filter: { must: [{ key: 'group', match: { value: 'zzz' } }] },
    })
    expect(none).toEqual([])
  })

  it('paginates with offset and applies score thresholds', async () => {
    const all = await docs.search(vectors[0]!, { limit: 10, exact: true })
    const page2 = await docs.search(vectors[0]!, { limit: 5, offset: 5, exact: true })
    expect(page2.map((h) => h.id)).toEqual(all.slice(5).map((h) => h.id))
    const threshold = all[3]!.score
    const near = await docs.search(vectors[0]!, { limit: 10, exact: true, scoreThreshold: threshold })
    expect(near.map((h) => h.id)).toEqual(all.slice(0, 4).map((h) => h.id))
  })

  it('searchBatch answers each request', async () => {
    const [a, b] = await docs.searchBatch([
      { vector: vectors[1]!, limit: 1 },
      { vector: vectors[2]!, limit: 2 },
    ])
    expect(a!.map((h) => h.id)).toEqual([1])
    expect(b!.length).toBe(2)
    expect(b![0]!.id).toBe(2)
  })

  it('counts and scrolls in id order, with filters', async () => {
    expect(await docs.count()).toBe(300)
    expect(await docs.count({ filter: { must: [{ key: 'group', match: { value: 'a' } }] } })).toBe(100)
    const seen: number[] = []
    let offset: number | string | null = null
    do {
      const page: Awaited<ReturnType<typeof docs.scroll>> = await docs.scroll({
        limit: 64,
        offset,
        filter: { must: [{ key: 'tags', match: { value: 'even' } }] },
      })
      for (const p of page.points) seen.push(p.id as number)
      offset = page.nextPageOffset
    } while (offset !== null)
    expect(seen).toEqual(Array.from({ length: 150 }, (_, i) => i * 2))
  })

  it('upsert replaces an existing point, mixing integer and UUID ids', async () => {
    const uuid = '550E8400-E29B-41D4-A716-446655440000'
    await docs.upsert([
      { id: 5, vector: vectors[6]!, payload: { replaced: true } },
      { id: uuid, vector: vectors[8]! },
    ])
    expect(await docs.count()).toBe(301)
    const [p5] = await docs.get([5], { withVector: true })
    expect(p5!.payload).toEqual({ replaced: true })
    expect((p5!.vector as number[]).map((x) => Math.fround(x))).toEqual(
      vectors[6]!.map((x) => Math.fround(x)),
    )
    const [u] = await docs.get([uuid.toLowerCase()])
    expect(u!.id).toBe(uuid.toLowerCase())
    expect(u!.payload).toEqual({})
    const hits = await docs.search(vectors[5]!, { limit: 300, exact: true })
    expect(hits.filter((h) => h.id === 5).length).toBe(1)
    const page = await docs.scroll({ limit: 1000 })
    expect(page.points.at(-1)!.id).toBe(uuid.toLowerCase())
  })

  it('updates payloads: set (also nested), overwrite, delete keys, clear', async () => {
    await docs.setPayload({ extra: 1, group: null }, { ids: [1] })
    expect((await docs.get([1]))[0]!.payload).toEqual({ n: 1, tags: ['odd'], extra: 1 })
    await docs.setPayload({ x: 2 }, { ids: [1] }, { key: 'meta.inner' })
    expect((await docs.get([1]))[0]!.payload!.meta).toEqual({ inner: { x: 2 } })
    await docs.overwritePayload({ only: true }, { filter: { must: [{ key: 'n', range: { gte: 298 } }] } })
    expect((await docs.get([298, 299])).map((p) => p.payload)).toEqual([{ only: true }, { only: true }])
    await docs.deletePayload(['tags', 'n'], { ids: [2] })
    expect((await docs.get([2]))[0]!.payload).toEqual({ group: 'b' })
    await docs.clearPayload({ ids: [3] })
    expect((await docs.get([3]))[0]!.payload).toEqual({})
    await expectError(docs.setPayload({ a: 1 }, { ids: [12345] }), 'POINT_NOT_FOUND')
  })

  it('deletes by ids and by filter; deleted points are never returned', async () => {
    await docs.delete({ ids: [0, 1, 2, 4242] })
    expect(await docs.count()).toBe(297)
    expect(await docs.get([0, 1, 2])).toEqual([])
    await docs.delete({ filter: { must: [{ key: 'group', match: { value: 'a' } }] } })
    expect(await docs.count()).toBe(198)
    for (const exact of [false, true]) {
      const hits = await docs.search(vectors[0]!, { limit: 300, exact, withPayload: true })
      expect(hits.length).toBe(198)
      for (const h of hits) expect(h.payload!.group).toBe('b')
    }
  })

  it('rejects bad input with a clear error and writes nothing', async () => {
    const before = await docs.count()
    const good = { id: 1000, vector: vectors[0]! }
    await expectError(
      docs.upsert([good, { id: 1001, vector: [1, 2] }]),
      'INVALID_VECTOR',
      /points\[1\]\.vector has dimension 2, expected 8/,
    )
    await expectError(
      docs.upsert([good, { id: 1001, vector: vectors[0]!.map((x, i) => (i === 3 ? Number.NaN : x)) }]),
      'INVALID_VECTOR',
      /points\[1\]\.vector\[3\]/,
    )
    await expectError(
      docs.upsert([good, { id: 1001, vector: vectors[0]!.map(() => Number.POSITIVE_INFINITY) }]),
      'INVALID_VECTOR',
    )
    await expectError(
      docs.upsert([good, { id: 1001, vector: vectors[0]!.map(() => 1e39) }]),
      'INVALID_VECTOR',
      /float32/,
    )
    await expectError(docs.upsert([good, { id: -1, vector: vectors[0]! }]), 'INVALID_POINT_ID')
    await expectError(docs.upsert([good, { id: 1.5, vector: vectors[0]! }]), 'INVALID_POINT_ID')
    await expectError(docs.upsert([good, { id: 'not-a-uuid', vector: vectors[0]! }]), 'INVALID_POINT_ID')
    await expectError(
      docs.upsert([good, { id: 1001, vector: vectors[0]!, payload: [1, 2] as never }]),
      'INVALID_PAYLOAD',
    )
    await expectError(
      docs.search(vectors[0]!, { filter: { must: [{ key: 'a', match: {} }] } as never }),
      'INVALID_FILTER',
    )
    await expectError(docs.search([1, 2, 3]), 'INVALID_VECTOR')
    await expectError(docs.search(vectors[0]!, { limit: 0 }), 'INVALID_ARGUMENT')
    await expectError(docs.delete({ filter: { must: 'nope' } as never }), 'INVALID_FILTER')
    expect(await docs.count()).toBe(before)
    expect(await docs.get([1000])).toEqual([])
  })

  it('names the type of a BigInt or Date where an id or payload belongs, in a QuiverError with a code', async () => {
    const before = await docs.count()
    const vector = vectors[0]!
    await expectError(
      docs.upsert([{ id: 10n as never, vector }]),
      'INVALID_POINT_ID',
      /^points\[0\]\.id: 10n is a bigint: expected an unsigned integer/,
    )
    await expectError(
      docs.upsert([{ id: new Date(0) as never, vector }]),
      'INVALID_POINT_ID',
      /^points\[0\]\.id is a Date: expected an unsigned integer/,
    )
    await expectError(docs.get([10n as never]), 'INVALID_POINT_ID', /^ids\[0\]: 10n is a bigint/)
    await expectError(docs.scroll({ offset: 10n as never }), 'INVALID_POINT_ID', /^offset: 10n is a bigint/)
    await expectError(
      docs.upsert([{ id: 1, vector, payload: { when: new Date(0) } as never }]),
      'INVALID_PAYLOAD',
      /^points\[0\]\.payload\.when is a Date: payload values must be JSON/,
    )
    await expectError(
      docs.upsert([{ id: 1, vector, payload: new Date(0) as never }]),
      'INVALID_PAYLOAD',
      /^points\[0\]\.payload must be a JSON object, got a Date$/,
    )
    await expectError(
      docs.upsert([{ id: 1, vector, payload: { big: 10n } as never }]),
      'INVALID_PAYLOAD',
      /payload\.big is a bigint/,
    )
    expect(await docs.count()).toBe(before)
  })

  it('survives close and reopen with identical answers (graph persisted, WAL replayed)', async () => {
    await docs.delete({ ids: [10] })
    await docs.setPayload({ kept: true }, { ids: [11] })
    const q = vectors[20]!
    const before = await docs.search(q, { limit: 10, withPayload: true })
    await db.close()
    db = await Quiver.open(dir)
    docs = await db.getCollection('docs')
    expect(await docs.count()).toBe(299)
    expect(await docs.get([10])).toEqual([])
    expect((await docs.get([11]))[0]!.payload).toMatchObject({ kept: true })
    expect(await docs.search(q, { limit: 10, withPayload: true })).toEqual(before)
    expect(docs.checkIntegrity()).toEqual({ ok: true, problems: [] })
  })

  it('refuses __proto__ payload keys and dot-prefixed names; the directory reopens', async () => {
    await expectError(
      docs.upsert([{ id: 900, vector: vectors[0]!, payload: JSON.parse('{"a":{"__proto__":1}}') }]),
      'INVALID_PAYLOAD',
      /__proto__/,
    )
    await expectError(docs.setPayload({ b: 2 }, { ids: [1] }, { key: '__proto__' }), 'INVALID_ARGUMENT')
    await expectError(docs.deletePayload(['x.__proto__'], { ids: [1] }), 'INVALID_ARGUMENT')
    await expectError(db.createCollection('.hidden', { dimension: 2 }), 'INVALID_COLLECTION_NAME')
    await db.close()
    db = await Quiver.open(dir)
    docs = await db.getCollection('docs')
    expect(await docs.count()).toBe(300)
  })

  it('sees its own queued writes: an upsert then a payload update of the same new id, concurrently', async () => {
    const [, set] = await Promise.all([
      docs.upsert([{ id: 5000, vector: vectors[0]! }]),
      docs.setPayload({ fresh: true }, { ids: [5000] }),
    ])
    expect(set.status).toBe('completed')
    expect((await docs.get([5000]))[0]!.payload).toEqual({ fresh: true })
  })

  it('refuses a second open of the same directory', async () => {
    await expectError(Quiver.open(dir), 'DIRECTORY_LOCKED')
  })
})

describe('Quiver.open options', () => {
  let root: string
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'quiver-open-'))
  })
  afterEach(async () => {
    await rm(root, { recursive: true, force: true })
  })

  it('with create: false refuses a missing or foreign directory and creates nothing', async () => {
    const missing = join(root, 'typo')
    await expectError(
      Quiver.open(missing, { create: false }),
      'DATA_DIR_NOT_FOUND',
      /no Quiver data directory at/,
    )
    expect(existsSync(missing)).toBe(false)
    const foreign = join(root, 'foreign')
    await mkdir(foreign)
    await expectError(
      Quiver.open(foreign, { create: false }),
      'DATA_DIR_NOT_FOUND',
      /no collections\/ directory/,
    )
    expect(await readdir(foreign)).toEqual([])
    // a directory Quiver made opens with create: false
    await (await Quiver.open(foreign)).close()
    await (await Quiver.open(foreign, { create: false })).close()
  })

  it('reports progress: the total first, then each collection loaded', async () => {
    const made = await Quiver.open(root)
    for (const name of ['a', 'b', 'c']) await made.createCollection(name, { dimension: 2 })
    await made.close()
    const seen: OpenProgress[] = []
    const db = await Quiver.open(root, {
      onProgress: (p) => {
        seen.push(p)
      },
    })
    await db.close()
    expect(seen).toEqual([
      { loaded: 0, total: 3, collection: undefined },
      ...['a', 'b', 'c'].map((collection, i) => ({ loaded: i + 1, total: 3, collection })),
    ])
  })
})
