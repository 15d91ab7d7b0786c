// Issue 16 §5, stats over a year: one sensor with a reading every `step` s for `days` days (3.15 M
// rows for a year at 10 s), loaded on the server, every tier closed and the rollups rebuilt; then
// PostgresReadingQueries.stats (in-process, no HTTP, on the services' kind of pools) for the whole
// range at one-day buckets and for the last day at one-minute buckets, each against the same
// statistics from the raw rows (RAW_STATS_SQL).
import pg from 'pg'
import { PostgresReadingQueries, RAW_STATS_SQL, READ_POOL_OPTIONS } from '../../src/adapters/store/postgres-queries.ts'
import { setWatermarks } from '../../src/adapters/store/rollup-closer.ts'
import { migrateFor } from './schema.ts'

const DAY = 86_400

export interface YearCase {
  /** its name in bench/results.json */
  readonly key: 'days_at_1d' | 'day_at_1m'
  readonly label: string
  readonly tier: string
  readonly buckets: number
  /** ms per request, in run order */
  readonly fromTier: number[]
  readonly fromRaw: number[]
}

export interface YearResult {
  readonly rawRows: number
  readonly rollupRows: { readonly '1m': number; readonly '1h': number; readonly '1d': number }
  readonly loadSeconds: number
  readonly cases: YearCase[]
}

export interface YearOptions {
  readonly days: number
  readonly step: number
  /** timed requests from the tier (one untimed first) */
  readonly runs: number
  /** timed requests from raw rows (a year of them takes seconds each) */
  readonly rawRuns: number
  readonly progress: (line: string) => void
}

async function time(runs: number, what: () => Promise<unknown>): Promise<number[]> {
  await what() // warm
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await what()
    out.push(performance.now() - started)
  }
  return out
}

export async function measureStatsYear(url: string, o: YearOptions): Promise<YearResult> {
  const end = Math.floor(Date.now() / 1000 / DAY) * DAY
  const start = end - o.days * DAY
  await migrateFor(url, start * 1000, end * 1000)
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const readPool = new pg.Pool({ connectionString: url, max: 4, options: READ_POOL_OPTIONS })
  try {
    const t = performance.now()
    await pool.query(
      `INSERT INTO sensor_data (sensor_id, value, ts)
       SELECT 'year', 20 + 5 * sin(i / 500.0), to_timestamp($1::float8 + i * $2::float8) FROM generate_series(0, $3::int - 1) AS i`,
      [start, o.step, Math.floor((o.days * DAY) / o.step)]
    )
    // the loaded past closed in every tier (the last reading is a step before `end`)
    await setWatermarks(pool, end)
    await pool.query('SELECT sensorstream_rebuild_rollups()')
    await pool.query('VACUUM ANALYZE sensor_data, rollup_1m, rollup_1h, rollup_1d')
    const loadSeconds = (performance.now() - t) / 1000
    const { rows } = await pool.query<{ n: string; m: string; h: string; d: string }>(
      'SELECT (SELECT count(*) FROM sensor_data) AS n, (SELECT count(*) FROM rollup_1m) AS m, (SELECT count(*) FROM rollup_1h) AS h, (SELECT count(*) FROM rollup_1d) AS d'
    )
    const counts = rows[0] as { n: string; m: string; h: string; d: string }
    o.progress(`stats-year: loaded ${counts.n} raw rows (${counts.m} 1-minute, ${counts.h} 1-hour, ${counts.d} 1-day buckets) in ${loadSeconds.toFixed(0)} s`)
    const queries = new PostgresReadingQueries({ pool, readPool })
    const cases: YearCase[] = []
    for (const c of [
      { key: 'days_at_1d', label: `${o.days} days at 1-day buckets`, from: start, to: end, bucket: DAY },
      { key: 'day_at_1m', label: 'the last day at 1-minute buckets', from: end - DAY, to: end, bucket: 60 }
    ] as const) {
      const q = { sensorId: 'year', from: c.from, to: c.to, bucketSeconds: c.bucket }
      const { tier, buckets } = await queries.stats(q)
      const fromTier = await time(o.runs, () => queries.stats(q))
      o.progress(`stats-year: ${c.label} from tier ${tier}, ${o.runs} requests done; raw rows next (${o.rawRuns} requests)`)
      const fromRaw = await time(o.rawRuns, () => pool.query(RAW_STATS_SQL, [q.sensorId, q.bucketSeconds, q.from, q.to]))
      cases.push({ key: c.key, label: c.label, tier, buckets: buckets.length, fromTier, fromRaw })
    }
    return { rawRows: Number(counts.n), rollupRows: { '1m': Number(counts.m), '1h': Number(counts.h), '1d': Number(counts.d) }, loadSeconds, cases }
  } finally {
    await Promise.all([pool.end(), readPool.end()])
  }
}
