// Each sensor's latest reading, by timestamp rather than arrival: an older or replayed reading never
// replaces a newer one. A cache: whatever it lost (an outage, a restart without persistence) is
// rebuilt from the store, and it knows whether it is complete.
import type { Reading } from '../domain/reading.ts'
import type { Lifecycle } from './lifecycle.ts'

/** Returned by startRebuild(), handed back to finishRebuild(). */
export type RebuildToken = string

export interface LatestValues extends Lifecycle {
  /** Offers readings as candidates for their sensors' latest value, atomically per call. */
  update(readings: readonly Reading[]): Promise<void>
  get(sensorId: string): Promise<Reading | undefined>
  /** Every known sensor with its latest reading. */
  all(): Promise<Reading[]>
  /** Ids of every known sensor. */
  sensors(): Promise<string[]>
  ping(): Promise<void>
  /**
   * Whether the cache holds every sensor's latest value: false from its creation, or from when it
   * was emptied (a Redis restarted without persistence), until a rebuild finishes.
   */
  isComplete(): Promise<boolean>
  /** Before offering every sensor's newest stored reading to update(). */
  startRebuild(): Promise<RebuildToken>
  /**
   * After the rebuild's updates: marks the cache complete and resolves true, unless it was emptied
   * since startRebuild() (then false, and nothing changes: rebuild again).
   */
  finishRebuild(token: RebuildToken): Promise<boolean>
}
