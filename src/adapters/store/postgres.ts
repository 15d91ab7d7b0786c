// ReadingStore (the write side) on PostgreSQL. A batch is one statement (writeSql): INSERT … SELECT FROM unnest(…)
// ON CONFLICT DO NOTHING feeding the rollup upserts: one round trip however many rows, idempotent
// on (sensor_id, ts). Partitions are made before the batch needs them (partitions.ts).
import pg from 'pg'
import type { Reading } from '../../domain/reading.ts'
import type { ReadingStore, WriteResult } from '../../ports/store.ts'
import { RAISE_EPOCHS_CTE, daysOf, slotOf } from './answer-epochs.ts'
import { binaryColumns } from './binary-arrays.ts'
import { fromNewestRow, LATEST_OF_ALL_SQL, LATEST_OF_SQL, type NewestRow } from './newest-readings.ts'
import { isMissingPartition, type Partitions } from './partitions.ts'
import { translatePgError } from './postgres-errors.ts'

// The three columns travel as binary arrays (binary-arrays.ts): timestamps as exact microseconds.
// Rows go in a fixed key order (sensor_id in byte order, then time), and so do the rollup rows
// below: two writers touching the same keys lock them in the same order, so they cannot deadlock;
// `n` keeps the first of a key's duplicates within a batch first (first write wins).
const insertRaw = (where = ''): string => `
INSERT INTO sensor_data (sensor_id, value, ts)
SELECT s, v, t FROM unnest($1::text[], $2::float8[], $3::timestamptz[]) WITH ORDINALITY AS u(s, v, t, n)${where}
ORDER BY s COLLATE "C", t, n
ON CONFLICT (sensor_id, ts) DO NOTHING`

/** Adds a batch's per-bucket aggregates (`d`) to a rollup table; a late reading moves first or last only when it is earlier or later. */
const upsertRollup = (table: string, source: string): string => `
INSERT INTO ${table} AS r (sensor_id, bucket, count, sum, min, max, first_ts, first_value, last_ts, last_value)
SELECT * FROM ${source} ORDER BY sensor_id COLLATE "C", bucket
ON CONFLICT (sensor_id, bucket) DO UPDATE SET
  count = r.count + excluded.count, sum = r.sum + excluded.sum,
  min = least(r.min, excluded.min), max = greatest(r.max, excluded.max),
  first_value = CASE WHEN excluded.first_ts < r.first_ts THEN excluded.first_value ELSE r.first_value END,
  first_ts = least(r.first_ts, excluded.first_ts),
  last_value = CASE WHEN excluded.last_ts > r.last_ts THEN excluded.last_value ELSE r.last_value END,
  last_ts = greatest(r.last_ts, excluded.last_ts)`

/** A batch's hour buckets (`d1h`, from `d1m`) grouped by day. */
const D1D = `SELECT sensor_id, date_bin('1 day', bucket, timestamptz 'epoch') AS bucket, sum(count)::int8 AS count, sum(sum) AS sum,
         min(min) AS min, max(max) AS max, min(first_ts) AS first_ts, (array_agg(first_value ORDER BY first_ts))[1] AS first_value,
         max(last_ts) AS last_ts, (array_agg(last_value ORDER BY last_ts DESC))[1] AS last_value
  FROM d1h WHERE bucket < date_bin('1 day', (SELECT closed_until FROM w), timestamptz 'epoch') GROUP BY 1, 2`

/**
 * One statement per batch: the raw insert, and the rollups updated from the rows it really
 * inserted (a duplicate adds nothing), in the same transaction. Every tier holds closed buckets
 * only (migrations 012, 013), so only rows older than a tier's watermark (late data) go to it; a
 * reading on time is one raw row and nothing else, its minute aggregated by the closer. `w` takes
 * the closing lock shared, before any row is written (the insert's one-time filter reads it
 * first): a closer waits for this transaction, and this transaction, arriving while a closer moves
 * a watermark, waits for it and reads the watermark it set. Taking it before any row lock keeps
 * the lock order of every writer the same (no deadlock with a closer waiting between two writers
 * of the same key). `e` raises the answer epochs of the batch's days (answer-epochs.ts). `select` reads `ins`.
 */
export const writeSql = (select: string): string => `
WITH w AS MATERIALIZED (SELECT closed_until, minutes_closed_until FROM sensorstream_rollup_watermarks()
), ins AS (${insertRaw(' WHERE (SELECT closed_until FROM w) IS NOT NULL')}
  RETURNING sensor_id, ts, value
), d1m AS (
  SELECT sensor_id, date_bin('1 minute', ts, timestamptz 'epoch') AS bucket, count(*) AS count, sum(value) AS sum,
         min(value) AS min, max(value) AS max, min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value,
         max(ts) AS last_ts, (array_agg(value ORDER BY ts DESC))[1] AS last_value
  FROM ins WHERE ts < (SELECT minutes_closed_until FROM w) GROUP BY 1, 2
), d1h AS (
  SELECT sensor_id, date_bin('1 hour', bucket, timestamptz 'epoch') AS bucket, sum(count)::int8 AS count, sum(sum) AS sum,
         min(min) AS min, max(max) AS max, min(first_ts) AS first_ts, (array_agg(first_value ORDER BY first_ts))[1] AS first_value,
         max(last_ts) AS last_ts, (array_agg(last_value ORDER BY last_ts DESC))[1] AS last_value
  FROM d1m WHERE bucket < (SELECT closed_until FROM w) GROUP BY 1, 2
), d1d AS (${D1D}
), m AS (${upsertRollup('rollup_1m', 'd1m')}
), h AS (${upsertRollup('rollup_1h', 'd1h')}
), d AS (${upsertRollup('rollup_1d', 'd1d')}
), e AS (${RAISE_EPOCHS_CTE}
)
${select}`

