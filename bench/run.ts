// `npm run bench [-- --quick] [-- --only=ingest,naive,ceiling,rollups,producer,delay,api,growth,live,mqtt,alerts,retention,year]`:
// sensorstream against the seed's naive design and what Postgres alone takes, all in one run on
// throwaway Kafka, Postgres and Redis; prints a table and writes bench/results.json. See
// docs/performance.md for what is measured and how.
import { execFileSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { cpus, totalmem, release } from 'node:os'
import { fileURLToPath } from 'node:url'
import { ALERT_RULES, alertsRun } from './lib/alerts.ts'
import { endpoints, hammer, startApiCli, type ApiServer, type Endpoint } from './lib/api.ts'
import { load, METHODS, prepare, readRows, ROLLUP_METHODS } from './lib/ceiling.ts'
import { createBench, FULL, QUICK, type Bench } from './lib/context.ts'
import { measureDelay } from './lib/delay.ts'
import { measureLive } from './lib/live.ts'
import { preload, preloadedDay } from './lib/growth.ts'
import { ingest, produce, type IngestRun, type ProducedTopic } from './lib/ingest.ts'
import { Offsets } from './lib/kafka.ts'
import { measureMqtt } from './lib/mqtt.ts'
import { naive } from './lib/naive.ts'
import { loadAverage, processorCount } from './lib/proc.ts'
import { DURING_MIN_MS, preloadRetention, retentionRun, SAMPLE_MS, WARM_MS, WINDOW_MS } from './lib/retention.ts'
import { POSTGRES_SETTINGS, startServices } from './lib/services.ts'
import { figure, formatNumber, ratio, table, type Figure } from './lib/stats.ts'
import { measureStatsYear } from './lib/stats-year.ts'

const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url))
const ITEMS = ['producer', 'ingest', 'naive', 'ceiling', 'rollups', 'growth', 'api', 'delay', 'live', 'mqtt', 'alerts', 'retention', 'year'] as const
type Item = (typeof ITEMS)[number]

const args = process.argv.slice(2)
const quick = args.includes('--quick')
const onlyArg = args.find((a) => a.startsWith('--only='))
const only = new Set<Item>(onlyArg === undefined ? ITEMS : (onlyArg.slice('--only='.length).split(',') as Item[]))
for (const item of only) if (!ITEMS.includes(item)) throw new Error(`unknown item ${item}; items: ${ITEMS.join(', ')}`)
const runsArg = args.find((a) => a.startsWith('--runs='))
const readingsArg = args.find((a) => a.startsWith('--readings='))
const growthRowsArg = args.find((a) => a.startsWith('--growth-rows='))
// --runs, --readings and --growth-rows are for trying things out; the figures the issue asks for use the defaults.
// --variants=label=/path/to/checkout,…: the ingest item also runs those checkouts' streaming
// service, run by run in turn with this one, for before/after figures from the same run. A path
// ending in .js or .ts is taken as the CLI itself (e.g. a checkout's src/cli.ts instead of its build).
const variantsArg = args.find((a) => a.startsWith('--variants='))
const variants = (variantsArg === undefined ? [] : variantsArg.slice('--variants='.length).split(',')).map((v) => {
  const [label, dir] = v.split('=')
  if (label === undefined || dir === undefined) throw new Error(`--variants: "${v}" is not label=path`)
  return { label, cli: /\.[jt]s$/.test(dir) ? dir : `${dir}/dist/cli.js` }
})
// --live=SSE,WS,RATE,SECONDS: the live item at another size (e.g. --live=300,30,300,5 on a busy machine).
const liveArg = args.find((a) => a.startsWith('--live='))
const liveSize = liveArg === undefined ? undefined : liveArg.slice('--live='.length).split(',').map(Number)
const sizes = {
  ...(quick ? QUICK : FULL),
  ...(liveSize === undefined ? {} : { live: { sse: liveSize[0] ?? 0, ws: liveSize[1] ?? 0, rate: liveSize[2] ?? 0, seconds: liveSize[3] ?? 0 } }),
  ...(runsArg === undefined ? {} : { runs: Number(runsArg.slice('--runs='.length)) }),
  ...(readingsArg === undefined ? {} : { readings: Number(readingsArg.slice('--readings='.length)) }),
  ...(growthRowsArg === undefined ? {} : { growthRows: Number(growthRowsArg.slice('--growth-rows='.length)) })
}

type Json = Record<string, unknown>
const results: Json & { notes: string[] } = {
  shape:
    'every measured figure is {median, min, max, runs}: the median of the runs, the extreme runs, and every run in order; ratios are medians over medians (min and max from the extreme runs)',
  generated_at: new Date().toISOString(),
  quick,
  notes: []
}

