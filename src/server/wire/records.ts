// Qdrant's response records on the wire: the envelope, `UpdateResult`, `Record`, `ScoredPoint`, scroll pages,
// float32 values printed shortest, and the payload selection applied to returned payloads.
import { QuiverError } from '../../errors.js'
import type {
  Payload,
  PointId,
  PointRecord,
  ScoredPoint,
  ScrollResult,
  UpdateResult,
  VectorOutput,
} from '../../types.js'

/** Qdrant's success envelope. `time`: seconds spent on the request. */
export interface WireOk<T> {
  result: T
  status: 'ok'
  time: number
}

/** Qdrant's `UpdateResult`: `acknowledged` (durable, applied after: wait=false), `completed` (visible) or `wait_timeout`. */
export interface WireUpdateResult {
  operation_id: number
  status: 'acknowledged' | 'completed' | 'wait_timeout'
}

/** Qdrant's `Record`. `payload` / `vector` are absent when not requested. */
export interface WireRecord {
  id: PointId
  payload?: Payload
  vector?: VectorOutput
  /** With `order_by`: the value of the order-by field this entry is at (datetimes as epoch microseconds). */
  order_value?: number
}

/** Qdrant's `ScoredPoint`. `version`: the WAL seq of the point's last write. */
export interface WireScoredPoint extends WireRecord {
  score: number
  version: number
}

export interface WireScrollResult {
  points: WireRecord[]
  next_page_offset: PointId | null
}

/** Wraps a result in Qdrant's envelope. `seconds`: time spent on the request. */
export function okEnvelope<T>(result: T, seconds: number): WireOk<T> {
  return { result, status: 'ok', time: seconds }
}

export function toWireUpdateResult(r: UpdateResult): WireUpdateResult {
  return { operation_id: r.operationId, status: r.status }
}

/**
 * The shortest decimal that reads back as the same float32 as `x`, as Qdrant prints its f32 scores
 * and vector components (0.05, not 0.05000000074505806). More digits never break a round trip, so
 * the digit count is binary-searched over 1..9 (9 always round-trips a float32).
 */
export function shortestFloat32(x: number): number {
  const f = Math.fround(x)
  if (!Number.isFinite(f) || f === 0) return f
  let lo = 1
  let hi = 9
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (Math.fround(Number(f.toPrecision(mid))) === f) hi = mid
    else lo = mid + 1
  }
  return Number(f.toPrecision(lo))
}

function wireVectorValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'number' ? shortestFloat32(x) : wireVectorValue(x)))
  if (typeof v === 'object' && v !== null && 'values' in v) {
    const sv = v as { indices: number[]; values: number[] }
    return { indices: sv.indices, values: sv.values.map(shortestFloat32) }
  }
  return v
}

/** A point's vectors as Qdrant prints them: every component as its shortest float32 decimal. */
export function toWireVector(v: VectorOutput): VectorOutput {
  if (Array.isArray(v)) return wireVectorValue(v) as VectorOutput
  // own properties from entries: vector names are user strings
  return Object.fromEntries(Object.entries(v).map(([name, x]) => [name, wireVectorValue(x)])) as VectorOutput
}

/** Engine record -> Qdrant `Record`. A requested payload is `{}` when the point has none (as Qdrant). */
export function toWireRecord(p: PointRecord): WireRecord {
  const out: WireRecord = { id: p.id }
  if (p.payload !== undefined) out.payload = p.payload
  if (p.vector !== undefined) out.vector = toWireVector(p.vector)
  if (p.orderValue !== undefined) out.order_value = p.orderValue
  return out
}

/**
 * Engine hit -> Qdrant `ScoredPoint`. Throws INTERNAL for a non-finite score, which JSON would
 * write as `null`: accepted vectors always score finitely (MAX_SQUARED_NORM), so one is a bug.
 */
export function toWireScoredPoint(p: ScoredPoint): WireScoredPoint {
  if (!Number.isFinite(p.score))
    throw new QuiverError(
      'INTERNAL',
      `point ${JSON.stringify(p.id)} scored ${p.score}: scores must be finite`,
    )
  // f32 as Qdrant: a score from the graph and the same score from a rescoring stage print alike
  const out: WireScoredPoint = { id: p.id, version: p.version ?? 0, score: shortestFloat32(p.score) }
  if (p.payload !== undefined) out.payload = p.payload
  if (p.vector !== undefined) out.vector = toWireVector(p.vector)
  if (p.orderValue !== undefined) out.order_value = p.orderValue
  return out
}

export function toWireScrollResult(r: ScrollResult): WireScrollResult {
  return { points: r.points.map((p) => toWireRecord(p)), next_page_offset: r.nextPageOffset }
}
