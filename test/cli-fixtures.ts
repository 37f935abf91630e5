// Writes small datasets in the layout of ../shared/datasets (README.md) for the CLI tests:
// deterministic random vectors, exact brute-force ground truth, optional meta.jsonl.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { rng } from './support/random.js'

export interface FixtureOptions {
  name: string
  n: number
  dim: number
  q: number
  metric: 'l2' | 'cosine'
  /** Ground-truth columns; default 100 (or n when smaller is impossible: always 100, padded -1). */
  k?: number
  withMeta?: boolean
  seed?: number
}

export interface Fixture {
  base: Float32Array
  queries: Float32Array
  groundTruth: Int32Array
  k: number
}

/** Exact neighbours of each query, nearest first (ties by smaller index), padded with -1 to k. */
export function bruteForce(
  base: Float32Array,
  queries: Float32Array,
  dim: number,
  metric: 'l2' | 'cosine',
  k: number,
): Int32Array {
  const n = base.length / dim
  const q = queries.length / dim
  const out = new Int32Array(q * k).fill(-1)
  const norm = (a: Float32Array, o: number): number => {
    let s = 0
    for (let j = 0; j < dim; j++) s += (a[o + j] as number) ** 2
    return Math.sqrt(s)
  }
  for (let qi = 0; qi < q; qi++) {
    const scored: { i: number; d: number }[] = []
    const qn = norm(queries, qi * dim)
    for (let i = 0; i < n; i++) {
      let d = 0
      if (metric === 'l2') {
        for (let j = 0; j < dim; j++)
          d += ((base[i * dim + j] as number) - (queries[qi * dim + j] as number)) ** 2
      } else {
        let dot = 0
        for (let j = 0; j < dim; j++) dot += (base[i * dim + j] as number) * (queries[qi * dim + j] as number)
        d = -dot / (norm(base, i * dim) * qn)
      }
      scored.push({ i, d })
    }
    scored.sort((a, b) => a.d - b.d || a.i - b.i)
    for (let j = 0; j < Math.min(k, n); j++) out[qi * k + j] = (scored[j] as { i: number }).i
  }
  return out
}

/** Writes NAME.{json,base.f32,query.f32,gt.i32[,meta.jsonl]} into `dir` and returns the arrays. */
export function writeFixtureDataset(dir: string, o: FixtureOptions): Fixture {
  const k = o.k ?? 100
  const rand = rng(o.seed ?? 42)
  const base = Float32Array.from({ length: o.n * o.dim }, () => rand() * 2 - 1)
  const queries = Float32Array.from({ length: o.q * o.dim }, () => rand() * 2 - 1)
  const groundTruth = bruteForce(base, queries, o.dim, o.metric, k)
  const descriptor = {
    name: o.name,
    n: o.n,
    d: o.dim,
    q: o.q,
    k,
    metric: o.metric,
    description: 'test fixture',
  }
  writeFileSync(join(dir, `${o.name}.json`), JSON.stringify(descriptor))
  writeFileSync(join(dir, `${o.name}.base.f32`), new Uint8Array(base.buffer))
  writeFileSync(join(dir, `${o.name}.query.f32`), new Uint8Array(queries.buffer))
  writeFileSync(join(dir, `${o.name}.gt.i32`), new Uint8Array(groundTruth.buffer))
  if (o.withMeta === true) {
    const lines = Array.from({ length: o.n }, (_, i) => JSON.stringify({ group: i % 3, row: i }))
    writeFileSync(join(dir, `${o.name}.meta.jsonl`), `${lines.join('\n')}\n`)
  }
  return { base, queries, groundTruth, k }
}
