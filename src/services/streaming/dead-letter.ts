// A dead-lettered record keeps its original key, value and headers and adds where it came from and
// why it was rejected, so it can be inspected and replayed.
import type { BusRecord, OutgoingRecord } from '../../ports/bus.ts'

export const DLQ_HEADERS = {
  error: 'dlq-error',
  topic: 'dlq-source-topic',
  partition: 'dlq-source-partition',
  offset: 'dlq-source-offset',
  timestamp: 'dlq-source-timestamp',
  format: 'dlq-expected-format'
} as const

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
