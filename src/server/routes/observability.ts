// Observability endpoints: `GET /metrics` (Prometheus text) and `GET /telemetry` (Qdrant's
// `TelemetryData` subset), plus the hooks that time every request and echo its id.
import { createHash, randomUUID } from 'node:crypto'
import { existsSync } from 'node:fs'
import { availableParallelism, endianness, release, totalmem, type } from 'node:os'
import type { FastifyInstance } from 'fastify'
import { invalid } from '../../errors.js'
import type { ServerDatabase } from '../database.js'
import { registerRequestIdHeader, routeOf } from '../logging.js'
import { type CollectionSnapshot, qdrantEndpoint, ServerMetrics } from '../metrics.js'
import { sendOk } from '../reply.js'
import { toWireCollectionInfo, type WireCollectionInfo } from '../wire/collections.js'
import { QDRANT_API_VERSION, quiverVersion } from './service.js'

/** WAL segment size the server opens collections with (collection.ts DEFAULT_WAL_SEGMENT_BYTES), MiB. */
const WAL_SEGMENT_MB = 8

/** Qdrant's `OperationDurationStatistics`. */
export interface WireOperationStats {
  count: number
  avg_duration_micros: number
  min_duration_micros: number
  max_duration_micros: number
  total_duration_micros: number
  last_responded: string
}

/** One collection at `details_level` >= 2: Qdrant's `CollectionTelemetry`, plus Quiver's `quiver` block. */
export interface WireCollectionTelemetry {
  id: string
  config?: WireCollectionInfo['config'] & {
    wal_config: { wal_capacity_mb: number; wal_segments_ahead: number }
  }
  /** Beyond Qdrant (clients ignore it): engine figures of `CollectionStats` in snake_case. */
  quiver: Record<string, unknown>
}

/** Qdrant's `CollectionsAggregatedTelemetry` (`details_level` 1). */
export interface WireCollectionAggregated {
  vectors: number
  optimizers_status: 'ok' | { error: string }
  params: WireCollectionInfo['config']['params']
}

/** The subset of Qdrant's `TelemetryData` Quiver fills. */
export interface WireTelemetry {
  id: string
  app: {
    name: string
    version: string
    startup: string
    features: {
      debug: boolean
      service_debug_feature: boolean
      recovery_mode: boolean
      gpu: boolean
      rocksdb: boolean
      staging: boolean
    }
    system?: {
      distribution: string
      distribution_version: string
      is_docker: boolean
      cores: number
      ram_size: number
      cpu_flags: string
      cpu_endian: 'little' | 'big'
    }
  }
  collections: {
    number_of_collections: number
    collections?: Array<WireCollectionTelemetry | WireCollectionAggregated>
  }
  /** Qdrant's `ClusterTelemetry` of a single node. */
  cluster: { enabled: false }
  requests: {
    rest: { responses: Record<string, Record<string, WireOperationStats>> }
    grpc: { responses: Record<string, never> }
  }
}

export interface TelemetryQuery {
  /** 0: counts only; 1: aggregated collections and system info; >= 2: per-collection details. */
  detailsLevel: number
  /** Replace collection names and field keys with hashes. */
  anonymize: boolean
}

function boolParam(v: unknown, name: string): boolean | undefined {
  if (v === undefined) return undefined
  if (v === 'true' || v === '') return true
  if (v === 'false') return false
  throw invalid(`query parameter ${name} must be true or false, got ${JSON.stringify(v)}`)
}

function intParam(v: unknown, name: string, min: number): number | undefined {
  if (v === undefined) return undefined
  if (typeof v === 'string' && /^\d{1,9}$/.test(v) && Number(v) >= min) return Number(v)
  throw invalid(`query parameter ${name} must be an integer >= ${min}, got ${JSON.stringify(v)}`)
}

/**
 * Parses `/telemetry`'s query: `details_level` (integer >= 0, default 0), `anonymize` (bool),
 * `per_collection` (bool, accepted; Quiver's request stats are not split by collection) and
 * `timeout` (integer >= 1 seconds, accepted). Throws INVALID_ARGUMENT naming the parameter.
 */
export function parseTelemetryQuery(query: unknown): TelemetryQuery {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>
  boolParam(q.per_collection, 'per_collection')
  intParam(q.timeout, 'timeout', 1)
  return {
    detailsLevel: intParam(q.details_level, 'details_level', 0) ?? 0,
    anonymize: boolParam(q.anonymize, 'anonymize') ?? false,
  }
}

function anonymizeName(name: string): string {
  return createHash('sha256').update(name).digest('hex').slice(0, 16)
}

function micros(seconds: number): number {
  return Math.round(seconds * 1e9) / 1e3
}

