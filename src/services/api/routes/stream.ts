// GET /stream: Server-Sent Events of readings as they are stored, for some sensors (ids and globs).
// Every event has an id (the client's place in the stream); a client that comes back with
// Last-Event-ID (or `?since=`) is first replayed from Postgres what it missed within
// STREAM_RESUME_SECONDS (live/session.ts). A client too far behind is disconnected rather than let
// memory grow; it can reconnect and resume.
import type { ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import { SENSOR_PATTERN_PATTERN, SensorFilter } from '../../../domain/sensor-pattern.ts'
import type { RouteContext } from '../context.ts'
import { followAlerts } from '../live/alerts.ts'
import { drainedOrClosed } from '../live/drained.ts'
import { readingJson } from '../live/position.ts'
import { parsePatterns, resumePosition } from '../live/resume.ts'
import { liveSession } from '../live/for-route.ts'
import type { LiveEvent } from '../live/session.ts'
import { TIME_PATTERN } from '../params.ts'
import { errors, readingOut } from '../schemas.ts'

const PATTERN = SENSOR_PATTERN_PATTERN.slice(1, -1)
const STREAM_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no' } as const

export function streamRoutes(ctx: RouteContext) {
  const { metrics, logger, config } = ctx
  const { stream } = config
  const clients = new Set<ServerResponse>()

  return async function plugin(app: FastifyInstance): Promise<void> {
    // End every open stream before the server closes, or close() would wait for them forever.
    app.addHook('preClose', async () => {
      for (const res of clients) res.end()
    })

    app.get<{ Querystring: { sensor_id?: string; since?: string }; Headers: { 'last-event-id'?: string } }>(
      '/stream',
      {
        schema: {
          summary: 'Live readings (Server-Sent Events), resumable',
          description:
            'Each stored reading as an SSE event `reading` with an `id` and data `{sensor_id, value, timestamp}`; a `: ping` comment every ' +
            `${stream.heartbeatMs / 1000} s keeps proxies from closing an idle stream. \`sensor_id\` (a comma list of ids and globs: \`*\` any run of characters, \`?\` one) restricts it. ` +
            `Reconnecting with \`Last-Event-ID\` (or \`since\`) first replays from Postgres what was missed, up to ${stream.resumeSeconds} s back. ` +
            `A client more than ${stream.clientBufferBytes} bytes behind is disconnected. ` +
            'Alert events of those sensors come as `event: alert` (no id: they are not replayed) with data `{id, rule_id, rule_name, sensor_id, episode, kind, value, at, created_at}`.',
          tags: ['readings'],
          querystring: {
            type: 'object',
            properties: {
              sensor_id: {
                type: 'string',
                pattern: `^${PATTERN}(,${PATTERN})*$`,
                description: 'only these sensors: a comma list of ids and globs, e.g. `line-4.*,pump-?`'
              },
              since: {
                type: 'string',
                pattern: TIME_PATTERN,
                description: 'replay from this time (unix seconds or RFC 3339, inclusive) before going live; Last-Event-ID wins'
              }
            },
            additionalProperties: false
          },
          headers: {
            type: 'object',
            properties: { 'last-event-id': { type: 'string', description: 'the id of the last event received: replay what came after it' } }
          },
          response: {
            200: {
              description: `text/event-stream; each event's data is a reading: ${JSON.stringify(readingOut.required)}`,
              content: { 'text/event-stream': { schema: { type: 'string' } } }
            },
            ...errors(400, 401, 403, 503)
          }
        }
      },
      async (request, reply) => {
        // HEAD gets the headers of GET at once: there is no body to stream, so nothing to subscribe to.
        if (request.method === 'HEAD') return reply.code(200).headers(STREAM_HEADERS).send()
        const patterns = request.query.sensor_id === undefined ? ['*'] : parsePatterns(request.query.sensor_id, 'query')
        const resume = resumePosition({ lastEventId: request.headers['last-event-id'], since: request.query.since, in: 'query' })
        const res = reply.raw
        const session = liveSession(ctx, {
          send: (events: readonly LiveEvent[]) => {
            let chunk = ''
            for (const e of events) chunk += `id: ${e.id}\nevent: reading\ndata: ${readingJson(e.reading)}\n\n`
            res.write(chunk)
          },
          backlog: () => res.writableLength,
          drained: () => drainedOrClosed(res),
          cut: () => res.destroy()
        })
        // Subscribe before answering so that a dead Redis is a clean 503.
        await session.open()
        const heartbeat = setInterval(() => res.write(': ping\n\n'), stream.heartbeatMs)
        heartbeat.unref()
        let open = true
        const stop = (): void => {
          if (!open) return
          open = false
          clearInterval(heartbeat)
          unfollow()
          clients.delete(res)
          metrics.liveClients.dec()
          session.close()
        }
        reply.hijack()
        res.writeHead(200, { ...(reply.getHeaders() as Record<string, string>), ...STREAM_HEADERS, connection: 'keep-alive' })
        res.write('retry: 2000\n: connected\n\n')
        clients.add(res)
        metrics.liveClients.inc()
        const filter = new SensorFilter(patterns)
        const unfollow = followAlerts(
          ctx,
          (id) => filter.matches(id),
          (event) => res.write(`event: alert\ndata: ${JSON.stringify(event)}\n\n`)
        )
        res.on('close', stop)
        session.subscribe(patterns, resume).catch((err: unknown) => {
          // Postgres did not give the replay: end the stream; the client reconnects and resumes.
          logger.warn({ err }, 'live stream replay failed')
          res.end()
        })
      }
    )
  }
}
