// Redis, a cache, stopped mid-stream and restarted empty (as a Redis without persistence comes
// back): Postgres, the record, goes on receiving rows and the offsets go on moving; once Redis is
// back, every sensor's latest value is its newest row again, sensors silent since the outage too.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { freshDatabase, ownRedis, useKafka } from '../harness/index.ts'
import { groupOffsets, redisMatchesPostgres, rowCount, sendRaw, startCli, streamingSetup, waitFor } from './support.ts'

const committed = async (brokers: string, group: string, topic: string): Promise<bigint> =>
  (await groupOffsets(brokers, group, topic)).reduce((sum, p) => sum + (p.committed > 0n ? p.committed : 0n), 0n)

test('Redis stopped for seconds and restarted empty: rows keep arriving in Postgres, then every latest value is right again', async (t) => {
  const [kafka, redisServer, databaseUrl] = await Promise.all([useKafka(), ownRedis(), freshDatabase('redis_outage')])
  const s = streamingSetup({ brokers: kafka.brokers, redisUrl: redisServer.url, databaseUrl })
  const metricsPort = await freePort()
  const streaming = startCli('streaming', { ...s.env, METRICS_PORT: String(metricsPort) })
  const quiet = Array.from({ length: 30 }, (_, i) => `quiet-${i}`)
  const now = Math.floor(Date.now() / 1000)
  let producer: ReturnType<typeof startCli> | undefined
  const redis = new Redis(redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
  redis.on('error', () => {})
  t.after(() => redis.disconnect())
  try {
    await waitFor('the streaming service consuming', async () => /"msg":"consuming"/.test(streaming.output()))
    // Sensors that report before the outage and never again: only a repair from Postgres brings them back.
    await sendRaw(
      kafka.brokers,
      s.topic,
      quiet.map((id, i) => ({ key: id, value: JSON.stringify({ sensor_id: id, value: i, timestamp: now - 60 + i }) }))
    )
    producer = startCli('producer', { ...s.env, PRODUCER_SENSORS: '200', PRODUCER_COUNT: '30000', PRODUCER_RATE: '2500' })
    await waitFor('some rows stored', async () => (await rowCount(databaseUrl)) > 3_000)

    await redisServer.stop()
    const [rowsAtStop, committedAtStop] = [await rowCount(databaseUrl), await committed(kafka.brokers, s.group, s.topic)]
    await new Promise((resolve) => setTimeout(resolve, 5_000))
    const [rowsLater, committedLater] = [await rowCount(databaseUrl), await committed(kafka.brokers, s.group, s.topic)]
    assert.equal(streaming.child.exitCode, null, 'streaming runs on while Redis is down')
    assert.ok(rowsLater - rowsAtStop > 5_000, `rows kept arriving in Postgres while Redis was down: ${rowsAtStop} → ${rowsLater}`)
    assert.ok(committedLater - committedAtStop > 5_000n, `offsets kept moving: ${committedAtStop} → ${committedLater}`)
    await redisServer.start() // empty: nothing was saved

    assert.equal(await producer.exited(), 0, producer.output())
    const total = 30_000 + quiet.length
    await waitFor('every row stored', async () => (await rowCount(databaseUrl)) === total, 90_000)
    await redis.connect()
    // Every latest value right again: the quiet sensors came back by the repair alone.
    await waitFor('Redis to match Postgres', () => redisMatchesPostgres(redis, s.prefix, databaseUrl).then(() => true), 30_000, 500)
    for (const id of quiet) assert.ok((await redis.hexists(`${s.prefix}latest`, id)) === 1, `${id} is back`)

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const metric = (name: string, label = ''): number => Number(new RegExp(`^${name}(?:\\{[^}]*${label}[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1])
    assert.equal(metric('sensorstream_cache_degraded'), 0)
    assert.ok(metric('sensorstream_cache_repairs_total', 'scope="all"') >= 2, 'the startup rebuild and the one after the empty restart')
    const outageLines = streaming.output().match(/latest values cache unavailable/g) ?? []
    assert.equal(outageLines.length, 1, 'the outage is logged once, not per batch')
    assert.equal(await streaming.stop(), 0, streaming.output())
  } finally {
    for (const p of [streaming, producer]) if (p !== undefined && p.child.exitCode === null) await p.kill()
  }
})
