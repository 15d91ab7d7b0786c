// The chart's data source, in one place: GET /sensors/:id/series, which returns at most `points`
// buckets with min/max/mean/count each and chooses the bucket width and the rollup tier itself.
import { apiFetch } from './api.js'

/**
 * @param {string} sensorId
 * @param {number} from unix seconds
 * @param {number} to unix seconds
 * @param {number} points most buckets wanted
 * @returns {Promise<{bucketSeconds: number, tier: string, buckets: {start: number, count: number, min: number, max: number, mean: number}[]}>}
 */
export async function fetchSeries(sensorId, from, to, points) {
  const url = `/sensors/${encodeURIComponent(sensorId)}/series?from=${Math.floor(from)}&to=${Math.ceil(to)}&points=${Math.max(1, Math.min(5000, Math.floor(points)))}`
  const res = await apiFetch(url)
  if (res.status === 404) return { bucketSeconds: Math.max(1, Math.ceil((to - from) / points)), tier: 'raw', buckets: [] }
  if (!res.ok) throw new Error(`${url}: ${res.status}`)
  const body = await res.json()
  return { bucketSeconds: body.bucket_seconds, tier: body.tier, buckets: body.points }
}