/** The raw insert alone, without the rollups: for the benchmark's comparison only (the rollups would go stale). */
export const RAW_INSERT_SQL = insertRaw()

export const INSERT_SQL = writeSql('SELECT count(*)::int8 AS inserted FROM ins')

/** The parameters of writeSql's statements on `connection`: the batch's columns, the connection's slot and the batch's days for the answer epochs. */
export function writeParams(readings: readonly Reading[], connection: object): unknown[] {
  return [...binaryColumns(readings), slotOf(connection), daysOf(readings)]
}
const INSERT_RETURNING_SQL = writeSql('SELECT sensor_id, (extract(epoch FROM ts) * 1000)::int8 AS ms FROM ins')

/** What a PostgresReadingStore writes with: the pool and partitions of its PostgresDatabase (postgres-database.ts), which owns and closes them. */
export interface PostgresStoreParts {
  readonly pool: pg.Pool
  readonly partitions: Partitions
}

export class PostgresReadingStore implements ReadingStore {
  private readonly pool: pg.Pool
  private readonly partitions: Partitions

  constructor(parts: PostgresStoreParts) {
    this.pool = parts.pool
    this.partitions = parts.partitions
  }

  async connect(): Promise<void> {
    await this.ping()
  }

  /** The pool belongs to the database, which closes it. */
  async close(): Promise<void> {}

  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1')
  }

  async write(readings: readonly Reading[]): Promise<WriteResult> {
    if (readings.length === 0) return { inserted: 0, duplicates: 0 }
    const result = await this.writeBatch<{ inserted: string }>(INSERT_SQL, readings)
    const inserted = Number(result.rows[0]?.inserted ?? 0)
    return { inserted, duplicates: readings.length - inserted }
  }

  async writeReturningNew(readings: readonly Reading[]): Promise<readonly boolean[]> {
    if (readings.length === 0) return []
    const result = await this.writeBatch<{ sensor_id: string; ms: string }>(INSERT_RETURNING_SQL, readings)
    const fresh = new Set(result.rows.map((r) => `${r.sensor_id}\u0000${r.ms}`))
    // Only the first occurrence of a key within the batch counts as new.
    return readings.map((r) => fresh.delete(`${r.sensor_id}\u0000${Math.round(r.timestamp * 1000)}`))
  }

  private async writeBatch<R extends pg.QueryResultRow>(sql: string, readings: readonly Reading[]): Promise<pg.QueryResult<R>> {
    try {
      await this.partitions.ensureFor(readings)
      return await this.onConnection<R>(sql, readings)
    } catch (err) {
      if (!isMissingPartition(err)) throw translatePgError(err, 'write')
    }
    // A partition this process believed in is gone (retention elsewhere): look again, once.
    this.partitions.invalidate()
    try {
      await this.partitions.ensureFor(readings)
      return await this.onConnection<R>(sql, readings)
    } catch (err) {
      throw translatePgError(err, 'write')
    }
  }

  /** As pool.query, on a connection of its own: its parameters name its answer-epoch slot. */
  private async onConnection<R extends pg.QueryResultRow>(sql: string, readings: readonly Reading[]): Promise<pg.QueryResult<R>> {
    const client = await this.pool.connect()
    // as pool.query does: a checked-out connection's 'error' (Postgres went away) must not go unheard,
    // and a connection whose statement failed is not reused
    let failed: Error | undefined
    const onError = (err: Error): void => {
      failed = err
    }
    client.on('error', onError)
    try {
      return await client.query<R>(sql, writeParams(readings, client))
    } catch (err) {
      failed ??= err instanceof Error ? err : new Error(String(err))
      throw err
    } finally {
      client.removeListener('error', onError)
      client.release(failed)
    }
  }

  /** Runs one query, translating driver errors into port errors. */
  private async query<R extends pg.QueryResultRow>(operation: string, sql: string, params?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.pool.query<R>(sql, params)
    } catch (err) {
      throw translatePgError(err, operation)
    }
  }

  // Newest reading per sensor, for rebuilding the cache: one backward probe of the
  // (sensor_id, ts) INCLUDE (value) index per sensor, index-only.
  async latestOf(sensorIds: readonly string[]): Promise<Reading[]> {
    if (sensorIds.length === 0) return []
    const { rows } = await this.query<NewestRow>('latestOf', LATEST_OF_SQL, [sensorIds])
    return rows.map(fromNewestRow)
  }

  // Every sensor's newest reading, a page at a time (newest-readings.ts).
  async latestOfAll(afterSensorId: string | undefined, limit: number): Promise<Reading[]> {
    // '' sorts before every id (ids are never empty)
    const { rows } = await this.query<NewestRow>('latestOfAll', LATEST_OF_ALL_SQL, [afterSensorId ?? '', limit])
    return rows.map(fromNewestRow)
  }
}
