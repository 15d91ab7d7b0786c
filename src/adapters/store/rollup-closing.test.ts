// Closed buckets only in every tier (migrations 012, 013): closing a minute, an hour or a day, a
// late reading written while a bucket closes, the open minutes, hours and days read at query time,
// migrations 012 and 013 from the layout of 004, and a stop while a closer waits. On throwaway
// PostgreSQL servers (harness).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { Registry } from 'prom-client'
import { freshDatabase, ROLLUP_TABLES, rollupMismatches, setWatermarks, tierMismatches, waitFor } from '../../../test/harness/index.ts'
import type { Reading } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import { startMaintenance } from '../../services/maintenance.ts'
import { listMigrations, migrate } from './migrate.ts'
import { INSERT_SQL, writeParams } from './postgres.ts'
import { PostgresDatabase } from './postgres-database.ts'
import { PostgresReadingQueries, RAW_STATS_SQL } from './postgres-queries.ts'
import { PostgresStorageMaintenance } from './retention.ts'
import { CLOSE_DELAY_MS, closeRollups, watermark } from './rollup-closer.ts'

const logger = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent')
const HOUR = 3600
const DAY = 86_400
/** 20:00 UTC: six hours on cross midnight */
const H0 = Date.UTC(2026, 5, 1, 20) / 1000

async function open(url: string, poolMax = 4): Promise<PostgresDatabase> {
  const s = new PostgresDatabase({ url, poolMax, statementTimeoutMs: 30_000, logger })
  await s.connect()
  await s.migrate()
  return s
}

/** A fresh store whose watermarks are at `w` (unix s). */
async function storeAt(w: number): Promise<PostgresDatabase> {
  const s = await open(await freshDatabase('closing'))
  await setWatermarks(s.pool, w)
  return s
}

/** The minutes' watermarks, unix s: [complete until, closed until]. */
async function minuteWatermarks(pool: pg.Pool): Promise<[number, number]> {
  const { rows } = await pool.query<{ c: number; w: number }>(
    'SELECT extract(epoch FROM minutes_complete_until)::float8 AS c, extract(epoch FROM minutes_closed_until)::float8 AS w FROM rollup_watermark'
  )
  return [Number(rows[0]?.c), Number(rows[0]?.w)]
}

async function assertInvariant(pool: pg.Pool, when: string): Promise<void> {
  for (const table of ROLLUP_TABLES) {
    assert.deepEqual(await rollupMismatches(pool, table), [], `${when}: ${table} holds exactly its closed buckets, equal to their raw rows`)
    assert.deepEqual(await tierMismatches(pool, table), [], `${when}: the ${table} tier read with its open buckets equals the raw rows`)
  }
}

/** Stats of the tiers against the same query on raw rows, for every sensor and bucket width. */
async function assertStatsExact(s: PostgresDatabase, from: number, to: number, when: string, aligned = true): Promise<void> {
  const queries = new PostgresReadingQueries({ pool: s.pool })
  for (const [bucketSeconds, tier] of [
    [DAY, '1d'],
    [HOUR, '1h'],
    [60, '1m']
  ] as const) {
    for (const sensorId of ['a', 'b']) {
      const stats = await queries.stats({ sensorId, from, to, bucketSeconds })
      if (aligned) assert.equal(stats.tier, tier)
      const { rows } = await s.pool.query<{ start: number; count: string; min: number; max: number; mean: number }>(RAW_STATS_SQL, [
        sensorId,
        bucketSeconds,
        from,
        to
      ])
      assert.deepEqual(
        stats.buckets,
        rows.map((r) => ({ ...r, count: Number(r.count) })),
        `${when}: ${sensorId} at ${bucketSeconds} s`
      )
    }
  }
}

const r = (sensor_id: string, timestamp: number, value: number): Reading => ({ sensor_id, value, timestamp })
/** readings of sensors a and b every `step` seconds in [from, to), integer values */
const span = (from: number, to: number, step: number, salt = 0): Reading[] => {
  const out: Reading[] = []
  for (let t = from, i = 0; t < to; t += step, i++) out.push(r(i % 2 === 0 ? 'a' : 'b', t, ((i * 7919 + salt) % 1000) - 500))
  return out
}

const closeAt = (s: PostgresDatabase, t: number): Promise<number> => closeRollups(s.pool, { nowMs: t * 1000 + CLOSE_DELAY_MS })

