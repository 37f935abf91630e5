// Write semantics and time budgets, embedded and over REST with the official Qdrant client:
// wait=false answers `acknowledged` at durability and applies in WAL order, wait=true `completed`
// once visible, a timeout past a blocked apply `wait_timeout`; a failed apply that nobody awaited
// is no unhandled rejection; a read past its timeout stops before searching and answers 408;
// snapshots with wait=false answer 202; service endpoints have Qdrant's shapes.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { QdrantClient, type Schemas } from '@qdrant/js-client-rest'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest'
import { type HostedCollection, Quiver } from '../src/index.js'
import { Segment } from '../src/segment/segment.js'
import { buildServer } from '../src/server/app.js'
import type { WireVersionInfo } from '../src/server/routes/service.js'
import type { WireCollectionInfo } from '../src/server/wire/collections.js'
import type { WireOptimizationsResponse } from '../src/server/wire/optimizations.js'
import type { WireUpdateResult } from '../src/server/wire/records.js'
import { call, startTestServer, type TestServer } from './server-harness.js'
import { apiError, expectError } from './support/errors.js'
import { rng } from './support/random.js'

// the wire types stay assignable to the official client's (a type error fails `npm run typecheck`)
const typeChecks: [
  (x: WireUpdateResult) => Schemas['UpdateResult'],
  (x: WireOptimizationsResponse) => Schemas['OptimizationsResponse'],
  (x: WireVersionInfo) => Schemas['VersionInfo'],
  (x: NonNullable<WireCollectionInfo['update_queue']>) => Schemas['UpdateQueueInfo'],
] = [(x) => x, (x) => x, (x) => x, (x) => x]
void typeChecks

const DIM = 4
const r = rng(1313)
const vec = () => Array.from({ length: DIM }, () => r() * 2 - 1)

/** Replaces the collection's apply step (private) with `fn` around the real one; returns a restore. */
function hookApply(
  c: HostedCollection,
  fn: (real: (...args: unknown[]) => Promise<void>, ...args: unknown[]) => Promise<void>,
): () => void {
  const holder = (c as unknown as { holder: { apply: (...args: unknown[]) => Promise<void> } }).holder
  const real = holder.apply.bind(holder)
  holder.apply = (...args: unknown[]) => fn(real, ...args)
  return () => {
    holder.apply = real
  }
}

describe('embedded write semantics', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-wsem-'))
    db = await Quiver.open(dir)
    c = await db.createCollection('c', { dimension: DIM, metric: 'Dot' })
  })
  afterEach(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('wait: false acknowledges at durability; a later wait: true write sees every earlier one applied', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const restore = hookApply(c, async (real, ...args) => {
      await gate
      return real(...args)
    })
    const acks = []
    for (let i = 0; i < 5; i++)
      acks.push(await c.upsert([{ id: 1, vector: vec(), payload: { v: i } }], { wait: false }))
    expect(acks.map((a) => a.status)).toEqual(Array(5).fill('acknowledged'))
    // seqs are the WAL order
    expect(acks.map((a) => a.operationId)).toEqual([...acks.map((a) => a.operationId)].sort((a, b) => a - b))
    // nothing is applied yet: the chain is blocked, five writes are queued
    expect((await c.info()).updateQueue).toEqual({ length: 5 })
    expect(await c.get([1])).toEqual([])
    const last = c.setPayload({ done: true }, { ids: [1] })
    release()
    expect((await last).status).toBe('completed')
    restore()
    expect((await c.get([1]))[0]!.payload).toEqual({ v: 4, done: true })
    expect((await c.info()).updateQueue).toEqual({ length: 0 })
  })

  it('wait with a timeout answers wait_timeout while the apply is blocked, and the write still lands', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const restore = hookApply(c, async (real, ...args) => {
      await gate
      return real(...args)
    })
    const r1 = await c.upsert([{ id: 7, vector: vec() }], { wait: true, timeout: 0.01 })
    expect(r1.status).toBe('wait_timeout')
    release()
    restore()
    const r2 = await c.upsert([{ id: 8, vector: vec() }], { timeout: 60 })
    expect(r2).toEqual({ operationId: r1.operationId + 1, status: 'completed' })
    expect((await c.get([7, 8])).map((p) => p.id)).toEqual([7, 8])
  })

  it('a failed apply of an acknowledged write is no unhandled rejection: the collection turns red', async () => {
    const restore = hookApply(c, async () => {
      throw new Error('injected apply failure')
    })
    const ack = await c.upsert([{ id: 1, vector: vec() }], { wait: false })
    expect(ack.status).toBe('acknowledged')
    // a later write waits in order, then meets the failure
    await expectError(c.upsert([{ id: 2, vector: vec() }]), 'INTERNAL', /injected apply failure/)
    restore()
    expect((await c.info()).status).toBe('red')
    await expectError(c.upsert([{ id: 3, vector: vec() }], { wait: false }), 'INTERNAL')
  })

  it('refuses bad write options before writing anything', async () => {
    await expectError(
      c.upsert([{ id: 1, vector: vec() }], { wait: 'no' as never }),
      'INVALID_ARGUMENT',
      /wait/,
    )
    await expectError(c.upsert([{ id: 1, vector: vec() }], { timeout: 0 }), 'INVALID_ARGUMENT', /timeout/)
    expect(await c.count()).toBe(0)
    expect((await c.info()).updateQueue).toEqual({ length: 0 })
  })
})

