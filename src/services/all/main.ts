// `sensorstream all` (`npm start`): producer, streaming and API in one process. Each of KAFKA_BROKERS,
// DATABASE_URL and REDIS_URL that is set selects the real service; each that is not selects the
// embedded default: the in-process bus, a PostgreSQL server started here with its data in
// DATA_DIR/postgres, the in-process cache and live feed. One run per DATA_DIR (lock file).
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { MemoryBus } from '../../adapters/bus/memory.ts'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import { MemoryLiveFeed } from '../../adapters/cache/memory-live-feed.ts'
import { MemoryAlertFeed } from '../../adapters/cache/memory-alert-feed.ts'
import { RedisAlertFeed } from '../../adapters/cache/redis-alert-feed.ts'
import { PostgresAlertStore } from '../../adapters/store/postgres-alerts.ts'
import { PostgresRuleStore } from '../../adapters/store/postgres-rules.ts'
import type { AlertFeed } from '../../ports/alerts.ts'
import { MemoryStatusBoard } from '../../adapters/cache/memory-status.ts'
import { RedisLatestValues } from '../../adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../adapters/cache/redis-live-feed.ts'
import { RedisStatusBoard } from '../../adapters/cache/redis-status.ts'
import { partitionOptions, PostgresReadingStore } from '../../adapters/store/postgres.ts'
import { PostgresReadingQueries } from '../../adapters/store/postgres-queries.ts'
import { storageMaintenance } from '../../adapters/store/retention.ts'
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
import { startMaintenance, type RunningMaintenance } from '../maintenance.ts'
import { runProducer } from '../producer/run.ts'
import type { ServiceMain } from '../service.ts'
import { StreamingMetrics } from '../streaming/metrics.ts'
import { runStreaming } from '../streaming/run.ts'
import { isPortFree } from '../../local/free-port.ts'
import { findPostgresBinaries, startEmbeddedPostgres, type EmbeddedPostgres } from './embedded-postgres.ts'
import { lockDataDir } from './lock.ts'
import { countingPublisher, startProgress } from './progress.ts'
import { bridge, chooseAllMqtt, type AllMqtt } from '../mqtt/main.ts'

const PROGRESS_EVERY_MS = 5_000
/** Without HOST the demo listens on loopback only: it takes unauthenticated writes. */
export const ALL_DEFAULT_HOST = '127.0.0.1'

function listeningOn(api: RunningApi): string {
  return api.everyInterface
    ? `listening on ${api.listening}: every network interface, reachable from other machines`
    : `listening on ${api.listening} only; HOST=0.0.0.0 opens it to the network`
}

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
  readonly alertFeed: AlertFeed
  readonly status: PipelineStatusBoard
  readonly describe: string
  /** the in-process one, empty at every start */
  readonly embedded: boolean
}

