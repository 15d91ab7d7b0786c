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
