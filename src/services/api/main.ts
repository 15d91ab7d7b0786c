// `sensorstream api`: the one place that chooses the API's adapters (Postgres and Redis), then runs
// the HTTP server until the shutdown signal, and closes server then adapters in reverse order.
import { partitionOptions, PostgresReadingStore } from '../../adapters/store/postgres.ts'
import { storageMaintenance } from '../../adapters/store/retention.ts'
import { PostgresReadingQueries } from '../../adapters/store/postgres-queries.ts'
import { RedisLatestValues } from '../../adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../adapters/cache/redis-live-feed.ts'
import { RedisStatusBoard } from '../../adapters/cache/redis-status.ts'
import { RedisAlertFeed } from '../../adapters/cache/redis-alert-feed.ts'
import { PostgresAlertStore } from '../../adapters/store/postgres-alerts.ts'
import { PostgresRuleStore } from '../../adapters/store/postgres-rules.ts'
import { requireServices, type Config } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import { createMetricsRegistry, collectProcessMetrics } from '../../platform/metrics.ts'
import { checkPortFree, listening } from '../../platform/listen.ts'
import { aborted } from '../../platform/shutdown.ts'
import { connectAll, type Opened } from '../connect.ts'
import { startMaintenance } from '../maintenance.ts'
import type { ServiceMain } from '../service.ts'
import { DEFAULT_HOST, startApi } from './server.ts'

/** The API's own pool: no statement and no wait for a connection lasts longer than a request may. */
export function openApiStore(config: Config, databaseUrl: string, logger: Logger): PostgresReadingStore {
  const timeoutMs = config.api.requestTimeoutMs
  return new PostgresReadingStore({
    url: databaseUrl,
    poolMax: config.database.poolMax,
    statementTimeoutMs: Math.min(config.database.statementTimeoutMs, Math.max(timeoutMs, 100)),
    connectTimeoutMs: timeoutMs,
    logger,
    partitions: partitionOptions(config.storage)
  })
}

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'api', ['database', 'redis'])
  const databaseUrl = config.database.url as string
  const redisUrl = config.redis.url as string
  const http = { variable: 'PORT', host: config.api.host ?? DEFAULT_HOST, port: config.api.port, hostVariable: 'HOST' }
  await checkPortFree(http)

  // Migrations and storage maintenance may take longer than an API request may: they get the
  // normal statement timeout, on a pool of their own kept for the maintenance rounds.
  const migrator = new PostgresReadingStore({ ...config.database, url: databaseUrl, logger: logger.child({ component: 'migrate' }), partitions: partitionOptions(config.storage) })
  let migrated: Opened
  try {
    migrated = await connectAll({ postgres: migrator }, logger, signal)
    if (signal.aborted) {
      await migrated.close()
      return stopped(logger)
    }
    await migrator.migrate()
  } catch (err) {
    await migrator.close().catch(() => undefined)
    throw err
  }

  const timeoutMs = config.api.requestTimeoutMs
  const store = openApiStore(config, databaseUrl, logger.child({ component: 'postgres' }))
  const queries = new PostgresReadingQueries({ pool: store.pool })
  const latest = new RedisLatestValues({
    url: redisUrl,
    keyPrefix: config.redis.keyPrefix,
    commandTimeoutMs: timeoutMs,
    logger: logger.child({ component: 'redis' })
  })
  const live = new RedisLiveFeed({ url: redisUrl, keyPrefix: config.redis.keyPrefix, logger: logger.child({ component: 'live' }) })
  const status = new RedisStatusBoard({ url: redisUrl, keyPrefix: config.redis.keyPrefix, logger: logger.child({ component: 'status' }) })
  const alertFeed = new RedisAlertFeed({ url: redisUrl, keyPrefix: config.redis.keyPrefix, logger: logger.child({ component: 'alert-feed' }) })
  const rules = new PostgresRuleStore({ pool: store.pool })
  const alerts = new PostgresAlertStore({ pool: store.pool })
  const opened = await connectAll({ store, queries, latest, live, status, alertFeed }, logger, signal).catch(async (err: unknown) => {
    await migrated.close()
    throw err
  })
  if (signal.aborted) {
    await opened.close()
    await migrated.close()
    return stopped(logger)
  }

  const registry = createMetricsRegistry('api')
  collectProcessMetrics(registry)
  const upkeep = startMaintenance(storageMaintenance(migrator, config.storage, logger.child({ component: 'maintenance' })), { registry, logger, ready: Promise.resolve() })
  let api
  try {
    api = await listening(http, () => startApi({ deps: { store, queries, latest, live, status, registry, rules, alerts, alertFeed }, config: config.api, logger }))
  } catch (err) {
    await upkeep.stop()
    await opened.close()
    await migrated.close()
    throw err
  }
  logger.info({ url: api.url, listening: api.listening, docs: `${api.url}/docs` }, `api listening on ${api.listening} (${api.url})`)

  await aborted(signal)
  await api.close().catch((err: Error) => logger.warn({ err }, 'http server close failed'))
  await upkeep.stop()
  await opened.close()
  await migrated.close()
  stopped(logger)
}

function stopped(logger: Logger): void {
  logger.info('api stopped')
}
