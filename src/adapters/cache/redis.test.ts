// RedisLatestValues against the LatestValues contract, plus what only Redis can do: outages and
// several instances on one keyspace.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import { Redis } from 'ioredis'
import { latestContract } from '../../../test/contracts/latest.contract.ts'
import { ownRedis, uniqueName, useRedis } from '../../../test/harness/index.ts'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import { RedisLatestValues } from './redis.ts'

const logger = createLogger('silent')
const uniquePrefix = (): string => `${uniqueName('cache')}:`

async function open(url: string, keyPrefix = uniquePrefix()): Promise<RedisLatestValues> {
  const latest = new RedisLatestValues({ url, keyPrefix, logger })
  await latest.connect()
  return latest
}

latestContract('redis', { open: async () => open((await useRedis()).url) })

const T0 = 1_689_260_000
const isRetryable = (err: unknown): boolean => err instanceof AppError && err.retryable && err.code === 'UNAVAILABLE'

/** An instance on a fresh prefix and a plain Redis client beside it, both closed after the test. */
async function latestAndRawClient(t: TestContext): Promise<{ prefix: string; latest: RedisLatestValues; raw: Redis }> {
  const prefix = uniquePrefix()
  const { url } = await useRedis()
  const latest = await open(url, prefix)
  const raw = new Redis(url)
  t.after(async () => {
    await latest.close()
    raw.disconnect()
  })
  return { prefix, latest, raw }
}

