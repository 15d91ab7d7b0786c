// GET /sensors/:id/stats and /series on real Postgres: the tier each bucket size is answered from,
// the same numbers from every tier, and answers from the rollups once raw partitions are gone.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import { closeAllRollups, freshDatabase, useRedis } from '../harness/index.ts'
import { openApi, type ApiFixture } from './setup.ts'

const T0 = Date.UTC(2024, 2, 10) / 1000
const DAY = 86_400
// three days of one reading every 7 s (integer values: sums are exact in every tier), and a spike
const readings: Reading[] = Array.from({ length: Math.floor((3 * DAY) / 7) }, (_, i) => ({
  sensor_id: 't',
  value: ((i * 31) % 200) - 100,
  timestamp: T0 + i * 7
}))
readings[20_000] = { ...(readings[20_000] as Reading), value: 1_000_000 }

interface Bucket {
  start: number
  count: number
  min: number
  max: number
  mean: number
}

/** What the raw readings say for [from, to) at `width`. */
function expected(from: number, to: number, width: number): Bucket[] {
  const buckets = new Map<number, { start: number; count: number; min: number; max: number; sum: number }>()
  for (const r of readings) {
    if (r.timestamp < from || r.timestamp >= to) continue
    const start = Math.floor(r.timestamp / width) * width
    const b = buckets.get(start) ?? { start, count: 0, min: Infinity, max: -Infinity, sum: 0 }
    b.count++
    b.min = Math.min(b.min, r.value)
    b.max = Math.max(b.max, r.value)
    b.sum += r.value
    buckets.set(start, b)
  }
  return [...buckets.values()].sort((a, b) => a.start - b.start).map(({ sum, ...b }) => ({ ...b, mean: sum / b.count }))
}

describe('stats and series pick the tier', () => {
  let f: ApiFixture
  before(async () => {
    const [url, redis] = await Promise.all([freshDatabase('tiers'), useRedis()])
    f = await openApi(url, redis.url)
    for (let i = 0; i < readings.length; i += 10_000) await f.store.write(readings.slice(i, i + 10_000).reverse())
    await closeAllRollups(f.db.pool)
    // a late duplicate changes nothing
    const late = await f.app.inject({ method: 'POST', url: '/data', payload: [{ ...readings[5], value: 12345 }] })
    assert.equal(late.json().duplicates, 1)
  })
  after(() => f.close())

  const get = async (url: string): Promise<{ tier: string; header: unknown; buckets: Bucket[]; status: number }> => {
    const res = await f.app.inject(url)
    const body = res.json()
    return { status: res.statusCode, tier: body.tier, header: res.headers['x-tier'], buckets: body.buckets ?? body.points }
  }

  for (const [bucket, width, tier] of [
    ['2d', 2 * DAY, '1d'],
    ['1d', DAY, '1d'],
    ['25h', 25 * 3600, '1h'],
    ['2h', 7200, '1h'],
    ['1h', 3600, '1h'],
    ['15m', 900, '1m'],
    ['1m', 60, '1m'],
    ['90s', 90, 'raw'],
    ['30s', 30, 'raw']
  ] as const) {
    test(`bucket ${bucket}: tier ${tier}, the same buckets as the raw readings give`, async () => {
      const from = T0 + 3600
      const to = from + (width >= 3600 ? 2 * DAY : 6 * 3600)
      const res = await get(`/sensors/t/stats?from=${from}&to=${to}&bucket=${bucket}`)
      assert.equal(res.status, 200)
      assert.equal(res.tier, tier)
      assert.equal(res.header, tier)
      assert.deepEqual(res.buckets, expected(from, to, width))
    })
  }

  test('a range not on whole hours: the rollups for the middle, raw readings for the edges, exact', async () => {
    const from = T0 + 3600 * 5 + 1_234.5
    const to = T0 + DAY + 3600 * 7 + 59
    const res = await get(`/sensors/t/stats?from=${from}&to=${to}&bucket=1h`)
    assert.equal(res.tier, '1h')
    assert.deepEqual(res.buckets, expected(from, to, 3600))
    const small = await get(`/sensors/t/stats?from=${T0 + 10}&to=${T0 + 3_000}&bucket=1h`)
    assert.equal(small.tier, '1m', 'not one whole hour in the range, but whole minutes')
    assert.deepEqual(small.buckets, expected(T0 + 10, T0 + 3_000, 3600))
    const tiny = await get(`/sensors/t/stats?from=${T0 + 10}&to=${T0 + 100}&bucket=1h`)
    assert.equal(tiny.tier, 'raw', 'not one whole minute in the range')
    assert.deepEqual(tiny.buckets, expected(T0 + 10, T0 + 100, 3600))
  })

  test('series: at most N points, min and max per point keep the spike, counts add up', async () => {
    const res = await f.app.inject(`/sensors/t/series?from=${T0}&to=${T0 + 3 * DAY}&points=100`)
    assert.equal(res.statusCode, 200)
    const body = res.json()
    assert.ok(body.points.length <= 100 && body.points.length >= 90, String(body.points.length))
    assert.equal(body.bucket_seconds, 2_640)
    assert.equal(body.tier, '1m')
    assert.equal(res.headers['x-tier'], '1m')
    assert.deepEqual(body.points, expected(T0, T0 + 3 * DAY, 2_640))
    assert.equal(Math.max(...body.points.map((p: Bucket) => p.max)), 1_000_000)
    const fine = (await f.app.inject(`/sensors/t/series?from=${T0}&to=${T0 + 600}`)).json()
    assert.equal(fine.tier, 'raw')
    assert.equal(fine.bucket_seconds, 2, '600 s in 500 points: 2 s buckets')
    assert.ok(fine.points.length <= 500)
    const coarse = (await f.app.inject(`/sensors/t/series?from=${T0}&to=${T0 + 3 * DAY}&points=10`)).json()
    assert.equal(coarse.tier, '1h')
    assert.equal(coarse.bucket_seconds, 8 * 3600)
    assert.equal((await f.app.inject(`/sensors/t/series?points=5001`)).statusCode, 400)
    assert.equal((await f.app.inject(`/sensors/t/series?points=0`)).statusCode, 400)
    assert.equal((await f.app.inject(`/sensors/nobody/series`)).statusCode, 404)
  })

  test('raw partitions dropped (retention): stats at whole hours still answer from the rollups', async () => {
    const from = T0
    const to = T0 + 3 * DAY
    const before = await get(`/sensors/t/stats?from=${from}&to=${to}&bucket=1h`)
    const { rows } = await f.db.pool.query<{ name: string }>("SELECT name FROM sensorstream_partitions('sensor_data') WHERE hi <= to_timestamp($1)", [to])
    assert.equal(rows.length, 3)
    for (const { name } of rows) await f.db.pool.query(`DROP TABLE ${name}`)
    const afterDrop = await get(`/sensors/t/stats?from=${from}&to=${to}&bucket=1h`)
    assert.equal(afterDrop.tier, '1h')
    assert.deepEqual(afterDrop.buckets, before.buckets)
    assert.deepEqual(afterDrop.buckets, expected(from, to, 3600))
  })
})
