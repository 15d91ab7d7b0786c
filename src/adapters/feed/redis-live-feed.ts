// LiveFeed on Redis pub/sub: channel <prefix>live carries one JSON array of readings per stored batch.
// Pub/sub is fire-and-forget by design: a listener that is away misses readings, which stay in Postgres.
// Nobody listening is the usual case (the API subscribes only while a live client is connected), so
// the publisher skips a batch while the channel has no subscriber: serializing and sending every
// reading is a visible share of the streaming service's CPU (docs/performance.md). It asks again (PUBSUB NUMSUB) at most every
// LISTENERS_RECHECK_MS, so a new listener elsewhere misses at most that much.
import type { Redis } from 'ioredis'
import { validateReading, type Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'
import { openRedis } from '../redis/redis-connection.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

/** While the channel has no subscriber, how often the publisher asks again. */
export const LISTENERS_RECHECK_MS = 250

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
  /** subscribers of the channel as last seen (PUBLISH's answer or NUMSUB); -1 unknown */
  private receivers = -1
  private receiversCheckedAt = 0
  private receiversProbe: Promise<number> | undefined
  /** subscribe and unsubscribe of the shared subscriber connection, one after another */
  private membership: Promise<unknown> = Promise.resolve()

  constructor(options: RedisLiveFeedOptions) {
    this.options = options
    this.publisher = openRedis(options.url, options.logger, 'live-publisher')
    this.channel = `${options.keyPrefix}live`
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

  async publish(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    try {
      // Known listeners: publish without waiting, so that publishes leave in call order.
      if (this.receivers <= 0 && (await this.probeReceivers()) === 0) return
      this.noteReceivers(await this.publisher.publish(this.channel, JSON.stringify(readings)))
    } catch (err) {
      throw translateRedisError(err, 'publish', this.publisher)
    }
  }

  /** How many subscribers the channel has: 0 without asking while the last answer is recent. */
  private probeReceivers(): Promise<number> {
    if (this.receiversProbe !== undefined) return this.receiversProbe
    if (this.receivers === 0 && Date.now() - this.receiversCheckedAt < LISTENERS_RECHECK_MS) return Promise.resolve(0)
    const probe = this.publisher.pubsub('NUMSUB', this.channel)
      .then((answer) => {
        this.noteReceivers(Number((answer as [string, number | string])[1]))
        return this.receivers
      })
      .finally(() => {
        this.receiversProbe = undefined
      })
    this.receiversProbe = probe
    return probe
  }

  private noteReceivers(count: number): void {
    this.receivers = count
    this.receiversCheckedAt = Date.now()
  }

  async subscribe(listener: LiveListener): Promise<() => Promise<void>> {
    const first = this.listeners.size === 0
    this.listeners.add(listener)
    if (first) {
      try {
        await this.inTurn(async () => {
          const subscriber = await this.connectedSubscriber()
          await subscriber.subscribe(this.channel)
        })
      } catch (err) {
        this.listeners.delete(listener)
        throw translateRedisError(err, 'subscribe')
      }
    }
    // Someone listens now: this feed's own publisher must not go on skipping on an old answer.
    this.receivers = -1
    let subscribed = true
    return async () => {
      if (!subscribed) return
      subscribed = false
      this.listeners.delete(listener)
      // The last listener gone, leave the channel: publishers stop paying for nobody.
      if (this.listeners.size === 0) await this.inTurn(async () => this.subscriber?.unsubscribe(this.channel)).catch(() => undefined)
    }
  }

  /** The subscriber connection, made on first use: a subscribed connection can do nothing else. */
  private async connectedSubscriber(): Promise<Redis> {
    if (this.subscriber !== undefined) return this.subscriber
    // ioredis subscribes again by itself after a reconnect.
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
    try {
      await subscriber.connect()
    } catch (err) {
      subscriber.disconnect()
      throw err
    }
    this.subscriber = subscriber
    return subscriber
  }

  /** Runs subscribe and unsubscribe calls one after another, in call order. */
  private inTurn<T>(step: () => Promise<T>): Promise<T> {
    const turn = this.membership.then(step, step)
    this.membership = turn.catch(() => undefined)
    return turn
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
