// Scroll in the order of a payload field (Qdrant's `order_by`): option checking, the per-segment walk
// over a range-capable payload index, and the merge of the segments' pages.
import { describeValue, invalid, QuiverError } from '../errors.js'
import { type Bitset, parseDateTime } from '../filter/index.js'
import { orderIndexOf } from '../filter/payload-index/index.js'
import { comparePointIds } from '../point-id.js'
import type { Segment } from '../segment/segment.js'
import type { OrderBy, PointId } from '../types.js'

export interface ResolvedOrderBy {
  readonly key: string
  readonly descending: boolean
  /** Inclusive bound (datetimes as epoch microseconds); null = from the first value. */
  readonly from: number | null
}

/** One entry of an ordered page: a point and one of its values of the order-by field. */
export interface OrderedEntry {
  readonly value: number
  readonly id: PointId
  readonly segment: Segment
}

/** Checks `orderBy` (a key, or `{ key, direction?, startFrom? }`); throws INVALID_ARGUMENT naming `where`. */
export function resolveOrderBy(orderBy: OrderBy | string, where: string): ResolvedOrderBy {
  const o: OrderBy = typeof orderBy === 'string' ? { key: orderBy } : orderBy
  if (typeof o !== 'object' || o === null || Array.isArray(o))
    throw invalid(`${where} must be a field key or { key, direction?, startFrom? }, got ${describeValue(o)}`)
  if (typeof o.key !== 'string' || o.key.length === 0)
    throw invalid(`${where}.key must be a non-empty string, got ${describeValue(o.key)}`)
  const direction = o.direction ?? 'asc'
  if (direction !== 'asc' && direction !== 'desc')
    throw invalid(`${where}.direction must be "asc" or "desc", got ${describeValue(direction)}`)
  const start = o.startFrom ?? null
  let from: number | null = null
  if (typeof start === 'number') {
    if (!Number.isFinite(start))
      throw invalid(`${where}.startFrom must be finite, got ${describeValue(start)}`)
    from = start === 0 ? 0 : start
  } else if (typeof start === 'string') {
    from = parseDateTime(start)
    if (from === null || Number.isNaN(from))
      throw invalid(
        `${where}.startFrom must be a number or an RFC 3339 datetime, got ${describeValue(start)}`,
      )
  } else if (start !== null) {
    throw invalid(`${where}.startFrom must be a number or an RFC 3339 datetime, got ${describeValue(start)}`)
  }
  return { key: o.key, descending: direction === 'desc', from }
}

function compareEntries(a: OrderedEntry, b: OrderedEntry): number {
  return a.value < b.value ? -1 : a.value > b.value ? 1 : comparePointIds(a.id, b.id)
}

/**
 * The first `limit` entries in the order of `order.key` over all `segments`: each point once per
 * distinct value it holds (points without one are absent), only offsets in `matches(segment)` (all
 * live ones when it gives null), ties by id in the direction of the order (Qdrant orders by the
 * pair (value, id)). Throws INVALID_ARGUMENT when a segment has no range-capable index on the key,
 * as Qdrant does (`MissingRangeIndexForOrderBy`).
 */
export function orderedPage(
  segments: readonly Segment[],
  order: ResolvedOrderBy,
  limit: number,
  collection: string,
  matches: (segment: Segment) => Bitset | null,
): OrderedEntry[] {
  const indexes = segments.map((segment) => {
    const index = orderIndexOf(segment.payloadIndexes.get(order.key))
    if (index === undefined) throw missingOrderIndex(order.key, collection)
    return index
  })
  const entries: OrderedEntry[] = []
  segments.forEach((segment, i) => {
    const allowed = matches(segment)
    let taken = 0
    let last = Number.NaN
    // past `limit`, keep the run of the last value: its ties are ordered by id, not by offset
    indexes[i]!.walk(order.descending, order.from, (value, offset) => {
      if (taken >= limit && value !== last) return false
      if (allowed !== null && !allowed.has(offset)) return true
      entries.push({ value, id: segment.idAt(offset), segment })
      taken++
      last = value
      return true
    })
  })
  entries.sort(order.descending ? (a, b) => compareEntries(b, a) : compareEntries)
  return entries.slice(0, limit)
}

/** Qdrant's answer without a range index (400), naming the index to create. */
export function missingOrderIndex(key: string, collection: string): QuiverError {
  return new QuiverError(
    'INDEX_REQUIRED',
    `No range index for \`order_by\` key: \`${key}\`. Please create one to use \`order_by\`: PUT /collections/${collection}/index with { "field_name": ${JSON.stringify(key)}, "field_schema": "float" } (or "datetime", or { "type": "integer", "range": true })`,
    { key },
  )
}
