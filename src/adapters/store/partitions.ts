// The partitions of sensor_data (PARTITION_INTERVAL wide) and of the rollups (a month of 1-minute
// buckets, a year of 1-hour or of 1-day buckets). There is no default partition: before a batch is written its
// earliest and latest times are checked against a cache of the partitions that exist (two binary
// searches), and only a batch reaching outside them takes the slow path, which creates the missing
// partitions under an advisory lock. A partition dropped meanwhile by another process shows up as
// Postgres's "no partition of relation … found for row": the store refreshes the cache and retries.
import type pg from 'pg'
import type { Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'

export type PartitionedTable = 'sensor_data' | 'rollup_1m' | 'rollup_1h' | 'rollup_1d'
export const PARTITIONED_TABLES: readonly PartitionedTable[] = ['sensor_data', 'rollup_1m', 'rollup_1h', 'rollup_1d']

/** arbitrary constant, apart from migrate.ts's: held while partitions are created */
const CREATE_LOCK_KEY = 0x5e_25_0a_57_e4_12

export interface PartitionOptions {
  /** width of a sensor_data partition */
  readonly intervalSeconds: number
  /** partitions made ahead of now */
  readonly premake: number
}

export const DEFAULT_PARTITIONS: PartitionOptions = { intervalSeconds: 86_400, premake: 3 }

export interface PartitionInfo {
  readonly table: PartitionedTable
  readonly name: string
  /** bounds, unix milliseconds, [lo, hi) */
  readonly lo: number
  readonly hi: number
}

/** [lo, hi) in unix ms */
type Span = readonly [number, number]

/** The slot of a table that holds time `ms`, before clipping against existing partitions. */
export function slotOf(table: PartitionedTable, ms: number, intervalSeconds: number): Span {
  const d = new Date(ms)
  if (table === 'rollup_1m') return [Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1), Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)]
  if (table === 'rollup_1h' || table === 'rollup_1d') return [Date.UTC(d.getUTCFullYear(), 0, 1), Date.UTC(d.getUTCFullYear() + 1, 0, 1)]
  const width = intervalSeconds * 1000
  const lo = Math.floor(ms / width) * width
  return [lo, lo + width]
}

/** Sorted, non-overlapping partitions merged into contiguous runs. */
function runsOf(spans: readonly Span[]): Span[] {
  const sorted = [...spans].sort((a, b) => a[0] - b[0])
  const runs: [number, number][] = []
  for (const [lo, hi] of sorted) {
    const last = runs[runs.length - 1]
    if (last !== undefined && last[1] === lo) last[1] = hi
    else runs.push([lo, hi])
  }
  return runs
}

/** The run containing ms, or undefined. */
function runAt(runs: readonly Span[], ms: number): Span | undefined {
  let low = 0
  let high = runs.length - 1
  while (low <= high) {
    const mid = (low + high) >> 1
    const run = runs[mid] as Span
    if (ms < run[0]) high = mid - 1
    else if (ms >= run[1]) low = mid + 1
    else return run
  }
  return undefined
}

export class Partitions {
  private readonly pool: pg.Pool
  private readonly logger: Logger
  readonly options: PartitionOptions
  private runs: Map<PartitionedTable, Span[]> | undefined
  /** called with each partition created here */
  onCreated: (table: PartitionedTable) => void = () => undefined

  constructor(pool: pg.Pool, logger: Logger, options: PartitionOptions = DEFAULT_PARTITIONS) {
    this.pool = pool
    this.logger = logger
    this.options = options
  }

  /** Every partition of the four tables, oldest first. */
  async list(client: pg.Pool | pg.PoolClient = this.pool): Promise<PartitionInfo[]> {
    const { rows } = await client.query<{ table: PartitionedTable; name: string; lo: string; hi: string }>(
      `SELECT t AS table, p.name, (extract(epoch FROM p.lo) * 1000)::int8 AS lo, (extract(epoch FROM p.hi) * 1000)::int8 AS hi
       FROM unnest($1::text[]) AS t, sensorstream_partitions(t) AS p ORDER BY t, p.lo`,
      [PARTITIONED_TABLES]
    )
    return rows.map((r) => ({ table: r.table, name: r.name, lo: Number(r.lo), hi: Number(r.hi) }))
  }

