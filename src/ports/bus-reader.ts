// Reading a topic between given offsets, outside of any consumer group the services use: for tools
// that re-read history (replay, dead-letter inspection). Nothing is committed.
import type { BusRecord } from './bus.ts'
import type { Lifecycle } from './lifecycle.ts'

export interface PartitionOffsets {
  readonly partition: number
  /** the oldest offset still kept (the log start) */
  readonly start: bigint
  /** the offset the next record will get (the high watermark: one past the last readable record) */
  readonly end: bigint
}

export interface PartitionRange {
  readonly partition: number
  /** first offset to read */
  readonly from: bigint
  /** one past the last offset to read */
  readonly to: bigint
}

export interface ReadOptions {
  /** a batch holds at most this many records */
  readonly maxBatchRecords: number
  /** stops the read: the iteration ends after the batch in hand */
  readonly signal?: AbortSignal
}

export interface BusReader extends Lifecycle {
  /** Every partition of `topic` with its start and end offsets, by partition number. */
  offsets(topic: string): Promise<readonly PartitionOffsets[]>
  /**
   * Per partition, the first offset whose record time is at or after `timestampMs`; the end offset
   * when there is none.
   */
  offsetsForTime(topic: string, timestampMs: number): Promise<ReadonlyMap<number, bigint>>
  /**
   * Reads the records of `ranges` (empty ranges are skipped), in offset order per partition, in
   * batches; the iteration ends once every range has been read to its end.
   */
  read(topic: string, ranges: readonly PartitionRange[], options: ReadOptions): AsyncIterable<readonly BusRecord[]>
}
