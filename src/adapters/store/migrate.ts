// Versioned migrations: numbered .sql files applied in order, each in its own transaction, under a
// Postgres advisory lock so that two instances starting at once apply each file exactly once.
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type pg from 'pg'

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url))
/** arbitrary constant: "sensorstream" squeezed into a bigint */
const LOCK_KEY = 0x5e_25_0a_57_e4_11

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export function listMigrations(dir = MIGRATIONS_DIR): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d+_.+\.sql$/.test(file))
    .map((file) => ({ version: Number.parseInt(file, 10), name: file, sql: readFileSync(dir + file, 'utf8') }))
    .sort((a, b) => a.version - b.version)
}

/**
 * Applies pending migrations; returns the names of those it applied. `settings` are set for each
 * migration's transaction (set_config … true), for the SQL to read with current_setting.
 */
export async function migrate(pool: pg.Pool, migrations = listMigrations(), settings: Readonly<Record<string, string>> = {}): Promise<string[]> {
  const client = await pool.connect()
  const applied: string[] = []
  try {
    await client.query('SELECT pg_advisory_lock($1)', [LOCK_KEY])
    try {
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
      const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
      const done = new Set(rows.map((r) => r.version))
      for (const migration of migrations) {
        if (done.has(migration.version)) continue
        await client.query('BEGIN')
        try {
          for (const [name, value] of Object.entries(settings)) await client.query('SELECT set_config($1, $2, true)', [name, value])
          await client.query(migration.sql)
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [migration.version, migration.name])
          await client.query('COMMIT')
        } catch (err) {
          await client.query('ROLLBACK')
          throw err
        }
        applied.push(migration.name)
      }
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [LOCK_KEY])
    }
  } finally {
    client.release()
  }
  return applied
}
