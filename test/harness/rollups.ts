// The rollup invariant, checked in SQL, each check one statement (one snapshot): every stored
// rollup bucket equals the aggregate of its raw rows, each tier holds exactly its closed buckets
// (migrations 012, 013: rollup_1m the minutes before minutes_complete_until, rollup_1h the hours
// before closed_until, rollup_1d the days before its day), and what a query reads for a tier (its
// closed buckets, the open ones from the finer tiers and the open minutes from raw rows) equals
// the raw aggregate of every bucket.
import type pg from 'pg'
import { closeRollups } from '../../src/adapters/store/rollup-closer.ts'

export type RollupTable = 'rollup_1m' | 'rollup_1h' | 'rollup_1d'
export const ROLLUP_TABLES: readonly RollupTable[] = ['rollup_1m', 'rollup_1h', 'rollup_1d']

const WIDTH: Record<RollupTable, string> = { rollup_1m: '1 minute', rollup_1h: '1 hour', rollup_1d: '1 day' }
const W = '(SELECT closed_until FROM rollup_watermark)'
const M = '(SELECT minutes_complete_until FROM rollup_watermark)'
/** the first bucket of a table that is not closed (SQL) */
const OPEN_FROM: Record<RollupTable, string> = {
  rollup_1m: M,
  rollup_1h: W,
  rollup_1d: `date_bin('1 day', ${W}, timestamptz 'epoch')`
}
/**
 * Buckets a closing is half-way through (SQL condition): minutes between its two transactions,
 * which late writes may already have touched and the second transaction completes.
 */
const PENDING: Record<RollupTable, string> = {
  rollup_1m: `bucket >= ${M} AND bucket < (SELECT minutes_closed_until FROM rollup_watermark)`,
  rollup_1h: 'false',
  rollup_1d: 'false'
}

/** the aggregate columns of `rows` (a source with the rollup columns) grouped by `width` */
const regroup = (width: string, rows: string): string => `
  SELECT sensor_id, date_bin('${width}', bucket, timestamptz 'epoch') AS bucket, sum(count)::int8 AS count, sum(sum) AS sum, min(min) AS min,
         max(max) AS max, min(first_ts) AS first_ts, (array_agg(first_value ORDER BY first_ts))[1] AS first_value, max(last_ts) AS last_ts,
         (array_agg(last_value ORDER BY last_ts DESC))[1] AS last_value
  FROM (${rows}) AS x GROUP BY 1, 2`

const rawAggregate = (width: string, where = ''): string => `
  SELECT sensor_id, date_bin('${width}', ts, timestamptz 'epoch') AS bucket, count(*) AS count, sum(value) AS sum, min(value) AS min,
         max(value) AS max, min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value, max(ts) AS last_ts,
         (array_agg(value ORDER BY ts DESC))[1] AS last_value
  FROM sensor_data ${where} GROUP BY 1, 2`

const COLUMNS = 'count, sum, min, max, first_ts, first_value, last_ts, last_value'
const EXACT = ['count', 'min', 'max', 'first_ts', 'first_value', 'last_ts', 'last_value']
/** every column exactly but `sum`, which differs by floating-point rounding (additions in another order) */
const differences = (expected: string, actual: string): string => `
  WITH raw AS (${expected}), r AS (${actual})
  SELECT raw.*, r.* FROM raw FULL JOIN r ON r.sensor_id = raw.sensor_id AND r.bucket = raw.bucket
  WHERE raw.sensor_id IS NULL OR r.sensor_id IS NULL
     OR (${EXACT.map((c) => `raw.${c}`).join(', ')}) IS DISTINCT FROM (${EXACT.map((c) => `r.${c}`).join(', ')})
     OR abs(r.sum - raw.sum) > 1e-9 * greatest(1, abs(raw.sum))
  LIMIT 5`

/**
 * Buckets of `table` that differ from the aggregate of their raw rows, either way, among the buckets
 * it should hold (its closed ones; a closing half-way through aside): empty when the invariant holds.
 */
export async function rollupMismatches(pool: pg.Pool, table: RollupTable): Promise<unknown[]> {
  const { rows } = await pool.query(
    differences(
      `SELECT * FROM (${rawAggregate(WIDTH[table])}) AS a WHERE bucket < ${OPEN_FROM[table]}`,
      `SELECT sensor_id, bucket, ${COLUMNS} FROM ${table} WHERE NOT (${PENDING[table]})`
    )
  )
  return rows
}

/**
 * Buckets of a tier's width whose stored closed buckets plus the open ones computed from the finer
 * tiers (as the queries read them) differ from the raw aggregate: empty when the invariant holds.
 */
export async function tierMismatches(pool: pg.Pool, table: RollupTable): Promise<unknown[]> {
  const stored = (t: RollupTable, from: string, to: string): string =>
    `SELECT sensor_id, bucket, ${COLUMNS} FROM ${t} WHERE bucket >= ${from} AND bucket < ${to}`
  const minus = "timestamptz '-infinity'"
  const openMinutes = rawAggregate('1 minute', `WHERE ts >= ${M}`)
  const sources =
    table === 'rollup_1m'
      ? [stored('rollup_1m', minus, M), openMinutes]
      : table === 'rollup_1h'
        ? [stored('rollup_1h', minus, W), stored('rollup_1m', W, M), openMinutes]
        : [stored('rollup_1d', minus, OPEN_FROM.rollup_1d), stored('rollup_1h', OPEN_FROM.rollup_1d, W), stored('rollup_1m', W, M), openMinutes]
  const { rows } = await pool.query(differences(rawAggregate(WIDTH[table]), regroup(WIDTH[table], sources.join(' UNION ALL '))))
  return rows
}

/** What the services' closer does within a minute or so: closes every bucket that ended long enough ago (readings of the past). */
export async function closeAllRollups(pool: pg.Pool): Promise<void> {
  await closeRollups(pool)
}
