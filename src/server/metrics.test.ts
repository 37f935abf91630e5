// ServerMetrics over a fake database: collection gauges read at scrape time (one snapshot per scrape),
// unavailable and concurrently dropped collections, and the per-endpoint duration statistics.

import { describe, expect, it } from 'vitest'
import { singleVector } from '../../test/support/configs.js'
import { DEFAULT_OPTIMIZERS } from '../collection/validate.js'
import { QuiverError } from '../errors.js'
import type { Collection, CollectionInfo, CollectionStats } from '../types.js'
import type { ServerDatabase } from './database.js'
import { qdrantEndpoint, RECENT_WINDOW, RequestStats, ServerMetrics, snapshotCollections } from './metrics.js'

function info(name: string, pointsCount: number, status: CollectionInfo['status'] = 'green'): CollectionInfo {
  return {
    name,
    status,
    optimizerStatus: 'ok',
    pointsCount,
    indexedVectorsCount: pointsCount,
    segmentsCount: 1,
    config: singleVector({
      dimension: 2,
      metric: 'Dot',
      hnsw: { m: 16, efConstruct: 100, fullScanThreshold: 2000, ef: 64 },
      optimizers: DEFAULT_OPTIMIZERS,
    }),
    payloadSchema: {},
    unindexedFilterFields: { color: 4 },
  }
}

const STATS: CollectionStats = {
  pointsCount: 5,
  storedCount: 7,
  segmentsCount: 1,
  memoryBytes: 1000,
  onDiskVectorBytes: 0,
  diskBytes: 300,
  walBytes: 200,
  appliedSeq: 9,
  persistedSeq: 4,
  optimizer: {
    status: { error: 'disk full' },
    running: true,
    completed: { reconfigure: 1, vacuum: 2, merge: 3 },
  },
  queryCache: { hits: 3, misses: 4 },
}

interface Fake {
  db: ServerDatabase
  infoCalls: string[]
  names: string[]
}

