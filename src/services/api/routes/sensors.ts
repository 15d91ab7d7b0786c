// GET /sensors (every sensor with its latest reading), GET /sensors/:id/readings (a time range,
// paged like /data), GET /sensors/:id/stats (count, min, max, mean per date_bin bucket) and
// GET /sensors/:id/series (the same for at most N points, the bucket chosen here).
import type { FastifyInstance } from 'fastify'
import type { Reading } from '../../../domain/reading.ts'
import { AppError } from '../../../platform/errors.ts'
import { answerCache, CACHE_STATUS_HEADER } from '../answer-cache.ts'
import type { RouteContext } from '../context.ts'
import { bucketSeconds, decodeCursor, encodeCursor, MAX_BUCKETS, nextLink, parseRange } from '../params.ts'
import { DEFAULT_POINTS, MAX_POINTS, seriesBucketSeconds } from '../series.ts'
import { bucketParam, cacheHeader, errors, linkHeader, pageQuery, rangeQuery, readingList, sensorIdParam } from '../schemas.ts'

const idParams = { type: 'object', required: ['id'], properties: { id: sensorIdParam } } as const

/** Default span of a stats request without `from`. */
const DEFAULT_STATS_SPAN_S = 3600

/** Default span of a series request without `from`. */
const DEFAULT_SERIES_SPAN_S = 86_400

const TIER_DESCRIPTION =
  'where the answer comes from: `1d`, `1h` or `1m` (the rollups, exact aggregates of the raw readings, kept when retention has dropped those) or `raw` (the readings). ' +
  'The coarsest that answers every bucket exactly: `1d` when the bucket is a whole number of days (UTC, aligned on the epoch), `1h` when of hours, `1m` when of minutes, else `raw`; ' +
  'a range that does not start or end on a whole day (hour, minute) takes those edges from the raw readings, ' +
  'and the day and hour still open come from the finer rollups: every tier is exact at every moment.'
const tierProperty = { type: 'string', enum: ['raw', '1m', '1h', '1d'], description: TIER_DESCRIPTION } as const
const tierHeader = { 'x-tier': { type: 'string', description: 'the same as `tier` in the body' }, ...CACHE_STATUS_HEADER } as const

const bucketStats = {
  type: 'array',
  description: 'oldest first; buckets without readings are left out',
  items: {
    type: 'object',
    required: ['start', 'count', 'min', 'max', 'mean'],
    properties: {
      start: { type: 'number', description: 'bucket start, unix seconds' },
      count: { type: 'integer' },
      min: { type: 'number' },
      max: { type: 'number' },
      mean: { type: 'number' }
    }
  }
} as const

const statsResponse = {
  type: 'object',
  required: ['sensor_id', 'from', 'to', 'bucket', 'bucket_seconds', 'tier', 'buckets'],
  properties: {
    sensor_id: sensorIdParam,
    from: { type: 'number', description: 'unix seconds, inclusive' },
    to: { type: 'number', description: 'unix seconds, exclusive' },
    bucket: { type: 'string' },
    bucket_seconds: { type: 'number' },
    tier: tierProperty,
    buckets: bucketStats
  }
} as const

const seriesResponse = {
  type: 'object',
  required: ['sensor_id', 'from', 'to', 'bucket_seconds', 'tier', 'points'],
  properties: {
    sensor_id: sensorIdParam,
    from: { type: 'number', description: 'unix seconds, inclusive' },
    to: { type: 'number', description: 'unix seconds, exclusive' },
    bucket_seconds: { type: 'number', description: 'the width chosen: the smallest whole number of seconds, minutes or hours giving at most `points` buckets' },
    tier: tierProperty,
    points: { ...bucketStats, description: 'at most `points`, oldest first, with min and max so that spikes show; buckets without readings are left out' }
  }
} as const

function timeRange(query: { from?: string; to?: string }, defaultSpan: number): { from: number; to: number } {
  const range = parseRange(query)
  const to = range.to ?? Date.now() / 1000
  const from = range.from ?? to - defaultSpan
  if (to <= from)
    throw new AppError('VALIDATION_FAILED', 'the request is not valid', { details: [{ path: '/from', in: 'query', message: 'must be before to' }] })
  return { from, to }
}

/** A range given whole: the same URL asks the same question again (a default `to` is now, a new question each time). */
function explicit(query: { from?: string; to?: string }): boolean {
  return query.from !== undefined && query.to !== undefined
}

