// ReadingStore on PostgreSQL. A batch is one INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING:
// one round trip and one statement however many rows, idempotent on (sensor_id, ts).
import pg from 'pg'
import type { Reading } from '../../domain/reading.ts'
import { normalizeTimestamp } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import type { ReadingStore, WriteResult } from '../../ports/store.ts'
import { migrate } from './migrate.ts'
import { translatePgError } from './postgres-errors.ts'

export interface PostgresStoreOptions {
  readonly url: string
  readonly poolMax: number
  readonly statementTimeoutMs: number
  readonly connectTimeoutMs?: number
  readonly logger: Logger
}

// Milliseconds travel as int8 and become timestamptz exactly: no float rounding on the way in.
const INSERT_SQL = `
INSERT INTO sensor_data (sensor_id, value, ts)
SELECT s, v, timestamptz 'epoch' + ms * interval '1 millisecond'
FROM unnest($1::text[], $2::float8[], $3::int8[]) AS t(s, v, ms)
ON CONFLICT (sensor_id, ts) DO NOTHING`

export class PostgresReadingStore implements ReadingStore {
  readonly pool: pg.Pool
  private readonly logger: Logger

  constructor(options: PostgresStoreOptions) {
    this.logger = options.logger
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'sensorstream'
    })
    // An idle connection that dies (Postgres restarted) must not crash the process: the pool
    // drops it and the next query opens a new one.
    this.pool.on('error', (err) => this.logger.warn({ err: err.message }, 'idle postgres connection lost'))
  }

  async connect(): Promise<void> {
    await this.ping()
  }

  async close(): Promise<void> {
    await this.pool.end()
  }

  async migrate(): Promise<void> {
    try {
      const applied = await migrate(this.pool)
      if (applied.length > 0) this.logger.info({ applied }, 'migrations applied')
    } catch (err) {
      throw translatePgError(err, 'migrate')
    }
  }

  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1')
  }

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    if (readings.length === 0) return { inserted: 0, duplicates: 0 }
    const result = await this.query('write', INSERT_SQL, columns(readings))
    const inserted = result.rowCount ?? 0
    return { inserted, duplicates: readings.length - inserted }
  }

  async writeReturningNew(readings: readonly Reading[]): Promise<readonly boolean[]> {
    if (readings.length === 0) return []
    const result = await this.query<{ sensor_id: string; ms: string }>(
      'write',
      `${INSERT_SQL} RETURNING sensor_id, (extract(epoch FROM ts) * 1000)::int8 AS ms`,
      columns(readings)
    )
    const fresh = new Set(result.rows.map((r) => `${r.sensor_id}\u0000${r.ms}`))
    // Only the first occurrence of a key within the batch counts as new.
    return readings.map((r) => fresh.delete(`${r.sensor_id}\u0000${Math.round(r.timestamp * 1000)}`))
  }

  async latest(sensorId: string): Promise<Reading | undefined> {
    const { rows } = await this.query<{ sensor_id: string; value: number; ts: number }>(
      'latest',
      'SELECT sensor_id, value, extract(epoch FROM ts)::float8 AS ts FROM sensor_data WHERE sensor_id = $1 ORDER BY ts DESC LIMIT 1',
      [sensorId]
    )
    const row = rows[0]
    return row === undefined ? undefined : { sensor_id: row.sensor_id, value: row.value, timestamp: normalizeTimestamp(row.ts) }
  }

  /** Runs one query, translating driver errors into port errors. */
  async query<R extends pg.QueryResultRow>(operation: string, sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params)
    } catch (err) {
      throw translatePgError(err, operation)
    }
  }
}

/**
 * The batch as three array literals (`{"a","b"}`, `{1.5,2}`, `{1000,2000}`): built with one join each
 * instead of letting the driver escape every element, which costs several percent of the streaming
 * service's CPU at high rates. Values are finite numbers (validated), so String() is valid input.
 */
function columns(readings: readonly Reading[]): [string, string, string] {
  const ids = new Array<string>(readings.length)
  const values = new Array<string>(readings.length)
  const ms = new Array<string>(readings.length)
  for (let i = 0; i < readings.length; i++) {
    const r = readings[i] as Reading
    const id = r.sensor_id
    ids[i] = NEEDS_ESCAPE.test(id) ? `"${id.replace(NEEDS_ESCAPE_ALL, '\\$&')}"` : `"${id}"`
    values[i] = String(r.value)
    ms[i] = String(Math.round(r.timestamp * 1000))
  }
  return [`{${ids.join(',')}}`, `{${values.join(',')}}`, `{${ms.join(',')}}`]
}

const NEEDS_ESCAPE = /["\\]/
const NEEDS_ESCAPE_ALL = /["\\]/g
