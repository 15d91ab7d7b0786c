// Issue 16 §5, retention while ingest runs: a database preloaded with one old day of readings per run
// (generate_series on the server, as the growth item does, rollups computed); per run, the streaming
// service consumes a full topic (as the ingest item does) and, once its rate is steady, `sensorstream
// retention` (the CLI, with RETENTION_RAW_DAYS set so that only the oldest preloaded day is past it)
// detaches and drops that day's partition. The ingest rate is sampled from the group's committed
// offsets (committed only once Postgres has the batch): before the drop, during it, after it.
import { startCli } from './child.ts'
import type { Bench } from './context.ts'
import { preload } from './growth.ts'
import { withClient, type ProducedTopic } from './ingest.ts'
import { sleep, until } from './wait.ts'

const DAY_MS = 86_400_000
/** the preloaded days end this many days before the benchmark's day (UTC) */
const AGE_DAYS = 10
export const SAMPLE_MS = 100
/** streaming runs this long after its first commit before the window before the drop */
export const WARM_MS = 10_000
/** the windows before and after the drop */
export const WINDOW_MS = 5_000
/** the rate during the drop is taken over at least this span from its start (a batch commits every few hundred ms) */
export const DURING_MIN_MS = 1_000

export interface RetentionDatabase {
  readonly url: string
  /** end of the newest preloaded day (unix ms, a UTC midnight) */
  readonly endMs: number
  readonly days: number
  readonly preloadSeconds: number
}

/** One database for every run: `days` old days of `rowsPerDay` rows each, the oldest dropped first. */
export async function preloadRetention(bench: Bench, rowsPerDay: number, days: number): Promise<RetentionDatabase> {
  const url = await bench.database('retention')
  const endMs = Math.floor(bench.startedAt / DAY_MS) * DAY_MS - AGE_DAYS * DAY_MS
  const started = performance.now()
  await preload(url, rowsPerDay * days, bench.sizes.sensors, endMs, days)
  return { url, endMs, days, preloadSeconds: (performance.now() - started) / 1000 }
}

export interface RetentionRun {
  readonly beforePerS: number
  readonly duringPerS: number
  readonly afterPerS: number
  /** the drop as the product logs it (detach + DROP TABLE of the partition) */
  readonly dropMs: number
  /** its two steps as logged: DETACH … CONCURRENTLY (waits for transactions that began before it) and DROP TABLE */
  readonly detachMs: number
  readonly dropTableMs: number
  /** the retention CLI from spawn to exit (node start-up, migrations check, listing, drop) */
  readonly cliMs: number
  /** the span the rate during the drop is taken over: from the sample just before it to the first at or after its end, at least DURING_MIN_MS */
  readonly duringWindowMs: number
  readonly droppedRows: number
  readonly droppedBytes: number
  readonly partition: string
}

interface Sample {
  readonly t: number
  readonly n: number
}

