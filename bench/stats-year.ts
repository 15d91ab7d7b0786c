// `node bench/stats-year.ts [--days=365] [--step=10] [--runs=30] [--raw-runs=3]`: the bench's
// stats-year item alone (bench/lib/stats-year.ts), on a throwaway Postgres with the benchmark's settings.
import { parseArgs } from 'node:util'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { applySettings } from './lib/services.ts'
import { measureStatsYear } from './lib/stats-year.ts'

const { values } = parseArgs({
  options: {
    days: { type: 'string', default: '365' },
    step: { type: 'string', default: '10' },
    runs: { type: 'string', default: '30' },
    'raw-runs': { type: 'string', default: '3' }
  }
})
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const ms = (xs: number[]): string => `p50 ${median(xs).toFixed(2)} ms (min ${Math.min(...xs).toFixed(2)}, max ${Math.max(...xs).toFixed(2)}; ${xs.length} runs)`

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
