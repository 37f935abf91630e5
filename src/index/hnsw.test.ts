import { describe, expect, it } from 'vitest'
import { rng } from '../../test/support/random.js'
import { HnswIndex, type IndexMetric } from './hnsw.js'

/** Points around 20 random centres in [-5, 5]^dim (zero-mean, like embeddings). */
function clustered(n: number, dim: number, seed: number): Float32Array[] {
  const r = rng(seed)
  const centers = Array.from({ length: 20 }, () => Float32Array.from({ length: dim }, () => r() * 10 - 5))
  return Array.from({ length: n }, () => {
    const c = centers[Math.floor(r() * centers.length)]!
    return Float32Array.from(c, (x) => x + (r() - 0.5) * 3)
  })
}

function unitish(v: Float32Array, i: number): Float32Array {
  const norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  const scale = (0.8 + (0.4 * ((i * 7919) % 100)) / 100) / norm
  return v.map((x) => x * scale)
}

function bruteForce(vectors: Float32Array[], q: Float32Array, k: number, metric: IndexMetric): number[] {
  const norm = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0)) || 1
  const scored = vectors.map((v, i) => {
    let d = 0
    if (metric === 'l2') for (let j = 0; j < v.length; j++) d += (v[j]! - q[j]!) ** 2
    else if (metric === 'l1') for (let j = 0; j < v.length; j++) d += Math.abs(v[j]! - q[j]!)
    else {
      for (let j = 0; j < v.length; j++) d -= v[j]! * q[j]!
      if (metric === 'cosine') d /= norm(v) * norm(q)
    }
    return { i, d }
  })
  scored.sort((a, b) => a.d - b.d || a.i - b.i)
  return scored.slice(0, k).map((s) => s.i)
}

const METRICS: IndexMetric[] = ['l2', 'cosine', 'dot', 'l1']

