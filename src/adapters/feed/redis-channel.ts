// One Redis pub/sub channel as the feeds (live readings, alert events) use it: a publisher
// connection, and a subscriber connection made on first listen (a subscribed connection can do
// nothing else) that joins the channel while anyone listens and leaves it when the last listener
// goes. Anyone can publish on a channel: a message the feed's `parse` refuses is dropped with a
// warning, never thrown. ioredis subscribes again by itself after a reconnect. The Redis feeds
// extend it.
import type { Redis } from 'ioredis'
import type { Logger } from '../../platform/logger.ts'
import { openRedis } from '../redis/redis-connection.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

export interface RedisChannelConnection {
  readonly url: string
  readonly keyPrefix: string
  readonly logger: Logger
}

export interface RedisChannelOptions<T> {
  /** the channel is `<keyPrefix><name>`; the connections are `<name>-publisher`, `<name>-subscriber` */
  readonly name: string
  /** a message as the listeners get it; undefined: not one, dropped */
  readonly parse: (message: string) => T | undefined
  /** what a message should be, for the warning when one is not */
  readonly expected: string
}

export class RedisChannel<T> {
  protected readonly publisher: Redis
  protected readonly channel: string
  private subscriber: Redis | undefined
  private readonly listeners = new Set<(message: T) => void>()
  private readonly connection: RedisChannelConnection
  private readonly options: RedisChannelOptions<T>
  /** subscribe and unsubscribe of the subscriber connection, one after another */
  private membership: Promise<unknown> = Promise.resolve()

  constructor(connection: RedisChannelConnection, options: RedisChannelOptions<T>) {
    this.connection = connection
    this.options = options
    this.channel = `${connection.keyPrefix}${options.name}`
    this.publisher = openRedis(connection.url, connection.logger, `${options.name}-publisher`)
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

  /** PUBLISH; resolves with how many subscribers got the message. */
  protected async send(message: string): Promise<number> {
    try {
      return await this.publisher.publish(this.channel, message)
    } catch (err) {
      throw translateRedisError(err, 'publish', this.publisher)
    }
  }

  /** Delivers the channel's messages to `listener` until the returned function is called. */
  protected async listen(listener: (message: T) => void): Promise<() => Promise<void>> {
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
    let listening = true
    return async () => {
      if (!listening) return
      listening = false
      this.listeners.delete(listener)
      // The last listener gone, leave the channel: publishers stop paying for nobody.
      if (this.listeners.size === 0) await this.inTurn(async () => this.subscriber?.unsubscribe(this.channel)).catch(() => undefined)
    }
  }

  private async connectedSubscriber(): Promise<Redis> {
    if (this.subscriber !== undefined) return this.subscriber
    const subscriber = openRedis(this.connection.url, this.connection.logger, `${this.options.name}-subscriber`)
    subscriber.on('message', (_channel: string, message: string) => {
      const parsed = this.options.parse(message)
      if (parsed === undefined) {
        this.connection.logger.warn({ channel: this.channel }, `dropped a message that is not ${this.options.expected}`)
        return
      }
      for (const l of this.listeners) l(parsed)
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
  private inTurn<R>(step: () => Promise<R>): Promise<R> {
    const turn = this.membership.then(step, step)
    this.membership = turn.catch(() => undefined)
    return turn
  }
}

/** A message's JSON array, each item checked by `item`; undefined when it is not one. */
export function parseJsonArray<T>(message: string, item: (value: unknown) => T | undefined): T[] | undefined {
  let parsed: unknown
  try {
    parsed = JSON.parse(message)
  } catch {
    return undefined
  }
  if (!Array.isArray(parsed)) return undefined
  const items: T[] = []
  for (const value of parsed) {
    const checked = item(value)
    if (checked === undefined) return undefined
    items.push(checked)
  }
  return items
}