function save(): void {
  writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`)
}

/** The services run from the build, as in production: build it from this checkout first. */
function build(): void {
  process.stdout.write('building dist/ (npm run build)\n')
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: fileURLToPath(new URL('..', import.meta.url)), stdio: ['ignore', 'ignore', 'inherit'] })
}

async function main(): Promise<void> {
  const wallStart = Date.now()
  process.stdout.write(
    `sensorstream benchmark${quick ? ' (--quick)' : ''}: ${sizes.readings.toLocaleString('en-US')} readings over ${sizes.sensors.toLocaleString('en-US')} sensors, ${sizes.runs} runs per figure; load average ${loadAverage()}\n`
  )
  build()
  const services = await startServices()
  const offsets = new Offsets(services.kafka.brokers)
  const bench = createBench(services, offsets, sizes, quick)
  results.machine = {
    cores: processorCount(),
    cpu: cpus()[0]?.model ?? '?',
    memory_gb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    postgres: services.versions.postgres,
    kafka: services.versions.kafka,
    redis: services.versions.redis,
    load_average_at_start: loadAverage(),
    postgres_settings: {
      'as reported by the server (pg_settings)': services.postgresSettings,
      'set by the benchmark (ALTER SYSTEM, same for every item)': POSTGRES_SETTINGS
    },
    kafka_settings: 'single node KRaft (dev/kafka.ts), 1 GiB heap, topics of 6 partitions, replication factor 1',
    colocated: 'Kafka, Postgres, Redis, the services and the load generators share the machine'
  }
  bench.progress(`services up: Kafka ${services.versions.kafka}, Postgres ${services.versions.postgres}, Redis ${services.versions.redis}`)
  try {
    await runItems(bench)
  } finally {
    ;(results.machine as Json).load_average_at_end = loadAverage()
    results.wall_seconds = Math.round((Date.now() - wallStart) / 1000)
    save()
    await offsets.close().catch(() => undefined)
    await services.stop()
  }
  process.stdout.write(`\n${summary()}\n\nwritten: ${RESULTS} (${results.wall_seconds} s)\n`)
}

function describeRun(run: IngestRun): string {
  const s = run.serverCpuSPerMillion
  return `${formatNumber(run.readingsPerS)} readings/s (${run.seconds.toFixed(1)} s), peak RSS ${run.peakRssMb.toFixed(0)} MB, CPU s per million: streaming ${run.cpuSPerMillion.toFixed(1)}, Postgres ${s.postgres.toFixed(1)}, Kafka ${s.kafka.toFixed(1)}, Redis ${s.redis.toFixed(1)}; WAL per million ${run.wal.mbPerMillion.toFixed(0)} MB, ${formatNumber(run.wal.fullPageImagesPerMillion)} full-page images`
}

async function runItems(bench: Bench): Promise<void> {
  const { sizes } = bench
  results.notes.push(
    `every figure is the median of ${sizes.runs} runs, with min and max; ratios compare medians from this same run`,
    `ingest, growth and the ceiling use ${sizes.readings.toLocaleString('en-US')} readings over ${sizes.sensors.toLocaleString('en-US')} sensors per run (one topic of 6 partitions per run, filled by the producer item)`,
    `the naive design runs on a ${sizes.naiveReadings.toLocaleString('en-US')}-reading subset (the first readings of each topic): one INSERT and one SET per message is too slow for the whole topic`,
    'streaming, producer and API run as in production: `node dist/cli.js <command>` child processes (the build the Docker image runs, made by `npm run build` at the start) with their default settings, configured only through the environment',
    'peak RSS is VmHWM of the streaming process (/proc/<pid>/status) read when it has caught up; CPU is utime + stime of that process (/proc/<pid>/stat), startup included',
    "Postgres is a throwaway instance with production durability (fsync, synchronous_commit and full_page_writes at their defaults, on), on this machine's disk; the same for every item",
    `the growth table is preloaded on the server (generate_series, keys and indexes rebuilt after the load, rollups computed, VACUUM ANALYZE): ${sizes.growthRows.toLocaleString('en-US')} rows over ${sizes.growthDays} days`
  )
  const needTopics =
    only.has('producer') || only.has('ingest') || only.has('naive') || only.has('ceiling') || only.has('rollups') || only.has('growth') || only.has('alerts')
  const topics: ProducedTopic[] = []
  if (needTopics) {
    const rates: number[] = []
    for (let r = 0; r < sizes.runs; r++) {
      const topic = await produce(bench, sizes.readings)
      topics.push(topic)
      rates.push(topic.readingsPerS)
      bench.progress(`producer run ${r + 1}/${sizes.runs}: ${formatNumber(topic.readingsPerS)} readings/s into ${topic.topic}`)
    }
    results.producer = { readings_per_s: figure(rates), readings_per_run: sizes.readings, sensors: sizes.sensors }
    save()
  }

  const empty: Figure[] = []
  let firstDatabase: string | undefined
  if (only.has('ingest') || only.has('ceiling') || only.has('rollups') || only.has('growth')) {
    const rate: number[] = []
    const rss: number[] = []
    const cpu: number[] = []
    const secs: number[] = []
    const servers: { postgres: number[]; kafka: number[]; redis: number[] } = { postgres: [], kafka: [], redis: [] }
    const wal: { mb: number[]; fpi: number[] } = { mb: [], fpi: [] }
    const variantRuns: Record<string, { rate: number[]; rss: number[]; cpu: number[] }> = {}
    // A Kafka broker that has only taken produce requests so far serves its first fetches with a
    // cold JVM: the first timed run cost it 5-6 CPU-s per million readings, later ones 2-3. A
    // deployment's broker is warm, so one untimed run goes first.
    const warmup = await ingest(bench, topics[0] as ProducedTopic, await bench.database('warmup'), `${bench.name('warmup')}:`)
    bench.progress(`ingest warm-up run (not counted): ${describeRun(warmup)}`)
    for (let r = 0; r < sizes.runs; r++) {
      const db = await bench.database('ingest')
      firstDatabase ??= db
      const run = await ingest(bench, topics[r] as ProducedTopic, db, `${bench.name('ingest')}:`)
      rate.push(run.readingsPerS)
      rss.push(run.peakRssMb)
      cpu.push(run.cpuSPerMillion)
      secs.push(run.seconds)
      servers.postgres.push(run.serverCpuSPerMillion.postgres)
      servers.kafka.push(run.serverCpuSPerMillion.kafka)
      servers.redis.push(run.serverCpuSPerMillion.redis)
      wal.mb.push(run.wal.mbPerMillion)
      wal.fpi.push(run.wal.fullPageImagesPerMillion)
      bench.progress(`ingest run ${r + 1}/${sizes.runs}: ${describeRun(run)}`)
      for (const variant of variants) {
        const v = await ingest(bench, topics[r] as ProducedTopic, await bench.database('variant'), `${bench.name('variant')}:`, variant.cli)
        const runs = (variantRuns[variant.label] ??= { rate: [], rss: [], cpu: [] })
        runs.rate.push(v.readingsPerS)
        runs.rss.push(v.peakRssMb)
        runs.cpu.push(v.cpuSPerMillion)
        bench.progress(`  variant ${variant.label}: ${describeRun(v)}`)
      }
    }
    if (variants.length > 0) {
      results.ingest_variants = Object.fromEntries(
        Object.entries(variantRuns).map(([label, v]) => [
          label,
          { readings_per_s: figure(v.rate), peak_rss_mb: figure(v.rss), cpu_s_per_million: figure(v.cpu) }
        ])
      )
    }
    empty.push(figure(rate))
    results.ingest = {
      readings_per_s: figure(rate),
      peak_rss_mb: figure(rss),
      cpu_s_per_million: figure(cpu),
      server_cpu_s_per_million: { postgres: figure(servers.postgres), kafka: figure(servers.kafka), redis: figure(servers.redis) },
      wal_per_million: { mb: figure(wal.mb), full_page_images: figure(wal.fpi) },
      seconds: figure(secs),
      readings_per_run: sizes.readings,
      how: '`node dist/cli.js streaming` (default settings) on a fresh database and group; timed from spawn until the committed offsets reach the end of every partition; rows counted after; one untimed warm-up run first (the broker JIT-compiles its fetch path)'
    }
    save()
  }

  if (only.has('naive')) {
    const rate: number[] = []
    for (let r = 0; r < sizes.runs; r++) {
      const perS = await naive(bench, topics[r] as ProducedTopic, sizes.naiveReadings)
      rate.push(perS)
      bench.progress(`naive run ${r + 1}/${sizes.runs}: ${formatNumber(perS)} readings/s over ${sizes.naiveReadings.toLocaleString('en-US')} readings`)
    }
    results.naive = {
      readings_per_s: figure(rate),
      readings_per_run: sizes.naiveReadings,
      how: `the seed's design in the benchmark process: per message one INSERT … ON CONFLICT DO NOTHING and one Redis SET, each awaited, pg pool of 5, client auto-commit; the first ${sizes.naiveReadings.toLocaleString('en-US')} readings of each ingest topic; timed from the first message to the last write`
    }
    save()
  }

  if ((only.has('ceiling') || only.has('rollups')) && firstDatabase !== undefined) {
    const rows = await readRows(firstDatabase)
    const methods: Json = {}
    let best: { name: string; figure: Figure } | undefined
    let plainCopy: Figure | undefined
    for (const method of only.has('ceiling') ? METHODS : ROLLUP_METHODS) {
      const prepared = await prepare(bench, rows, method)
      const rate: number[] = []
      const cpu: number[] = []
      for (let r = 0; r < sizes.runs; r++) {
        const loaded = await load(prepared, bench.services.postgres.pid ?? 0)
        rate.push(loaded.rowsPerS)
        cpu.push(loaded.postgresCpuSPerMillion)
      }
      const f = figure(rate)
      methods[method.name] = { readings_per_s: f, postgres_cpu_s_per_million: figure(cpu), idempotent: method.idempotent }
      bench.progress(
        `ceiling ${method.name}: ${formatNumber(f.median)} rows/s (${rate.map(formatNumber).join(', ')}), Postgres ${figure(cpu).median.toFixed(1)} CPU s per million`
      )
      if (method.idempotent && method.withoutRollups !== true && (best === undefined || f.median > best.figure.median)) best = { name: method.name, figure: f }
      if (!method.idempotent) plainCopy = f
    }
    const [withRollups, withoutRollups] = ROLLUP_METHODS.map((m) => (methods[m.name] as { readings_per_s: Figure }).readings_per_s) as [Figure, Figure]
    results.rollups = {
      with_rollups_readings_per_s: withRollups,
      without_rollups_readings_per_s: withoutRollups,
      ratio: ratio(withRollups, withoutRollups),
      how: `Postgres alone (the ceiling's method): sensorstream's one statement per batch, raw insert and both rollup upserts (${ROLLUP_METHODS[0]?.batchRows} rows, 2 connections, the default batch size), against the raw insert alone, on the rows of the first ingest run; TRUNCATE + CHECKPOINT before each run. The end-to-end cost is smaller (Postgres is part of the pipeline's CPU); for it, run the ingest item with --variants=before=<a checkout before the rollups>`
    }
    if (only.has('ceiling'))
      results.ceiling = {
        readings_per_s: best?.figure,
        method: best?.name,
        methods,
        plain_copy_readings_per_s: plainCopy,
        rows: rows.ids.length,
        how: 'the rows of the first ingest run, loaded into a fresh table made by the same migrations (same unique key and indexes), TRUNCATE + CHECKPOINT before each run; the ceiling is the fastest method that ignores duplicates (ON CONFLICT DO NOTHING) as sensorstream must; plain COPY fails on a duplicate, so it is shown for reference only'
      }
    save()
  }

  if (only.has('growth') && topics.length > 0) {
    const db = await bench.database('growth')
    const preloadStarted = performance.now()
    const endMs = bench.startedAt - 3_600_000
    await preload(db, sizes.growthRows, sizes.sensors, endMs, sizes.growthDays)
    const preloadSeconds = (performance.now() - preloadStarted) / 1000
    bench.progress(`growth: ${sizes.growthRows.toLocaleString('en-US')} rows preloaded with generate_series in ${preloadSeconds.toFixed(0)} s`)
    const prefix = `${bench.name('growth')}:`
    const costs: IngestRun[] = []
    for (let r = 0; r < sizes.runs; r++) {
      // a topic of its own, produced just before: the first ones are older than the rollups' close delay by now (their readings would all be late)
      const topic = await produce(bench, sizes.readings)
      const run = await ingest(bench, topic, db, prefix)
      costs.push(run)
      bench.progress(
        `growth run ${r + 1}/${sizes.runs}, into a table of ${(sizes.growthRows + r * sizes.readings).toLocaleString('en-US')} rows: ${describeRun(run)}`
      )
    }
    const grown = figure(costs.map((c) => c.readingsPerS))
    results.growth = {
      readings_per_s_empty: empty[0],
      readings_per_s_grown: grown,
      ratio: empty[0] === undefined ? undefined : ratio(grown, empty[0]),
      // the same costs as the ingest item's, to compare with them
      cpu_s_per_million: figure(costs.map((c) => c.cpuSPerMillion)),
      server_cpu_s_per_million: { postgres: figure(costs.map((c) => c.serverCpuSPerMillion.postgres)) },
      wal_per_million: { mb: figure(costs.map((c) => c.wal.mbPerMillion)), full_page_images: figure(costs.map((c) => c.wal.fullPageImagesPerMillion)) },
      preload_rows: sizes.growthRows,
      preload_seconds: Math.round(preloadSeconds),
      how: `the ingest item again, into a table preloaded with ${sizes.growthRows.toLocaleString('en-US')} rows (${sizes.sensors.toLocaleString('en-US')} sensors over ${sizes.growthDays} daily partitions, generate_series on the server, indexes rebuilt, rollups computed, VACUUM ANALYZE); each run on a topic produced just before it (readings on time for the rollups); runs follow one another, so run n starts at ${sizes.growthRows.toLocaleString('en-US')} + (n-1) × ${sizes.readings.toLocaleString('en-US')} rows; the empty-table rate is the ingest item's`
    }
    save()
    if (only.has('api')) await apiItem(bench, db, prefix, preloadedDay(endMs))
  } else if (only.has('api')) {
    const db = await bench.database('api')
    const endMs = bench.startedAt - 3_600_000
    await preload(db, Math.min(sizes.growthRows, 2_000_000), sizes.sensors, endMs, 1)
    results.notes.push('api item without the growth item: a table of its own, preloaded, and Redis empty (every GET /recent is a cache miss)')
    await apiItem(bench, db, `${bench.name('api')}:`, preloadedDay(endMs))
  }

  if (only.has('live')) await liveItem(bench)
  if (only.has('mqtt')) await mqttItem(bench)
  if (only.has('alerts')) await alertsItem(bench, topics)
  if (only.has('retention')) await retentionItem(bench)
  if (only.has('year')) await yearItem(bench)
  if (only.has('delay')) {
    const runs = await measureDelay(bench, sizes.runs, sizes.delaySeconds, sizes.delayRate)
    results.delay = {
      p50_ms: figure(runs.map((r) => r.p50Ms)),
      p99_ms: figure(runs.map((r) => r.p99Ms)),
      max_ms: figure(runs.map((r) => r.maxMs)),
      probes_per_run: runs.map((r) => r.probes),
      rate: sizes.delayRate,
      ...(variants.length === 0 ? {} : { variants: await delayVariants(bench) }),
      how: `producer CLI at ${sizes.delayRate}/s over 1,000 sensors, streaming and API CLIs; 20 probe readings/s (each its own sensor, idempotent acks=all publish) timed from before the publish until GET /recent/:id returns them (polled every 5 ms); ${sizes.delaySeconds} s windows, one window per run`
    }
    save()
  }
}

