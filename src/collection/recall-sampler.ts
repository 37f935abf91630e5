// Live recall estimate (issue 16 section 1): a small fraction of real searches is run again with
// exact search in the background, and recall@k of the answer the client got against that exact
// answer is kept per query class (vector name; unfiltered or filtered by selectivity bucket;
// quantized or not) over a rolling window, with a 95% confidence interval. The CPU the re-runs
// take is capped by a budget that refills at `cpuShare` of one core. Also a window of search
// latencies for the health warnings (p99). Pure bookkeeping: the collection runs the searches.
import { QuiverError } from '../errors.js'
import type { PointId, RecallClass, RecallEstimate, SelectivityBucket } from '../types.js'

export type { RecallClass, RecallEstimate, SelectivityBucket }

/** Default fraction of searches re-run exactly (Quiver.open's `recallSampleRate`): 1%. */
export const DEFAULT_RECALL_SAMPLE_RATE = 0.01
/** Default share of one core the exact re-runs may use over time: 5%. */
export const DEFAULT_RECALL_CPU_SHARE = 0.05
/** Recall values per class the estimate is taken over (the latest ones). */
export const RECALL_WINDOW = 500
/** The CPU budget saved up while idle, at most (milliseconds of exact search). */
const MAX_BUDGET_MS = 2000
/** The CPU budget at the start (milliseconds of exact search). */
const START_BUDGET_MS = 100
/** Search latencies kept for the p50 / p99 (the latest ones). */
const LATENCY_WINDOW = 2000

/** Options of a {@link RecallSampler}. */
export interface RecallSamplerOptions {
  /** Fraction of searches sampled, 0..1 (0: none). */
  readonly rate: number
  /** The CPU budget (shared by a database's collections). Default: one of its own at 5% of a core. */
  readonly budget?: RecallBudget
  /** Uniform [0, 1) source deciding which searches are sampled. Default Math.random. */
  readonly random?: () => number
}

/**
 * Throws INVALID_CONFIG unless `rate` is a number in 0..1 (`where` names the setting).
 * @example checkSampleRate(0.01, 'recallSampleRate')
 */
export function checkSampleRate(rate: unknown, where: string): number {
  if (typeof rate !== 'number' || !Number.isFinite(rate) || rate < 0 || rate > 1)
    throw new QuiverError(
      'INVALID_CONFIG',
      `${where} must be a number from 0 to 1 (the fraction of searches re-run exactly), got ${JSON.stringify(rate)}`,
    )
  return rate
}

class Window {
  readonly values: Float64Array
  count = 0
  total = 0

  constructor(size: number) {
    this.values = new Float64Array(size)
  }

  push(v: number): void {
    this.values[this.count % this.values.length] = v
    this.count++
    this.total++
  }

  get filled(): Float64Array {
    return this.values.subarray(0, Math.min(this.count, this.values.length))
  }
}

/**
 * The CPU budget of exact re-runs, shared by the collections of a database: milliseconds of exact
 * search, refilled at `cpuShare` of wall time (one core), at most MAX_BUDGET_MS saved up.
 */
export class RecallBudget {
  readonly cpuShare: number
  private readonly clock: () => number
  private budgetMs = START_BUDGET_MS
  private last: number

  constructor(cpuShare: number = DEFAULT_RECALL_CPU_SHARE, clock: () => number = () => performance.now()) {
    if (typeof cpuShare !== 'number' || !(cpuShare > 0 && cpuShare <= 1))
      throw new QuiverError(
        'INVALID_CONFIG',
        `recallCpuShare must be in (0, 1], got ${JSON.stringify(cpuShare)}`,
      )
    this.cpuShare = cpuShare
    this.clock = clock
    this.last = clock()
  }

  /**
   * Whether a re-run estimated at `costMs` may start: the budget holds it (a re-run costlier than
   * the most that can be saved up waits for a full budget).
   */
  allows(costMs: number): boolean {
    const now = this.clock()
    this.budgetMs = Math.min(MAX_BUDGET_MS, this.budgetMs + (now - this.last) * this.cpuShare)
    this.last = now
    return this.budgetMs > 0 && this.budgetMs >= Math.min(costMs, MAX_BUDGET_MS)
  }

  /** Takes `ms` of CPU a re-run took. */
  take(ms: number): void {
    this.budgetMs -= ms
  }
}

/** Per-collection recall sampling: which searches to re-run, and the estimates of what they found. */
export class RecallSampler {
  readonly rate: number
  private readonly budget: RecallBudget
  private readonly random: () => number
  private readonly classes = new Map<string, { cls: RecallClass; window: Window }>()
  private readonly latencies = new Window(LATENCY_WINDOW)

