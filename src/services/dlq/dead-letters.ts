// Dead letters as the dlq commands see them: a record of the dead-letter topic, its origin and error
// from the dlq-* headers (streaming/dead-letter.ts), and the original record to re-send.
import type { BusRecord, OutgoingRecord } from '../../ports/bus.ts'
import type { BusReader } from '../../ports/bus-reader.ts'
import type { DeadLetterId } from '../../ports/dlq-ledger.ts'
import { DLQ_HEADERS } from '../streaming/dead-letter.ts'
import type { Where, WhereField } from './args.ts'

export interface DeadLetter {
  readonly id: DeadLetterId
  readonly record: BusRecord
  readonly error: string
  readonly source: string
  /** what the streaming service cut to make it fit the dead-letter topic (`value`, …); absent: nothing */
  readonly cut?: string
}

/**
 * Set by the streaming service on a dead letter it had to cut to fit the topic: its key, value or
 * headers are no longer the original, so it is never re-sent.
 */
const TRUNCATED_HEADER = DLQ_HEADERS.truncated

export function toDeadLetter(record: BusRecord): DeadLetter {
  const h = record.headers
  return {
    id: { topic: record.topic, partition: record.partition, offset: record.offset },
    record,
    error: h.get(DLQ_HEADERS.error) ?? '',
    source: `${h.get(DLQ_HEADERS.topic) ?? '?'}/${h.get(DLQ_HEADERS.partition) ?? '?'}/${h.get(DLQ_HEADERS.offset) ?? '?'}`,
    ...(h.has(TRUNCATED_HEADER) ? { cut: h.get(TRUNCATED_HEADER) as string } : {})
  }
}

export function matches(letter: DeadLetter, where: readonly Where[]): boolean {
  return where.every((w) => w.pattern.test(field(letter, w.field)))
}

function field(letter: DeadLetter, name: WhereField): string {
  switch (name) {
    case 'error':
      return letter.error
    case 'source':
      return letter.source
    case 'key':
      return letter.record.key?.toString('utf8') ?? ''
    case 'value':
      return letter.record.value?.toString('utf8') ?? ''
  }
}

/** The original record, as the producer sent it: key, value, time and headers without the dlq-* ones. */
export function original(letter: DeadLetter, topic: string): OutgoingRecord {
  const headers = Object.fromEntries([...letter.record.headers].filter(([name]) => !name.startsWith('dlq-')))
  return { topic, key: letter.record.key, value: letter.record.value, timestampMs: letter.record.timestampMs, headers }
}

/** Every dead letter in the topic as it is now (up to the end offsets when the read starts), in batches. */
export async function* readDeadLetters(reader: BusReader, dlqTopic: string, batchRecords: number, signal: AbortSignal): AsyncIterable<readonly DeadLetter[]> {
  const partitions = await reader.offsets(dlqTopic)
  const ranges = partitions.map((p) => ({ partition: p.partition, from: p.start, to: p.end }))
  for await (const batch of reader.read(dlqTopic, ranges, { maxBatchRecords: batchRecords, signal })) yield batch.map(toDeadLetter)
}
