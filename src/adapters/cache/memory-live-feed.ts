// In-process LiveFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { Reading } from '../../domain/reading.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'
import { MemoryChannel } from './memory-channel.ts'

export class MemoryLiveFeed implements LiveFeed {
  private readonly channel = new MemoryChannel<Reading>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.channel.close()
  }

  async publish(readings: readonly Reading[]): Promise<void> {
    this.channel.publish(readings)
  }

  async subscribe(listener: LiveListener): Promise<() => Promise<void>> {
    return this.channel.listen(listener)
  }
}
