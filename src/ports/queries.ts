// Read-side questions about the stored history, in the API's words: pages of readings newest first,
// one sensor's or each sensor's latest reading, per-bucket statistics, and what a live client missed. Kept apart from ReadingStore (the write
// side the streaming service needs) so that each side can change without the other.
import type { Reading } from '../domain/reading.ts'
import type { Lifecycle } from './lifecycle.ts'

/**
 * A position in the newest-first order of readings: the last reading of the previous page.
 * Opaque to callers (the API encodes it as base64url); stable while new readings arrive.
 */
export interface PagePosition {
  /** the reading's time, unix microseconds */
  readonly tsMicros: bigint
  /** the row's tie-breaker (readings of different sensors may share a time) */
  readonly id: bigint
}

export interface ListQuery {
  /** only this sensor's readings */
  readonly sensorId?: string
  /** unix seconds, inclusive */
  readonly from?: number
  /** unix seconds, exclusive */
  readonly to?: number
  /** 1 or more */
  readonly limit: number
  /** continue after this position (from the previous page's `next`) */
  readonly after?: PagePosition
}

export interface Page {
  /** newest first */
  readonly readings: readonly Reading[]
  /** where the next page starts; undefined when this page is the last */
  readonly next?: PagePosition
}

export interface StatsQuery {
  readonly sensorId: string
  /** unix seconds, inclusive */
  readonly from: number
  /** unix seconds, exclusive */
  readonly to: number
  /** bucket width in seconds; buckets are aligned on the unix epoch */
  readonly bucketSeconds: number
}

export interface BucketStats {
  /** start of the bucket, unix seconds */
  readonly start: number
  readonly count: number
  readonly min: number
  readonly max: number
  readonly mean: number
}

/**
 * Where statistics come from: raw readings, or the 1-minute, 1-hour or 1-day rollups (exact
 * aggregates of the raw readings, kept when raw readings are dropped by retention).
 */
export type Tier = 'raw' | '1m' | '1h' | '1d'

export interface Stats {
  /** the coarsest tier that answers every bucket exactly (a range's unaligned edges come from raw rows) */
  readonly tier: Tier
  /** oldest first; buckets without readings are left out */
  readonly buckets: readonly BucketStats[]
}

/** A place in the (timestamp, sensor_id) order of readings: what a live client has seen up to. */
export interface StreamPosition {
  /** unix milliseconds */
  readonly tsMs: number
  /** '' sorts before every sensor id: (t, '') is "from time t on" */
  readonly sensorId: string
}

export interface ReplayQuery {
  /** readings strictly after this position */
  readonly after: StreamPosition
  /** only sensors with these ids or matching these globs (see domain/sensor-pattern.ts); `*` for all */
  readonly patterns: readonly string[]
  readonly limit: number
}

export interface ReadingQueries extends Lifecycle {
  /** One page of readings, newest first (by time, then by insertion). */
  list(query: ListQuery): Promise<Page>
  /** The newest stored reading of one sensor, or undefined. */
  latest(sensorId: string): Promise<Reading | undefined>
  /** Every sensor with its newest stored reading, ordered by sensor_id. */
  latestPerSensor(): Promise<Reading[]>
  /** Count, min, max and mean per time bucket, from the coarsest tier that answers them exactly. */
  stats(query: StatsQuery): Promise<Stats>
  /**
   * What the stored answers about [from, to) (unix seconds) stand at: a value that changes with every
   * commit that may change one of them, or undefined while one may be changing (retention is dropping
   * part of the range). An answer read after this call returned a value stays the answer while it
   * returns the same value again: the API's cache of stats answers relies on that.
   */
  answerVersion(from: number, to: number): Promise<string | undefined>
  /** Readings after a position, oldest first by (timestamp, sensor_id): what a resuming live client missed. */
  replay(query: ReplayQuery): Promise<Reading[]>
  /** Resolves when the database answers. */
  ping(): Promise<void>
}
