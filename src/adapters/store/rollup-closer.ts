// Closing of the rollups (migrations 012, 013): every tier holds closed buckets only, up to
// watermarks that this moves forward once a bucket is CLOSE_DELAY_MS past its end. Minutes close
// in two transactions (sensorstream_close_minutes_begin under the closing lock, which waits for the
// writers in flight; sensorstream_close_minutes_finish, which aggregates the raw rows with no
// writer waiting), hours and days in one (sensorstream_close_rollups, aggregating minute rows
// under the closing lock). A wait is bounded (lock_timeout) and abortable (a stop cancels the
// backend), and each transaction closes at most MAX_MINUTES or MAX_HOURS (the writers' wait stays
// short after an outage too).
import pg from 'pg'

/** A bucket closes this long after its end: readings arriving later are late (they update the closed buckets themselves). */
export const CLOSE_DELAY_MS = 300_000
/** minutes closed per pair of transactions: bounds the raw rows one aggregation reads */
export const MAX_MINUTES = 60
/** hours closed per transaction: one, so that the writers' wait for a closer stays one hour's aggregation, even after an outage */
export const MAX_HOURS = 1
/** how long a closer waits for the writers in flight before giving up its turn */
export const LOCK_TIMEOUT_MS = 5_000
const HOUR_MS = 3_600_000

export interface CloseOptions {
  /** close the buckets that ended CLOSE_DELAY_MS before this [now] */
  readonly nowMs?: number
  /** aborts a closer waiting for the lock or aggregating: its transaction is rolled back */
  readonly signal?: AbortSignal
  readonly delayMs?: number
}

/** The hours' watermark, unix ms: the hours before it are closed. */
export async function watermark(pool: pg.Pool): Promise<number> {
  const { rows } = await pool.query<{ ms: string }>('SELECT (extract(epoch FROM closed_until) * 1000)::int8 AS ms FROM rollup_watermark')
  return Number(rows[0]?.ms)
}

/**
 * Every watermark set to `seconds` (unix, on a whole hour): the buckets before it count as closed,
 * and nothing is aggregated. For a load that bypasses the store, which then builds those buckets
 * with sensorstream_rebuild_rollups(), and for empty rollups, with which any watermark agrees;
 * readings before it are late from then on (each write adds them to the rollups itself).
 */
export async function setWatermarks(db: pg.Pool | pg.ClientBase, seconds: number): Promise<void> {
  await db.query(
    'UPDATE rollup_watermark SET (closed_until, minutes_closed_until, minutes_complete_until) = (to_timestamp($1), to_timestamp($1), to_timestamp($1))',
    [seconds]
  )
}

/**
 * Closes every minute, then every hour, that ended at least `delayMs` ago; returns how many hours
 * it closed (0 when there was nothing to do or when aborted). Several processes may call it at
 * once: the closers' lock makes them take turns, and the later ones find nothing left.
 */
export async function closeRollups(pool: pg.Pool, options: CloseOptions = {}): Promise<number> {
  const { signal } = options
  const upto = (options.nowMs ?? Date.now()) - (options.delayMs ?? CLOSE_DELAY_MS)
  while (signal?.aborted !== true) {
    const due = await closeStep<boolean>(pool, 'SELECT sensorstream_close_minutes_begin(to_timestamp($1::float8 / 1000), $2) AS v', [upto, MAX_MINUTES], signal)
    if (due !== true) break
    if ((await closeStep(pool, 'SELECT sensorstream_close_minutes_finish() AS v', [], signal)) === undefined) break
  }
  const target = Math.floor(upto / HOUR_MS) * HOUR_MS
  const start = await watermark(pool)
  let current = start
  while (current < target && signal?.aborted !== true) {
    const next = await closeStep<Date>(pool, 'SELECT sensorstream_close_rollups(to_timestamp($1::float8 / 1000), $2) AS v', [target, MAX_HOURS], signal)
    // no progress: the minutes of the next hour are not complete yet
    if (next === undefined || next.getTime() <= current) break
    current = next.getTime()
  }
  return Math.max(0, Math.round((current - start) / HOUR_MS))
}

/** One transaction of closing: the value of its one statement's `v`; undefined when aborted. */
async function closeStep<T>(pool: pg.Pool, sql: string, params: unknown[], signal: AbortSignal | undefined): Promise<T | undefined> {
  const client = await pool.connect()
  let pid: number | undefined
  const cancel = (): void => {
    if (pid !== undefined) void cancelBackend(pool, pid)
  }
  signal?.addEventListener('abort', cancel, { once: true })
  try {
    pid = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid
    await client.query('BEGIN')
    await client.query(`SET LOCAL lock_timeout = ${LOCK_TIMEOUT_MS}`)
    if (signal?.aborted === true) throw signal.reason
    const { rows } = await client.query<{ v: T }>(sql, params)
    await client.query('COMMIT')
    return rows[0]?.v
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined)
    if (signal?.aborted === true) return undefined
    throw err
  } finally {
    signal?.removeEventListener('abort', cancel)
    client.release()
  }
}

/**
 * Cancels a backend's statement from a connection of its own: the pool's may all be taken by
 * writers waiting for the closer.
 */
async function cancelBackend(pool: pg.Pool, pid: number): Promise<void> {
  const client = new pg.Client({ ...pool.options, statement_timeout: 5_000 })
  try {
    await client.connect()
    await client.query('SELECT pg_cancel_backend($1)', [pid])
  } catch {
    // the closer's lock_timeout bounds its wait all the same
  } finally {
    await client.end().catch(() => undefined)
  }
}
