// /rules: the alert rules, created, listed (paged), read, replaced and deleted. A rule watches a
// sensor id or a glob (as the live stream's sensor_id) for one condition: `above` or `below` a value
// (with `hysteresis` and a `for` duration), or `no_data` for N seconds; optionally with a webhook.
import type { FastifyInstance } from 'fastify'
import { SENSOR_PATTERN_PATTERN } from '../../../domain/sensor-pattern.ts'
import { AppError } from '../../../platform/errors.ts'
import type { RuleInput, RuleStore, StoredRule } from '../../../ports/alerts.ts'
import { nextLink } from '../params.ts'
import { DEFAULT_PAGE, errors, linkHeader, MAX_PAGE } from '../schemas.ts'

const number = (description: string) => ({ type: 'number', description }) as const

export const ruleBody = {
  type: 'object',
  required: ['sensor_id'],
  additionalProperties: false,
  description: 'exactly one of `above`, `below` and `no_data`',
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200, description: 'a name for people; default: made from the condition' },
    sensor_id: { type: 'string', pattern: SENSOR_PATTERN_PATTERN, description: 'a sensor id or a glob (`*` any run of characters, `?` one), e.g. `line-4.*`' },
    above: number('fires when a reading is greater than this'),
    below: number('fires when a reading is less than this'),
    hysteresis: { type: 'number', minimum: 0, default: 0, description: 'above/below: resolves only once the value is this far back past the threshold' },
    for: { type: 'number', minimum: 0, default: 0, description: 'above/below: seconds (of reading time) the breach must last before it fires' },
    no_data: { type: 'number', exclusiveMinimum: 0, description: 'fires when the sensor has sent nothing for this many seconds; resolves on its next reading' },
    webhook_url: { type: 'string', maxLength: 2000, description: 'http(s) URL that each firing and resolved event is POSTed to' },
    webhook_secret: { type: 'string', minLength: 1, maxLength: 500, description: 'signs the webhook body: X-Sensorstream-Signature: sha256=<HMAC-SHA256 hex>' }
  }
} as const

export const ruleOut = {
  type: 'object',
  required: ['id', 'name', 'sensor_id', 'created_at', 'updated_at'],
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    sensor_id: { type: 'string' },
    above: { type: 'number' },
    below: { type: 'number' },
    hysteresis: { type: 'number' },
    for: { type: 'number' },
    no_data: { type: 'number' },
    webhook_url: { type: 'string' },
    webhook_secret: { type: 'boolean', description: 'whether the webhook is signed (the secret is never shown)' },
    created_at: { type: 'number', description: 'unix seconds' },
    updated_at: { type: 'number', description: 'unix seconds' }
  }
} as const

export const ruleIdParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER } }
} as const

interface RuleBody {
  name?: string
  sensor_id: string
  above?: number
  below?: number
  hysteresis?: number
  for?: number
  no_data?: number
  webhook_url?: string
  webhook_secret?: string
}

function invalid(path: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', 'the request is not valid', { details: [{ path, in: 'body', message }] })
}

/** What JSON schema cannot say: one condition, its own options only, an http(s) webhook. */
export function ruleInput(body: RuleBody): RuleInput {
  const conditions = (['above', 'below', 'no_data'] as const).filter((c) => body[c] !== undefined)
  if (conditions.length !== 1) throw invalid('/', 'needs exactly one of above, below and no_data')
  const kind = conditions[0] as RuleInput['kind']
  if (kind === 'no_data' && ((body.hysteresis ?? 0) !== 0 || (body.for ?? 0) !== 0))
    throw invalid(body.for ? '/for' : '/hysteresis', 'only for above and below')
  if (body.webhook_url !== undefined) {
    let url: URL | undefined
    try {
      url = new URL(body.webhook_url)
    } catch {
      url = undefined
    }
    if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) throw invalid('/webhook_url', 'must be an http or https URL')
  }
  if (body.webhook_secret !== undefined && body.webhook_url === undefined) throw invalid('/webhook_secret', 'needs webhook_url')
  const threshold = kind === 'above' ? body.above : kind === 'below' ? body.below : undefined
  const name = body.name ?? (kind === 'no_data' ? `${body.sensor_id} no data for ${body.no_data} s` : `${body.sensor_id} ${kind} ${threshold}`)
  return {
    name,
    sensor: body.sensor_id,
    kind,
    ...(threshold === undefined ? {} : { threshold }),
    hysteresis: body.hysteresis ?? 0,
    forSeconds: body.for ?? 0,
    ...(kind === 'no_data' ? { noDataSeconds: body.no_data as number } : {}),
    ...(body.webhook_url === undefined ? {} : { webhookUrl: body.webhook_url }),
    ...(body.webhook_secret === undefined ? {} : { webhookSecret: body.webhook_secret })
  }
}