describe('embedded read timeouts', () => {
  let dir: string
  let db: Quiver
  let c: HostedCollection
  /** Virtual milliseconds: every read of the clock advances it by `step`. */
  let now = 0
  let step = 0

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-timeout-'))
    db = await Quiver.open(dir, {
      clock: () => {
        now += step
        return now
      },
    })
    c = await db.createCollection('c', {
      dimension: DIM,
      metric: 'Euclid',
      optimizers: { maxSegmentSize: 1, defaultSegmentNumber: 8 },
    })
    for (let b = 0; b < 4; b++)
      await c.upsert(
        Array.from({ length: 50 }, (_, i) => ({ id: b * 50 + i, vector: vec(), payload: { b } })),
      )
    expect((await c.info()).segmentsCount).toBeGreaterThan(1)
  })
  afterAll(async () => {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  })
  afterEach(() => {
    step = 0
    vi.restoreAllMocks()
  })

  it('a search past its deadline stops before the first segment and throws TIMEOUT', async () => {
    const searched = vi.spyOn(Segment.prototype, 'search')
    step = 3_600_000 // an hour per clock read: the first check is past any budget
    await expectError(
      c.search(vec(), { limit: 5, exact: true, timeout: 1 }),
      'TIMEOUT',
      /^Timeout error: Operation 'Search' timed out after 1s$/,
    )
    expect(searched).not.toHaveBeenCalled()
    await expectError(c.query({ query: vec(), limit: 3, timeout: 0.5 }), 'TIMEOUT', /after 500ms/)
    // a query with prefetch stages stops at its first stage
    await expectError(
      c.query({ prefetch: [{ query: vec(), limit: 10 }], query: { fusion: 'rrf' }, timeout: 2 }),
      'TIMEOUT',
    )
    await expectError(c.queryBatch([{ query: vec() }, { query: vec() }], { timeout: 1 }), 'TIMEOUT')
    await expectError(c.searchBatch([{ vector: vec() }], { timeout: 1 }), 'TIMEOUT')
    await expectError(c.count({ timeout: 1 }), 'TIMEOUT', /Operation 'count'/)
    await expectError(c.scroll({ timeout: 1 }), 'TIMEOUT', /Operation 'scroll'/)
    expect(searched).not.toHaveBeenCalled()
  })

  it('an exact context query stops inside its scoring loop once the deadline passes', async () => {
    const big = await db.createCollection('big', { dimension: DIM, metric: 'Dot' })
    await big.upsert(Array.from({ length: 5000 }, (_, i) => ({ id: i, vector: vec() })))
    await big.waitForOptimizers() // their copies read vectors too
    let reads = 0
    const real = Segment.prototype.vectorAt
    vi.spyOn(Segment.prototype, 'vectorAt').mockImplementation(function (this: Segment, ...args) {
      reads++
      // the candidates are read once to keep those holding the vector (5000 reads), then scored:
      // the budget runs out while 500 of them are scored
      if (reads === 5500) step = 3_600_000
      return real.apply(this, args)
    })
    await expectError(
      big.query({ query: { context: [{ positive: 1, negative: 2 }] }, limit: 3, timeout: 10 }),
      'TIMEOUT',
    )
    // stopped at the next check (every 1024 candidates), not after scoring all 5000
    expect(reads).toBeGreaterThanOrEqual(5500)
    expect(reads).toBeLessThan(6100)
  })

  it('a search within its budget answers as one without a timeout', async () => {
    const q = vec()
    step = 0
    const plain = await c.search(q, { limit: 5, exact: true })
    expect(await c.search(q, { limit: 5, exact: true, timeout: 5 })).toEqual(plain)
    await expectError(c.search(q, { timeout: -1 }), 'INVALID_ARGUMENT', /timeout/)
  })
})

