// @ts-check
// Tests of the filter workloads: the seeded payload, the sweep selectivities, and that each
// condition's Qdrant JSON (evaluated by Quiver's dist/) selects exactly the rows of its JS predicate.
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { Quiver } from '../../dist/index.js'
import { maskOf, selectivityOf, sigmodFilter, sweepConditions, syntheticPayloads, TAGS } from './workload.mjs'

test('syntheticPayloads is deterministic per seed and a prefix does not depend on n', () => {
  assert.deepEqual(syntheticPayloads(50, 7), syntheticPayloads(50, 7))
  assert.deepEqual(syntheticPayloads(100, 7).slice(0, 50), syntheticPayloads(50, 7))
  assert.notDeepEqual(syntheticPayloads(50, 7), syntheticPayloads(50, 8))
})

test('sweep conditions reach their designed selectivity on 100k rows', () => {
  const payloads = syntheticPayloads(100_000, 42)
  for (const c of sweepConditions()) {
    const s = selectivityOf(maskOf(payloads, c.test))
    const tolerance = 4 * Math.sqrt((c.expected * (1 - c.expected)) / payloads.length) + 1e-9
    assert.ok(Math.abs(s - c.expected) <= tolerance, `${c.name}: ${s} vs ${c.expected}`)
  }
  assert.equal(TAGS.length, 6)
})

test('sigmodFilter refuses predicates that contradict query_type and has inclusive bounds', () => {
  assert.throws(
    () => sigmodFilter({ query_type: 1, category: null, t_low: null, t_high: null }),
    /query_type/,
  )
  assert.throws(() => sigmodFilter({ query_type: 0, category: 3, t_low: null, t_high: null }), /query_type/)
  const { filter, test: t } = sigmodFilter({ query_type: 3, category: 3, t_low: 0.25, t_high: 0.5 })
  assert.deepEqual(filter, {
    must: [
      { key: 'category', match: { value: 3 } },
      { key: 'timestamp', range: { gte: 0.25, lte: 0.5 } },
    ],
  })
  assert.equal(t({ category: 3, timestamp: 0.5 }), true)
  assert.equal(t({ category: 3, timestamp: 0.25 }), true)
  assert.equal(t({ category: 4, timestamp: 0.3 }), false)
  assert.equal(t({ category: 3, timestamp: 0.51 }), false)
  assert.equal(sigmodFilter({ query_type: 0, category: null, t_low: null, t_high: null }).filter, null)
})

test('every filter JSON selects in Quiver exactly the rows its JS predicate selects', async () => {
  const n = 3000
  const sweep = syntheticPayloads(n, 5)
  const sigmod = Array.from({ length: n }, (_, i) => ({ category: i % 7, timestamp: (i % 101) / 100 }))
  const sigmodQueries = /** @type {const} */ ([
    { query_type: 1, category: 2, t_low: null, t_high: null },
    { query_type: 2, category: null, t_low: 0.1, t_high: 0.2 },
    { query_type: 3, category: 4, t_low: 0.5, t_high: 0.9 },
  ])
  const dir = await mkdtemp(join(tmpdir(), 'quiver-bench-workload-'))
  const db = await Quiver.open(dir)
  try {
    /** @param {string} name @param {readonly import('../../dist/index.js').Payload[]} payloads */
    const load = async (name, payloads) => {
      const col = await db.createCollection(name, { dimension: 2, metric: 'euclid' })
      await col.upsert(payloads.map((payload, id) => ({ id, vector: [id % 13, id % 17], payload })))
      return col
    }
    /** @param {import('../../dist/index.js').Collection} col @param {import('../../dist/index.js').Filter} filter */
    const ids = async (col, filter) => (await col.scroll({ filter, limit: n })).points.map((p) => p.id)
    /** @param {Uint8Array} mask */
    const rows = (mask) => [...mask.keys()].filter((i) => mask[i] === 1)

    const sweepCol = await load('sweep', sweep)
    for (const c of sweepConditions()) {
      if (c.filter === null) continue
      assert.deepEqual(await ids(sweepCol, c.filter), rows(maskOf(sweep, c.test)), c.name)
    }
    const sigmodCol = await load('sigmod', sigmod)
    for (const q of sigmodQueries) {
      const f = sigmodFilter(q)
      assert.deepEqual(await ids(sigmodCol, /** @type {any} */ (f.filter)), rows(maskOf(sigmod, f.test)))
    }
  } finally {
    await db.close()
    await rm(dir, { recursive: true, force: true })
  }
})