/** Run `run` (0-based) of `db.days`: drops the oldest day still there, [endMs - (days - run) days, + 1 day). */
export async function retentionRun(bench: Bench, db: RetentionDatabase, topic: ProducedTopic, run: number): Promise<RetentionRun> {
  const lo = db.endMs - (db.days - run) * DAY_MS
  const hi = lo + DAY_MS
  // as before each ingest run: the earlier writes (the preload's GBs, the last run's) flushed first
  await withClient(db.url, async (c) => void (await c.query('CHECKPOINT')))
  const droppedRows = await withClient(db.url, async (c) =>
    Number((await c.query<{ n: string }>('SELECT count(*) AS n FROM sensor_data WHERE ts >= $1 AND ts < $2', [new Date(lo), new Date(hi)])).rows[0]?.n)
  )
  if (droppedRows === 0) throw new Error(`retention run ${run + 1}: no preloaded rows in [${new Date(lo).toISOString()}, ${new Date(hi).toISOString()})`)
  const partitionsBefore = await rawPartitions(db.url)
  const group = bench.name('group')
  const streaming = startCli(
    'streaming',
    bench.env({
      KAFKA_TOPIC: topic.topic,
      KAFKA_DLQ_TOPIC: `${topic.topic}.dlq`,
      KAFKA_GROUP_ID: group,
      DATABASE_URL: db.url,
      REDIS_KEY_PREFIX: `${bench.name('retention')}:`
    })
  )
  const samples: Sample[] = []
  let sampling = true
  const sampler = (async () => {
    while (sampling) {
      let n = 0
      for (const offset of (await bench.offsets.committed(group, topic.topic)).values()) if (offset > 0n) n += Number(offset)
      samples.push({ t: Date.now(), n })
      await sleep(SAMPLE_MS)
    }
  })()
  try {
    await until('streaming to commit its first batch', () => (samples.at(-1)?.n ?? 0) > 0, { timeoutMs: 120_000, everyMs: 50, child: streaming })
    await sleep(WARM_MS + WINDOW_MS)
    // keep whole days such that exactly this day is past the limit (p.hi <= now - days)
    const keepDays = Math.floor((Date.now() - hi) / DAY_MS)
    const cliStarted = Date.now()
    const cli = startCli('retention', { DATABASE_URL: db.url, RETENTION_RAW_DAYS: String(keepDays) })
    const dropped = cli.logged('retention dropped a partition')
    dropped.catch(() => undefined)
    const code = await cli.exited()
    const cliMs = Date.now() - cliStarted
    if (code !== 0) throw new Error(`retention exited with ${code}:\n${cli.output().slice(-3000)}`)
    const line = await dropped
    const partitionsAfter = await rawPartitions(db.url)
    // streaming and the CLI premake partitions meanwhile: check what went, not the count
    const gone = partitionsBefore.filter((p) => !partitionsAfter.includes(p))
    const logged = cli.output().split('"msg":"retention dropped a partition"').length - 1
    if (line.table !== 'sensor_data' || logged !== 1 || gone.length !== 1 || gone[0] !== line.partition) {
      throw new Error(
        `retention run ${run + 1}: expected exactly one sensor_data partition dropped, got ${JSON.stringify(line)}; gone: ${gone.join(', ')}:\n${cli.output().slice(-3000)}`
      )
    }
    const dropEnd = Number(line.time)
    const dropMs = Number(line.ms)
    const dropStart = dropEnd - dropMs
    await sleep(WINDOW_MS + 2 * SAMPLE_MS)
    sampling = false
    await sampler
    const last = samples.at(-1) as Sample
    if (last.n >= topic.readings)
      throw new Error(
        `retention run ${run + 1}: the topic (${topic.readings} readings) was consumed before the window after the drop ended; use a larger topic`
      )
    const atOrBefore = (t: number): Sample => samples.findLast((s) => s.t <= t) ?? (samples[0] as Sample)
    const atOrAfter = (t: number): Sample => samples.find((s) => s.t >= t) ?? last
    const rate = (a: Sample, b: Sample): number => ((b.n - a.n) * 1000) / (b.t - a.t)
    const duringFrom = atOrBefore(dropStart)
    const duringTo = atOrAfter(Math.max(dropEnd, dropStart + DURING_MIN_MS))
    return {
      beforePerS: rate(atOrBefore(dropStart - WINDOW_MS), atOrBefore(dropStart)),
      duringPerS: rate(duringFrom, duringTo),
      afterPerS: rate(atOrAfter(dropEnd), atOrAfter(dropEnd + WINDOW_MS)),
      dropMs,
      detachMs: Number(line.detachMs),
      dropTableMs: Number(line.dropMs),
      cliMs,
      duringWindowMs: duringTo.t - duringFrom.t,
      droppedRows,
      droppedBytes: Number(line.bytes),
      partition: String(line.partition)
    }
  } finally {
    sampling = false
    await sampler.catch(() => undefined)
    await streaming.stop()
  }
}

function rawPartitions(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ name: string }>("SELECT inhrelid::regclass::text AS name FROM pg_inherits WHERE inhparent = 'sensor_data'::regclass")).rows.map(
      (r) => r.name
    )
  )
}