function fullCollection(c: CollectionSnapshot, hide: (s: string) => string): WireCollectionTelemetry {
  if (c.info === undefined) return { id: hide(c.name), quiver: { available: false } }
  const wire = toWireCollectionInfo(c.info)
  const quiver: Record<string, unknown> = {
    available: true,
    status: c.info.status,
    optimizer_status: c.info.optimizerStatus,
    points_count: c.info.pointsCount,
    segments_count: c.info.segmentsCount,
    unindexed_filter_fields: Object.fromEntries(
      Object.entries(c.info.unindexedFilterFields).map(([field, n]) => [hide(field), n]),
    ),
  }
  if (c.stats !== undefined) {
    const s = c.stats
    Object.assign(quiver, {
      stored_points_count: s.storedCount,
      memory_bytes: s.memoryBytes,
      disk_bytes: s.diskBytes,
      wal_bytes: s.walBytes,
      applied_seq: s.appliedSeq,
      persisted_seq: s.persistedSeq,
      optimizer: { running: s.optimizer.running, completed: { ...s.optimizer.completed } },
    })
  }
  return {
    id: hide(c.name),
    config: {
      ...wire.config,
      wal_config: { wal_capacity_mb: WAL_SEGMENT_MB, wal_segments_ahead: 0 },
    },
    quiver,
  }
}

export interface TelemetrySource {
  id: string
  startup: Date
  version: string
  metrics: ServerMetrics
}

/**
 * Builds Qdrant's `TelemetryData` for what Quiver knows: `id` (random per server start), `app`,
 * `collections` (by `details_level`, as Qdrant: 0 the count, 1 aggregated, >= 2 per collection),
 * `requests.rest.responses` keyed `METHOD /path/{param}` then status, durations in microseconds
 * (`avg` over the latest 128). `grpc.responses` is empty (no gRPC).
 */
export async function buildTelemetry(src: TelemetrySource, query: TelemetryQuery): Promise<WireTelemetry> {
  const hide = query.anonymize ? anonymizeName : (s: string) => s
  const all = await src.metrics.collections()
  const app: WireTelemetry['app'] = {
    name: 'quiver',
    version: src.version,
    startup: src.startup.toISOString(),
    features: {
      debug: false,
      service_debug_feature: false,
      recovery_mode: false,
      gpu: false,
      rocksdb: false,
      staging: false,
    },
  }
  if (query.detailsLevel >= 1) {
    app.system = {
      distribution: type(),
      distribution_version: release(),
      is_docker: existsSync('/.dockerenv'),
      cores: availableParallelism(),
      ram_size: Math.floor(totalmem() / 1024),
      cpu_flags: '',
      cpu_endian: endianness() === 'LE' ? 'little' : 'big',
    }
  }
  const collections: WireTelemetry['collections'] = { number_of_collections: all.length }
  if (query.detailsLevel >= 2) collections.collections = all.map((c) => fullCollection(c, hide))
  else if (query.detailsLevel === 1)
    collections.collections = all.flatMap((c): WireCollectionAggregated[] =>
      c.info === undefined
        ? []
        : [
            {
              vectors: c.info.pointsCount,
              optimizers_status: c.info.optimizerStatus,
              params: toWireCollectionInfo(c.info).config.params,
            },
          ],
    )
  const byEndpoint = new Map<string, Map<string, WireOperationStats>>()
  for (const [endpoint, status, s] of src.metrics.requests.entries()) {
    const space = endpoint.indexOf(' ')
    const key = `${endpoint.slice(0, space)} ${qdrantEndpoint(endpoint.slice(space + 1))}`
    let byStatus = byEndpoint.get(key)
    if (byStatus === undefined) {
      byStatus = new Map()
      byEndpoint.set(key, byStatus)
    }
    byStatus.set(String(status), {
      count: s.count,
      avg_duration_micros: micros(s.avgSeconds),
      min_duration_micros: micros(s.minSeconds),
      max_duration_micros: micros(s.maxSeconds),
      total_duration_micros: Math.round(s.totalSeconds * 1e6),
      last_responded: new Date(s.lastResponded).toISOString(),
    })
  }
  const responses = Object.fromEntries([...byEndpoint].map(([k, v]) => [k, Object.fromEntries(v)]))
  return {
    id: src.id,
    app,
    collections,
    cluster: { enabled: false },
    requests: { rest: { responses }, grpc: { responses: {} } },
  }
}

/**
 * Times every request into `ServerMetrics`, echoes its id in `x-request-id`, and serves
 * `GET /metrics` (Prometheus text, `text/plain; version=0.0.4`) and `GET /telemetry`
 * (`{ result: TelemetryData, status: 'ok', time }`). Returns the metrics registry holder.
 */
export function registerObservability(app: FastifyInstance, db: ServerDatabase): ServerMetrics {
  const version = quiverVersion()
  const metrics = new ServerMetrics(db, { version, apiVersion: QDRANT_API_VERSION })
  const source: TelemetrySource = { id: randomUUID(), startup: new Date(), version, metrics }
  registerRequestIdHeader(app)
  app.addHook('onResponse', async (request, reply) => {
    metrics.observe(request.method, routeOf(request), reply.statusCode, reply.elapsedTime / 1000)
  })
  app.get('/metrics', async (_request, reply) => {
    const text = await metrics.render()
    return reply.type(metrics.contentType).send(text)
  })
  app.get('/telemetry', async (request, reply) => {
    const query = parseTelemetryQuery(request.query)
    return sendOk(reply, await buildTelemetry(source, query))
  })
  return metrics
}
