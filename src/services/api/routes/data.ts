// GET /data: readings newest first, paged by cursor. POST /data: one reading or an array, stored
// all-or-nothing in one transaction, then offered to the latest values and the live feed.
import type { FastifyInstance, FastifySchemaCompiler } from 'fastify'
import { describeErrors, validateReading, type FieldError, type Reading } from '../../../domain/reading.ts'
import { AppError } from '../../../platform/errors.ts'
import type { RouteContext } from '../context.ts'
import { decodeCursor, encodeCursor, nextLink, parseRange } from '../params.ts'
import { errors, linkHeader, MAX_POST_READINGS, pageQuery, postBody, postResponse, readingList, sensorIdParam } from '../schemas.ts'

interface ListQuerystring {
  limit: number
  cursor?: string
  from?: string
  to?: string
  sensor_id?: string
}

interface ValidBody {
  readonly readings: readonly Reading[]
}

/**
 * Validates a POST body with the domain's own rules (validateReading): every bad field of every
 * item is reported by path (`/3/value`); a missing timestamp means now.
 */
export const validateBody: FastifySchemaCompiler<unknown> = () => (data: unknown) => {
  const now = Date.now() / 1000
  const list = Array.isArray(data)
  const items: unknown[] = list ? data : [data]
  if (list && items.length === 0) return { error: invalid([{ path: '/', message: 'must contain at least one reading' }]) }
  if (items.length > MAX_POST_READINGS) {
    return { error: invalid([{ path: '/', message: `must contain at most ${MAX_POST_READINGS} readings, got ${items.length}` }]) }
  }
  const readings: Reading[] = []
  const problems: FieldError[] = []
  items.forEach((item, i) => {
    const result = validateReading(item, { now, defaultTimestamp: now, path: list ? `/${i}` : '' })
    if (result.ok) readings.push(result.reading)
    else problems.push(...result.errors)
  })
  if (problems.length > 0) return { error: invalid(problems) }
  const body: ValidBody = { readings }
  return { value: body }
}

function invalid(problems: readonly FieldError[]): AppError {
  const count = problems.length
  const message = count === 1 ? `invalid reading: ${describeErrors(problems)}` : `${count} problems in the readings; nothing was stored`
  return new AppError('VALIDATION_FAILED', message, { details: problems })
}

/**
 * A write that failed with UNAVAILABLE or TIMEOUT may still have committed (the connection broke
 * after the statement was sent, or no answer came in time): the 503 says so, and that a retry is safe.
 */
function outcomeUnknown(err: unknown): unknown {
  if (!(err instanceof AppError) || (err.code !== 'UNAVAILABLE' && err.code !== 'TIMEOUT')) return err
  return new AppError(
    err.code,
    `${err.message}. The readings may have been stored: retrying the same request is safe (idempotent on (sensor_id, timestamp); readings already stored come back as duplicates)`,
    { cause: err, retryable: true, details: { stored: 'unknown' } }
  )
}

export function dataRoutes(ctx: RouteContext) {
  const { deps, metrics, logger } = ctx
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: ListQuerystring }>(
      '/data',
      {
        schema: {
          summary: 'Newest readings, newest first',
          description:
            'A JSON array of readings, 10 by default. Filter by sensor and time range; the next page is in the `Link: <…>; rel="next"` header and stays stable while new readings arrive.',
          tags: ['readings'],
          querystring: {
            type: 'object',
            properties: { sensor_id: { ...sensorIdParam, description: 'only this sensor' }, ...pageQuery },
            additionalProperties: false
          },
          response: { 200: { description: 'readings, newest first', headers: linkHeader, ...readingList }, ...errors(400, 401, 403, 503) }
        }
      },
      async (request, reply) => {
        const { limit, cursor, sensor_id: sensorId } = request.query
        const range = parseRange(request.query)
        const page = await deps.queries.list({
          limit,
          ...range,
          ...(sensorId === undefined ? {} : { sensorId }),
          ...(cursor === undefined ? {} : { after: decodeCursor(cursor) })
        })
        if (page.next !== undefined) reply.header('link', nextLink(request.url, encodeCursor(page.next)))
        return page.readings
      }
    )

    app.post<{ Body: ValidBody }>(
      '/data',
      {
        validatorCompiler: validateBody,
        schema: {
          summary: 'Store readings',
          description:
            'One reading (`{sensor_id, value, timestamp}`) or an array of up to 10,000, validated all-or-nothing and stored in one transaction. ' +
            'Idempotent on (sensor_id, timestamp): a retry stores nothing new and marks those readings `duplicate`. A missing timestamp means now. ' +
            'The latest value per sensor (Redis) is updated by timestamp and new readings go out on the live stream; when Redis is down the readings are still stored (`x-cache: bypassed`).',
          tags: ['readings'],
          security: [{ bearerAuth: [] }],
          body: postBody,
          response: { 201: { description: 'stored', ...postResponse }, ...errors(400, 401, 403, 408, 413, 415, 503) }
        }
      },
      async (request, reply) => {
        const { readings } = request.body
        const fresh = await deps.store.writeReturningNew(readings).catch((err: unknown) => {
          throw outcomeUnknown(err)
        })
        const inserted = fresh.filter(Boolean).length
        metrics.readingsWritten.inc({ result: 'inserted' }, inserted)
        metrics.readingsWritten.inc({ result: 'duplicate' }, readings.length - inserted)
        // Redis after Postgres: the readings are stored whatever happens next. The latest values get
        // every valid reading (as the streaming service does), so a retry repairs a missed update.
        const newOnes = readings.filter((_, i) => fresh[i] === true)
        const [latest, live] = await Promise.allSettled([deps.latest.update(readings), deps.live.publish(newOnes)])
        if (latest.status === 'rejected' || live.status === 'rejected') {
          const err = (latest.status === 'rejected' ? latest.reason : (live as PromiseRejectedResult).reason) as Error
          logger.warn({ err, readings: readings.length }, 'stored in Postgres, but Redis was not updated')
          metrics.cacheBypassed.inc({ route: '/data' })
          reply.header('x-cache', 'bypassed')
        }
        return reply.code(201).send({
          inserted,
          duplicates: readings.length - inserted,
          readings: readings.map((r, i) => ({ sensor_id: r.sensor_id, value: r.value, timestamp: r.timestamp, duplicate: fresh[i] !== true }))
        })
      }
    )
  }
}
