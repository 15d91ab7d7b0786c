// The write side of the durable history of readings: what the streaming service, replay and
// POST /data need. `(sensor_id, timestamp)` identifies a reading: writing it again changes nothing
// (first write wins). The API's reads are ReadingQueries (queries.ts), the schema is Migrations
// (migrations.ts).
import type { Reading } from '../domain/reading.ts'
import type { Lifecycle } from './lifecycle.ts'

export interface WriteResult {
  /** readings that were new */
  readonly inserted: number
  /** readings whose (sensor_id, timestamp) was already stored, or repeated within the batch */
  readonly duplicates: number
}

export interface ReadingStore extends Lifecycle {
  /** Stores a batch in one statement. Rejects with a retryable AppError when the database is unreachable. */
  write(readings: readonly Reading[]): Promise<WriteResult>
  /** Like write, and returns which of the given readings were new (same order as given). */
  writeReturningNew(readings: readonly Reading[]): Promise<readonly boolean[]>
  /**
   * The newest stored reading of each of these sensors that has one (in no particular order): for
   * repairing the latest values after a cache outage (services/streaming/latest-cache.ts).
   */
  latestOf(sensorIds: readonly string[]): Promise<Reading[]>
  /**
   * For rebuilding the latest values whole (services/rebuild-latest.ts). The newest stored reading
   * of every sensor, a page at a time: of the first `limit` sensors whose
   * id sorts after `afterSensorId` (from the first when undefined), in sensor id order.
   */
  latestOfAll(afterSensorId: string | undefined, limit: number): Promise<Reading[]>
  /** Resolves when the database answers. */
  ping(): Promise<void>
}

/** Days kept per tier; undefined: forever. */
export interface RetentionPolicy {
  readonly rawDays: number | undefined
  readonly minuteDays: number | undefined
  readonly hourDays: number | undefined
  readonly dayDays: number | undefined
}

/** A whole partition of one tier that retention drops (never rows one by one). */
export interface ExpiredPartition {
  readonly table: string
  readonly name: string
  /** its time range, unix seconds, [from, to) */
  readonly from: number
  readonly to: number
  /** on disk, with its indexes */
  readonly bytes: number
}

/** Upkeep of the stored history: partitions ahead of time, old ones dropped. */
export interface StorageMaintenance {
  /** Makes the partitions from now to the configured number ahead; safe from several instances. */
  premakePartitions(): Promise<void>
  /** The partitions entirely older than the policy's limits at `nowMs`. */
  expiredPartitions(nowMs?: number): Promise<ExpiredPartition[]>
  /** Drops them; undefined when another instance is doing it right now (advisory lock). */
  dropExpiredPartitions(nowMs?: number): Promise<ExpiredPartition[] | undefined>
  /**
   * Closes the coarse rollup buckets (hours, days) that ended a while before `nowMs`; returns how many
   * hours it closed. An aborted signal ends a wait for the writers in flight at once (nothing closed).
   */
  closeRollups(options?: { nowMs?: number; signal?: AbortSignal }): Promise<number>
}
