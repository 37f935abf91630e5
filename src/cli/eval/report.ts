// The files `quiver eval` writes (docs/eval.md): report.json (the numbers), report.md (the same as
// tables) and SVG charts drawn with Vega-Lite (recall vs QPS, the latency histogram, throughput vs
// concurrent clients), rendered headless (no browser, no canvas).
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import * as vega from 'vega'
import * as vl from 'vega-lite'
import type { PointId } from '../../types.js'
import type { LatencyStats, Recommendation, SettingResult, SweepRow } from './measure.js'
import type { ColdStart } from './target.js'

/** Version of report.json's layout; bumped when a field changes meaning or goes. */
export const REPORT_FORMAT = 1

export interface TargetRecallRow extends SettingResult {
  target_recall: number
}

export interface SelectivityRow {
  /** The fraction aimed at. */
  target: number
  /** The fraction of points the filter matches (exact count / points). */
  selectivity: number
  bucket: string
  matching: number
  filter: unknown
  /** Queries measured (their truth is the exact filtered search). */
  queries: number
  sweep: SweepRow[]
  target_recall: TargetRecallRow[]
}

export interface EvalReport {
  format: number
  created_at: string
  command: string
  target: { label: string; server: string; version: string }
  collection: { name: string; points: number; vector: string; dimension: number; distance: string }
  k: number
  queries: {
    source: 'sample' | 'file'
    count: number
    seed: number | null
    self_excluded: number
    /** The sampled points' ids (a `--queries` file of `{"id": ...}` lines runs them again); null for a file. */
    ids: PointId[] | null
  }
  /** recall@k with the collection's own settings (no ef given). */
  recall_at_k: number
  default: SettingResult
  exact: LatencyStats
  sweep: SweepRow[]
  /** Quiver's `target_recall` (absent from other servers: null). */
  target_recall: TargetRecallRow[] | null
  concurrency: (LatencyStats & { clients: number; ef: number | null; queries: number; seconds: number })[]
  selectivity: { field: string; sample: number; buckets: SelectivityRow[] } | null
  write_load: {
    scratch_collection: string
    seconds: number
    batch: number
    points_written: number
    points_per_s: number
    ef: number | null
    baseline: LatencyStats
    during: LatencyStats & { queries: number }
  } | null
  /** null when the phase failed (see `errors`). */
  cold_start: ColdStart | null
  recommendation: Recommendation
  /** Latencies (ms) of the recommended setting's run, for the histogram. */
  latencies_ms: number[]
  /** Phases that failed (their sections are null); the others were measured. */
  errors: { phase: string; message: string }[]
  seconds: number
}

const f = (x: number | null | undefined, digits = 2): string =>
  x === null || x === undefined || !Number.isFinite(x) ? '-' : x.toFixed(digits)
const q = (x: number): string => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '-')

function table(headers: string[], rows: string[][]): string {
  return [
    `| ${headers.join(' | ')} |`,
    `| ${headers.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`,
    ...rows.map((r) => `| ${r.join(' | ')} |`),
  ].join('\n')
}

const settingRow = (label: string, r: SettingResult): string[] => [
  label,
  f(r.recall, 4),
  q(r.qps),
  f(r.p50_ms),
  f(r.p95_ms),
  f(r.p99_ms),
]
const SETTING_HEADERS = ['setting', 'recall@k', 'QPS', 'p50 ms', 'p95 ms', 'p99 ms']

