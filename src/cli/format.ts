// Plain-text output helpers of the CLI: aligned tables, compact JSON cells, durations and rates.

export type Align = 'left' | 'right'

/**
 * Renders rows as an aligned text table: a header line, a dashed rule, then one line per row.
 * `align[i]` applies to column i (default left). Cells are used as given (no truncation).
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  align: readonly Align[] = [],
): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => {
        const w = widths[i] ?? 0
        return align[i] === 'right' ? c.padStart(w) : c.padEnd(w)
      })
      .join('  ')
      .trimEnd()
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n')
}

/** Cuts `s` to at most `max` characters, ending with `…` when cut. */
export function truncate(s: string, max: number): string {
  return s.length <= max ? s : `${s.slice(0, Math.max(0, max - 1))}…`
}

/** `1234.5 ms` → `1.23 s`; below one second stays in ms. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms.toFixed(ms < 10 ? 2 : 0)} ms`
  if (ms < 120_000) return `${(ms / 1000).toFixed(2)} s`
  return `${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s`
}

/** Bytes as MiB with one decimal. */
export function formatMiB(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}

/** An integer with thousands separators (`12,345`). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}
