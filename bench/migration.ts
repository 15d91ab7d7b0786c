// `node bench/migration.ts [--rows=5000000] [--sensors=50]`: migration 004 (partitions and rollups)
// on a table made by the release before it, on a throwaway Postgres with the benchmark's settings.
// Prints how long it took, how long a concurrent reader and writer waited (the lock), and the bytes
// on disk of each tier afterwards (pg_total_relation_size: tables with their indexes).
import { parseArgs } from 'node:util'
import pg from 'pg'
import { listMigrations, migrate } from '../src/adapters/store/migrate.ts'
import { PARTITIONED_TABLES } from '../src/adapters/store/partitions.ts'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { applySettings } from './lib/services.ts'

const { values } = parseArgs({ options: { rows: { type: 'string', default: '5000000' }, sensors: { type: 'string', default: '50' } } })
const rows = Number(values.rows)
const sensors = Number(values.sensors)
/** one reading per sensor every 10 s, ending now */
const STEP_S = 10

const server = await startPostgres({ durable: true })
try {
  await applySettings(server)
  const url = await server.createDatabase('migration_bench')
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  await migrate(
    pool,
    listMigrations().filter((m) => m.version <= 3)
  )
  const start = Math.floor(Date.now() / 1000) - Math.ceil(rows / sensors) * STEP_S
  let t = Date.now()
  await pool.query(
    `INSERT INTO sensor_data (sensor_id, value, ts)
     SELECT 'sensor-' || (i % $2), random() * 100, to_timestamp($3::float8 + (i / $2) * ${STEP_S}) FROM generate_series(0, $1 - 1) AS i`,
    [rows, sensors, start]
  )
  await pool.query('VACUUM ANALYZE sensor_data')
  await pool.query('CHECKPOINT')
  console.log(`loaded ${rows} rows (${sensors} sensors, one reading each every ${STEP_S} s) in ${((Date.now() - t) / 1000).toFixed(1)} s`)

  // A reader and a writer, each one statement at a time, during the migration: their longest wait is the lock.
  let running = true
  const longest = { read: 0, write: 0 }
  const probe = async (kind: 'read' | 'write', sql: string): Promise<void> => {
    while (running) {
      const began = Date.now()
      await pool.query(sql).catch(() => undefined)
      longest[kind] = Math.max(longest[kind], Date.now() - began)
      await new Promise((r) => setTimeout(r, 50))
    }
  }
  const probes = [
    probe('read', "SELECT value FROM sensor_data WHERE sensor_id = 'sensor-1' ORDER BY ts DESC LIMIT 1"),
    probe('write', "INSERT INTO sensor_data (sensor_id, value, ts) VALUES ('probe', 0, now()) ON CONFLICT DO NOTHING")
  ]
  await new Promise((r) => setTimeout(r, 300))
  t = Date.now()
  const applied = await migrate(pool, listMigrations(), { 'sensorstream.partition_interval': '1 day' })
  const seconds = (Date.now() - t) / 1000
  running = false
  await Promise.all(probes)
  console.log(
    `${applied.join(', ')}: ${seconds.toFixed(1)} s; longest wait of a concurrent read ${(longest.read / 1000).toFixed(1)} s, of a write ${(longest.write / 1000).toFixed(1)} s`
  )

  await pool.query('VACUUM ANALYZE')
  for (const table of PARTITIONED_TABLES) {
    const { rows: size } = await pool.query<{ bytes: string; n: string; parts: string }>(
      `SELECT sum(pg_total_relation_size(p.name::regclass))::int8 AS bytes, count(*) AS parts,
              (SELECT count(*) FROM ${table}) AS n FROM sensorstream_partitions($1) AS p`,
      [table]
    )
    const { bytes, n, parts } = size[0] as { bytes: string; n: string; parts: string }
    console.log(
      `${table}: ${n} rows in ${parts} partitions, ${(Number(bytes) / 2 ** 20).toFixed(1)} MiB, ${(Number(bytes) / Number(n)).toFixed(1)} bytes per row, ${(((Number(bytes) / rows) * 1e6) / 2 ** 20).toFixed(1)} MiB per million readings`
    )
  }
  await pool.end()
} finally {
  await server.dispose()
}
