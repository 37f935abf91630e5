// Feature detection for suites that cover parts still being built (background optimizers,
// snapshots): probes the BUILT package (dist/, what child-process fixtures run) once.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface Feature {
  available: boolean
  /** Why it is not available (for test names / skip reasons); empty when available. */
  reason: string
}

const DIST = new URL('../../dist/index.js', import.meta.url).href

// biome-ignore lint/suspicious/noExplicitAny: dist is probed dynamically, its shape is what is being detected
type Any = any

async function loadDist(): Promise<Any> {
  return import(DIST)
}

/** Whether the built `Quiver` has `createSnapshot(name)`. */
export async function detectSnapshots(): Promise<Feature> {
  const { Quiver } = await loadDist()
  return typeof Quiver?.prototype?.createSnapshot === 'function'
    ? { available: true, reason: '' }
    : { available: false, reason: 'Quiver.createSnapshot does not exist in dist/' }
}

/**
 * Whether a background optimizer (vacuum) runs in the built package: replace-churn on a
 * collection with `deletedThreshold 0.05, vacuumMinVectorNumber 100` until
 * `stats().optimizer` reports a running or completed optimization (at most 30 rounds of 200
 * replaced points, then "not available").
 */
export async function detectOptimizer(): Promise<Feature> {
  const { Quiver } = await loadDist()
  const dir = await mkdtemp(join(tmpdir(), 'quiver-probe-'))
  const db = await Quiver.open(dir)
  try {
    const c = await db.createCollection('probe', {
      dimension: 4,
      metric: 'Euclid',
      optimizers: { deletedThreshold: 0.05, vacuumMinVectorNumber: 100 },
    })
    for (let round = 0; round < 30; round++) {
      await c.upsert(
        Array.from({ length: 200 }, (_, id) => ({ id, vector: [id, round, 1, 2], payload: { round } })),
      )
      const o = c.stats().optimizer
      if (o.running || o.completed.vacuum + o.completed.merge > 0) return { available: true, reason: '' }
    }
    return {
      available: false,
      reason: 'no optimizer ran after 30 rounds of replace churn (stats().optimizer stayed idle)',
    }
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
}