test('closing moves whole hours and days into rollup_1h and rollup_1d once; open ones are read from the finer tiers, exact', async (t) => {
  const s = await storeAt(H0)
  t.after(() => s.close())
  // an hour before the watermark (late: straight into the closed buckets) to six hours after it
  await s.store.write(span(H0 - HOUR, H0 + 6 * HOUR, 11))
  await assertInvariant(s.pool, 'written')
  const { rows: open } = await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM rollup_1h WHERE bucket >= to_timestamp($1)', [H0])
  assert.equal(Number(open[0]?.n), 0, 'no open hour stored')
  await assertStatsExact(s, H0 - 2 * DAY, H0 + 2 * DAY, 'nothing closed yet')

  assert.equal(await closeAt(s, H0 + 3 * HOUR + 59), 3, '20:00, 21:00 and 22:00 close')
  assert.equal(await watermark(s.pool), (H0 + 3 * HOUR) * 1000)
  await assertInvariant(s.pool, 'three hours closed')
  await assertStatsExact(s, H0 - 2 * DAY, H0 + 2 * DAY, 'three hours closed')
  assert.equal(await closeAt(s, H0 + 3 * HOUR + 59), 0, 'closing again: nothing to do')

  // late and duplicate readings into closed hours and an open one
  await s.store.write([...span(H0 + 5, H0 + 2 * HOUR, 97, 3), ...span(H0 - HOUR, H0, 11), r('a', H0 + 3 * HOUR + 1.5, 40)])
  await assertInvariant(s.pool, 'late readings into closed hours')

  assert.equal(await closeAt(s, H0 + 6 * HOUR), 3, 'up to 02:00: the day of 1 June closes')
  const { rows: days } = await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM rollup_1d')
  assert.equal(Number(days[0]?.n), 2, 'one day row per sensor')
  await assertInvariant(s.pool, 'a day closed')
  await assertStatsExact(s, H0 - 2 * DAY, H0 + 2 * DAY, 'a day closed')
  await assertStatsExact(s, H0 - 3600 * 5 - 600, H0 + 5 * 3600 + 120, 'unaligned edges', false)
  // a late reading into the closed day
  await s.store.write([r('b', H0 - 1800.25, 999), r('b', H0 + 3 * HOUR + 0.5, -999)])
  await assertInvariant(s.pool, 'late reading into a closed day')
  await assertStatsExact(s, H0 - 2 * DAY, H0 + 2 * DAY, 'late reading into a closed day')
})

test('a bucket closing while a reading of it is written: the closer waits for the writer, a writer for the closer; both exact', async (t) => {
  const s = await storeAt(H0)
  t.after(() => s.close())
  await s.store.write(span(H0, H0 + 2 * HOUR, 13))
  const waiting = async (): Promise<boolean> => {
    const { rows } = await s.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return Number(rows[0]?.n) > 0
  }

  // a writer in flight (its transaction open) holds the closer back; the closer then counts its rows
  const writer = await s.pool.connect()
  try {
    await writer.query('BEGIN')
    await writer.query(INSERT_SQL, writeParams(span(H0 + 7, H0 + HOUR, 61, 5), writer))
    const closing = closeAt(s, H0 + HOUR)
    await waitFor('the closer to wait for the writer', waiting)
    await writer.query('COMMIT')
    assert.equal(await closing, 1)
  } finally {
    writer.release()
  }
  await assertInvariant(s.pool, 'closed after a writer')

  // a closer in flight holds a writer of the closing hour back; the writer then reads the new
  // watermark and adds its rows to the hour just closed (its minutes closed before)
  await s.pool.query('SELECT sensorstream_close_minutes_begin(to_timestamp($1), 1000)', [H0 + 2 * HOUR])
  await s.pool.query('SELECT sensorstream_close_minutes_finish()')
  const closer = await s.pool.connect()
  try {
    await closer.query('BEGIN')
    await closer.query('SELECT sensorstream_close_rollups(to_timestamp($1), 24)', [H0 + 2 * HOUR])
    const writing = s.store.write(span(H0 + HOUR + 3, H0 + 2 * HOUR, 59, 9))
    await waitFor('the writer to wait for the closer', waiting)
    await closer.query('COMMIT')
    assert.ok((await writing).inserted > 0)
  } finally {
    closer.release()
  }
  await assertInvariant(s.pool, 'written after a closer')
})

