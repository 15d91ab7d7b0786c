// What the HTTP edge refuses before a route runs: requests not received in time (408), bodies in a
// charset other than UTF-8 (415), bodies beyond the memory budget and requests while the server
// shuts down (503), non-finite numbers in the query or path (400). Errors the framework and Node's
// HTTP parser raise go through the same mapping as every other error (http-errors.ts).
import type { Server } from 'node:http'
import type { Duplex } from 'node:stream'
import type { FastifyHttpOptions, FastifyInstance } from 'fastify'
import type { Config } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import type { ApiMetrics } from '../../platform/metrics.ts'
import { installBodyBudget } from './body-budget.ts'
import { answerClientError, answerConnect, HttpEdgeError, sendError } from './http-errors.ts'
import { assertFiniteNumbers } from './params.ts'

/** Headers must arrive within this long (and within the whole-request timeout). */
const HEADERS_TIMEOUT_MS = 10_000

/** The fastify (and Node server) options of the edge. */
export function edgeServerOptions(config: Config['api'], logger: Logger): Partial<FastifyHttpOptions<Server>> {
  const requestTimeout = config.bodyTimeoutMs
  const headersTimeout = Math.min(HEADERS_TIMEOUT_MS, requestTimeout)
  return {
    // Node checks these timeouts every connectionsCheckingInterval (30 s by default): often enough
    // that a slow client is answered 408 close to its deadline.
    requestTimeout,
    http: { requestTimeout, headersTimeout, connectionsCheckingInterval: Math.min(1000, requestTimeout) },
    clientErrorHandler: (err, socket) => answerClientError(err, socket, logger),
    frameworkErrors: (err, _request, reply) => sendError(reply, err, logger)
  }
}

const UTF8 = /^"?utf-?8"?$/i

export function installEdgeChecks(app: FastifyInstance, config: Config['api'], metrics: ApiMetrics): void {
  app.server.on('connect', (_request, socket: Duplex) => answerConnect(socket))

  // fastify's own 503 while closing has a body of its own (return503OnClosing is off in app.ts):
  // requests that still arrive on open connections while the server drains get this one.
  let closing = false
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return
    reply.header('connection', 'close')
    throw new AppError('UNAVAILABLE', 'the server is shutting down; retry (on another instance)', { retryable: true })
  })

  // Bodies are parsed as UTF-8: a body that says it is in another charset would be misread.
  app.addHook('onRequest', async (request) => {
    const type = request.headers['content-type']
    const body = request.headers['transfer-encoding'] !== undefined || Number(request.headers['content-length'] ?? 0) > 0
    if (type === undefined || !body) return
    for (const param of type.split(';').slice(1)) {
      const [name = '', value = ''] = param.split('=').map((s) => s.trim())
      if (name.toLowerCase() === 'charset' && !UTF8.test(value)) {
        throw new HttpEdgeError('UNSUPPORTED_MEDIA_TYPE', `the body must be application/json in UTF-8 (charset=utf-8 or none), not charset=${value}`)
      }
    }
  })

  installBodyBudget(app, { budgetBytes: config.bodyBudgetBytes, bodyLimitBytes: config.bodyLimitBytes, inFlight: metrics.bodyBytesInFlight })

  app.addHook('preHandler', async (request) => {
    assertFiniteNumbers(request.query, 'query')
    assertFiniteNumbers(request.params, 'path')
  })
}
