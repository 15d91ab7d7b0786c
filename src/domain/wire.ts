// reading.v1: how a reading travels on the bus. Key = sensor_id (UTF-8), value = a JSON object
// {sensor_id, value, timestamp}. A breaking change gets a new version, not an edit of this one.
import { describeErrors, validateReading, type Reading } from './reading.ts'

export const WIRE_FORMAT = 'reading.v1'

const UTF8 = new TextDecoder('utf-8', { fatal: true })

export type Decoded = { readonly ok: true; readonly reading: Reading } | { readonly ok: false; readonly error: string }

/**
 * The one JSON form of a reading: the bus value, the cached latest value and what the live feed
 * sends. Fields in this order; the timestamp last, where the Redis update script reads it.
 */
export function encodeReading(reading: Reading): string {
  return JSON.stringify({ sensor_id: reading.sensor_id, value: reading.value, timestamp: reading.timestamp })
}

/**
 * Decodes a bus message value. `recordTimestampMs` (the Kafka record time) stands in for a missing
 * timestamp. Never throws: anything that is not a valid reading comes back as an error string.
 */
export function decodeReading(value: Uint8Array | string | null | undefined, recordTimestampMs: number, now?: number): Decoded {
  if (value === null || value === undefined || value.length === 0) return { ok: false, error: 'empty message value' }
  let text: string
  try {
    // fatal: bytes that are not UTF-8 make the message invalid instead of turning into U+FFFD
    text = typeof value === 'string' ? value : UTF8.decode(value)
  } catch {
    return { ok: false, error: 'value is not valid UTF-8' }
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (err) {
    return { ok: false, error: `value is not JSON: ${(err as Error).message}` }
  }
  const result = validateReading(parsed, { defaultTimestamp: recordTimestampMs / 1000, ...(now === undefined ? {} : { now }) })
  return result.ok ? result : { ok: false, error: describeErrors(result.errors) }
}
