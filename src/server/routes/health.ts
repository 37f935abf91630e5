// `GET /health`: Quiver's search-quality health (issue 16 section 1), beyond the probes of
// service.ts. Always 200 while the server runs: `status` is `ok`, or `warning` with one entry per
// live recall estimate below `minRecall` (with at least MIN_RECALL_SAMPLES samples) and per
// collection whose search p99 exceeds `maxP99Ms` (over at least MIN_LATENCY_SAMPLES searches).
import type { FastifyInstance } from 'fastify'
import type { Collection, RecallEstimate } from '../../types.js'
import type { ServerDatabase } from '../database.js'

/** Thresholds of `GET /health` (the seeds' `check_health` defaults). */
export interface HealthThresholds {
  /** Warn when a recall estimate is below this, 0..1. Default 0.9. */
  minRecall: number
  /** Warn when a collection's search p99 exceeds this, milliseconds. Default 100. */
  maxP99Ms: number
}

export const DEFAULT_HEALTH: HealthThresholds = { minRecall: 0.9, maxP99Ms: 100 }
/** Samples a recall estimate needs before it can warn (fewer are too noisy). */
export const MIN_RECALL_SAMPLES = 20
/** Searches a collection's p99 needs before it can warn. */
export const MIN_LATENCY_SAMPLES = 100

/** One reason `GET /health` says `warning`. */
export interface HealthWarning {
  collection: string
  check: 'recall' | 'latency'
  /** The estimate (recall) or p99 in milliseconds (latency). */
  value: number
  threshold: number
  message: string
  vector?: string
  class?: 'unfiltered' | 'filtered'
  selectivity?: string
  quantized?: boolean
}

export function registerHealthRoutes(
  app: FastifyInstance,
  db: ServerDatabase,
  thresholds: HealthThresholds = DEFAULT_HEALTH,
): void {
  app.get('/health', async () => {
    const warnings: HealthWarning[] = []
    if (db.readiness?.().ready !== false) {
      const unavailable = db.unavailableCollections?.() ?? new Map()
      for (const name of db.listCollections()) {
        if (unavailable.has(name)) continue
        // a collection dropped (or the database closing) meanwhile is left out, not an error
        const c = await db.getCollection(name).catch(() => undefined)
        if (c === undefined) continue
        let estimates: RecallEstimate[]
        let latency: ReturnType<NonNullable<Collection['searchLatency']>>
        try {
          estimates = c.recallEstimates?.() ?? []
          latency = c.searchLatency?.()
        } catch {
          continue
        }
        for (const e of estimates) {
          if (e.window < MIN_RECALL_SAMPLES || e.estimate >= thresholds.minRecall) continue
          const where = `${e.vector === '' ? 'the unnamed vector' : `vector "${e.vector}"`}, ${e.class}${e.selectivity === undefined ? '' : ` (${e.selectivity})`}${e.quantized ? ', quantized' : ''}`
          warnings.push({
            collection: name,
            check: 'recall',
            value: e.estimate,
            threshold: thresholds.minRecall,
            vector: e.vector,
            class: e.class,
            ...(e.selectivity === undefined ? {} : { selectivity: e.selectivity }),
            quantized: e.quantized,
            message: `collection ${name}: recall@k estimate ${e.estimate.toFixed(3)} (95% interval ${e.lower.toFixed(3)}-${e.upper.toFixed(3)}, ${e.window} samples) for ${where} is below ${thresholds.minRecall}; raise hnsw_ef / nprobe or oversampling for these searches`,
          })
        }
        if (
          latency !== undefined &&
          latency.count >= MIN_LATENCY_SAMPLES &&
          latency.p99 > thresholds.maxP99Ms
        )
          warnings.push({
            collection: name,
            check: 'latency',
            value: latency.p99,
            threshold: thresholds.maxP99Ms,
            message: `collection ${name}: search p99 ${latency.p99.toFixed(1)} ms over the latest ${latency.count} searches exceeds ${thresholds.maxP99Ms} ms`,
          })
      }
    }
    return {
      status: warnings.length === 0 ? 'ok' : 'warning',
      thresholds: { min_recall: thresholds.minRecall, max_p99_ms: thresholds.maxP99Ms },
      warnings,
    }
  })
}