async function alertsItem(bench: Bench, topics: readonly ProducedTopic[]): Promise<void> {
  const none: number[] = []
  const withRules: number[] = []
  const ratios: number[] = []
  const events: number[] = []
  // an untimed run first, as for the ingest item: a broker's first fetches are slow (cold JVM)
  if (topics[0] !== undefined) await ingest(bench, topics[0], await bench.database('warmup'), `${bench.name('warmup')}:`)
  for (const [r, topic] of topics.entries()) {
    const run = await alertsRun(bench, topic, r % 2 === 1)
    none.push(run.none.readingsPerS)
    withRules.push(run.rules.readingsPerS)
    ratios.push(run.rules.readingsPerS / run.none.readingsPerS)
    events.push(run.events)
    bench.progress(
      `alerts run ${r + 1}/${topics.length}: no rule ${describeRun(run.none)}; ${ALERT_RULES} rules ${describeRun(run.rules)}; ${run.events} alert events`
    )
  }
  results.alerts = {
    rules: ALERT_RULES,
    sensors: bench.sizes.sensors,
    readings_per_run: topics[0]?.readings,
    no_rules_readings_per_s: figure(none),
    rules_readings_per_s: figure(withRules),
    ratio: figure(ratios),
    alert_events: events,
    how: `\`node dist/cli.js streaming\` (default settings) on the same topic twice, each on a fresh database (after one untimed warm-up run; which goes first alternates over the runs): with no rule and with ${ALERT_RULES} rules over the producer's sensors (950 exact ids above 27 with hysteresis 1, 40 globs of 100 sensors below 5, 10 no_data globs of 100 sensors, 60 s); timed as the ingest item; ratio = with rules / without, per run`
  }
  save()
}

