// fail_overflow: float32 vectors whose maths overflows. Cosine vectors with a huge norm must be
// normalised, not zeroed (live upsert, the parallel build of a large batch, WAL replay), and for
// Dot / Euclid / Manhattan every vector that could give a non-finite score is refused at upsert and
// search (docs/rest-api.md, "Vectors"), while vectors at the bound score finitely on every path:
// float32 kernels, quantized codes and IVF centroids.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { MAX_SQUARED_NORM } from '../src/collection/validate.js'
import { CorePool } from '../src/engine/pool.js'
import { type Distance, type HostedCollection, Quiver } from '../src/index.js'
import type { CreateCollectionOptions, PointStruct, QuantizationConfig } from '../src/types.js'
import { copyDir } from './support/damage.js'
import { expectError } from './support/errors.js'
import { rng } from './support/random.js'

/** The largest norm an accepted Dot/Euclid/Manhattan vector may have, with float32 rounding margin. */
const NEAR = Math.sqrt(MAX_SQUARED_NORM) * (1 - 1e-6)

let dir: string
let db: Quiver
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'quiver-overflow-'))
  // two threads, so a batch of >= 256 points is linked by the parallel build (HnswIndex.addBatch)
  db = await Quiver.open(join(dir, 'db'), { threads: 2, flushBytes: 1 << 30 })
})
afterEach(async () => {
  await db.close()
  await rm(dir, { recursive: true, force: true })
})

/** Point 0 is the huge one, 1 the zero vector, the rest small random ones. */
function cosinePoints(n: number): PointStruct[] {
  const r = rng(3)
  return Array.from({ length: n }, (_, i) => ({
    id: i,
    vector: i === 0 ? [1e38, 1e38, 0.1] : i === 1 ? [0, 0, 0] : [r() - 0.5, r() - 0.5, r() + 0.5],
  }))
}

async function expectCosineStored(col: HostedCollection): Promise<void> {
  const [huge, zero] = await col.get([0, 1], { withVector: true })
  expect((huge!.vector as number[])[0]).toBeCloseTo(Math.SQRT1_2, 6)
  expect((huge!.vector as number[])[1]).toBeCloseTo(Math.SQRT1_2, 6)
  expect(Math.abs((huge!.vector as number[])[2]!)).toBeLessThan(1e-30)
  expect(zero!.vector).toEqual([0, 0, 0])
  for (const exact of [false, true]) {
    const [hit] = await col.search([1, 1, 0], { limit: 1, exact })
    expect(hit!.id).toBe(0)
    expect(hit!.score).toBeCloseTo(1, 5)
  }
  const all = await col.search([1e38, 1e38, 0.1], { limit: 1000, exact: true })
  expect(all.every((h) => Number.isFinite(h.score))).toBe(true)
}

describe('Cosine: a vector whose norm overflows float32 is normalised, not zeroed', () => {
  for (const n of [3, 300]) {
    it(`in a batch of ${n} points${n >= 256 ? ' (parallel build)' : ''}, live and after WAL replay`, async () => {
      const col = await db.createCollection('c', { dimension: 3, metric: 'Cosine' })
      expect(CorePool.shared()?.size).toBe(2)
      await col.upsert(cosinePoints(n))
      await expectCosineStored(col)
      // a crash image: nothing persisted (flushBytes 1 GiB), so reopening replays the WAL
      const image = join(dir, 'image')
      await copyDir(join(dir, 'db'), image)
      const replayed = await Quiver.open(image)
      try {
        await expectCosineStored(await replayed.getCollection('c'))
      } finally {
        await replayed.close()
      }
    })
  }
})

/** Vectors of norm NEAR in `dim` dimensions: axis-aligned and spread out, both signs. */
function extremes(dim: number): number[][] {
  const out: number[][] = []
  for (const sign of [1, -1]) {
    for (let axis = 0; axis < Math.min(dim, 3); axis++) {
      const v = new Array<number>(dim).fill(0)
      v[axis] = sign * NEAR
      out.push(v)
    }
    out.push(Array.from({ length: dim }, (_, i) => ((i % 2 === 0 ? sign : -sign) * NEAR) / Math.sqrt(dim)))
    out.push(Array.from({ length: dim }, () => (sign * NEAR) / Math.sqrt(dim)))
  }
  return out
}

const BOUNDED: Distance[] = ['Dot', 'Euclid', 'Manhattan']

