// GET /sensors (every sensor with its latest reading), GET /sensors/:id/readings (a time range,
// paged like /data) and GET /sensors/:id/stats (count, min, max, mean per date_bin bucket).
import type { FastifyInstance } from 'fastify'
import type { Reading } from '../../../domain/reading.ts'
import { AppError } from '../../../platform/errors.ts'
import type { RouteContext } from '../context.ts'
import { bucketSeconds, decodeCursor, encodeCursor, MAX_BUCKETS, nextLink, parseRange } from '../params.ts'
import { bucketParam, cacheHeader, errors, linkHeader, pageQuery, rangeQuery, readingList, sensorIdParam } from '../schemas.ts'

const idParams = { type: 'object', required: ['id'], properties: { id: sensorIdParam } } as const

/** Default span of a stats request without `from`. */
const DEFAULT_STATS_SPAN_S = 3600

const statsResponse = {
  type: 'object',
  required: ['sensor_id', 'from', 'to', 'bucket', 'bucket_seconds', 'buckets'],
  properties: {
    sensor_id: sensorIdParam,
    from: { type: 'number', description: 'unix seconds, inclusive' },
    to: { type: 'number', description: 'unix seconds, exclusive' },
    bucket: { type: 'string' },
    bucket_seconds: { type: 'number' },
    buckets: {
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
    }
  }
} as const

export function sensorRoutes(ctx: RouteContext) {
  const { deps, metrics, logger } = ctx

  async function mustExist(id: string): Promise<void> {
    if ((await deps.store.latest(id)) === undefined) throw new AppError('NOT_FOUND', `no readings for sensor ${id}`)
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
          logger.debug({ err: (err as Error).message }, 'redis failed; listing sensors from postgres')
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
          description: `Buckets from date_bin, aligned on the unix epoch. Default range: the last hour before \`to\` (default now). At most ${MAX_BUCKETS} buckets per request.`,
          tags: ['sensors'],
          params: idParams,
          querystring: { type: 'object', properties: { ...rangeQuery, bucket: bucketParam }, additionalProperties: false },
          response: { 200: { description: 'per-bucket statistics', ...statsResponse }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request) => {
        const range = parseRange(request.query)
        const to = range.to ?? Date.now() / 1000
        const from = range.from ?? to - DEFAULT_STATS_SPAN_S
        if (to <= from) throw new AppError('VALIDATION_FAILED', 'the request is not valid', { details: [{ path: '/from', in: 'query', message: 'must be before to' }] })
        const width = bucketSeconds(request.query.bucket)
        const count = Math.ceil((to - from) / width)
        if (count > MAX_BUCKETS) {
          throw new AppError('VALIDATION_FAILED', `the range spans ${count} buckets of ${request.query.bucket}; at most ${MAX_BUCKETS} are allowed`, {
            details: [{ path: '/bucket', in: 'query', message: `too small for this range: at most ${MAX_BUCKETS} buckets` }]
          })
        }
        const id = request.params.id
        const buckets = await deps.queries.stats({ sensorId: id, from, to, bucketSeconds: width })
        if (buckets.length === 0) await mustExist(id)
        return { sensor_id: id, from, to, bucket: request.query.bucket, bucket_seconds: width, buckets }
      }
    )
  }
}
