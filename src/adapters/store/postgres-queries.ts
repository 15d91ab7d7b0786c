// ReadingQueries on PostgreSQL. Every value from the caller travels as a bound parameter; the SQL
// text is assembled only from fixed fragments. Statistics come from the coarsest rollup that
// answers them exactly (chooseTier), so a year at one-day buckets reads ~400 rows, not millions. Newest-first pages use keyset paging on (ts, id),
// served by the index of migration 002 (or by UNIQUE (sensor_id, ts) for one sensor).
import type pg from 'pg'
import { normalizeTimestamp, type Reading } from '../../domain/reading.ts'
import { globToLike, isGlob } from '../../domain/sensor-pattern.ts'
import type { ListQuery, Page, ReadingQueries, ReplayQuery, Stats, StatsQuery, Tier } from '../../ports/queries.ts'
import { ANSWER_VERSION_SQL, dayRange } from './answer-epochs.ts'
import { fromNewestRow, LATEST_OF_ALL_SQL, type NewestRow } from './newest-readings.ts'
import { translatePgError } from './postgres-errors.ts'

/**
 * For the pool of the API's reads (pages of /data, statistics): their named statements keep one
 * generic plan per connection instead of being planned on every request (over a table of many
 * partitions that costs more than running them); the generic plan still skips the partitions
 * outside the range, at executor start.
 */
export const READ_POOL_OPTIONS = '-c plan_cache_mode=force_generic_plan'

/** The queries share the pools of a PostgresDatabase, which owns and closes them. */
export interface PostgresQueriesOptions {
  readonly pool: pg.Pool
  /** for the named statements of list and stats [pool] */
  readonly readPool?: pg.Pool
}

interface ReadingRow {
  id: string
  sensor_id: string
  value: number
  /** unix microseconds, as text (int8) */
  us: string
}

const MICROS = `(extract(epoch FROM ts) * 1000000)::int8`

const bin = (column: string): string => `date_bin(make_interval(secs => $2::float8), ${column}, timestamptz 'epoch')`

/** Statistics from raw rows alone (the raw tier; the benchmark times it against the rollups). */
export const RAW_STATS_SQL = `
SELECT date_part('epoch', ${bin('ts')}) AS start,
       count(*)::int8 AS count, min(value) AS min, max(value) AS max, avg(value) AS mean
FROM sensor_data
WHERE sensor_id = $1 AND ts >= to_timestamp($3::float8) AND ts < to_timestamp($4::float8)
GROUP BY 1 ORDER BY 1`

/**
 * raw rows of one sensor in [lo, hi) (SQL timestamptz expressions), as partial aggregates of one
 * reading each; `atLeast`, a parameter no greater than `lo`, lets the planner prune partitions
 * when `lo` reads the watermark. Counts travel as float8 (exact to 2^53): summing int8 would make
 * them numeric, and numeric arithmetic was a good part of a request's time in Postgres.
 */
const rawPart = (lo: string, hi: string, atLeast?: string): string =>
  `SELECT ${bin('ts')} AS b, 1::float8 AS count, value AS sum, value AS min, value AS max
   FROM sensor_data WHERE sensor_id = $1 AND ts >= ${lo} AND ts < ${hi}${atLeast === undefined ? '' : ` AND ts >= ${atLeast}`}`

/** One sensor's buckets of a rollup table in [lo, hi) (SQL expressions), as partial aggregates of each stats bucket (`own`: of its own). */
const rollupPart = (table: string, lo: string, hi: string, own = false): string =>
  `SELECT ${own ? 'bucket' : bin('bucket')} AS b, count::float8 AS count, sum, min, max FROM ${table} WHERE sensor_id = $1 AND bucket >= ${lo} AND bucket < ${hi}`

