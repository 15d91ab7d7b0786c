// latestOfAll (the cache's rebuild) and latestPerSensor (GET /sensors without the cache) on
// PostgreSQL list the sensors from rollup_1d's closed days and probe raw rows only outside them:
// every sensor must still come back once with its newest raw reading, whichever part of the data
// it is in, after rollup_1d partitions went (a gap, the oldest) and after raw partitions went. On a
// throwaway PostgreSQL server (harness).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { newestInPostgres } from '../../../test/e2e/support.ts'
import { freshDatabase } from '../../../test/harness/index.ts'
import type { Reading } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import { PostgresDatabase } from './postgres-database.ts'
import { closeRollups } from './rollup-closer.ts'

const DAY = 86_400
/** "now" of this test: 2024-06-15T12:00Z */
const NOW = Date.UTC(2024, 5, 15, 12) / 1000
const at = (iso: string): number => Date.parse(iso) / 1000

/** Where each sensor's readings are: closed days (rollup_1d), the open day, older years, a later year. */
const READINGS: Reading[] = [
  ...Array.from({ length: 6 }, (_, i) => ({ sensor_id: `closed-${i}`, value: i, timestamp: NOW - (3 + i) * DAY })),
  { sensor_id: 'both', value: 1, timestamp: NOW - 3 * DAY },
  { sensor_id: 'both', value: 2, timestamp: NOW - 60 },
  { sensor_id: 'open', value: 3, timestamp: NOW - 60 },
  { sensor_id: 'open-day-closed-hour', value: 4, timestamp: NOW - 4 * 3600 },
  { sensor_id: 'y2022', value: 5, timestamp: at('2022-03-01T00:00:00Z') },
  { sensor_id: 'y2023', value: 6, timestamp: at('2023-05-01T00:00:00Z') },
  { sensor_id: 'y2023', value: 7, timestamp: at('2023-05-02T00:00:00Z') },
  { sensor_id: 'y2022-and-closed', value: 8, timestamp: at('2022-03-01T00:00:00Z') },
  { sensor_id: 'y2022-and-closed', value: 9, timestamp: NOW - 5 * DAY },
  { sensor_id: 'ahead', value: 10, timestamp: at('2026-01-05T00:00:00Z') }
]

async function pages(s: PostgresDatabase, limit: number): Promise<Reading[]> {
  const all: Reading[] = []
  for (let after: string | undefined; ;) {
    const page = await s.store.latestOfAll(after, limit)
    if (page.length === 0) return all
    assert.ok(page.length <= limit)
    all.push(...page)
    after = page.at(-1)?.sensor_id
  }
}

async function agrees(s: PostgresDatabase, url: string, expectedSensors: number, state: string): Promise<void> {
  // DISTINCT ON over the raw rows, in sensor id order
  const expected = [...(await newestInPostgres(url))].map(([sensor_id, newest]) => ({ sensor_id, ...newest }))
  assert.equal(expected.length, expectedSensors, state)
  for (const limit of [1, 3, 1_000]) assert.deepEqual(await pages(s, limit), expected, `${state}, pages of ${limit}`)
  assert.deepEqual(await s.queries.latestPerSensor(), expected, `${state}, latestPerSensor (the API's, all at once)`)
}

test('latestOfAll and latestPerSensor find every sensor with its newest raw reading, wherever its rows are and whatever partitions went', async (t) => {
  const url = await freshDatabase('latest_of_all')
  const s = new PostgresDatabase({ url, poolMax: 4, statementTimeoutMs: 60_000, logger: createLogger('silent') })
  await s.connect()
  t.after(() => s.close())
  await s.migrate()
  await agrees(s, url, 0, 'empty')
  await s.store.write(READINGS)
  await agrees(s, url, 13, 'nothing closed (every row in the open days)')

  await closeRollups(s.pool, { nowMs: NOW * 1000 })
  const { rows } = await s.pool.query<{ closed: Date }>('SELECT closed_until AS closed FROM rollup_watermark')
  assert.deepEqual(rows[0]?.closed, new Date(Date.UTC(2024, 5, 15, 11)), 'closed up to 11:00 on the last day: that day is open for rollup_1d')
  const days = await s.pool.query<{ n: number }>('SELECT count(DISTINCT sensor_id)::int AS n FROM rollup_1d')
  assert.equal(days.rows[0]?.n, 10, 'rollup_1d holds the sensors of the closed days')
  await agrees(s, url, 13, 'closed, every rollup_1d partition there')

  await s.pool.query('DROP TABLE rollup_1d_p20230101')
  await agrees(s, url, 13, 'a gap in rollup_1d (2023 dropped): 2022 and 2023 read from raw rows')

  await s.pool.query('DROP TABLE rollup_1d_p20220101')
  await agrees(s, url, 13, "rollup_1d's oldest partitions dropped")

  const closedDays = (await s.partitions.list()).filter(
    (p) => p.table === 'sensor_data' && p.hi <= (NOW - 2 * DAY) * 1000 && p.lo >= at('2024-01-01T00:00:00Z') * 1000
  )
  assert.ok(closedDays.length >= 6)
  for (const p of closedDays) await s.pool.query(`DROP TABLE ${p.name}`)
  await agrees(s, url, 7, 'raw days dropped while rollup_1d keeps them: those sensors have no newest reading')
})
