// `sensorstream all` (`npm start`): producer, streaming and API in one process. Each of KAFKA_BROKERS,
// DATABASE_URL and REDIS_URL that is set selects the real service; each that is not selects the
// embedded default: the in-process bus, a PostgreSQL server started here with its data in
// DATA_DIR/postgres, the in-process cache and live feed. One run per DATA_DIR (lock file).
import { checkPortFree, listening } from '../../platform/listen.ts'
import type { Config } from '../../platform/config.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { collectProcessMetrics, createMetricsRegistry } from '../../platform/metrics.ts'
import { aborted } from '../../platform/shutdown.ts'
import type { BusAdmin, BusPublisher } from '../../ports/bus.ts'
import type { MessageSource } from '../../ports/message-source.ts'
import {
  cacheIsEmbedded,
  describeCache,
  openAlertFeed,
  openAllMqtt,
  openBus,
  openLatestValues,
  openLiveFeed,
  openPostgres,
  openStatusBoard,
  redact,
  startEmbeddedDatabase,
  type AllMqtt,
  type EmbeddedPostgres
} from '../../wiring.ts'
import { startApi, type RunningApi } from '../api/server.ts'
import { connectAll, type Opened } from '../connect.ts'
import { startMaintenance, type RunningMaintenance } from '../maintenance.ts'
import { bridge } from '../mqtt/bridge.ts'
import { runProducer } from '../producer/run.ts'
import type { ServiceMain } from '../service.ts'
import { StreamingMetrics } from '../streaming/metrics.ts'
import { runStreaming } from '../streaming/run.ts'
import { lockDataDir } from './lock.ts'
import { countingPublisher, startProgress } from './progress.ts'

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
    const http = { variable: 'PORT', host: apiConfig.host, port: apiConfig.port, hostVariable: 'HOST' }
    await checkPortFree(http)
    let databaseUrl = config.database.url
    if (databaseUrl === undefined) {
      postgres = await startEmbeddedDatabase(config, logger)
      databaseUrl = postgres.url
    }
    const bus = openBus(config, logger)
    const admin = bus.admin('admin')
    const deadLetters = bus.publisher('streaming')
    const consumer = bus.consumer('streaming')
    const latest = openLatestValues(config, logger)
    const live = openLiveFeed(config, logger)
    const alertFeed = openAlertFeed(config, logger)
    const status = openStatusBoard(config, logger)
    const store = openPostgres(config, { url: databaseUrl, logger: logger.child({ component: 'postgres' }) })
    // The API's own pool: no statement and no wait for a connection lasts longer than a request may.
    const apiStore = openPostgres(config, { url: databaseUrl, role: 'api', logger: logger.child({ component: 'api-postgres' }) })
    const publisher = bus.publisher('producer')
    const counted = countingPublisher(publisher, config.kafka.topic)
    opened = await connectAll({ store, apiStore, latest, live, alertFeed, status, admin, publisher: counted.publisher, deadLetters, consumer }, logger, signal)
    if (signal.aborted) return
    await store.migrations.migrate()
    // Postgres is the record and the in-process cache starts empty: fill it with each sensor's latest
    // stored reading, so that /sensors and /recent answer across restarts as before.
    if (cacheIsEmbedded(config)) await latest.update(await apiStore.queries.latestPerSensor())

    // One registry: GET /metrics of the API serves the streaming metrics too.
    const registry = createMetricsRegistry('all')
    collectProcessMetrics(registry)
    const metrics = new StreamingMetrics(registry)
    upkeep = startMaintenance(store.maintenance, { registry, logger, ready: Promise.resolve() })
    const apiDeps = {
      store: apiStore.store,
      queries: apiStore.queries,
      rules: apiStore.rules,
      alerts: apiStore.alerts,
      latest,
      live,
      status,
      alertFeed,
      registry
    }
    // Taken since the check at startup: the same configuration error.
    api = await listening(http, () => startApi({ deps: apiDeps, config: apiConfig, logger: logger.child({ service: 'api' }) }))

    mqtt = await openAllMqtt(config, logger)
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
    const bridging = mqtt.source === undefined ? [] : [startAllBridge(mqtt.source, { admin, publisher }, config, logger, inner.signal, fail)]
    await Promise.race([...bridging.map((b) => b.subscribed), aborted(inner.signal)])

    const { producer } = config
    const pace = producer.rate === undefined ? `one reading per sensor every ${producer.intervalMs} ms` : `${producer.rate} readings/s`
    const sensors = producer.sensors.length <= 3 ? producer.sensors.join(', ') : `${producer.sensors.length} sensors`
    say(`sensorstream all: producer, streaming, API and MQTT bridge in one process (data in ${config.dataDir})`)
    say(`  api       ${api.url}   (${listeningOn(api)}; docs ${api.url}/docs)`)
    say(`  postgres  ${redact(databaseUrl)}${postgres === undefined ? '' : `   (embedded, ${postgres.binaries} binaries, data in ${postgres.dataDir})`}`)
    say(`  kafka     ${bus.describe}`)
    say(`  redis     ${describeCache(config)}`)
    say(`  mqtt      ${mqtt.describe}`)
    say(`  producer  ${pace} (${sensors})${producer.count === undefined ? '' : `, ${producer.count} in all`}`)
    say('Ctrl-C stops everything.')

    const tasks = [
      runProducer({ publisher: counted.publisher, admin }, config, logger.child({ service: 'producer' }), inner.signal).catch(fail),
      runStreaming(
        {
          consumer,
          deadLetters,
          admin,
          migrations: store.migrations,
          store: store.store,
          latest,
          live,
          status,
          metrics,
          alerts: { rules: store.rules, store: store.alerts, feed: alertFeed }
        },
        config,
        logger.child({ service: 'streaming' }),
        inner.signal
      ).catch(fail),
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

function startAllBridge(
  source: MessageSource,
  bus: { admin: BusAdmin; publisher: BusPublisher },
  config: Config,
  logger: Logger,
  signal: AbortSignal,
  fail: (err: unknown) => void
): { subscribed: Promise<void>; done: Promise<void> } {
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

function lockDataDirOrExplain(dataDir: string): ReturnType<typeof lockDataDir> {
  try {
    return lockDataDir(dataDir)
  } catch (err) {
    // Printed by the CLI as one plain line, with a non-zero exit code.
    if (err instanceof AppError && err.code === 'CONFLICT') throw new AppError('CONFIG_INVALID', err.message, { cause: err, details: err.details })
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS' || code === 'ENOTDIR' || code === 'EEXIST') {
      throw new AppError('CONFIG_INVALID', `invalid configuration:\n  DATA_DIR: cannot create or write to ${dataDir} (${code}); choose another DATA_DIR`, {
        cause: err
      })
    }
    throw err
  }
}
