// Item 7's starting point: a table that already holds `rows` readings, written on the server with
// generate_series (not through Kafka): `sensors` sensors, evenly spread over the `days` days (daily
// partitions) that end an hour before the benchmark started, in time order (ids follow time, as real
// ingestion would). Keys and indexes are dropped for the load and rebuilt after it, exactly as the
// migrations define them, every tier closed up to the hour after the rows and the rollups computed from them (sensorstream_rebuild_rollups), then
// the tables are vacuumed and analysed (as autovacuum would have done by then).
import pg from 'pg'
import { setWatermarks } from '../../src/adapters/store/rollup-closer.ts'
import { migrateFor } from './schema.ts'

const DAY_MS = 86_400_000
const HOUR_MS = 3_600_000

export async function preload(databaseUrl: string, rows: number, sensors: number, endMs: number, days: number): Promise<void> {
  await migrateFor(databaseUrl, endMs - days * DAY_MS, endMs + DAY_MS)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    await client.query("SET maintenance_work_mem = '1GB'")
    const constraints = await client.query<{ name: string; def: string }>(
      "SELECT conname AS name, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'sensor_data'::regclass AND contype IN ('p', 'u') ORDER BY contype"
    )
    const indexes = await client.query<{ name: string; def: string }>(
      `SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS def FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
       WHERE i.indrelid = 'sensor_data'::regclass AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = i.indexrelid)`
    )
    for (const c of constraints.rows) await client.query(`ALTER TABLE sensor_data DROP CONSTRAINT "${c.name}"`)
    for (const i of indexes.rows) await client.query(`DROP INDEX "${i.name}"`)
    const perSensor = Math.ceil(rows / sensors)
    const stepMs = Math.floor((days * DAY_MS) / perSensor)
    const startMs = endMs - perSensor * stepMs
    await client.query(
      `INSERT INTO sensor_data (sensor_id, value, ts)
       SELECT 'sensor-' || s, round((20 + 5 * sin(i / 50.0 + s))::numeric, 3)::float8,
              timestamptz 'epoch' + ($1::int8 + i * $2::int8 + s % $2::int8) * interval '1 millisecond'
       FROM generate_series(0, $3::int - 1) AS i, generate_series(1, $4::int) AS s
       LIMIT $5`,
      [startMs, stepMs, perSensor, sensors, rows]
    )
    for (const c of constraints.rows) await client.query(`ALTER TABLE sensor_data ADD CONSTRAINT "${c.name}" ${c.def}`)
    // pg_get_indexdef of a partitioned table's index says ON ONLY, which would skip the partitions.
    for (const i of indexes.rows) await client.query(i.def.replace(' ON ONLY ', ' ON '))
    // the preloaded past closed in every tier (as the services' closer would have done by now)
    await setWatermarks(client, Math.ceil(endMs / HOUR_MS) * 3600)
    await client.query('SELECT sensorstream_rebuild_rollups()')
    await client.query('VACUUM ANALYZE sensor_data, rollup_1m, rollup_1h, rollup_1d')
  } finally {
    await client.end()
  }
}

/** The preloaded day: [from, to) in unix seconds. */
export function preloadedDay(endMs: number): { from: number; to: number } {
  return { from: endMs / 1000 - 86_400, to: endMs / 1000 }
}