export function ruleJson(rule: StoredRule): Record<string, unknown> {
  return {
    id: rule.id,
    name: rule.name,
    sensor_id: rule.sensor,
    ...(rule.kind === 'no_data' ? { no_data: rule.noDataSeconds } : { [rule.kind]: rule.threshold, hysteresis: rule.hysteresis, for: rule.forSeconds }),
    ...(rule.webhookUrl === undefined ? {} : { webhook_url: rule.webhookUrl, webhook_secret: rule.hasSecret }),
    created_at: rule.createdAt,
    updated_at: rule.updatedAt
  }
}

export function ruleRoutes(rules: RuleStore) {
  const notFound = (id: number): AppError => new AppError('NOT_FOUND', `no rule ${id}`)
  const tags = ['alerts']

  return async function plugin(app: FastifyInstance): Promise<void> {
    app.post<{ Body: RuleBody }>(
      '/rules',
      {
        schema: {
          summary: 'Create an alert rule',
          description: 'Takes effect in the streaming service within ALERTS_RULES_RELOAD_MS.',
          tags,
          body: ruleBody,
          response: { 201: { description: 'the rule', ...ruleOut }, ...errors(400, 401, 403, 503) }
        }
      },
      async (request, reply) => {
        const rule = await rules.createRule(ruleInput(request.body))
        return reply.code(201).header('location', `/rules/${rule.id}`).send(ruleJson(rule))
      }
    )

    app.get<{ Querystring: { limit: number; cursor?: string } }>(
      '/rules',
      {
        schema: {
          summary: 'The alert rules, by id',
          description: 'Paged: the next page is in the `Link: <…>; rel="next"` header.',
          tags,
          querystring: {
            type: 'object',
            properties: {
              limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE, description: `rules per page, 1–${MAX_PAGE}` },
              cursor: { type: 'string', pattern: '^[1-9][0-9]{0,15}$', description: 'from the `Link` header of the previous page' }
            },
            additionalProperties: false
          },
          response: { 200: { description: 'rules', headers: linkHeader, type: 'array', items: ruleOut }, ...errors(400, 401, 403, 503) }
        }
      },
      async (request, reply) => {
        const { limit, cursor } = request.query
        const page = await rules.listRules({ limit, ...(cursor === undefined ? {} : { after: Number(cursor) }) })
        if (page.next !== undefined) reply.header('link', nextLink(request.url, String(page.next)))
        return page.rules.map(ruleJson)
      }
    )

    app.get<{ Params: { id: number } }>(
      '/rules/:id',
      {
        schema: {
          summary: 'One alert rule',
          tags,
          params: ruleIdParams,
          response: { 200: { description: 'the rule', ...ruleOut }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request) => {
        const rule = await rules.getRule(request.params.id)
        if (rule === undefined) throw notFound(request.params.id)
        return ruleJson(rule)
      }
    )

    app.put<{ Params: { id: number }; Body: RuleBody }>(
      '/rules/:id',
      {
        schema: {
          summary: 'Replace an alert rule',
          description: 'The alerts of the rule keep their state; the new condition applies from the next reading. A webhook secret not sent again is removed.',
          tags,
          params: ruleIdParams,
          body: ruleBody,
          response: { 200: { description: 'the rule', ...ruleOut }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request) => {
        const rule = await rules.updateRule(request.params.id, ruleInput(request.body))
        if (rule === undefined) throw notFound(request.params.id)
        return ruleJson(rule)
      }
    )

    app.delete<{ Params: { id: number } }>(
      '/rules/:id',
      {
        schema: {
          summary: 'Delete an alert rule, with its alerts and their events',
          tags,
          params: ruleIdParams,
          response: { 204: { description: 'deleted', type: 'null' }, ...errors(400, 401, 403, 404, 503) }
        }
      },
      async (request, reply) => {
        if (!(await rules.deleteRule(request.params.id))) throw notFound(request.params.id)
        return reply.code(204).send()
      }
    )
  }
}
