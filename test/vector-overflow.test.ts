// fail_overflow: float32 vectors whose maths overflows. Cosine vectors with a huge norm must be
// normalised, not zeroed (live upsert, the parallel build of a large batch, WAL replay).
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { CorePool } from '../src/engine/pool.js'
import { type EmbeddedCollection, Quiver } from '../src/index.js'
import type { PointStruct } from '../src/types.js'
import { copyDir } from './support/damage.js'
import { rng } from './support/random.js'

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

async function expectCosineStored(col: EmbeddedCollection): Promise<void> {
  const [huge, zero] = await col.get([0, 1], { withVector: true })
  expect(huge!.vector![0]).toBeCloseTo(Math.SQRT1_2, 6)
  expect(huge!.vector![1]).toBeCloseTo(Math.SQRT1_2, 6)
  expect(Math.abs(huge!.vector![2]!)).toBeLessThan(1e-30)
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
