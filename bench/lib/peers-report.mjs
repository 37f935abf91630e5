// @ts-check
// Summary and Markdown of the side-by-side peer benchmark (bench/run.mjs): QPS at target recalls with
// Quiver / peer ratios, the embedded API's overhead over the raw index, the brute-force peer ratio.
import { qpsAtRecall, recallTable, TARGET_RECALLS } from './curves.mjs'

/**
 * @typedef {import('./peer-worker.mjs').Curve} Curve
 * @typedef {import('./peer-worker.mjs').Build} Build
 */

/** The curve the ratios are taken against: Quiver through its embedded API. */
export const REFERENCE = 'quiver'
/** Quiver's raw-index curve (same build). */
export const RAW = 'quiver (index)'

/**
 * Derived numbers of one dataset: QPS at each target recall with Quiver / curve ratios; per ef the
 * embedded API's overhead (1 - QPS_api / QPS_index); Quiver at Orama's recall vs Orama.
 * @param {readonly Curve[]} curves
 */
export function summarize(curves) {
  const atRecall = recallTable(curves, REFERENCE, TARGET_RECALLS)
  const api = curves.find((c) => c.label === REFERENCE)
  const raw = curves.find((c) => c.label === RAW)
  const apiOverhead =
    api === undefined || raw === undefined
      ? []
      : api.points.flatMap((p) => {
          const r = raw.points.find((x) => x.param === p.param)
          return r === undefined
            ? []
            : [{ ef: p.param, apiQps: p.qps, indexQps: r.qps, overhead: 1 - p.qps / r.qps }]
        })
  const oramaPoint = curves.find((c) => c.label === 'orama')?.points[0]
  let orama = null
  if (oramaPoint !== undefined && api !== undefined) {
    const best = api.points.reduce(
      (a, b) => (b.recall > a.recall ? b : a),
      /** @type {any} */ (api.points[0]),
    )
    const target = Math.min(oramaPoint.recall, best?.recall ?? 0)
    const quiverQps = qpsAtRecall(api.points, target)
    orama = {
      recall: oramaPoint.recall,
      qps: oramaPoint.qps,
      quiverRecall: target,
      quiverQps,
      ratio: quiverQps === null ? null : quiverQps / oramaPoint.qps,
    }
  }
  return { targets: TARGET_RECALLS, atRecall, apiOverhead, orama }
}

/** @param {number | null | undefined} x */
function qps(x) {
  return x === null || x === undefined || !Number.isFinite(x)
    ? 'not reached'
    : Math.round(x).toLocaleString('en-US')
}

/** @param {number | null | undefined} x */
function ratio(x) {
  return x === null || x === undefined || !Number.isFinite(x) ? '–' : `${x.toFixed(2)}x`
}

/** @param {number} b */
const mib = (b) => (b / 2 ** 20).toFixed(1)

/**
 * @param {string[]} h
 * @param {string[][]} rows
 */
function table(h, rows) {
  return [
    `| ${h.join(' | ')} |`,
    `| --- | ${h
      .slice(1)
      .map(() => '---:')
      .join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

/**
 * The whole report of one dataset as Markdown (for BENCHMARKS.md).
 * @param {any} report the JSON report written by bench/run.mjs
 * @returns {string}
 */
export function peersMarkdown(report) {
  const d = report.dataset
  const p = report.params
  const s = report.summary
  const peerLines = Object.entries(report.peers).map(([name, st]) => {
    const x = /** @type {any} */ (st)
    return `  - ${name}: ${x.state === 'ok' ? `${x.version}` : `**${x.state}** (${x.reason})`}`
  })
  const lines = [
    `### Quiver and peers: ${d.name} (${d.n.toLocaleString('en-US')} x ${d.dim}, ${d.metric})`,
    '',
    `- date: ${report.date}`,
    `- machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.os}, Node ${report.machine.node}`,
    `- command: \`${report.command}\``,
    `- every engine: same base vectors and ${d.queries.toLocaleString('en-US')} queries, k = ${p.k}, one thread, one query at a time, each in its own process, one after another; HNSW M = ${p.m}, ef_construction = ${p.efConstruct}; each operating point: a warm-up pass (scores recall), then whole timed passes for >= ${p.minTimeS} s`,
    `- ground truth: ${report.groundTruth}`,
    '- engines:',
    ...peerLines,
    ...report.notes.map((/** @type {string} */ n) => `- ${n}`),
    '',
    `#### QPS at recall@${p.k} (log-QPS interpolated on each engine's Pareto frontier)`,
    '',
    table(
      [
        'engine',
        ...s.targets.map((/** @type {number} */ t) => `QPS @ ${t.toFixed(2)}`),
        ...s.targets.map((/** @type {number} */ t) => `Quiver / engine @ ${t.toFixed(2)}`),
      ],
      s.atRecall
        .filter((/** @type {any} */ r) => r.label !== 'orama')
        .map((/** @type {any} */ r) => [r.label, ...r.qps.map(qps), ...r.ratio.map(ratio)]),
    ),
    '',
  ]
  if (s.orama !== null) {
    lines.push(
      `Brute-force pure-JS peer (Orama, one operating point): recall@${p.k} ${s.orama.recall.toFixed(4)} at ${qps(s.orama.qps)} QPS; Quiver at recall ${s.orama.quiverRecall.toFixed(4)}${s.orama.quiverRecall < s.orama.recall ? " (its highest measured; Orama's recall not reached)" : ''}: ${qps(s.orama.quiverQps)} QPS, **${ratio(s.orama.ratio)}** (target >= 20x).`,
      '',
    )
  }
  if (s.apiOverhead.length > 0) {
    const worst = Math.max(...s.apiOverhead.map((/** @type {any} */ o) => o.overhead))
    lines.push(
      `Embedded API overhead (1 - QPS collection.search / QPS raw HnswIndex.search, same collection and ef): ${s.apiOverhead
        .map((/** @type {any} */ o) => `ef ${o.ef}: ${(o.overhead * 100).toFixed(1)}%`)
        .join(', ')}; worst ${(worst * 100).toFixed(1)}% (target <= 10%).`,
      '',
    )
  }
  lines.push(
    '#### Build',
    '',
    table(
      ['engine', 'build s', 'vectors/s', 'RSS growth MiB', 'RSS after MiB'],
      report.builds.map((/** @type {Build} */ b) => [
        b.label,
        (b.buildMs / 1000).toFixed(2),
        Math.round(b.vectorsPerSecond).toLocaleString('en-US'),
        mib(b.rssAfterBytes - b.rssBeforeBytes),
        mib(b.rssAfterBytes),
      ]),
    ),
    '',
    '#### Sweeps',
    '',
  )
  for (const c of /** @type {Curve[]} */ (report.curves)) {
    lines.push(`**${c.label}**${c.note ? ` (${c.note})` : ''}`, '')
    lines.push(
      table(
        [
          c.param === 'none' ? 'point' : c.param,
          `recall@${p.k}`,
          'QPS',
          'p50 ms',
          'p99 ms',
          'queries x passes',
        ],
        c.points.map((x) => [
          c.param === 'none' ? '–' : String(x.param),
          x.recall.toFixed(4),
          qps(x.qps),
          x.p50Ms.toFixed(3),
          x.p99Ms.toFixed(3),
          `${x.queries} x ${x.passes}`,
        ]),
      ),
      '',
    )
  }
  if (report.svg) lines.push(`![recall vs QPS, ${d.name}](${report.svg})`, '')
  return lines.join('\n')
}
