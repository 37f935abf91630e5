// Prometheus metrics of the server (prom-client, one registry per app): request counters and latency
// histograms per route pattern, per-collection gauges read from the engine at scrape time.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'
import { QuiverError } from '../errors.js'
import type { Collection, CollectionInfo, CollectionStats, RecallEstimate } from '../types.js'
import type { ServerDatabase } from './database.js'

/** Upper bounds (seconds) of `quiver_http_request_duration_seconds`: 0.5 ms .. 10 s. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]

/** How many latest durations `avg` covers in `OperationStats` (Qdrant's window: 128). */
export const RECENT_WINDOW = 128

/** What the metrics and telemetry read of one collection at one moment. */
export interface CollectionSnapshot {
  name: string
  /** false: the collection failed its checks at open (every access throws CORRUPTED). */
  available: boolean
  info?: CollectionInfo
  /** Absent when the collection backend has no `stats()` (only the embedded one has). */
  stats?: CollectionStats
}

type WithStats = Collection & { stats(): CollectionStats }

function hasStats(c: Collection): c is WithStats {
  return typeof (c as { stats?: unknown }).stats === 'function'
}

/**
 * Reads `info()` (and `stats()` where the backend has it) of every collection, sorted by name.
 * A collection listed by `unavailableCollections()` or whose `getCollection` / `info` throws
 * (other than COLLECTION_NOT_FOUND / CLOSED from a concurrent drop, which is skipped) is reported
 * with `available: false`.
 */
export async function snapshotCollections(db: ServerDatabase): Promise<CollectionSnapshot[]> {
  const unavailable = db.unavailableCollections?.()
  const out: CollectionSnapshot[] = []
  for (const name of db.listCollections()) {
    if (unavailable?.has(name)) {
      out.push({ name, available: false })
      continue
    }
    try {
      const c = await db.getCollection(name)
      const snap: CollectionSnapshot = { name, available: true, info: await c.info() }
      if (hasStats(c)) snap.stats = c.stats()
      out.push(snap)
    } catch (err) {
      if (err instanceof QuiverError && (err.code === 'COLLECTION_NOT_FOUND' || err.code === 'CLOSED'))
        continue
      out.push({ name, available: false })
    }
  }
  return out
}

/** Durations of one (endpoint, status) pair since the server started. Seconds. */
export interface OperationStats {
  count: number
  totalSeconds: number
  minSeconds: number
  maxSeconds: number
  /** Mean of the latest `RECENT_WINDOW` durations. */
  avgSeconds: number
  /** When the last one completed (epoch ms). */
  lastResponded: number
}

interface Tracker extends OperationStats {
  recent: Float64Array
  recentCount: number
}

/** Per endpoint (`METHOD /route/pattern`) and status: counts and durations, for `/telemetry`. */
export class RequestStats {
  private readonly byEndpoint = new Map<string, Map<number, Tracker>>()

  record(method: string, route: string, status: number, seconds: number, now = Date.now()): void {
    const key = `${method} ${route}`
    let byStatus = this.byEndpoint.get(key)
    if (byStatus === undefined) {
      byStatus = new Map()
      this.byEndpoint.set(key, byStatus)
    }
    let t = byStatus.get(status)
    if (t === undefined) {
      t = {
        count: 0,
        totalSeconds: 0,
        minSeconds: Number.POSITIVE_INFINITY,
        maxSeconds: 0,
        avgSeconds: 0,
        lastResponded: now,
        recent: new Float64Array(RECENT_WINDOW),
        recentCount: 0,
      }
      byStatus.set(status, t)
    }
    t.recent[t.count % RECENT_WINDOW] = seconds
    t.count++
    t.recentCount = Math.min(t.count, RECENT_WINDOW)
    t.totalSeconds += seconds
    t.minSeconds = Math.min(t.minSeconds, seconds)
    t.maxSeconds = Math.max(t.maxSeconds, seconds)
    t.lastResponded = now
  }

