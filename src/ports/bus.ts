// The message bus as the services see it: keyed topics with partitions, per-key order and
// consumer-group offsets that are committed only after the handler has stored a batch.
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

export interface BatchHandlerContext {
  /** aborted when the consumer is closing: finish or give up the batch quickly */
  readonly signal: AbortSignal
}

/**
 * Receives a batch of records (from one or more partitions, in offset order per partition).
 * When it resolves, the consumer commits the offsets past the batch. When it rejects, nothing is
 * committed and the consumer stops with that error: handlers retry their own transient failures.
 */
export type BatchHandler = (batch: readonly BusRecord[], context: BatchHandlerContext) => Promise<void>

export interface ConsumeOptions {
  readonly topics: readonly string[]
  readonly groupId: string
  /** a batch is handed over at this many records… */
  readonly maxBatchRecords: number
  /** …or this long after its first record arrived, whichever comes first */
  readonly maxBatchWaitMs: number
  /** where a group without committed offsets starts; default earliest */
  readonly fromBeginning?: boolean
  /**
   * Batches handed to the handler before the oldest one has resolved [1]. Offsets are still
   * committed in batch order, each only once its batch and every batch before it have resolved;
   * fetching pauses while this many are in hand. A handler that allows more than one keeps the order
   * of its own writes (per key) across batches. An adapter may hand over fewer.
   */
  readonly maxInFlightBatches?: number
}

export interface BusConsumer extends Lifecycle {
  /**
   * Joins the group and feeds batches to `handler`, one at a time unless `maxInFlightBatches` says
   * otherwise: fetching pauses while that many batches are being handled, so memory stays bounded. Resolves when `close()` has stopped it after
   * committing the last handled batch; rejects if the handler or the bus fails for good.
   */
  run(options: ConsumeOptions, handler: BatchHandler): Promise<void>
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
