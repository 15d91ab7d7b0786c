// Item 3: the same rows loaded straight into an identical table (sensorstream's migrations, so the
// same unique key and indexes) without Kafka or Redis, by several methods; the fastest idempotent
// one (ON CONFLICT DO NOTHING, as sensorstream must be) is the ceiling. Rows and COPY payloads are
// prepared before the clock starts: this measures what Postgres takes, not what the client costs.
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import pg from 'pg'
import { from as copyFrom } from 'pg-copy-streams'
import { binaryColumns, type BinaryColumns } from '../../src/adapters/store/binary-arrays.ts'
import { daysOf, slotOf } from '../../src/adapters/store/answer-epochs.ts'
import { INSERT_SQL, RAW_INSERT_SQL } from '../../src/adapters/store/postgres.ts'
import type { Bench } from './context.ts'
import { treeCpuSeconds } from './proc.ts'
import { migrateFor } from './schema.ts'

export interface Rows {
  readonly ids: string[]
  readonly values: number[]
  readonly ms: number[]
}

// Text arrays, as the driver sends JavaScript arrays (sensorstream did so before binary-arrays.ts).
const INSERT_UNNEST = `
INSERT INTO sensor_data (sensor_id, value, ts)
SELECT s, v, timestamptz 'epoch' + ms * interval '1 millisecond'
FROM unnest($1::text[], $2::float8[], $3::int8[]) AS t(s, v, ms)
ON CONFLICT (sensor_id, ts) DO NOTHING`

/** The rows sensorstream stored from a topic, in the order they were stored. */
export async function readRows(databaseUrl: string): Promise<Rows> {
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ s: string; v: number; ms: string }>(
      'SELECT sensor_id AS s, value AS v, (extract(epoch FROM ts) * 1000)::int8 AS ms FROM sensor_data ORDER BY id'
    )
    return { ids: rows.map((r) => r.s), values: rows.map((r) => r.v), ms: rows.map((r) => Number(r.ms)) }
  } finally {
    await client.end()
  }
}

interface Batch {
  readonly params: [string[], number[], number[]]
  /** the same rows as sensorstream sends them: binary arrays (src/adapters/store/binary-arrays.ts) */
  readonly binary: BinaryColumns
  /** the answer epochs' days of the batch (INSERT_SQL's $5; its slot, $4, is the connection's) */
  readonly days: number[]
  readonly copy: Buffer
}

/** Splits rows into `lanes` groups by sensor (a sensor always in the same lane), then into batches. */
function plan(rows: Rows, lanes: number, batchRows: number): Batch[][] {
  const laneRows: number[][] = Array.from({ length: lanes }, () => [])
  const laneOf = new Map<string, number>()
  for (let i = 0; i < rows.ids.length; i++) {
    const id = rows.ids[i] as string
    let lane = laneOf.get(id)
    if (lane === undefined) {
      lane = laneOf.size % lanes
      laneOf.set(id, lane)
    }
    ;(laneRows[lane] as number[]).push(i)
  }
  return laneRows.map((indexes) => {
    const batches: Batch[] = []
    for (let start = 0; start < indexes.length; start += batchRows) {
      const slice = indexes.slice(start, start + batchRows)
      const ids = slice.map((i) => rows.ids[i] as string)
      const values = slice.map((i) => rows.values[i] as number)
      const ms = slice.map((i) => rows.ms[i] as number)
      const text = slice.map((i) => `${rows.ids[i]}\t${rows.values[i]}\t${new Date(rows.ms[i] as number).toISOString()}\n`).join('')
      const readings = slice.map((i) => ({
        sensor_id: rows.ids[i] as string,
        value: rows.values[i] as number,
        timestamp: (rows.ms[i] as number) / 1000
      }))
      batches.push({ params: [ids, values, ms], binary: binaryColumns(readings), days: daysOf(readings), copy: Buffer.from(text) })
    }
    return batches
  })
}

type Loader = (client: pg.Client, batch: Batch) => Promise<void>

const copyInto = (client: pg.Client, table: string, payload: Buffer): Promise<void> =>
  pipeline(Readable.from([payload]), client.query(copyFrom(`COPY ${table} (sensor_id, value, ts) FROM STDIN`)))

const LOADERS: Record<string, Loader> = {
  unnest: async (client, batch) => {
    await client.query(INSERT_UNNEST, batch.params)
  },
  'unnest-binary': async (client, batch) => {
    await client.query(INSERT_SQL, [...batch.binary, slotOf(client), batch.days])
  },
  'unnest-binary-no-rollups': async (client, batch) => {
    await client.query(RAW_INSERT_SQL, batch.binary)
  },
  'copy-staging': async (client, batch) => {
    await client.query('BEGIN')
    await client.query('CREATE TEMP TABLE IF NOT EXISTS staging (sensor_id text, value float8, ts timestamptz) ON COMMIT DELETE ROWS')
    await copyInto(client, 'staging', batch.copy)
    await client.query('INSERT INTO sensor_data (sensor_id, value, ts) SELECT sensor_id, value, ts FROM staging ON CONFLICT (sensor_id, ts) DO NOTHING')
    await client.query('COMMIT')
  },
  'copy-direct': async (client, batch) => {
    await copyInto(client, 'sensor_data', batch.copy)
  }
}

