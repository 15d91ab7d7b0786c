// A dead-lettered record keeps its original key, value and headers and adds where it came from and
// why it was rejected, so it can be inspected and replayed. One too large for the dead-letter topic
// is cut to fit (value first), saying so, so that it is still accounted for and its partition moves on.
import { createHash } from 'node:crypto'
import { recordBytes, type BusRecord, type OutgoingRecord } from '../../ports/bus.ts'

export const DLQ_HEADERS = {
  error: 'dlq-error',
  topic: 'dlq-source-topic',
  partition: 'dlq-source-partition',
  offset: 'dlq-source-offset',
  timestamp: 'dlq-source-timestamp',
  format: 'dlq-expected-format',
  /** of a dead letter from the MQTT bridge: the MQTT topic it was published to (dlq-source-topic is `mqtt`) */
  mqttTopic: 'dlq-mqtt-topic',
  /** what was cut to fit the topic: `value`, then `headers` (the original ones), then `key` */
  truncated: 'dlq-truncated',
  /** of the original value, when cut */
  originalBytes: 'dlq-original-bytes',
  originalSha256: 'dlq-original-sha256'
} as const

const OWN_HEADERS: ReadonlySet<string> = new Set(Object.values(DLQ_HEADERS))

/** Longest error text put in a header: a huge bad message must not make a huge header. */
const MAX_ERROR_LENGTH = 1_000

export function deadLetter(record: BusRecord, error: string, dlqTopic: string, format: string): OutgoingRecord {
  return {
    topic: dlqTopic,
    key: record.key,
    value: record.value,
    timestampMs: record.timestampMs,
    headers: {
      ...Object.fromEntries(record.headers),
      [DLQ_HEADERS.error]: error.length > MAX_ERROR_LENGTH ? `${error.slice(0, MAX_ERROR_LENGTH)}…` : error,
      [DLQ_HEADERS.topic]: record.topic,
      [DLQ_HEADERS.partition]: String(record.partition),
      [DLQ_HEADERS.offset]: String(record.offset),
      [DLQ_HEADERS.timestamp]: String(record.timestampMs),
      [DLQ_HEADERS.format]: format
    }
  }
}

/**
 * The dead letter as it is when it is at most `maxBytes` (`recordBytes`); otherwise its value is cut
 * to fit, with the original value's size and sha256 in headers; if even that is too large, the
 * original headers are dropped (the dlq-* ones stay), and at last the key is cut too.
 */
export function fitDeadLetter(letter: OutgoingRecord, maxBytes: number): { record: OutgoingRecord; truncated: boolean } {
  if (recordBytes(letter) <= maxBytes) return { record: letter, truncated: false }
  const value = bytes(letter.value)
  const marks = {
    [DLQ_HEADERS.originalBytes]: String(value?.length ?? 0),
    [DLQ_HEADERS.originalSha256]: createHash('sha256')
      .update(value ?? Buffer.alloc(0))
      .digest('hex')
  }
  const own = Object.fromEntries(Object.entries(letter.headers ?? {}).filter(([name]) => OWN_HEADERS.has(name)))
  const mark = (cut: string, headers: Readonly<Record<string, string>> | undefined): Record<string, string> => ({
    ...headers,
    ...marks,
    [DLQ_HEADERS.truncated]: cut
  })
  const fits = (key: string | Buffer | null, headers: Record<string, string>): number => maxBytes - recordBytes({ ...letter, key, value: null, headers })
  const cutValue = (room: number): Buffer | null => value?.subarray(0, room) ?? null
  for (const [cut, headers] of [
    ['value', letter.headers],
    ['value,headers', own]
  ] as const) {
    const marked = mark(cut, headers)
    const room = fits(letter.key, marked)
    if (room >= 0) return { record: { ...letter, value: cutValue(room), headers: marked }, truncated: true }
  }
  const marked = mark('value,headers,key', own)
  const room = fits(null, marked)
  if (room < 0) return { record: letter, truncated: false } // not even the dlq-* headers fit: publish() rejects it, as the topic would
  // Half of what is left to the key (it names the sensor), the rest to the value.
  const key = bytes(letter.key)?.subarray(0, Math.floor(room / 2)) ?? null
  return { record: { ...letter, key, value: cutValue(room - (key?.length ?? 0)), headers: marked }, truncated: true }
}

function bytes(data: string | Buffer | null): Buffer | null {
  return data === null ? null : typeof data === 'string' ? Buffer.from(data) : data
}