  constructor(options: RecallSamplerOptions) {
    this.rate = checkSampleRate(options.rate, 'recallSampleRate')
    this.budget = options.budget ?? new RecallBudget()
    this.random = options.random ?? Math.random
  }

  /**
   * Whether to re-run this search exactly: with probability `rate` (default the sampler's: a
   * collection's `searchConfig.recallSampleRate` overrides it), when the CPU budget holds the
   * re-run's estimated `costMs`.
   */
  shouldSample(rate = this.rate, costMs = 0): boolean {
    if (rate === 0 || this.random() >= rate) return false
    return this.budget.allows(costMs)
  }

  /** Takes `ms` (the CPU an exact re-run took) from the CPU budget. */
  charge(ms: number): void {
    this.budget.take(ms)
  }

  /** One sample of class `cls`: recall@k of the answer given (0..1). */
  record(cls: RecallClass, recall: number): void {
    const key = `${cls.vector}\u0000${cls.class}\u0000${cls.selectivity ?? ''}\u0000${cls.quantized}`
    let entry = this.classes.get(key)
    if (entry === undefined) {
      entry = { cls, window: new Window(RECALL_WINDOW) }
      this.classes.set(key, entry)
    }
    entry.window.push(recall)
  }

  /** The estimate of every class sampled so far, by vector, then class and selectivity. */
  estimates(): RecallEstimate[] {
    const out: RecallEstimate[] = []
    for (const { cls, window } of this.classes.values()) {
      const xs = window.filled
      const n = xs.length
      let sum = 0
      for (const x of xs) sum += x
      const mean = sum / n
      // Wilson score interval for a proportion: recall values lie in 0..1, so their variance is at
      // most mean x (1 - mean) and this interval is conservative (it never collapses to a point)
      const z = 1.96
      const z2 = z * z
      const centre = (mean + z2 / (2 * n)) / (1 + z2 / n)
      const half = (z * Math.sqrt((mean * (1 - mean)) / n + z2 / (4 * n * n))) / (1 + z2 / n)
      out.push({
        ...cls,
        estimate: mean,
        lower: Math.max(0, centre - half),
        upper: Math.min(1, centre + half),
        window: n,
        samples: window.total,
      })
    }
    const order = (e: RecallEstimate) =>
      `${e.vector}\u0000${e.class}\u0000${e.selectivity ?? ''}\u0000${e.quantized}`
    return out.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0))
  }

  /** Records one search's latency (milliseconds). */
  latency(ms: number): void {
    this.latencies.push(ms)
  }

  /** p50 / p99 of the latest search latencies (milliseconds), or undefined before the first one. */
  latencyPercentiles(): { p50: number; p99: number; count: number } | undefined {
    const xs = Float64Array.from(this.latencies.filled).sort()
    if (xs.length === 0) return undefined
    const at = (q: number) => xs[Math.min(xs.length - 1, Math.floor(q * xs.length))]!
    return { p50: at(0.5), p99: at(0.99), count: xs.length }
  }
}

/** The selectivity bucket of a filter matching `fraction` of the live points. */
export function selectivityBucket(fraction: number): SelectivityBucket {
  if (fraction < 0.01) return 'lt_1pct'
  if (fraction < 0.1) return '1_10pct'
  if (fraction <= 0.5) return '10_50pct'
  return 'gt_50pct'
}

/**
 * recall@k of `answer` against the exact answer `truth` (k = truth's length): the share of truth's
 * points found; a returned point whose score equals the k-th exact score stands in for an exact
 * point at that score it missed (ties may be broken either way), at most once per such point. 1 when truth is empty.
 */
export function recallAtK(
  answer: readonly { id: PointId; score: number }[],
  truth: readonly { id: PointId; score: number }[],
): number {
  if (truth.length === 0) return 1
  const exact = new Set(truth.map((h) => h.id))
  const kth = truth[truth.length - 1]!.score
  const tie = 1e-6 * Math.max(1, Math.abs(kth))
  const given = new Set(answer.slice(0, truth.length).map((h) => h.id))
  // exact hits at the k-th score the answer missed: another point at that same score may stand in
  let tiedMissed = 0
  for (const h of truth) if (!given.has(h.id) && Math.abs(h.score - kth) <= tie) tiedMissed++
  let found = 0
  for (const h of answer.slice(0, truth.length)) {
    if (exact.has(h.id)) found++
    else if (tiedMissed > 0 && Math.abs(h.score - kth) <= tie) {
      found++
      tiedMissed--
    }
  }
  return Math.min(1, found / truth.length)
}
