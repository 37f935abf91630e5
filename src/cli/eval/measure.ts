// The measurements of `quiver eval` (docs/eval.md), free of I/O beyond the EvalTarget: queries and
// their exact truth, recall@k and latency at a setting, throughput at N concurrent clients, and
// the selectivity filters and the recommendation. Pure helpers are exported for the unit tests.
import { readFile } from 'node:fs/promises'
import { seededRandom } from '../../quantization/kmeans.js'
import type { PointId } from '../../types.js'
import { percentile } from '../recall.js'
import type { EvalCollection, EvalSearch, EvalTarget, WireFilter } from './target.js'

/** One evaluation query: a vector, the id of the point it was taken from (left out of truth and results), a filter. */
export interface EvalQuery {
  vector: number[]
  exclude?: PointId
  filter?: WireFilter
}

/** Latency statistics of a run of searches, in ms (p50/p95/p99 nearest-rank) and queries per second. */
export interface LatencyStats {
  qps: number
  p50_ms: number
  p95_ms: number
  p99_ms: number
}

export interface SettingResult extends LatencyStats {
  /** Mean recall@k over the queries whose truth is not empty. */
  recall: number
}

/** A deterministic PRNG (mulberry32, the one k-means seeds with) for sampling with `--seed`. */
export const rng: (seed: number) => () => number = seededRandom

/** Reservoir sampling (Algorithm R): a uniform sample of at most `n` items of a stream fed to `add`. */
export function reservoir<T>(n: number, random: () => number): { add(x: T): void; items: T[] } {
  const items: T[] = []
  let seen = 0
  return {
    items,
    add(x) {
      seen++
      if (items.length < n) items.push(x)
      else {
        const j = Math.floor(random() * seen)
        if (j < n) items[j] = x
      }
    },
  }
}

const MAX_QUERY_LINE = 1 << 24
/** The most queries a file may hold (as `--sample`). */
const MAX_QUERIES = 100_000

/** One query of a queries file; `where` is `FILE:LINE`, for errors. */
export type QueryLine = ({ vector: number[] } | { id: PointId }) & { filter?: WireFilter; where: string }

/**
 * Reads a JSONL queries file: per line a JSON array of numbers (a vector), or an object with
 * `vector` (array of numbers) or `id` (a point id: its vector is fetched, and the point is left
 * out of truth and results), and optionally `filter` (Qdrant's filter JSON). Blank lines are
 * skipped. Throws INVALID_ARGUMENT-like Errors naming the line; `dimension` is checked by the caller.
 */
export async function readQueriesFile(path: string): Promise<QueryLine[]> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read --queries ${path}: ${(err as Error).message}`)
  }
  const out: QueryLine[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim()
    if (line === '') continue
    const where = `${path}:${i + 1}`
    if (out.length >= MAX_QUERIES) throw new Error(`${where}: more than ${MAX_QUERIES} queries`)
    if (line.length > MAX_QUERY_LINE) throw new Error(`${where}: line longer than 16 MiB`)
    let v: unknown
    try {
      v = JSON.parse(line)
    } catch (err) {
      throw new Error(`${where}: not JSON: ${(err as Error).message}`)
    }
    const numbers = (x: unknown): number[] | undefined =>
      Array.isArray(x) && x.length > 0 && x.every((n) => typeof n === 'number' && Number.isFinite(n))
        ? (x as number[])
        : undefined
    if (Array.isArray(v)) {
      const vector = numbers(v)
      if (vector === undefined)
        throw new Error(`${where}: a vector must be a non-empty array of finite numbers`)
      out.push({ vector, where })
      continue
    }
    if (v === null || typeof v !== 'object')
      throw new Error(`${where}: expected a vector (array of numbers) or an object with "vector" or "id"`)
    const o = v as { vector?: unknown; id?: unknown; filter?: unknown }
    let filter: WireFilter | undefined
    if (o.filter !== undefined && o.filter !== null) {
      if (typeof o.filter !== 'object' || Array.isArray(o.filter))
        throw new Error(`${where}: "filter" must be an object (Qdrant's filter JSON)`)
      filter = o.filter as WireFilter
    }
    const f = filter === undefined ? {} : { filter }
    if (o.vector !== undefined) {
      if (o.id !== undefined) throw new Error(`${where}: give "vector" or "id", not both`)
      const vector = numbers(o.vector)
      if (vector === undefined)
        throw new Error(`${where}: "vector" must be a non-empty array of finite numbers`)
      out.push({ vector, ...f, where })
    } else if (
      (typeof o.id === 'number' && Number.isSafeInteger(o.id) && o.id >= 0) ||
      (typeof o.id === 'string' && o.id.length > 0)
    )
      out.push({ id: o.id, ...f, where })
    else throw new Error(`${where}: expected "vector" (array of numbers) or "id" (a point id)`)
  }
  if (out.length === 0) throw new Error(`--queries ${path} holds no queries`)
  return out
}

