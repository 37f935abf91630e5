// @ts-check
// Tests of the recall-vs-QPS SVG chart (node --test bench/lib/).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { recallQpsSvg } from './plot.mjs'

/** @param {string} svg */
function seriesCircles(svg) {
  const groups = [...svg.matchAll(/<g class="series" data-label="([^"]*)">([\s\S]*?)<\/g>/g)]
  return groups.map((g) => ({
    label: g[1],
    circles: [...(g[2] ?? '').matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((c) => ({
      cx: Number(c[1]),
      cy: Number(c[2]),
    })),
    line: (g[2] ?? '').includes('<polyline'),
  }))
}

test('one group per series with its points; higher recall is further right, higher QPS higher up', () => {
  const svg = recallQpsSvg(
    [
      {
        label: 'quiver',
        points: [
          { recall: 0.99, qps: 500 },
          { recall: 0.9, qps: 5000 },
        ],
      },
      { label: 'orama', points: [{ recall: 1, qps: 10 }] },
    ],
    { title: 'glove' },
  )
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'))
  assert.ok(svg.trimEnd().endsWith('</svg>'))
  const s = seriesCircles(svg)
  assert.deepEqual(
    s.map((g) => [g.label, g.circles.length, g.line]),
    [
      ['quiver', 2, true],
      ['orama', 1, false],
    ],
  )
  const [lo, hi] = s[0]?.circles ?? []
  assert.ok(lo && hi && lo.cx < hi.cx, 'sorted by recall, x increasing')
  assert.ok(lo.cy < hi.cy, '5000 QPS is drawn above 500 QPS')
  const orama = s[1]?.circles[0]
  assert.ok(orama && orama.cy > hi.cy, '10 QPS is below 500 QPS')
  assert.match(svg, />10k</)
  assert.match(svg, />10</)
})

test('labels are escaped; undrawable points and points below minRecall are left out', () => {
  const svg = recallQpsSvg(
    [
      {
        label: 'a<b>&"c"',
        points: [
          { recall: 0.95, qps: 100 },
          { recall: Number.NaN, qps: 1 },
          { recall: 0.97, qps: 0 },
          { recall: 0.3, qps: 50 },
        ],
      },
    ],
    { title: 'x & y' },
  )
  assert.ok(!svg.includes('a<b>'))
  assert.ok(svg.includes('x &#38; y'))
  assert.equal(seriesCircles(svg)[0]?.circles.length, 1)
})

test('no drawable point at all is a RangeError', () => {
  assert.throws(() => recallQpsSvg([{ label: 'x', points: [] }], { title: 't' }), RangeError)
})