/** report.md: the report as Markdown tables, with the charts linked. */
export function markdown(r: EvalReport): string {
  const out: string[] = []
  out.push(`# quiver eval: ${r.collection.name}`)
  out.push('')
  out.push(
    `${r.created_at}; ${r.target.label} (${r.target.server} ${r.target.version}); ${q(r.collection.points)} points, vector ${JSON.stringify(r.collection.vector)} (${r.collection.dimension} dimensions, ${r.collection.distance}); ${r.queries.count} queries (${r.queries.source === 'sample' ? `points sampled from the collection, seed ${r.queries.seed}` : 'from the queries file'}${r.queries.self_excluded > 0 ? `; ${r.queries.self_excluded} made from a point leave it out of truth and results` : ''}); recall@${r.k} against exact search. Command: \`${r.command}\`.`,
  )
  out.push('')
  out.push('## Recommendation')
  out.push('')
  out.push(r.recommendation.reason)
  out.push('')
  out.push('## Recall and latency, one client')
  out.push('')
  out.push(
    table(SETTING_HEADERS, [
      settingRow("collection's default", r.default),
      ['exact', '1.0000', q(r.exact.qps), f(r.exact.p50_ms), f(r.exact.p95_ms), f(r.exact.p99_ms)],
      ...r.sweep.map((s) => settingRow(`ef ${s.ef}`, s)),
      ...(r.target_recall ?? []).map((s) => settingRow(`target_recall ${s.target_recall}`, s)),
    ]),
  )
  out.push('')
  out.push('![recall vs QPS](recall-qps.svg)')
  out.push('')
  out.push('![latency histogram](latency-histogram.svg)')
  out.push('')
  if (r.concurrency.length > 0) {
    out.push('## Concurrent clients')
    out.push('')
    out.push(
      table(
        ['clients', 'ef', 'QPS', 'p50 ms', 'p95 ms', 'p99 ms', 'queries'],
        r.concurrency.map((c) => [
          String(c.clients),
          c.ef === null ? 'default' : String(c.ef),
          q(c.qps),
          f(c.p50_ms),
          f(c.p95_ms),
          f(c.p99_ms),
          String(c.queries),
        ]),
      ),
    )
    out.push('')
    out.push('![throughput vs clients](concurrency.svg)')
    out.push('')
  }
  if (r.selectivity !== null) {
    out.push(`## Filtered search: selectivity sweep over \`${r.selectivity.field}\``)
    out.push('')
    if (r.selectivity.buckets.length === 0)
      out.push(
        `No filter could be made: the field held no numbers, strings or booleans in a sample of ${r.selectivity.sample} points.`,
      )
    for (const b of r.selectivity.buckets) {
      out.push(
        `### ${f(b.selectivity * 100, 2)}% of the points (${q(b.matching)}; bucket ${b.bucket}; aimed at ${f(b.target * 100, 1)}%)`,
      )
      out.push('')
      out.push(`Filter: \`${JSON.stringify(b.filter)}\`; ${b.queries} queries.`)
      out.push('')
      out.push(
        table(SETTING_HEADERS, [
          ...b.sweep.map((s) => settingRow(`ef ${s.ef}`, s)),
          ...b.target_recall.map((s) => settingRow(`target_recall ${s.target_recall}`, s)),
        ]),
      )
      out.push('')
    }
  }
  if (r.write_load !== null) {
    const w = r.write_load
    out.push('## Latency under a concurrent write load')
    out.push('')
    out.push(
      `One writer upserted ${q(w.points_written)} points in batches of ${w.batch} (${q(w.points_per_s)} points/s, wait=true) into the scratch collection \`${w.scratch_collection}\` (created for this and dropped) for ${f(w.seconds, 1)} s, while one client searched the collection at ${w.ef === null ? "the collection's default" : `ef ${w.ef}`}.`,
    )
    out.push('')
    out.push(
      table(
        ['', 'QPS', 'p50 ms', 'p95 ms', 'p99 ms'],
        [
          [
            'without writes',
            q(w.baseline.qps),
            f(w.baseline.p50_ms),
            f(w.baseline.p95_ms),
            f(w.baseline.p99_ms),
          ],
          ['during writes', q(w.during.qps), f(w.during.p50_ms), f(w.during.p95_ms), f(w.during.p99_ms)],
        ],
      ),
    )
    out.push('')
  }
  if (r.cold_start !== null) {
    out.push('## Cold start')
    out.push('')
    out.push(
      `${r.cold_start.method}: ${r.cold_start.open_ms === null ? '' : `open ${f(r.cold_start.open_ms, 1)} ms, `}first query ${f(r.cold_start.first_query_ms, 2)} ms.`,
    )
    out.push('')
  }
  if (r.errors.length > 0) {
    out.push('## Phases that failed')
    out.push('')
    for (const e of r.errors) out.push(`- ${e.phase}: ${e.message}`)
    out.push('')
  }
  out.push(`The evaluation took ${f(r.seconds, 1)} s.`)
  out.push('')
  return out.join('\n')
}

