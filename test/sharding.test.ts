// Local sharding (issue 14, first slice) through the embedded API: a collection created with
// `params.shardNumber` 3 keeps three shards under `<collection>/shards/<i>/`, each point on shard
// `shardOf(id, 3)`, and answers every read exactly as a 1-shard collection holding the same points
// (exact search: same ids, scores and order). A bad write changes no shard; reopen, snapshots,
// aliases and drop work on the whole set.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { EmbeddedCollection, type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { shardOf } from '../src/shards/routing.js'
import type {
  Collection,
  CollectionParams,
  CreateCollectionOptions,
  Filter,
  Payload,
  PointId,
  PointStruct,
  QueryRequest,
  ScrollOptions,
  SearchRequest,
} from '../src/types.js'
import { rng } from './support/random.js'

const DIM = 8
const SHARDS = 3
const COLORS = ['red', 'green', 'blue', 'amber', 'teal', 'violet'] as const
const TAGS = ['x', 'y', 'z'] as const

/** `params` with any `shardNumber`, for the refusals of bad ones. */
function shardParams(shardNumber: unknown): CollectionParams {
  return { shardNumber } as unknown as CollectionParams
}

// ---- Generated data: integer ids with gaps, some UUIDs, keyword / integer / float payloads. ----

type Pt = PointStruct & { id: PointId; vector: number[]; payload: Payload }