/** the year item: a reading every STEP s; requests timed from the rollups (from raw rows: sizes.runs) */
const YEAR_STEP_S = 10
const YEAR_REQUESTS = 30

async function yearItem(bench: Bench): Promise<void> {
  const days = bench.sizes.statsYearDays
  const year = await measureStatsYear(await bench.database('year'), {
    days,
    step: YEAR_STEP_S,
    runs: YEAR_REQUESTS,
    rawRuns: bench.sizes.runs,
    progress: bench.progress
  })
  const out: Json = {}
  for (const c of year.cases) {
    const fromTier = figure(c.fromTier)
    const fromRaw = figure(c.fromRaw)
    out[c.key] = { label: c.label, tier: c.tier, buckets: c.buckets, from_tier_ms: fromTier, from_raw_ms: fromRaw }
    bench.progress(`stats-year ${c.label}: tier ${c.tier} p50 ${fromTier.median.toFixed(2)} ms; raw rows p50 ${fromRaw.median.toFixed(0)} ms`)
  }
  results.stats_year = {
    ...out,
    raw_rows: year.rawRows,
    rollup_rows: year.rollupRows,
    load_seconds: Math.round(year.loadSeconds),
    how: `one sensor, a reading every ${YEAR_STEP_S} s for ${days} days, loaded on the server (generate_series), every tier closed and the rollups rebuilt, VACUUM ANALYZE; PostgresReadingQueries.stats in the benchmark process (no HTTP; the services' pools: the statistics on one that keeps generic plans), ${YEAR_REQUESTS} timed requests after one untimed, one at a time; the same statistics from raw rows (RAW_STATS_SQL) ${bench.sizes.runs} times`
  }
  save()
}

