// Rank fusion of several ranked lists of points (Qdrant's `fusion`): reciprocal rank fusion
// (Cormack, Clarke & Buettcher, SIGIR 2009) and distribution-based score fusion (DBSF).
import type { PointId } from '../types.js'

/** A ranked entry: `score` is only read by DBSF; lists are best first. */
export interface Ranked {
  readonly id: PointId
  score: number
}

/** Qdrant's default RRF constant. */
export const DEFAULT_RRF_K = 2

/**
 * RRF: each list adds `1 / ((rank + 1) / weight + k - 1)` (rank 0-based; weight 1 gives the
 * classic `1 / (rank + k)`; a weight <= 0 adds nothing) to each of its points. Returns one entry
 * per distinct id (the first seen, with its score replaced), highest fused score first; ties keep
 * first-seen order. `weights`, when given, has one entry per list.
 */
export function rrf<T extends Ranked>(
  lists: readonly (readonly T[])[],
  k: number,
  weights: readonly number[] | null,
): T[] {
  const fused = new Map<PointId, { item: T; score: number }>()
  lists.forEach((list, l) => {
    const weight = weights === null ? 1 : weights[l]!
    if (weight <= 0) return
    list.forEach((item, rank) => {
      const add = 1 / ((rank + 1) / weight + k - 1)
      const entry = fused.get(item.id)
      if (entry === undefined) fused.set(item.id, { item, score: add })
      else entry.score += add
    })
  })
  return sortFused(fused)
}

/**
 * DBSF: each list's scores are mapped to [0, 1] linearly with mean - 3σ -> 0 and mean + 3σ -> 1
 * (σ: sample standard deviation; values past 3σ fall outside [0, 1]); a list of one point, or of
 * equal scores, maps to 0.5. Scores are then summed per id, highest first. `higherIsBetter[l]`
 * false (a distance list) negates that list's scores before normalising.
 */
export function dbsf<T extends Ranked>(
  lists: readonly (readonly T[])[],
  higherIsBetter: readonly boolean[],
): T[] {
  const fused = new Map<PointId, { item: T; score: number }>()
  lists.forEach((list, l) => {
    const sign = higherIsBetter[l] === false ? -1 : 1
    const n = list.length
    let mean = 0
    let m2 = 0
    for (let i = 0; i < n; i++) {
      // Welford's one-pass mean and variance
      const x = sign * list[i]!.score
      const delta = x - mean
      mean += delta / (i + 1)
      m2 += delta * (x - mean)
    }
    const sd = n > 1 ? Math.sqrt(m2 / (n - 1)) : 0
    const lo = mean - 3 * sd
    const hi = mean + 3 * sd
    for (const item of list) {
      const norm = n < 2 || hi === lo ? 0.5 : (sign * item.score - lo) / (hi - lo)
      const entry = fused.get(item.id)
      if (entry === undefined) fused.set(item.id, { item, score: norm })
      else entry.score += norm
    }
  })
  return sortFused(fused)
}

function sortFused<T extends Ranked>(fused: Map<PointId, { item: T; score: number }>): T[] {
  const out: T[] = []
  for (const { item, score } of fused.values()) {
    item.score = score
    out.push(item)
  }
  return out.sort((a, b) => b.score - a.score)
}
