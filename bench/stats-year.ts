// `node bench/stats-year.ts [--days=365] [--step=10] [--runs=30] [--raw-runs=3]`: the bench's
// stats-year item alone (bench/lib/stats-year.ts), on a throwaway Postgres with the benchmark's settings.
import { parseArgs } from 'node:util'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { applySettings } from './lib/services.ts'
import { figure } from './lib/stats.ts'
import { measureStatsYear } from './lib/stats-year.ts'

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '365' },
    step: { type: 'string', default: '10' },
    runs: { type: 'string', default: '30' },
    'raw-runs': { type: 'string', default: '3' }
  }
})
const ms = (xs: number[]): string => {
  const f = figure(xs)
  return `p50 ${f.median} ms (min ${f.min}, max ${f.max}; ${xs.length} runs)`
}

const server = await startPostgres({ durable: true })
try {
  await applySettings(server)
  const result = await measureStatsYear(await server.createDatabase('stats_year'), {
    days: Number(values.days),
    step: Number(values.step),
    runs: Number(values.runs),
    rawRuns: Number(values['raw-runs']),
    progress: (line) => console.log(line)
  })
  for (const c of result.cases) console.log(`${c.label}: tier ${c.tier}, ${c.buckets} buckets, ${ms(c.fromTier)}; raw rows ${ms(c.fromRaw)}`)
} finally {
  await server.dispose()
}