/** A Vega-Lite spec rendered to SVG text, headless. */
export async function renderSvg(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json'

/** The charts' specs (exported for the tests and for a dashboard to draw the same). */
export function chartSpecs(
  r: EvalReport,
): Record<'recall-qps' | 'latency-histogram' | 'concurrency', vl.TopLevelSpec> {
  const points: { series: string; setting: string; recall: number; qps: number }[] = []
  for (const s of r.sweep)
    points.push({ series: 'unfiltered, ef', setting: `ef ${s.ef}`, recall: s.recall, qps: s.qps })
  for (const s of r.target_recall ?? [])
    points.push({
      series: 'unfiltered, target_recall',
      setting: `target ${s.target_recall}`,
      recall: s.recall,
      qps: s.qps,
    })
  for (const b of r.selectivity?.buckets ?? [])
    for (const s of b.sweep)
      points.push({
        series: `filtered ${f(b.selectivity * 100, 1)}%, ef`,
        setting: `ef ${s.ef}`,
        recall: s.recall,
        qps: s.qps,
      })
  const finite = points.filter((p) => Number.isFinite(p.recall) && p.qps > 0)
  const minRecall = Math.max(0, Math.floor(Math.min(1, ...finite.map((p) => p.recall)) * 20) / 20)
  return {
    'recall-qps': {
      $schema: SCHEMA,
      title: `${r.collection.name}: recall@${r.k} vs QPS (one client)`,
      width: 520,
      height: 340,
      data: { values: finite },
      mark: { type: 'line', point: true },
      encoding: {
        x: {
          field: 'recall',
          type: 'quantitative',
          title: `recall@${r.k}`,
          scale: { domain: [minRecall, 1] },
        },
        y: { field: 'qps', type: 'quantitative', title: 'queries per second', scale: { type: 'log' } },
        color: { field: 'series', type: 'nominal', title: null, legend: { labelLimit: 320 } },
        order: { field: 'recall', type: 'quantitative' },
        tooltip: [{ field: 'setting' }, { field: 'recall' }, { field: 'qps' }],
      },
    },
    'latency-histogram': {
      $schema: SCHEMA,
      title: `${r.collection.name}: latency at ${r.recommendation.ef === null ? "the collection's default" : `ef ${r.recommendation.ef}`} (${r.latencies_ms.length} queries)`,
      width: 520,
      height: 300,
      data: { values: r.latencies_ms.map((ms) => ({ ms })) },
      mark: 'bar',
      encoding: {
        x: { field: 'ms', type: 'quantitative', bin: { maxbins: 40 }, title: 'latency (ms)' },
        y: { aggregate: 'count', type: 'quantitative', title: 'queries' },
      },
    },
    concurrency: {
      $schema: SCHEMA,
      title: `${r.collection.name}: throughput and p99 vs concurrent clients`,
      width: 520,
      height: 300,
      data: { values: r.concurrency.map((c) => ({ clients: c.clients, qps: c.qps, p99_ms: c.p99_ms })) },
      encoding: { x: { field: 'clients', type: 'ordinal', title: 'concurrent clients' } },
      layer: [
        {
          mark: { type: 'bar', opacity: 0.7 },
          encoding: { y: { field: 'qps', type: 'quantitative', title: 'queries per second' } },
        },
        {
          mark: { type: 'line', point: true, color: '#d62728' },
          encoding: {
            y: {
              field: 'p99_ms',
              type: 'quantitative',
              title: 'p99 latency (ms)',
              axis: { titleColor: '#d62728' },
            },
          },
        },
      ],
      resolve: { scale: { y: 'independent' } },
    },
  }
}

/** Writes report.json, report.md and the SVG charts into `dir` (created); returns the paths written. */
export async function writeReport(dir: string, r: EvalReport): Promise<string[]> {
  await mkdir(dir, { recursive: true })
  const written: string[] = []
  const put = async (name: string, text: string) => {
    const path = join(dir, name)
    await writeFile(path, text)
    written.push(path)
  }
  await put('report.json', `${JSON.stringify(r, null, 2)}\n`)
  await put('report.md', markdown(r))
  const specs = chartSpecs(r)
  for (const [name, spec] of Object.entries(specs)) {
    if (name === 'concurrency' && r.concurrency.length === 0) continue
    await put(`${name}.svg`, await renderSvg(spec))
  }
  return written
}