describe('RedisLatestValues only', () => {
  test('keys live under the prefix: <prefix>latest (hash) and <prefix>sensors (set)', async (t) => {
    const { prefix, latest, raw } = await latestAndRawClient(t)
    await latest.update([{ sensor_id: 'a', value: 1.5, timestamp: T0 + 0.123 }])
    assert.deepEqual((await raw.keys(`${prefix}*`)).sort(), [`${prefix}latest`, `${prefix}sensors`])
    assert.equal(await raw.type(`${prefix}latest`), 'hash')
    assert.equal(await raw.type(`${prefix}sensors`), 'set')
    assert.deepEqual(JSON.parse((await raw.hget(`${prefix}latest`, 'a')) ?? 'null'), { sensor_id: 'a', value: 1.5, timestamp: T0 + 0.123 })
  })

  test('two instances on one prefix (two streaming processes) never move a sensor backwards', async (t) => {
    const prefix = uniquePrefix()
    const one = await open((await useRedis()).url, prefix)
    const two = await open((await useRedis()).url, prefix)
    t.after(async () => {
      await one.close()
      await two.close()
    })
    const updates = []
    for (let i = 0; i < 100; i++) {
      const writer = i % 2 === 0 ? one : two
      updates.push(writer.update([{ sensor_id: 'a', value: (i * 37) % 100, timestamp: T0 + ((i * 37) % 100) }]))
    }
    await Promise.all(updates)
    assert.deepEqual(await one.get('a'), { sensor_id: 'a', value: 99, timestamp: T0 + 99 })
    assert.deepEqual(await two.get('a'), { sensor_id: 'a', value: 99, timestamp: T0 + 99 })
  })

  test('a stored value in another key order (another writer) is still compared by its timestamp', async (t) => {
    const { prefix, latest, raw } = await latestAndRawClient(t)
    await raw.hset(`${prefix}latest`, 'a', JSON.stringify({ timestamp: T0 + 10, sensor_id: 'a', value: 1 }))
    await raw.sadd(`${prefix}sensors`, 'a')
    await latest.update([{ sensor_id: 'a', value: 2, timestamp: T0 + 9 }])
    assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 1, timestamp: T0 + 10 })
    await latest.update([{ sensor_id: 'a', value: 3, timestamp: T0 + 11 }])
    assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 3, timestamp: T0 + 11 })
    assert.deepEqual(await latest.sensors(), ['a'])
  })

  test('connect to a Redis that does not answer rejects with a retryable AppError', async (t) => {
    const latest = new RedisLatestValues({ url: 'redis://127.0.0.1:1', keyPrefix: uniquePrefix(), logger })
    t.after(() => latest.close())
    await assert.rejects(latest.connect(), isRetryable)
  })

  test('Redis stopped: calls reject quickly with a retryable AppError; after a restart the same instance works again', async (t) => {
    const own = await ownRedis()
    const latest = await open(own.url)
    t.after(() => latest.close())
    await latest.update([{ sensor_id: 'a', value: 1, timestamp: T0 }])
    await own.stop()

    const started = Date.now()
    await assert.rejects(latest.update([{ sensor_id: 'a', value: 2, timestamp: T0 + 1 }]), isRetryable)
    await assert.rejects(latest.get('a'), isRetryable)
    await assert.rejects(latest.all(), isRetryable)
    await assert.rejects(latest.sensors(), isRetryable)
    await assert.rejects(latest.ping(), isRetryable)
    assert.ok(Date.now() - started < 2_000, `failing took ${Date.now() - started} ms: calls must not hang while Redis is down`)

    await own.start()
    // it reconnects by itself (backoff capped at 2 s); no new adapter, no connect() call
    const deadline = Date.now() + 10_000
    for (;;) {
      try {
        await latest.update([{ sensor_id: 'a', value: 3, timestamp: T0 + 2 }])
        break
      } catch (err) {
        assert.ok(isRetryable(err), `unexpected error: ${String(err)}`)
        assert.ok(Date.now() < deadline, 'still failing 10 s after Redis came back')
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
    }
    // the data was not persisted (--save ''), and the update script is loaded again after the restart
    assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 3, timestamp: T0 + 2 })
    await latest.update([{ sensor_id: 'a', value: 1, timestamp: T0 }])
    assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 3, timestamp: T0 + 2 })
  })

  test('a Redis emptied or restarted without persistence is incomplete, and a rebuild started before does not count', async (t) => {
    const { prefix, latest, raw } = await latestAndRawClient(t)
    assert.equal(await latest.finishRebuild(await latest.startRebuild()), true)
    const token = await latest.startRebuild()
    assert.equal(await latest.isComplete(), true)
    await raw.del(`${prefix}latest`, `${prefix}sensors`, `${prefix}latest-state`) // what a restart without persistence does
    assert.equal(await latest.isComplete(), false)
    assert.equal(await latest.finishRebuild(token), false, 'the rebuild that began before the emptying')
    assert.equal(await latest.isComplete(), false)
    // Two rebuilds at once (two streaming instances) share one token; the first to finish counts.
    const one = await latest.startRebuild()
    assert.equal(await latest.startRebuild(), one)
    assert.equal(await latest.finishRebuild(one), true)
    assert.equal(await latest.finishRebuild(one), true)

    const own = await ownRedis()
    const restarted = await open(own.url)
    t.after(() => restarted.close())
    assert.equal(await restarted.finishRebuild(await restarted.startRebuild()), true)
    await own.stop()
    await own.start()
    const deadline = Date.now() + 10_000
    while (
      !(await restarted.ping().then(
        () => true,
        () => false
      ))
    ) {
      assert.ok(Date.now() < deadline, 'not back 10 s after Redis restarted')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    assert.equal(await restarted.isComplete(), false)
  })

  test('Redis killed mid-use: calls reject with a retryable AppError, never hang', async (t) => {
    const own = await ownRedis()
    const latest = await open(own.url)
    t.after(() => latest.close())
    await latest.update([{ sensor_id: 'a', value: 1, timestamp: T0 }])
    await own.kill()
    const started = Date.now()
    await assert.rejects(latest.update([{ sensor_id: 'a', value: 2, timestamp: T0 + 1 }]), isRetryable)
    assert.ok(Date.now() - started < 6_000, `failing took ${Date.now() - started} ms`)
    await own.start()
    const deadline = Date.now() + 10_000
    while (
      !(await latest.ping().then(
        () => true,
        () => false
      ))
    ) {
      assert.ok(Date.now() < deadline, 'not back 10 s after Redis restarted')
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    await latest.update([{ sensor_id: 'a', value: 2, timestamp: T0 + 1 }])
    assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 2, timestamp: T0 + 1 })
  })
})