async function retentionItem(bench: Bench): Promise<void> {
  const { runs } = bench.sizes
  const { rows, readings } = bench.sizes.retention
  const db = await preloadRetention(bench, rows, runs)
  bench.progress(`retention: ${runs} old days of ${rows.toLocaleString('en-US')} rows preloaded with generate_series in ${db.preloadSeconds.toFixed(0)} s`)
  const out = {
    before: [] as number[],
    during: [] as number[],
    after: [] as number[],
    ratio: [] as number[],
    drop: [] as number[],
    detach: [] as number[],
    dropTable: [] as number[],
    cli: [] as number[],
    window: [] as number[],
    rows: [] as number[],
    mib: [] as number[]
  }
  for (let r = 0; r < runs; r++) {
    const topic = await produce(bench, readings)
    const run = await retentionRun(bench, db, topic, r)
    out.before.push(run.beforePerS)
    out.during.push(run.duringPerS)
    out.after.push(run.afterPerS)
    out.ratio.push(run.duringPerS / run.beforePerS)
    out.drop.push(run.dropMs)
    out.detach.push(run.detachMs)
    out.dropTable.push(run.dropTableMs)
    out.cli.push(run.cliMs)
    out.window.push(run.duringWindowMs)
    out.rows.push(run.droppedRows)
    out.mib.push(run.droppedBytes / 2 ** 20)
    bench.progress(
      `retention run ${r + 1}/${runs}: dropped ${run.partition} (${run.droppedRows.toLocaleString('en-US')} rows, ${(run.droppedBytes / 2 ** 20).toFixed(0)} MiB) in ${run.dropMs} ms (detach ${run.detachMs} ms, DROP TABLE ${run.dropTableMs} ms; CLI ${run.cliMs} ms); ingest ${formatNumber(run.beforePerS)} readings/s before, ${formatNumber(run.duringPerS)} during (over ${run.duringWindowMs} ms), ${formatNumber(run.afterPerS)} after`
    )
  }
  results.retention = {
    readings_per_s_before: figure(out.before),
    readings_per_s_during: figure(out.during),
    readings_per_s_after: figure(out.after),
    ratio: figure(out.ratio),
    drop_ms: figure(out.drop),
    detach_ms: figure(out.detach),
    drop_table_ms: figure(out.dropTable),
    cli_ms: figure(out.cli),
    during_window_ms: figure(out.window),
    dropped_rows: out.rows,
    dropped_mib: figure(out.mib),
    preload_seconds: Math.round(db.preloadSeconds),
    readings_per_run: readings,
    how: `one database preloaded with ${runs} old days of ${rows.toLocaleString('en-US')} rows each (${bench.sizes.sensors.toLocaleString('en-US')} sensors, daily partitions ending 10 days before today, generate_series on the server, indexes rebuilt, rollups computed, VACUUM ANALYZE, as the growth item); per run (after a CHECKPOINT) a fresh topic of ${readings.toLocaleString('en-US')} readings (the producer CLI) consumed by \`node dist/cli.js streaming\` (default settings, fresh group) and, ${(WINDOW_MS / 1000 + WARM_MS / 1000).toFixed(0)} s after its first commit, \`node dist/cli.js retention\` with RETENTION_RAW_DAYS such that only the oldest day left is past it (exactly one sensor_data partition dropped, checked); ingest rate from the group's committed offsets sampled every ${SAMPLE_MS} ms: ${WINDOW_MS / 1000} s before the drop, over the drop (from the sample just before the span the CLI logs for detach + DROP TABLE to the first at or after its end, at least ${DURING_MIN_MS} ms: during_window_ms), ${WINDOW_MS / 1000} s after; ratio = during / before, per run; drop_ms as retention logs it, cli_ms spawn to exit`
  }
  save()
}

