// @ts-check
// Exact (filtered) ground truth by brute force in float64, independent of the engines, and the
// recall measure of the filtered benchmark (over the valid entries of -1-padded truth rows).
import { InvalidArgumentError } from 'commander'

/**
 * Brute-force distances from one query to every base row, lower = nearer, in float64.
 * `cosine`: 1 - cos(q, b) (both sides normalised; a zero vector scores 1); `l2`: squared L2.
 * @param {Float32Array} base `n x dim` row-major
 * @param {number} dim
 * @param {'cosine' | 'l2'} metric
 * @returns {(query: ArrayLike<number>, out?: Float64Array) => Float64Array} distances, length n
 */
export function bruteForce(base, dim, metric) {
  const n = base.length / dim
  let invNorms = new Float64Array(0)
  if (metric === 'cosine') {
    invNorms = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      let s = 0
      for (let j = i * dim, end = j + dim; j < end; j++) {
        const v = /** @type {number} */ (base[j])
        s += v * v
      }
      invNorms[i] = s > 0 ? 1 / Math.sqrt(s) : 0
    }
  }
  return (query, out = new Float64Array(n)) => {
    const q = Float64Array.from(query)
    if (metric === 'cosine') {
      let s = 0
      for (let j = 0; j < dim; j++) s += /** @type {number} */ (q[j]) ** 2
      const inv = s > 0 ? 1 / Math.sqrt(s) : 0
      for (let i = 0; i < n; i++) {
        let dot = 0
        for (let j = 0, o = i * dim; j < dim; j++)
          dot += /** @type {number} */ (q[j]) * /** @type {number} */ (base[o + j])
        out[i] = 1 - dot * inv * /** @type {number} */ (invNorms[i])
      }
    } else {
      for (let i = 0; i < n; i++) {
        let s = 0
        for (let j = 0, o = i * dim; j < dim; j++) {
          const d = /** @type {number} */ (q[j]) - /** @type {number} */ (base[o + j])
          s += d * d
        }
        out[i] = s
      }
    }
    return out
  }
}

/**
 * The k nearest rows among those allowed by `mask` (all rows when null), nearest first; exact ties
 * go to the smaller row index. Padded with -1 when fewer than k rows are allowed.
 * @param {Float64Array} dist distances, lower = nearer
 * @param {Uint8Array | null} mask
 * @param {number} k
 * @returns {Int32Array} length k
 */
export function topK(dist, mask, k) {
  const ids = new Int32Array(k).fill(-1)
  const ds = new Float64Array(k).fill(Number.POSITIVE_INFINITY)
  let filled = 0
  for (let i = 0; i < dist.length; i++) {
    if (mask !== null && mask[i] === 0) continue
    const d = /** @type {number} */ (dist[i])
    if (filled === k && d >= /** @type {number} */ (ds[k - 1])) continue
    let j = filled < k ? filled++ : k - 1
    while (j > 0 && /** @type {number} */ (ds[j - 1]) > d) {
      ds[j] = /** @type {number} */ (ds[j - 1])
      ids[j] = /** @type {number} */ (ids[j - 1])
      j--
    }
    ds[j] = d
    ids[j] = i
  }
  return ids
}

/**
 * recall@k of one filtered query: |first k returned ∩ valid truth| / min(k, valid), where valid
 * counts the non-negative entries among the first k of `truth` (rows are -1-padded when fewer
 * points match). 1 when nothing matches at all (there is nothing to miss).
 * @param {ArrayLike<number>} returned point ids, best first
 * @param {ArrayLike<number>} truth row indices, nearest first, -1 = padding
 * @param {number} k
 */
export function filteredRecall(returned, truth, k) {
  const want = new Set()
  for (let i = 0; i < k && i < truth.length; i++) {
    const t = /** @type {number} */ (truth[i])
    if (t >= 0) want.add(t)
  }
  if (want.size === 0) return 1
  const denom = want.size
  let hit = 0
  for (let i = 0; i < k && i < returned.length; i++) if (want.delete(returned[i])) hit++
  return hit / denom
}

/**
 * How many returned ids break the filter (mask[id] is 0, or the id is not a row index).
 * @param {ArrayLike<number>} returned
 * @param {Uint8Array | null} mask
 */
export function violations(returned, mask) {
  if (mask === null) return 0
  let bad = 0
  for (let i = 0; i < returned.length; i++) {
    const id = /** @type {number} */ (returned[i])
    if (!Number.isInteger(id) || mask[id] !== 1) bad++
  }
  return bad
}

/**
 * Fraction of queries whose first-k truth sets agree between two ground truths (`a` and `b` rows of
 * width `wa` and `wb`, compared over their first k entries, -1 padding ignored).
 * @param {Int32Array} a
 * @param {number} wa
 * @param {Int32Array} b
 * @param {number} wb
 * @param {number} nq
 * @param {number} k
 */
export function truthAgreement(a, wa, b, wb, nq, k) {
  let same = 0
  for (let q = 0; q < nq; q++) {
    const sa = new Set([...a.subarray(q * wa, q * wa + k)].filter((x) => x >= 0))
    const sb = [...b.subarray(q * wb, q * wb + k)].filter((x) => x >= 0)
    if (sa.size === sb.length && sb.every((x) => sa.has(x))) same++
  }
  return nq === 0 ? 1 : same / nq
}

/**
 * Ground truth rows (k ids per query): the shipped gt.i32, or brute force in float64 when --limit
 * subsampled the base.
 * @param {import('../../dist/cli/datasets.js').Dataset} ds
 * @param {number} nq
 * @param {number} k
 */
export function groundTruth(ds, nq, k) {
  const truth = new Int32Array(nq * k)
  if (ds.n < ds.totalN) {
    const dist = bruteForce(ds.base, ds.dim, ds.metric === 'Cosine' ? 'cosine' : 'l2')
    const buf = new Float64Array(ds.n)
    for (let qi = 0; qi < nq; qi++)
      truth.set(topK(dist(ds.queries.subarray(qi * ds.dim, (qi + 1) * ds.dim), buf), null, k), qi * k)
    return { truth, source: `brute force in float64 over the first ${ds.n} base rows (--limit)` }
  }
  if (k > ds.gtK) throw new InvalidArgumentError(`--k ${k} exceeds the ${ds.gtK} ground-truth columns`)
  for (let qi = 0; qi < nq; qi++) truth.set(ds.groundTruth.subarray(qi * ds.gtK, qi * ds.gtK + k), qi * k)
  return { truth, source: "the dataset's shipped gt.i32" }
}