// Bound as timestamptz parameters (timestampText), not computed with to_timestamp (a stable function):
// the planner then prunes the partitions outside the range, and planning is most of a request's cost.
const FROM = '$3::timestamptz'
const TO = '$4::timestamptz'
const LO = '$5::timestamptz'
const HI = '$6::timestamptz'
/**
 * The watermarks (migrations 012, 013): rollup_1m holds the minutes before the first, rollup_1h the
 * hours before the second, rollup_1d the days before its day. Each is read rounded down to its
 * tier's bucket (the closers set them so; 012's CHECK holds the hours to it), so that a bucket
 * of one tier never shares a stats bucket of its own width with a finer tier.
 */
const COMPLETE_MINUTES = "date_bin('1 minute', (SELECT minutes_complete_until FROM w), timestamptz 'epoch')"
const CLOSED_HOURS = '(SELECT closed_until FROM w)'
const CLOSED_DAYS = "date_bin('1 day', (SELECT closed_until FROM w), timestamptz 'epoch')"

const WATERMARKS = 'w AS MATERIALIZED (SELECT closed_until, minutes_complete_until FROM rollup_watermark)'
const OUT = "date_part('epoch', b) AS start, count, min, max, mean"
/** The finer tiers' rows, the open minutes and the unaligned edges, aggregated per stats bucket. */
const merged = (parts: readonly string[]): string => `SELECT b, sum(count) AS count, min(min) AS min, max(max) AS max, sum(sum) / sum(count) AS mean FROM (
  ${[...parts, rawPart(`greatest(${LO}, ${COMPLETE_MINUTES})`, HI, LO), rawPart(FROM, LO), rawPart(HI, TO)].join('\n  UNION ALL ')}
) parts GROUP BY b`

/**
 * The middle [$5, $6) from the rollups, the unaligned edges [$3, $5) and [$6, $4) from raw rows.
 * Every tier holds closed buckets only: the open day comes from the closed hours, the open hours
 * from the complete minutes, the open minutes (the last few) from raw rows. One statement, so one
 * snapshot: the watermarks and the tables agree (a closing moves both in one transaction).
 * `own`: the stats buckets are the tier's own, so its rows are answers as they stand and only the
 * rest is aggregated (most of a request's rows skip the grouping).
 */
const tierStatsSql = (own: boolean, [tier, ...finer]: readonly [string, ...string[]]): string =>
  own
    ? `WITH ${WATERMARKS}
SELECT ${OUT} FROM (
  SELECT b, count, min, max, sum / count AS mean FROM (${tier}) t
  UNION ALL ${merged(finer)}
) buckets ORDER BY b`
    : `WITH ${WATERMARKS}
SELECT ${OUT} FROM (${merged([tier, ...finer])}) buckets ORDER BY b`

const minutesPart = (lo: string, own = false): string => rollupPart('rollup_1m', lo, `least(${HI}, ${COMPLETE_MINUTES})`, own)

/** Each tier's parts, coarsest first. */
const TIER_PARTS = {
  '1d': (own: boolean) => [
    rollupPart('rollup_1d', LO, `least(${HI}, ${CLOSED_DAYS})`, own),
    rollupPart('rollup_1h', `greatest(${LO}, ${CLOSED_DAYS})`, `least(${HI}, ${CLOSED_HOURS})`),
    minutesPart(`greatest(${LO}, ${CLOSED_HOURS})`)
  ],
  '1h': (own: boolean) => [rollupPart('rollup_1h', LO, `least(${HI}, ${CLOSED_HOURS})`, own), minutesPart(`greatest(${LO}, ${CLOSED_HOURS})`)],
  '1m': (own: boolean) => [minutesPart(LO, own)]
} as const satisfies Record<Exclude<Tier, 'raw'>, (own: boolean) => [string, ...string[]]>

const TIERS = (
  [
    ['1d', 86_400],
    ['1h', 3600],
    ['1m', 60]
  ] as const
).map(([tier, seconds]) => ({ tier, seconds, sql: tierStatsSql(false, TIER_PARTS[tier](false)), ownSql: tierStatsSql(true, TIER_PARTS[tier](true)) }))

