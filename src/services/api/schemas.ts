// Request and response JSON schemas, derived from the one reading schema in src/domain/reading.ts.
// They drive fastify's validation of query strings and path parameters, response serialization and
// the OpenAPI document. Bodies are validated by validateReading itself (see routes/data.ts), so HTTP
// accepts exactly what Kafka accepts.
import { readingSchema, SENSOR_ID_MAX_LENGTH, SENSOR_ID_PATTERN } from '../../domain/reading.ts'
import { BUCKET_PATTERN, CURSOR_PATTERN, TIME_PATTERN } from './params.ts'

export const MAX_POST_READINGS = 10_000
export const MAX_PAGE = 1000
export const DEFAULT_PAGE = 10

const { sensor_id: sensorIdSchema, value: valueSchema, timestamp: timestampSchema } = readingSchema.properties

/** A reading as the API answers it. */
export const readingOut = {
  type: 'object',
  required: [...readingSchema.required],
  properties: { sensor_id: sensorIdSchema, value: valueSchema, timestamp: timestampSchema },
  additionalProperties: false
} as const

/** A reading as a client sends it: timestamp may be left out (it means now); extra fields are ignored. */
export const readingIn = {
  type: 'object',
  required: ['sensor_id', 'value'],
  properties: {
    sensor_id: sensorIdSchema,
    value: valueSchema,
    timestamp: { ...timestampSchema, description: `${timestampSchema.description}; missing means now` }
  },
  additionalProperties: true
} as const

export const postBody = {
  description: `one reading, or an array of 1–${MAX_POST_READINGS} readings (all-or-nothing)`,
  oneOf: [readingIn, { type: 'array', items: readingIn, minItems: 1, maxItems: MAX_POST_READINGS }]
} as const

export const postResponse = {
  type: 'object',
  required: ['inserted', 'duplicates', 'readings'],
  properties: {
    inserted: { type: 'integer', description: 'readings that were new' },
    duplicates: { type: 'integer', description: 'readings whose (sensor_id, timestamp) was already stored, or repeated in the request' },
    readings: {
      type: 'array',
      description: 'the stored readings, in the order given',
      items: {
        type: 'object',
        required: ['sensor_id', 'value', 'timestamp', 'duplicate'],
        properties: {
          ...readingOut.properties,
          duplicate: { type: 'boolean', description: 'true: this (sensor_id, timestamp) was stored before; the stored value was kept' }
        }
      }
    }
  }
} as const

export const readingList = { type: 'array', items: readingOut } as const

export const errorBody = {
  type: 'object',
  required: ['error', 'message'],
  properties: {
    error: { type: 'string', description: 'a stable code, e.g. VALIDATION_FAILED, NOT_FOUND, UNAVAILABLE' },
    message: { type: 'string' },
    details: { description: 'for VALIDATION_FAILED: every bad field as {path, message} (path like /3/value)' }
  }
} as const

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'invalid JSON, or invalid input (details name each bad field by path)',
  401: 'API_KEYS is set and the request has no bearer key',
  403: 'the bearer key is not one of API_KEYS',
  404: 'not found',
  405: 'method not allowed on this path',
  408: 'the request (headers and body) did not arrive within API_BODY_TIMEOUT_MS',
  413: 'the body is larger than API_BODY_LIMIT_BYTES',
  415: 'the body is not application/json in UTF-8',
  503: 'a dependency (Postgres or Redis) did not answer in time, or too many request bodies are in flight (API_BODY_BUDGET_BYTES); Retry-After says when to retry. For POST /data, details.stored = "unknown" means the readings may have been stored: retrying is safe'
}

/** Response schemas for the given error statuses. */
export function errors(...statuses: number[]): Record<number, unknown> {
  return Object.fromEntries(statuses.map((s) => [s, { description: ERROR_DESCRIPTIONS[s] ?? 'error', ...errorBody }]))
}

export const sensorIdParam = {
  type: 'string',
  pattern: SENSOR_ID_PATTERN,
  minLength: 1,
  maxLength: SENSOR_ID_MAX_LENGTH
} as const

const timeParam = (what: string) =>
  ({ type: 'string', pattern: TIME_PATTERN, description: `${what}: unix seconds or RFC 3339 (e.g. 2024-05-01T12:00:00Z)` }) as const

export const rangeQuery = {
  from: timeParam('inclusive start'),
  to: timeParam('exclusive end')
} as const

export const pageQuery = {
  limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE, description: `readings per page, 1–${MAX_PAGE}` },
  cursor: { type: 'string', pattern: CURSOR_PATTERN, description: 'from the `Link: <…>; rel="next"` header of the previous page' },
  ...rangeQuery
} as const

export const bucketParam = {
  type: 'string',
  pattern: BUCKET_PATTERN,
  default: '1m',
  description: 'bucket width: a number and s, m, h or d (e.g. 30s, 1m, 15m, 1h, 1d); buckets align on the unix epoch'
} as const

export const linkHeader = {
  link: { type: 'string', description: 'RFC 8288: `<url>; rel="next"` when there is a next page' }
} as const

export const cacheHeader = {
  'x-cache': { type: 'string', description: 'hit or miss: Redis answered; bypassed: Redis failed, the answer comes from Postgres' }
} as const
