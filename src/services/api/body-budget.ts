// Bounds the memory request bodies may hold at once: before a body is read, the request reserves
// its declared length (the body limit when it declares none) from one budget, and gives it back
// when its response is done. The raw body, its parsed form and the readings built from it live
// until then. A request that does not fit is refused at once (503 with Retry-After, its body never
// read), so a burst of large bodies cannot grow the heap beyond the budget.
import type { FastifyInstance } from 'fastify'
import type { Gauge } from 'prom-client'
import { AppError } from '../../platform/errors.ts'

export interface BodyBudgetOptions {
  /** bytes all bodies in flight may hold together */
  readonly budgetBytes: number
  /** the largest body (fastify answers 413 above it, before reading) */
  readonly bodyLimitBytes: number
  /** bytes reserved now */
  readonly inFlight: Gauge
}

export function installBodyBudget(app: FastifyInstance, options: BodyBudgetOptions): void {
  const { budgetBytes, bodyLimitBytes, inFlight } = options
  let reserved = 0
  app.addHook('onRequest', async (request, reply) => {
    const length = request.headers['content-length']
    const chunked = request.headers['transfer-encoding'] !== undefined
    if (length === undefined && !chunked) return
    const declared = length === undefined ? bodyLimitBytes : Number(length)
    // Over the limit: fastify refuses it with 413 without reading it, so it holds nothing.
    if (!(declared > 0) || declared > bodyLimitBytes) return
    if (reserved + declared > budgetBytes) {
      throw new AppError('UNAVAILABLE', `the server is reading as many request bodies as it may hold (${budgetBytes} bytes); retry shortly`, {
        retryable: true
      })
    }
    reserved += declared
    inFlight.set(reserved)
    reply.raw.once('close', () => {
      reserved -= declared
      inFlight.set(reserved)
    })
  })
}
