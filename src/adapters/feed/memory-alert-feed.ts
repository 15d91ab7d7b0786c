// In-process AlertFeed for `sensorstream all` without Redis: delivery is asynchronous, as with Redis.
import type { AlertEvent, AlertFeed, AlertListener } from '../../ports/alerts.ts'

export class MemoryAlertFeed implements AlertFeed {
  private readonly listeners = new Set<AlertListener>()

  async connect(): Promise<void> {}
  async close(): Promise<void> {
    this.listeners.clear()
  }

  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    if (events.length === 0) return
    const copy = events.map((e) => ({ ...e }))
    const listeners = [...this.listeners]
    setImmediate(() => {
      for (const l of listeners) if (this.listeners.has(l)) l(copy)
    })
  }

  async subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>> {
    this.listeners.add(listener)
    return async () => {
      this.listeners.delete(listener)
    }
  }
}
