// Query-string values that need more than a JSON schema: times (unix seconds or RFC 3339), the
// opaque page cursor, bucket widths, and the `Link: <…>; rel="next"` header of paged answers.
import { MAX_FUTURE_S, MIN_TIMESTAMP_S } from '../../domain/reading.ts'
import { AppError } from '../../platform/errors.ts'
import type { PagePosition } from '../../ports/queries.ts'

/** unix seconds (fractional allowed) or an RFC 3339 date-time with an offset */
export const TIME_PATTERN = '^(\\d{1,12}(\\.\\d{1,6})?|\\d{4}-\\d{2}-\\d{2}[Tt ]\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?([Zz]|[+-]\\d{2}:\\d{2}))$'
export const CURSOR_PATTERN = '^[A-Za-z0-9_-]{1,200}$'
export const BUCKET_PATTERN = '^[1-9][0-9]{0,5}(s|m|h|d)$'
/** most buckets one stats request may span */
export const MAX_BUCKETS = 10_000

export interface FieldIssue {
  readonly path: string
  readonly in: 'query'
  readonly message: string
}

function invalid(issues: FieldIssue[]): AppError {
  return new AppError('VALIDATION_FAILED', 'the request is not valid', { details: issues })
}

export function parseTime(text: string): number | undefined {
  if (/^\d/.test(text) && !text.includes('-')) return Number(text)
  const ms = Date.parse(text.replace(' ', 'T'))
  return Number.isNaN(ms) ? undefined : ms / 1000
}

export interface Range {
  readonly from?: number
  readonly to?: number
}

/** Parses `from` and `to`; every problem is reported at once, by path. */
export function parseRange(query: { from?: string; to?: string }): Range {
  const issues: FieldIssue[] = []
  const read = (name: 'from' | 'to'): number | undefined => {
    const text = query[name]
    if (text === undefined) return undefined
    const t = parseTime(text)
    if (t === undefined) issues.push({ path: `/${name}`, in: 'query', message: 'must be unix seconds or an RFC 3339 date-time' })
    return t
  }
  const from = read('from')
  const to = read('to')
  if (from !== undefined && to !== undefined && to <= from) issues.push({ path: '/to', in: 'query', message: 'must be after from' })
  if (issues.length > 0) throw invalid(issues)
  return { ...(from === undefined ? {} : { from }), ...(to === undefined ? {} : { to }) }
}

// A cursor is "v1.<ts micros>.<id>" in base64url: opaque to clients, checked on the way back in.
export function encodeCursor(position: PagePosition): string {
  return Buffer.from(`v1.${position.tsMicros}.${position.id}`, 'utf8').toString('base64url')
}

const MAX_ROW_ID = 2n ** 63n - 1n

/**
 * A cursor's numbers must be those of a stored reading: a time a reading may have (from 2000-01-01
 * to a day after now) and a positive bigint row id, so nothing out of Postgres's ranges reaches SQL.
 */
export function decodeCursor(cursor: string): PagePosition {
  const match = /^v1\.(-?\d{1,19})\.(\d{1,19})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  const tsMicros = match === null ? undefined : BigInt(match[1] as string)
  const id = match === null ? undefined : BigInt(match[2] as string)
  const latestMicros = BigInt(Math.ceil(Date.now() / 1000) + MAX_FUTURE_S) * 1_000_000n
  if (tsMicros === undefined || id === undefined || tsMicros < BigInt(MIN_TIMESTAMP_S) * 1_000_000n || tsMicros > latestMicros || id < 1n || id > MAX_ROW_ID) {
    throw invalid([{ path: '/cursor', in: 'query', message: 'is not a cursor from a Link header of this API' }])
  }
  return { tsMicros, id }
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 }

export function bucketSeconds(bucket: string): number {
  const unit = bucket.slice(-1)
  return Number(bucket.slice(0, -1)) * (UNIT_SECONDS[unit] ?? 1)
}

/** The same request with `cursor` replaced: the target of `Link: <…>; rel="next"`. */
export function nextLink(requestUrl: string, cursor: string): string {
  const url = new URL(requestUrl, 'http://x')
  url.searchParams.set('cursor', cursor)
  return `<${url.pathname}${url.search}>; rel="next"`
}

/**
 * Ajv coerces `Infinity`, `-Infinity` and `1e400` into numbers that then skip `minimum`/`maximum`
 * (those only check finite numbers), so every coerced query and path number is checked here
 * (upstream: ajv-validator/ajv#2212, fastify/fastify#6718; fixes proposed in ajv#2626 and #2661).
 */
export function assertFiniteNumbers(values: unknown, where: 'query' | 'path'): void {
  if (typeof values !== 'object' || values === null) return
  const issues = Object.entries(values)
    .filter(([, v]) => typeof v === 'number' && !Number.isFinite(v))
    .map(([name]) => ({ path: `/${name}`, in: where, message: 'must be a finite number' }))
  if (issues.length > 0) throw new AppError('VALIDATION_FAILED', 'the request is not valid', { details: issues })
}