/** The ids of a search for `q` at `s`, the query's own point left out, at most `k`. */
async function searchFor(
  target: EvalTarget,
  c: EvalCollection,
  q: EvalQuery,
  k: number,
  s: Omit<EvalSearch, 'vector' | 'limit'>,
): Promise<PointId[]> {
  const filter = s.filter ?? q.filter
  const ids = await target.search(c, {
    ...s,
    vector: q.vector,
    limit: k + (q.exclude === undefined ? 0 : 1),
    ...(filter === undefined ? {} : { filter }),
  })
  const kept = q.exclude === undefined ? ids : ids.filter((id) => id !== q.exclude)
  return kept.slice(0, k)
}

/** The exact top-k of each query (its own point left out); `filter`, when given, replaces the queries' own. */
export async function exactTruth(
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  k: number,
  filter?: WireFilter,
  tick?: () => void,
): Promise<PointId[][]> {
  const out: PointId[][] = []
  for (const q of queries) {
    out.push(await searchFor(target, c, q, k, { exact: true, ...(filter === undefined ? {} : { filter }) }))
    tick?.()
  }
  return out
}

/** recall@k of one result against its truth: |result ∩ truth| / |truth|; undefined for an empty truth. */
export function recallOf(result: readonly PointId[], truth: readonly PointId[]): number | undefined {
  if (truth.length === 0) return undefined
  const want = new Set<PointId>(truth)
  let hit = 0
  for (const id of result) if (want.delete(id)) hit++
  return hit / truth.length
}

/** Latency statistics of per-query times (ms) over `elapsedMs` of wall time. */
export function latencyStats(times: readonly number[], elapsedMs: number): LatencyStats {
  const sorted = [...times].sort((a, b) => a - b)
  return {
    qps: elapsedMs > 0 ? (times.length * 1000) / elapsedMs : 0,
    p50_ms: percentile(sorted, 50),
    p95_ms: percentile(sorted, 95),
    p99_ms: percentile(sorted, 99),
  }
}

/**
 * Runs every query once, one at a time, at setting `s` (`ef`, `targetRecall`, `filter`), after the
 * first `warmup` of them unmeasured: mean recall@k against `truth`, latency, QPS, and `times`, each
 * query's latency in ms.
 */
export async function measureSetting(
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  truth: readonly PointId[][],
  k: number,
  s: Omit<EvalSearch, 'vector' | 'limit'>,
  tick?: () => void,
  warmup = 0,
): Promise<SettingResult & { times: number[] }> {
  // unmeasured first: a setting's first searches may pay for what later ones reuse (Quiver's
  // target_recall calibrates on first use)
  for (const q of queries.slice(0, warmup)) await searchFor(target, c, q, k, s)
  const times: number[] = []
  let sum = 0
  let counted = 0
  const started = performance.now()
  for (let i = 0; i < queries.length; i++) {
    const t0 = performance.now()
    const ids = await searchFor(target, c, queries[i]!, k, s)
    times.push(performance.now() - t0)
    const r = recallOf(ids, truth[i]!)
    if (r !== undefined) {
      sum += r
      counted++
    }
    tick?.()
  }
  const elapsed = performance.now() - started
  return { recall: counted === 0 ? Number.NaN : sum / counted, ...latencyStats(times, elapsed), times }
}

