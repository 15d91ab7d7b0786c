// In-process AlertFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { AlertEvent, AlertFeed, AlertListener } from '../../ports/alerts.ts'
import { MemoryChannel } from './memory-channel.ts'

export class MemoryAlertFeed implements AlertFeed {
  private readonly channel = new MemoryChannel<AlertEvent>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.channel.close()
  }

  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    this.channel.publish(events)
  }

  async subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>> {
    return this.channel.listen(listener)
  }
}
