// @ts-check
// Tests of the ground-truth, recall and timing helpers of the filtered benchmark (node --test bench/lib/).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { measure } from './timing.mjs'
import { bruteForce, filteredRecall, topK, truthAgreement, violations } from './truth.mjs'

test('bruteForce l2 gives squared distances', () => {
  const base = new Float32Array([0, 0, 3, 4, 1, 1])
  assert.deepEqual([...bruteForce(base, 2, 'l2')([0, 0])], [0, 25, 2])
})

test('bruteForce cosine ignores vector length and scores a zero vector 1', () => {
  const base = new Float32Array([2, 0, 0, 5, 0, 0, -1, 0])
  const d = bruteForce(base, 2, 'cosine')([3, 0])
  assert.ok(Math.abs(/** @type {number} */ (d[0])) < 1e-12)
  assert.ok(Math.abs(/** @type {number} */ (d[1]) - 1) < 1e-12)
  assert.equal(d[2], 1)
  assert.ok(Math.abs(/** @type {number} */ (d[3]) - 2) < 1e-12)
})

test('topK keeps the nearest allowed rows, breaks ties by smaller index, pads with -1', () => {
  const dist = new Float64Array([5, 1, 3, 1, 0, 2])
  assert.deepEqual([...topK(dist, null, 3)], [4, 1, 3])
  const mask = new Uint8Array([1, 0, 1, 1, 0, 0])
  assert.deepEqual([...topK(dist, mask, 5)], [3, 2, 0, -1, -1])
  assert.deepEqual([...topK(dist, new Uint8Array(6), 2)], [-1, -1])
})

test('topK agrees with a full sort on random data', () => {
  const dist = Float64Array.from({ length: 500 }, (_, i) => ((i * 7919) % 503) / 10)
  const mask = Uint8Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? 1 : 0))
  const expected = [...dist.keys()]
    .filter((i) => mask[i] === 1)
    .sort((a, b) => /** @type {number} */ (dist[a]) - /** @type {number} */ (dist[b]) || a - b)
    .slice(0, 10)
  assert.deepEqual([...topK(dist, mask, 10)], expected)
})

test('filteredRecall divides by the valid truth entries only', () => {
  assert.equal(filteredRecall([1, 2, 3], [1, 2, 3, 4], 4), 0.75)
  assert.equal(filteredRecall([7, 8], [7, 9, -1, -1], 4), 0.5)
  assert.equal(filteredRecall([], [-1, -1], 2), 1)
  assert.equal(filteredRecall([5, 6, 7], [5, 6, 7], 2), 1)
  assert.equal(filteredRecall([9, 5], [5, 6], 1), 0)
})

test('violations counts ids outside the mask', () => {
  const mask = new Uint8Array([1, 0, 1])
  assert.equal(violations([0, 1, 2, 7], mask), 2)
  assert.equal(violations([1], null), 0)
})

test('truthAgreement compares first-k sets, ignoring order and padding', () => {
  const a = new Int32Array([1, 2, 3, 4, -1, -1, 6, 7, 0])
  const b = new Int32Array([2, 1, 9, 4, -1, 8, 6, 8, 7])
  assert.equal(truthAgreement(a, 3, b, 3, 3, 2), 2 / 3)
})

test('measure scores recall and violations once and times whole passes', async () => {
  let calls = 0
  const m = await measure(
    3,
    (qi) => {
      calls++
      return qi === 2 ? Promise.resolve([5, 6]) : [qi, 9]
    },
    (qi) => [qi, 4],
    () => new Uint8Array([1, 1, 1, 1, 1, 1, 1, 1, 1, 0]),
    { k: 2, minTimeMs: 0, maxPasses: 3 },
  )
  assert.equal(m.passes, 1)
  assert.equal(calls, 6)
  assert.equal(m.recall, (0.5 + 0.5 + 0) / 3)
  assert.equal(m.violations, 2)
  assert.ok(m.qps > 0 && m.p50Ms <= m.p99Ms)
})
