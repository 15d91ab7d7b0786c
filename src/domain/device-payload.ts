// What a device publishes: one reading.v1 object or an array of them, as POST /data takes. Each item
// is checked by the same rules (validateReading); a missing sensor_id is the one the topic names, a
// missing timestamp the time the message arrived. Valid items go on even when others in the same
// message are invalid, so one bad item never holds back the rest.
import { describeErrors, validateReading, type Reading } from './reading.ts'

export interface InvalidItem {
  readonly error: string
  /** the item as it would be replayed: the original JSON, with the topic's sensor_id filled in */
  readonly value: string
}

export interface DecodedPayload {
  readonly readings: Reading[]
  readonly invalid: InvalidItem[]
}

export interface PayloadContext {
  /** the sensor the topic names, for items without sensor_id */
  readonly sensorId: string | undefined
  /** unix seconds, for items without timestamp */
  readonly receivedAt: number
  /** current time in unix seconds; injectable for tests */
  readonly now?: number
}

const UTF8 = new TextDecoder('utf-8', { fatal: true })

export function decodeDevicePayload(payload: Uint8Array, context: PayloadContext): DecodedPayload {
  const whole = (error: string): DecodedPayload => ({ readings: [], invalid: [{ error, value: Buffer.from(payload).toString('latin1') }] })
  if (payload.length === 0) return whole('empty message')
  let text: string
  try {
    text = UTF8.decode(payload)
  } catch {
    return whole('payload is not valid UTF-8')
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return { readings: [], invalid: [{ error: `payload is not JSON: ${(err as Error).message}`, value: text }] }
  }
  const list = Array.isArray(parsed)
  const items: unknown[] = list ? (parsed as unknown[]) : [parsed]
  if (list && items.length === 0) return { readings: [], invalid: [{ error: '/ must contain at least one reading', value: text }] }
  const readings: Reading[] = []
  const invalid: InvalidItem[] = []
  items.forEach((item, i) => {
    const filled = withSensor(item, context.sensorId)
    const result = validateReading(filled, {
      defaultTimestamp: context.receivedAt,
      path: list ? `/${i}` : '',
      ...(context.now === undefined ? {} : { now: context.now })
    })
    if (result.ok) readings.push(result.reading)
    else invalid.push({ error: describeErrors(result.errors), value: JSON.stringify(filled) ?? String(filled) })
  })
  return { readings, invalid }
}

function withSensor(item: unknown, sensorId: string | undefined): unknown {
  if (sensorId === undefined || typeof item !== 'object' || item === null || Array.isArray(item)) return item
  const record = item as Record<string, unknown>
  return record['sensor_id'] === undefined ? { ...record, sensor_id: sensorId } : item
}