function chooseCache(config: Config, logger: Logger): Cache {
  const url = config.redis.url
  if (url === undefined) return { latest: new MemoryLatestValues(), live: new MemoryLiveFeed(), alertFeed: new MemoryAlertFeed(), status: new MemoryStatusBoard(), describe: 'in-process cache (set REDIS_URL to use Redis)', embedded: true }
  const options = { url, keyPrefix: config.redis.keyPrefix }
  return {
    latest: new RedisLatestValues({ ...options, logger: logger.child({ component: 'redis' }) }),
    live: new RedisLiveFeed({ ...options, logger: logger.child({ component: 'live' }) }),
    alertFeed: new RedisAlertFeed({ ...options, logger: logger.child({ component: 'alert-feed' }) }),
    status: new RedisStatusBoard({ ...options, logger: logger.child({ component: 'status' }) }),
    describe: redact(url),
    embedded: false
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
  const apiConfig = { ...config.api, host: config.api.host ?? ALL_DEFAULT_HOST }
  // What can be checked is checked before anything is created (a PostgreSQL cluster is 40 MB).
  const lock = lockDataDirOrExplain(config.dataDir)
  let postgres: EmbeddedPostgres | undefined
  let opened: Opened | undefined
  let api: RunningApi | undefined
  let upkeep: RunningMaintenance | undefined
  let mqtt: AllMqtt | undefined
  let mqttOpened: Opened | undefined
  try {
    if (apiConfig.port !== 0 && !(await isPortFree(apiConfig.port, apiConfig.host))) throw portInUse(apiConfig)
    let databaseUrl = config.database.url
    if (databaseUrl === undefined) {
      const binaries = findPostgresBinaries()
      postgres = await startEmbeddedPostgres({ dataDir: config.dataDir, logger, binaries })
      databaseUrl = postgres.url
    }
    const bus = chooseBus(config, logger)
    const cache = chooseCache(config, logger)
    const store = new PostgresReadingStore({ ...config.database, url: databaseUrl, logger: logger.child({ component: 'postgres' }), partitions: partitionOptions(config.storage) })
    const apiStore = openApiStore(config, databaseUrl, logger.child({ component: 'api-postgres' }))
    const queries = new PostgresReadingQueries({ pool: apiStore.pool })
    const counted = countingPublisher(bus.publisher, config.kafka.topic)
    opened = await connectAll(
      { store, apiStore, queries, latest: cache.latest, live: cache.live, alertFeed: cache.alertFeed, status: cache.status, admin: bus.admin, publisher: counted.publisher, deadLetters: bus.deadLetters, consumer: bus.consumer },
      logger,
      signal
    )
    if (signal.aborted) return
    await store.migrate()
    // Postgres is the record and the in-process cache starts empty: fill it with each sensor's latest
    // stored reading, so that /sensors and /recent answer across restarts as before.
    if (cache.embedded) await cache.latest.update(await queries.latestPerSensor())

    // One registry: GET /metrics of the API serves the streaming metrics too.
    const registry = createMetricsRegistry('all')
    collectProcessMetrics(registry)
    const metrics = new StreamingMetrics(registry)
    upkeep = startMaintenance(storageMaintenance(store, config.storage, logger.child({ component: 'maintenance' })), { registry, logger, ready: Promise.resolve() })
    const apiAlerts = { rules: new PostgresRuleStore({ pool: apiStore.pool }), alerts: new PostgresAlertStore({ pool: apiStore.pool }), alertFeed: cache.alertFeed }
    api = await startApi({ deps: { store: apiStore, queries, latest: cache.latest, live: cache.live, status: cache.status, registry, ...apiAlerts }, config: apiConfig, logger: logger.child({ service: 'api' }) }).catch(
      (err: unknown) => {
        // Taken since the check at startup.
        if ((err as NodeJS.ErrnoException).code === 'EADDRINUSE') throw portInUse(apiConfig, err)
        throw err
      }
    )

    mqtt = await chooseAllMqtt(config, logger)
    if (mqtt.source !== undefined) mqttOpened = await connectAll({ mqtt: mqtt.source }, logger, signal)
    if (signal.aborted) return

    // Producer, streaming and the MQTT bridge run until the signal; any failing stops the others and the API.
    const inner = new AbortController()
    const stopInner = (): void => inner.abort()
    signal.addEventListener('abort', stopInner, { once: true })
    if (signal.aborted) inner.abort()
    let failure: unknown
    const fail = (err: unknown): void => {
      failure ??= err
      inner.abort()
    }
    // The bridge first: the startup lines promise that a message published now is taken.
    const bridging = mqtt.source === undefined ? [] : [startAllBridge(mqtt.source, bus, config, logger, inner.signal, fail)]
    await Promise.race([...bridging.map((b) => b.subscribed), aborted(inner.signal)])

    const { producer } = config
    const pace = producer.rate === undefined ? `one reading per sensor every ${producer.intervalMs} ms` : `${producer.rate} readings/s`
    const sensors = producer.sensors.length <= 3 ? producer.sensors.join(', ') : `${producer.sensors.length} sensors`
    say(`sensorstream all: producer, streaming, API and MQTT bridge in one process (data in ${config.dataDir})`)
    say(`  api       ${api.url}   (${listeningOn(api)}; docs ${api.url}/docs)`)
    say(`  postgres  ${redact(databaseUrl)}${postgres === undefined ? '' : `   (embedded, ${postgres.binaries} binaries, data in ${postgres.dataDir})`}`)
    say(`  kafka     ${bus.describe}`)
    say(`  redis     ${cache.describe}`)
    say(`  mqtt      ${mqtt.describe}`)
    say(`  producer  ${pace} (${sensors})${producer.count === undefined ? '' : `, ${producer.count} in all`}`)
    say('Ctrl-C stops everything.')

    const tasks = [
      runProducer({ publisher: counted.publisher, admin: bus.admin }, config, logger.child({ service: 'producer' }), inner.signal).catch(fail),
      runStreaming({ consumer: bus.consumer, deadLetters: bus.deadLetters, admin: bus.admin, store, latest: cache.latest, live: cache.live, status: cache.status, metrics,
        alerts: { rules: new PostgresRuleStore({ pool: store.pool }), store: new PostgresAlertStore({ pool: store.pool }), feed: cache.alertFeed } }, config,
        logger.child({ service: 'streaming' }), inner.signal).catch(fail),
      ...bridging.map((b) => b.done)
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
    await Promise.all([api.close().catch((err: Error) => logger.warn({ err }, 'http server close failed')), ...tasks])
    api = undefined
    if (failure !== undefined) throw failure
  } finally {
    await api?.close().catch(() => undefined)
    await upkeep?.stop()
    await mqttOpened?.close()
    await mqtt?.close()
    await opened?.close()
    await postgres?.stop().catch((err: Error) => logger.error({ err }, 'embedded PostgreSQL did not stop'))
    lock.release()
  }
  say('stopped')
}

function startAllBridge(source: NonNullable<AllMqtt['source']>, bus: Bus, config: Config, logger: Logger, signal: AbortSignal, fail: (err: unknown) => void): { subscribed: Promise<void>; done: Promise<void> } {
  let subscribed!: () => void
  const ready = new Promise<void>((resolve) => (subscribed = resolve))
  const done = bridge({ admin: bus.admin, publisher: bus.publisher, source }, config, logger.child({ service: 'mqtt' }), signal, subscribed).then(
    () => undefined,
    (err: unknown) => {
      subscribed()
      fail(err)
    }
  )
  return { subscribed: ready, done }
}

function portInUse(api: { host: string; port: number }, cause?: unknown): AppError {
  return new AppError('CONFIG_INVALID', `invalid configuration:\n  PORT: ${api.host}:${api.port} is already in use; choose another PORT`, { cause })
}

function lockDataDirOrExplain(dataDir: string): ReturnType<typeof lockDataDir> {
  try {
    return lockDataDir(dataDir)
  } catch (err) {
    // Printed by the CLI as one plain line, with a non-zero exit code.
    if (err instanceof AppError && err.code === 'CONFLICT') throw new AppError('CONFIG_INVALID', err.message, { cause: err, details: err.details })
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
      throw new AppError('CONFIG_INVALID', `invalid configuration:\n  DATA_DIR: cannot create or write to ${dataDir} (${code}); choose another DATA_DIR`, { cause: err })
    }
    throw err
  }
}
