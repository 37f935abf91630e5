// Cardinality bounds shared by the payload indexes when a condition combines several postings.
import type { Cardinality } from './types.js'

/**
 * Cardinality of a union of postings: exact when no point holds two indexed values (then the
 * postings are disjoint), else between the largest posting and the sum.
 */
export function unionCardinality(sizes: readonly number[], disjoint: boolean, points: number): Cardinality {
  let sum = 0
  let largest = 0
  for (const s of sizes) {
    sum += s
    if (s > largest) largest = s
  }
  if (disjoint || sizes.length <= 1) return { min: sum, exp: sum, max: sum }
  const max = Math.max(largest, Math.min(sum, points))
  return { min: largest, exp: max, max }
}

/**
 * Cardinality of an intersection of postings over `points` points: at most the smallest, at least
 * what pigeonholing forces; the expectation assumes independence (Qdrant's combine_must_estimations).
 */
export function intersectionCardinality(sizes: readonly number[], points: number): Cardinality {
  if (sizes.length === 0) return { min: points, exp: points, max: points }
  if (sizes.length === 1) return { min: sizes[0]!, exp: sizes[0]!, max: sizes[0]! }
  let sum = 0
  let smallest = Number.POSITIVE_INFINITY
  let fraction = 1
  for (const s of sizes) {
    sum += s
    if (s < smallest) smallest = s
    fraction *= points === 0 ? 0 : s / points
  }
  const min = Math.max(0, sum - (sizes.length - 1) * points)
  const exp = Math.min(smallest, Math.max(min, Math.round(points * fraction)))
  return { min, exp, max: smallest }
}
