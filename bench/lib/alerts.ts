// The alerts item: ingest of one topic by `sensorstream streaming` with no alert rule, and with
// 1,000 rules over the producer's 10,000 sensors (950 on one sensor each, above a value some of them
// cross now and then; 40 globs of 100 sensors each, below a value none reaches; 10 no_data globs of
// 100 sensors each), each on a fresh database; the figure is the ratio of the two rates.
import pg from 'pg'
import type { Bench } from './context.ts'
import { ingest, type IngestRun, type ProducedTopic } from './ingest.ts'
import { migrateFor } from './schema.ts'

export const ALERT_RULES = 1000

export function benchRules(sensors: number): { sensor: string; kind: string; threshold: number | null; noData: number | null }[] {
  const rules = []
  for (let i = 0; i < 950; i++) rules.push({ sensor: `sensor-${1 + ((i * 10) % sensors)}`, kind: 'above', threshold: 27, noData: null })
  for (let n = 10; n < 50; n++) rules.push({ sensor: `sensor-${n}??`, kind: 'below', threshold: 5, noData: null })
  for (let n = 50; n < 60; n++) rules.push({ sensor: `sensor-${n}??`, kind: 'no_data', threshold: null, noData: 60 })
  return rules
}

async function withRules(databaseUrl: string, sensors: number): Promise<void> {
  const now = Date.now()
  await migrateFor(databaseUrl, now - 3_600_000, now + 3_600_000)
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const rules = benchRules(sensors)
    await client.query(
      `INSERT INTO alert_rules (name, sensor, kind, threshold, hysteresis, no_data_seconds)
       SELECT 'bench ' || s, s, k, t, CASE WHEN k = 'no_data' THEN 0 ELSE 1 END, n FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[]) AS u(s, k, t, n)`,
      [rules.map((r) => r.sensor), rules.map((r) => r.kind), rules.map((r) => r.threshold), rules.map((r) => r.noData)]
    )
  } finally {
    await client.end()
  }
}

export interface AlertsRun {
  readonly none: IngestRun
  readonly rules: IngestRun
  readonly events: number
}

/** `rulesFirst`: which of the two goes first (alternated over the runs, so that neither always meets a warmer broker) */
export async function alertsRun(bench: Bench, topic: ProducedTopic, rulesFirst: boolean): Promise<AlertsRun> {
  const db = await bench.database('alerts-rules')
  await withRules(db, bench.sizes.sensors)
  const withNone = async (): Promise<IngestRun> => ingest(bench, topic, await bench.database('alerts-none'), `${bench.name('alerts-none')}:`)
  const withAll = (): Promise<IngestRun> => ingest(bench, topic, db, `${bench.name('alerts-rules')}:`)
  const first = rulesFirst ? await withAll() : await withNone()
  const second = rulesFirst ? await withNone() : await withAll()
  const [rules, none] = rulesFirst ? [first, second] : [second, first]
  const client = new pg.Client({ connectionString: db })
  await client.connect()
  try {
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM alert_events')
    return { none, rules, events: Number(rows[0]?.n ?? 0) }
  } finally {
    await client.end()
  }
}