test('closing minutes in two steps: a writer between them counts its own rows, the second step the older ones; a step left half-done is finished', async (t) => {
  const s = await storeAt(H0)
  t.after(() => s.close())
  await s.store.write(span(H0, H0 + HOUR, 7))
  assert.deepEqual(await minuteWatermarks(s.pool), [H0, H0], 'nothing closed')
  await assertInvariant(s.pool, 'all open')
  await assertStatsExact(s, H0 - DAY, H0 + DAY, 'all open: the minutes read from raw rows')

  // step 1 only (a closer that died before step 2): the half hour closes for writers, not yet for queries
  await s.pool.query('SELECT sensorstream_close_minutes_begin(to_timestamp($1), 1000)', [H0 + HOUR / 2])
  assert.deepEqual(await minuteWatermarks(s.pool), [H0, H0 + HOUR / 2])
  // a writer after step 1 adds its readings of the closed minutes itself (late), duplicates nothing
  await s.store.write([...span(H0 + 3, H0 + HOUR, 31, 1), ...span(H0, H0 + 600, 7)])
  const { rows: own } = await s.pool.query<{ n: string }>('SELECT coalesce(sum(count), 0) AS n FROM rollup_1m')
  assert.ok(Number(own[0]?.n) > 0, 'the late writer counted its own rows')
  await assertInvariant(s.pool, 'between the steps')
  await assertStatsExact(s, H0 - DAY, H0 + DAY, 'between the steps')

  // the next closer finds step 2 pending and does it before moving on: every row counted once
  assert.equal(await closeAt(s, H0 + HOUR), 1)
  assert.deepEqual(await minuteWatermarks(s.pool), [H0 + HOUR, H0 + HOUR])
  const { rows } = await s.pool.query<{ raw: string; m: string }>('SELECT (SELECT count(*) FROM sensor_data) AS raw, (SELECT sum(count) FROM rollup_1m) AS m')
  assert.equal(rows[0]?.m, rows[0]?.raw, 'every raw row in rollup_1m once')
  await assertInvariant(s.pool, 'after both steps')
  await assertStatsExact(s, H0 - DAY, H0 + DAY, 'after both steps')
})

test('two writers and a closer at once, current and late readings, duplicates: no deadlock, no lost or double count', async (t) => {
  const url = await freshDatabase('closing')
  const [a, b] = [await open(url, 3), await open(url, 3)]
  t.after(async () => {
    await a.close()
    await b.close()
  })
  await setWatermarks(a.pool, H0)
  // 12 hours of 30 sensors, every batch spread over all of them and over the hours (late ones too)
  const all = Array.from({ length: 30_000 }, (_, i) => r(`c${i % 30}`, H0 - HOUR + Math.floor(i / 30) * 43.2 + (i % 30) * 0.01, i % 17))
  const batches = Array.from({ length: 30 }, (_, k) => all.filter((_, i) => (i * 7 + k) % 30 === 0))
  const lane = async (store: PostgresDatabase, which: readonly Reading[][]): Promise<void> => {
    for (const batch of which) await store.store.write(batch)
  }
  const closer = (async () => {
    for (let h = 1; h <= 12; h++) {
      await closeAt(a, H0 + h * HOUR)
      await new Promise((resolve) => setTimeout(resolve, 15))
    }
  })()
  await Promise.all([lane(a, batches.slice(0, 15)), lane(b, batches.slice(15)), lane(b, [...batches].reverse().slice(0, 10)), closer])
  assert.equal(await watermark(a.pool), (H0 + 12 * HOUR) * 1000)
  const { rows } = await a.pool.query<{ raw: string; m: string; h: string; d: string }>(
    'SELECT (SELECT count(*) FROM sensor_data) AS raw, (SELECT sum(count) FROM rollup_1m) AS m, (SELECT sum(count) FROM rollup_1h) AS h, (SELECT sum(count) FROM rollup_1d) AS d'
  )
  const closedDay = all.filter((x) => x.timestamp < H0 + 4 * HOUR).length
  assert.deepEqual(rows[0], { raw: '30000', m: '30000', h: '30000', d: String(closedDay) })
  await assertInvariant(a.pool, 'after the race')
})

