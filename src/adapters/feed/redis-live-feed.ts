// LiveFeed on Redis pub/sub: channel <prefix>live carries one JSON array of readings per stored batch.
// Pub/sub is fire-and-forget by design: a listener that is away misses readings, which stay in Postgres.
// Nobody listening is the usual case (the API subscribes only while a live client is connected), so
// the publisher skips a batch while the channel has no subscriber: serializing and sending every
// reading is a visible share of the streaming service's CPU (docs/performance.md). It asks again (PUBSUB NUMSUB) at most every
// LISTENERS_RECHECK_MS, so a new listener elsewhere misses at most that much.
import { validateReading, type Reading } from '../../domain/reading.ts'
import type { LiveFeed, LiveListener } from '../../ports/live-feed.ts'
import { parseJsonArray, RedisChannel, type RedisChannelConnection } from './redis-channel.ts'
import { translateRedisError } from '../redis/redis-errors.ts'

/** While the channel has no subscriber, how often the publisher asks again. */
export const LISTENERS_RECHECK_MS = 250

export type RedisLiveFeedOptions = RedisChannelConnection

export class RedisLiveFeed extends RedisChannel<Reading[]> implements LiveFeed {
  /** subscribers of the channel as last seen (PUBLISH's answer or NUMSUB); -1 unknown */
  private receivers = -1
  private receiversCheckedAt = 0
  private receiversProbe: Promise<number> | undefined

  constructor(options: RedisLiveFeedOptions) {
    super(options, { name: 'live', parse: (message) => parseJsonArray(message, readingOrUndefined), expected: 'an array of readings' })
  }

  async publish(readings: readonly Reading[]): Promise<void> {
    if (readings.length === 0) return
    // Known listeners: publish without waiting, so that publishes leave in call order.
    if (this.receivers <= 0 && (await this.probeReceivers()) === 0) return
    this.noteReceivers(await this.send(JSON.stringify(readings)))
  }

  /** How many subscribers the channel has: 0 without asking while the last answer is recent. */
  private probeReceivers(): Promise<number> {
    if (this.receiversProbe !== undefined) return this.receiversProbe
    if (this.receivers === 0 && Date.now() - this.receiversCheckedAt < LISTENERS_RECHECK_MS) return Promise.resolve(0)
    const publisher = this.publisher
    const probe = publisher
      .pubsub('NUMSUB', this.channel)
      .then(
        (answer) => {
          this.noteReceivers(Number((answer as [string, number | string])[1]))
          return this.receivers
        },
        (err: unknown) => {
          throw translateRedisError(err, 'publish', publisher)
        }
      )
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
    const stop = await this.listen(listener)
    // Someone listens now: this feed's own publisher must not go on skipping on an old answer.
    this.receivers = -1
    return stop
  }
}

function readingOrUndefined(item: unknown): Reading | undefined {
  const result = validateReading(item)
  return result.ok ? result.reading : undefined
}
