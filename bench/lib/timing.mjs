// @ts-check
// Timing of one benchmark configuration: a warm-up pass that also scores recall and filter
// violations, then timed passes over the query set until the minimum time is reached.
import { percentile } from '../../dist/cli/recall.js'
import { filteredRecall, violations } from './truth.mjs'

/**
 * Results of one configuration (engine x dataset x condition x ef).
 * @typedef {object} Measurement
 * @property {number} queries queries per pass
 * @property {number} recall mean recall@k (filteredRecall) over the queries, 0..1
 * @property {number} violations returned ids that break the filter, summed over the queries
 * @property {number} qps queries per second over the timed passes (queries x passes / wall time)
 * @property {number} p50Ms median latency of one query, milliseconds
 * @property {number} p99Ms
 * @property {number} passes timed passes over the query set
 */

/**
 * Runs `search(qi)` for qi in 0..nq-1: one warm-up pass (which scores recall against `truth(qi)`
 * and counts ids outside `mask(qi)`), then whole timed passes until `minTimeMs` has elapsed (at
 * least one, at most `maxPasses`). One query at a time on this thread.
 * @param {number} nq
 * @param {(qi: number) => number[] | Promise<number[]>} search ids of the hits, best first
 * @param {(qi: number) => ArrayLike<number>} truth exact filtered neighbours, -1-padded
 * @param {(qi: number) => Uint8Array | null} mask rows the filter allows (null: all)
 * @param {{ k: number, minTimeMs: number, maxPasses?: number }} opts
 * @returns {Promise<Measurement>}
 */
export async function measure(nq, search, truth, mask, opts) {
  let recallSum = 0
  let bad = 0
  for (let qi = 0; qi < nq; qi++) {
    const r = search(qi)
    const ids = r instanceof Promise ? await r : r
    recallSum += filteredRecall(ids, truth(qi), opts.k)
    bad += violations(ids, mask(qi))
  }
  const maxPasses = opts.maxPasses ?? 10_000
  /** @type {number[]} */
  const latencies = []
  let passes = 0
  const started = performance.now()
  do {
    for (let qi = 0; qi < nq; qi++) {
      const t0 = performance.now()
      const r = search(qi)
      if (r instanceof Promise) await r
      latencies.push(performance.now() - t0)
    }
    passes++
  } while (performance.now() - started < opts.minTimeMs && passes < maxPasses)
  const wallMs = performance.now() - started
  latencies.sort((a, b) => a - b)
  return {
    queries: nq,
    recall: nq === 0 ? Number.NaN : recallSum / nq,
    violations: bad,
    qps: (nq * passes) / (wallMs / 1000),
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    passes,
  }
}