async function liveItem(bench: Bench): Promise<void> {
  const size = bench.sizes.live
  const runs = []
  for (let r = 0; r < bench.sizes.runs; r++) {
    const run = await measureLive(bench, size)
    runs.push(run)
    bench.progress(
      `live run ${r + 1}/${bench.sizes.runs}: ${run.sse} SSE + ${run.ws} WS clients at ${formatNumber(run.rate)} readings/s: delay p50 ${run.p50Ms} ms, p99 ${run.p99Ms} ms, API peak RSS ${run.apiPeakRssMb.toFixed(0)} MB, CPU ${run.apiCpuPercent} % (bench clients ${run.clientsCpuPercent} %)${run.incomplete > 0 ? `, ${run.incomplete} clients missed readings` : ''}`
    )
  }
  results.live = {
    sse_clients: size.sse,
    ws_clients: size.ws,
    readings_per_s: figure(runs.map((r) => r.rate)),
    p50_ms: figure(runs.map((r) => r.p50Ms)),
    p99_ms: figure(runs.map((r) => r.p99Ms)),
    max_ms: figure(runs.map((r) => r.maxMs)),
    api_peak_rss_mb: figure(runs.map((r) => r.apiPeakRssMb)),
    api_cpu_percent: figure(runs.map((r) => r.apiCpuPercent)),
    clients_cpu_percent: figure(runs.map((r) => r.clientsCpuPercent)),
    incomplete_clients: runs.map((r) => r.incomplete),
    how: `two \`node dist/cli.js api\` on one database and Redis prefix: one serves ${size.sse} SSE (node http) and ${size.ws} WebSocket (ws) clients in the bench process, the other takes ${size.rate} readings/s by POST /data (every 50 ms) for ${size.seconds} s; 1,000 sensors in 10 groups, each client asks for one group by glob; delay from the reading's timestamp (just before its POST) to its arrival at a client; CPU of the serving API over the window`
  }
  save()
}

async function mqttItem(bench: Bench): Promise<void> {
  const { readings, publishers } = bench.sizes.mqtt
  const runs = await measureMqtt(bench, bench.sizes.runs, readings, publishers)
  results.mqtt = {
    readings_per_s: figure(runs.map((r) => r.readingsPerS)),
    bridge_cpu_s_per_million: figure(runs.map((r) => r.bridgeCpuSPerMillion)),
    readings_per_run: readings,
    publishers,
    how: `${publishers} MQTT.js publishers in the bench process (QoS 1, 10 unacknowledged each, one reading per message, a sensor each named by the topic) → a throwaway Mosquitto → \`node dist/cli.js mqtt\` (default settings: MQTT 5 shared subscription, 32 connections) → Kafka → \`node dist/cli.js streaming\` → Postgres; timed from the first publish until Postgres has every reading; bridge CPU is utime + stime of its process over that window`
  }
  save()
}

async function delayVariants(bench: Bench): Promise<Json> {
  const out: Json = {}
  for (const variant of variants) {
    bench.progress(`delay, variant ${variant.label}`)
    const runs = await measureDelay(bench, bench.sizes.runs, bench.sizes.delaySeconds, bench.sizes.delayRate, variant.cli)
    out[variant.label] = { p50_ms: figure(runs.map((r) => r.p50Ms)), p99_ms: figure(runs.map((r) => r.p99Ms)) }
  }
  return out
}

