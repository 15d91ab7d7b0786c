// GET /recent/:sensor_id: the sensor's latest reading from Redis; on a miss from Postgres (and the
// cache is filled); when Redis fails, from Postgres with `x-cache: bypassed`.
import type { FastifyInstance } from 'fastify'
import type { Reading } from '../../../domain/reading.ts'
import { AppError } from '../../../platform/errors.ts'
import type { RouteContext } from '../context.ts'
import { cacheHeader, errors, readingOut, sensorIdParam } from '../schemas.ts'

export type CacheOutcome = 'hit' | 'miss' | 'bypassed'

/** The latest reading of one sensor, by the rule above; undefined when the sensor is unknown. */
export async function latestOf(ctx: RouteContext, sensorId: string): Promise<{ reading: Reading | undefined; cache: CacheOutcome }> {
  const { deps, logger } = ctx
  let cached: Reading | undefined
  try {
    cached = await deps.latest.get(sensorId)
  } catch (err) {
    logger.debug({ err }, 'redis failed; reading the latest value from postgres')
    return { reading: await deps.queries.latest(sensorId), cache: 'bypassed' }
  }
  if (cached !== undefined) return { reading: cached, cache: 'hit' }
  const stored = await deps.queries.latest(sensorId)
  if (stored !== undefined) {
    // Fill the cache; the compare-by-timestamp rule keeps a newer value written meanwhile.
    await deps.latest.update([stored]).catch((err: Error) => logger.debug({ err }, 'could not fill the cache'))
  }
  return { reading: stored, cache: 'miss' }
}

export function recentRoutes(ctx: RouteContext) {
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { sensor_id: string } }>(
      '/recent/:sensor_id',
      {
        schema: {
          summary: "A sensor's latest reading",
          description:
            'From Redis; on a cache miss from Postgres (and the cache is filled). When Redis is down the answer comes from Postgres with `x-cache: bypassed`.',
          tags: ['readings'],
          params: { type: 'object', required: ['sensor_id'], properties: { sensor_id: sensorIdParam } },
          response: { 200: { description: 'the latest reading', headers: cacheHeader, ...readingOut }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request, reply) => {
        const sensorId = request.params.sensor_id
        const { reading, cache } = await latestOf(ctx, sensorId)
        reply.header('x-cache', cache)
        if (cache === 'bypassed') ctx.metrics.cacheBypassed.inc({ route: '/recent/:sensor_id' })
        if (reading === undefined) throw new AppError('NOT_FOUND', `no readings for sensor ${sensorId}`)
        return reading
      }
    )
  }
}
