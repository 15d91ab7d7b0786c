// Partitions made ahead and on demand, and migration 004 converting a table made by the release
// before it, with its rows, in place. On throwaway PostgreSQL servers (harness).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import pg from 'pg'
import { freshDatabase, rollupMismatches } from '../../../test/harness/index.ts'
import { normalizeTimestamp } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import type { ReadingQueries } from '../../ports/queries.ts'
import { listMigrations, migrate } from './migrate.ts'
import { PostgresReadingQueries } from './postgres-queries.ts'
import { PostgresDatabase } from './postgres-database.ts'

const logger = createLogger('silent')
const DAY = 86_400

async function open(url: string, intervalSeconds = DAY): Promise<PostgresDatabase> {
  const s = new PostgresDatabase({ url, poolMax: 4, statementTimeoutMs: 60_000, logger, partitions: { intervalSeconds, premake: 3 } })
  await s.connect()
  return s
}

test('premade partitions: now and 3 intervals ahead, in every table; no default partition', async (t) => {
  const s = await open(await freshDatabase('part'))
  t.after(() => s.close())
  await s.migrate()
  const now = Date.UTC(2026, 11, 30, 12)
  await s.partitions.premake(now)
  // migrate premade from the real now, which the test cannot choose: only what follows `now` is checked
  const parts = (await s.partitions.list()).filter((p) => p.hi > now)
  const day = Date.UTC(2026, 11, 30)
  assert.deepEqual(
    parts.filter((p) => p.table === 'sensor_data').map((p) => [p.name, p.lo, p.hi]),
    [0, 1, 2, 3].map((i) => [
      `sensor_data_p${new Date(day + i * DAY * 1000).toISOString().slice(0, 10).replaceAll('-', '')}`,
      day + i * DAY * 1000,
      day + (i + 1) * DAY * 1000
    ])
  )
  assert.deepEqual(
    parts.filter((p) => p.table === 'rollup_1m').map((p) => p.name),
    ['rollup_1m_p20261201', 'rollup_1m_p20270101']
  )
  assert.deepEqual(
    parts.filter((p) => p.table === 'rollup_1h').map((p) => p.name),
    ['rollup_1h_p20260101', 'rollup_1h_p20270101']
  )
  const { rows } = await s.pool.query<{ n: string }>('SELECT count(*) AS n FROM pg_partitioned_table WHERE partdefid <> 0')
  assert.equal(rows[0]?.n, '0')
  await s.partitions.premake(now) // again: nothing new, no error
  assert.equal((await s.partitions.list()).filter((p) => p.hi > now).length, parts.length)
})

test('a reading from 2003 and one from tomorrow are stored, in partitions made for them', async (t) => {
  const s = await open(await freshDatabase('part'), 6 * 3600)
  t.after(() => s.close())
  await s.migrate()
  const tomorrow = Math.floor(Date.now() / 1000) + DAY - 60
  const old = Date.UTC(2003, 4, 17, 13, 30) / 1000
  assert.deepEqual(
    await s.store.write([
      { sensor_id: 'a', value: 1, timestamp: old },
      { sensor_id: 'a', value: 2, timestamp: tomorrow }
    ]),
    { inserted: 2, duplicates: 0 }
  )
  assert.deepEqual(await s.store.writeReturningNew([{ sensor_id: 'b', value: 3, timestamp: old + 7 * DAY }]), [true])
  const names = (await s.partitions.list()).map((p) => p.name)
  assert.ok(names.includes('sensor_data_p20030517_120000'), names.join(' '))
  assert.ok(names.includes('rollup_1m_p20030501') && names.includes('rollup_1h_p20030101'), names.join(' '))
  assert.deepEqual(await s.queries.latest('a'), { sensor_id: 'a', value: 2, timestamp: tomorrow })
  assert.deepEqual(await rollupMismatches(s.pool, 'rollup_1m'), [])
})

