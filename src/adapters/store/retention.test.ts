// Retention drops exactly the whole partitions past each tier's limit, one instance at a time, and
// `sensorstream retention [--dry-run]` says what goes. On throwaway PostgreSQL servers (harness).
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { closeAllRollups, freshDatabase } from '../../../test/harness/index.ts'
import { createLogger } from '../../platform/logger.ts'
import { createMetricsRegistry } from '../../platform/metrics.ts'
import type { RetentionPolicy } from '../../ports/store.ts'
import { MaintenanceMetrics, maintainOnce } from '../../services/maintenance.ts'
import { raiseRetentionSlot } from './answer-epochs.ts'
import { PostgresDatabase } from './postgres-database.ts'
import { PostgresStorageMaintenance } from './retention.ts'

const logger = createLogger('silent')
const DAY = 86_400
const CLI = fileURLToPath(new URL('../../cli.ts', import.meta.url))
/** "now" of these tests: 2024-06-15T12:00Z */
const NOW = Date.UTC(2024, 5, 15, 12)

async function open(url: string): Promise<PostgresDatabase> {
  const s = new PostgresDatabase({ url, poolMax: 4, statementTimeoutMs: 60_000, logger })
  await s.connect()
  await s.migrate()
  return s
}

const maintenance = (s: PostgresDatabase, policy: Partial<RetentionPolicy>): PostgresStorageMaintenance =>
  new PostgresStorageMaintenance({
    pool: s.pool,
    partitions: s.partitions,
    logger,
    policy: { rawDays: undefined, minuteDays: undefined, hourDays: undefined, dayDays: undefined, ...policy }
  })

/** One reading per sensor per day, on each of the 40 days up to NOW, and a year earlier; the rollups closed. */
async function fill(s: PostgresDatabase): Promise<void> {
  const readings = []
  for (let d = 0; d < 40; d++) for (const sensor of ['a', 'b']) readings.push({ sensor_id: sensor, value: d, timestamp: NOW / 1000 - d * DAY })
  readings.push({ sensor_id: 'a', value: -1, timestamp: NOW / 1000 - 400 * DAY })
  await s.store.write(readings)
  await closeAllRollups(s.pool)
}

const names = async (s: PostgresDatabase, table: string): Promise<string[]> =>
  (await s.partitions.list()).filter((p) => p.table === table && p.lo < NOW + DAY * 1000).map((p) => p.name)

test('a drop gives its days a new answer version and leaves the others; a run that died mid-drop is settled by the next', async (t) => {
  const s = await open(await freshDatabase('retention-epochs'))
  t.after(() => s.close())
  await fill(s)
  const version = (from: number): Promise<string | undefined> => s.queries.answerVersion(from, from + DAY)
  const old = Math.floor(NOW / 1000 / DAY) * DAY - 35 * DAY
  const recent = old + 30 * DAY
  const before = [await version(old), await version(recent)]
  assert.ok(before.every((v) => v !== undefined))
  const m = maintenance(s, { rawDays: 30 })
  assert.ok(((await m.dropExpiredPartitions(NOW)) ?? []).some((p) => p.from === old))
  const after = await version(old)
  assert.ok(after !== undefined && after !== before[0], 'the dropped day: a new version, and settled')
  assert.equal(await version(recent), before[1], 'a kept day: unchanged')

  // a run that died between its two marks: no answer about those days is settled until the next run
  const client = await s.pool.connect()
  try {
    await raiseRetentionSlot(client, recent, recent + DAY)
  } finally {
    client.release()
  }
  assert.equal(await version(recent), undefined)
  assert.deepEqual(await m.dropExpiredPartitions(NOW), [])
  const settled = await version(recent)
  assert.ok(settled !== undefined && settled !== before[1])
})

test('drops exactly the partitions entirely older than each limit, and nothing else', async (t) => {
  const s = await open(await freshDatabase('retention'))
  t.after(() => s.close())
  await fill(s)
  const rawBefore = await names(s, 'sensor_data')
  assert.equal(rawBefore.length, 41)
  const m = maintenance(s, { rawDays: 30, minuteDays: 60 })
  const plan = await m.expiredPartitions(NOW)
  // raw: a partition goes when its end is at least 30 days before now: days 2024-05-16 and earlier
  const cutoff = NOW - 30 * DAY * 1000
  const expectedRaw = (await s.partitions.list()).filter((p) => p.table === 'sensor_data' && p.hi <= cutoff).map((p) => p.name)
  assert.equal(expectedRaw.length, 10, 'the 9 days 2024-05-07 … 05-15 (the 15th ends 36 h before the cutoff) and the one of 2023')
  assert.ok(expectedRaw.includes('sensor_data_p20240515') && !expectedRaw.includes('sensor_data_p20240516'), 'the 16th ends after the cutoff')
  // 1-minute rollups: months ending 60 days before now or earlier; May 2024 ends after
  assert.deepEqual(
    plan.filter((p) => p.table === 'rollup_1m').map((p) => p.name),
    ['rollup_1m_p20230501']
  )
  assert.deepEqual(
    plan.filter((p) => p.table === 'sensor_data').map((p) => p.name),
    expectedRaw
  )
  assert.equal(plan.filter((p) => p.table === 'rollup_1h').length, 0, 'no limit for 1-hour rollups: kept forever')
  assert.ok(plan.every((p) => p.bytes > 0))

  const dropped = await m.dropExpiredPartitions(NOW)
  assert.deepEqual(dropped, plan)
  assert.deepEqual(
    await names(s, 'sensor_data'),
    rawBefore.filter((n) => !expectedRaw.includes(n))
  )
  assert.deepEqual(await names(s, 'rollup_1m'), ['rollup_1m_p20240501', 'rollup_1m_p20240601'])
  assert.deepEqual(await names(s, 'rollup_1h'), ['rollup_1h_p20230101', 'rollup_1h_p20240101'])
  const { rows } = await s.pool.query<{ raw: number; m: number; h: number }>(
    'SELECT (SELECT count(*)::int FROM sensor_data) AS raw, (SELECT sum(count)::int FROM rollup_1m) AS m, (SELECT sum(count)::int FROM rollup_1h) AS h'
  )
  assert.deepEqual(rows[0], { raw: 62, m: 80, h: 81 }, 'raw: 31 days of 2 sensors; rollups: what their own limits keep')
  assert.deepEqual(await m.expiredPartitions(NOW), [], 'a second run finds nothing')
  // a late reading for a dropped day: its partition is made again, the write does not fail
  assert.deepEqual(await s.store.write([{ sensor_id: 'a', value: 5, timestamp: NOW / 1000 - 35 * DAY + 1 }]), { inserted: 1, duplicates: 0 })
})

