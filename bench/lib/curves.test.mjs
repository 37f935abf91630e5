// @ts-check
// Tests of the Pareto frontier, the QPS-at-recall interpolation and the ratio table (node --test bench/lib/).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { paretoFrontier, qpsAtRecall, recallTable } from './curves.mjs'

const near = (/** @type {number | null} */ a, /** @type {number} */ b) =>
  assert.ok(a !== null && Math.abs(a - b) < 1e-9 * Math.max(1, Math.abs(b)), `${a} != ${b}`)

test('paretoFrontier drops dominated, duplicate-recall and invalid points, sorted by recall', () => {
  const f = paretoFrontier([
    { recall: 0.9, qps: 1000 },
    { recall: 0.8, qps: 900 }, // dominated by 0.9 @ 1000
    { recall: 0.95, qps: 500 },
    { recall: 0.95, qps: 400 }, // same recall, slower
    { recall: 0.99, qps: 100 },
    { recall: Number.NaN, qps: 5000 },
    { recall: 0.5, qps: 0 },
  ])
  assert.deepEqual(f, [
    { recall: 0.9, qps: 1000 },
    { recall: 0.95, qps: 500 },
    { recall: 0.99, qps: 100 },
  ])
})

test('qpsAtRecall interpolates log(QPS) linearly between the bracketing frontier points', () => {
  const pts = [
    { recall: 0.9, qps: 1000 },
    { recall: 1.0, qps: 10 },
  ]
  near(qpsAtRecall(pts, 0.95), 100)
  near(qpsAtRecall(pts, 0.9), 1000)
  near(qpsAtRecall(pts, 1.0), 10)
})

test('qpsAtRecall: below the curve the fastest point, above it null (not reached)', () => {
  const pts = [
    { recall: 0.92, qps: 800 },
    { recall: 0.97, qps: 300 },
  ]
  assert.equal(qpsAtRecall(pts, 0.9), 800)
  assert.equal(qpsAtRecall(pts, 0.99), null)
  assert.equal(qpsAtRecall([], 0.5), null)
})

test('qpsAtRecall ignores a dominated point that would bend the curve down', () => {
  const pts = [
    { recall: 0.9, qps: 1000 },
    { recall: 0.94, qps: 50 }, // noisy slow point, dominated by 0.96 @ 500
    { recall: 0.96, qps: 500 },
  ]
  assert.ok(/** @type {number} */ (qpsAtRecall(pts, 0.95)) > 500)
})

test('recallTable gives reference / curve ratios and null where a side does not reach the target', () => {
  const rows = recallTable(
    [
      {
        label: 'quiver',
        points: [
          { recall: 0.9, qps: 2000 },
          { recall: 0.99, qps: 400 },
        ],
      },
      { label: 'peer', points: [{ recall: 0.95, qps: 500 }] },
    ],
    'quiver',
    [0.9, 0.99],
  )
  assert.deepEqual(rows[0]?.ratio, [1, 1])
  assert.deepEqual(rows[1]?.qps, [500, null])
  assert.deepEqual(rows[1]?.ratio, [4, null])
})
