// GET /ws: the live stream over WebSocket. The client sends `subscribe` / `unsubscribe` messages
// naming sensor ids or globs; a `subscribe` with `last_event_id` or `since` is first replayed what
// it missed, as GET /stream is (live/session.ts). Readings come as `readings` messages, one per
// stored batch. A client with more than STREAM_CLIENT_BUFFER_BYTES unsent (ws bufferedAmount) is
// disconnected; one that does not answer a ping within a heartbeat is too.
import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import type { WebSocket } from 'ws'
import { SENSOR_PATTERN_PATTERN, SensorFilter } from '../../../domain/sensor-pattern.ts'
import { AppError } from '../../../platform/errors.ts'
import type { RouteContext } from '../context.ts'
import { followAlerts } from '../live/alerts.ts'
import { readingJson } from '../live/position.ts'
import { parsePatterns, resumePosition } from '../live/resume.ts'
import { liveSession } from '../live/for-route.ts'
import type { LiveEvent } from '../live/session.ts'
import { TIME_PATTERN } from '../params.ts'
import { errors } from '../schemas.ts'
import { HttpEdgeError } from '../http-errors.ts'

/** most sensor ids and globs one socket may subscribe to */
export const MAX_PATTERNS = 1000
const MAX_MESSAGE_BYTES = 64 * 1024
/** close code when the server drops a slow client (4000–4999: the application's own) */
export const CLOSE_TOO_SLOW = 4008
const PATTERN = SENSOR_PATTERN_PATTERN.slice(1, -1)

interface ClientMessage {
  type?: unknown
  sensor_id?: unknown
  last_event_id?: unknown
  since?: unknown
}

