// `sensorstream api`: takes the API's ports from the wiring (Postgres and Redis), then runs the HTTP
// server until the shutdown signal, and closes server then adapters in reverse order.
import { requireServices } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import { createMetricsRegistry, collectProcessMetrics } from '../../platform/metrics.ts'
import { checkPortFree, listening } from '../../platform/listen.ts'
import { aborted } from '../../platform/shutdown.ts'
import { openAlertFeed, openLatestValues, openLiveFeed, openPostgres, openStatusBoard } from '../../wiring.ts'
import { connectAll, type Opened } from '../connect.ts'
import { startMaintenance } from '../maintenance.ts'
import type { ServiceMain } from '../service.ts'
import { DEFAULT_HOST, startApi } from './server.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'api', ['database', 'redis'])
  const http = { variable: 'PORT', host: config.api.host ?? DEFAULT_HOST, port: config.api.port, hostVariable: 'HOST' }
  await checkPortFree(http)

  // Migrations and storage maintenance may take longer than an API request may: they get the
  // normal statement timeout, on a pool of their own kept for the maintenance rounds.
  const migrator = openPostgres(config, { logger: logger.child({ component: 'migrate' }) })
  let migrated: Opened
  try {
    migrated = await connectAll({ postgres: migrator }, logger, signal)
    if (signal.aborted) {
      await migrated.close()
      return stopped(logger)
    }
    await migrator.migrations.migrate()
  } catch (err) {
    await migrator.close().catch(() => undefined)
    throw err
  }

  // The API's own pool: no statement and no wait for a connection lasts longer than a request may.
  const postgres = openPostgres(config, { role: 'api', logger: logger.child({ component: 'postgres' }) })
  const latest = openLatestValues(config, logger, { commandTimeoutMs: config.api.requestTimeoutMs })
  const live = openLiveFeed(config, logger)
  const status = openStatusBoard(config, logger)
  const alertFeed = openAlertFeed(config, logger)
  const opened = await connectAll({ store: postgres, latest, live, status, alertFeed }, logger, signal).catch(async (err: unknown) => {
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
  const upkeep = startMaintenance(migrator.maintenance, { registry, logger, ready: Promise.resolve() })
  let api
  try {
    const { store, queries, rules, alerts } = postgres
    api = await listening(http, () =>
      startApi({ deps: { store, queries, latest, live, status, registry, rules, alerts, alertFeed }, config: config.api, logger })
    )
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
