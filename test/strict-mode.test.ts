// Strict mode through the embedded API: every limit refuses what exceeds it with Qdrant's message,
// changes nothing (no WAL record, the same points), and lets through what fits; rate limits run on
// a virtual clock (no sleeps); the config survives a reopen and is echoed by info().
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { type HostedCollection, Quiver, QuiverError, type StrictModeConfig } from '../src/index.js'
import { rng } from './support/random.js'

const DIM = 4

async function refused(p: Promise<unknown>): Promise<QuiverError> {
  try {
    await p
  } catch (e) {
    if (e instanceof QuiverError) return e
    throw e
  }
  throw new Error('expected the request to be refused')
}

describe('strict mode (embedded)', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  /** Virtual milliseconds for the rate limiters (and read deadlines): moved by the tests only. */
  let now = 0
  const r = rng(5)
  const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

  /** A fresh collection with strict mode enabled and `limits`. */
  async function strict(limits: StrictModeConfig): Promise<void> {
    await db.deleteCollection('c')
    await create()
    await c.updateConfig({ strictMode: { enabled: true, ...limits } })
  }

  /** The fixture: 20 points, a keyword index on `city`. */
  async function create(strictMode?: StrictModeConfig): Promise<void> {
    c = await db.createCollection('c', {
      vectors: {
        '': { dimension: DIM, metric: 'Dot' },
        m: { dimension: 2, metric: 'Dot', multivector: { comparator: 'max_sim' } },
        flat: { dimension: DIM, metric: 'Dot', hnsw: { m: 0 } },
      },
      sparseVectors: { s: {} },
      ...(strictMode === undefined ? {} : { strictMode }),
    })
    await c.upsert(
      Array.from({ length: 20 }, (_, id) => ({
        id,
        vector: { '': vec(), flat: vec() },
        payload: { city: id % 2 === 0 ? 'Berlin' : 'Paris', n: id, tags: ['a', 'b'] },
      })),
    )
    await c.createPayloadIndex('city', 'keyword')
  }

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-strict-'))
    db = await Quiver.open(dir, { clock: () => now })
  })
  beforeEach(async () => {
    if (db.hasCollection('c')) await db.deleteCollection('c')
    await create()
  })
  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('is off until enabled: limits alone change nothing', async () => {
    await c.updateConfig({ strictMode: { maxQueryLimit: 1 } })
    expect((await c.query({ query: vec(), limit: 5 })).points).toHaveLength(5)
    await c.updateConfig({ strictMode: { enabled: true } })
    expect((await refused(c.query({ query: vec(), limit: 5 }))).message).toBe(
      'Limit exceeded 5 > 1 for "limit". Help: Reduce the "limit" parameter to or below 1.',
    )
    await c.updateConfig({ strictMode: { enabled: false } })
    expect((await c.query({ query: vec(), limit: 5 })).points).toHaveLength(5)
    // set at creation, it holds from the first write
    const born = await db.createCollection('born', {
      dimension: DIM,
      metric: 'Dot',
      strictMode: { enabled: true, upsertMaxBatchsize: 1 },
    })
    await born.upsert([{ id: 1, vector: vec() }])
    expect(
      (
        await refused(
          born.upsert([
            { id: 2, vector: vec() },
            { id: 3, vector: vec() },
          ]),
        )
      ).code,
    ).toBe('STRICT_MODE')
    expect(await born.count()).toBe(1)
    await db.deleteCollection('born')
  })

  it('limits every read: limit, timeout, batch size, exact, hnsw_ef, oversampling', async () => {
    await strict({
      maxQueryLimit: 5,
      maxTimeout: 2,
      searchMaxBatchsize: 2,
      searchAllowExact: false,
      searchMaxHnswEf: 32,
      searchMaxOversampling: 2,
    })
    const q = vec()
    expect((await c.query({ query: q, limit: 5, timeout: 2 })).points).toHaveLength(5)
    const cases: [() => Promise<unknown>, string][] = [
      [() => c.query({ query: q, limit: 6 }), 'Limit exceeded 6 > 5 for "limit"'],
      [() => c.search(q, { limit: 6 }), 'Limit exceeded 6 > 5 for "limit"'],
      [() => c.scroll({ limit: 6 }), 'Limit exceeded 6 > 5 for "limit"'],
      [() => c.facet({ key: 'city', limit: 6 }), 'Limit exceeded 6 > 5 for "limit"'],
      [() => c.query({ query: q, timeout: 3 }), 'Limit exceeded 3 > 2 for "timeout"'],
      [() => c.count({ timeout: 3 }), 'Limit exceeded 3 > 2 for "timeout"'],
      [
        () => c.query({ prefetch: { query: q, limit: 50 }, query: { fusion: 'rrf' }, limit: 3 }),
        'Limit exceeded 50 > 5 for "limit"',
      ],
      [
        () => c.queryGroups({ query: q, groupBy: 'city', limit: 2, groupSize: 3 }),
        'Limit exceeded 6 > 5 for "limit"',
      ],
      [() => c.searchMatrix({ sample: 3, limit: 2 }), 'Limit exceeded 6 > 5 for "limit"'],
      [
        () => c.queryBatch([{ query: q }, { query: q }, { query: q }]),
        'Limit exceeded 3 > 2 for "search batch size"',
      ],
      [
        () => c.query({ query: q, limit: 3, params: { exact: true } }),
        'Exact search disabled!. Help: Set exact=false.',
      ],
      [() => c.search(q, { limit: 3, exact: true }), 'Exact search disabled!'],
      // a count is exact unless told otherwise, as Qdrant's; a facet only when asked
      [() => c.count(), 'Exact search disabled!'],
      [() => c.facet({ key: 'city', limit: 2, exact: true }), 'Exact search disabled!'],
      [() => c.query({ query: q, limit: 3, params: { hnswEf: 33 } }), 'Limit exceeded 33 > 32 for "hnsw_ef"'],
      [
        () => c.query({ query: q, limit: 3, params: { quantization: { oversampling: 3 } } }),
        'Limit exceeded 3 > 2 for "oversampling"',
      ],
      [
        () => c.query({ query: q, using: 'flat', limit: 3 }),
        "Request is forbidden on 'flat' because global vector indexing is disabled (hnsw_config.m = 0)",
      ],
    ]
    for (const [p, message] of cases) {
      const e = await refused(p())
      expect(e.code).toBe('STRICT_MODE')
      expect(e.message).toContain(message)
    }
    expect(await c.count({ exact: false })).toBe(20)
    expect((await c.facet({ key: 'city', limit: 2 })).hits).toHaveLength(2)
    // a rescoring stage over an indexed prefetch is no full scan
    const rescored = await c.query({ prefetch: { query: q, limit: 5 }, query: q, using: 'flat', limit: 3 })
    expect(rescored.points).toHaveLength(3)
  })

  it('requires indexes for filters when unindexed filtering is off, naming the key and the types', async () => {
    await strict({ unindexedFilteringRetrieve: false, unindexedFilteringUpdate: false })
    const byCity = { must: [{ key: 'city', match: { value: 'Berlin' } }] }
    const byN = { must: [{ key: 'n', range: { gte: 3 } }] }
    expect(await c.count({ filter: byCity })).toBe(10)
    const e = await refused(c.count({ filter: byN }))
    expect(e.message).toBe(
      'Index required but not found for "n" of one of the following types: [float, integer]. Help: Create an index for this key or use a different filter.',
    )
    await refused(c.scroll({ filter: { must: [{ key: 'n', match: { value: 3 } }] } }))
    // a keyword index does not answer a range: still refused; an integer index with range does
    await c.createPayloadIndex('n', { type: 'integer', lookup: false, range: true })
    expect(await c.count({ filter: byN })).toBe(17)
    expect(
      (await refused(c.count({ filter: { must: [{ key: 'n', match: { value: 3 } }] } }))).message,
    ).toContain('"n" of one of the following types: [integer]')
    // writes by filter: refused before anything is written
    const before = await c.count()
    const d = await refused(c.delete({ filter: { must: [{ key: 'tags', match: { value: 'a' } }] } }))
    expect(d.message).toContain('Index required but not found for "tags"')
    expect(await c.count()).toBe(before)
    await c.delete({ filter: byCity })
    expect(await c.count()).toBe(10)
    // group_by needs an index that answers match
    const g = await refused(c.queryGroups({ query: vec(), groupBy: 'tags' }))
    expect(g.message).toBe(
      'Index required but not found for "tags". Help: Create an index supporting `match` for this key.',
    )
  })

  it('limits filter size: conditions (nested counted) and list sizes', async () => {
    await strict({ filterMaxConditions: 2, conditionMaxSize: 3 })
    const cond = (n: number) => ({ key: 'n', match: { value: n } })
    expect(await c.count({ filter: { should: [cond(1), cond(2)] } })).toBe(2)
    expect(
      (await refused(c.count({ filter: { should: [cond(1), { must: [cond(2), cond(3)] }] } }))).message,
    ).toBe('Filter condition limit reached (3 > 2). Help: Reduce the amount of conditions of your filter.')
    expect(
      (await refused(c.count({ filter: { must: [{ key: 'n', match: { any: [1, 2, 3, 4] } }] } }))).message,
    ).toBe('Condition size limit reached (4 > 3). Help: Reduce the size of your condition.')
    await refused(c.scroll({ filter: { must: [{ has_id: [1, 2, 3, 4] }] } }))
  })

  it('limits writes: batch size, points, vector bytes, multivector rows, sparse length, payload indexes', async () => {
    await strict({
      upsertMaxBatchsize: 3,
      maxPointsCount: 22,
      multivectorConfig: { m: { maxVectors: 2 } },
      sparseConfig: { s: { maxLength: 2 } },
      maxPayloadIndexCount: 2,
    })
    const seq = () => c.stats().appliedSeq
    const p = (id: number, extra: Record<string, unknown> = {}) => ({
      id,
      vector: { '': vec(), flat: vec(), ...extra },
    })
    let at = seq()
    expect((await refused(c.upsert([p(100), p(101), p(102), p(103)]))).message).toBe(
      'Limit exceeded 4 > 3 for "upsert limit". Help: Reduce the "upsert limit" parameter to or below 3.',
    )
    expect(
      (await refused(c.updateVectors([1, 2, 3, 4].map((id) => ({ id, vector: { flat: vec() } }))))).message,
    ).toContain('"update limit"')
    expect(
      (
        await refused(
          c.upsert([
            p(100, {
              m: [
                [1, 0],
                [0, 1],
                [1, 1],
              ],
            }),
          ]),
        )
      ).message,
    ).toBe("Multivector 'm' has a limit of 2 vectors, but 3 were provided!")
    expect(
      (await refused(c.upsert([p(100, { s: { indices: [1, 2, 3], values: [1, 1, 1] } })]))).message,
    ).toBe("Sparse vector 's' has a limit of 2 indices, but 3 were provided!")
    // a batch is refused as a whole, by its worst operation
    await refused(
      c.batchUpdate([
        { upsert: { points: [p(100)] } },
        { upsert: { points: [p(101), p(102), p(103), p(104)] } },
      ]),
    )
    expect(seq()).toBe(at)
    expect(await c.count()).toBe(20)
    await c.upsert([
      p(100, {
        m: [
          [1, 0],
          [0, 1],
        ],
      }),
      p(101),
    ])
    // 22 points reached: the next insert is refused (checked against the size before it, as Qdrant)
    expect((await refused(c.upsert([p(102)]))).message).toBe('Max points count limit of 22 reached!')
    // deletes free room: never blocked by size limits
    await c.delete({ ids: [100] })
    await c.upsert([p(102)])
    at = seq()
    await c.createPayloadIndex('n', 'integer')
    expect((await refused(c.createPayloadIndex('tags', 'keyword'))).message).toBe(
      'Collection already has the maximum number of payload indices (2). Help: Please delete an existing index before creating a new one.',
    )
    // replacing an existing index is no new one
    await c.createPayloadIndex('n', 'float')
    expect(seq()).toBe(at + 2)

    await strict({ maxCollectionVectorSizeBytes: 1 })
    expect((await refused(c.upsert([p(200)]))).message).toMatch(
      /^Max vector storage size limit of .*MB reached!$/,
    )
    await strict({ maxCollectionPayloadSizeBytes: 10 })
    expect((await refused(c.setPayload({ x: 1 }, { ids: [1] }))).message).toMatch(
      /^Max payload storage size limit of .*MB reached!$/,
    )
  })

  it('spends no tokens on a refused request, checks only limits the client gave, charges index definitions', async () => {
    await strict({ maxQueryLimit: 5, readRateLimit: 3, writeRateLimit: 2, maxTimeout: 2 })
    const q = vec()
    // refused by a limit: the bucket is untouched (3 reads still pass, the 4th does not)
    expect((await refused(c.query({ query: q, limit: 6 }))).code).toBe('STRICT_MODE')
    expect((await refused(c.count({ timeout: 3, exact: false }))).code).toBe('STRICT_MODE')
    for (let i = 0; i < 3; i++) await c.query({ query: q, limit: 1 })
    expect((await refused(c.query({ query: q, limit: 1 }))).code).toBe('RATE_LIMITED')
    // defaults are not the client's: scroll/facet/matrix defaults pass a limit below them
    await c.updateConfig({ strictMode: { maxQueryLimit: 2, readRateLimit: 10 } })
    expect((await c.scroll()).points).toHaveLength(10)
    expect((await c.facet({ key: 'city' })).hits).toHaveLength(2)
    expect((await c.searchMatrix({ sample: 4 })).sampleIds).toHaveLength(4)
    expect((await refused(c.scroll({ limit: 3 }))).code).toBe('STRICT_MODE')
    // a bad request is refused by validation before any token is spent
    expect((await refused(c.scroll({ orderBy: 'n', offset: 3 }))).code).toBe('INVALID_ARGUMENT')
    // 6 of 10 tokens spent: 4 are left, then none
    expect(await c.get([1, 2, 3, 4])).toHaveLength(4)
    expect((await refused(c.get([1]))).code).toBe('RATE_LIMITED')
    // timeouts of retrieve, facet and matrix are checked against max_timeout
    for (const p of [
      () => c.get([1], { timeout: 3 }),
      () => c.facet({ key: 'city', timeout: 3 }),
      () => c.searchMatrix({ timeout: 3 }),
    ])
      expect((await refused(p())).message).toContain('Limit exceeded 3 > 2 for "timeout"')
    // index definitions cost one write token each (as Qdrant's max(1, 0))
    await c.updateConfig({ strictMode: { writeRateLimit: 2 } })
    await c.createPayloadIndex('n', 'integer')
    await c.deletePayloadIndex('n')
    const e = await refused(c.createPayloadIndex('n', 'integer'))
    expect(e.code).toBe('RATE_LIMITED')
    expect('n' in (await c.info()).payloadSchema).toBe(false)
  })

  it('says prefix matching cannot be indexed, instead of asking for an index that would not help', async () => {
    await strict({ unindexedFilteringRetrieve: false })
    const e = await refused(c.count({ filter: { must: [{ key: 'city', match: { prefix: 'Ber' } }] } }))
    expect(e.message).toContain('prefix matching (match.prefix) cannot use a payload index')
  })

  it('rate-limits reads and writes by cost, with the wait Qdrant reports, and refills on a change', async () => {
    await strict({ readRateLimit: 4, writeRateLimit: 60 })
    const q = vec()
    // a query costs 1 per query vector row plus 1 per filter condition
    for (let i = 0; i < 4; i++) await c.query({ query: q, limit: 1 })
    let e = await refused(c.query({ query: q, limit: 1 }))
    expect(e.code).toBe('RATE_LIMITED')
    expect(e.message).toBe(
      'Rate limiting exceeded: Read rate limit exceeded: Operation requires 1 tokens but only 0.0 were available. Retry after 15s',
    )
    expect(e.details?.retryAfterSeconds).toBe(15)
    // a request larger than the bucket can never pass
    e = await refused(c.get([1, 2, 3, 4, 5]))
    expect(e.message).toBe(
      'Rate limiting exceeded: Read rate limit exceeded, request larger than rate limiter capacity, please try to split your request',
    )
    expect(e.details?.retryAfterSeconds).toBeUndefined()
    // 15 virtual seconds refill one token
    now += 15_000
    await c.query({ query: q, limit: 1 })
    await refused(c.query({ query: q, limit: 1 }))
    // a multivector query costs its rows; a query by id also costs the fetch and the exclusion
    now += 60_000
    await refused(
      c.query({
        query: [
          [1, 0],
          [0, 1],
          [1, 1],
          [0, 0.5],
          [1, 0.5],
        ],
        using: 'm',
      }),
    )
    await c.query({ query: 3, limit: 1, filter: { must: [{ key: 'city', match: { value: 'Paris' } }] } })
    expect((await refused(c.query({ query: q, limit: 1 }))).message).toContain('but only 0.0 were available')

    // writes cost the points they touch (a filter's are estimated by the planner)
    for (let i = 0; i < 3; i++)
      await c.upsert(
        Array.from({ length: 3 }, (_, k) => ({ id: 300 + k, vector: { '': vec(), flat: vec() } })),
      )
    await c.setPayload({ seen: true }, { filter: { must: [{ key: 'city', match: { value: 'Berlin' } }] } })
    const before = c.stats().appliedSeq
    e = await refused(
      c.upsert(Array.from({ length: 50 }, (_, k) => ({ id: 400 + k, vector: { '': vec(), flat: vec() } }))),
    )
    expect(e.message).toMatch(
      /^Rate limiting exceeded: Write rate limit exceeded: Operation requires 50 tokens but only \d+\.\d were available\. Retry after \d+s$/,
    )
    expect(c.stats().appliedSeq).toBe(before)
    // setting strict mode again refills the buckets (as Qdrant), even with the same values
    await c.updateConfig({ strictMode: { readRateLimit: 4 } })
    await c.query({ query: q, limit: 1 })
    await c.upsert(
      Array.from({ length: 50 }, (_, k) => ({ id: 400 + k, vector: { '': vec(), flat: vec() } })),
    )
  })

  it('is kept across a reopen and echoed by info()', async () => {
    const config: StrictModeConfig = {
      enabled: true,
      maxQueryLimit: 7,
      unindexedFilteringRetrieve: false,
      searchMaxOversampling: 1.5,
      multivectorConfig: { m: { maxVectors: 4 } },
    }
    await c.updateConfig({ strictMode: config })
    await db.close()
    db = await Quiver.open(dir, { clock: () => now })
    c = await db.getCollection('c')
    expect(c.config.strictMode).toEqual(config)
    expect((await c.info()).config.strictMode).toEqual(config)
    expect((await refused(c.query({ query: vec(), limit: 8 }))).code).toBe('STRICT_MODE')
    // a bad strict-mode config is refused and changes nothing
    const bad = await refused(c.updateConfig({ strictMode: { maxQueryLimit: 0 } }))
    expect(bad.code).toBe('INVALID_CONFIG')
    expect(bad.message).toMatch(/^strictMode\.maxQueryLimit: expected an integer >= 1/)
    await refused(c.updateConfig({ strictMode: { nope: 1 } as StrictModeConfig }))
    expect(c.config.strictMode).toEqual(config)
  })
})
