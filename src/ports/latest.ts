// Each sensor's latest reading, by timestamp rather than arrival: an older or replayed reading never
// replaces a newer one.
import type { Reading } from '../domain/reading.ts'
import type { Lifecycle } from './lifecycle.ts'

export interface LatestValues extends Lifecycle {
  /** Offers readings as candidates for their sensors' latest value, atomically per call. */
  update(readings: readonly Reading[]): Promise<void>
  get(sensorId: string): Promise<Reading | undefined>
  /** Every known sensor with its latest reading. */
  all(): Promise<Reading[]>
  /** Ids of every known sensor. */
  sensors(): Promise<string[]>
  ping(): Promise<void>
}
