import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { QuiverError } from '../errors.js'
import { kmeans } from './kmeans.js'

/** n points (row-major) around `centers` well-separated centres (spread 100 apart, noise ±0.5); returns points and true labels. */
function blobs(
  n: number,
  dim: number,
  centers: number,
  seed: number,
): { data: Float32Array; labels: number[] } {
  const r = rng(seed)
  const c = Array.from({ length: centers }, () => Float32Array.from({ length: dim }, () => (r() - 0.5) * 200))
  const data = new Float32Array(n * dim)
  const labels: number[] = []
  for (let i = 0; i < n; i++) {
    const l = i % centers
    labels.push(l)
    for (let t = 0; t < dim; t++) data[i * dim + t] = c[l]![t]! + (r() - 0.5)
  }
  return { data, labels }
}

function nearest(centroids: Float32Array, k: number, x: Float32Array): number {
  const dim = x.length
  let best = 0
  let bestD = Number.POSITIVE_INFINITY
  for (let c = 0; c < k; c++) {
    let d = 0
    for (let t = 0; t < dim; t++) d += (x[t]! - centroids[c * dim + t]!) ** 2
    if (d < bestD) {
      bestD = d
      best = c
    }
  }
  return best
}

describe('kmeans', () => {
  it('k-means++ picks distinct seeds, one per separated cluster', () => {
    const { data, labels } = blobs(800, 6, 8, 1)
    const res = kmeans(data, 6, { k: 8, seed: 3 })
    expect(new Set(res.seeds).size).toBe(8)
    // D^2 sampling over clusters 100 apart puts every seed in a different cluster (with overwhelming probability)
    expect(new Set(res.seeds.map((s) => labels[s])).size).toBe(8)
  })

  it('Lloyd iterations never raise the inertia', () => {
    const r = rng(5)
    const data = Float32Array.from({ length: 3000 * 5 }, () => r())
    const res = kmeans(data, 5, { k: 40, seed: 9, iterations: 15, tolerance: 0 })
    expect(res.inertia.length).toBeGreaterThan(3)
    for (let i = 1; i < res.inertia.length; i++) {
      expect(res.inertia[i]!).toBeLessThanOrEqual(res.inertia[i - 1]! * (1 + 1e-6))
    }
    expect(res.inertia.at(-1)!).toBeLessThan(res.inertia[0]!)
  })

  it("Hamerly's bounds change nothing: same inertia and centroids as plain Lloyd from the same seeds", () => {
    const r = rng(12)
    const dim = 6
    const n = 2000
    const k = 30
    const data = Float32Array.from({ length: n * dim }, () => r())
    const res = kmeans(data, dim, { k, seed: 2, iterations: 12, tolerance: 0 })
    // reference: plain Lloyd in float64 from the k-means++ seeds
    let cents = Float64Array.from(
      { length: k * dim },
      (_, i) => data[res.seeds[Math.floor(i / dim)]! * dim + (i % dim)]!,
    )
    const inertia: number[] = []
    for (let it = 0; it < res.inertia.length; it++) {
      const sums = new Float64Array(k * dim)
      const counts = new Array(k).fill(0)
      let total = 0
      for (let i = 0; i < n; i++) {
        let best = 0
        let bestD = Number.POSITIVE_INFINITY
        for (let c = 0; c < k; c++) {
          let d = 0
          for (let t = 0; t < dim; t++) d += (data[i * dim + t]! - cents[c * dim + t]!) ** 2
          if (d < bestD) {
            bestD = d
            best = c
          }
        }
        total += bestD
        counts[best]++
        for (let t = 0; t < dim; t++) sums[best * dim + t]! += data[i * dim + t]!
      }
      inertia.push(total)
      expect(counts.every((c) => c > 0)).toBe(true)
      cents = sums.map((s, i) => s / counts[Math.floor(i / dim)])
    }
    for (let i = 0; i < inertia.length; i++) expect(res.inertia[i]!).toBeCloseTo(inertia[i]!, 2)
    for (let i = 0; i < k * dim; i++) expect(res.centroids[i]!).toBeCloseTo(cents[i]!, 4)
  })

  it('is deterministic for a seed and differs for another', () => {
    const r = rng(6)
    const data = Float32Array.from({ length: 1000 * 7 }, () => r())
    const a = kmeans(data, 7, { k: 16, seed: 11 })
    const b = kmeans(data, 7, { k: 16, seed: 11 })
    const c = kmeans(data, 7, { k: 16, seed: 12 })
    expect(Array.from(a.centroids)).toEqual(Array.from(b.centroids))
    expect(Array.from(a.centroids)).not.toEqual(Array.from(c.centroids))
  })

  it('recovers well-separated clusters (odd dimension, k not a multiple of 16)', () => {
    const dim = 13
    const k = 21
    const { data, labels } = blobs(2100, dim, k, 2)
    const res = kmeans(data, dim, { k, seed: 4 })
    // every true cluster maps to exactly one centroid and vice versa
    const map = new Map<number, number>()
    for (let i = 0; i < labels.length; i++) {
      const c = nearest(res.centroids, k, data.subarray(i * dim, (i + 1) * dim))
      const prev = map.get(labels[i]!)
      if (prev === undefined) map.set(labels[i]!, c)
      else expect(c).toBe(prev)
    }
    expect(new Set(map.values()).size).toBe(k)
  })

  it('leaves no centroid empty when k exceeds the natural clusters', () => {
    // 3 tight blobs, k = 6: the blobs get split, no centroid is left without points
    const { data } = blobs(600, 4, 3, 8)
    const k = 6
    const res = kmeans(data, 4, { k, seed: 1 })
    const counts = new Array(k).fill(0)
    for (let i = 0; i < 600; i++) counts[nearest(res.centroids, k, data.subarray(i * 4, i * 4 + 4))]++
    expect(counts.every((c) => c > 0)).toBe(true)
  })

  it('trains on at most maxPointsPerCentroid · k rows', () => {
    const r = rng(7)
    const data = Float32Array.from({ length: 5000 * 3 }, () => r())
    expect(kmeans(data, 3, { k: 4, maxPointsPerCentroid: 100 }).sampleSize).toBe(400)
    expect(kmeans(data, 3, { k: 4 }).sampleSize).toBe(1024)
  })

  it('rejects k above the number of rows and ragged data', () => {
    const data = new Float32Array(10 * 2)
    expect(() => kmeans(data, 2, { k: 11 })).toThrow(QuiverError)
    expect(() => kmeans(data, 3, { k: 2 })).toThrow(/multiple of dimension/)
  })
})