/**
 * The coarsest rollup whose buckets each fall in one stats bucket (the width is a multiple of
 * theirs) and that covers at least one whole rollup bucket of the range; undefined: raw rows.
 */
export function chooseTier(q: StatsQuery): { tier: Tier; lo: number; hi: number } | undefined {
  for (const { tier, seconds } of TIERS) {
    if (q.bucketSeconds % seconds !== 0) continue
    const lo = Math.ceil(q.from / seconds) * seconds
    const hi = Math.floor(q.to / seconds) * seconds
    if (lo < hi) return { tier, lo, hi }
  }
  return undefined
}

export class PostgresReadingQueries implements ReadingQueries {
  private readonly pool: pg.Pool
  private readonly readPool: pg.Pool

  constructor(options: PostgresQueriesOptions) {
    this.pool = options.pool
    this.readPool = options.readPool ?? options.pool
  }

  async connect(): Promise<void> {
    await this.ping()
  }

  /** The pool belongs to the database, which closes it. */
  async close(): Promise<void> {}

  async ping(): Promise<void> {
    await this.query('ping', 'SELECT 1', [])
  }

  async list(q: ListQuery): Promise<Page> {
    const params: unknown[] = []
    const where: string[] = []
    const param = (value: unknown): string => {
      params.push(value)
      return `$${params.length}`
    }
    if (q.sensorId !== undefined) where.push(`sensor_id = ${param(q.sensorId)}`)
    if (q.from !== undefined) where.push(`ts >= to_timestamp(${param(q.from)}::float8)`)
    if (q.to !== undefined) where.push(`ts < to_timestamp(${param(q.to)}::float8)`)
    if (q.after !== undefined) {
      const ts = `(timestamptz 'epoch' + ${param(q.after.tsMicros.toString())}::int8 * interval '1 microsecond')`
      // `ts <= …` lets the index bound the scan; the row comparison breaks ties between sensors.
      where.push(`ts <= ${ts} AND (ts, id) < (${ts}, ${param(q.after.id.toString())}::int8)`)
    }
    const sql =
      `SELECT id, sensor_id, value, ${MICROS} AS us FROM sensor_data` +
      (where.length > 0 ? ` WHERE ${where.join(' AND ')}` : '') +
      ` ORDER BY ts DESC, id DESC LIMIT ${param(q.limit + 1)}::int8`
    // one named statement per shape of filter (see READ_POOL_OPTIONS)
    const shape = `list-${[q.sensorId, q.from, q.to, q.after].map((v) => (v === undefined ? '0' : '1')).join('')}`
    const { rows } = await this.run<ReadingRow>(this.readPool, 'list', { name: shape, text: sql, values: params })
    const more = rows.length > q.limit
    const page = more ? rows.slice(0, q.limit) : rows
    const last = page[page.length - 1]
    return {
      readings: page.map(toReading),
      ...(more && last !== undefined ? { next: { tsMicros: BigInt(last.us), id: BigInt(last.id) } } : {})
    }
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

  async latestPerSensor(): Promise<Reading[]> {
    // the cache rebuild's statement, every sensor at once (LIMIT NULL)
    const { rows } = await this.query<NewestRow>('latestPerSensor', LATEST_OF_ALL_SQL, ['', null])
    return rows.map(fromNewestRow)
  }

  async stats(q: StatsQuery): Promise<Stats> {
    const choice = chooseTier(q)
    const tier = TIERS.find((t) => t.tier === choice?.tier)
    const own = tier !== undefined && q.bucketSeconds === tier.seconds
    const sql = tier === undefined ? RAW_STATS_SQL : own ? tier.ownSql : tier.sql
    const params: unknown[] =
      choice === undefined
        ? [q.sensorId, q.bucketSeconds, q.from, q.to]
        : [q.sensorId, q.bucketSeconds, ...[q.from, q.to, choice.lo, choice.hi].map(timestampText)]
    // a named statement is parsed once per connection, and rows as arrays skip building an object per row:
    // with hundreds of buckets per answer, parsing them is most of the API's work
    const { rows } = await this.run<[start: number, count: number | string, min: number, max: number, mean: number]>(this.readPool, 'stats', {
      name: `stats-${choice?.tier ?? 'raw'}${own ? '-own' : ''}`,
      text: sql,
      values: params,
      rowMode: 'array'
    })
    return {
      tier: choice?.tier ?? 'raw',
      buckets: rows.map(([start, count, min, max, mean]) => ({ start: normalizeTimestamp(start), count: Number(count), min, max, mean }))
    }
  }

  async answerVersion(from: number, to: number): Promise<string | undefined> {
    const { rows } = await this.run<[version: string, dropping: boolean]>(this.readPool, 'answerVersion', {
      name: 'answer-version',
      text: ANSWER_VERSION_SQL,
      values: dayRange(from, to),
      rowMode: 'array'
    })
    const [version, dropping] = rows[0] ?? ['0', false]
    return dropping ? undefined : version
  }

  async replay(q: ReplayQuery): Promise<Reading[]> {
    const ts = `(timestamptz 'epoch' + $1::int8 * interval '1 millisecond')`
    const params: unknown[] = [q.after.tsMs, q.after.sensorId, q.limit]
    let only = ''
    if (!q.patterns.includes('*')) {
      params.push(
        q.patterns.filter((p) => !isGlob(p)),
        q.patterns.filter(isGlob).map(globToLike)
      )
      only = ` AND (sensor_id = ANY($4::text[]) OR sensor_id LIKE ANY($5::text[]))`
    }
    // `ts >= …` lets the (ts, id) index bound the scan; the row comparison orders sensors at equal times,
    // by bytes (COLLATE "C") as the API compares them.
    const sql =
      `SELECT id, sensor_id, value, ${MICROS} AS us FROM sensor_data WHERE ts >= ${ts} AND (ts, sensor_id COLLATE "C") > (${ts}, $2::text COLLATE "C")${only}` +
      ` ORDER BY ts, sensor_id COLLATE "C" LIMIT $3::int8`
    const { rows } = await this.query<ReadingRow>('replay', sql, params)
    return rows.map(toReading)
  }

  private async query<R extends pg.QueryResultRow>(operation: string, sql: string, params: unknown[]): Promise<pg.QueryResult<R>> {
    return this.run<R>(this.pool, operation, { text: sql, values: params })
  }

  private async run<R extends pg.QueryResultRow>(pool: pg.Pool, operation: string, config: pg.QueryConfig | pg.QueryArrayConfig): Promise<pg.QueryResult<R>> {
    try {
      return await pool.query<R>(config)
    } catch (err) {
      throw translatePgError(err, operation)
    }
  }
}

function toReading(row: ReadingRow): Reading {
  return { sensor_id: row.sensor_id, value: row.value, timestamp: normalizeTimestamp(Number(row.us) / 1e6) }
}

/** Unix seconds as a timestamptz literal, to the microsecond (as to_timestamp would take them). */
export function timestampText(seconds: number): string {
  const micros = Math.round(seconds * 1e6)
  const ms = Math.floor(micros / 1000)
  const d = new Date(ms)
  const two = (n: number): string => String(n).padStart(2, '0')
  // not toISOString: years past 9999 are +YYYYYY there, and before 1 negative, which Postgres does not read
  const year = d.getUTCFullYear()
  // years before 1 (a range's far start) are n BC there: year 0 is 1 BC
  const era = year < 1 ? ' BC' : ''
  return `${String(year < 1 ? 1 - year : year).padStart(4, '0')}-${two(d.getUTCMonth() + 1)}-${two(d.getUTCDate())} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}.${String(d.getUTCMilliseconds()).padStart(3, '0')}${String(micros - ms * 1000).padStart(3, '0')}+00${era}`
}
