// @ts-check
// Tests of the peer benchmark's summary and Markdown (node --test bench/lib/).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { peersMarkdown, summarize } from './peers-report.mjs'

/**
 * @param {string} label
 * @param {[number, number, number][]} pts param, recall, qps
 * @returns {import('./peer-worker.mjs').Curve}
 */
function curve(label, pts) {
  return {
    label,
    engine: label,
    param: 'ef',
    points: pts.map(([param, recall, qps]) => ({
      param,
      recall,
      qps,
      p50Ms: 1,
      p99Ms: 2,
      passes: 1,
      queries: 10,
    })),
  }
}

const curves = [
  curve('quiver', [
    [10, 0.9, 900],
    [64, 0.99, 300],
  ]),
  curve('quiver (index)', [
    [10, 0.9, 1000],
    [64, 0.99, 300],
  ]),
  curve('hnswlib-node', [
    [10, 0.9, 450],
    [64, 0.95, 200],
  ]),
  { ...curve('orama', [[0, 1, 10]]), param: /** @type {const} */ ('none') },
]

test('summarize: API overhead per ef, ratios against quiver, Orama compared at the recall Quiver reaches', () => {
  const s = summarize(curves)
  assert.deepEqual(
    s.apiOverhead.map((o) => [o.ef, Math.round(o.overhead * 1000) / 1000]),
    [
      [10, 0.1],
      [64, 0],
    ],
  )
  const h = s.atRecall.find((r) => r.label === 'hnswlib-node')
  assert.equal(h?.ratio[0], 2)
  assert.equal(h?.qps[2], null)
  assert.equal(s.orama?.quiverRecall, 0.99)
  assert.ok(Math.abs((s.orama?.ratio ?? 0) - 30) < 1e-9)
})

test('peersMarkdown shows skipped peers with their reason and "not reached" cells', () => {
  const md = peersMarkdown({
    date: 'd',
    machine: { cpu: 'c', cores: 2, os: 'linux', node: 'v20' },
    command: 'npm run bench',
    dataset: { name: 'x', n: 100, dim: 4, metric: 'l2', queries: 10 },
    params: { k: 10, m: 16, efConstruct: 200, minTimeS: 1 },
    groundTruth: 'gt',
    peers: { quiver: { state: 'ok', version: '0.1.0' }, usearch: { state: 'skipped', reason: 'no binary' } },
    notes: [],
    builds: [],
    curves,
    summary: summarize(curves),
    svg: 'bench-x.svg',
  })
  assert.match(md, /usearch: \*\*skipped\*\* \(no binary\)/)
  assert.match(md, /\| hnswlib-node \| 450 \| 200 \| not reached \| 2\.00x \| 2\.44x \| – \|/)
  assert.match(md, /!\[recall vs QPS, x\]\(bench-x\.svg\)/)
})
