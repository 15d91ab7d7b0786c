// The rollups equal the aggregate of the raw rows after every kind of write, and two writers of the
// same buckets neither deadlock nor lose counts: each case twice, with the readings late (every
// write adds them to the closed buckets itself) and on time (the closer aggregates them after).
// On throwaway PostgreSQL servers (harness).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type pg from 'pg'
import { closeAllRollups, freshDatabase, ROLLUP_TABLES, rollupMismatches, setWatermarks, tierMismatches } from '../../../test/harness/index.ts'
import type { Reading } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import { PostgresDatabase } from './postgres-database.ts'

const logger = createLogger('silent')
const T0 = 1_689_260_000

type Path = 'late' | 'on time'

/** `late`: every watermark a month after T0, so that the readings here are all late; `on time`: as migrated (none closed). */
async function open(url: string, path: Path, poolMax = 4): Promise<PostgresDatabase> {
  const s = new PostgresDatabase({ url, poolMax, statementTimeoutMs: 30_000, logger })
  await s.connect()
  await s.migrate()
  if (path === 'late') await setWatermarks(s.pool, T0 + 30 * 86_400 - (T0 % 3600))
  return s
}

/** On time, the rollups hold the readings once the closer has run; late, they already do. */
const closed = async (s: PostgresDatabase, path: Path): Promise<void> => {
  if (path === 'on time') await closeAllRollups(s.pool)
}

async function assertInvariant(pool: pg.Pool): Promise<void> {
  for (const table of ROLLUP_TABLES) {
    assert.deepEqual(await rollupMismatches(pool, table), [], `${table} holds its closed buckets, equal to their raw rows`)
    assert.deepEqual(await tierMismatches(pool, table), [], `the ${table} tier with its open buckets equals the raw rows`)
  }
}

const r = (sensor_id: string, timestamp: number, value: number): Reading => ({ sensor_id, value, timestamp })

for (const path of ['late', 'on time'] as const) {
  test(`${path}: rollups equal their raw rows after duplicates, out-of-order and late readings, and a replay`, async (t) => {
    const s = await open(await freshDatabase('rollup'), path)
    t.after(() => s.close())
    // Integer values: sums are exact whatever the order of the additions.
    const stream = Array.from({ length: 3_000 }, (_, i) => r(`s${i % 7}`, T0 + i * 1.7, ((i * 37) % 101) - 50))
    await s.store.write(stream.slice(0, 1_000))
    await assertInvariant(s.pool)
    // duplicates, within a batch and of stored rows, with other values: first write wins, counts unchanged
    await s.store.write([...stream.slice(500, 1_200), ...stream.slice(900, 1_100).map((x) => r(x.sensor_id, x.timestamp, 999))])
    await assertInvariant(s.pool)
    // out of order: a reversed batch, and readings earlier than the stored ones in the same buckets
    await s.store.write(stream.slice(1_200, 2_000).reverse())
    await s.store.write(Array.from({ length: 300 }, (_, i) => r(`s${i % 7}`, T0 + i * 1.7 + 0.5, -1_000 - i)))
    await assertInvariant(s.pool)
    // late by days, into buckets and partitions of their own, and a new first and last for old buckets
    await s.store.write([r('s1', T0 - 5 * 86_400, 7), r('s1', T0 - 5 * 86_400 + 30, 8), r('s2', T0 - 0.25, 123), r('s2', T0 + 3_000 * 1.7 + 1, -123)])
    await assertInvariant(s.pool)
    await closed(s, path)
    await assertInvariant(s.pool)
    // a replay of everything (after a crash, Kafka delivers again): nothing changes
    const before = (await s.pool.query('SELECT * FROM rollup_1m ORDER BY sensor_id, bucket')).rows
    assert.deepEqual(await s.store.write(stream.slice(0, 2_000)), { inserted: 0, duplicates: 2_000 })
    assert.deepEqual(
      await s.store.writeReturningNew(stream.slice(0, 100)),
      stream.slice(0, 100).map(() => false)
    )
    assert.deepEqual((await s.pool.query('SELECT * FROM rollup_1m ORDER BY sensor_id, bucket')).rows, before)
    await s.store.write(stream.slice(2_000))
    await assertInvariant(s.pool)
    const { rows } = await s.pool.query<{ n: string }>('SELECT sum(count) AS n FROM rollup_1h')
    assert.equal(Number(rows[0]?.n), 3_000 + 300 + 4)
  })

  test(`${path}: the first and last value by time, and min and max, follow late readings`, async (t) => {
    const s = await open(await freshDatabase('rollup'), path)
    t.after(() => s.close())
    const minute = T0 - (T0 % 60)
    await s.store.write([r('a', minute + 10, 5), r('a', minute + 20, 6)])
    await s.store.writeReturningNew([r('a', minute + 1, -3), r('a', minute + 59.999, 40)])
    await s.store.write([r('a', minute + 30, 1)])
    await closed(s, path)
    const { rows } = await s.pool.query(
      "SELECT count, sum, min, max, first_value, last_value, extract(epoch FROM first_ts)::float8 AS first_ts FROM rollup_1m WHERE sensor_id = 'a'"
    )
    assert.deepEqual(rows, [{ count: '5', sum: 49, min: -3, max: 40, first_value: -3, last_value: 40, first_ts: minute + 1 }])
    await assertInvariant(s.pool)
  })

  test(`${path}: concurrent writers of the same buckets in different orders: no deadlock, no lost count`, async (t) => {
    const url = await freshDatabase('rollup')
    const [a, b] = [await open(url, path, 4), await open(url, 'on time', 4)]
    t.after(async () => {
      await a.close()
      await b.close()
    })
    // 40 sensors × 600 s, every batch touching every sensor's buckets; writer b's batches are reversed
    // and interleaved differently, and half of the readings are written by both (duplicates).
    const all = Array.from({ length: 24_000 }, (_, i) => r(`c${i % 40}`, T0 + Math.floor(i / 40), i % 13))
    const batches = (from: number, step: number): Reading[][] => Array.from({ length: 12 }, (_, k) => all.filter((_, i) => (i + k * step + from) % 12 === 0))
    const writes = [
      ...batches(0, 1).map((batch) => () => a.store.write(batch)),
      ...batches(5, 7).map((batch) => () => b.store.write([...batch].reverse())),
      ...batches(3, 5).map((batch) => () => b.store.writeReturningNew(batch))
    ]
    // Each writer with 3 batches in flight at once (its pool is 4), like two write lanes and POST /data.
    const results = await Promise.all(
      Array.from({ length: 6 }, async (_, lane) => {
        for (let i = lane; i < writes.length; i += 6) await (writes[i] as () => Promise<unknown>)()
      })
    )
    assert.equal(results.length, 6)
    await closed(a, path)
    const { rows } = await a.pool.query<{ raw: string; m: string; h: string }>(
      'SELECT (SELECT count(*) FROM sensor_data) AS raw, (SELECT sum(count) FROM rollup_1m) AS m, (SELECT sum(count) FROM rollup_1h) AS h'
    )
    assert.deepEqual(rows[0], { raw: '24000', m: '24000', h: '24000' })
    await assertInvariant(a.pool)
  })
}