export function wsRoutes(ctx: RouteContext) {
  const { metrics, logger, config } = ctx
  const { stream } = config

  return async function plugin(app: FastifyInstance): Promise<void> {
    await app.register(websocket, { options: { maxPayload: MAX_MESSAGE_BYTES } })

    app.route<{ Querystring: { sensor_id?: string; since?: string; last_event_id?: string } }>({
      method: 'GET',
      url: '/ws',
      // A plain GET (no upgrade) gets the API's own error shape, not the plugin's bare 404.
      handler: async () => {
        throw new HttpEdgeError('BAD_REQUEST', 'GET /ws is a WebSocket endpoint: connect with Upgrade: websocket')
      },
      schema: {
        summary: 'Live readings (WebSocket), resumable',
        description:
          'Send `{"type":"subscribe","sensor_id":["line-4.*","pump-1"]}` (optionally with `last_event_id` or `since` to be replayed what was missed, ' +
          `up to ${stream.resumeSeconds} s back) and \`{"type":"unsubscribe","sensor_id":[…]}\`. The server answers \`{"type":"subscribed","sensor_id":[…],"replayed":n}\` ` +
          'and sends `{"type":"readings","id":"<event id>","readings":[{sensor_id,value,timestamp}…]}`; `id` is the position to resume from. ' +
          '`sensor_id`, `since` and `last_event_id` in the URL make a first subscription. A bad message gets `{"type":"error",…}`. ' +
          'Alert events of subscribed sensors come as `{"type":"alert","alert":{id, rule_id, rule_name, sensor_id, episode, kind, value, at, created_at}}`. ' +
          `A client more than ${stream.clientBufferBytes} bytes behind is closed with code ${CLOSE_TOO_SLOW}.`,
        tags: ['readings'],
        querystring: {
          type: 'object',
          properties: {
            sensor_id: { type: 'string', pattern: `^${PATTERN}(,${PATTERN})*$`, description: 'a first subscription: a comma list of ids and globs' },
            since: { type: 'string', pattern: TIME_PATTERN, description: 'replay the first subscription from this time' },
            last_event_id: { type: 'string', maxLength: 200, description: 'replay the first subscription after this event id' }
          },
          additionalProperties: false
        },
        response: { 101: { description: 'switching to the WebSocket protocol' }, ...errors(400, 401, 403, 503) }
      },
      wsHandler: async (socket: WebSocket, request) => {
        const send = (message: object): void => {
          if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(message))
        }
        const session = liveSession(ctx, {
          send: (events: readonly LiveEvent[]) => {
            const last = events[events.length - 1] as LiveEvent
            if (socket.readyState !== socket.OPEN) return
            socket.send(`{"type":"readings","id":"${last.id}","readings":[${events.map((e) => readingJson(e.reading)).join(',')}]}`)
          },
          backlog: () => socket.bufferedAmount,
          drained: () => new Promise((resolve) => setTimeout(resolve, 20)),
          // A close frame would wait behind the backlog: cut the connection.
          cut: () => socket.terminate()
        })
        // Messages may come while the feed is being joined: take them in order once it is.
        const pending: ClientMessage[] = []
        let ready = false
        const handle = (message: ClientMessage): void => {
          try {
            if (message.type !== 'subscribe' && message.type !== 'unsubscribe') {
              throw new AppError('VALIDATION_FAILED', 'type must be "subscribe" or "unsubscribe"', {
                details: [{ path: '/type', in: 'message', message: 'must be subscribe or unsubscribe' }]
              })
            }
            const patterns = parsePatterns(
              Array.isArray(message.sensor_id) ? message.sensor_id : typeof message.sensor_id === 'string' ? [message.sensor_id] : undefined,
              'message'
            )
            if (message.type === 'unsubscribe') {
              session.unsubscribe(patterns)
              send({ type: 'unsubscribed', sensor_id: patterns })
              return
            }
            if (new Set([...session.patterns, ...patterns]).size > MAX_PATTERNS) {
              throw new AppError('VALIDATION_FAILED', `at most ${MAX_PATTERNS} sensor ids and globs per connection`, {
                details: [{ path: '/sensor_id', in: 'message', message: `at most ${MAX_PATTERNS}` }]
              })
            }
            const resume = resumePosition({
              lastEventId: typeof message.last_event_id === 'string' ? message.last_event_id : undefined,
              since: typeof message.since === 'string' || typeof message.since === 'number' ? message.since : undefined,
              in: 'message'
            })
            session.subscribe(patterns, resume).then(
              (replayed) => send({ type: 'subscribed', sensor_id: patterns, replayed }),
              (err: unknown) => {
                logger.warn({ err }, 'live stream replay failed')
                send({ type: 'error', error: err instanceof AppError ? err.code : 'INTERNAL', message: 'the replay failed; subscribe again to resume' })
              }
            )
          } catch (err) {
            const e = err instanceof AppError ? err : new AppError('VALIDATION_FAILED', 'not a message of this protocol')
            send({ type: 'error', error: e.code, message: e.message, ...(e.details === undefined ? {} : { details: e.details }) })
          }
        }
        socket.on('message', (data, isBinary) => {
          let message: ClientMessage
          try {
            const parsed: unknown = isBinary ? undefined : JSON.parse(String(data))
            if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
            message = parsed as ClientMessage
          } catch {
            send({ type: 'error', error: 'INVALID_JSON', message: 'each message must be a JSON object' })
            return
          }
          if (ready) handle(message)
          else pending.push(message)
        })

        let alive = true
        socket.on('pong', () => {
          alive = true
        })
        const heartbeat = setInterval(() => {
          if (!alive) {
            socket.terminate()
            return
          }
          alive = false
          socket.ping()
        }, stream.heartbeatMs)
        heartbeat.unref()
        const unfollow = followAlerts(
          ctx,
          (id) => new SensorFilter(session.patterns).matches(id),
          (alert) => send({ type: 'alert', alert })
        )
        let open = true
        socket.on('close', () => {
          open = false
          clearInterval(heartbeat)
          unfollow()
          metrics.liveClients.dec()
          session.close()
        })
        metrics.liveClients.inc()

        try {
          await session.open()
        } catch (err) {
          logger.warn({ err }, 'live feed unavailable: closing a WebSocket')
          send({ type: 'error', error: err instanceof AppError ? err.code : 'UNAVAILABLE', message: 'the live feed is unavailable; try again' })
          socket.close(1011, 'live feed unavailable')
          return
        }
        if (!open) {
          session.close()
          return
        }
        ready = true
        const { sensor_id: first, since, last_event_id: lastEventId } = request.query
        if (first !== undefined) handle({ type: 'subscribe', sensor_id: first.split(','), since, last_event_id: lastEventId })
        for (const m of pending.splice(0)) handle(m)
      }
    })
  }
}