/**
 * `clients` concurrent loops over the queries (each starting at its own offset) for `durationMs`
 * at setting `s`: throughput and latency. `stop` returning true ends it early (resolves with what
 * was measured).
 */
export async function measureConcurrent(
  target: EvalTarget,
  c: EvalCollection,
  queries: readonly EvalQuery[],
  k: number,
  clients: number,
  durationMs: number,
  s: Omit<EvalSearch, 'vector' | 'limit'>,
  onQuery?: () => void,
  stop?: () => boolean,
): Promise<LatencyStats & { queries: number }> {
  const times: number[] = []
  const started = performance.now()
  const deadline = started + durationMs
  await Promise.all(
    Array.from({ length: clients }, async (_, w) => {
      let i = Math.floor((w * queries.length) / clients)
      while (performance.now() < deadline && stop?.() !== true) {
        const t0 = performance.now()
        await searchFor(target, c, queries[i % queries.length]!, k, s)
        times.push(performance.now() - t0)
        i++
        onQuery?.()
        // an embedded search may resolve without a turn of the event loop: let I/O (a writer's
        // WAL, timers) run between queries, as they would between a server's requests
        await new Promise((r) => setImmediate(r))
      }
    }),
  )
  return { ...latencyStats(times, performance.now() - started), queries: times.length }
}

/** The selectivity bucket of issue 16 §1 (`lt_1pct`, `1_10pct`, `10_50pct`, `gt_50pct`). */
export function selectivityBucket(selectivity: number): string {
  if (selectivity < 0.01) return 'lt_1pct'
  if (selectivity < 0.1) return '1_10pct'
  if (selectivity <= 0.5) return '10_50pct'
  return 'gt_50pct'
}

/** The selectivities the sweep aims at: 0.1% to 90%. */
export const SELECTIVITY_TARGETS: readonly number[] = [0.001, 0.01, 0.1, 0.5, 0.9]

/**
 * Filters on payload field `key` that match about each of `targets` (fractions) of the points,
 * from the values of a uniform sample of points (`values`; arrays count each element, missing
 * values match nothing). Numbers: `range: { lte: quantile }`; strings and booleans: `match: { any }`
 * (booleans `match: { value }`) of whole values, the least frequent first, so a few targets may share
 * a filter (deduplicated: fewer filters come back). Empty when the field holds none of these.
 */
export function selectivityFilters(
  key: string,
  values: readonly unknown[],
  targets: readonly number[] = SELECTIVITY_TARGETS,
): { target: number; filter: WireFilter }[] {
  const flat = values.flatMap((v) => (Array.isArray(v) ? v : [v]))
  const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
  const out: { target: number; filter: WireFilter }[] = []
  const seen = new Set<string>()
  const push = (target: number, condition: Record<string, unknown>) => {
    const filter = { must: [{ key, ...condition }] }
    const text = JSON.stringify(filter)
    if (seen.has(text)) return
    seen.add(text)
    out.push({ target, filter })
  }
  const n = values.length
  if (n === 0) return out
  const numeric = flat.filter(isNumber).length
  if (numeric > 0 && numeric >= flat.length / 2) {
    // a point matches `range: { lte: b }` when one of its values is <= b: its smallest counts
    const mins = values
      .map((v) => (Array.isArray(v) ? v : [v]).filter(isNumber))
      .filter((xs) => xs.length > 0)
      .map((xs) => Math.min(...xs))
      .sort((a, b) => a - b)
    for (const t of targets) {
      const j = Math.min(Math.max(Math.ceil(t * n), 1), mins.length)
      push(t, { range: { lte: mins[j - 1]! } })
    }
    return out
  }
  // one type only: `match.any` takes strings (or integers), never booleans with them
  const strings = flat.some((v) => typeof v === 'string')
  const counts = new Map<string | boolean, number>()
  for (const v of values) {
    // per point: a point holding a value twice counts once
    const held = new Set(
      (Array.isArray(v) ? v : [v]).filter((x) => typeof x === (strings ? 'string' : 'boolean')),
    )
    for (const x of held) counts.set(x as string | boolean, (counts.get(x as string | boolean) ?? 0) + 1)
  }
  if (counts.size === 0) return out
  const bools = !strings
  const byFrequency = [...counts].sort((a, b) => a[1] - b[1] || String(a[0]).localeCompare(String(b[0])))
  for (const t of targets) {
    if (bools) {
      // one boolean value: the one whose frequency is nearest the target
      const best = byFrequency.reduce((a, b) => (Math.abs(b[1] / n - t) < Math.abs(a[1] / n - t) ? b : a))
      push(t, { match: { value: best[0] } })
      continue
    }
    // the least frequent values first, until the target is reached (a value that overshoots more
    // than it helps is skipped)
    const chosen: (string | boolean)[] = []
    let got = 0
    for (const [v, m] of byFrequency) {
      if (got >= t * n) break
      if (got > 0 && got + m - t * n > t * n - got) continue
      chosen.push(v)
      got += m
    }
    if (chosen.length === 0) chosen.push(byFrequency[0]![0])
    push(t, { match: { any: chosen } })
  }
  return out
}

