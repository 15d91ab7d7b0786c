// Where a live client asks to start: after an event id it received (Last-Event-ID, `last_event_id`),
// or from a time (`since`, unix seconds or RFC 3339). An event id wins: a browser's EventSource
// reconnects to the same URL (still carrying the first `since`) with the id it saw last.
import { isSensorPattern } from '../../../domain/sensor-pattern.ts'
import { AppError } from '../../../platform/errors.ts'
import type { StreamPosition } from '../../../ports/queries.ts'
import { parseTime } from '../params.ts'
import { decodePosition } from './position.ts'

export interface ResumeRequest {
  readonly lastEventId?: string | undefined
  readonly since?: string | number | undefined
  /** where `since` came from, for error paths (an SSE event id comes in a header) */
  readonly in: 'query' | 'message'
}

export function resumePosition(request: ResumeRequest): StreamPosition | undefined {
  if (request.lastEventId !== undefined && request.lastEventId !== '') {
    const position = decodePosition(request.lastEventId)
    if (position === undefined)
      throw invalid(request.in === 'message' ? 'message' : 'header', 'last-event-id', 'is not an event id of this stream (<unix ms>-<sensor_id>)')
    return position
  }
  if (request.since === undefined) return undefined
  const seconds = typeof request.since === 'number' ? request.since : parseTime(request.since)
  if (seconds === undefined || !Number.isFinite(seconds)) throw invalid(request.in, 'since', 'must be unix seconds or an RFC 3339 date-time')
  // (t, '') comes before every reading at time t: `since` is inclusive.
  return { tsMs: Math.round(seconds * 1000), sensorId: '' }
}

/** A comma list (or array) of sensor ids and globs; every bad one is reported. */
export function parsePatterns(value: string | readonly unknown[] | undefined, where: 'query' | 'message'): string[] {
  const items: unknown[] = value === undefined ? [] : typeof value === 'string' ? value.split(',') : [...value]
  const bad = items.filter((p) => typeof p !== 'string' || !isSensorPattern(p))
  if (bad.length > 0 || items.length === 0) {
    throw invalid(
      where,
      'sensor_id',
      bad.length > 0 ? `not a sensor id or glob: ${bad.map((b) => JSON.stringify(b)).join(', ')}` : 'must name at least one sensor id or glob'
    )
  }
  return items as string[]
}

function invalid(where: string, field: string, message: string): AppError {
  return new AppError('VALIDATION_FAILED', `${field} ${message}`, { details: [{ path: `/${field}`, in: where, message }] })
}
