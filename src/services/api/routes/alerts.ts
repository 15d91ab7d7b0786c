// GET /alerts (the current state of each alert: rule × sensor) and GET /alerts/events (the history:
// one `firing` and one `resolved` event per episode), paged and filtered by rule, sensor and state.
import type { FastifyInstance } from 'fastify'
import type { AlertEventKind, AlertStateName } from '../../../domain/alert.ts'
import { AppError } from '../../../platform/errors.ts'
import type { AlertKey, AlertStore, StoredAlert } from '../../../ports/alerts.ts'
import { alertEventJson } from '../../alerts/event-json.ts'
import { nextLink } from '../params.ts'
import { DEFAULT_PAGE, errors, linkHeader, MAX_PAGE, sensorIdParam } from '../schemas.ts'

export const alertEventOut = {
  type: 'object',
  required: ['id', 'rule_id', 'rule_name', 'sensor_id', 'episode', 'kind', 'at', 'created_at'],
  properties: {
    id: { type: 'integer', description: 'the event id; webhooks send it as Idempotency-Key `alert-event-<id>`' },
    rule_id: { type: 'integer' },
    rule_name: { type: 'string' },
    sensor_id: { type: 'string' },
    episode: { type: 'integer', description: 'the episode of this alert: one firing and one resolved event each' },
    kind: { type: 'string', enum: ['firing', 'resolved'] },
    value: { type: 'number', description: 'the reading that caused it (none for no_data)' },
    at: { type: 'number', description: 'unix seconds: the reading time, or the check time for no_data firing' },
    created_at: { type: 'number', description: 'unix seconds: when it was recorded' }
  }
} as const

const alertOut = {
  type: 'object',
  required: ['rule_id', 'sensor_id', 'state', 'episode'],
  properties: {
    rule_id: { type: 'integer' },
    rule_name: { type: 'string' },
    sensor_id: { type: 'string' },
    state: { type: 'string', enum: ['inactive', 'pending', 'firing', 'resolved'] },
    episode: { type: 'integer', description: 'episodes fired so far' },
    since: { type: 'number', description: 'unix seconds: the breach started (pending, firing)' },
    last_ts: { type: 'number', description: 'unix seconds: the newest reading evaluated' },
    last_value: { type: 'number' },
    changed_at: { type: 'number', description: 'unix seconds: the state last changed' }
  }
} as const

const CURSOR = '^[A-Za-z0-9_-]{1,200}$'
const filters = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE, description: `per page, 1–${MAX_PAGE}` },
  cursor: { type: 'string', pattern: CURSOR, description: 'from the `Link` header of the previous page' },
  rule_id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER },
  sensor_id: sensorIdParam
} as const

const badCursor = (): AppError =>
  new AppError('VALIDATION_FAILED', 'the request is not valid', {
    details: [{ path: '/cursor', in: 'query', message: 'is not a cursor from a Link header of this API' }]
  })

function alertJson(a: StoredAlert): Record<string, unknown> {
  const time = (name: string, t: number | undefined) => (t !== undefined && Number.isFinite(t) ? { [name]: t } : {})
  return {
    rule_id: a.ruleId,
    ...(a.ruleName === undefined ? {} : { rule_name: a.ruleName }),
    sensor_id: a.sensorId,
    state: a.state,
    episode: a.episode,
    ...time('since', a.since),
    ...time('last_ts', a.lastTs),
    ...(a.lastValue === undefined ? {} : { last_value: a.lastValue }),
    ...time('changed_at', a.changedAt)
  }
}

const encodeKey = (k: AlertKey): string => Buffer.from(`${k.ruleId}:${k.sensorId}`, 'utf8').toString('base64url')
function decodeKey(cursor: string): AlertKey {
  const m = /^([1-9][0-9]{0,15}):([A-Za-z0-9._:-]{1,128})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  if (m === null) throw badCursor()
  return { ruleId: Number(m[1]), sensorId: m[2] as string }
}

export function alertRoutes(alerts: AlertStore) {
  const tags = ['alerts']
  return async function plugin(app: FastifyInstance): Promise<void> {
    app.get<{ Querystring: { limit: number; cursor?: string; rule_id?: number; sensor_id?: string; state?: AlertStateName } }>(
      '/alerts',
      {
        schema: {
          summary: 'The alerts (rule × sensor) and their current state',
          description: 'By rule id, then sensor id; `state=firing` lists what fires now. Paged: the next page is in the `Link` header.',
          tags,
          querystring: {
            type: 'object',
            properties: { ...filters, state: { type: 'string', enum: ['inactive', 'pending', 'firing', 'resolved'] } },
            additionalProperties: false
          },
          response: { 200: { description: 'alerts', headers: linkHeader, type: 'array', items: alertOut }, ...errors(400, 401, 403, 503) }
        }
      },
      async (request, reply) => {
        const q = request.query
        const page = await alerts.listAlerts({
          limit: q.limit,
          ...(q.cursor === undefined ? {} : { after: decodeKey(q.cursor) }),
          ...(q.rule_id === undefined ? {} : { ruleId: q.rule_id }),
          ...(q.sensor_id === undefined ? {} : { sensorId: q.sensor_id }),
          ...(q.state === undefined ? {} : { state: q.state })
        })
        if (page.next !== undefined) reply.header('link', nextLink(request.url, encodeKey(page.next)))
        return page.alerts.map(alertJson)
      }
    )

    app.get<{ Querystring: { limit: number; cursor?: string; rule_id?: number; sensor_id?: string; kind?: AlertEventKind } }>(
      '/alerts/events',
      {
        schema: {
          summary: 'Alert events, newest first: one firing and one resolved per episode',
          description: 'Paged: the next page is in the `Link` header.',
          tags,
          querystring: {
            type: 'object',
            properties: { ...filters, kind: { type: 'string', enum: ['firing', 'resolved'] } },
            additionalProperties: false
          },
          response: { 200: { description: 'events', headers: linkHeader, type: 'array', items: alertEventOut }, ...errors(400, 401, 403, 503) }
        }
      },
      async (request, reply) => {
        const q = request.query
        let before: number | undefined
        if (q.cursor !== undefined) {
          before = /^[1-9][0-9]{0,15}$/.test(q.cursor) ? Number(q.cursor) : undefined
          if (before === undefined) throw badCursor()
        }
        const page = await alerts.listEvents({
          limit: q.limit,
          ...(before === undefined ? {} : { before }),
          ...(q.rule_id === undefined ? {} : { ruleId: q.rule_id }),
          ...(q.sensor_id === undefined ? {} : { sensorId: q.sensor_id }),
          ...(q.kind === undefined ? {} : { kind: q.kind })
        })
        if (page.next !== undefined) reply.header('link', nextLink(request.url, String(page.next)))
        return page.events.map(alertEventJson)
      }
    )
  }
}