describe('REST write semantics, timeouts and service endpoints', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
    await client.createCollection('w', { vectors: { size: DIM, distance: 'Dot' } })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('wait=false answers acknowledged; a wait=true write after them sees all of them', async () => {
    const ids: number[] = []
    for (let i = 0; i < 20; i++) {
      const res = await client.upsert('w', {
        wait: false,
        points: [
          { id: i, vector: vec(), payload: { i } },
          { id: 1000, vector: vec(), payload: { last: i } },
        ],
      })
      expect(res.status).toBe('acknowledged')
      ids.push(i)
    }
    const done = await client.setPayload('w', { wait: true, payload: { tail: true }, points: [1000] })
    expect(done.status).toBe('completed')
    expect((await client.count('w', { exact: true })).count).toBe(21)
    const [p] = await client.retrieve('w', { ids: [1000], with_payload: true })
    expect(p!.payload).toEqual({ last: 19, tail: true })
    const info = await call(srv.url, 'GET', '/collections/w')
    expect(info.body.result.update_queue).toEqual({ length: 0 })
  })

  it('checks wait, ordering and timeout', async () => {
    const put = (q: string) =>
      call(srv.url, 'PUT', `/collections/w/points?${q}`, { points: [{ id: 5000, vector: vec() }] })
    for (const q of ['ordering=weak', 'ordering=medium&wait=true', 'ordering=strong&timeout=5'])
      expect((await put(q)).body.result.status).toBe('completed')
    for (const [q, what] of [
      ['ordering=fast', /query\.ordering/],
      ['timeout=0', /query\.timeout/],
      ['wait=yes', /query\.wait/],
    ] as const) {
      const res = await put(q)
      expect(res.status).toBe(400)
      expect(res.body.status.error).toMatch(what)
    }
    const search = await call(srv.url, 'POST', '/collections/w/points/query?timeout=1.5', { query: vec() })
    expect(search.status).toBe(400)
    expect(search.body.status.error).toMatch(/query\.timeout/)
    const ok = await client.query('w', { query: vec(), limit: 3, timeout: 10 })
    expect(ok.points).toHaveLength(3)
  })

  it('snapshots with wait=false answer 202 accepted, and the snapshot appears', async () => {
    const res = await call(srv.url, 'POST', '/collections/w/snapshots?wait=false')
    expect(res.status).toBe(202)
    expect(res.body).toEqual({ status: 'accepted', time: expect.any(Number) })
    let list = await client.listSnapshots('w')
    for (let i = 0; i < 200 && list.length === 0; i++) {
      // the background work is a real snapshot: poll its result, no sleeping on a guess
      await new Promise((resolve) => setImmediate(resolve))
      list = await client.listSnapshots('w')
    }
    expect(list).toHaveLength(1)
    const del = await call(srv.url, 'DELETE', `/collections/w/snapshots/${list[0]!.name}?wait=false`)
    expect(del.status).toBe(202)
    const missing = await call(srv.url, 'POST', '/collections/nope/snapshots?wait=false')
    expect(missing.status).toBe(404)
    const sync = await call(srv.url, 'POST', '/collections/w/snapshots?wait=true')
    expect(sync.status).toBe(200)
    expect(sync.body.result.name).toMatch(/^w-/)
  })

  it('serves GET /, /cluster and /issues shaped as Qdrant', async () => {
    const root = await call(srv.url, 'GET', '/')
    expect(root.body).toEqual({
      title: expect.stringMatching(/^quiver /),
      version: expect.any(String),
      ...(root.body.commit === undefined ? {} : { commit: expect.stringMatching(/^[0-9a-f]{40}$/) }),
    })
    const info = await client.versionInfo()
    expect(info.version).toBe(root.body.version)
    expect((await call(srv.url, 'GET', '/cluster')).body.result).toEqual({ status: 'disabled' })
    const telemetry = await call(srv.url, 'GET', '/telemetry?details_level=1&timeout=5')
    expect(telemetry.body.result.cluster).toEqual({ enabled: false })

    await client.query('w', { query: vec(), filter: { must: [{ key: 'i', match: { value: 3 } }] } })
    const issues = await call(srv.url, 'GET', '/issues')
    expect(issues.status).toBe(200)
    expect(issues.body.result.issues).toEqual([
      {
        id: 'UNINDEXED_FIELD/w/i',
        description: "Unindexed field 'i' might be slowing queries down in collection 'w'",
        solution: { refactor: expect.stringContaining('PUT /collections/w/index') },
        timestamp: expect.any(String),
        related_collection: 'w',
      },
    ])
    expect((await call(srv.url, 'DELETE', '/issues')).body.result).toBe(true)
    expect((await call(srv.url, 'GET', '/issues')).body.result.issues).toEqual([])
    // it comes back when it happens again
    await client.count('w', { filter: { must: [{ key: 'i', match: { value: 3 } }] } })
    expect((await call(srv.url, 'GET', '/issues')).body.result.issues).toHaveLength(1)
  })
})