test('the statistics and pages keep their cached plans valid across a retention drop, the statistics answering from the rollups', async (t) => {
  // one connection per pool: every request below runs the same named statement, planned before the drop
  const s = new PostgresDatabase({ url: await freshDatabase('retention_plans'), poolMax: 1, statementTimeoutMs: 60_000, logger })
  await s.connect()
  await s.migrate()
  t.after(() => s.close())
  await fill(s)
  const q = { sensorId: 'a', from: NOW / 1000 - 40 * DAY, to: NOW / 1000 + DAY, bucketSeconds: DAY }
  const before = await s.queries.stats(q)
  for (let i = 0; i < 6; i++) assert.deepEqual(await s.queries.stats(q), before)
  assert.equal(before.tier, '1d')
  assert.equal(
    before.buckets.reduce((n, b) => n + b.count, 0),
    40
  )
  const page = { sensorId: 'a', from: q.from, limit: 100 }
  const all = await s.queries.list(page)
  for (let i = 0; i < 6; i++) assert.deepEqual(await s.queries.list(page), all)
  assert.equal(all.readings.length, 40)
  const dropped = await maintenance(s, { rawDays: 30 }).dropExpiredPartitions(NOW)
  assert.equal(dropped?.filter((p) => p.table === 'sensor_data').length, 10)
  assert.deepEqual(await s.queries.stats(q), before, 'the raw rows of the dropped days are still counted in the rollups')
  const kept = all.readings.filter((r) => r.timestamp >= NOW / 1000 - 30 * DAY)
  assert.ok(kept.length > 0 && kept.length < 40, String(kept.length))
  assert.deepEqual((await s.queries.list(page)).readings, kept, 'the page has the retained readings only')
})

test('one instance at a time: the other skips its turn; maintainOnce counts both', async (t) => {
  const url = await freshDatabase('retention')
  const [a, b] = [await open(url), await open(url)]
  t.after(async () => {
    await a.close()
    await b.close()
  })
  await fill(a)
  const holder = await a.pool.connect()
  await holder.query('SELECT pg_advisory_lock($1)', [0x5e_25_0a_57_e4_13])
  const registry = createMetricsRegistry('test')
  const metrics = new MaintenanceMetrics(registry)
  await maintainOnce(maintenance(b, { rawDays: 1 }), metrics, logger)
  assert.equal((await b.partitions.list()).filter((p) => p.table === 'sensor_data').length, 41 + 4, 'nothing dropped; premade: today and 3 days ahead')
  await holder.query('SELECT pg_advisory_unlock($1)', [0x5e_25_0a_57_e4_13])
  holder.release()
  await maintainOnce(maintenance(b, { rawDays: 1 }), metrics, logger)
  const text = await registry.metrics()
  assert.match(text, /sensorstream_retention_runs_total\{result="skipped",service="test"\} 1/)
  assert.match(text, /sensorstream_retention_runs_total\{result="done",service="test"\} 1/)
  const dropped = /sensorstream_retention_partitions_dropped_total\{table="sensor_data",service="test"\} (\d+)/.exec(text)
  assert.ok(Number(dropped?.[1]) >= 40, text)
})

test('sensorstream retention --dry-run lists what would go with its size; without the flag it drops it', async (t) => {
  const url = await freshDatabase('retention')
  const s = await open(url)
  t.after(() => s.close())
  await s.store.write([
    { sensor_id: 'a', value: 1, timestamp: Date.UTC(2020, 0, 1) / 1000 },
    { sensor_id: 'a', value: 2, timestamp: Date.now() / 1000 }
  ])
  const env = { ...process.env, DATABASE_URL: url, RETENTION_RAW_DAYS: '7', LOG_LEVEL: 'silent' }
  const run = (args: string[]) => promisify(execFile)(process.execPath, [CLI, 'retention', ...args], { env, cwd: '/' })
  const dry = await run(['--dry-run'])
  assert.match(dry.stdout, /raw readings 7 days, 1-minute rollups forever, 1-hour rollups forever/)
  assert.match(dry.stdout, /sensor_data\s+sensor_data_p20200101\s+2020-01-01T00:00:00Z – 2020-01-02T00:00:00Z\s+\d+\.\d MiB/)
  assert.match(dry.stdout, /1 partition, \d+\.\d MiB/)
  assert.ok(
    (await s.partitions.list()).some((p) => p.name === 'sensor_data_p20200101'),
    'a dry run drops nothing'
  )
  const wet = await run([])
  assert.match(wet.stdout, /dropped:\n\s+sensor_data\s+sensor_data_p20200101/)
  assert.ok(!(await s.partitions.list()).some((p) => p.name === 'sensor_data_p20200101'))
  assert.match((await run([])).stdout, /nothing to drop/)
})
