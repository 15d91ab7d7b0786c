// `sensorstream all` (`npm start`): producer, streaming and API in one process. Each of KAFKA_BROKERS,
// DATABASE_URL and REDIS_URL that is set selects the real service; each that is not selects the
// embedded default: the in-process bus, a PostgreSQL server started here with its data in
// DATA_DIR/postgres, the in-process cache and live feed. One run per DATA_DIR (lock file).
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { MemoryBus } from '../../adapters/bus/memory.ts'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import { MemoryLiveFeed } from '../../adapters/cache/memory-live-feed.ts'
import { MemoryStatusBoard } from '../../adapters/cache/memory-status.ts'
import { RedisLatestValues } from '../../adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../adapters/cache/redis-live-feed.ts'
import { RedisStatusBoard } from '../../adapters/cache/redis-status.ts'
import { PostgresReadingStore } from '../../adapters/store/postgres.ts'
import { PostgresReadingQueries } from '../../adapters/store/postgres-queries.ts'
import type { Config } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { collectProcessMetrics, createMetricsRegistry } from '../../platform/metrics.ts'
import { aborted } from '../../platform/shutdown.ts'
import type { BusAdmin, BusConsumer, BusPublisher } from '../../ports/bus.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { PipelineStatusBoard } from '../../ports/pipeline-status.ts'
import { openApiStore } from '../api/main.ts'
import { startApi, type RunningApi } from '../api/server.ts'
import { connectAll, type Opened } from '../connect.ts'
import { runProducer } from '../producer/run.ts'
import type { ServiceMain } from '../service.ts'
import { StreamingMetrics } from '../streaming/metrics.ts'
import { runStreaming } from '../streaming/run.ts'
import { startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts'
import { lockDataDir } from './lock.ts'
import { countingPublisher, startProgress } from './progress.ts'

const PROGRESS_EVERY_MS = 5_000

/** What `all` prints for people (logs stay structured and go through the logger). */
const say = (line: string): void => {
  process.stdout.write(`${line}\n`)
}

interface Bus {
  readonly admin: BusAdmin
  readonly publisher: BusPublisher
  readonly deadLetters: BusPublisher
  readonly consumer: BusConsumer
  readonly describe: string
}

function chooseBus(config: Config, logger: Logger): Bus {
  const brokers = config.kafka.brokers
  if (brokers === undefined) {
    const memory = new MemoryBus()
    return { admin: memory.admin(), publisher: memory.publisher(), deadLetters: memory.publisher(), consumer: memory.consumer(), describe: 'in-process bus (set KAFKA_BROKERS to use Kafka)' }
  }
  const kafka = (role: string) => ({ brokers, clientId: `${config.kafka.clientId}-${role}`, logger })
  return {
    admin: new KafkaBusAdmin(kafka('admin')),
    publisher: new KafkaBusPublisher(kafka('producer')),
    deadLetters: new KafkaBusPublisher(kafka('streaming')),
    consumer: new KafkaBusConsumer(kafka('streaming')),
    describe: `${brokers.join(',')} (topic ${config.kafka.topic}, group ${config.kafka.groupId})`
  }
}

interface Cache {
  readonly latest: LatestValues
  readonly live: LiveFeed
  readonly status: PipelineStatusBoard
  readonly describe: string
}

function chooseCache(config: Config, logger: Logger): Cache {
  const url = config.redis.url
  if (url === undefined) return { latest: new MemoryLatestValues(), live: new MemoryLiveFeed(), status: new MemoryStatusBoard(), describe: 'in-process cache (set REDIS_URL to use Redis)' }
  const options = { url, keyPrefix: config.redis.keyPrefix }
  return {
    latest: new RedisLatestValues({ ...options, logger: logger.child({ component: 'redis' }) }),
    live: new RedisLiveFeed({ ...options, logger: logger.child({ component: 'live' }) }),
    status: new RedisStatusBoard({ ...options, logger: logger.child({ component: 'status' }) }),
    describe: redact(url)
  }
}

/** A URL without its password, for printing. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return url
  }
}

export const main: ServiceMain = async ({ config, logger, signal }) => {
  // At the default level the services' own info logs would bury the lines printed here.
  const quiet = config.logLevel === 'info' ? logger.child({}, { level: 'warn' }) : logger
  const lock = lockDataDirOrExplain(config.dataDir)
  let postgres: EmbeddedPostgres | undefined
  let opened: Opened | undefined
  let api: RunningApi | undefined
  try {
    let databaseUrl = config.database.url
    if (databaseUrl === undefined) {
      postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, logger: quiet })
      databaseUrl = postgres.url
    }
    const bus = chooseBus(config, quiet)
    const cache = chooseCache(config, quiet)
    const store = new PostgresReadingStore({ ...config.database, url: databaseUrl, logger: quiet.child({ component: 'postgres' }) })
    const apiStore = openApiStore(config, databaseUrl, quiet.child({ component: 'api-postgres' }))
    const queries = new PostgresReadingQueries({ pool: apiStore.pool })
    const counted = countingPublisher(bus.publisher, config.kafka.topic)
    opened = await connectAll(
      { store, apiStore, queries, latest: cache.latest, live: cache.live, status: cache.status, admin: bus.admin, publisher: counted.publisher, deadLetters: bus.deadLetters, consumer: bus.consumer },
      quiet,
      signal
    )
    if (signal.aborted) return
    await store.migrate()

    // One registry: GET /metrics of the API serves the streaming metrics too.
    const registry = createMetricsRegistry('all')
    collectProcessMetrics(registry)
    const metrics = new StreamingMetrics(registry)
    api = await startApi({ deps: { store: apiStore, queries, latest: cache.latest, live: cache.live, status: cache.status, registry }, config: config.api, logger: quiet.child({ service: 'api' }) }).catch(
      (err: unknown) => {
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') {
          throw new AppError('CONFIG_INVALID', `invalid configuration:\n  PORT: ${config.api.host}:${config.api.port} is already in use; choose another PORT`, { cause: err })
        }
        throw err
      }
    )

    const { producer } = config
    const pace = producer.rate === undefined ? `one reading per sensor every ${producer.intervalMs} ms` : `${producer.rate} readings/s`
    const sensors = producer.sensors.length <= 3 ? producer.sensors.join(', ') : `${producer.sensors.length} sensors`
    say(`sensorstream all: producer, streaming and API in one process (data in ${config.dataDir})`)
    say(`  api       ${api.url}   (docs ${api.url}/docs)`)
    say(`  postgres  ${redact(databaseUrl)}${postgres === undefined ? '' : `   (embedded, ${postgres.binaries} binaries, data in ${postgres.dataDir})`}`)
    say(`  kafka     ${bus.describe}`)
    say(`  redis     ${cache.describe}`)
    say(`  producer  ${pace} (${sensors})${producer.count === undefined ? '' : `, ${producer.count} in all`}`)
    say('Ctrl-C stops everything.')

    // Producer and streaming run until the signal; either failing stops the other and the API.
    const inner = new AbortController()
    const stopInner = (): void => inner.abort()
    signal.addEventListener('abort', stopInner, { once: true })
    if (signal.aborted) inner.abort()
    let failure: unknown
    const fail = (err: unknown): void => {
      failure ??= err
      inner.abort()
    }
    const tasks = [
      runProducer({ publisher: counted.publisher, admin: bus.admin }, config, quiet.child({ service: 'producer' }), inner.signal).catch(fail),
      runStreaming({ consumer: bus.consumer, deadLetters: bus.deadLetters, admin: bus.admin, store, latest: cache.latest, live: cache.live, status: cache.status, metrics }, config,
        quiet.child({ service: 'streaming' }), inner.signal).catch(fail)
    ]
    const stopProgress = startProgress({
      everyMs: PROGRESS_EVERY_MS,
      produced: counted.count,
      stored: async () => (await metrics.stored.get()).values[0]?.value ?? 0,
      write: say
    })
    await aborted(inner.signal)
    signal.removeEventListener('abort', stopInner)
    stopProgress()
    say('stopping…')
    await Promise.all([api.close().catch((err: Error) => quiet.warn({ err: err.message }, 'http server close failed')), ...tasks])
    api = undefined
    if (failure !== undefined) throw failure
  } finally {
    await api?.close().catch(() => undefined)
    await opened?.close()
    await postgres?.stop().catch((err: Error) => logger.error({ err: err.message }, 'embedded PostgreSQL did not stop'))
    lock.release()
  }
  say('stopped')
}

function lockDataDirOrExplain(dataDir: string): ReturnType<typeof lockDataDir> {
  try {
    return lockDataDir(dataDir)
  } catch (err) {
    // Printed by the CLI as one plain line, with a non-zero exit code.
    if (err instanceof AppError && err.code === 'CONFLICT') throw new AppError('CONFIG_INVALID', err.message, { cause: err, details: err.details })
    throw err
  }
}
