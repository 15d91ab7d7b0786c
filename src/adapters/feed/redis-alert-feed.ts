// AlertFeed on Redis pub/sub: channel <prefix>alerts carries one JSON array of alert events per
// evaluated batch or no-data check. Fire-and-forget like the readings' feed: events stay in Postgres
// (GET /alerts/events). Alerts are rare, so every one is published, listened to or not.
import type { Redis } from 'ioredis'
import type { Logger } from '../../platform/logger.ts'
import type { AlertEvent, AlertFeed, AlertListener } from '../../ports/alerts.ts'
import { openRedis } from '../redis/redis-connection.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

export interface RedisAlertFeedOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly logger: Logger
}

export class RedisAlertFeed implements AlertFeed {
  private readonly publisher: Redis
  private subscriber: Redis | undefined
  private readonly listeners = new Set<AlertListener>()
  private readonly channel: string
  private readonly options: RedisAlertFeedOptions

  constructor(options: RedisAlertFeedOptions) {
    this.options = options
    this.publisher = openRedis(options.url, options.logger, 'alert-publisher')
    this.channel = `${options.keyPrefix}alerts`
  }

  async connect(): Promise<void> {
    try {
      await this.publisher.connect()
    } catch (err) {
      throw translateRedisError(err, 'connect', this.publisher)
    }
  }

  async close(): Promise<void> {
    const connections = [this.publisher, this.subscriber].filter((c) => c !== undefined)
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())))
  }

  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    if (events.length === 0) return
    try {
      await this.publisher.publish(this.channel, JSON.stringify(events))
    } catch (err) {
      throw translateRedisError(err, 'publish', this.publisher)
    }
  }

  async subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>> {
    this.listeners.add(listener)
    try {
      await this.connectedSubscriber()
    } catch (err) {
      this.listeners.delete(listener)
      throw translateRedisError(err, 'subscribe')
    }
    return async () => {
      this.listeners.delete(listener)
    }
  }

  /** One subscriber connection, subscribed for as long as the feed is open: alerts are few. */
  private async connectedSubscriber(): Promise<Redis> {
    if (this.subscriber !== undefined) return this.subscriber
    const subscriber = openRedis(this.options.url, this.options.logger, 'alert-subscriber')
    subscriber.on('message', (_channel: string, message: string) => {
      const events = parseEvents(message)
      if (events === undefined) {
        this.options.logger.warn({ channel: this.channel }, 'dropped an alert-feed message that is not an array of alert events')
        return
      }
      for (const l of this.listeners) l(events)
    })
    this.subscriber = subscriber
    try {
      await subscriber.connect()
      await subscriber.subscribe(this.channel)
    } catch (err) {
      this.subscriber = undefined
      subscriber.disconnect()
      throw err
    }
    return subscriber
  }
}

function parseEvents(message: string): AlertEvent[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed)) return undefined
  const ok = parsed.every(
    (e: unknown) =>
      typeof e === 'object' && e !== null && typeof (e as AlertEvent).id === 'number' && typeof (e as AlertEvent).sensorId === 'string' &&
      ((e as AlertEvent).kind === 'firing' || (e as AlertEvent).kind === 'resolved')
  )
  return ok ? (parsed as AlertEvent[]) : undefined
}
