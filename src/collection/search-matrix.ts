// The distance matrix of a sample (Qdrant's `search/matrix`): which points are sampled, and each
// sampled point's nearest neighbours among the sample with the point itself removed.
import { comparePointIds } from '../point-id.js'
import type { PointId } from '../types.js'

/** Qdrant's defaults (CollectionSearchMatrixRequest). */
export const DEFAULT_MATRIX_SAMPLE = 10
export const DEFAULT_MATRIX_LIMIT = 3

/**
 * `size` ids drawn uniformly at random without replacement from `ids` (all of them when fewer),
 * sorted ascending as Qdrant sorts its sample. `random` returns floats in [0, 1). Reorders `ids`.
 */
export function sampleIds(ids: PointId[], size: number, random: () => number = Math.random): PointId[] {
  const n = Math.min(size, ids.length)
  // partial Fisher-Yates: the first n slots end up a uniform sample
  for (let i = 0; i < n && n < ids.length; i++) {
    const j = i + Math.floor(random() * (ids.length - i))
    const t = ids[i]!
    ids[i] = ids[j]!
    ids[j] = t
  }
  return ids.slice(0, n).sort(comparePointIds)
}

/**
 * Drops `self` from hits searched with `limit + 1` among the sample; when it is not among them
 * (ties, or an approximate search missed it) the last hit goes instead, as Qdrant does.
 */
export function withoutSelf<T extends { id: PointId }>(hits: T[], self: PointId, limit: number): T[] {
  const at = hits.findIndex((h) => h.id === self)
  if (at >= 0) hits.splice(at, 1)
  else if (hits.length > limit) hits.length = limit
  return hits
}
