// In-process AlertFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { AlertEvent, AlertFeed, AlertListener } from '../../ports/alerts.ts'
import { MemoryChannel } from './memory-channel.ts'

export class MemoryAlertFeed extends MemoryChannel<AlertEvent> implements AlertFeed {
  publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    return this.publish(events)
  }

  subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>> {
    return this.listen(listener)
  }
}
