// In-process LiveFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { Reading } from '../../domain/reading.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'

export class MemoryLiveFeed implements LiveFeed {
  private readonly listeners = new Set<LiveListener>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.listeners.clear()
  }

  async publish(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    const copy = readings.map((r) => ({ ...r }))
    // Like Redis pub/sub: delivered to those subscribed when it was published (and still are).
    const listeners = [...this.listeners]
    setImmediate(() => {
      for (const l of listeners) if (this.listeners.has(l)) l(copy)
    })
  }

  async subscribe(listener: LiveListener): Promise<() => Promise<void>> {
    this.listeners.add(listener)
    return async () => {
      this.listeners.delete(listener)
    }
  }
}
