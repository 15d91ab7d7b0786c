// Readings as they are stored, pushed to whoever listens (the API's live stream).
import type { Reading } from '../domain/reading.ts'
import type { Lifecycle } from './lifecycle.ts'

export type LiveListener = (readings: readonly Reading[]) => void

export interface LiveFeed extends Lifecycle {
  publish(readings: readonly Reading[]): Promise<void>
  /** Starts delivering published readings to `listener`; the returned function stops it. */
  subscribe(listener: LiveListener): Promise<() => Promise<void>>
}
