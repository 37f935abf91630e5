// @ts-check
// Report of the filtered benchmark: the row verdicts (bars) and the Markdown rendering of the JSON report.

/** recall@10 bar of every filtered row. */
export const RECALL_BAR = 0.95
/** QPS_filtered / QPS_unfiltered bar of the selectivity sweep (no cliff). */
export const RATIO_BAR = 1 / 3

/**
 * @typedef {import('./timing.mjs').Measurement & { ratio: number }} EngineRow
 * A measurement plus `ratio` = its QPS / the same engine's unfiltered QPS at the same ef.
 */

/**
 * @typedef {object} Row
 * @property {number} ef
 * @property {string} name filter label or sigmod query type
 * @property {string} kind
 * @property {number} expectedSelectivity
 * @property {number} selectivity measured fraction of base rows the filter allows (mean over queries)
 * @property {number} queries
 * @property {number} sparseQueries queries with fewer than k matching rows
 * @property {EngineRow} quiver
 * @property {EngineRow | null} hnswlib
 * @property {number | null} quiverVsHnswlib Quiver QPS / hnswlib QPS
 * @property {boolean} pass
 * @property {string[]} failures which bars failed
 */

/**
 * Checks Quiver's row against the bars: recall >= RECALL_BAR, no filter violations, and (when
 * `checkRatio`, i.e. the selectivity sweep) QPS ratio >= RATIO_BAR.
 * @param {EngineRow} q
 * @param {boolean} checkRatio
 * @returns {{ pass: boolean, failures: string[] }}
 */
export function verdict(q, checkRatio) {
  const failures = []
  if (!(q.recall >= RECALL_BAR)) failures.push(`recall ${q.recall.toFixed(3)} < ${RECALL_BAR}`)
  if (q.violations > 0) failures.push(`${q.violations} hits break the filter`)
  if (checkRatio && !(q.ratio >= RATIO_BAR)) failures.push(`QPS ratio ${q.ratio.toFixed(2)} < 1/3`)
  return { pass: failures.length === 0, failures }
}

/** @param {number} x */
function pct(x) {
  if (x >= 0.1) return `${(x * 100).toFixed(0)}%`
  if (x >= 0.01) return `${(x * 100).toFixed(1)}%`
  return `${(x * 100).toFixed(2)}%`
}

/** @param {number} x */
function qps(x) {
  return Math.round(x).toLocaleString('en-US')
}

/** @param {EngineRow} e */
function lat(e) {
  return `${e.p50Ms.toFixed(2)} / ${e.p99Ms.toFixed(2)}`
}

/**
 * A Markdown table per ef value of `rows`.
 * @param {Row[]} rows
 * @param {boolean} withPeer show the hnswlib-node columns
 * @param {boolean} checkRatio whether the QPS-ratio bar applies (shown in the header)
 * @returns {string}
 */
export function rowsMarkdown(rows, withPeer, checkRatio) {
  const out = []
  const efs = [...new Set(rows.map((r) => r.ef))]
  for (const ef of efs) {
    const h = ['filter', 'selectivity', 'queries', 'recall@10', 'QPS', 'p50 / p99 ms', 'QPS ratio']
    if (withPeer)
      h.push('hnswlib recall@10', 'hnswlib QPS', 'hnswlib p50 / p99 ms', 'hnswlib ratio', 'Quiver / hnswlib')
    h.push(checkRatio ? 'bar (recall, ratio)' : 'bar (recall)')
    out.push(
      `#### ef = ${ef}`,
      '',
      `| ${h.join(' | ')} |`,
      `| --- | ${h
        .slice(1)
        .map(() => '---:')
        .join(' | ')} |`,
    )
    for (const r of rows.filter((x) => x.ef === ef)) {
      const cells = [
        r.name,
        pct(r.selectivity),
        String(r.queries),
        r.quiver.recall.toFixed(4),
        qps(r.quiver.qps),
        lat(r.quiver),
      ]
      cells.push(r.quiver.ratio.toFixed(2))
      if (withPeer) {
        const p = r.hnswlib
        cells.push(
          p === null ? '–' : p.recall.toFixed(4),
          p === null ? '–' : qps(p.qps),
          p === null ? '–' : lat(p),
          p === null ? '–' : p.ratio.toFixed(2),
          r.quiverVsHnswlib === null ? '–' : `${r.quiverVsHnswlib.toFixed(2)}x`,
        )
      }
      cells.push(r.pass ? 'PASS' : `**FAIL** (${r.failures.join('; ')})`)
      out.push(`| ${cells.join(' | ')} |`)
    }
    out.push('')
  }
  return out.join('\n')
}

/** @param {Record<string, number> | null} fields */
function unindexed(fields) {
  if (fields === null) return 'not reported by this build'
  const keys = Object.keys(fields)
  return keys.length === 0 ? 'none' : keys.map((k) => `${k} (${fields[k]} requests)`).join(', ')
}

/**
 * The whole report of one dataset as Markdown: context lines, then the tables.
 * @param {any} report the JSON report of filtered.mjs
 * @returns {string}
 */
export function reportMarkdown(report) {
  const d = report.dataset
  const peer = report.peers['hnswlib-node']
  const q = report.build.quiver
  const lines = [
    `### Filtered search: ${d.name} (${d.n.toLocaleString('en-US')} x ${d.dim}, ${d.metric})`,
    '',
    `- date: ${report.date}`,
    `- machine: ${report.machine.cpu}, ${report.machine.cores} cores, ${report.machine.os}, Node ${report.machine.node}`,
    `- command: \`${report.command}\``,
    `- index: HNSW M = ${report.params.m}, ef_construction = ${report.params.efConstruct}, both engines; k = ${report.params.k}; ${d.queries} queries, one at a time on one thread; each configuration timed over whole passes for >= ${report.params.minTimeS} s after a warm-up pass`,
    `- workload: ${report.workload}`,
    `- ground truth: ${report.groundTruth.source}${report.groundTruth.check ? `; ${report.groundTruth.check}` : ''}`,
    `- Quiver: build ${(q.buildMs / 1000).toFixed(1)} s; payload indexes ${q.indexState.state}${q.indexState.error ? ` (${q.indexState.error})` : ''}${
      Object.keys(q.payloadSchema ?? {}).length > 0
        ? `: ${Object.entries(q.payloadSchema)
            .map(([k, v]) => `${k} (${/** @type {any} */ (v).dataType})`)
            .join(', ')}`
        : ''
    }`,
    `- Quiver fields filtered without an index (info().unindexedFilterFields): ${unindexed(q.unindexedFilterFields)}`,
    `- hnswlib-node: ${peer.state === 'ok' ? `${peer.version}, build ${(report.build.hnswlib.buildMs / 1000).toFixed(1)} s, filter = JS callback over a precomputed Uint8Array` : `skipped (${peer.reason})`}`,
    `- recall@10 over min(10, matching rows) per query; QPS ratio = QPS with the filter / QPS unfiltered (${report.baseline}), same engine and ef; bars: recall@10 >= ${RECALL_BAR}${report.ratioBar ? ', QPS ratio >= 1/3' : ''}, no hit breaking the filter`,
    `- result: ${report.summary}`,
    '',
    rowsMarkdown(report.rows, peer.state === 'ok', report.ratioBar),
  ]
  return lines.join('\n')
}