  /** `[endpoint, status, stats]` for every pair seen; endpoint is `METHOD /route/pattern`. */
  *entries(): Generator<[string, number, OperationStats]> {
    for (const [endpoint, byStatus] of this.byEndpoint) {
      for (const [status, t] of byStatus) {
        let sum = 0
        for (let i = 0; i < t.recentCount; i++) sum += t.recent[i] ?? 0
        yield [
          endpoint,
          status,
          {
            count: t.count,
            totalSeconds: t.totalSeconds,
            minSeconds: t.minSeconds,
            maxSeconds: t.maxSeconds,
            avgSeconds: sum / t.recentCount,
            lastResponded: t.lastResponded,
          },
        ]
      }
    }
  }
}

/** Fastify's `/a/:b` route pattern in Qdrant's OpenAPI form `/a/{b}`. */
export function qdrantEndpoint(route: string): string {
  return route.replace(/:([A-Za-z0-9_]+)/g, '{$1}')
}

export interface ServerMetricsOptions {
  /** Quiver's version, for `quiver_info` / `app_info`. */
  version: string
  /** Qdrant REST API version the server speaks, for `quiver_info`. */
  apiVersion: string
  /** prom-client's process metrics (memory, CPU, event loop lag, GC, handles). Default true. */
  defaultMetrics?: boolean
}

const STATUSES = ['green', 'yellow', 'red'] as const

/**
 * The server's metrics registry. Request metrics are recorded by `observe`; collection metrics
 * are read from the database when scraped (one snapshot shared by all gauges of one scrape).
 * @example
 * const metrics = new ServerMetrics(db, { version: '0.1.0', apiVersion: '1.18.0' })
 * metrics.observe('GET', '/collections', 200, 0.0012)
 * const text = await metrics.render()
 */
export class ServerMetrics {
  readonly registry = new Registry()
  readonly requests = new RequestStats()
  private readonly requestsTotal: Counter<'method' | 'route' | 'status'>
  private readonly duration: Histogram<'method' | 'route' | 'status'>
  private pending: Promise<CollectionSnapshot[]> | undefined

