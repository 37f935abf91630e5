// @ts-check
// A recall (x, linear) vs QPS (y, log10) line chart as a standalone SVG string: one polyline with
// point markers per series, axes with ticks, and a legend. No dependencies.

const COLORS = [
  '#d62728',
  '#ff9896',
  '#1f77b4',
  '#2ca02c',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#7f7f7f',
  '#17becf',
]

/**
 * @typedef {{ label: string, points: readonly { recall: number, qps: number }[] }} Series
 * @typedef {{ title: string, width?: number, height?: number, xLabel?: string, yLabel?: string, minRecall?: number }} PlotOptions
 */

/** @param {string} s */
export function escapeXml(s) {
  return s.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

/** @param {number} x */
const fmt = (x) => (Math.round(x * 10) / 10).toString()

/** @param {number} q */
function qpsTick(q) {
  return q >= 1000 ? `${q / 1000}k` : String(q)
}

/**
 * The chart as SVG text. x spans [lowest recall rounded down to 0.05, 1], but starts no lower than
 * `opts.minRecall` (default 0.5: points below it are left out, they would squeeze the region that
 * matters); y spans whole decades around the QPS values (log scale). Series are drawn in the given
 * order, points sorted by recall; points with a non-finite or non-positive value are left out. The
 * legend sits bottom-left, where recall-vs-QPS curves do not go. Throws RangeError when no series
 * has a drawable point.
 * @param {readonly Series[]} series
 * @param {PlotOptions} opts
 * @returns {string}
 */
export function recallQpsSvg(series, opts) {
  const width = opts.width ?? 760
  const height = opts.height ?? 480
  const pad = { left: 70, right: 20, top: 40, bottom: 50 }
  const minRecall = opts.minRecall ?? 0.5
  const clean = series.map((s) => ({
    label: s.label,
    points: s.points
      .filter(
        (p) => Number.isFinite(p.recall) && Number.isFinite(p.qps) && p.qps > 0 && p.recall >= minRecall,
      )
      .sort((a, b) => a.recall - b.recall),
  }))
  const all = clean.flatMap((s) => s.points)
  if (all.length === 0) throw new RangeError('recallQpsSvg: no series has a drawable point')
  const xMin = Math.min(0.95, Math.floor(Math.min(...all.map((p) => p.recall)) * 20) / 20)
  const xMax = 1
  const yMin = 10 ** Math.floor(Math.log10(Math.min(...all.map((p) => p.qps))))
  const yMax = 10 ** Math.max(Math.log10(yMin) + 1, Math.ceil(Math.log10(Math.max(...all.map((p) => p.qps)))))
  const plotW = width - pad.left - pad.right
  const plotH = height - pad.top - pad.bottom
  const x = (/** @type {number} */ r) => pad.left + ((r - xMin) / (xMax - xMin)) * plotW
  const y = (/** @type {number} */ q) =>
    pad.top + plotH - ((Math.log10(q) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotH

  const out = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15">${escapeXml(opts.title)}</text>`,
  ]
  for (let r = xMin; r <= xMax + 1e-9; r += 0.05) {
    const px = fmt(x(r))
    out.push(
      `<line x1="${px}" y1="${pad.top}" x2="${px}" y2="${pad.top + plotH}" stroke="#e5e5e5"/>`,
      `<text x="${px}" y="${pad.top + plotH + 16}" text-anchor="middle">${r.toFixed(2)}</text>`,
    )
  }
  for (let q = yMin; q <= yMax * 1.0001; q *= 10) {
    const py = fmt(y(q))
    out.push(
      `<line x1="${pad.left}" y1="${py}" x2="${pad.left + plotW}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${pad.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle">${qpsTick(q)}</text>`,
    )
  }
  out.push(
    `<rect x="${pad.left}" y="${pad.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`,
    `<text x="${pad.left + plotW / 2}" y="${height - 10}" text-anchor="middle">${escapeXml(opts.xLabel ?? 'recall@10')}</text>`,
    `<text x="16" y="${pad.top + plotH / 2}" text-anchor="middle" transform="rotate(-90 16 ${pad.top + plotH / 2})">${escapeXml(opts.yLabel ?? 'queries per second (log scale)')}</text>`,
  )
  clean.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]
    const coords = s.points.map((p) => `${fmt(x(p.recall))},${fmt(y(p.qps))}`)
    out.push(`<g class="series" data-label="${escapeXml(s.label)}">`)
    if (coords.length > 1)
      out.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${coords.join(' ')}"/>`)
    for (const c of coords) {
      const [cx, cy] = c.split(',')
      out.push(`<circle cx="${cx}" cy="${cy}" r="3" fill="${color}"/>`)
    }
    out.push('</g>')
    const ly = pad.top + plotH - 14 - (clean.length - 1 - i) * 18
    const lx = pad.left + 12
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${color}" stroke-width="3"/>`,
      `<text x="${lx + 28}" y="${ly}" dominant-baseline="middle">${escapeXml(s.label)}</text>`,
    )
  })
  out.push('</svg>', '')
  return out.join('\n')
}
