// Facet counts (Qdrant's `facet`): per distinct value of an indexed field, the matching points that
// hold it, summed over segments, ordered by count then value.
import { QuiverError } from '../errors.js'
import type { Bitset } from '../filter/index.js'
import { facetIndexOf } from '../filter/payload-index/index.js'
import type { Segment } from '../segment/segment.js'
import type { FacetHit, FacetValue } from '../types.js'

/** Qdrant's FacetValue order (keyword < integer < bool), then the values; strings by code unit. */
export function compareFacetValues(a: FacetValue, b: FacetValue): number {
  const ta = typeof a
  const tb = typeof b
  if (ta !== tb) return RANK[ta]! - RANK[tb]!
  return a < b ? -1 : a > b ? 1 : 0
}
const RANK: Readonly<Record<string, number>> = { string: 0, number: 1, boolean: 2 }

/**
 * The `limit` values of `key` held by the most points among `matches(segment)` (all live points
 * when null), by count descending then value ascending (Qdrant's `FacetHit` order). Counts are
 * exact: every live point is in exactly one segment. Throws INDEX_REQUIRED when a segment has no
 * facet index on the key (Qdrant's `MissingMapIndexForFacet`).
 */
export function facetCounts(
  segments: readonly Segment[],
  key: string,
  limit: number,
  collection: string,
  matches: (segment: Segment) => Bitset | null,
): FacetHit[] {
  const indexes = segments.map((segment) => {
    const index = facetIndexOf(segment.payloadIndexes.get(key))
    if (index === undefined) throw missingFacetIndex(key, collection)
    return index
  })
  const counts = new Map<FacetValue, number>()
  segments.forEach((segment, i) => {
    indexes[i]!.facetCounts(matches(segment), counts)
  })
  const hits: FacetHit[] = []
  for (const [value, count] of counts) hits.push({ value, count })
  hits.sort((a, b) => b.count - a.count || compareFacetValues(a.value, b.value))
  return hits.slice(0, limit)
}

/** Qdrant's answer without a facet index (400), naming the index to create. */
function missingFacetIndex(key: string, collection: string): QuiverError {
  return new QuiverError(
    'INDEX_REQUIRED',
    `No appropriate index for faceting: \`${key}\`. Please create one to facet on this field: PUT /collections/${collection}/index with { "field_name": ${JSON.stringify(key)}, "field_schema": "keyword" } (or "uuid", "bool", "integer")`,
    { key },
  )
}
