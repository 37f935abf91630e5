// Maximal marginal relevance (Carbonell & Goldstein, SIGIR 1998) as Qdrant's MMR rescoring does it:
// greedy selection over candidates, relevance and redundancy measured with the collection's similarity.

/**
 * Picks up to `limit` of `n` candidates: first the one most similar to the query, then repeatedly
 * the one maximising `lambda * relevance[i] - (1 - lambda) * max_{j selected} similarity(i, j)`.
 * Ties go to the earliest candidate. Returns candidate indices in selection order. `relevance`:
 * n similarities to the query; `similarity(i, j)`: symmetric, called at most once per pair.
 * With fewer than 2 candidates, returns them in their given order (as Qdrant).
 */
export function mmrSelect(
  relevance: Float64Array,
  similarity: (i: number, j: number) => number,
  lambda: number,
  limit: number,
): number[] {
  const n = relevance.length
  if (n < 2) return n === 1 && limit > 0 ? [0] : []
  const selected: number[] = []
  const taken = new Uint8Array(n)
  // maxSim[i]: highest similarity of candidate i to any selected one
  const maxSim = new Float64Array(n).fill(Number.NEGATIVE_INFINITY)
  let next = 0
  for (let i = 1; i < n; i++) if (relevance[i]! > relevance[next]!) next = i
  while (selected.length < Math.min(limit, n)) {
    selected.push(next)
    taken[next] = 1
    let best = -1
    let bestScore = Number.NEGATIVE_INFINITY
    for (let i = 0; i < n; i++) {
      if (taken[i] === 1) continue
      const s = similarity(i, next)
      if (s > maxSim[i]!) maxSim[i] = s
      const score = lambda * relevance[i]! - (1 - lambda) * maxSim[i]!
      if (best === -1 || score > bestScore) {
        best = i
        bestScore = score
      }
    }
    if (best === -1) break
    next = best
  }
  return selected
}
