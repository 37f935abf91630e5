// @ts-check
// Recall-vs-QPS curves of the peer benchmark: the Pareto frontier of a sweep, QPS interpolated at a
// target recall (linear in log QPS), and the Quiver / peer ratios at the target recalls.

/** Target recall@10 values of the QPS-at-recall table. */
export const TARGET_RECALLS = [0.9, 0.95, 0.99]

/**
 * One operating point of a curve (one ef or nprobe).
 * @typedef {{ recall: number, qps: number }} CurvePoint
 */

/**
 * The Pareto frontier of `points`: the points that no other point beats on both recall and QPS,
 * sorted by recall ascending (QPS then descends). Points with a non-finite recall or QPS are dropped;
 * of equal-recall points only the fastest stays.
 * @template {CurvePoint} P
 * @param {readonly P[]} points
 * @returns {P[]}
 */
export function paretoFrontier(points) {
  const valid = points.filter((p) => Number.isFinite(p.recall) && Number.isFinite(p.qps) && p.qps > 0)
  const byRecallDesc = [...valid].sort((a, b) => b.recall - a.recall || b.qps - a.qps)
  /** @type {P[]} */
  const frontier = []
  let bestQps = Number.NEGATIVE_INFINITY
  for (const p of byRecallDesc) {
    if (p.qps > bestQps) {
      frontier.push(p)
      bestQps = p.qps
    }
  }
  return frontier.reverse()
}

/**
 * QPS of a curve at recall `target`: on the Pareto frontier, linear interpolation of log(QPS)
 * between the two frontier points that bracket `target`. Below the frontier's lowest recall, the
 * QPS of that (fastest) point, since it already reaches `target`. null when no point reaches
 * `target` ("not reached").
 * @param {readonly CurvePoint[]} points
 * @param {number} target recall, 0..1
 * @returns {number | null}
 */
export function qpsAtRecall(points, target) {
  const f = paretoFrontier(points)
  const last = f[f.length - 1]
  if (last === undefined || last.recall < target) return null
  const first = /** @type {CurvePoint} */ (f[0])
  if (target <= first.recall) return first.qps
  for (let i = 1; i < f.length; i++) {
    const hi = /** @type {CurvePoint} */ (f[i])
    if (hi.recall < target) continue
    const lo = /** @type {CurvePoint} */ (f[i - 1])
    const t = (target - lo.recall) / (hi.recall - lo.recall)
    return Math.exp(Math.log(lo.qps) + t * (Math.log(hi.qps) - Math.log(lo.qps)))
  }
  return last.qps
}

/**
 * QPS at each target recall of each curve, and the ratio `reference` / curve at each target
 * (null when either side does not reach the target).
 * @param {readonly { label: string, points: readonly CurvePoint[] }[]} curves
 * @param {string} reference label of the curve in the numerators (Quiver)
 * @param {readonly number[]} [targets]
 * @returns {{ label: string, qps: (number | null)[], ratio: (number | null)[] }[]} one row per curve, columns = targets
 */
export function recallTable(curves, reference, targets = TARGET_RECALLS) {
  const ref = curves.find((c) => c.label === reference)
  const refQps = targets.map((t) => (ref === undefined ? null : qpsAtRecall(ref.points, t)))
  return curves.map((c) => {
    const qps = targets.map((t) => qpsAtRecall(c.points, t))
    const ratio = qps.map((q, i) => {
      const r = refQps[i]
      return q === null || r === null || r === undefined ? null : r / q
    })
    return { label: c.label, qps, ratio }
  })
}
