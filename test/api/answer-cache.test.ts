// The answer cache of GET /sensors/:id/stats and /series (src/services/api/answer-cache.ts) on real
// Postgres: an answer is served again only while no write has changed it, whichever writer wrote
// (the store as the streaming service writes, POST /data), also while writes race the reads.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import { closeAllRollups, freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from './setup.ts'

const DAY = 86_400
/** 2024-03-10T00:00Z */
const D = Date.UTC(2024, 2, 10) / 1000
// two days of one reading a minute
const readings: Reading[] = Array.from({ length: 2 * 1440 }, (_, i) => ({ sensor_id: 'c', value: i % 97, timestamp: D + i * 60 + 7 }))

interface Answer {
  readonly status: number
  readonly cache: string | undefined
  readonly tier: unknown
  readonly body: string
  readonly count: number
}

describe('the answer cache of stats and series', () => {
  let f: ApiFixture
  let redisUrl: string
  before(async () => {
    const [url, redis] = await Promise.all([freshDatabase('answer-cache'), useRedis()])
    redisUrl = redis.url
    f = await openApi(url, redis.url)
    await f.store.write(readings)
    await closeAllRollups(f.db.pool)
  })
  after(() => f.close())

  const get = async (url: string, fixture = f): Promise<Answer> => {
    const res = await fixture.app.inject(url)
    const body = res.json()
    const buckets: { count: number }[] = body.buckets ?? body.points ?? []
    return {
      status: res.statusCode,
      cache: res.headers['cache-status'] as string | undefined,
      tier: res.headers['x-tier'],
      body: res.body,
      count: buckets.reduce((n, b) => n + b.count, 0)
    }
  }
  const post = async (batch: readonly Reading[]): Promise<{ inserted: number; duplicates: number }> => {
    const res = await f.app.inject({ method: 'POST', url: '/data', payload: batch })
    assert.ok(res.statusCode === 200 || res.statusCode === 201, res.body)
    return res.json()
  }
  /** the same answer from Postgres, without the cache */
  const fresh = async (from: number, to: number, bucketSeconds: number): Promise<number> =>
    (await f.queries.stats({ sensorId: 'c', from, to, bucketSeconds })).buckets.reduce((n, b) => n + b.count, 0)

  test('the same question again: the kept answer, byte for byte, until a write of its range; then the new one', async () => {
    const url = `/sensors/c/stats?from=${D}&to=${D + DAY}&bucket=1m`
    const first = await get(url)
    assert.equal(first.cache, 'sensorstream; fwd=miss; stored')
    assert.equal(first.count, 1440)
    const again = await get(url)
    assert.equal(again.cache, 'sensorstream; hit')
    assert.equal(again.body, first.body)
    assert.equal(again.tier, first.tier)

    // written as the streaming service writes: a late reading in a closed minute
    await f.store.write([{ sensor_id: 'c', value: 5, timestamp: D + 600 }])
    const late = await get(url)
    assert.equal(late.cache, 'sensorstream; fwd=stale; stored')
    assert.equal(late.count, 1441)
    assert.equal(late.count, await fresh(D, D + DAY, 60))

    // POST /data: a new reading counts, a reading already stored and one of another day do not
    assert.equal((await post([{ sensor_id: 'c', value: 6, timestamp: D + 900 }])).inserted, 1)
    assert.equal((await get(url)).count, 1442)
    assert.equal((await get(url)).cache, 'sensorstream; hit')
    assert.equal((await post([{ sensor_id: 'c', value: 60, timestamp: D + 900 }])).duplicates, 1)
    assert.equal((await post([{ sensor_id: 'c', value: 1, timestamp: D + DAY + 30 }])).inserted, 1)
    const kept = await get(url)
    assert.equal(kept.cache, 'sensorstream; hit')
    assert.equal(kept.count, 1442)
  })

  test('every answer read after a write has committed counts it, while other requests race to keep answers', async () => {
    const from = D + DAY
    const url = `/sensors/c/series?from=${from}&to=${from + DAY}&points=500`
    let base = (await get(url)).count
    let stop = false
    const racers = Array.from({ length: 3 }, async () => {
      let served = 0
      while (!stop) {
        assert.equal((await get(url)).status, 200)
        served++
      }
      return served
    })
    try {
      for (let i = 0; i < 200; i++) {
        // a second a little after each minute's reading: new every time
        const batch = [{ sensor_id: 'c', value: i, timestamp: from + i * 60 + 31 }]
        if (i % 2 === 0) await post(batch)
        else await f.store.write(batch)
        base++
        const answer = await get(url)
        assert.equal(answer.count, base, `after write ${i}: ${answer.cache}`)
      }
    } finally {
      stop = true
    }
    const served = await Promise.all(racers)
    assert.ok(served.every((n) => n > 0))
    assert.equal(base, await fresh(from, from + DAY, 180))
  })

  test('not kept: a range without from and to, an unknown sensor', async () => {
    const now = await get('/sensors/c/stats?bucket=1m')
    assert.equal(now.cache, 'sensorstream; fwd=bypass')
    assert.equal((await get(`/sensors/c/stats?from=${D}&bucket=1d`)).cache, 'sensorstream; fwd=bypass')
    for (let i = 0; i < 2; i++) {
      const missing = await get(`/sensors/nobody/stats?from=${D}&to=${D + DAY}&bucket=1h`)
      assert.equal(missing.status, 404)
      assert.notEqual(missing.cache, 'sensorstream; hit')
    }
  })

  test('retention dropping part of a range: answers read, not kept, until the drop is done', async () => {
    const url = `/sensors/c/stats?from=${D}&to=${D + DAY}&bucket=1h`
    await get(url)
    assert.equal((await get(url)).cache, 'sensorstream; hit')
    const day = Math.floor(D / DAY)
    await f.db.pool.query(`INSERT INTO answer_epochs (day, slot, epoch) VALUES ($1, -1, 1)`, [day])
    assert.equal((await get(url)).cache, 'sensorstream; fwd=bypass')
    await f.db.pool.query(`UPDATE answer_epochs SET epoch = 2 WHERE day = $1 AND slot = -1`, [day])
    assert.equal((await get(url)).cache, 'sensorstream; fwd=stale; stored')
    assert.equal((await get(url)).cache, 'sensorstream; hit')
  })

  test('sensorstream_answers_changed: readings loaded by hand reach the next answer', async () => {
    // raw readings, at a bucket no rollup answers: a hand-made row reaches no rollup
    const url = `/sensors/c/stats?from=${D + 3 * 3600}&to=${D + 4 * 3600}&bucket=90s`
    const before = await get(url)
    assert.equal((await get(url)).cache, 'sensorstream; hit')
    await f.db.pool.query(`INSERT INTO sensor_data (sensor_id, value, ts) VALUES ('c', 1, to_timestamp($1))`, [D + 3 * 3600 + 1])
    await f.db.pool.query('SELECT sensorstream_answers_changed(to_timestamp($1), to_timestamp($2))', [D + 3 * 3600, D + 3 * 3600 + 2])
    const after = await get(url)
    assert.equal(after.cache, 'sensorstream; fwd=stale; stored')
    assert.equal(after.count, before.count + 1)
  })

  test('bounded by API_STATS_CACHE_MB: the least recently used answer goes first; 0 keeps none', async () => {
    const small = await openApi(await freshDatabase('answer-cache-small'), redisUrl, { statsCacheBytes: 40_000 })
    const off = await openApi(await freshDatabase('answer-cache-off'), redisUrl, { statsCacheBytes: 0 })
    try {
      await small.store.write(readings)
      await off.store.write(readings.slice(0, 100))
      // a day at 1-minute buckets is ~90 KB of JSON: too big for this cache; an hour's ~4 KB fits
      const day = `/sensors/c/stats?from=${D}&to=${D + DAY}&bucket=1m`
      await get(day, small)
      assert.equal((await get(day, small)).cache, 'sensorstream; fwd=miss; stored')
      const hours = Array.from({ length: 12 }, (_, i) => `/sensors/c/stats?from=${D + i * 3600}&to=${D + (i + 1) * 3600}&bucket=1m`)
      for (const url of hours) await get(url, small)
      assert.equal((await get(hours[11] as string, small)).cache, 'sensorstream; hit')
      assert.equal((await get(hours[0] as string, small)).cache, 'sensorstream; fwd=miss; stored', 'the oldest went first')
      const plain = await get(`/sensors/c/stats?from=${D}&to=${D + 3600}&bucket=1m`, off)
      assert.equal(plain.status, 200)
      assert.equal(plain.cache, undefined)
      assert.equal(plain.count, 60)
      const metrics = await small.app.inject('/metrics')
      assert.match(metrics.body, /sensorstream_api_answer_cache_total\{result="hit"[^}]*\} [1-9]/)
      assert.match(metrics.body, /sensorstream_api_answer_cache_bytes\{[^}]*\} [1-9]/)
    } finally {
      await small.close()
      await off.close()
    }
  })
})
