// The message bus as the services see it: keyed topics with partitions, per-key order and
// consumer-group offsets that are committed only after the service has acknowledged a batch.
import type { Lifecycle } from './lifecycle.ts'

export interface BusRecord {
  readonly topic: string
  readonly partition: number
  /** position in its partition */
  readonly offset: bigint
  readonly key: Buffer | null
  readonly value: Buffer | null
  /** record time, epoch milliseconds */
  readonly timestampMs: number
  readonly headers: ReadonlyMap<string, string>
}

export interface OutgoingRecord {
  readonly topic: string
  readonly key: string | Buffer | null
  readonly value: string | Buffer | null
  readonly headers?: Readonly<Record<string, string>>
  /** record time, epoch milliseconds; the bus sets it when absent */
  readonly timestampMs?: number
}

export interface BusPublisher extends Lifecycle {
  /**
   * Publishes records and resolves once the bus has acknowledged all of them (Kafka: acks from all
   * in-sync replicas). Records with the same key keep their order. A call may be of any total size:
   * it is sent in requests within each topic's limit. Rejects with a retryable AppError when the bus
   * is unreachable, and with a permanent `VALIDATION_FAILED` before sending anything when one record
   * alone is over its topic's `maxRecordBytes` (as counted by `recordBytes`).
   */
  publish(records: readonly OutgoingRecord[]): Promise<void>
  /** The largest `recordBytes` one record may have on `topic` (Kafka: the topic's `max.message.bytes`). */
  maxRecordBytes(topic: string): Promise<number>
}

/** Framing allowance per record and per header: upper bounds of Kafka's record format v2 varints. */
const RECORD_FRAMING_BYTES = 40
const HEADER_FRAMING_BYTES = 10

/**
 * What a record counts against its topic's limit: key, value, header names and values (UTF-8), plus
 * a framing allowance per record and per header. Never less than what Kafka counts.
 */
export function recordBytes(record: OutgoingRecord): number {
  let bytes = RECORD_FRAMING_BYTES + byteLength(record.key) + byteLength(record.value)
  for (const name in record.headers) bytes += HEADER_FRAMING_BYTES + Buffer.byteLength(name) + Buffer.byteLength(record.headers[name] as string)
  return bytes
}

function byteLength(data: string | Buffer | null): number {
  return data === null ? 0 : typeof data === 'string' ? Buffer.byteLength(data) : data.length
}

export interface ConsumeOptions {
  readonly topics: readonly string[]
  readonly groupId: string
  /** a batch is handed over at this many records… */
  readonly maxBatchRecords: number
  /** …or this long after its first record arrived, whichever comes first (but see `next()`) */
  readonly maxBatchWaitMs: number
  /** where a group without committed offsets starts; default earliest */
  readonly fromBeginning?: boolean
}

/** Records from one or more partitions, in offset order per partition, with their acknowledgement. */
export interface BusBatch {
  readonly records: readonly BusRecord[]
  /**
   * The batch is stored: its offsets may be committed. Per partition, the consumer commits the
   * highest offset whose batch and every batch handed over before it are acknowledged, so batches
   * may be acknowledged in any order. A batch never acknowledged is never committed (the group
   * delivers it again); neither is one acknowledged after its partitions moved to another member.
   * Calling it again does nothing.
   */
  ack(): void
}

/**
 * A consumer-group member that the service pulls batches from (as Redpanda Connect's ReadBatch
 * returns a batch with its ack function). The service owns its concurrency: it decides how many
 * batches it holds at once, and nothing is fetched while it is not asking for the next one.
 */
export interface BusConsumer extends Lifecycle {
  /** Joins the group (in the background; transient outages are waited out). Once per consumer. */
  subscribe(options: ConsumeOptions): void
  /**
   * The next batch. With no batch unacknowledged, what has arrived is handed over at once; otherwise
   * the batch fills up to `maxBatchRecords` or `maxBatchWaitMs` after its first record. Resolves
   * undefined once `signal` aborts or close() was called; rejects when the bus fails for good. One
   * call at a time.
   */
  next(signal?: AbortSignal): Promise<BusBatch | undefined>
  /**
   * Stops fetching, commits what is acknowledged and leaves the group. Acknowledge the batches in
   * hand before: later acks are not committed (their records are delivered again).
   */
  close(): Promise<void>
}

export interface TopicSpec {
  readonly name: string
  readonly partitions: number
  readonly replicationFactor: number
}

export interface BusAdmin extends Lifecycle {
  /** Creates the topics that do not exist yet; existing ones are left as they are. */
  ensureTopics(topics: readonly TopicSpec[]): Promise<void>
  /** Records of `topic` that `groupId` has not committed yet, summed over partitions (its lag). */
  consumerLag(groupId: string, topic: string): Promise<number>
}