export interface Method {
  readonly name: string
  readonly loader: keyof typeof LOADERS
  readonly lanes: number
  readonly batchRows: number
  /** ignores duplicates as sensorstream must (false: fails on one, so it is only a reference) */
  readonly idempotent: boolean
  /** leaves the rollups out, which sensorstream must not: a reference for their cost, never the ceiling */
  readonly withoutRollups?: boolean
}

/** sensorstream's statement at its default batch size, and the same without the rollups: their ratio is the rollups' cost in Postgres. */
export const ROLLUP_METHODS: readonly Method[] = [
  {
    name: 'unnest of binary arrays + rollups (as sensorstream), 2 connections, 20k rows',
    loader: 'unnest-binary',
    lanes: 2,
    batchRows: 20_000,
    idempotent: true
  },
  {
    name: 'the same without the rollups, 2 connections, 20k rows',
    loader: 'unnest-binary-no-rollups',
    lanes: 2,
    batchRows: 20_000,
    idempotent: true,
    withoutRollups: true
  }
]

export const METHODS: readonly Method[] = [
  { name: 'unnest, 1 connection, 5k rows', loader: 'unnest', lanes: 1, batchRows: 5_000, idempotent: true },
  { name: 'unnest, 2 connections, 5k rows', loader: 'unnest', lanes: 2, batchRows: 5_000, idempotent: true },
  { name: 'COPY to staging + INSERT ON CONFLICT, 2 connections, 5k rows', loader: 'copy-staging', lanes: 2, batchRows: 5_000, idempotent: true },
  { name: 'unnest, 2 connections, 10k rows', loader: 'unnest', lanes: 2, batchRows: 10_000, idempotent: true },
  { name: 'unnest, 2 connections, 50k rows', loader: 'unnest', lanes: 2, batchRows: 50_000, idempotent: true },
  { name: 'unnest of binary arrays (as sensorstream), 2 connections, 10k rows', loader: 'unnest-binary', lanes: 2, batchRows: 10_000, idempotent: true },
  { name: 'unnest of binary arrays (as sensorstream), 2 connections, 50k rows', loader: 'unnest-binary', lanes: 2, batchRows: 50_000, idempotent: true },
  { name: 'COPY to staging + INSERT ON CONFLICT, 2 connections, 10k rows', loader: 'copy-staging', lanes: 2, batchRows: 10_000, idempotent: true },
  ...ROLLUP_METHODS,
  { name: 'COPY to staging + INSERT ON CONFLICT, 2 connections, 50k rows', loader: 'copy-staging', lanes: 2, batchRows: 50_000, idempotent: true },
  { name: 'plain COPY (no ON CONFLICT), 2 connections, 50k rows', loader: 'copy-direct', lanes: 2, batchRows: 50_000, idempotent: false }
]

export interface Prepared {
  readonly method: Method
  readonly databaseUrl: string
  readonly lanes: Batch[][]
  readonly rows: number
}

export async function prepare(bench: Bench, rows: Rows, method: Method): Promise<Prepared> {
  const databaseUrl = await bench.database('ceiling')
  let min = Infinity
  let max = -Infinity
  for (const ms of rows.ms) {
    if (ms < min) min = ms
    if (ms > max) max = ms
  }
  await migrateFor(databaseUrl, min, max)
  return { method, databaseUrl, lanes: plan(rows, method.lanes, method.batchRows), rows: rows.ids.length }
}

export interface Load {
  readonly rowsPerS: number
  /** CPU seconds per million rows Postgres (all its processes) spent on the load */
  readonly postgresCpuSPerMillion: number
}

/** One timed load into the emptied table. */
export async function load(prepared: Prepared, postgresPid: number): Promise<Load> {
  const clients = await Promise.all(
    prepared.lanes.map(async () => {
      const client = new pg.Client({ connectionString: prepared.databaseUrl })
      await client.connect()
      return client
    })
  )
  try {
    const first = clients[0] as pg.Client
    await first.query('TRUNCATE sensor_data, rollup_1m, rollup_1h, rollup_1d')
    await first.query('CHECKPOINT')
    const loader = LOADERS[prepared.method.loader] as Loader
    const cpuBefore = treeCpuSeconds(postgresPid)
    const started = performance.now()
    await Promise.all(
      prepared.lanes.map(async (batches, lane) => {
        const client = clients[lane] as pg.Client
        for (const batch of batches) await loader(client, batch)
      })
    )
    const seconds = (performance.now() - started) / 1000
    const cpu = treeCpuSeconds(postgresPid) - cpuBefore
    const { rows } = await first.query<{ n: string }>('SELECT count(*) AS n FROM sensor_data')
    if (Number(rows[0]?.n) !== prepared.rows) throw new Error(`ceiling ${prepared.method.name}: ${rows[0]?.n} rows, expected ${prepared.rows}`)
    return { rowsPerS: prepared.rows / seconds, postgresCpuSPerMillion: cpu / (prepared.rows / 1e6) }
  } finally {
    await Promise.all(clients.map((c) => c.end()))
  }
}