export interface SweepRow extends SettingResult {
  ef: number
}

export interface Recommendation {
  latency_budget_ms: number
  percentile: 'p99'
  /** The ef to use, or null when no ef of the sweep is within the budget. */
  ef: number | null
  recall: number | null
  p99_ms: number | null
  /** The highest `target_recall` measured that reached its target within the budget (Quiver), or null. */
  target_recall: number | null
  reason: string
}

/**
 * The recommendation for a p99 latency budget: of the sweep's settings within it, the highest
 * recall (the lowest ef among those within 0.002 of it). `targets`: the measured `target_recall`
 * settings (Quiver only; absent or null: none recommended); `target_recall` is the highest of
 * them that reached its target within the budget.
 */
export function recommend(
  sweep: readonly SweepRow[],
  budgetMs: number,
  targets?: readonly { target_recall: number; recall: number; p99_ms: number }[] | null,
): Recommendation {
  const met = (targets ?? []).filter((t) => t.recall >= t.target_recall && t.p99_ms <= budgetMs)
  const target = met.length === 0 ? null : Math.max(...met.map((t) => t.target_recall))
  const targetText =
    targets === undefined || targets === null
      ? ''
      : target === null
        ? '; no target_recall measured reached its target within the budget'
        : `; target_recall ${target} reached ${met.find((t) => t.target_recall === target)!.recall.toFixed(4)} within it too`
  const within = sweep.filter((r) => r.p99_ms <= budgetMs && Number.isFinite(r.recall))
  if (within.length === 0) {
    const fastest = [...sweep].sort((a, b) => a.p99_ms - b.p99_ms)[0]
    return {
      latency_budget_ms: budgetMs,
      percentile: 'p99',
      ef: null,
      recall: null,
      p99_ms: null,
      target_recall: target,
      reason:
        (fastest === undefined
          ? 'nothing was measured'
          : `no ef of the sweep answers within a p99 of ${budgetMs} ms (the fastest, ef ${fastest.ef}, has p99 ${fastest.p99_ms.toFixed(2)} ms): raise the budget, or make the collection cheaper to search (quantization, fewer dimensions)`) +
        targetText,
    }
  }
  const best = Math.max(...within.map((r) => r.recall))
  const pick = within.filter((r) => r.recall >= best - 0.002).sort((a, b) => a.ef - b.ef)[0]!
  return {
    latency_budget_ms: budgetMs,
    percentile: 'p99',
    ef: pick.ef,
    recall: pick.recall,
    p99_ms: pick.p99_ms,
    target_recall: target,
    reason: `ef ${pick.ef} reaches recall@k ${pick.recall.toFixed(4)} at p99 ${pick.p99_ms.toFixed(2)} ms, within the ${budgetMs} ms budget${targetText}`,
  }
}
