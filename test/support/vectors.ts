// Seeded vector fixtures and an HNSW index built from them, for the quantizer tests.
import { HnswIndex, type IndexMetric } from '../../src/index/hnsw.js'
import { normal, rng } from './random.js'

/** `n` vectors of `dim` standard normal coordinates (plus `shift`), from `seed`. */
export function randomVectors(n: number, dim: number, seed: number, shift = 0): Float32Array[] {
  const r = rng(seed)
  return Array.from({ length: n }, () => Float32Array.from({ length: dim }, () => normal(r) + shift))
}

/** `n` points around `clusters` Gaussian centres, each coordinate N(centre, spread²). */
export function clustered(
  n: number,
  dim: number,
  clusters: number,
  seed: number,
  spread = 1,
): Float32Array[] {
  const r = rng(seed)
  const centres = randomVectors(clusters, dim, seed + 1)
  return Array.from({ length: n }, () => {
    const c = centres[Math.floor(r() * clusters)]!
    return Float32Array.from(c, (x) => x + spread * normal(r))
  })
}

/** An HNSW index (m 16, ef_construct 100, seed 7) holding `vectors` at offsets 0..n-1. */
export function buildIndex(metric: IndexMetric, vectors: readonly Float32Array[], dim: number): HnswIndex {
  const index = HnswIndex.create({ dimension: dim, metric, m: 16, efConstruct: 100, seed: 7 })
  index.reserve(vectors.length)
  for (const v of vectors) index.add(v)
  return index
}

/** Fraction of `truth` found in `got`. */
export function recall(got: Uint32Array, truth: Uint32Array): number {
  const want = new Set(truth)
  let hit = 0
  for (const o of got) if (want.has(o)) hit++
  return hit / truth.length
}
