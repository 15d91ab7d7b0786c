// AlertFeed on Redis pub/sub: channel <prefix>alerts carries one JSON array of alert events per
// evaluated batch or no-data check. Fire-and-forget like the readings' feed: events stay in Postgres
// (GET /alerts/events). Alerts are rare, so every one is published, listened to or not.
import type { AlertEvent, AlertFeed, AlertListener } from '../../ports/alerts.ts'
import { parseJsonArray, RedisChannel, type RedisChannelConnection } from './redis-channel.ts'

export type RedisAlertFeedOptions = RedisChannelConnection

export class RedisAlertFeed extends RedisChannel<AlertEvent[]> implements AlertFeed {
  constructor(options: RedisAlertFeedOptions) {
    super(options, { name: 'alerts', parse: (message) => parseJsonArray(message, eventOrUndefined), expected: 'an array of alert events' })
  }

  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    if (events.length === 0) return
    await this.send(JSON.stringify(events))
  }

  subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>> {
    return this.listen(listener)
  }
}

function eventOrUndefined(item: unknown): AlertEvent | undefined {
  if (typeof item !== 'object' || item === null) return undefined
  const e = item as AlertEvent
  const ok = typeof e.id === 'number' && typeof e.sensorId === 'string' && (e.kind === 'firing' || e.kind === 'resolved')
  return ok ? e : undefined
}
