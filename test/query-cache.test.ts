// The query-result cache through the embedded API: a repeated search or query is answered from the
// cache, any write makes it compute again (never a stale answer), results handed out cannot change
// the cache, the byte budget evicts, the TTL expires (virtual clock, no sleeps), and requests whose
// answer depends on more than the collection (lookups, random samples) are never cached.
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver, QuiverError } from '../src/index.js'
import { rng } from './support/random.js'

const DIM = 8

describe('query-result cache (embedded)', () => {
  let dir: string
  let db: Quiver
  let now = 0
  const r = rng(11)
  const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  async function collection(name = 'c', n = 200): Promise<HostedCollection> {
    const c = await db.createCollection(name, { dimension: DIM, metric: 'Euclid' })
    await c.upsert(
      Array.from({ length: n }, (_, id) => ({ id, vector: vec(), payload: { group: id % 4, tags: ['x'] } })),
    )
    return c
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-cache-'))
    now = 0
    db = await Quiver.open(dir, { clock: () => now })
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('answers a repeated query from the cache until a write, then includes what the write added', async () => {
    const c = await collection()
    const q = vec()
    const first = await c.query({ query: q, limit: 5, withPayload: true })
    expect(c.stats().queryCache).toEqual({ hits: 0, misses: 1 })
    const again = await c.query({ limit: 5, withPayload: true, query: q }) // same request, keys reordered
    expect(again).toEqual(first)
    expect(c.stats().queryCache).toEqual({ hits: 1, misses: 1 })
    // a point that belongs first in the results: the next query sees it
    await c.upsert([{ id: 999, vector: q, payload: { group: 9 } }])
    const after = await c.query({ query: q, limit: 5, withPayload: true })
    expect(after.points[0]!.id).toBe(999)
    expect(after.points[0]!.payload).toEqual({ group: 9 })
    expect(c.stats().queryCache).toEqual({ hits: 1, misses: 2 })
    // a payload change and a delete are writes too
    await c.setPayload({ group: 10 }, { ids: [999] })
    expect((await c.query({ query: q, limit: 5, withPayload: true })).points[0]!.payload).toEqual({
      group: 10,
    })
    await c.delete({ ids: [999] })
    expect((await c.query({ query: q, limit: 5, withPayload: true })).points).toEqual(first.points)
    expect(c.stats().queryCache).toEqual({ hits: 1, misses: 4 })
  })

  it('computes again once segments are rebuilt for a config change', async () => {
    const c = await collection('c', 300)
    const q = vec()
    await c.search(q, { limit: 5 })
    await c.updateConfig({ quantization: { scalar: { type: 'int8', quantile: 0.99 } } })
    await c.search(q, { limit: 5 }) // the config change is a write: a miss
    await c.waitForOptimizers()
    await c.search(q, { limit: 5 }) // segments rebuilt with codes: may answer differently, a miss
    await c.search(q, { limit: 5 })
    expect(c.stats().queryCache).toEqual({ hits: 1, misses: 3 })
  })

  it('caches search, batches and groups, each keyed by its whole request', async () => {
    const c = await collection()
    const q = vec()
    const filter = { must: [{ key: 'group', match: { value: 1 } }] }
    const a = await c.search(q, { limit: 3, filter })
    expect(await c.search(q, { limit: 3, filter })).toEqual(a)
    // another filter, limit or timeout-free twin: other keys, except that a timeout asks the same
    expect(await c.search(q, { limit: 3, filter, timeout: 5 })).toEqual(a)
    expect(await c.search(q, { limit: 4, filter })).toHaveLength(4)
    const b = await c.search(q, { limit: 3, filter: { must: [{ key: 'group', match: { value: 2 } }] } })
    expect(b.every((h) => !a.some((x) => x.id === h.id))).toBe(true)
    expect(c.stats().queryCache).toEqual({ hits: 2, misses: 3 })
    const batch = [
      { vector: q, limit: 2 },
      { vector: vec(), limit: 2 },
    ]
    expect(await c.searchBatch(batch)).toEqual(await c.searchBatch(batch))
    const qb = [
      { query: q, limit: 2 },
      { query: 3, limit: 2 },
    ]
    expect(await c.queryBatch(qb)).toEqual(await c.queryBatch(qb))
    const groups = { query: q, groupBy: 'group', limit: 2, groupSize: 2 }
    expect(await c.queryGroups(groups)).toEqual(await c.queryGroups(groups))
    expect(c.stats().queryCache).toEqual({ hits: 5, misses: 6 })
  })

  it('hands out copies: changing a result changes nothing cached', async () => {
    const c = await collection()
    const q = vec()
    const first = await c.query({ query: q, limit: 3, withPayload: true, withVector: true })
    const expected = structuredClone(first)
    first.points[0]!.payload!.group = 'changed'
    ;(first.points[0]!.vector as number[])[0] = 123
    first.points.pop()
    const second = await c.query({ query: q, limit: 3, withPayload: true, withVector: true })
    expect(second).toEqual(expected)
    second.points.length = 0
    expect(await c.query({ query: q, limit: 3, withPayload: true, withVector: true })).toEqual(expected)
    expect(c.stats().queryCache.hits).toBe(2)
  })

  it('never caches what depends on more than the collection: lookups elsewhere and random samples', async () => {
    const c = await collection()
    const other = await collection('other', 10)
    const lookup = { query: 3, lookupFrom: { collection: 'other' }, limit: 3 }
    const before = await c.query(lookup)
    await other.upsert([{ id: 3, vector: Array.from({ length: DIM }, () => 0.5) }])
    const after = await c.query(lookup)
    expect(after).not.toEqual(before)
    await c.query({ query: { sample: 'random' }, limit: 3 })
    await c.query({ query: { sample: 'random' }, limit: 3 })
    expect(c.stats().queryCache).toEqual({ hits: 0, misses: 0 })
  })

  it('a dropped and recreated collection of the same name never sees the old one’s entries', async () => {
    let c = await collection()
    const q = vec()
    const old = await c.search(q, { limit: 3 })
    await db.deleteCollection('c')
    c = await collection()
    const fresh = await c.search(q, { limit: 3 })
    expect(fresh).not.toEqual(old)
    expect(c.stats().queryCache).toEqual({ hits: 0, misses: 1 })
    expect(db.queryCacheStats().entries).toBe(1)
  })

  it('keeps within its byte budget, evicting the least recently used, and expires entries after the TTL', async () => {
    await db.close()
    db = await Quiver.open(dir, { clock: () => now, queryCacheBytes: 64 * 1024, queryCacheTtlMs: 60_000 })
    const c = await collection()
    const queries = Array.from({ length: 200 }, () => vec())
    for (const q of queries) await c.search(q, { limit: 10, withPayload: true })
    const s = db.queryCacheStats()
    expect(s.maxBytes).toBe(64 * 1024)
    expect(s.bytes).toBeLessThanOrEqual(64 * 1024)
    expect(s.evictions).toBeGreaterThan(0)
    expect(s.entries).toBeLessThan(200)
    // the latest query is still there; the first was evicted
    const { hits, misses } = c.stats().queryCache
    await c.search(queries[199]!, { limit: 10, withPayload: true })
    await c.search(queries[0]!, { limit: 10, withPayload: true })
    expect(c.stats().queryCache).toEqual({ hits: hits + 1, misses: misses + 1 })
    // past the TTL nothing is served
    now += 60_001
    await c.search(queries[199]!, { limit: 10, withPayload: true })
    expect(c.stats().queryCache.misses).toBe(misses + 2)
  })

  it('is off with queryCacheBytes 0, and refuses a bad budget before touching the directory', async () => {
    await db.close()
    db = await Quiver.open(dir, { queryCacheBytes: 0 })
    const c = await collection()
    const q = vec()
    await c.search(q, { limit: 3 })
    await c.search(q, { limit: 3 })
    expect(c.stats().queryCache).toEqual({ hits: 0, misses: 0 })
    expect(db.queryCacheStats()).toEqual({ maxBytes: 0, bytes: 0, entries: 0, evictions: 0 })
    const fresh = join(dir, 'never-made')
    for (const bad of [-1, 1.5, Number.NaN]) {
      const e = await Quiver.open(fresh, { queryCacheBytes: bad }).catch((err: unknown) => err)
      expect(e).toBeInstanceOf(QuiverError)
      expect((e as QuiverError).code).toBe('INVALID_CONFIG')
    }
    const e = await Quiver.open(fresh, { queryCacheTtlMs: 0 }).catch((err: unknown) => err)
    expect((e as QuiverError).code).toBe('INVALID_CONFIG')
    await expect(stat(fresh)).rejects.toThrow()
  })
})
