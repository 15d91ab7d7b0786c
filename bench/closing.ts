// `node bench/closing.ts [--sensors=10000] [--runs=3]`: what closing one hour of the rollups costs
// (migration 012): `sensors` sensors with a 1-minute bucket each minute (60 × sensors rows of
// rollup_1m, plus 23 closed hours of the same day), on a throwaway Postgres with the benchmark's
// settings; times sensorstream_close_rollups for one hour, and for the hour that closes the day
// (its 24 hours into rollup_1d). Writers wait for as long as a closing runs.
import { parseArgs } from 'node:util'
import pg from 'pg'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { migrateFor } from './lib/schema.ts'
import { applySettings } from './lib/services.ts'

const { values } = parseArgs({ options: { sensors: { type: 'string', default: '10000' }, runs: { type: 'string', default: '3' } } })
const sensors = Number(values.sensors)
const runs = Number(values.runs)
const HOUR = 3600
const DAY = 86_400
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number

const server = await startPostgres({ durable: true })
try {
  await applySettings(server)
  const url = await server.createDatabase('closing')
  const day = Math.floor(Date.now() / 1000 / DAY) * DAY - 2 * DAY
  await migrateFor(url, day * 1000, (day + DAY) * 1000)
  const pool = new pg.Pool({ connectionString: url, max: 2 })
  /** One hour of 1-minute buckets for every sensor, starting at `h` (unix s). */
  const fill = (h: number): Promise<unknown> =>
    pool.query(
      `INSERT INTO rollup_1m
       SELECT 'sensor-' || s, b, 60, 60 * s, s - 1, s + 1, b, s, b + interval '59 seconds', s
       FROM generate_series(1, $1::int) AS s, generate_series(to_timestamp($2), to_timestamp($2) + interval '59 minutes', interval '1 minute') AS b`,
      [sensors, h]
    )
  const one: number[] = []
  const closingDay: number[] = []
  for (let run = 0; run < runs; run++) {
    await pool.query('TRUNCATE rollup_1m, rollup_1h, rollup_1d')
    // the day's minutes complete (rollup_1m holds them), its hours to close
    await pool.query(
      'UPDATE rollup_watermark SET (closed_until, minutes_closed_until, minutes_complete_until) = (to_timestamp($1), to_timestamp($2), to_timestamp($2))',
      [day, day + DAY]
    )
    for (let h = 0; h < 24; h++) await fill(day + h * HOUR)
    await pool.query('VACUUM ANALYZE rollup_1m')
    for (let h = 1; h <= 24; h++) {
      const started = performance.now()
      await pool.query('SELECT sensorstream_close_rollups(to_timestamp($1), 1)', [day + h * HOUR])
      const ms = performance.now() - started
      if (h === 24) closingDay.push(ms)
      else if (h === 12) one.push(ms)
    }
    const { rows } = await pool.query<{ h: string; d: string }>('SELECT (SELECT count(*) FROM rollup_1h) AS h, (SELECT count(*) FROM rollup_1d) AS d')
    if (Number(rows[0]?.h) !== 24 * sensors || Number(rows[0]?.d) !== sensors) throw new Error(`closed ${rows[0]?.h} hours, ${rows[0]?.d} days`)
  }
  const show = (xs: number[]): string => `p50 ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`
  console.log(`${sensors} sensors, ${60 * sensors} rows of rollup_1m per hour, ${runs} runs`)
  console.log(`closing one hour: ${show(one)}`)
  console.log(`closing the last hour of a day (and the day from 24 × ${sensors} hour rows): ${show(closingDay)}`)
  await pool.end()
} finally {
  await server.dispose()
}
