// Wire format of facet and the distance matrix (pairs and offsets). Type errors are 400 (Qdrant's
// deserialize errors); range checks are 422 VALIDATION_FAILED with Qdrant's wording.
import { fail, optBool, optString } from '../../json-input.js'
import type { FacetOptions, PointId, SearchMatrixOptions, SearchMatrixResult } from '../../types.js'
import { bodyObject, describeShort, optCount, parseFilter, unsupported } from './common.js'
import { shortestFloat32 } from './records.js'

/** `POST /collections/{name}/facet`: `{ key, limit = 10, filter?, exact = false }`. */
export function parseFacet(body: unknown): FacetOptions {
  const o = bodyObject(body)
  unsupported(o, 'shard_key', '', 'shard_key')
  if (typeof o.key !== 'string' || o.key === '')
    fail('key', `expected a payload key (a non-empty string), got ${describeShort(o.key)}`)
  const out: FacetOptions = { key: o.key }
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const exact = optBool(o, 'exact', '')
  if (exact !== undefined) out.exact = exact
  return out
}

/** `POST .../points/search/matrix/{pairs,offsets}`: `{ sample = 10 (>= 2), limit = 3 (>= 1), filter?, using? }`. */
export function parseSearchMatrix(body: unknown): SearchMatrixOptions {
  const o = bodyObject(body, true)
  unsupported(o, 'shard_key', '', 'shard_key')
  const out: SearchMatrixOptions = {}
  const sample = optCount(o, 'sample', '', 2)
  if (sample !== undefined) out.sample = sample
  const limit = optCount(o, 'limit', '', 1)
  if (limit !== undefined) out.limit = limit
  const filter = parseFilter(o.filter, 'filter')
  if (filter !== undefined) out.filter = filter
  const using = optString(o, 'using', '')
  if (using !== undefined) out.using = using
  return out
}

/** Qdrant's `SearchMatrixPairsResponse`: per sampled point (ascending id), its neighbours best first. */
export function toWireMatrixPairs(r: SearchMatrixResult): {
  pairs: { a: PointId; b: PointId; score: number }[]
} {
  const pairs: { a: PointId; b: PointId; score: number }[] = []
  r.sampleIds.forEach((a, i) => {
    for (const n of r.nearest[i]!) pairs.push({ a, b: n.id, score: shortestFloat32(n.score) })
  })
  return { pairs }
}

/**
 * Qdrant's `SearchMatrixOffsetsResponse`: `ids` the sample; entry k says that `ids[offsets_col[k]]`
 * is a neighbour of `ids[offsets_row[k]]` with `scores[k]`.
 */
export function toWireMatrixOffsets(r: SearchMatrixResult): {
  offsets_row: number[]
  offsets_col: number[]
  scores: number[]
  ids: PointId[]
} {
  const position = new Map<PointId, number>()
  r.sampleIds.forEach((id, i) => {
    position.set(id, i)
  })
  const offsets_row: number[] = []
  const offsets_col: number[] = []
  const scores: number[] = []
  r.sampleIds.forEach((_, i) => {
    for (const n of r.nearest[i]!) {
      offsets_row.push(i)
      offsets_col.push(position.get(n.id)!)
      scores.push(shortestFloat32(n.score))
    }
  })
  return { offsets_row, offsets_col, scores, ids: r.sampleIds }
}