test('a partition dropped behind the cache is made again; the batch does not fail', async (t) => {
  const url = await freshDatabase('part')
  const [a, b] = [await open(url), await open(url)]
  t.after(async () => {
    await a.close()
    await b.close()
  })
  await a.migrate()
  const ts = 1_689_260_000
  await a.store.write([{ sensor_id: 'a', value: 1, timestamp: ts }])
  await b.store.write([{ sensor_id: 'b', value: 1, timestamp: ts }]) // b caches the partition…
  await a.pool.query('DROP TABLE sensor_data_p20230713') // …which another process drops (retention)
  assert.deepEqual(await b.store.write([{ sensor_id: 'b', value: 2, timestamp: ts + 1 }]), { inserted: 1, duplicates: 0 })
  assert.equal((await b.pool.query('SELECT count(*)::int AS n FROM sensor_data')).rows[0].n, 1)
})

test('a changed PARTITION_INTERVAL fits new partitions between the old ones', async (t) => {
  const url = await freshDatabase('part')
  const daily = await open(url, DAY)
  t.after(() => daily.close())
  await daily.migrate()
  const day = Date.UTC(2024, 0, 10) / 1000
  await daily.store.write([{ sensor_id: 'a', value: 1, timestamp: day + 10 }])
  const weekly = await open(url, 7 * DAY)
  t.after(() => weekly.close())
  assert.deepEqual(
    await weekly.store.write([
      { sensor_id: 'a', value: 2, timestamp: day - 10 },
      { sensor_id: 'a', value: 3, timestamp: day + DAY + 10 }
    ]),
    { inserted: 2, duplicates: 0 }
  )
  const raw = (await weekly.partitions.list())
    .filter((p) => p.table === 'sensor_data' && p.lo < Date.UTC(2025, 0))
    .map((p) => [p.lo / 1000 - day, p.hi / 1000 - day])
  // weeks start on Thursdays (aligned on the epoch): 2024-01-04 to 01-11, cut before the 10th's day
  assert.deepEqual(raw, [
    [-6 * DAY, 0],
    [0, DAY],
    [DAY, 8 * DAY]
  ])
})

const BUCKETS = [1, 60, 600, 3600, DAY]

/** What GET /data and one sensor's readings answer: every page. */
async function pages(queries: ReadingQueries, latestPerSensor: () => Promise<unknown> = () => queries.latestPerSensor()): Promise<unknown[]> {
  const out: unknown[] = []
  for (const sensorId of [undefined, 's3']) {
    let after
    for (let page = 0; page < 200; page++) {
      const p: Awaited<ReturnType<ReadingQueries['list']>> = await queries.list({
        limit: 997,
        ...(sensorId === undefined ? {} : { sensorId }),
        ...(after === undefined ? {} : { after })
      })
      out.push(p)
      if (p.next === undefined) break
      after = p.next
    }
  }
  out.push(await latestPerSensor())
  return out
}

/** The release before 004 listed each sensor's newest reading with this skip scan (postgres-queries.ts then). */
async function releaseLatest(pool: pg.Pool): Promise<unknown[]> {
  const { rows } = await pool.query<{ sensor_id: string; value: number; us: string }>(
    `WITH RECURSIVE ids AS (
       (SELECT sensor_id FROM sensor_data ORDER BY sensor_id LIMIT 1)
       UNION ALL
       SELECT (SELECT d.sensor_id FROM sensor_data d WHERE d.sensor_id > ids.sensor_id ORDER BY d.sensor_id LIMIT 1) FROM ids WHERE ids.sensor_id IS NOT NULL)
     SELECT l.sensor_id, l.value, l.us FROM ids CROSS JOIN LATERAL (
       SELECT sensor_id, value, (extract(epoch FROM ts) * 1000000)::int8 AS us FROM sensor_data d WHERE d.sensor_id = ids.sensor_id ORDER BY ts DESC LIMIT 1) l
     ORDER BY l.sensor_id`
  )
  return rows.map((r) => ({ sensor_id: r.sensor_id, value: r.value, timestamp: normalizeTimestamp(Number(r.us) / 1e6) }))
}

