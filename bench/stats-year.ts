// `node bench/stats-year.ts [--days=365] [--step=10] [--runs=30]`: one sensor with a reading every
// `step` s for `days` days (3.15 M rows for a year), on a throwaway Postgres with the benchmark's
// settings; times GET /sensors/:id/stats's query (PostgresReadingQueries.stats, in-process, no HTTP)
// for the whole range at one-day buckets (answered from the 1-day rollups) against the same
// statistics from the raw rows, and one day at one-minute buckets (1-minute rollups) against raw.
import { parseArgs } from 'node:util'
import pg from 'pg'
import { PostgresReadingQueries, RAW_STATS_SQL } from '../src/adapters/store/postgres-queries.ts'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { migrateFor } from './lib/schema.ts'
import { applySettings } from './lib/services.ts'

const { values } = parseArgs({
  options: { days: { type: 'string', default: '365' }, step: { type: 'string', default: '10' }, runs: { type: 'string', default: '30' } }
})
const days = Number(values.days)
const step = Number(values.step)
const runs = Number(values.runs)
const DAY = 86_400

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const ms = (x: number): string => `${x.toFixed(2)} ms`

async function time(what: () => Promise<unknown>): Promise<number[]> {
  await what() // warm
  const out: number[] = []
  for (let i = 0; i < runs; i++) {
    const started = performance.now()
    await what()
    out.push(performance.now() - started)
  }
  return out
}

const server = await startPostgres({ durable: true })
try {
  await applySettings(server)
  const url = await server.createDatabase('stats_year')
  const end = Math.floor(Date.now() / 1000 / DAY) * DAY
  const start = end - days * DAY
  await migrateFor(url, start * 1000, end * 1000)
  const pool = new pg.Pool({ connectionString: url, max: 4 })
  const t = performance.now()
  await pool.query(
    `INSERT INTO sensor_data (sensor_id, value, ts)
     SELECT 'year', 20 + 5 * sin(i / 500.0), to_timestamp($1::float8 + i * $2::float8) FROM generate_series(0, $3::int - 1) AS i`,
    [start, step, Math.floor((days * DAY) / step)]
  )
  await pool.query('SELECT sensorstream_rebuild_rollups()')
  await pool.query('VACUUM ANALYZE sensor_data, rollup_1m, rollup_1h, rollup_1d')
  const { rows } = await pool.query<{ n: string; m: string; h: string; d: string }>(
    'SELECT (SELECT count(*) FROM sensor_data) AS n, (SELECT count(*) FROM rollup_1m) AS m, (SELECT count(*) FROM rollup_1h) AS h, (SELECT count(*) FROM rollup_1d) AS d'
  )
  console.log(
    `loaded ${rows[0]?.n} raw rows (${rows[0]?.m} 1-minute, ${rows[0]?.h} 1-hour, ${rows[0]?.d} 1-day buckets) in ${((performance.now() - t) / 1000).toFixed(0)} s`
  )

  const queries = new PostgresReadingQueries({ pool })
  const cases = [
    { label: `${days} days at 1-day buckets`, from: start, to: end, bucket: DAY },
    { label: 'the last day at 1-minute buckets', from: end - DAY, to: end, bucket: 60 }
  ]
  for (const c of cases) {
    const q = { sensorId: 'year', from: c.from, to: c.to, bucketSeconds: c.bucket }
    const { tier } = await queries.stats(q)
    const fromTier = await time(() => queries.stats(q))
    const raw = await time(() => pool.query(RAW_STATS_SQL, [q.sensorId, q.bucketSeconds, q.from, q.to]))
    console.log(
      `${c.label}: tier ${tier} p50 ${ms(median(fromTier))} (min ${ms(Math.min(...fromTier))}, max ${ms(Math.max(...fromTier))}); raw rows p50 ${ms(median(raw))} (min ${ms(Math.min(...raw))}, max ${ms(Math.max(...raw))}); ${runs} runs`
    )
  }
  await pool.end()
} finally {
  await server.dispose()
}
