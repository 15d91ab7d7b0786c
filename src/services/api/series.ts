// The bucket width of GET /sensors/:id/series: the smallest that gives at most `points` buckets
// over the range, in whole seconds, minutes, hours or days (so that the 1-minute, 1-hour or 1-day
// rollups can answer it: see chooseTier in the store), buckets aligned on the unix epoch like stats.
export const DEFAULT_POINTS = 500
export const MAX_POINTS = 5_000

/** Buckets of `width` seconds, aligned on the epoch, that [from, to) touches. */
export function bucketCount(from: number, to: number, width: number): number {
  return Math.ceil(to / width) - Math.floor(from / width)
}

export function seriesBucketSeconds(from: number, to: number, points: number): number {
  const ideal = (to - from) / points
  const unit = ideal >= 86_400 ? 86_400 : ideal >= 3600 ? 3600 : ideal >= 60 ? 60 : 1
  let width = Math.max(unit, Math.ceil(ideal / unit) * unit)
  while (bucketCount(from, to, width) > points) width += unit
  return width
}