  constructor(
    private readonly db: ServerDatabase,
    options: ServerMetricsOptions,
  ) {
    const registers = [this.registry]
    if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: this.registry })
    this.requestsTotal = new Counter({
      name: 'quiver_http_requests_total',
      help: 'HTTP requests completed, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      registers,
    })
    this.duration = new Histogram({
      name: 'quiver_http_request_duration_seconds',
      help: 'Time from receiving a request to sending its response, by method, route pattern and status code',
      labelNames: ['method', 'route', 'status'],
      buckets: [...LATENCY_BUCKETS_SECONDS],
      registers,
    })
    new Gauge({
      name: 'quiver_info',
      help: 'Quiver server version and the Qdrant REST API version it speaks (always 1)',
      labelNames: ['version', 'api_version'],
      registers,
    }).set({ version: options.version, api_version: options.apiVersion }, 1)
    new Gauge({
      name: 'app_info',
      help: 'Qdrant-compatible: server name and version (always 1)',
      labelNames: ['name', 'version'],
      registers,
    }).set({ name: 'quiver', version: options.version }, 1)

    const snapshot = (): Promise<CollectionSnapshot[]> => this.collections()
    const scalar = (name: string, help: string, value: (all: CollectionSnapshot[]) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        async collect() {
          this.set(value(await snapshot()))
        },
      })
    }
    scalar(
      'quiver_collections',
      'Collections in the database, unavailable ones included',
      (all) => all.length,
    )
    scalar('collections_total', 'Qdrant-compatible: number of collections', (all) => all.length)
    scalar(
      'collections_vector_total',
      'Qdrant-compatible: vectors in all collections (one per point)',
      (all) => all.reduce((n, c) => n + (c.info?.pointsCount ?? 0), 0),
    )

    const perCollection = (
      name: string,
      help: string,
      value: (c: CollectionSnapshot) => number | undefined,
      label = 'collection',
    ): void => {
      new Gauge({
        name,
        help,
        labelNames: [label],
        registers,
        async collect() {
          const all = await snapshot()
          this.reset()
          for (const c of all) {
            const v = value(c)
            if (v !== undefined) this.set({ [label]: c.name }, v)
          }
        },
      })
    }
    perCollection(
      'quiver_collection_available',
      '1 if the collection serves requests, 0 if it failed its checks at open (drop it or recover it from a snapshot)',
      (c) => (c.available ? 1 : 0),
    )
    perCollection('quiver_collection_points', 'Live points', (c) => c.info?.pointsCount)
    perCollection(
      'quiver_collection_stored_points',
      'Stored points including deleted ones still held by segments (vacuum reclaims them)',
      (c) => c.stats?.storedCount,
    )
    perCollection('quiver_collection_segments', 'Segments', (c) => c.info?.segmentsCount)
    perCollection(
      'quiver_collection_memory_bytes',
      'Memory of the segments: WebAssembly index memory (vectors + graph) plus payload estimates',
      (c) => c.stats?.memoryBytes,
    )
    perCollection(
      'quiver_collection_on_disk_vector_bytes',
      'Float32 vectors held in vector files on disk rather than in memory (on_disk)',
      (c) => c.stats?.onDiskVectorBytes,
    )
    perCollection(
      'quiver_collection_disk_bytes',
      'Disk used: persisted segment files plus WAL files',
      (c) => c.stats?.diskBytes,
    )
    perCollection('quiver_collection_wal_bytes', 'Write-ahead log files', (c) => c.stats?.walBytes)
    perCollection(
      'quiver_collection_applied_seq',
      'Highest WAL sequence number applied',
      (c) => c.stats?.appliedSeq,
    )
    perCollection(
      'quiver_collection_persisted_seq',
      'Highest WAL sequence number persisted into segments',
      (c) => c.stats?.persistedSeq,
    )
    perCollection('quiver_collection_optimizer_running', '1 while an optimization runs', (c) =>
      c.stats === undefined ? undefined : c.stats.optimizer.running ? 1 : 0,
    )
    perCollection(
      'quiver_collection_optimizer_ok',
      '1 if the optimizer status is ok, 0 if the last optimization failed',
      (c) => (c.info === undefined ? undefined : c.info.optimizerStatus === 'ok' ? 1 : 0),
    )
    perCollection(
      'collection_points',
      'Qdrant-compatible: points per collection',
      (c) => c.info?.pointsCount,
      'id',
    )
    perCollection(
      'collection_running_optimizations',
      'Qdrant-compatible: optimizations running per collection',
      (c) => (c.stats === undefined ? undefined : c.stats.optimizer.running ? 1 : 0),
      'id',
    )

    new Gauge({
      name: 'quiver_collection_status',
      help: 'Collection status as a one-hot gauge: 1 for the current status (green, yellow, red), 0 for the others',
      labelNames: ['collection', 'status'],
      registers,
      async collect() {
        const all = await snapshot()
        this.reset()
        for (const c of all) {
          if (c.info === undefined) continue
          for (const s of STATUSES) this.set({ collection: c.name, status: s }, c.info.status === s ? 1 : 0)
        }
      },
    })
    const cacheCounter = (name: string, help: string, value: (c: CollectionSnapshot) => number | undefined) =>
      new Counter({
        name,
        help,
        labelNames: ['collection'],
        registers,
        async collect() {
          const all = await snapshot()
          this.reset()
          for (const c of all) {
            const v = value(c)
            if (v !== undefined) this.inc({ collection: c.name }, v)
          }
        },
      })
    cacheCounter(
      'quiver_query_cache_hits_total',
      'Searches and queries answered from the query-result cache since the collection was opened',
      (c) => c.stats?.queryCache.hits,
    )
    cacheCounter(
      'quiver_query_cache_misses_total',
      'Cacheable searches and queries computed (not in the query-result cache) since the collection was opened',
      (c) => c.stats?.queryCache.misses,
    )
    const recallLabels = ['collection', 'vector', 'class', 'selectivity', 'quantized'] as const
    const recallSeries = (
      name: string,
      help: string,
      value: (e: RecallEstimate) => number,
      counter = false,
    ) => {
      const config = {
        name,
        help,
        labelNames: recallLabels,
        registers,
      }
      const each = async (
        set: (labels: Record<(typeof recallLabels)[number], string>, v: number) => void,
      ) => {
        for (const c of await snapshot())
          for (const e of c.info?.recallEstimates ?? [])
            set(
              {
                collection: c.name,
                vector: e.vector,
                class: e.class,
                selectivity: e.selectivity ?? '',
                quantized: String(e.quantized),
              },
              value(e),
            )
      }
      if (counter)
        new Counter({
          ...config,
          async collect() {
            this.reset()
            await each((l, v) => this.inc(l, v))
          },
        })
      else
        new Gauge({
          ...config,
          async collect() {
            this.reset()
            await each((l, v) => this.set(l, v))
          },
        })
    }
    recallSeries(
      'quiver_search_recall_estimate',
      'Live recall@k estimate: mean over the latest sampled searches re-run with exact search (docs/recall.md)',
      (e) => e.estimate,
    )
    recallSeries(
      'quiver_search_recall_estimate_lower',
      'Low end of the 95% interval of quiver_search_recall_estimate',
      (e) => e.lower,
    )
    recallSeries(
      'quiver_search_recall_estimate_upper',
      'High end of the 95% interval of quiver_search_recall_estimate',
      (e) => e.upper,
    )
    recallSeries(
      'quiver_search_recall_samples_total',
      'Searches re-run exactly for the recall estimate since the collection was opened',
      (e) => e.samples,
      true,
    )
    const database = this.db
    new Counter({
      name: 'quiver_query_cache_evictions_total',
      help: 'Query-result cache entries dropped to stay within its byte budget since the database opened',
      registers,
      collect() {
        const s = database.queryCacheStats?.()
        this.reset()
        if (s !== undefined) this.inc(s.evictions)
      },
    })
    new Gauge({
      name: 'quiver_query_cache_bytes',
      help: 'Estimated bytes of the results held by the query-result cache',
      registers,
      collect() {
        this.set(database.queryCacheStats?.()?.bytes ?? 0)
      },
    })
    new Gauge({
      name: 'quiver_query_cache_entries',
      help: 'Results held by the query-result cache',
      registers,
      collect() {
        this.set(database.queryCacheStats?.()?.entries ?? 0)
      },
    })
    new Counter({
      name: 'quiver_collection_optimizations_completed_total',
      help: 'Optimizations completed since the collection was opened, by kind (reconfigure, vacuum, merge)',
      labelNames: ['collection', 'kind'],
      registers,
      async collect() {
        const all = await snapshot()
        this.reset()
        for (const c of all) {
          if (c.stats === undefined) continue
          this.inc({ collection: c.name, kind: 'reconfigure' }, c.stats.optimizer.completed.reconfigure)
          this.inc({ collection: c.name, kind: 'vacuum' }, c.stats.optimizer.completed.vacuum)
          this.inc({ collection: c.name, kind: 'merge' }, c.stats.optimizer.completed.merge)
        }
      },
    })
    new Counter({
      name: 'quiver_unindexed_filter_requests_total',
      help: 'Filtered requests since open that evaluated a condition on this field without an index (an index on it would help)',
      labelNames: ['collection', 'field'],
      registers,
      async collect() {
        const all = await snapshot()
        this.reset()
        for (const c of all) {
          for (const [field, n] of Object.entries(c.info?.unindexedFilterFields ?? {}))
            this.inc({ collection: c.name, field }, n)
        }
      },
    })
    const requests = this.requests
    new Counter({
      name: 'rest_responses_total',
      help: 'Qdrant-compatible: REST responses by method, endpoint (Qdrant path form) and status',
      labelNames: ['method', 'endpoint', 'status'],
      registers,
      collect() {
        this.reset()
        for (const [key, status, s] of requests.entries()) {
          const space = key.indexOf(' ')
          const endpoint = qdrantEndpoint(key.slice(space + 1))
          this.inc({ method: key.slice(0, space), endpoint, status: String(status) }, s.count)
        }
      },
    })
  }

  /** Records one completed request. `route`: the route pattern or `unmatched`; `seconds`: its duration. */
  observe(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) }
    this.requestsTotal.inc(labels)
    this.duration.observe(labels, seconds)
    this.requests.record(method, route, status, seconds)
  }

  /** Snapshot of every collection; concurrent callers (the gauges of one scrape) share one read. */
  collections(): Promise<CollectionSnapshot[]> {
    if (this.pending !== undefined) return this.pending
    const p = snapshotCollections(this.db)
    this.pending = p
    const clear = (): void => {
      if (this.pending === p) this.pending = undefined
    }
    p.then(clear, clear)
    return p
  }

  /** Prometheus text exposition format (version 0.0.4) of every metric. */
  render(): Promise<string> {
    return this.registry.metrics()
  }

  /** `Content-Type` of `render()`'s text. */
  get contentType(): string {
    return this.registry.contentType
  }
}
