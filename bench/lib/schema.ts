// A benchmark database with sensorstream's schema and the partitions a time range needs in every
// table (the services make them on demand; loads that bypass the store need them made first).
import pg from 'pg'
import { migrate } from '../../src/adapters/store/migrate.ts'
import { Partitions } from '../../src/adapters/store/partitions.ts'
import { createLogger } from '../../src/platform/logger.ts'

const HOUR_MS = 3_600_000

export async function migrateFor(databaseUrl: string, fromMs: number, toMs: number): Promise<void> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 })
  try {
    await migrate(pool)
    const times: number[] = []
    for (let t = fromMs; t < toMs; t += HOUR_MS) times.push(t)
    times.push(toMs)
    await new Partitions(pool, createLogger('silent')).ensure(times)
  } finally {
    await pool.end()
  }
}

/**
 * Every tier closed before `seconds` (unix), as the services' closer would have left a past that is
 * hours old; a load that bypasses the store sets it before sensorstream_rebuild_rollups(), which
 * builds the closed buckets only.
 */
export async function closeTiersUntil(db: pg.Pool | pg.ClientBase, seconds: number): Promise<void> {
  await db.query(
    'UPDATE rollup_watermark SET (closed_until, minutes_closed_until, minutes_complete_until) = (to_timestamp($1), to_timestamp($1), to_timestamp($1))',
    [seconds]
  )
}