describe('HnswIndex', () => {
  for (const metric of METRICS) {
    it(`exact search matches a brute-force reference (${metric}, dim 37)`, () => {
      const vectors = clustered(500, 37, 1)
      const index = HnswIndex.create({ dimension: 37, metric, m: 8, efConstruct: 64 })
      for (const v of vectors) index.add(v)
      const q = clustered(1, 37, 99)[0]!
      const hits = index.searchExact(q, 10)
      expect(Array.from(hits.offsets)).toEqual(bruteForce(vectors, q, 10, metric))
      for (let i = 1; i < hits.distances.length; i++) {
        expect(hits.distances[i]!).toBeGreaterThanOrEqual(hits.distances[i - 1]!)
      }
    })

    it(`HNSW reaches recall@10 >= 0.95 against exact search at some ef <= 256 (${metric})`, () => {
      // Dot: embedding-like norms (0.8..1.2). Raw MIPS over wildly varying norms is a known weak spot
      // of graph indexes (hub nodes); see docs/architecture.md.
      const vectors = clustered(3000, 48, 2).map((v, i) => (metric === 'dot' ? unitish(v, i) : v))
      const index = HnswIndex.create({ dimension: 48, metric, m: 16, efConstruct: 100 })
      for (const v of vectors) index.add(v)
      expect(index.checkIntegrity()).toEqual({ ok: true })
      const queries = clustered(50, 48, 3)
      const truths = queries.map((q) => new Set(index.searchExact(q, 10).offsets))
      const recallAt = (ef: number) => {
        let found = 0
        queries.forEach((q, i) => {
          for (const o of index.search(q, 10, ef).offsets) if (truths[i]!.has(o)) found++
        })
        return found / (queries.length * 10)
      }
      const recalls = [32, 64, 128, 256].map(recallAt)
      for (let i = 1; i < recalls.length; i++)
        expect(recalls[i]!).toBeGreaterThanOrEqual(recalls[i - 1]! - 0.02)
      expect(Math.max(...recalls)).toBeGreaterThanOrEqual(0.95)
    })
  }

  it('never returns deleted offsets, and keeps them as waypoints', () => {
    const vectors = clustered(2000, 16, 4)
    const index = HnswIndex.create({ dimension: 16, metric: 'l2', m: 8, efConstruct: 64 })
    for (const v of vectors) index.add(v)
    for (let i = 0; i < 2000; i += 2) index.markDeleted(i)
    const q = vectors[10]!
    const hits = index.search(q, 20, 100)
    expect(hits.offsets.length).toBe(20)
    for (const o of hits.offsets) expect(o % 2).toBe(1)
    const exact = index.searchExact(q, 20)
    for (const o of exact.offsets) expect(o % 2).toBe(1)
    expect(index.checkIntegrity().ok).toBe(true)
  })

  it('returns only allowed offsets in filtered search, waypoint and two-hop', () => {
    const vectors = clustered(2000, 16, 5)
    const index = HnswIndex.create({ dimension: 16, metric: 'l2', m: 8, efConstruct: 64 })
    for (const v of vectors) index.add(v)
    const allowed = Uint32Array.from({ length: 200 }, (_, i) => i * 10)
    const allow = new Uint32Array(Math.ceil(2000 / 32))
    for (const o of allowed) allow[o >>> 5]! |= 1 << (o & 31)
    const exact = index.searchExact(vectors[3]!, 10, allowed)
    for (const o of exact.offsets) expect(o % 10).toBe(0)
    for (const twoHop of [false, true]) {
      const hits = index.search(vectors[3]!, 10, 64, { allow, twoHop })
      expect(hits.offsets.length).toBe(10)
      for (const o of hits.offsets) expect(o % 10).toBe(0)
    }
  })

  it('two-hop filtered search keeps recall when matches are sparse', () => {
    const n = 4000
    const vectors = clustered(n, 24, 11)
    const index = HnswIndex.create({ dimension: 24, metric: 'l2', m: 12, efConstruct: 100 })
    for (const v of vectors) index.add(v)
    const r = rng(12)
    for (const selectivity of [0.02, 0.1, 0.5]) {
      const allow = new Uint32Array(Math.ceil(n / 32))
      const list: number[] = []
      for (let o = 0; o < n; o++) {
        if (r() < selectivity) {
          allow[o >>> 5]! |= 1 << (o & 31)
          list.push(o)
        }
      }
      const allowed = Uint32Array.from(list)
      let found = 0
      const queries = 50
      for (let qi = 0; qi < queries; qi++) {
        const q = clustered(1, 24, 100 + qi)[0]!
        const truth = new Set(index.searchExact(q, 10, allowed).offsets)
        const hits = index.search(q, 10, 64, { allow, twoHop: true })
        for (const o of hits.offsets) {
          expect(allow[o >>> 5]! & (1 << (o & 31))).not.toBe(0)
          if (truth.has(o)) found++
        }
      }
      expect(found / (queries * 10)).toBeGreaterThan(0.9)
    }
  })

  it('serialize/restore reproduces the graph without re-inserting', () => {
    const vectors = clustered(1500, 20, 6)
    const index = HnswIndex.create({ dimension: 20, metric: 'cosine', m: 12, efConstruct: 80 })
    for (const v of vectors) index.add(v)
    index.markDeleted(7)
    const bytes = index.serialize()
    const restored = HnswIndex.restore(index.params, bytes)
    expect(restored.size).toBe(1500)
    expect(restored.isDeleted(7)).toBe(true)
    expect(restored.checkIntegrity()).toEqual({ ok: true })
    expect(restored.serialize()).toEqual(bytes)
    const q = vectors[100]!
    expect(Array.from(restored.search(q, 10, 50).offsets)).toEqual(
      Array.from(index.search(q, 10, 50).offsets),
    )
    // the restored index keeps growing
    restored.add(vectors[0]!)
    expect(restored.checkIntegrity()).toEqual({ ok: true })
  })

  it('restores an index of placeholders only (a segment whose points all lack this vector)', () => {
    const index = HnswIndex.create({ dimension: 4, metric: 'l2', m: 4, efConstruct: 16 })
    for (let i = 0; i < 5; i++) index.addPlaceholder()
    expect(index.checkIntegrity()).toEqual({ ok: true })
    const restored = HnswIndex.restore(index.params, index.serialize())
    expect(restored.size).toBe(5)
    expect(restored.isDeleted(3)).toBe(true)
    expect(restored.search(new Float32Array(4), 3, 16).offsets.length).toBe(0)
    // the first real vector becomes the entry point
    restored.add(new Float32Array([1, 0, 0, 0]))
    expect(restored.checkIntegrity()).toEqual({ ok: true })
    expect(Array.from(restored.search(new Float32Array(4), 3, 16).offsets)).toEqual([5])
  })

  it('rejects a corrupted index file', () => {
    const index = HnswIndex.create({ dimension: 8, metric: 'l2', m: 4, efConstruct: 16 })
    for (const v of clustered(100, 8, 7)) index.add(v)
    const bytes = index.serialize()
    expect(() => HnswIndex.restore(index.params, bytes.subarray(0, bytes.length - 4))).toThrow(/size/)
    const bad = bytes.slice()
    bad[0] = 0
    expect(() => HnswIndex.restore(index.params, bad)).toThrow(/magic/)
    const linkBroken = bytes.slice()
    // first layer-0 link of node 0 -> an offset beyond the end
    const n = 100
    const linkStart = 64 + n * 8 * 4 + ((n + 3) & ~3)
    new DataView(linkBroken.buffer).setUint32(linkStart + 4, 5000, true)
    expect(() => HnswIndex.restore(index.params, linkBroken)).toThrow(/self-check/)
  })
})
