// Recall and latency statistics shared by `quiver bench` and the recall test suites.
import type { PointId } from '../types.js'

/**
 * recall@k of one query: |first k returned ids ∩ first k truth ids| / k.
 * `truth` holds base row indices (point ids), nearest first; negative entries (padding) never match.
 * Returned ids that are not integers (UUIDs) never match.
 */
export function recallAtK(returned: readonly PointId[], truth: ArrayLike<number>, k: number): number {
  const want = new Set<number>()
  for (let i = 0; i < k && i < truth.length; i++) {
    const t = truth[i] as number
    if (t >= 0) want.add(t)
  }
  let hit = 0
  for (let i = 0; i < k && i < returned.length; i++) {
    const id = returned[i]
    if (typeof id === 'number' && want.delete(id)) hit++
  }
  return hit / k
}

/** The p-th percentile (0..100) of ascending-sorted values, nearest-rank; NaN when empty. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] as number
}
