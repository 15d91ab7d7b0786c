// In-process LiveFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { Reading } from '../../domain/reading.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'
import { MemoryChannel } from './memory-channel.ts'

export class MemoryLiveFeed extends MemoryChannel<Reading> implements LiveFeed {
  subscribe(listener: LiveListener): Promise<() => Promise<void>> {
    return this.listen(listener)
  }
}