describe('Dot / Euclid / Manhattan: a vector whose scores could overflow is refused', () => {
  for (const metric of BOUNDED) {
    it(`${metric}: refused at upsert (the batch writes nothing) and at search, naming the norm and the limit`, async () => {
      const col = await db.createCollection('d', { dimension: 4, metric })
      const over = [3e38, 0, 0, 0]
      const justOver = [Math.sqrt(MAX_SQUARED_NORM) * 1.0001, 0, 0, 0]
      const good = Array.from({ length: 300 }, (_, i) => ({ id: i, vector: [i, 1, 2, 3] }))
      for (const bad of [over, justOver]) {
        await expectError(
          col.upsert([...good.slice(0, 10), { id: 999, vector: bad }, ...good.slice(10)]),
          'INVALID_VECTOR',
          /points\[10\]\.vector.*squared L2 norm.*1e\+32/,
        )
        expect(await col.count()).toBe(0)
        await expectError(col.search(bad), 'INVALID_VECTOR', /^vector .*squared L2 norm.*1e\+32/)
        await expectError(
          col.searchBatch([{ vector: [1, 1, 1, 1] }, { vector: bad }]),
          'INVALID_VECTOR',
          /requests\[1\]\.vector .*squared L2 norm/,
        )
      }
      expect(await col.count()).toBe(0)
    })

    it(`${metric}: vectors at the bound score finitely against each other`, async () => {
      const col = await db.createCollection('d', { dimension: 4, metric })
      const vs = extremes(4)
      await col.upsert(vs.map((vector, id) => ({ id, vector })))
      for (const q of vs) {
        for (const exact of [false, true]) {
          const hits = await col.search(q, { limit: vs.length, exact })
          expect(hits).toHaveLength(vs.length)
          for (const h of hits) expect(Number.isFinite(h.score), `${h.score}`).toBe(true)
        }
      }
      // opposite signs: the largest Euclid / Manhattan distances, the most negative dot product
      const scores = (await col.search([-NEAR, 0, 0, 0], { limit: vs.length, exact: true })).map(
        (h) => h.score,
      )
      if (metric === 'Euclid') expect(Math.max(...scores) / (2 * NEAR)).toBeCloseTo(1, 5)
      if (metric === 'Manhattan') {
        const l1 = vs.map((v) => v.reduce((s, x, i) => s + Math.abs(x - (i === 0 ? -NEAR : 0)), 0))
        expect(Math.max(...scores) / Math.max(...l1)).toBeCloseTo(1, 5)
      }
      if (metric === 'Dot') expect(Math.min(...scores) / (NEAR * NEAR)).toBeCloseTo(-1, 5)
    })
  }
})

/** `n` bounded vectors in `dim` dimensions: the extremes, then random directions at random norms up to NEAR. */
function boundedPoints(n: number, dim: number): PointStruct[] {
  const r = rng(11)
  const base = extremes(dim)
  return Array.from({ length: n }, (_, id) => {
    if (id < base.length) return { id, vector: base[id]! }
    const v = Array.from({ length: dim }, () => r() - 0.5)
    const scale = (NEAR * r()) / Math.hypot(...v)
    return { id, vector: v.map((x) => x * scale) }
  })
}

describe('quantized codes and IVF centroids of bounded vectors score finitely', () => {
  const cases: [string, number, number, Partial<CreateCollectionOptions>][] = [
    ['scalar int8', 1024, 140, { quantization: { scalar: { type: 'int8' } } as QuantizationConfig }],
    ['binary', 1024, 40, { quantization: { binary: {} } as QuantizationConfig }],
    ['product x4', 8, 2100, { quantization: { product: { compression: 'x4' } } as QuantizationConfig }],
    ['IVF', 16, 200, { index: { type: 'ivf', nlist: 4 } }],
  ]
  for (const [name, dim, n, extra] of cases) {
    for (const metric of BOUNDED) {
      it(`${name}, ${metric}`, async () => {
        const col = await db.createCollection('q', { dimension: dim, metric, ...extra })
        const points = boundedPoints(n, dim)
        await col.upsert(points)
        for (const p of points.slice(0, 12)) {
          for (const rescore of [false, true]) {
            const hits = await col.search(p.vector as number[], {
              limit: 20,
              quantization: { rescore },
              nprobe: 4,
            })
            expect(hits.length).toBeGreaterThan(0)
            for (const h of hits) expect(Number.isFinite(h.score), `${h.score}`).toBe(true)
          }
        }
      })
    }
  }
})
