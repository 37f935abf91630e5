// @ts-check
// Tests of the synthetic data generator and its exact truth (node --test bench/lib/).
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import { ensureData, ensureTruth, exactTruth, readFloats, truthPath } from './synthetic.mjs'
import { bruteForce, topK } from './truth.mjs'

test('ensureData is deterministic, a larger file starts with the smaller one, no temporary files stay', () => {
  const a = mkdtempSync(join(tmpdir(), 'quiver-synthetic-a-'))
  const b = mkdtempSync(join(tmpdir(), 'quiver-synthetic-b-'))
  try {
    const small = ensureData(a, 50, 5, 12, 4)
    const large = ensureData(b, 120, 9, 12, 4)
    assert.equal(small.tag, 'clustered-12d-4c-l32')
    const s = readFileSync(small.basePath)
    const l = readFileSync(large.basePath)
    assert.equal(s.byteLength, 50 * 12 * 4)
    assert.deepEqual(l.subarray(0, s.byteLength), s)
    assert.deepEqual(readFileSync(large.queryPath).subarray(0, 5 * 12 * 4), readFileSync(small.queryPath))
    // a cached file that holds enough rows is kept
    ensureData(b, 60, 3, 12, 4)
    assert.equal(readFileSync(large.basePath).byteLength, 120 * 12 * 4)
    assert.deepEqual(readdirSync(a).sort(), [
      'clustered-12d-4c-l32.base.f32',
      'clustered-12d-4c-l32.query.f32',
    ])
  } finally {
    rmSync(a, { recursive: true, force: true })
    rmSync(b, { recursive: true, force: true })
  }
})

for (const metric of /** @type {const} */ (['l2', 'cosine'])) {
  test(`exactTruth (${metric}) agrees with bruteForce + topK`, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'quiver-synthetic-'))
    try {
      const dim = 10
      const n = 700
      const nq = 7
      const k = 5
      const { basePath, queryPath, tag } = ensureData(dir, n, nq, dim, 6)
      const base = readFloats(basePath, n * dim)
      const queries = readFloats(queryPath, nq * dim)
      const got = await exactTruth(basePath, queries, dim, 600, k, metric)
      const dist = bruteForce(base.subarray(0, 600 * dim), dim, metric)
      for (let q = 0; q < nq; q++) {
        const want = topK(dist(queries.subarray(q * dim, (q + 1) * dim)), null, k)
        assert.deepEqual([...got.subarray(q * k, (q + 1) * k)], [...want], `query ${q}`)
      }
      const path = await ensureTruth({ dir, tag, basePath, queries, dim, n: 600, k, metric })
      assert.equal(path, truthPath(dir, tag, 600, nq, k, metric))
      assert.deepEqual(new Int32Array(Uint8Array.prototype.slice.call(readFileSync(path)).buffer), got)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
}

test('truthPath keeps bench/scale.mjs names for l2 and marks cosine', () => {
  assert.equal(truthPath('/c', 't', 3000, 20, 10), join('/c', 't.n3000.q20.k10.gt.i32'))
  assert.equal(truthPath('/c', 't', 3000, 20, 10, 'cosine'), join('/c', 't.n3000.q20.k10.cosine.gt.i32'))
})
