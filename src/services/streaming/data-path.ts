// The streaming service itself: Kafka → Postgres + Redis, with a Prometheus endpoint on METRICS_PORT.
// main.ts runs it in a worker thread (and has checked that KAFKA_BROKERS, DATABASE_URL and REDIS_URL are set).
import { collectProcessMetrics, createMetricsRegistry, serveMetrics } from '../../platform/metrics.ts'
import { listening } from '../../platform/listen.ts'
import { openAlertFeed, openBus, openLatestValues, openLiveFeed, openPostgres, openStatusBoard } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import { startMaintenance } from '../maintenance.ts'
import type { ServiceMain } from '../service.ts'
import { StreamingMetrics } from './metrics.ts'
import { runStreaming } from './run.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  const postgres = openPostgres(config, { logger })
  const bus = openBus(config, logger)
  const parts = {
    store: postgres,
    latest: openLatestValues(config, logger),
    live: openLiveFeed(config, logger),
    alertFeed: openAlertFeed(config, logger),
    status: openStatusBoard(config, logger),
    admin: bus.admin('streaming'),
    deadLetters: bus.publisher('streaming'),
    consumer: bus.consumer('streaming')
  }
  const registry = createMetricsRegistry('streaming')
  collectProcessMetrics(registry)
  const metrics = new StreamingMetrics(registry)
  const { metricsPort } = config.streaming
  const server =
    metricsPort === 0 ? undefined : await listening({ variable: 'METRICS_PORT', host: '0.0.0.0', port: metricsPort }, () => serveMetrics(registry, metricsPort))
  if (server !== undefined) logger.info({ url: server.url }, 'metrics')
  const opened = await connectAll(parts, logger, signal).catch(async (err: unknown) => {
    await server?.close()
    throw err
  })
  if (signal.aborted) {
    // stopped while waiting for a dependency: nothing is open, nothing to maintain
    await server?.close()
    logger.info('streaming stopped')
    return
  }
  const upkeep = startMaintenance(postgres.maintenance, { registry, logger, ready: postgres.migrations.migrate() })
  try {
    const alerts = { rules: postgres.rules, store: postgres.alerts, feed: parts.alertFeed }
    await runStreaming({ ...parts, migrations: postgres.migrations, store: postgres.store, metrics, alerts }, config, logger, signal)
  } finally {
    await upkeep.stop()
    await opened.close()
    await server?.close()
  }
  logger.info('streaming stopped')
}
