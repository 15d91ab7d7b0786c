// The rollup invariant, checked in SQL: every rollup bucket equals the aggregate of its raw rows.
import type pg from 'pg'

/** Buckets of `table` that differ from the aggregate of their raw rows, either way (empty: the invariant holds). */
export async function rollupMismatches(pool: pg.Pool, table: 'rollup_1m' | 'rollup_1h'): Promise<unknown[]> {
  const width = table === 'rollup_1m' ? '1 minute' : '1 hour'
  const { rows } = await pool.query(`
    WITH raw AS (
      SELECT sensor_id, date_bin('${width}', ts, timestamptz 'epoch') AS bucket, count(*) AS count, sum(value) AS sum, min(value) AS min,
             max(value) AS max, min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value, max(ts) AS last_ts,
             (array_agg(value ORDER BY ts DESC))[1] AS last_value
      FROM sensor_data GROUP BY 1, 2
    )
    SELECT raw.*, r.* FROM raw FULL JOIN ${table} r ON r.sensor_id = raw.sensor_id AND r.bucket = raw.bucket
    WHERE (raw.count, raw.sum, raw.min, raw.max, raw.first_ts, raw.first_value, raw.last_ts, raw.last_value)
          IS DISTINCT FROM (r.count, r.sum, r.min, r.max, r.first_ts, r.first_value, r.last_ts, r.last_value)
    LIMIT 5`)
  return rows
}