  /** Forgets the cached partitions: the next batch reads them again. */
  invalidate(): void {
    this.runs = undefined
  }

  /** Makes sure every reading of the batch has a partition in each table. */
  async ensureFor(readings: readonly Reading[]): Promise<void> {
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < readings.length; i++) {
      const t = (readings[i] as Reading).timestamp
      if (t < min) min = t
      if (t > max) max = t
    }
    if (readings.length === 0) return
    const runs = this.runs ?? (await this.load())
    const lo = Math.round(min * 1000)
    const hi = Math.round(max * 1000)
    if (PARTITIONED_TABLES.every((table) => covers(runs.get(table) ?? [], lo, hi))) return
    await this.ensure(readings.map((r) => Math.round(r.timestamp * 1000)))
  }

  /** Creates the partitions from the one holding `now` to `premake` intervals ahead. */
  async premake(nowMs = Date.now()): Promise<void> {
    const width = this.options.intervalSeconds * 1000
    const times: number[] = []
    for (let t = nowMs; t <= nowMs + this.options.premake * width; t += width) times.push(t)
    await this.ensure(times)
  }

  /** Creates a partition, in each table, for every time (unix ms) that has none. */
  async ensure(times: readonly number[]): Promise<void> {
    const runs = this.runs ?? (await this.load())
    if (PARTITIONED_TABLES.every((table) => times.every((t) => runAt(runs.get(table) ?? [], t) !== undefined))) return
    const client = await this.pool.connect()
    try {
      await client.query('BEGIN')
      await client.query('SELECT pg_advisory_xact_lock($1)', [CREATE_LOCK_KEY])
      // Read again under the lock: another process may have created them meanwhile.
      const existing = await this.list(client)
      const created: string[] = []
      for (const table of PARTITIONED_TABLES) {
        const spans: Span[] = existing.filter((p) => p.table === table).map((p) => [p.lo, p.hi])
        for (const t of times) {
          if (runAt(runsOf(spans), t) !== undefined) continue
          const [lo, hi] = clip(slotOf(table, t, this.options.intervalSeconds), spans, t)
          const { rows } = await client.query<{ name: string }>(
            'SELECT sensorstream_add_partition($1, to_timestamp($2::float8 / 1000), to_timestamp($3::float8 / 1000)) AS name',
            [table, lo, hi]
          )
          spans.push([lo, hi])
          created.push((rows[0] as { name: string }).name)
          this.onCreated(table)
        }
      }
      await client.query('COMMIT')
      if (created.length > 0) this.logger.info({ created }, 'partitions created')
      this.runs = undefined
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw err
    } finally {
      client.release()
    }
    await this.load()
  }

  private async load(): Promise<Map<PartitionedTable, Span[]>> {
    const all = await this.list()
    const runs = new Map<PartitionedTable, Span[]>()
    for (const table of PARTITIONED_TABLES) runs.set(table, runsOf(all.filter((p) => p.table === table).map((p) => [p.lo, p.hi])))
    this.runs = runs
    return runs
  }
}

function covers(runs: readonly Span[], lo: number, hi: number): boolean {
  const run = runAt(runs, lo)
  return run !== undefined && hi < run[1]
}

/** The slot cut to the gap around `t` between existing partitions (PARTITION_INTERVAL may have changed). */
function clip([lo, hi]: Span, spans: readonly Span[], t: number): Span {
  let from = lo
  let to = hi
  for (const [a, b] of spans) {
    if (b <= t && b > from) from = b
    if (a > t && a < to) to = a
  }
  return [from, to]
}

/** Postgres's error for a row no partition accepts. */
export function isMissingPartition(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  return e?.code === '23514' && typeof e.message === 'string' && e.message.includes('no partition')
}