function fakeDb(): Fake {
  const infoCalls: string[] = []
  const names = ['a', 'b', 'broken', 'gone']
  const collection = (name: string, withStats: boolean, status: CollectionInfo['status']): Collection => {
    const c = {
      name,
      info: async () => {
        infoCalls.push(name)
        return { ...info(name, 5, status), optimizerStatus: withStats ? STATS.optimizer.status : 'ok' }
      },
      ...(withStats && { stats: () => STATS }),
    }
    return c as unknown as Collection
  }
  const db: ServerDatabase = {
    createCollection: async () => {
      throw new Error('unused')
    },
    getCollection: async (name) => {
      if (name === 'a') return collection('a', true, 'yellow')
      if (name === 'b') return collection('b', false, 'green')
      if (name === 'broken') throw new QuiverError('CORRUPTED', 'config.json is missing')
      throw new QuiverError('COLLECTION_NOT_FOUND', `collection ${name} does not exist`)
    },
    hasCollection: (name) => names.includes(name),
    listCollections: () => [...names],
    deleteCollection: async () => false,
    unavailableCollections: () => new Map([['broken', new Error('config.json is missing')]]),
  }
  return { db, infoCalls, names }
}

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}} `) || l === `${name} ${labels}`)
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1))
}

describe('snapshotCollections', () => {
  it('reads info and stats, marks unavailable collections and skips ones dropped meanwhile', async () => {
    const { db } = fakeDb()
    const snap = await snapshotCollections(db)
    expect(snap.map((c) => [c.name, c.available, c.stats !== undefined])).toEqual([
      ['a', true, true],
      ['b', true, false],
      ['broken', false, false],
    ])
  })
})

describe('ServerMetrics', () => {
  it('reports collection gauges from one snapshot per scrape', async () => {
    const fake = fakeDb()
    const m = new ServerMetrics(fake.db, { version: '9.9.9', apiVersion: '1.18.0', defaultMetrics: false })
    const text = await m.render()
    expect(fake.infoCalls.sort()).toEqual(['a', 'b'])
    expect(sample(text, 'quiver_collection_points', 'collection="a"')).toBe(5)
    expect(sample(text, 'quiver_collection_stored_points', 'collection="a"')).toBe(7)
    expect(sample(text, 'quiver_collection_stored_points', 'collection="b"')).toBeUndefined()
    expect(sample(text, 'quiver_collection_memory_bytes', 'collection="a"')).toBe(1000)
    expect(sample(text, 'quiver_collection_disk_bytes', 'collection="a"')).toBe(300)
    expect(sample(text, 'quiver_collection_wal_bytes', 'collection="a"')).toBe(200)
    expect(sample(text, 'quiver_collection_applied_seq', 'collection="a"')).toBe(9)
    expect(sample(text, 'quiver_collection_persisted_seq', 'collection="a"')).toBe(4)
    expect(sample(text, 'quiver_collection_optimizer_running', 'collection="a"')).toBe(1)
    expect(sample(text, 'quiver_collection_optimizer_ok', 'collection="a"')).toBe(0)
    expect(sample(text, 'quiver_collection_optimizer_ok', 'collection="b"')).toBe(1)
    expect(
      sample(text, 'quiver_collection_optimizations_completed_total', 'collection="a",kind="merge"'),
    ).toBe(3)
    expect(sample(text, 'quiver_collection_status', 'collection="a",status="yellow"')).toBe(1)
    expect(sample(text, 'quiver_collection_status', 'collection="a",status="green"')).toBe(0)
    expect(sample(text, 'quiver_collection_available', 'collection="broken"')).toBe(0)
    expect(sample(text, 'quiver_collection_available', 'collection="b"')).toBe(1)
    expect(sample(text, 'quiver_collection_points', 'collection="broken"')).toBeUndefined()
    expect(sample(text, 'quiver_unindexed_filter_requests_total', 'collection="b",field="color"')).toBe(4)
    expect(sample(text, 'collections_total', '3')).toBe(3)
    expect(sample(text, 'collections_vector_total', '10')).toBe(10)
    expect(sample(text, 'quiver_info', 'version="9.9.9",api_version="1.18.0"')).toBe(1)
    expect(text).not.toContain('process_cpu_seconds_total')

    // a dropped collection's series disappear at the next scrape
    fake.names.splice(fake.names.indexOf('a'), 1)
    const next = await m.render()
    expect(fake.infoCalls.length).toBe(3)
    expect(sample(next, 'quiver_collection_points', 'collection="a"')).toBeUndefined()
    expect(sample(next, 'quiver_collection_points', 'collection="b"')).toBe(5)
  })

  it('counts requests by method, route and status and mirrors them as Qdrant rest_responses_total', async () => {
    const m = new ServerMetrics(fakeDb().db, { version: '1', apiVersion: '1', defaultMetrics: false })
    m.observe('GET', '/collections/:collection_name', 200, 0.002)
    m.observe('GET', '/collections/:collection_name', 200, 0.004)
    m.observe('GET', 'unmatched', 404, 0.0001)
    const text = await m.render()
    const labels = 'method="GET",route="/collections/:collection_name",status="200"'
    expect(sample(text, 'quiver_http_requests_total', labels)).toBe(2)
    expect(sample(text, 'quiver_http_request_duration_seconds_bucket', `le="0.0025",${labels}`)).toBe(1)
    expect(sample(text, 'quiver_http_request_duration_seconds_bucket', `le="0.005",${labels}`)).toBe(2)
    expect(sample(text, 'quiver_http_request_duration_seconds_sum', labels)).toBeCloseTo(0.006)
    expect(sample(text, 'quiver_http_requests_total', 'method="GET",route="unmatched",status="404"')).toBe(1)
    expect(
      sample(
        text,
        'rest_responses_total',
        'method="GET",endpoint="/collections/{collection_name}",status="200"',
      ),
    ).toBe(2)
  })
})

describe('RequestStats', () => {
  it('keeps count, min, max and total over all requests and the mean of the latest 128', () => {
    const s = new RequestStats()
    const n = RECENT_WINDOW + 2
    for (let i = 1; i <= n; i++) s.record('POST', '/x', 200, i, 1000 + i)
    s.record('POST', '/x', 500, 0.5, 5000)
    const all = [...s.entries()]
    expect(all.map(([e, status]) => [e, status])).toEqual([
      ['POST /x', 200],
      ['POST /x', 500],
    ])
    const [, , ok] = all[0] ?? []
    expect(ok).toMatchObject({ count: n, minSeconds: 1, maxSeconds: n, totalSeconds: (n * (n + 1)) / 2 })
    // latest 128 are 3..130
    expect(ok?.avgSeconds).toBe((3 + n) / 2)
    expect(ok?.lastResponded).toBe(1000 + n)
  })
})

describe('qdrantEndpoint', () => {
  it("writes Fastify's route parameters in Qdrant's OpenAPI form", () => {
    expect(qdrantEndpoint('/collections/:collection_name/points/:id')).toBe(
      '/collections/{collection_name}/points/{id}',
    )
    expect(qdrantEndpoint('unmatched')).toBe('unmatched')
  })
})
