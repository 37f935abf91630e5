// `GET /collections/{name}/optimizations` (Qdrant's OptimizationsResponse): query parsing and the
// engine report in snake_case.
import { QuiverError } from '../../errors.js'
import type {
  Optimization,
  OptimizationSegment,
  OptimizationsOptions,
  OptimizationsReport,
} from '../../types.js'

const WITH = ['queued', 'completed', 'idle_segments']

/**
 * `with` (comma-separated `queued`, `completed`, `idle_segments`) and `completed_limit` (integer
 * >= 0, default 16, only with `completed`). Throws INVALID_ARGUMENT naming the parameter.
 */
export function parseOptimizationsQuery(query: unknown): OptimizationsOptions {
  const q = (typeof query === 'object' && query !== null ? query : {}) as Record<string, unknown>
  const parts = new Set<string>()
  if (q.with !== undefined) {
    if (typeof q.with !== 'string') throw badParam('with', 'a comma-separated list', q.with)
    for (const p of q.with.split(',')) {
      const part = p.trim()
      if (part === '') continue
      if (!WITH.includes(part)) throw badParam('with', `a list of ${WITH.join(', ')}`, part)
      parts.add(part)
    }
  }
  let limit = 16
  if (q.completed_limit !== undefined) {
    if (typeof q.completed_limit !== 'string' || !/^\d{1,9}$/.test(q.completed_limit))
      throw badParam('completed_limit', 'an integer >= 0', q.completed_limit)
    limit = Number(q.completed_limit)
  }
  return {
    queued: parts.has('queued'),
    completedLimit: parts.has('completed') ? limit : 0,
    idleSegments: parts.has('idle_segments'),
  }
}

function badParam(name: string, expected: string, got: unknown): QuiverError {
  return new QuiverError(
    'INVALID_ARGUMENT',
    `query.${name}: expected ${expected}, got ${JSON.stringify(got)}`,
    {
      path: `query.${name}`,
    },
  )
}

interface WireSegment {
  uuid: string
  points_count: number
}

export interface WireOptimization {
  uuid: string
  optimizer: string
  status: Optimization['status']
  segments: WireSegment[]
  progress: {
    name: string
    started_at: string
    finished_at?: string
    duration_sec?: number
    total: number
  }
}

/** Qdrant's `OptimizationsResponse`; `queued`, `completed`, `idle_segments` only when asked for. */
export interface WireOptimizationsResponse {
  summary: {
    queued_optimizations: number
    queued_segments: number
    queued_points: number
    idle_segments: number
  }
  running: WireOptimization[]
  queued?: { optimizer: string; segments: WireSegment[] }[]
  completed?: WireOptimization[]
  idle_segments?: WireSegment[]
}

const segment = (s: OptimizationSegment): WireSegment => ({ uuid: s.uuid, points_count: s.pointsCount })

function optimization(o: Optimization): WireOptimization {
  const p = o.progress
  return {
    uuid: o.uuid,
    optimizer: o.optimizer,
    status: o.status,
    segments: o.segments.map(segment),
    progress: {
      name: p.name,
      started_at: p.startedAt,
      ...(p.finishedAt === undefined ? {} : { finished_at: p.finishedAt }),
      ...(p.durationSec === undefined ? {} : { duration_sec: p.durationSec }),
      total: p.total,
    },
  }
}

export function toWireOptimizations(r: OptimizationsReport): WireOptimizationsResponse {
  const out: WireOptimizationsResponse = {
    summary: {
      queued_optimizations: r.summary.queuedOptimizations,
      queued_segments: r.summary.queuedSegments,
      queued_points: r.summary.queuedPoints,
      idle_segments: r.summary.idleSegments,
    },
    running: r.running.map(optimization),
  }
  if (r.queued !== undefined)
    out.queued = r.queued.map((q) => ({ optimizer: q.optimizer, segments: q.segments.map(segment) }))
  if (r.completed !== undefined) out.completed = r.completed.map(optimization)
  if (r.idleSegments !== undefined) out.idle_segments = r.idleSegments.map(segment)
  return out
}