function uuidFrom(r: () => number): string {
  const hex = Array.from({ length: 32 }, () => Math.floor(r() * 16).toString(16)).join('')
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`
}

function vectorFrom(r: () => number, dim = DIM): number[] {
  return Array.from({ length: dim }, () => r() * 2 - 1)
}

function payloadFrom(r: () => number, i: number): Payload {
  const p: Payload = {
    color: COLORS[Math.floor(r() * COLORS.length)]!,
    n: Math.floor(r() * 50),
    rank: Math.floor(r() * 5),
    tags: TAGS.filter(() => r() < 0.4),
    name: `p${i}`,
  }
  // 10% have no price: order_by leaves them out, is_empty finds them
  if (r() >= 0.1) p.price = Math.round(r() * 10_000) / 100 + 0.001 * (i % 7)
  return p
}

const gen = rng(14_0001)
const UUIDS = Array.from({ length: 24 }, () => uuidFrom(gen))
// integers with gaps (1, 2, 3, 5, ... are missing) so that `get` and `has_id` meet absent ids
const INT_IDS = Array.from({ length: 576 }, (_, i) => i * 3 + (i % 2))
const IDS: PointId[] = [...INT_IDS, ...UUIDS]
const POINTS: Pt[] = IDS.map((id, i) => ({ id, vector: vectorFrom(gen), payload: payloadFrom(gen, i) }))
/** Insertion order: shuffled, so every upsert batch reaches every shard. */
const SHUFFLED: Pt[] = (() => {
  const out = [...POINTS]
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(gen() * (i + 1))
    ;[out[i], out[j]] = [out[j]!, out[i]!]
  }
  return out
})()
const QUERIES = Array.from({ length: 5 }, () => vectorFrom(gen))
const MISSING_UUID = '00000000-0000-4000-8000-000000000000'

/** Ids of POINTS on shard `s` of 3 (routing.ts). */
const ON_SHARD = [0, 1, 2].map((s) => INT_IDS.filter((id) => shardOf(id, SHARDS) === s))

function idOn(shard: number, nth = 0): number {
  return ON_SHARD[shard]![nth]!
}

const FILTERS: (Filter | undefined)[] = [
  undefined,
  { must: [{ key: 'color', match: { value: 'blue' } }] },
  {
    must: [{ key: 'n', range: { gte: 10, lt: 30 } }],
    must_not: [{ key: 'tags', match: { any: ['x'] } }],
  },
  {
    should: [
      { has_id: [idOn(0), idOn(1), idOn(2), UUIDS[0]!, UUIDS[1]!, 1, MISSING_UUID] },
      { key: 'rank', match: { value: 2 } },
    ],
  },
  { must: [{ is_empty: { key: 'price' } }] },
]

const BASE: CreateCollectionOptions = { dimension: DIM, metric: 'Euclid' }

/** A 1-shard and a 3-shard collection (`<base>_one`, `<base>_many`) holding POINTS and the same payload indexes. */
async function makePair(
  db: Quiver,
  base: string,
  options: CreateCollectionOptions = BASE,
  points: readonly PointStruct[] = SHUFFLED,
): Promise<{ one: HostedCollection; many: HostedCollection }> {
  const one = await db.createCollection(`${base}_one`, options)
  const many = await db.createCollection(`${base}_many`, { ...options, params: { shardNumber: SHARDS } })
  for (const c of [one, many]) await fill(c, points)
  // every comparison with `one` is vacuous unless `many` really is split
  expect(many.config.params?.shardNumber).toBe(SHARDS)
  expect((await many.clusterInfo()).shardCount).toBe(SHARDS)
  return { one, many }
}

/** Half the points, then the payload indexes (built over existing points), then the rest (indexed as written). */
async function fill(c: Collection, points: readonly PointStruct[]): Promise<void> {
  const half = Math.floor(points.length / 2)
  await c.upsert(points.slice(0, half))
  await c.createPayloadIndex('color', 'keyword')
  await c.createPayloadIndex('n', { type: 'integer', lookup: true, range: true })
  await c.createPayloadIndex('rank', { type: 'integer', lookup: true, range: true })
  await c.createPayloadIndex('price', 'float')
  for (let i = half; i < points.length; i += 100)
    await c.upsert(points.slice(i, Math.min(i + 100, points.length)))
}

/**
 * `value` without `version` keys: a hit's version is the WAL seq of its last write, and each shard
 * has its own WAL, so versions are the one thing a sharded collection may answer differently.
 */
function noVersions(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(noVersions)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (k !== 'version') out[k] = noVersions(v)
    return out
  }
  return value
}

/** Runs `read` on both collections and expects equal answers (versions aside); returns the 1-shard one. */
async function same<T>(
  one: Collection,
  many: Collection,
  read: (c: Collection) => Promise<T>,
  label?: string,
): Promise<T> {
  const want = await read(one)
  const got = await read(many)
  expect(noVersions(got), label).toEqual(noVersions(want))
  return want
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p
  } catch (err) {
    if (err instanceof QuiverError) return err.code
    throw err
  }
  return 'resolved'
}

/** Expects `call` to fail on both collections with the same QuiverError code; returns the code. */
async function sameError(one: Collection, many: Collection, call: (c: Collection) => Promise<unknown>) {
  const want = await codeOf(call(one))
  expect(want, 'the 1-shard collection refuses this').not.toBe('resolved')
  expect(await codeOf(call(many))).toBe(want)
  return want
}

/**
 * Lets a write that a refused call may have started anyway (on some shard, after another refused
 * its part) land before the caller looks: a pause, then a write that reaches every shard and
 * changes nothing, awaited (each shard applies its writes in order).
 */
async function settle(c: Collection): Promise<void> {
  await new Promise((done) => setTimeout(done, 50))
  await c.delete({ filter: { must: [{ key: 'never_set', match: { value: 'x' } }] } })
}

interface Page {
  ids: PointId[]
  next: PointId | null
}

/** Every page of a scroll by id (following nextPageOffset), as ids and the next offset. */
async function scrollPages(c: Collection, options: ScrollOptions): Promise<Page[]> {
  const pages: Page[] = []
  let offset: PointId | null = null
  for (let guard = 0; guard < 1000; guard++) {
    const page = await c.scroll({ ...options, ...(offset === null ? {} : { offset }) })
    pages.push({ ids: page.points.map((p) => p.id), next: page.nextPageOffset })
    if (page.nextPageOffset === null) return pages
    offset = page.nextPageOffset
  }
  throw new Error('scroll did not end')
}

/** Every point with payload and vectors, by id. */
async function allRecords(c: Collection): Promise<unknown[]> {
  const out: unknown[] = []
  let offset: PointId | null = null
  for (;;) {
    const page = await c.scroll({
      limit: 250,
      withPayload: true,
      withVector: true,
      ...(offset === null ? {} : { offset }),
    })
    out.push(...page.points)
    if (page.nextPageOffset === null) return out
    offset = page.nextPageOffset
  }
}

/** What a collection holds and answers: all records, exact searches, counts, a facet, info figures. */
async function fingerprint(c: Collection): Promise<unknown> {
  const searches = []
  for (const q of QUERIES.slice(0, 3)) {
    for (const filter of FILTERS.slice(0, 3)) {
      searches.push(await c.search(q, { limit: 10, exact: true, ...(filter ? { filter } : {}) }))
    }
  }
  const counts = []
  for (const filter of FILTERS) counts.push(await c.count(filter ? { filter } : {}))
  const info = await c.info()
  return noVersions({
    records: await allRecords(c),
    searches,
    counts,
    facet: await c.facet({ key: 'color', limit: 10 }),
    pointsCount: info.pointsCount,
    payloadSchema: info.payloadSchema,
  })
}

/** Points per shard that routing.ts puts there for `ids`. */
function expectedPerShard(ids: readonly PointId[], shards = SHARDS): number[] {
  const counts = new Array<number>(shards).fill(0)
  for (const id of ids) counts[shardOf(id, shards)]!++
  return counts
}

async function liveIds(c: Collection): Promise<PointId[]> {
  return (await scrollPages(c, { limit: 1000 })).flatMap((p) => p.ids)
}

/** clusterInfo of a collection of local shards holding `perShard` points each. */
async function expectShards(c: HostedCollection, perShard: readonly number[]): Promise<void> {
  expect(await c.clusterInfo()).toMatchObject({
    shardCount: perShard.length,
    localShards: perShard.map((pointsCount, shardId) => ({ shardId, pointsCount, state: 'Active' })),
    remoteShards: [],
  })
}

async function isDir(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isDirectory(),
    () => false,
  )
}

// ---------------------------------------------------------------------------------------------

describe('shardOf (where data lives: pinned)', () => {
  it('routes integer and UUID ids to the same shards as when the layout was fixed', () => {
    // computed once from src/shards/routing.ts (CRC32C of the id's bytes mod the shard count);
    // a change here moves every stored point and must come with a migration
    expect(shardOf(0, 3)).toBe(1)
    expect(shardOf(1, 3)).toBe(0)
    expect(shardOf(2, 3)).toBe(0)
    expect(shardOf(3, 3)).toBe(1)
    expect(shardOf(42, 3)).toBe(1)
    expect(shardOf(256, 3)).toBe(0)
    expect(shardOf(123456789, 3)).toBe(1)
    expect(shardOf(2 ** 32, 3)).toBe(0)
    expect(shardOf(2 ** 53 - 1, 3)).toBe(0)
    expect(shardOf('3fa85f64-5717-4562-b3fc-2c963f66afa6', 3)).toBe(1)
    expect(shardOf('00000000-0000-0000-0000-000000000000', 3)).toBe(2)
    expect(shardOf(1, 2)).toBe(1)
    expect(shardOf(123456789, 2)).toBe(0)
    expect(shardOf(0, 64)).toBe(10)
    expect(shardOf(123456789, 64)).toBe(36)
    expect(shardOf('3fa85f64-5717-4562-b3fc-2c963f66afa6', 64)).toBe(50)
    expect(shardOf(123456789, 1)).toBe(0)
  })

  it('spreads the generated ids over all three shards', () => {
    for (const ids of ON_SHARD) expect(ids.length).toBeGreaterThan(INT_IDS.length / 5)
  })
})

describe('a 3-shard collection reads as a 1-shard collection with the same points', () => {
  let root: string
  let db: Quiver
  let one: HostedCollection
  let many: HostedCollection

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'quiver-shard-read-'))
    db = await Quiver.open(root)
    ;({ one, many } = await makePair(db, 'r'))
  })
  afterAll(async () => {
    await db?.close()
    await rm(root, { recursive: true, force: true })
  })

  it('reports shardNumber 3, the total points count and the same config and payload schema', async () => {
    const [a, b] = [await one.info(), await many.info()]
    expect(b.config.params?.shardNumber).toBe(3)
    expect(many.config.params?.shardNumber).toBe(3)
    expect(a.config.params?.shardNumber ?? 1).toBe(1)
    expect(b.pointsCount).toBe(POINTS.length)
    expect(a.pointsCount).toBe(POINTS.length)
    expect(b.payloadSchema).toEqual(a.payloadSchema)
    expect(b.payloadSchema.color?.points).toBe(POINTS.length)
    expect(b.config.vectors).toEqual(a.config.vectors)
    expect(b.config.hnsw).toEqual(a.config.hnsw)
    expect(b.config.optimizers).toEqual(a.config.optimizers)
  })

  it('clusterInfo: three active local shards, each holding exactly the points routed to it', async () => {
    const perShard = expectedPerShard(IDS)
    for (const n of perShard) expect(n).toBeGreaterThan(0)
    await expectShards(many, perShard)
    const info = await many.clusterInfo()
    expect(info.localShards.reduce((s, x) => s + x.pointsCount, 0)).toBe(POINTS.length)
    // a 1-shard collection is one local shard
    await expectShards(one, [POINTS.length])
  })

  it('search (exact): same ids, scores and order with filters, offset, scoreThreshold, payloads', async () => {
    for (const q of QUERIES) {
      for (const filter of FILTERS) {
        const f = filter ? { filter } : {}
        const top = await same(one, many, (c) => c.search(q, { limit: 10, exact: true, ...f }))
        expect(top.length).toBeGreaterThan(0)
        if (filter === undefined) expect(top).toHaveLength(10)
        await same(one, many, (c) => c.search(q, { limit: 7, offset: 5, exact: true, ...f }))
        await same(one, many, (c) => c.search(q, { limit: 40, exact: true, withPayload: true, ...f }))
        // Euclid: a distance, so the threshold keeps hits at most this far
        const threshold = top[Math.floor(top.length / 2)]!.score
        const kept = await same(one, many, (c) =>
          c.search(q, { limit: 100, exact: true, scoreThreshold: threshold, ...f }),
        )
        expect(kept.every((h) => h.score <= threshold)).toBe(true)
      }
    }
    await same(one, many, (c) =>
      c.search(QUERIES[0]!, { limit: 5, exact: true, withPayload: ['color', 'n'], withVector: true }),
    )
  })

  it('search (HNSW): the merged shards find the exact top 10', async () => {
    let found = 0
    for (const q of QUERIES) {
      const exact = new Set((await one.search(q, { limit: 10, exact: true })).map((h) => h.id))
      const approx = await many.search(q, { limit: 10 })
      expect(approx).toHaveLength(10)
      found += approx.filter((h) => exact.has(h.id)).length
    }
    expect(found / (QUERIES.length * 10)).toBeGreaterThanOrEqual(0.9)
  })

  it('searchBatch (exact) equals', async () => {
    const requests: SearchRequest[] = QUERIES.flatMap((vector, i) => [
      { vector, limit: 10, exact: true },
      { vector, limit: 6, offset: 2, exact: true, withPayload: true, filter: FILTERS[1 + (i % 4)] ?? null },
    ])
    const batches = await same(one, many, (c) => c.searchBatch(requests))
    expect(batches).toHaveLength(requests.length)
    expect(batches[0]).toHaveLength(10)
  })

  it('query: nearest by vector and by id, with filters, offset and scoreThreshold', async () => {
    const exact = { params: { exact: true } }
    for (const q of QUERIES.slice(0, 3)) {
      const r1 = await same(one, many, (c) => c.query({ query: q, ...exact, limit: 10, withPayload: true }))
      expect(r1.points).toHaveLength(10)
      for (const filter of FILTERS.slice(1)) {
        await same(one, many, (c) =>
          c.query({ query: { nearest: q }, ...exact, filter: filter!, limit: 5, offset: 3 }),
        )
      }
      const threshold = r1.points[6]!.score
      const kept = await same(one, many, (c) =>
        c.query({ query: q, ...exact, scoreThreshold: threshold, limit: 50 }),
      )
      expect(kept.points).toHaveLength(7)
    }
    // a point id as the query: that point's vector, the point itself left out (ids on every shard)
    for (const id of [idOn(0), idOn(1), idOn(2), UUIDS[3]!]) {
      const byId = await same(one, many, (c) => c.query({ query: id, ...exact, limit: 10 }))
      expect(byId.points).toHaveLength(10)
      expect(byId.points.map((p) => p.id)).not.toContain(id)
    }
    // an id that is nowhere: the same refusal
    await sameError(one, many, (c) => c.query({ query: 1, ...exact, limit: 10 }))
  })

  it('query: recommend (every strategy) with examples from several shards', async () => {
    const exact = { params: { exact: true } }
    const positive = [idOn(0, 1), idOn(1, 1), UUIDS[5]!]
    const negative = [idOn(2, 1), QUERIES[4]!]
    for (const strategy of ['average_vector', 'best_score', 'sum_scores'] as const) {
      const got = await same(one, many, (c) =>
        c.query({
          query: { recommend: { positive, negative, strategy } },
          ...exact,
          limit: 10,
          withPayload: true,
        }),
      )
      expect(got.points).toHaveLength(10)
      for (const id of [...positive, idOn(2, 1)]) expect(got.points.map((p) => p.id)).not.toContain(id)
      await same(one, many, (c) =>
        c.query({
          query: { recommend: { positive, negative, strategy } },
          ...exact,
          filter: FILTERS[2]!,
          limit: 5,
        }),
      )
    }
  })

  it('query: prefetch + rrf / dbsf fusion and re-ranking of prefetched candidates', async () => {
    const exact = { exact: true }
    const prefetch = [
      { query: QUERIES[0]!, params: exact, limit: 30 },
      { query: QUERIES[1]!, params: exact, filter: FILTERS[1]!, limit: 30 },
      { query: idOn(1, 2), params: exact, limit: 30 },
    ]
    const rrf = await same(one, many, (c) => c.query({ prefetch, query: { fusion: 'rrf' }, limit: 15 }))
    expect(rrf.points).toHaveLength(15)
    await same(one, many, (c) =>
      c.query({ prefetch, query: { fusion: 'rrf' }, limit: 10, offset: 4, withPayload: true }),
    )
    await same(one, many, (c) =>
      c.query({ prefetch, query: { fusion: 'rrf' }, filter: FILTERS[2]!, limit: 10 }),
    )
    await same(one, many, (c) =>
      c.query({ prefetch, query: { rrf: { k: 10, weights: [1, 2, 0.5] } }, limit: 10 }),
    )
    await same(one, many, (c) => c.query({ prefetch, query: { fusion: 'dbsf' }, limit: 10 }))
    const rerank = await same(one, many, (c) =>
      c.query({
        prefetch: { query: QUERIES[2]!, params: exact, limit: 60 },
        query: QUERIES[3]!,
        params: exact,
        limit: 10,
      }),
    )
    expect(rerank.points).toHaveLength(10)
  })

  it('query: order_by, and no query (id order); queryBatch', async () => {
    const asc = await same(one, many, (c) =>
      c.query({ query: { orderBy: 'price' }, limit: 25, withPayload: true }),
    )
    expect(asc.points).toHaveLength(25)
    // ties (5 distinct ranks) are broken by id
    await same(one, many, (c) =>
      c.query({ query: { orderBy: { key: 'rank', direction: 'desc' } }, limit: 40 }),
    )
    await same(one, many, (c) =>
      c.query({ query: { orderBy: { key: 'n', startFrom: 20 } }, filter: FILTERS[1]!, limit: 20 }),
    )
    const plain = await same(one, many, (c) => c.query({ limit: 20, offset: 10 }))
    expect(plain.points).toHaveLength(20)
    await same(one, many, (c) => c.query({ filter: FILTERS[3]!, limit: 30, withPayload: true }))
    const requests: QueryRequest[] = [
      { query: QUERIES[0]!, params: { exact: true }, limit: 8 },
      { query: { orderBy: 'price' }, limit: 8 },
      { query: idOn(2, 3), params: { exact: true }, filter: FILTERS[1]!, limit: 8 },
    ]
    const batch = await same(one, many, (c) => c.queryBatch(requests))
    expect(batch.map((r) => r.points.length)).toEqual([8, 8, 8])
  })

  it('queryGroups equals (keyword, integer and array group keys)', async () => {
    for (const groupBy of ['color', 'rank', 'tags']) {
      const got = await same(one, many, (c) =>
        c.queryGroups({
          query: QUERIES[0]!,
          params: { exact: true },
          groupBy,
          groupSize: 3,
          limit: 4,
          withPayload: true,
        }),
      )
      expect(got.groups.length).toBeGreaterThan(1)
      await same(one, many, (c) =>
        c.queryGroups({
          query: QUERIES[1]!,
          params: { exact: true },
          groupBy,
          groupSize: 2,
          limit: 3,
          filter: FILTERS[2]!,
        }),
      )
    }
  })

  it('scroll by id: the same pages and the same nextPageOffset chain', async () => {
    const pages = await same(one, many, (c) => scrollPages(c, { limit: 37 }))
    expect(pages.flatMap((p) => p.ids)).toHaveLength(POINTS.length)
    expect(pages.length).toBe(Math.ceil(POINTS.length / 37))
    for (const filter of FILTERS.slice(1)) {
      const f = await same(one, many, (c) => scrollPages(c, { limit: 11, filter: filter! }))
      expect(f.flatMap((p) => p.ids).length).toBeGreaterThan(0)
    }
    // starting at an id that is not stored, and at a UUID (integers come first)
    await same(one, many, (c) => c.scroll({ offset: 2, limit: 5 }))
    await same(one, many, (c) => c.scroll({ offset: UUIDS[7]!, limit: 50 }))
    await same(one, many, (c) => c.scroll({ limit: 20, withPayload: true, withVector: true }))
  })

  it('scroll with orderBy equals (asc, desc, startFrom, filter)', async () => {
    const byPrice = await same(one, many, (c) => c.scroll({ orderBy: 'price', limit: 30, withPayload: true }))
    expect(byPrice.points).toHaveLength(30)
    await same(one, many, (c) =>
      c.scroll({ orderBy: { key: 'price', direction: 'desc', startFrom: 50 }, limit: 30 }),
    )
    await same(one, many, (c) => c.scroll({ orderBy: { key: 'rank', direction: 'desc' }, limit: 60 }))
    await same(one, many, (c) => c.scroll({ orderBy: 'n', filter: FILTERS[1]!, limit: 25 }))
  })

  it('count and facet: exact totals', async () => {
    expect(await same(one, many, (c) => c.count())).toBe(POINTS.length)
    expect(await same(one, many, (c) => c.count({ exact: true }))).toBe(POINTS.length)
    for (const filter of FILTERS.slice(1)) {
      const n = await same(one, many, (c) => c.count({ filter: filter!, exact: true }))
      expect(n).toBeGreaterThan(0)
    }
    const colors = await same(one, many, (c) => c.facet({ key: 'color', limit: 10, exact: true }))
    expect(colors.hits).toHaveLength(COLORS.length)
    expect(colors.hits.reduce((s, h) => s + h.count, 0)).toBe(POINTS.length)
    await same(one, many, (c) => c.facet({ key: 'n', limit: 5 }))
    await same(one, many, (c) => c.facet({ key: 'rank', filter: FILTERS[2]! }))
    await same(one, many, (c) => c.facet({ key: 'color', filter: FILTERS[3]!, limit: 3 }))
  })

  it('get: the order of the ids asked, missing ids left out, duplicates and UUID case as a 1-shard collection', async () => {
    const ids: PointId[] = [
      idOn(2, 4),
      1,
      UUIDS[2]!.toUpperCase(),
      idOn(0, 4),
      MISSING_UUID,
      idOn(1, 4),
      idOn(2, 4),
      UUIDS[9]!,
      2,
    ]
    const got = await same(one, many, (c) => c.get(ids, { withPayload: true, withVector: true }))
    expect(got.map((p) => p.id).slice(0, 4)).toEqual([idOn(2, 4), UUIDS[2]!, idOn(0, 4), idOn(1, 4)])
    await same(one, many, (c) => c.get([idOn(1, 5), idOn(0, 5)]))
    await same(one, many, (c) => c.get([idOn(1, 5)], { withPayload: ['color'] }))
  })

  it('refuses the same bad reads with the same error code', async () => {
    await sameError(one, many, (c) => c.search([1, 2, 3], { exact: true }))
    await sameError(one, many, (c) => c.facet({ key: 'tags' }))
    await sameError(one, many, (c) => c.scroll({ orderBy: 'name' }))
    await sameError(one, many, (c) => c.search(QUERIES[0]!, { limit: 0 }))
    await sameError(one, many, (c) => c.get(['not-an-id']))
  })
})

describe('a 3-shard collection takes writes as a 1-shard collection does', () => {
  let root: string
  let db: Quiver
  let seq = 0

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'quiver-shard-write-'))
    db = await Quiver.open(root)
  })
  afterAll(async () => {
    await db?.close()
    await rm(root, { recursive: true, force: true })
  })

  const pair = (options?: CreateCollectionOptions, points?: readonly PointStruct[]) =>
    makePair(db, `w${++seq}`, options, points)

  /** Applies `write` to both (the same outcome: both succeed, or both fail with the same code), then compares everything. */
  async function writeBoth(
    one: HostedCollection,
    many: HostedCollection,
    write: (c: Collection) => Promise<unknown>,
    print: (c: Collection) => Promise<unknown> = fingerprint,
  ): Promise<void> {
    expect(await codeOf(write(many))).toBe(await codeOf(write(one)))
    expect(await print(many)).toEqual(await print(one))
    const total = await one.count()
    const info = await many.clusterInfo()
    expect(info.localShards.reduce((s, x) => s + x.pointsCount, 0)).toBe(total)
    expect((await many.info()).pointsCount).toBe(total)
  }

  it('payload updates by ids (across shards) and by filter', async () => {
    const { one, many } = await pair()
    const ids = [idOn(0, 10), idOn(1, 10), idOn(2, 10), UUIDS[4]!]
    const flagged = { must: [{ key: 'flag', match: { value: true } }] }
    await writeBoth(one, many, (c) => c.setPayload({ flag: true, extra: 5 }, { ids }))
    expect(await many.count({ filter: flagged })).toBe(4)
    await writeBoth(one, many, (c) => c.setPayload({ depth: 1 }, { ids }, { key: 'meta' }))
    await writeBoth(one, many, (c) =>
      c.setPayload({ band: 'low' }, { filter: { must: [{ key: 'n', range: { lt: 10 } }] } }),
    )
    expect(
      await many.count({ filter: { must: [{ key: 'band', match: { value: 'low' } }] } }),
    ).toBeGreaterThan(20)
    await writeBoth(one, many, (c) => c.overwritePayload({ color: 'red', only: 1 }, { ids: ids.slice(1) }))
    await writeBoth(one, many, (c) =>
      c.overwritePayload({ color: 'blue' }, { filter: { must: [{ key: 'rank', match: { value: 4 } }] } }),
    )
    await writeBoth(one, many, (c) =>
      c.deletePayload(['tags', 'price'], { filter: { must: [{ key: 'rank', match: { value: 1 } }] } }),
    )
    await writeBoth(one, many, (c) => c.deletePayload(['color'], { ids: [idOn(0, 11), idOn(2, 11)] }))
    await writeBoth(one, many, (c) => c.clearPayload({ ids: [idOn(1, 12), UUIDS[6]!] }))
    await writeBoth(one, many, (c) =>
      c.clearPayload({ filter: { must: [{ key: 'n', range: { gte: 45 } }] } }),
    )
    expect((await many.get([idOn(1, 12)], { withPayload: true }))[0]?.payload).toEqual({})
  })

  it('deletes by ids and by filter; re-upserting existing ids replaces them on their shard', async () => {
    const { one, many } = await pair()
    await writeBoth(one, many, (c) =>
      c.delete({ ids: [idOn(0, 0), idOn(1, 0), idOn(2, 0), UUIDS[0]!, 1, MISSING_UUID] }),
    )
    expect(await many.count()).toBe(POINTS.length - 4)
    await writeBoth(one, many, (c) =>
      c.delete({ filter: { must: [{ key: 'color', match: { value: 'green' } }] } }),
    )
    expect(await many.count({ filter: { must: [{ key: 'color', match: { value: 'green' } }] } })).toBe(0)
    // the same ids again (one UUID in upper case): replaced in place, never a second copy
    const r = rng(77)
    const again = POINTS.filter((_, i) => i % 4 === 0).map((p) => ({
      id: typeof p.id === 'string' ? p.id.toUpperCase() : p.id,
      vector: vectorFrom(r),
      payload: { ...p.payload, again: true },
    }))
    await writeBoth(one, many, (c) => c.upsert(again))
    await expectShards(many, expectedPerShard(await liveIds(many)))
  })

  it('batchUpdate: operations across shards, later ones seeing earlier ones', async () => {
    const { one, many } = await pair()
    const r = rng(78)
    const fresh = Array.from({ length: 30 }, (_, i) => ({
      id: 20_000 + i,
      vector: vectorFrom(r),
      payload: payloadFrom(r, i),
    }))
    const freshIds = fresh.map((p) => p.id)
    await writeBoth(one, many, (c) =>
      c.batchUpdate([
        { upsert: { points: fresh } },
        { setPayload: { payload: { batch: 1 }, selector: { ids: freshIds.slice(0, 12) } } },
        { delete: { selector: { filter: { must: [{ key: 'rank', match: { value: 3 } }] } } } },
        { overwritePayload: { payload: { color: 'teal' }, selector: { ids: [idOn(0, 20), idOn(1, 20)] } } },
        {
          updateVectors: {
            points: [
              { id: idOn(2, 20), vector: QUERIES[0]! },
              { id: freshIds[13]!, vector: QUERIES[1]! },
            ],
          },
        },
        { deletePayload: { keys: ['n'], selector: { ids: freshIds.slice(5, 20) } } },
        { clearPayload: { selector: { ids: [UUIDS[8]!] } } },
        { delete: { selector: { ids: freshIds.slice(25) } } },
      ]),
    )
    expect(await many.count({ filter: { must: [{ key: 'batch', match: { value: 1 } }] } })).toBeGreaterThan(0)
    expect((await many.search(QUERIES[0]!, { limit: 1, exact: true }))[0]?.id).toBe(idOn(2, 20))
  })

  it('updateVectors and deleteVectors on named vectors, by ids and by filter', async () => {
    const options: CreateCollectionOptions = {
      vectors: { img: { dimension: DIM, metric: 'Euclid' }, txt: { dimension: 4, metric: 'Dot' } },
    }
    const r = rng(79)
    const points = SHUFFLED.slice(0, 300).map((p) => ({
      ...p,
      vector: { img: p.vector, txt: vectorFrom(r, 4) },
    }))
    const { one, many } = await pair(options, points)
    const usingTxt = (c: Collection) =>
      c.search([0.3, -0.2, 0.9, 0.1], { using: 'txt', limit: 10, exact: true })
    const print = async (c: Collection) =>
      noVersions({
        records: await allRecords(c),
        txt: await usingTxt(c),
        img: await c.search(QUERIES[0]!, { using: 'img', limit: 10, exact: true }),
        holding: await c.count({ filter: { must: [{ has_vector: 'txt' }] } }),
      })
    const before = await same(one, many, usingTxt)
    expect(before).toHaveLength(10)
    const targets = before.slice(0, 3).map((h) => h.id)
    await writeBoth(
      one,
      many,
      (c) => c.updateVectors(targets.map((id) => ({ id, vector: { txt: [-1, 1, -1, 1] } }))),
      print,
    )
    const after = await same(one, many, usingTxt)
    for (const id of targets) expect(after.map((h) => h.id)).not.toContain(id)
    await writeBoth(
      one,
      many,
      (c) => c.deleteVectors(['txt'], { ids: after.slice(0, 4).map((h) => h.id) }),
      print,
    )
    await writeBoth(
      one,
      many,
      (c) => c.deleteVectors(['txt'], { filter: { must: [{ key: 'color', match: { value: 'red' } }] } }),
      print,
    )
    // an unknown vector name: the same outcome (a refusal) on both
    await writeBoth(one, many, (c) => c.deleteVectors(['nope'], { ids: [targets[0]!] }), print)
    const holding = await same(one, many, (c) => c.count({ filter: { must: [{ has_vector: 'txt' }] } }))
    expect(holding).toBeLessThan(300 - 4)
    await same(one, many, usingTxt)
    await same(one, many, (c) =>
      c.search(QUERIES[0]!, { using: 'img', limit: 10, exact: true, withVector: true }),
    )
  })

  it('createPayloadIndex / deletePayloadIndex: the same schema (points summed over shards) and filtered reads', async () => {
    const { one, many } = await pair()
    await writeBoth(one, many, (c) => c.createPayloadIndex('tags', 'keyword'))
    const [a, b] = [await one.info(), await many.info()]
    expect(b.payloadSchema).toEqual(a.payloadSchema)
    expect(b.payloadSchema.tags?.dataType).toBe('keyword')
    expect(b.payloadSchema.tags?.points).toBe(a.payloadSchema.tags?.points)
    const tagged = { must: [{ key: 'tags', match: { value: 'y' } }] }
    await same(one, many, (c) => c.search(QUERIES[2]!, { filter: tagged, limit: 10, exact: true }))
    await same(one, many, (c) => c.search(QUERIES[2]!, { filter: tagged, limit: 10 }).then((h) => h.length))
    const facet = await same(one, many, (c) => c.facet({ key: 'tags' }))
    expect(facet.hits.map((h) => h.value).sort()).toEqual(['x', 'y', 'z'])
    await writeBoth(one, many, (c) => c.deletePayloadIndex('tags'))
    expect((await many.info()).payloadSchema.tags).toBeUndefined()
    await sameError(one, many, (c) => c.facet({ key: 'tags' }))
  })

  it('updateConfig (HNSW ef_construct, optimizers) is reflected in info and config', async () => {
    const { one, many } = await pair()
    const update = {
      hnsw: { efConstruct: 48 },
      optimizers: { deletedThreshold: 0.35, vacuumMinVectorNumber: 500 },
    }
    await one.updateConfig(update)
    await many.updateConfig(update)
    const [a, b] = [await one.info(), await many.info()]
    expect(b.config.hnsw.efConstruct).toBe(48)
    expect(b.config.optimizers.deletedThreshold).toBe(0.35)
    expect(b.config.optimizers.vacuumMinVectorNumber).toBe(500)
    expect(b.config.hnsw).toEqual(a.config.hnsw)
    expect(b.config.optimizers).toEqual(a.config.optimizers)
    expect(b.config.vectors).toEqual(a.config.vectors)
    expect(many.config.hnsw.efConstruct).toBe(48)
    expect(b.config.params?.shardNumber).toBe(3)
    await sameError(one, many, (c) => c.updateConfig({ hnsw: { efConstruct: -1 } }))
    expect((await many.info()).config.hnsw.efConstruct).toBe(48)
    // the shard count is fixed at creation (resharding is not a config change)
    expect(await sameError(one, many, (c) => c.updateConfig({ params: { shardNumber: 5 } }))).toBe(
      'INVALID_CONFIG',
    )
    expect((await many.info()).config.params?.shardNumber).toBe(3)
    expect((await many.clusterInfo()).shardCount).toBe(3)
    await same(one, many, (c) => c.search(QUERIES[0]!, { limit: 10, exact: true }))
  })

  describe('a refused write changes no shard', () => {
    const r = rng(80)
    // new ids, grouped by the shard they route to
    const NEW = Array.from({ length: 300 }, (_, i) => 50_000 + i)
    const newOn = (s: number) => NEW.filter((id) => shardOf(id, SHARDS) === s)
    const good = (s: number, k: number) =>
      newOn(s)
        .slice(0, k)
        .map((id) => ({ id, vector: vectorFrom(r), payload: { color: 'red' } }))
    const badDim = { id: newOn(1)[0]!, vector: vectorFrom(r, DIM - 1) }

    async function refusedBoth(
      one: HostedCollection,
      many: HostedCollection,
      write: (c: Collection) => Promise<unknown>,
    ): Promise<string> {
      const before = await fingerprint(many)
      const shardsBefore = await many.clusterInfo()
      const code = await sameError(one, many, write)
      await settle(one)
      await settle(many)
      expect(await fingerprint(many)).toEqual(before)
      expect(await fingerprint(many)).toEqual(await fingerprint(one))
      expect(await many.clusterInfo()).toEqual(shardsBefore)
      return code
    }

    it('an upsert batch with one wrong-dimension point on another shard (last or first) writes no point', async () => {
      const { one, many } = await pair()
      const batch = [...good(0, 5), ...good(2, 5), badDim]
      expect(await refusedBoth(one, many, (c) => c.upsert(batch))).toBe('INVALID_VECTOR')
      expect(await refusedBoth(one, many, (c) => c.upsert([badDim, ...good(0, 5), ...good(2, 5)]))).toBe(
        'INVALID_VECTOR',
      )
      const nonFinite = { id: newOn(2)[1]!, vector: [Number.NaN, ...vectorFrom(r, DIM - 1)] }
      await refusedBoth(one, many, (c) => c.upsert([...good(0, 3), ...good(1, 3), nonFinite]))
      expect(await many.get(batch.map((p) => p.id))).toEqual([])
      // existing ids in a refused batch keep their old vectors and payloads
      const overwrite = [
        { ...POINTS[0]!, payload: { changed: true } },
        { id: idOn(1, 30), vector: vectorFrom(r, DIM + 1) },
      ]
      await refusedBoth(one, many, (c) => c.upsert(overwrite))
    })

    it('payload and vector updates naming an id missing from another shard write nothing', async () => {
      const { one, many } = await pair()
      const missing = newOn(2)[0]!
      await refusedBoth(one, many, (c) => c.setPayload({ x: 1 }, { ids: [idOn(0, 0), idOn(1, 0), missing] }))
      await refusedBoth(one, many, (c) => c.overwritePayload({ x: 1 }, { ids: [idOn(0, 0), missing] }))
      await refusedBoth(one, many, (c) =>
        c.updateVectors([
          { id: idOn(0, 1), vector: QUERIES[0]! },
          { id: missing, vector: QUERIES[1]! },
        ]),
      )
      await refusedBoth(one, many, (c) =>
        c.updateVectors([
          { id: idOn(0, 1), vector: QUERIES[0]! },
          { id: idOn(1, 1), vector: [1, 2] },
        ]),
      )
    })

    it('a batchUpdate with one bad operation writes none of its operations', async () => {
      const { one, many } = await pair()
      await refusedBoth(one, many, (c) =>
        c.batchUpdate([
          { upsert: { points: [...good(0, 4), ...good(1, 4)] } },
          { delete: { selector: { ids: [idOn(2, 2)] } } },
          { upsert: { points: [badDim] } },
        ]),
      )
      await refusedBoth(one, many, (c) =>
        c.batchUpdate([
          { setPayload: { payload: { y: 2 }, selector: { ids: [idOn(0, 3)] } } },
          { delete: { selector: { filter: { must: [{ key: 'color', match: { value: 'red' } }] } } } },
          { setPayload: { payload: { y: 3 }, selector: { ids: [newOn(1)[5]!] } } },
        ]),
      )
    })
  })
})

describe('shard count, layout and lifecycle', () => {
  let root: string
  let dir: string
  let db: Quiver | undefined

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'quiver-shard-life-'))
    dir = join(root, 'data')
    db = await Quiver.open(dir)
  })
  afterEach(async () => {
    await db?.close().catch(() => undefined)
    db = undefined
    await rm(root, { recursive: true, force: true })
  })

  const collectionDir = (name: string) => join(dir, 'collections', name)

  it('refuses a shardNumber outside the integers 1..64 with INVALID_CONFIG and creates nothing', async () => {
    for (const bad of [0, 65, -1, 1.5, '3', Number.NaN, Number.POSITIVE_INFINITY, true, 1000]) {
      const code = await codeOf(db!.createCollection('bad', { ...BASE, params: shardParams(bad) }))
      expect(code, `shardNumber ${String(bad)}`).toBe('INVALID_CONFIG')
      expect(db!.hasCollection('bad')).toBe(false)
    }
    expect(db!.listCollections()).toEqual([])
    expect((await readdir(join(dir, 'collections'))).filter((e) => !e.startsWith('.'))).toEqual([])
    // the name is still free
    const c = await db!.createCollection('bad', BASE)
    expect(await c.count()).toBe(0)
  })

  it('accepts 1 (the single layout, no shards/ directory) and 64 (the most)', async () => {
    const single = await db!.createCollection('single', { ...BASE, params: { shardNumber: 1 } })
    const widest = await db!.createCollection('widest', { ...BASE, params: { shardNumber: 64 } })
    const points = SHUFFLED.slice(0, 320)
    await single.upsert(points)
    await widest.upsert(points)
    expect((await widest.info()).config.params?.shardNumber).toBe(64)
    await expectShards(single, [320])
    await expectShards(
      widest,
      expectedPerShard(
        points.map((p) => p.id),
        64,
      ),
    )
    expect(await isDir(join(collectionDir('single'), 'shards'))).toBe(false)
    for (const i of [0, 31, 63])
      expect(await isDir(join(collectionDir('widest'), 'shards', String(i)))).toBe(true)
    expect(await isDir(join(collectionDir('widest'), 'shards', '64'))).toBe(false)
    await same(single, widest, (c) => c.search(QUERIES[0]!, { limit: 20, exact: true }))
    await same(single, widest, (c) => scrollPages(c, { limit: 50 }))
  })

  it('is durable: after reopen the same answers, shards/0..2 on disk, each shard holding exactly its ids', async () => {
    const { one, many } = await makePair(db!, 'c')
    await many.delete({ ids: [idOn(0, 7), idOn(2, 7)] })
    await one.delete({ ids: [idOn(0, 7), idOn(2, 7)] })
    await many.updateConfig({ hnsw: { efConstruct: 40 } })
    const before = await fingerprint(many)
    expect(before).toEqual(await fingerprint(one))
    const shardsBefore = await many.clusterInfo()
    await db!.close()

    for (const i of [0, 1, 2])
      expect(await isDir(join(collectionDir('c_many'), 'shards', String(i)))).toBe(true)
    expect(await isDir(join(collectionDir('c_many'), 'shards', '3'))).toBe(false)
    expect(await isDir(join(collectionDir('c_one'), 'shards'))).toBe(false)

    db = await Quiver.open(dir)
    const reopened = await db.getCollection('c_many')
    const info = await reopened.info()
    expect(info.config.params?.shardNumber).toBe(3)
    expect(info.config.hnsw.efConstruct).toBe(40)
    expect(await reopened.clusterInfo()).toEqual(shardsBefore)
    expect(await fingerprint(reopened)).toEqual(before)
    await same(await db.getCollection('c_one'), reopened, (c) => scrollPages(c, { limit: 37 }))
    const live = await liveIds(reopened)
    await db.close()
    db = undefined

    // each shard directory is a collection of its own holding exactly the ids routed to it
    const seen: PointId[] = []
    for (const i of [0, 1, 2]) {
      const shard = await EmbeddedCollection.open(
        join(collectionDir('c_many'), 'shards', String(i)),
        `shard${i}`,
      )
      try {
        const ids = await liveIds(shard)
        expect(ids.length).toBeGreaterThan(0)
        for (const id of ids) expect(shardOf(id, SHARDS), `id ${id}`).toBe(i)
        seen.push(...ids)
      } finally {
        await shard.close()
      }
    }
    expect(new Set(seen)).toEqual(new Set(live))
    expect(seen).toHaveLength(live.length)
  })

  it('deleteCollection removes every shard; the name can be created again', async () => {
    const { one, many } = await makePair(db!, 'd')
    expect(await db!.deleteCollection('d_many')).toBe(true)
    expect(db!.hasCollection('d_many')).toBe(false)
    expect(db!.listCollections()).toEqual(['d_one'])
    expect(await isDir(collectionDir('d_many'))).toBe(false)
    expect((await readdir(join(dir, 'collections'))).filter((e) => !e.startsWith('.'))).toEqual(['d_one'])
    expect(await codeOf(many.count())).not.toBe('resolved')
    expect(await one.count()).toBe(POINTS.length)
    const again = await db!.createCollection('d_many', { ...BASE, params: { shardNumber: SHARDS } })
    expect(await again.count()).toBe(0)
    await expectShards(again, [0, 0, 0])
    await db!.close()
    db = await Quiver.open(dir)
    expect(db.listCollections().sort()).toEqual(['d_many', 'd_one'])
    expect(await (await db.getCollection('d_many')).count()).toBe(0)
  })

  it('a collection snapshot of a sharded collection restores the earlier points exactly, here and in a fresh directory', async () => {
    const { many } = await makePair(db!, 's')
    const before = await fingerprint(many)
    const snap = await db!.createSnapshot('s_many')
    const path = await db!.snapshotPath('s_many', snap.name)
    const r = rng(81)
    await many.upsert(
      Array.from({ length: 40 }, (_, i) => ({
        id: 70_000 + i,
        vector: vectorFrom(r),
        payload: { color: 'red' },
      })),
    )
    await many.delete({ ids: [idOn(0, 0), idOn(1, 0), idOn(2, 0)] })
    await many.setPayload({ later: true }, { filter: { must: [{ key: 'rank', match: { value: 0 } }] } })
    expect(await fingerprint(many)).not.toEqual(before)

    await db!.recoverSnapshot('s_many', path)
    const recovered = await db!.getCollection('s_many')
    expect((await recovered.info()).config.params?.shardNumber).toBe(3)
    expect(await fingerprint(recovered)).toEqual(before)
    await expectShards(recovered, expectedPerShard(IDS))
    await recovered.upsert([{ id: 70_000, vector: QUERIES[0]! }])
    expect(await recovered.count()).toBe(POINTS.length + 1)

    const other = await Quiver.open(join(root, 'other'))
    try {
      await other.recoverSnapshot('copy', path)
      const copy = await other.getCollection('copy')
      expect((await copy.info()).config.params?.shardNumber).toBe(3)
      expect(await fingerprint(copy)).toEqual(before)
      expect(await isDir(join(root, 'other', 'collections', 'copy', 'shards', '2'))).toBe(true)
    } finally {
      await other.close()
    }
  })

  it('a full snapshot restores sharded and single collections and their aliases', async () => {
    const { one, many } = await makePair(db!, 'f')
    await db!.updateAliases([{ createAlias: { collectionName: 'f_many', aliasName: 'f_alias' } }])
    const [beforeOne, beforeMany] = [await fingerprint(one), await fingerprint(many)]
    const full = await db!.createFullSnapshot()
    const path = await db!.fullSnapshotPath(full.name)
    await many.delete({ filter: { must: [{ key: 'color', match: { value: 'blue' } }] } })
    await one.clearPayload({ ids: [idOn(0, 0)] })
    expect(await fingerprint(many)).not.toEqual(beforeMany)

    expect((await db!.recoverFullSnapshot(path)).sort()).toEqual(['f_many', 'f_one'])
    const restored = await db!.getCollection('f_many')
    expect((await restored.info()).config.params?.shardNumber).toBe(3)
    expect(await fingerprint(restored)).toEqual(beforeMany)
    expect(await fingerprint(await db!.getCollection('f_one'))).toEqual(beforeOne)
    expect(await fingerprint(await db!.getCollection('f_alias'))).toEqual(beforeMany)
    await expectShards(restored, expectedPerShard(IDS))
  })

  it('aliases resolve to a sharded collection for reads, writes and snapshots', async () => {
    const { one, many } = await makePair(db!, 'a')
    await db!.updateAliases([{ createAlias: { collectionName: 'a_many', aliasName: 'docs' } }])
    const viaAlias = await db!.getCollection('docs')
    expect(viaAlias.name).toBe('a_many')
    await expectShards(viaAlias, expectedPerShard(IDS))
    await same(one, viaAlias, (c) => c.search(QUERIES[1]!, { limit: 10, exact: true, filter: FILTERS[1]! }))
    await viaAlias.setPayload({ via: 'alias' }, { ids: [idOn(2, 9)] })
    expect((await many.get([idOn(2, 9)], { withPayload: true }))[0]?.payload?.via).toBe('alias')
    const snap = await db!.createSnapshot('docs')
    expect(snap.name.startsWith('a_many-')).toBe(true)
    // switching the alias moves readers to the 1-shard collection
    await db!.updateAliases([
      { deleteAlias: { aliasName: 'docs' } },
      { createAlias: { collectionName: 'a_one', aliasName: 'docs' } },
    ])
    expect((await db!.getCollection('docs')).name).toBe('a_one')
  })
})
