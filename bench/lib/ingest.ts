// Items 1, 4 and 7: the producer fills a topic (readings/s into Kafka with acks=all), then the
// streaming service, started as users start it, consumes the topic until every reading is stored
// and its offset committed.
import pg from 'pg'
import { startCli } from './child.ts'
import type { Bench } from './context.ts'
import { cpuSeconds, peakRssMb, treeCpuSeconds } from './proc.ts'
import { until } from './wait.ts'

export interface ProducedTopic {
  readonly topic: string
  readonly readings: number
  readonly readingsPerS: number
  /** unix ms before the first reading was produced: every reading of the topic is dated at or after it (the simulator stamps the time of production) */
  readonly producedFromMs: number
}

/** `sensorstream producer` with PRODUCER_COUNT readings as fast as it goes; the rate it reports. */
export async function produce(bench: Bench, readings: number): Promise<ProducedTopic> {
  const topic = bench.name('readings')
  const producedFromMs = Date.now()
  const cli = startCli(
    'producer',
    bench.env({
      KAFKA_TOPIC: topic,
      PRODUCER_SENSORS: String(bench.sizes.sensors),
      PRODUCER_RATE: '10000000',
      PRODUCER_COUNT: String(readings)
    })
  )
  const stopped = cli.logged('producer stopped')
  const code = await cli.exited()
  const line = await stopped
  if (code !== 0) throw new Error(`producer exited with ${code}:\n${cli.output().slice(-3000)}`)
  const sent = Number(line.sent)
  const seconds = Number(line.seconds)
  const total = await bench.offsets.total(topic)
  if (sent !== readings || total !== readings) throw new Error(`producer sent ${sent}, topic ${topic} holds ${total}, expected ${readings}`)
  return { topic, readings, readingsPerS: sent / seconds, producedFromMs }
}

export interface IngestRun {
  readonly readingsPerS: number
  readonly seconds: number
  readonly peakRssMb: number
  readonly cpuSPerMillion: number
  /** CPU seconds per million readings the servers spent during the run (Postgres with its backends) */
  readonly serverCpuSPerMillion: { readonly postgres: number; readonly kafka: number; readonly redis: number }
  /** WAL the whole server wrote from the service's start to its stop, per million readings: MB (insert position) and full-page images (pg_stat_wal) */
  readonly wal: { readonly mbPerMillion: number; readonly fullPageImagesPerMillion: number }
}

type ServerName = keyof IngestRun['serverCpuSPerMillion']

function serverCpu(bench: Bench): Record<ServerName, number> {
  const of = (pid: number | undefined): number => (pid === undefined ? Number.NaN : treeCpuSeconds(pid))
  const { postgres, kafka, redis } = bench.services
  return { postgres: of(postgres.pid), kafka: of(kafka.pid), redis: of(redis.pid) }
}

/**
 * `sensorstream streaming` from process start until the group's committed offsets reach the end of
 * the topic (offsets are committed only after Postgres and Redis have the batch). Then the row count
 * is checked: exactly the topic's readings were added.
 */
export async function ingest(bench: Bench, topic: ProducedTopic, databaseUrl: string, prefix: string, cliPath?: string): Promise<IngestRun> {
  const group = bench.name('group')
  await checkpoint(databaseUrl)
  // Only the rows dated from the topic's production on: a count of a 100 M-row table before and
  // after every run took minutes and pushed the table's hot pages out of the OS cache.
  const rowsBefore = await countRows(databaseUrl, topic.producedFromMs - 60_000)
  const ends = await bench.offsets.ends(topic.topic)
  const walBefore = await walWritten(databaseUrl)
  const serversBefore = serverCpu(bench)
  const started = performance.now()
  const cli = startCli(
    'streaming',
    bench.env({
      KAFKA_TOPIC: topic.topic,
      KAFKA_DLQ_TOPIC: `${topic.topic}.dlq`,
      KAFKA_GROUP_ID: group,
      DATABASE_URL: databaseUrl,
      REDIS_KEY_PREFIX: prefix
    }),
    cliPath
  )
  try {
    await until(`streaming to consume ${topic.topic}`, () => bench.offsets.caughtUp(group, topic.topic, ends), {
      timeoutMs: 15 * 60_000,
      everyMs: 25,
      child: cli
    })
    const seconds = (performance.now() - started) / 1000
    const peak = peakRssMb(cli.pid)
    const cpu = cpuSeconds(cli.pid)
    const serversAfter = serverCpu(bench)
    const millions = topic.readings / 1e6
    const serverCpuSPerMillion = {
      postgres: (serversAfter.postgres - serversBefore.postgres) / millions,
      kafka: (serversAfter.kafka - serversBefore.kafka) / millions,
      redis: (serversAfter.redis - serversBefore.redis) / millions
    }
    const code = await cli.stop()
    if (code !== 0) throw new Error(`streaming exited with ${code} on SIGTERM:\n${cli.output().slice(-3000)}`)
    // after the stop: a backend reports its WAL counters to pg_stat_wal only every second or so, and at exit
    const walAfter = await walWritten(databaseUrl)
    const rowsAfter = await countRows(databaseUrl, topic.producedFromMs - 60_000)
    if (rowsAfter - rowsBefore !== topic.readings) throw new Error(`expected ${topic.readings} new rows, found ${rowsAfter - rowsBefore}`)
    const wal = {
      mbPerMillion: (walAfter.bytes - walBefore.bytes) / 1e6 / millions,
      fullPageImagesPerMillion: (walAfter.fullPageImages - walBefore.fullPageImages) / millions
    }
    return { readingsPerS: topic.readings / seconds, seconds, peakRssMb: peak, cpuSPerMillion: cpu / millions, serverCpuSPerMillion, wal }
  } finally {
    await cli.stop()
  }
}

/**
 * Writes out the dirty pages of earlier runs, so that every timed run starts with clean shared
 * buffers, as each ceiling load does (else a later run's backends write out the earlier runs' pages
 * to make room, and cost up to 30 % more Postgres CPU than the first run).
 */
function checkpoint(url: string): Promise<void> {
  return withClient(url, async (client) => {
    await client.query('CHECKPOINT')
  })
}

/**
 * The server's WAL so far: bytes (the insert position), and full-page images (the first change of a
 * page after a checkpoint writes the whole page, which a table that already holds data pays on every
 * index leaf it touches).
 */
function walWritten(url: string): Promise<{ bytes: number; fullPageImages: number }> {
  return withClient(url, async (client) => {
    const { rows } = await client.query<{ bytes: number; fpi: number }>(
      "SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::float8 AS bytes, wal_fpi::float8 AS fpi FROM pg_stat_wal"
    )
    return { bytes: rows[0]?.bytes ?? Number.NaN, fullPageImages: rows[0]?.fpi ?? Number.NaN }
  })
}

/** Rows of sensor_data dated at or after `sinceMs`. */
export function countRows(url: string, sinceMs: number): Promise<number> {
  return withClient(url, async (client) => {
    const exists = await client.query("SELECT to_regclass('sensor_data') IS NOT NULL AS ok")
    if (exists.rows[0]?.ok !== true) return 0
    const { rows } = await client.query<{ n: string }>('SELECT count(*) AS n FROM sensor_data WHERE ts >= to_timestamp($1::float8 / 1000)', [sinceMs])
    return Number(rows[0]?.n ?? 0)
  })
}

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}
