// RedisLiveFeed against the LiveFeed contract, plus what only Redis pub/sub can do: several
// processes on one channel, foreign messages, outages.
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { Collector, liveFeedContract } from '../../../test/contracts/live-feed.contract.ts'
import { ownRedis, uniqueName, useRedis } from '../../../test/harness/index.ts'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import { LISTENERS_RECHECK_MS, RedisLiveFeed } from './redis-live-feed.ts'

const logger = createLogger('silent')
const uniquePrefix = (): string => `${uniqueName('cache')}:`

async function open(url: string, keyPrefix = uniquePrefix()): Promise<RedisLiveFeed> {
  const feed = new RedisLiveFeed({ url, keyPrefix, logger })
  await feed.connect()
  return feed
}

liveFeedContract('redis', { open: async () => open((await useRedis()).url) })

/** A feed on a fresh prefix and a plain Redis client beside it, both closed after the test. */
async function feedAndRawClient(t: TestContext): Promise<{ prefix: string; feed: RedisLiveFeed; raw: Redis }> {
  const prefix = uniquePrefix()
  const { url } = await useRedis()
  const feed = await open(url, prefix)
  const raw = new Redis(url)
  t.after(async () => {
    await feed.close()
    raw.disconnect()
  })
  return { prefix, feed, raw }
}

const T0 = 1_689_260_000
const reading = (i: number): { sensor_id: string; value: number; timestamp: number } => ({ sensor_id: 'a', value: i, timestamp: T0 + i })
const isRetryable = (err: unknown): boolean => err instanceof AppError && err.retryable && err.code === 'UNAVAILABLE'

describe('RedisLiveFeed only', () => {
  test('a feed in another process (another instance) on the same prefix receives what one publishes', async (t) => {
    const prefix = uniquePrefix()
    const publisher = await open((await useRedis()).url, prefix)
    const subscriber = await open((await useRedis()).url, prefix)
    const stranger = await open((await useRedis()).url)
    t.after(async () => {
      await Promise.all([publisher.close(), subscriber.close(), stranger.close()])
    })
    const c = new Collector()
    const s = new Collector()
    await subscriber.subscribe(c.listener)
    await stranger.subscribe(s.listener)
    await publisher.publish([reading(1), reading(2)])
    assert.deepEqual(await c.waitFor(2), [reading(1), reading(2)])
    await delay(50)
    assert.deepEqual(s.readings, [], 'a feed with another prefix must not receive it')
  })

  test('the channel is <prefix>live and carries a JSON array of readings', async (t) => {
    const { prefix, feed, raw } = await feedAndRawClient(t)
    const messages: string[] = []
    raw.on('message', (_channel: string, message: string) => messages.push(message))
    await raw.subscribe(`${prefix}live`)
    await feed.publish([reading(1)])
    for (let i = 0; i < 100 && messages.length === 0; i++) await delay(20)
    assert.deepEqual(
      messages.map((m) => JSON.parse(m) as unknown),
      [[reading(1)]]
    )
  })

  test('a malformed message on the channel does not crash the subscriber, and later readings still arrive', async (t) => {
    const { prefix, feed, raw } = await feedAndRawClient(t)
    const c = new Collector()
    await feed.subscribe(c.listener)
    const uncaught: unknown[] = []
    const onUncaught = (err: unknown): void => {
      uncaught.push(err)
    }
    process.on('uncaughtException', onUncaught)
    t.after(() => process.off('uncaughtException', onUncaught))
    for (const garbage of ['not json', '{"sensor_id":"a"}', 'null', '[1,2]', '']) await raw.publish(`${prefix}live`, garbage)
    await feed.publish([reading(7)])
    const received = await c.waitFor(1)
    assert.deepEqual(uncaught, [], `a foreign message threw: ${String(uncaught[0])}`)
    assert.deepEqual(received, [reading(7)])
  })

  test('the feed is on the channel only while it has a listener, and publishes only while someone is subscribed', async (t) => {
    const { prefix, feed, raw } = await feedAndRawClient(t)
    const channel = `${prefix}live`
    const subscribers = async (): Promise<number> => Number(((await raw.pubsub('NUMSUB', channel)) as [string, number])[1])
    const publishes = async (): Promise<number> => Number(/cmdstat_publish:calls=(\d+)/.exec(await raw.info('commandstats'))?.[1] ?? 0)

    const before = await publishes()
    for (let i = 0; i < 5; i++) await feed.publish([reading(i)])
    assert.equal(await publishes(), before, 'nobody subscribed: nothing is published')

    const c = new Collector()
    const unsubscribe = await feed.subscribe(c.listener)
    assert.equal(await subscribers(), 1)
    await feed.publish([reading(10)])
    assert.deepEqual(await c.waitFor(1), [reading(10)])
    await unsubscribe()
    assert.equal(await subscribers(), 0, 'the last listener gone, the feed leaves the channel')

    // A listener elsewhere is noticed within LISTENERS_RECHECK_MS.
    const messages: string[] = []
    const listener = new Redis((await useRedis()).url)
    t.after(() => listener.disconnect())
    listener.on('message', (_channel: string, message: string) => messages.push(message))
    await listener.subscribe(channel)
    await delay(LISTENERS_RECHECK_MS + 50)
    await feed.publish([reading(11)])
    for (let i = 0; i < 100 && messages.length === 0; i++) await delay(20)
    assert.deepEqual(
      messages.map((m) => JSON.parse(m) as unknown),
      [[reading(11)]]
    )
  })

  test('publish while Redis is stopped rejects quickly with a retryable AppError; a subscriber resubscribes after the restart', async (t) => {
    const own = await ownRedis()
    const publisher = await open(own.url, 'own:')
    const subscriber = await open(own.url, 'own:')
    t.after(async () => {
      await Promise.all([publisher.close(), subscriber.close()])
    })
    const c = new Collector()
    await subscriber.subscribe(c.listener)
    await publisher.publish([reading(1)])
    await c.waitFor(1)

    await own.stop()
    const started = Date.now()
    await assert.rejects(publisher.publish([reading(2)]), isRetryable)
    assert.ok(Date.now() - started < 2_000, `failing took ${Date.now() - started} ms`)

    await own.start()
    // both connections come back by themselves; publish until the resubscribed listener hears it
    const deadline = Date.now() + 15_000
    let i = 100
    while (c.readings.length < 2) {
      assert.ok(Date.now() < deadline, 'the subscriber did not receive anything 15 s after Redis came back')
      await publisher.publish([reading(i++)]).catch((err: unknown) => assert.ok(isRetryable(err), String(err)))
      await delay(100)
    }
    assert.ok(c.readings.slice(1).every((r) => r.value >= 100))
  })
})
