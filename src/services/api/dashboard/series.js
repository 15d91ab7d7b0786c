// The chart's data source, in one place: at most `points` buckets with min/max/mean/count each.
// Today it asks GET /sensors/:id/stats with a bucket width chosen here; when GET /sensors/:id/series
// (which chooses the rollup tier itself) is there, only fetchSeries changes.

/** Bucket widths the API's stats accept, in seconds, from fine to coarse. */
const NICE = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800, 604800]

export function bucketFor(spanSeconds, points) {
  const wanted = spanSeconds / points
  return NICE.find((s) => s >= wanted) ?? Math.ceil(wanted)
}

/**
 * @param {string} sensorId
 * @param {number} from unix seconds
 * @param {number} to unix seconds
 * @param {number} points most buckets wanted
 * @returns {Promise<{bucketSeconds: number, buckets: {start: number, count: number, min: number, max: number, mean: number}[]}>}
 */
export async function fetchSeries(sensorId, from, to, points) {
  const bucketSeconds = bucketFor(to - from, points)
  const start = Math.floor(from / bucketSeconds) * bucketSeconds
  const url = `/sensors/${encodeURIComponent(sensorId)}/stats?from=${start}&to=${Math.ceil(to)}&bucket=${bucketSeconds}s`
  const res = await fetch(url)
  if (res.status === 404) return { bucketSeconds, buckets: [] }
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  const body = await res.json()
  return { bucketSeconds, buckets: body.buckets }
}
