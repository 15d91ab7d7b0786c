// LiveFeed on Redis pub/sub: channel <prefix>live carries one JSON array of readings per stored batch.
// Pub/sub is fire-and-forget by design: a listener that is away misses readings, which stay in Postgres.
import type { Redis } from 'ioredis'
import { validateReading, type Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'
import { openRedis } from './redis-connection.ts'
import { translateRedisError } from './redis-errors.ts'

export interface RedisLiveFeedOptions {
  readonly url: string
  readonly keyPrefix: string
  readonly logger: Logger
}

export class RedisLiveFeed implements LiveFeed {
  private readonly publisher: Redis
  private subscriber: Redis | undefined
  private readonly listeners = new Set<LiveListener>()
  private readonly channel: string
  private readonly options: RedisLiveFeedOptions

  constructor(options: RedisLiveFeedOptions) {
    this.options = options
    this.publisher = openRedis(options.url, options.logger, 'live-publisher')
    this.channel = `${options.keyPrefix}live`
  }

  async connect(): Promise<void> {
    try {
      await this.publisher.connect()
    } catch (err) {
      throw translateRedisError(err, 'connect')
    }
  }

  async close(): Promise<void> {
    const connections = [this.publisher, this.subscriber].filter((c) => c !== undefined)
    await Promise.all(connections.map((c) => c.quit().catch(() => c.disconnect())))
  }

  async publish(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    try {
      await this.publisher.publish(this.channel, JSON.stringify(readings))
    } catch (err) {
      throw translateRedisError(err, 'publish')
    }
  }

  async subscribe(listener: LiveListener): Promise<() => Promise<void>> {
    if (this.subscriber === undefined) {
      // A subscribed connection can do nothing else; ioredis resubscribes by itself after a reconnect.
      const subscriber = openRedis(this.options.url, this.options.logger, 'live-subscriber')
      subscriber.on('message', (_channel: string, message: string) => {
        // Anyone can publish on the channel: what is not an array of readings is dropped, never thrown.
        const readings = parseReadings(message)
        if (readings === undefined) {
          this.options.logger.warn({ channel: this.channel }, 'dropped a live-feed message that is not an array of readings')
          return
        }
        for (const l of this.listeners) l(readings)
      })
      this.subscriber = subscriber
      try {
        await subscriber.connect()
        await subscriber.subscribe(this.channel)
      } catch (err) {
        this.subscriber = undefined
        subscriber.disconnect()
        throw translateRedisError(err, 'subscribe')
      }
    }
    this.listeners.add(listener)
    return async () => {
      this.listeners.delete(listener)
    }
  }
}

function parseReadings(message: string): Reading[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed)) return undefined
  const readings: Reading[] = []
  for (const item of parsed) {
    const result = validateReading(item)
    if (!result.ok) return undefined
    readings.push(result.reading)
  }
  return readings
}
