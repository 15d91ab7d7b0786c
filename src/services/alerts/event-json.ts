// An alert event as it leaves the system: GET /alerts/events, the live stream and webhook bodies.
import type { AlertEvent } from '../../ports/alerts.ts'

export interface AlertEventJson {
  readonly id: number
  readonly rule_id: number
  readonly rule_name: string
  readonly sensor_id: string
  readonly episode: number
  readonly kind: 'firing' | 'resolved'
  readonly value?: number
  /** unix seconds */
  readonly at: number
  readonly created_at: number
}

export function alertEventJson(e: AlertEvent): AlertEventJson {
  return {
    id: e.id,
    rule_id: e.ruleId,
    rule_name: e.ruleName,
    sensor_id: e.sensorId,
    episode: e.episode,
    kind: e.kind,
    ...(e.value === undefined ? {} : { value: e.value }),
    at: e.at,
    created_at: e.createdAt
  }
}
