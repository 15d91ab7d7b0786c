// GET /stream: Server-Sent Events of readings as they are stored (from the live feed), optionally
// only some sensors. Each client has a bounded send buffer: a client that reads too slowly is
// disconnected rather than let memory grow (it can reconnect and fill the gap from GET /data).
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import type { Reading } from '../../../domain/reading.ts'
import type { RouteContext } from '../context.ts'
import { errors, readingOut, sensorIdParam } from '../schemas.ts'

/** bytes queued for one client before it is dropped */
export const MAX_CLIENT_BUFFER_BYTES = 1024 * 1024
const HEARTBEAT_MS = 15_000
const STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' } as const

export function streamRoutes(ctx: RouteContext) {
  const { deps, metrics, logger } = ctx
  const clients = new Set<ServerResponse>()

  return async function plugin(app: FastifyInstance): Promise<void> {
    // End every open stream before the server closes, or close() would wait for them forever.
    app.addHook('preClose', async () => {
      for (const res of clients) res.end()
    })

    app.get<{ Querystring: { sensor_id?: string } }>(
      '/stream',
      {
        schema: {
          summary: 'Live readings (Server-Sent Events)',
          description:
            'Each stored reading as an SSE event `reading` whose data is `{sensor_id, value, timestamp}`; a comment every 15 s keeps the connection open. ' +
            `\`sensor_id\` (a comma list) restricts the stream. A client more than ${MAX_CLIENT_BUFFER_BYTES / 1024} KiB behind is disconnected.`,
          tags: ['readings'],
          querystring: {
            type: 'object',
            properties: { sensor_id: { type: 'string', pattern: `^${sensorIdParam.pattern.slice(1, -1)}(,${sensorIdParam.pattern.slice(1, -1)})*$`, description: 'only these sensors (comma list)' } },
            additionalProperties: false
          },
          response: {
            200: { description: `text/event-stream; each event's data is a reading: ${JSON.stringify(readingOut.required)}`, content: { 'text/event-stream': { schema: { type: 'string' } } } },
            ...errors(400, 401, 403, 503)
          }
        }
      },
      async (request, reply) => {
        // HEAD gets the headers of GET at once: there is no body to stream, so nothing to subscribe to.
        if (request.method === 'HEAD') return reply.code(200).headers(STREAM_HEADERS).send()
        const only = request.query.sensor_id === undefined ? undefined : new Set(request.query.sensor_id.split(','))
        const res = reply.raw
        let open = true
        const send = (readings: readonly Reading[]): void => {
          if (!open) return
          let chunk = ''
          for (const r of readings) {
            if (only !== undefined && !only.has(r.sensor_id)) continue
            chunk += `event: reading\ndata: ${JSON.stringify({ sensor_id: r.sensor_id, value: r.value, timestamp: r.timestamp })}\n\n`
          }
          if (chunk === '') return
          if (res.writableLength > MAX_CLIENT_BUFFER_BYTES) {
            metrics.liveClientsDropped.inc()
            logger.info({ buffered: res.writableLength }, 'live client too slow: disconnected')
            stop()
            res.destroy()
            return
          }
          res.write(chunk)
        }
        // Subscribe before answering so that a dead Redis is a clean 503.
        const unsubscribe = await deps.live.subscribe(send)
        const heartbeat = setInterval(() => res.write(': keepalive\n\n'), HEARTBEAT_MS)
        heartbeat.unref()
        const stop = (): void => {
          if (!open) return
          open = false
          clearInterval(heartbeat)
          clients.delete(res)
          metrics.liveClients.dec()
          unsubscribe().catch(() => undefined)
        }
        reply.hijack()
        res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...STREAM_HEADERS, connection: 'keep-alive' })
        res.write('retry: 2000\n: connected\n\n')
        clients.add(res)
        metrics.liveClients.inc()
        res.on('close', stop)
      }
    )
  }
}
