// A sensor reading and the one set of rules that decides whether input is one.
// Kafka decoding, HTTP bodies and the OpenAPI document all derive from this module.

export interface Reading {
  /** 1–128 characters of [A-Za-z0-9._:-] */
  readonly sensor_id: string
  /** a finite number */
  readonly value: number
  /** unix seconds, kept to the millisecond */
  readonly timestamp: number
}

export const SENSOR_ID_PATTERN = '^[A-Za-z0-9._:-]{1,128}$'
const SENSOR_ID_RE = new RegExp(SENSOR_ID_PATTERN)
export function isSensorId(text: string): boolean {
  return SENSOR_ID_RE.test(text)
}
export const SENSOR_ID_MAX_LENGTH = 128
/** 2000-01-01T00:00:00Z */
export const MIN_TIMESTAMP_S = 946_684_800
/** readings may be at most this far in the future (clock skew between devices) */
export const MAX_FUTURE_S = 86_400

/** JSON schema of a reading as it travels (Kafka value, HTTP body). Extra fields are allowed and ignored. */
export const readingSchema = {
  $id: 'Reading',
  type: 'object',
  required: ['sensor_id', 'value', 'timestamp'],
  properties: {
    sensor_id: { type: 'string', pattern: SENSOR_ID_PATTERN, minLength: 1, maxLength: SENSOR_ID_MAX_LENGTH, examples: ['sensor-123'] },
    value: { type: 'number', description: 'a finite number', examples: [42.5] },
    timestamp: {
      type: 'number',
      minimum: MIN_TIMESTAMP_S,
      description: `unix seconds (fractional allowed, kept to the millisecond); from 2000-01-01 to ${MAX_FUTURE_S / 3600} h after now`,
      examples: [1689260000]
    }
  }
} as const

export interface FieldError {
  /** JSON pointer-ish path of the bad field, e.g. `/timestamp` or `/3/value` */
  readonly path: string
  readonly message: string
}

export type Validation = { readonly ok: true; readonly reading: Reading } | { readonly ok: false; readonly errors: readonly FieldError[] }

export interface ValidateOptions {
  /** used when the input has no timestamp (the Kafka record time, or now for HTTP) */
  readonly defaultTimestamp?: number
  /** current time in unix seconds; injectable for tests */
  readonly now?: number
  /** prefix for error paths, e.g. `/3` for the fourth item of an array */
  readonly path?: string
}

/** Rounds to whole milliseconds so that the same reading always has the same identity. */
export function normalizeTimestamp(seconds: number): number {
  return Math.round(seconds * 1000) / 1000
}

export function validateReading(input: unknown, options: ValidateOptions = {}): Validation {
  const base = options.path ?? ''
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    return { ok: false, errors: [{ path: base || '/', message: 'must be an object with sensor_id, value and timestamp' }] }
  }
  const record = input as Record<string, unknown>
  const errors: FieldError[] = []

  const sensorId = record['sensor_id']
  if (sensorId === undefined) errors.push({ path: `${base}/sensor_id`, message: 'is required' })
  else if (typeof sensorId !== 'string') errors.push({ path: `${base}/sensor_id`, message: 'must be a string' })
  else if (!isSensorId(sensorId)) {
    errors.push({ path: `${base}/sensor_id`, message: `must be 1–${SENSOR_ID_MAX_LENGTH} characters of A-Z a-z 0-9 . _ : -` })
  }

  const value = record['value']
  if (value === undefined) errors.push({ path: `${base}/value`, message: 'is required' })
  else if (typeof value !== 'number' || !Number.isFinite(value)) errors.push({ path: `${base}/value`, message: 'must be a finite number' })

  let timestamp = record['timestamp']
  if (timestamp === undefined || timestamp === null) timestamp = options.defaultTimestamp
  const now = options.now ?? Date.now() / 1000
  if (timestamp === undefined) errors.push({ path: `${base}/timestamp`, message: 'is required' })
  else if (typeof timestamp !== 'number' || !Number.isFinite(timestamp)) {
    errors.push({ path: `${base}/timestamp`, message: 'must be a number of unix seconds' })
  } else if (timestamp < MIN_TIMESTAMP_S) {
    errors.push({ path: `${base}/timestamp`, message: 'must not be before 2000-01-01 (unix seconds expected, not milliseconds)' })
  } else if (timestamp > now + MAX_FUTURE_S) {
    errors.push({ path: `${base}/timestamp`, message: 'must not be more than one day in the future (unix seconds expected, not milliseconds)' })
  }

  if (errors.length > 0) return { ok: false, errors }
  return {
    ok: true,
    reading: { sensor_id: sensorId as string, value: value as number, timestamp: normalizeTimestamp(timestamp as number) }
  }
}

/** Describes validation errors in one line, for logs and dead-letter headers. */
export function describeErrors(errors: readonly FieldError[]): string {
  return errors.map((e) => `${e.path} ${e.message}`).join('; ')
}

/** Keeps, per sensor, only the newest reading: the one that may become the latest value. */
export function newestPerSensor(readings: Iterable<Reading>): Reading[] {
  const newest = new Map<string, Reading>()
  for (const r of readings) {
    const current = newest.get(r.sensor_id)
    if (current === undefined || r.timestamp > current.timestamp) newest.set(r.sensor_id, r)
  }
  return [...newest.values()]
}