export function sensorRoutes(ctx: RouteContext) {
  const { deps, metrics, logger } = ctx
  const answer = answerCache(ctx.config.statsCacheBytes, deps.queries, metrics)

  async function mustExist(id: string): Promise<void> {
    if ((await deps.queries.latest(id)) === undefined) throw new AppError('NOT_FOUND', `no readings for sensor ${id}`)
  }

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/sensors',
      {
        schema: {
          summary: 'Every known sensor with its latest reading',
          description: 'From Redis, ordered by sensor_id; when Redis is down, from Postgres with `x-cache: bypassed`.',
          tags: ['sensors'],
          response: { 200: { description: 'one latest reading per sensor', headers: cacheHeader, ...readingList }, ...errors(401, 403, 503) }
        }
      },
      async (_request, reply) => {
        let readings: Reading[]
        try {
          readings = await deps.latest.all()
          reply.header('x-cache', 'hit')
        } catch (err) {
          logger.debug({ err }, 'redis failed; listing sensors from postgres')
          metrics.cacheBypassed.inc({ route: '/sensors' })
          reply.header('x-cache', 'bypassed')
          readings = await deps.queries.latestPerSensor()
        }
        return readings.sort((a, b) => (a.sensor_id < b.sensor_id ? -1 : a.sensor_id > b.sensor_id ? 1 : 0))
      }
    )

    app.get<{ Params: { id: string }; Querystring: { limit: number; cursor?: string; from?: string; to?: string } }>(
      '/sensors/:id/readings',
      {
        schema: {
          summary: "A sensor's readings in a time range, newest first",
          description: 'Paged like GET /data: the next page is in the `Link: <…>; rel="next"` header.',
          tags: ['sensors'],
          params: idParams,
          querystring: { type: 'object', properties: pageQuery, additionalProperties: false },
          response: { 200: { description: 'readings, newest first', headers: linkHeader, ...readingList }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request, reply) => {
        const { limit, cursor } = request.query
        const page = await deps.queries.list({
          sensorId: request.params.id,
          limit,
          ...parseRange(request.query),
          ...(cursor === undefined ? {} : { after: decodeCursor(cursor) })
        })
        if (page.readings.length === 0 && cursor === undefined) await mustExist(request.params.id)
        if (page.next !== undefined) reply.header('link', nextLink(request.url, encodeCursor(page.next)))
        return page.readings
      }
    )

    app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string; bucket: string } }>(
      '/sensors/:id/stats',
      {
        schema: {
          summary: "A sensor's count, min, max and mean per time bucket",
          description: `Buckets from date_bin, aligned on the unix epoch. Default range: the last hour before \`to\` (default now). At most ${MAX_BUCKETS} buckets per request. ${TIER_DESCRIPTION}`,
          tags: ['sensors'],
          params: idParams,
          querystring: { type: 'object', properties: { ...rangeQuery, bucket: bucketParam }, additionalProperties: false },
          response: { 200: { description: 'per-bucket statistics', headers: tierHeader, ...statsResponse }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request, reply) => {
        const { from, to } = timeRange(request.query, DEFAULT_STATS_SPAN_S)
        const width = bucketSeconds(request.query.bucket)
        const count = Math.ceil((to - from) / width)
        if (count > MAX_BUCKETS) {
          throw new AppError('VALIDATION_FAILED', `the range spans ${count} buckets of ${request.query.bucket}; at most ${MAX_BUCKETS} are allowed`, {
            details: [{ path: '/bucket', in: 'query', message: `too small for this range: at most ${MAX_BUCKETS} buckets` }]
          })
        }
        const id = request.params.id
        return answer(reply, { url: request.url, keepable: explicit(request.query), from, to }, async () => {
          const { tier, buckets } = await deps.queries.stats({ sensorId: id, from, to, bucketSeconds: width })
          if (buckets.length === 0) await mustExist(id)
          return { tier, keep: buckets.length > 0, payload: { sensor_id: id, from, to, bucket: request.query.bucket, bucket_seconds: width, tier, buckets } }
        })
      }
    )

    app.get<{ Params: { id: string }; Querystring: { from?: string; to?: string; points: number } }>(
      '/sensors/:id/series',
      {
        schema: {
          summary: "A sensor's readings as at most N points for a chart: count, min, max and mean per point",
          description:
            `The bucket width and the tier are chosen here: the smallest whole number of seconds, minutes or hours giving at most \`points\` buckets, ` +
            `from the coarsest tier that answers it exactly (see \`tier\`). Default range: the last ${DEFAULT_SERIES_SPAN_S / 3600} h before \`to\` (default now).`,
          tags: ['sensors'],
          params: idParams,
          querystring: {
            type: 'object',
            properties: {
              ...rangeQuery,
              points: { type: 'integer', minimum: 1, maximum: MAX_POINTS, default: DEFAULT_POINTS, description: `most points in the answer, 1–${MAX_POINTS}` }
            },
            additionalProperties: false
          },
          response: { 200: { description: 'per-point statistics', headers: tierHeader, ...seriesResponse }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request, reply) => {
        const { from, to } = timeRange(request.query, DEFAULT_SERIES_SPAN_S)
        const width = seriesBucketSeconds(from, to, request.query.points)
        const id = request.params.id
        return answer(reply, { url: request.url, keepable: explicit(request.query), from, to }, async () => {
          const { tier, buckets } = await deps.queries.stats({ sensorId: id, from, to, bucketSeconds: width })
          if (buckets.length === 0) await mustExist(id)
          return { tier, keep: buckets.length > 0, payload: { sensor_id: id, from, to, bucket_seconds: width, tier, points: buckets } }
        })
      }
    )
  }
}