async function apiItem(bench: Bench, db: string, prefix: string, day: { from: number; to: number }): Promise<void> {
  const out: Json = {}
  const measure = async (api: ApiServer, endpoint: Endpoint, key: string, label: string, cached = true): Promise<void> => {
    const rps: number[] = []
    const p50: number[] = []
    const p99: number[] = []
    let failed = 0
    for (let r = 0; r < bench.sizes.runs; r++) {
      const run = await hammer(api.url, endpoint, bench.sizes.apiSeconds)
      rps.push(run.rps)
      p50.push(run.p50Ms)
      p99.push(run.p99Ms)
      failed += run.failed
    }
    out[key] = {
      endpoint: label,
      rps: figure(rps),
      // stats: the first run finds the answer cache empty, the later ones find the answers it kept
      ...(cached && (endpoint.key === 'stats' || endpoint.key === 'stats1m') ? { first_run_rps: rps[0] } : {}),
      p50_ms: figure(p50),
      p99_ms: figure(p99),
      failed_requests: failed,
      ...(endpoint.key === 'post' ? { readings_per_s: figure(rps.map((x) => x * 100)) } : {})
    }
    bench.progress(`api ${label}: ${formatNumber(figure(rps).median)} req/s, p99 ${figure(p99).median} ms${failed > 0 ? `, ${failed} failed` : ''}`)
  }
  const all = endpoints(bench.sizes.sensors, day)
  const api = await startApiCli(bench, db, prefix)
  try {
    for (const endpoint of all) await measure(api, endpoint, endpoint.key, endpoint.label)
  } finally {
    await api.stop()
  }
  // the same day at 1-minute buckets read from Postgres on every request: the API without its answer cache
  const uncached = await startApiCli(bench, db, prefix, { API_STATS_CACHE_MB: '0' })
  try {
    const stats1m = all.find((e) => e.key === 'stats1m') as Endpoint
    await measure(uncached, stats1m, 'stats1m_uncached', `${stats1m.label}, API_STATS_CACHE_MB=0`, false)
  } finally {
    await uncached.stop()
  }
  results.api = {
    ...out,
    how: `\`node dist/cli.js api\` on the growth item's database (its ${bench.sizes.growthRows.toLocaleString('en-US')} preloaded rows over ${bench.sizes.growthDays} days, of which the last day is queried, plus the ingested ones; Redis holds every sensor's latest value), autocannon with 64 connections for ${bench.sizes.apiSeconds} s per run, a random sensor of ${bench.sizes.sensors.toLocaleString('en-US')} per request; POST /data sends 100 readings of random sensors per request. Stats with the default answer cache (API_STATS_CACHE_MB): each answer is read from Postgres the first time and served again while no write has changed it (one small statement per request checks that), so the later runs mostly find it kept; \`first_run_rps\` is the first run's rate; \`stats1m_uncached\` is the same requests on an API started with API_STATS_CACHE_MB=0 afterwards`
  }
  save()
}

function cell(f: unknown, suffix = ''): string {
  const fig = f as Figure | undefined
  if (fig === undefined || fig === null || typeof fig.median !== 'number') return '—'
  return `${formatNumber(fig.median)}${suffix} (${formatNumber(fig.min)}–${formatNumber(fig.max)})`
}