test('migrations 012 and 013 convert the rollups of 004 without loss: open hours leave rollup_1h, open minutes rollup_1m, rollup_1d holds the closed days', async (t) => {
  const url = await freshDatabase('closing')
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  t.after(() => pool.end())
  await migrate(
    pool,
    listMigrations().filter((m) => m.version <= 11)
  )
  const now = Math.floor(Date.now() / 1000)
  const from = now - 3 * DAY
  // three days up to now, rollups as 004 made them (every hour, the current one included)
  const slots = new Map<string, [string, number, string]>()
  for (let d = Math.floor(from / DAY) * DAY; d <= now; d += DAY) {
    const day = new Date(d * 1000)
    slots.set(`d${d}`, ['sensor_data', d, '1 day'])
    slots.set(`m${day.getUTCFullYear()}-${day.getUTCMonth()}`, ['rollup_1m', Date.UTC(day.getUTCFullYear(), day.getUTCMonth()) / 1000, '1 month'])
    slots.set(`y${day.getUTCFullYear()}`, ['rollup_1h', Date.UTC(day.getUTCFullYear(), 0) / 1000, '1 year'])
  }
  for (const [table, lo, width] of slots.values()) {
    await pool.query('SELECT sensorstream_add_partition($1, to_timestamp($2), to_timestamp($2) + $3::interval)', [table, lo, width])
  }
  await pool.query(
    `INSERT INTO sensor_data (sensor_id, value, ts)
     SELECT CASE WHEN i % 2 = 0 THEN 'a' ELSE 'b' END, (i * 7919) % 1000 - 500, to_timestamp($1::float8 + i * 17) FROM generate_series(0, ($2::int8 - $1::int8) / 17 - 1) AS i
     UNION ALL -- both sensors in the current hour, even in its first seconds
     SELECT s, 1, date_bin('1 hour', now(), timestamptz 'epoch') + interval '1 millisecond' FROM unnest(ARRAY['a', 'b']) AS s`,
    [from, now]
  )
  await pool.query('SELECT sensorstream_rebuild_rollups()')
  const { rows: before } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM rollup_1h WHERE bucket >= date_bin($1, now(), $2)', [
    '1 hour',
    '1970-01-01Z'
  ])
  assert.equal(Number(before[0]?.n), 2, '004 keeps the current hour in rollup_1h')

  const s = await open(url)
  t.after(() => s.close())
  await assertInvariant(s.pool, 'migrated')
  await assertStatsExact(s, Math.floor(from / DAY) * DAY, Math.ceil(now / DAY) * DAY + DAY, 'migrated')
  const { rows: days } = await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM rollup_1d')
  assert.ok(Number(days[0]?.n) >= 4, 'the closed days of both sensors')
  // the repair of 004, rewritten for the new layout, keeps it
  await s.pool.query('SELECT sensorstream_rebuild_rollups()')
  await assertInvariant(s.pool, 'rebuilt')
})

test('a stop while the closer waits for a writer in flight is prompt, and closes nothing', async (t) => {
  const s = await storeAt(H0)
  t.after(() => s.close())
  await s.store.write(span(H0, H0 + 3 * HOUR, 29))
  const writer = await s.pool.connect()
  await writer.query('BEGIN')
  await writer.query('SELECT sensorstream_rollup_watermarks()')
  const maintenance = new PostgresStorageMaintenance({
    pool: s.pool,
    partitions: s.partitions,
    logger,
    policy: { rawDays: undefined, minuteDays: undefined, hourDays: undefined, dayDays: undefined }
  })
  const running = startMaintenance(maintenance, { registry: new Registry(), logger, ready: Promise.resolve(), closeEveryMs: 60_000 })
  await waitFor('the closer to wait for the writer', async () => {
    const { rows } = await s.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
    return Number(rows[0]?.n) > 0
  })
  const started = performance.now()
  await running.stop()
  const ms = performance.now() - started
  assert.ok(ms < 2_000, `stopped in ${ms.toFixed(0)} ms`)
  const { rows } = await s.pool.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
  assert.equal(Number(rows[0]?.n), 0, 'no closer left waiting')
  await writer.query('COMMIT')
  writer.release()
  assert.equal(await watermark(s.pool), H0 * 1000, 'nothing closed')
  assert.deepEqual(await minuteWatermarks(s.pool), [H0, H0], 'no minute closed')
  await assertInvariant(s.pool, 'after the stop')
})
