// GET /healthz: the process is up. GET /readyz: Postgres and Redis answer (503 naming the one that
// does not). GET /metrics: Prometheus text.
import type { FastifyInstance } from 'fastify'
import { AppError } from '../../../platform/errors.ts'
import type { RouteContext } from '../context.ts'
import { errors } from '../schemas.ts'

const readyBody = {
  type: 'object',
  required: ['status', 'checks'],
  properties: {
    status: { type: 'string', enum: ['ok'] },
    checks: { type: 'object', properties: { postgres: { type: 'string' }, redis: { type: 'string' } } }
  }
} as const

export function healthRoutes(ctx: RouteContext) {
  const { deps, registry } = ctx
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get(
      '/healthz',
      {
        schema: {
          summary: 'Liveness: the process is up',
          tags: ['operations'],
          response: { 200: { type: 'object', required: ['status'], properties: { status: { type: 'string', enum: ['ok'] } } } }
        }
      },
      async () => ({ status: 'ok' })
    )

    app.get(
      '/readyz',
      {
        schema: {
          summary: 'Readiness: Postgres and Redis answer',
          description: '503 with `details` naming the dependency that failed.',
          tags: ['operations'],
          response: { 200: { description: 'both answer', ...readyBody }, ...errors(503) }
        }
      },
      async () => {
        const [postgres, redis] = await Promise.allSettled([deps.store.ping(), deps.latest.ping()])
        const describe = (r: PromiseSettledResult<void>): string => (r.status === 'fulfilled' ? 'ok' : (r.reason as Error).message)
        const checks = { postgres: describe(postgres), redis: describe(redis) }
        if (postgres.status === 'rejected' || redis.status === 'rejected') {
          const failed = [postgres.status === 'rejected' ? 'postgres' : '', redis.status === 'rejected' ? 'redis' : ''].filter(Boolean)
          throw new AppError('UNAVAILABLE', `not ready: ${failed.join(' and ')} did not answer`, { details: checks })
        }
        return { status: 'ok', checks }
      }
    )

    app.get(
      '/metrics',
      {
        schema: {
          summary: 'Prometheus metrics',
          description: 'Request counts and latency histograms by route and status, dependency errors, cache bypasses, live clients, process metrics.',
          tags: ['operations'],
          response: { 200: { description: 'Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } }, ...errors(401, 403) }
        }
      },
      async (_request, reply) => {
        const text = await registry.metrics()
        return reply.type(registry.contentType).send(text)
      }
    )
  }
}
