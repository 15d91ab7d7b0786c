// Figures of a benchmark: every measured quantity is kept as its runs plus median, min and max.

export interface Figure {
  readonly median: number
  readonly min: number
  readonly max: number
  /** every run, in the order measured */
  readonly runs: readonly number[]
}

export function figure(runs: readonly number[]): Figure {
  if (runs.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs: [] }
  const sorted = [...runs].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  const median = sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
  return { median: round(median), min: round(sorted[0] as number), max: round(sorted[sorted.length - 1] as number), runs: runs.map((x) => round(x)) }
}

/** Nearest-rank percentile of already sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)))
  return sorted[rank - 1] as number
}

/** Ratio of two figures' medians (min and max from the extreme runs, for a sense of spread). */
export function ratio(a: Figure, b: Figure): Figure {
  const r = (x: number, y: number): number => (y === 0 ? Number.NaN : x / y)
  return { median: round(r(a.median, b.median), 3), min: round(r(a.min, b.max), 3), max: round(r(a.max, b.min), 3), runs: [] }
}

export function round(x: number, digits?: number): number {
  if (!Number.isFinite(x)) return x
  const d = digits ?? (Math.abs(x) >= 100 ? 0 : Math.abs(x) >= 1 ? 2 : 4)
  const f = 10 ** d
  return Math.round(x * f) / f
}

export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return '—'
  if (Math.abs(x) >= 1000) return Math.round(x).toLocaleString('en-US')
  return String(round(x))
}

/** A plain-text table: rows of cells, first row the header. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => (widths[i] = Math.max(widths[i] ?? 0, cell.length)))
  const line = (row: readonly string[]): string => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')
  const [head, ...body] = rows
  if (head === undefined) return ''
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n')
}