describe('REST optimization progress', () => {
  let srv: TestServer
  let client: QdrantClient

  beforeAll(async () => {
    srv = await startTestServer()
    client = new QdrantClient({ url: srv.url, checkCompatibility: false })
  })
  afterAll(async () => {
    await srv?.close()
  })

  it('reports a finished vacuum, the idle segments and an empty queue', async () => {
    await client.createCollection('o', {
      vectors: { size: DIM, distance: 'Dot' },
      optimizers_config: { deleted_threshold: 0.2, vacuum_min_vector_number: 10 },
    })
    const empty = await client.getOptimizations('o', {})
    expect(empty).toEqual({
      summary: { queued_optimizations: 0, queued_segments: 0, queued_points: 0, idle_segments: 1 },
      running: [],
    })
    await client.upsert('o', { points: Array.from({ length: 100 }, (_, i) => ({ id: i, vector: vec() })) })
    await client.delete('o', { points: Array.from({ length: 60 }, (_, i) => i) })
    await (await srv.server.db.getCollection('o')).waitForOptimizers()
    const report = await client.getOptimizations('o', { with: 'queued,completed,idle_segments' })
    expect(report.running).toEqual([])
    expect(report.queued).toEqual([])
    expect(report.completed).toHaveLength(1)
    const [done] = report.completed!
    expect(done).toMatchObject({
      optimizer: 'vacuum',
      status: 'done',
      progress: { name: 'vacuum', total: 40 },
    })
    expect(done!.segments).toHaveLength(1)
    expect(done!.progress.duration_sec).toBeGreaterThanOrEqual(0)
    // the vacuumed segment is swapped in under the optimization's uuid
    expect(report.idle_segments).toContainEqual({ uuid: done!.uuid, points_count: 40 })
    expect(report.summary.idle_segments).toBe(report.idle_segments!.length)
    const none = await client.getOptimizations('o', { with: 'queued', completed_limit: 0 })
    expect(none.completed).toBeUndefined()
    const bad = await call(srv.url, 'GET', '/collections/o/optimizations?with=everything')
    expect(bad.status).toBe(400)
    expect(bad.body.status.error).toMatch(/query\.with/)
  })
})

describe('REST read timeout', () => {
  let dir: string
  let db: Quiver
  let app: ReturnType<typeof buildServer>
  let url: string
  let step = 0
  let now = 0

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'quiver-timeout-rest-'))
    db = await Quiver.open(dir, {
      searchThreads: true,
      clock: () => {
        now += step
        return now
      },
    })
    const c = await db.createCollection('t', { dimension: DIM, metric: 'Euclid' })
    await c.upsert(Array.from({ length: 500 }, (_, i) => ({ id: i, vector: vec() })))
    app = buildServer({ db })
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    url = `http://127.0.0.1:${typeof address === 'object' && address !== null ? address.port : 0}`
  })
  afterAll(async () => {
    await app?.close()
    await db?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it('a search past its timeout answers 408 with Qdrant message, through the official client too', async () => {
    step = 3_600_000
    const raw = await call(url, 'POST', '/collections/t/points/search?timeout=1', {
      vector: vec(),
      limit: 10,
      params: { exact: true },
    })
    expect(raw.status).toBe(408)
    expect(raw.code).toBe('TIMEOUT')
    expect(raw.body.status.error).toBe("Timeout error: Operation 'Search' timed out after 1s")
    const client = new QdrantClient({ url, checkCompatibility: false })
    const err = await apiError(
      client.query('t', { query: vec(), limit: 10, timeout: 2, params: { exact: true } }),
    )
    expect(err).toEqual({ status: 408, message: "Timeout error: Operation 'Search' timed out after 2s" })
    step = 0
    expect((await client.query('t', { query: vec(), limit: 10, timeout: 2 })).points).toHaveLength(10)
  })
})
