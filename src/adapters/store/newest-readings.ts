// The newest stored reading per sensor, as the cache rebuild (ReadingStore) and the API's fallback
// when the cache is down (ReadingQueries) both read it. Rows: sensor_id, value, ts (unix seconds).
import { normalizeTimestamp, type Reading } from '../../domain/reading.ts'

export interface NewestRow {
  sensor_id: string
  value: number
  ts: number
}

const NEWEST_OF = 'SELECT n.sensor_id, n.value, n.ts'
/** The newest reading of each sensor of the lateral `i`: one backward probe of the (sensor_id, ts) INCLUDE (value) index, index-only. */
const NEWEST_JOIN = `CROSS JOIN LATERAL (
  SELECT d.sensor_id, d.value, extract(epoch FROM d.ts)::float8 AS ts FROM sensor_data d WHERE d.sensor_id = i.sensor_id ORDER BY d.ts DESC LIMIT 1
) AS n`

export function fromNewestRow(row: NewestRow): Reading {
  return { sensor_id: row.sensor_id, value: row.value, timestamp: normalizeTimestamp(row.ts) }
}

/**
 * [covered_from, open_from): the closed days with an unbroken run of rollup_1d partitions (each
 * holding every closed day of its range, migrations 012-013); open_from is the first open day. The
 * run starts after the newest gap between partitions before open_from, and is empty when no partition
 * reaches open_from.
 */
const ROLLUP_1D_COVER = `
  SELECT w.open_from,
         CASE WHEN coalesce(max(p.hi), '-infinity') < w.open_from THEN w.open_from
              ELSE coalesce(max(p.next_lo) FILTER (WHERE p.hi < p.next_lo AND p.next_lo <= w.open_from), min(p.lo)) END AS covered_from
  FROM (SELECT date_bin('1 day', closed_until, timestamptz 'epoch') AS open_from FROM rollup_watermark) AS w
  LEFT JOIN (SELECT lo, hi, lead(lo) OVER (ORDER BY lo) AS next_lo FROM sensorstream_partitions('rollup_1d')) AS p ON p.lo < w.open_from
  GROUP BY w.open_from`

/** The first sensor after `after`: in rollup_1d's cover, in the open days, or in the raw rows older than the cover. */
const nextSensor = (after: string): string => `least(
    (SELECT sensor_id FROM rollup_1d WHERE sensor_id > ${after} ORDER BY sensor_id LIMIT 1),
    (SELECT sensor_id FROM sensor_data WHERE sensor_id > ${after} AND ts >= (SELECT open_from FROM cover) ORDER BY sensor_id LIMIT 1),
    (SELECT sensor_id FROM sensor_data WHERE sensor_id > ${after} AND ts < (SELECT covered_from FROM cover) ORDER BY sensor_id LIMIT 1))`

/**
 * Every sensor's newest reading after $1 ('' for the first page), at most $2 sensors (NULL: all),
 * in sensor_id order, in one statement (one snapshot). The sensors come from a recursive skip scan,
 * one probe per distinct sensor, of indexes whose size does not grow with the days stored: rollup_1d
 * lists every sensor of the closed days it covers, and only the raw rows outside that cover are
 * probed (the open days, and anything older than an unbroken run of rollup_1d partitions, e.g. after
 * RETENTION_1D_DAYS dropped them). A probe of every raw partition per sensor made its cost grow with
 * the number of partitions. The recursion stops when the LIMIT has its rows; a sensor listed by
 * rollup_1d whose raw rows are gone has no newest reading and is passed over.
 */
export const LATEST_OF_ALL_SQL = `
WITH RECURSIVE cover AS MATERIALIZED (${ROLLUP_1D_COVER}
), ids (sensor_id) AS (
  SELECT ${nextSensor('$1')}
  UNION ALL
  SELECT ${nextSensor('ids.sensor_id')} FROM ids WHERE ids.sensor_id IS NOT NULL
)
SELECT * FROM (${NEWEST_OF} FROM ids AS i ${NEWEST_JOIN} WHERE i.sensor_id IS NOT NULL LIMIT $2) AS page ORDER BY sensor_id`

/** The newest reading of each of the sensors $1 (text[]); sensors without one are left out. */
export const LATEST_OF_SQL = `${NEWEST_OF} FROM unnest($1::text[]) AS i(sensor_id) ${NEWEST_JOIN}`
