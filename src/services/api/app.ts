// buildApp(deps): the API as a fastify instance that is not listening yet, so tests drive it in
// process with inject() and main.ts (or `sensorstream all`) decides where it listens.
import cors from '@fastify/cors'
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify'
import { apiMetrics } from '../../platform/metrics.ts'
import { installAuth } from './auth.ts'
import type { RouteContext } from './context.ts'
import { guardDeps, type ApiDeps } from './deps.ts'
import { edgeServerOptions, installEdgeChecks } from './edge.ts'
import { installErrorHandling, ROUTER_OPTIONS } from './http-errors.ts'
import { alertRoutes } from './routes/alerts.ts'
import { dashboardRoutes } from './routes/dashboard.ts'
import { dataRoutes } from './routes/data.ts'
import { docsRoutes, registerOpenApi } from './routes/docs.ts'
import { healthRoutes } from './routes/health.ts'
import { recentRoutes } from './routes/recent.ts'
import { ruleRoutes } from './routes/rules.ts'
import { sensorRoutes } from './routes/sensors.ts'
import { statusRoutes } from './routes/status.ts'
import { streamRoutes } from './routes/stream.ts'
import { wsRoutes } from './routes/ws.ts'

export type { ApiDeps } from './deps.ts'

export async function buildApp(deps: ApiDeps): Promise<FastifyInstance> {
  const { config } = deps
  const logger = deps.logger.child({ component: 'http' })
  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // one line per request would drown the logs at this request rate; metrics count them instead
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // a sensor id may be 128 characters: longer ones get a 400 from validation, not a 414
    routerOptions: ROUTER_OPTIONS,
    // while closing, edge.ts answers 503 in the API's error shape instead
    return503OnClosing: false,
    ...edgeServerOptions(config, logger),
    ajv: {
      // Query strings are validated like bodies: every bad field, unknown parameters refused.
      customOptions: { allErrors: true, removeAdditional: false, coerceTypes: true, useDefaults: true }
    }
  })
  // Only JSON bodies: anything else is 415.
  app.removeContentTypeParser('text/plain')

  const metrics = apiMetrics(deps.registry)
  const ctx: RouteContext = { deps: guardDeps(deps, metrics), metrics, registry: deps.registry, config, logger }

  installErrorHandling(app, logger)
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'unmatched', status: String(reply.statusCode) }
    metrics.requests.inc(labels)
    metrics.duration.observe(labels, reply.elapsedTime / 1000)
  })
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins.includes('*') ? '*' : [...config.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'],
      allowedHeaders: ['Content-Type', 'Authorization'],
      exposedHeaders: ['Link', 'X-Cache', 'X-Tier', 'Cache-Status', 'Retry-After'],
      maxAge: 600
    })
  }
  installAuth(app, config)
  installEdgeChecks(app, config, metrics)
  await registerOpenApi(app)

  await app.register(dataRoutes(ctx))
  await app.register(recentRoutes(ctx))
  await app.register(sensorRoutes(ctx))
  await app.register(streamRoutes(ctx))
  await app.register(wsRoutes(ctx))
  if (ctx.deps.rules !== undefined) await app.register(ruleRoutes(ctx.deps.rules))
  if (ctx.deps.alerts !== undefined) await app.register(alertRoutes(ctx.deps.alerts))
  await app.register(statusRoutes(ctx))
  await app.register(healthRoutes(ctx))
  await app.register(docsRoutes())
  await app.register(dashboardRoutes())
  return app
}