function summary(): string {
  const r = results as Record<string, Json | undefined>
  const api = (key: string): Json | undefined => r.api?.[key] as Json | undefined
  const rows: string[][] = [['figure', 'median (min–max)']]
  const add = (label: string, value: string): void => void rows.push([label, value])
  add('ingest, end to end (readings/s)', cell(r.ingest?.readings_per_s))
  add('ingest, peak RSS of streaming (MB)', cell(r.ingest?.peak_rss_mb))
  add('ingest, CPU s per million readings', cell(r.ingest?.cpu_s_per_million))
  add(`naive design (readings/s, ${String(r.naive?.readings_per_run ?? '?')} readings)`, cell(r.naive?.readings_per_s))
  add(`ceiling (rows/s, ${String(r.ceiling?.method ?? '?')})`, cell(r.ceiling?.readings_per_s))
  add('plain COPY, no ON CONFLICT (rows/s, reference)', cell(r.ceiling?.plain_copy_readings_per_s))
  add('Postgres with rollups / without (ratio)', cell(r.rollups?.ratio))
  add('producer (readings/s, acks=all)', cell(r.producer?.readings_per_s))
  add(`delay at ${String(r.delay?.rate ?? '?')}/s, p50 (ms)`, cell(r.delay?.p50_ms))
  add(`delay at ${String(r.delay?.rate ?? '?')}/s, p99 (ms)`, cell(r.delay?.p99_ms))
  for (const key of ['recent', 'data', 'stats', 'stats1m', 'stats1m_uncached', 'post']) {
    const e = api(key)
    if (e === undefined) continue
    const first = typeof e.first_run_rps === 'number' ? `; first run ${formatNumber(e.first_run_rps)}` : ''
    add(`${String(e.endpoint)} (req/s)`, `${cell(e.rps)}${first}`)
    add(`${String(e.endpoint)} p50 / p99 (ms)`, `${cell(e.p50_ms)} / ${cell(e.p99_ms)}`)
  }
  const live = r.live
  if (live !== undefined) {
    add(`live: ${String(live.sse_clients)} SSE + ${String(live.ws_clients)} WS clients, delay p50 / p99 (ms)`, `${cell(live.p50_ms)} / ${cell(live.p99_ms)}`)
    add('live: API peak RSS (MB) / CPU (%)', `${cell(live.api_peak_rss_mb)} / ${cell(live.api_cpu_percent)}`)
  }
  add('mqtt: MQTT → Kafka → Postgres (readings/s)', cell(r.mqtt?.readings_per_s))
  add('mqtt: bridge CPU s per million readings', cell(r.mqtt?.bridge_cpu_s_per_million))
  add(`alerts: ${String(r.alerts?.rules ?? '?')} rules / none (ingest ratio)`, cell(r.alerts?.ratio))
  add('growth: readings/s with the preloaded table', cell(r.growth?.readings_per_s_grown))
  add('growth ratio (grown / empty)', cell(r.growth?.ratio))
  const pgCpu = (item: Json | undefined): unknown => (item?.server_cpu_s_per_million as Json | undefined)?.postgres
  const fpi = (item: Json | undefined): unknown => (item?.wal_per_million as Json | undefined)?.full_page_images
  add('Postgres CPU s per million readings, empty / grown', `${cell(pgCpu(r.ingest))} / ${cell(pgCpu(r.growth))}`)
  add('full-page images per million readings, empty / grown', `${cell(fpi(r.ingest))} / ${cell(fpi(r.growth))}`)
  add('retention: ingest before a day is dropped (readings/s)', cell(r.retention?.readings_per_s_before))
  add('retention: ingest during the drop (readings/s)', cell(r.retention?.readings_per_s_during))
  add('retention: during / before (ratio)', cell(r.retention?.ratio))
  add(
    `retention: drop of one day (${formatNumber((r.retention?.dropped_rows as number[] | undefined)?.[0] ?? Number.NaN)} rows, ms)`,
    cell(r.retention?.drop_ms)
  )
  for (const key of ['days_at_1d', 'day_at_1m']) {
    const c = r.stats_year?.[key] as Json | undefined
    if (c !== undefined) add(`stats-year: ${String(c.label)}, tier ${String(c.tier)} / raw rows (ms)`, `${cell(c.from_tier_ms)} / ${cell(c.from_raw_ms)}`)
  }
  const ingestRate = r.ingest?.readings_per_s as Figure | undefined
  const naiveRate = r.naive?.readings_per_s as Figure | undefined
  const ceilingRate = r.ceiling?.readings_per_s as Figure | undefined
  if (ingestRate !== undefined && naiveRate !== undefined) {
    results.vs_naive = ratio(ingestRate, naiveRate)
    add('ingest / naive (×)', cell(results.vs_naive))
  }
  if (ingestRate !== undefined && ceilingRate !== undefined) {
    results.of_ceiling = ratio(ingestRate, ceilingRate)
    add('ingest / ceiling', cell(results.of_ceiling))
  }
  results.targets = targets()
  save()
  return table(rows)
}

function targets(): Json {
  const r = results as Record<string, Json | undefined>
  const median = (x: unknown): number | undefined => (x as Figure | undefined)?.median
  const api = (key: string, field: string): number | undefined => median((r.api?.[key] as Json | undefined)?.[field])
  const check = (value: number | undefined, op: '>=' | '<=', target: number): Json => ({
    target: `${op} ${target}`,
    value,
    met: value === undefined ? undefined : op === '>=' ? value >= target : value <= target
  })
  // targets that the issue sets at full sizes (100 M rows, a year, 8 M-row days): --quick's small tables say nothing of them
  const atFullSize = (judged: Json): Json => (quick ? { ...judged, met: undefined, note: 'not judged at --quick sizes' } : judged)
  return {
    'ingest.readings_per_s >= 60000': check(median(r.ingest?.readings_per_s), '>=', 60_000),
    'ingest.readings_per_s >= 100000 (stretch)': check(median(r.ingest?.readings_per_s), '>=', 100_000),
    'ingest / naive >= 25': check(median(results.vs_naive), '>=', 25),
    'ingest / ceiling >= 0.70': check(median(results.of_ceiling), '>=', 0.7),
    'ingest.peak_rss_mb <= 250': check(
      median((r.ingest?.peak_rss_mb as Figure | undefined)?.max === undefined ? undefined : { median: (r.ingest?.peak_rss_mb as Figure).max }),
      '<=',
      250
    ),
    'delay.p99_ms <= 250': check(median(r.delay?.p99_ms), '<=', 250),
    'api.recent.rps >= 9000': check(api('recent', 'rps'), '>=', 9_000),
    'api.recent.p99_ms <= 15': check(api('recent', 'p99_ms'), '<=', 15),
    'growth.ratio >= 0.9': atFullSize(check(median(r.growth?.ratio), '>=', 0.9)),
    'api.stats1m.rps >= 5000': atFullSize(check(api('stats1m', 'rps'), '>=', 5_000)),
    'stats_year.days_at_1d.from_tier_ms <= 10': atFullSize(check(median((r.stats_year?.days_at_1d as Json | undefined)?.from_tier_ms), '<=', 10)),
    'rollups.ratio >= 0.85': check(median(r.rollups?.ratio), '>=', 0.85),
    'live.p99_ms <= 100': check(median(r.live?.p99_ms), '<=', 100),
    'live.api_peak_rss_mb <= 300': check(median(r.live?.api_peak_rss_mb), '<=', 300),
    'retention.ratio >= 0.9': atFullSize(check(median(r.retention?.ratio), '>=', 0.9))
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`benchmark failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`)
  process.exitCode = 1
})