/** The release before 004 answered stats from raw rows with this query (postgres-queries.ts then). */
async function releaseStats(pool: pg.Pool, from: number, to: number): Promise<unknown[]> {
  const out: unknown[] = []
  for (const bucket of BUCKETS) {
    const { rows } = await pool.query(
      `SELECT extract(epoch FROM date_bin(make_interval(secs => $2::float8), ts, timestamptz 'epoch'))::float8 AS start,
              count(*)::int8 AS count, min(value) AS min, max(value) AS max, avg(value) AS mean
       FROM sensor_data WHERE sensor_id = $1 AND ts >= to_timestamp($3::float8) AND ts < to_timestamp($4::float8) GROUP BY 1 ORDER BY 1`,
      ['s3', bucket, from, to]
    )
    out.push(rows.map((r) => ({ ...r, count: Number(r.count) })))
  }
  return out
}

test('migration 004 converts a table of the previous release with its rows; every row and answer is the same', async (t) => {
  const url = await freshDatabase('part')
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  t.after(() => pool.end())
  await migrate(
    pool,
    listMigrations().filter((m) => m.version <= 3)
  )
  const t0 = Date.UTC(2024, 1, 27) / 1000
  // 20,000 readings of 10 sensors over 4 days, across a month's end, with integer values
  await pool.query(
    `INSERT INTO sensor_data (sensor_id, value, ts)
     SELECT 's' || (i % 10), (i * 7919) % 1000 - 500, to_timestamp($1::float8 + (i / 10) * 172.8 + (i % 10) * 0.001) FROM generate_series(0, 19999) AS i`,
    [t0]
  )
  await pool.query('DELETE FROM sensor_data WHERE id % 97 = 0') // gaps in the ids, as duplicates leave
  const before = (await pool.query('SELECT id, sensor_id, value, ts FROM sensor_data ORDER BY id')).rows
  const oldQueries = new PostgresReadingQueries({ pool })
  const pagesBefore = await pages(oldQueries, () => releaseLatest(pool))
  const statsBefore = await releaseStats(pool, t0 - 100, t0 + 5 * DAY)

  const s = await open(url)
  t.after(() => s.close())
  await s.migrate()
  assert.deepEqual((await pool.query('SELECT id, sensor_id, value, ts FROM sensor_data ORDER BY id')).rows, before)
  const queries = new PostgresReadingQueries({ pool: s.pool })
  assert.deepEqual(await pages(queries), pagesBefore)
  const statsAfter = []
  for (const bucketSeconds of BUCKETS) {
    const stats = await queries.stats({ sensorId: 's3', from: t0 - 100, to: t0 + 5 * DAY, bucketSeconds })
    assert.equal(stats.tier, bucketSeconds % 86_400 === 0 ? '1d' : bucketSeconds >= 3600 ? '1h' : bucketSeconds >= 60 ? '1m' : 'raw')
    statsAfter.push(stats.buckets)
  }
  assert.deepEqual(statsAfter, statsBefore)
  assert.deepEqual(await rollupMismatches(pool, 'rollup_1m'), [])
  assert.deepEqual(await rollupMismatches(pool, 'rollup_1h'), [])
  assert.deepEqual(await rollupMismatches(pool, 'rollup_1d'), [])
  const parts = (await s.partitions.list()).filter((p) => p.lo < Date.UTC(2025, 0)) // not those premade from now
  assert.deepEqual(
    parts.filter((p) => p.table === 'sensor_data').map((p) => p.name),
    ['sensor_data_p20240227', 'sensor_data_p20240228', 'sensor_data_p20240229', 'sensor_data_p20240301']
  )
  assert.deepEqual(
    parts.filter((p) => p.table === 'rollup_1m').map((p) => p.name),
    ['rollup_1m_p20240201', 'rollup_1m_p20240301']
  )
  // new rows continue the old ids, and the old identity holds
  assert.deepEqual(
    await s.store.write([
      { sensor_id: 's1', value: 0, timestamp: before[1].ts.getTime() / 1000 },
      { sensor_id: 's1', value: 0, timestamp: t0 + 1 }
    ]),
    { inserted: 1, duplicates: 1 }
  )
  const { rows } = await pool.query<{ id: string }>('SELECT id FROM sensor_data WHERE ts = to_timestamp($1)', [t0 + 1])
  assert.ok(Number(rows[0]?.id) > Number(before[before.length - 1].id))
})
