// The streaming service itself: Kafka → Postgres + Redis, with a Prometheus endpoint on METRICS_PORT.
// main.ts runs it in a worker thread.
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { RedisLatestValues } from '../../adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../adapters/cache/redis-live-feed.ts'
import { RedisAlertFeed } from '../../adapters/cache/redis-alert-feed.ts'
import { PostgresAlertStore } from '../../adapters/store/postgres-alerts.ts'
import { PostgresRuleStore } from '../../adapters/store/postgres-rules.ts'
import { RedisStatusBoard } from '../../adapters/cache/redis-status.ts'
import { partitionOptions, PostgresReadingStore } from '../../adapters/store/postgres.ts'
import { storageMaintenance } from '../../adapters/store/retention.ts'
import { requireServices } from '../../platform/config.ts'
import { collectProcessMetrics, createMetricsRegistry, serveMetrics } from '../../platform/metrics.ts'
import { listening } from '../../platform/listen.ts'
import { connectAll } from '../connect.ts'
import { startMaintenance } from '../maintenance.ts'
import type { ServiceMain } from '../service.ts'
import { StreamingMetrics } from './metrics.ts'
import { runStreaming } from './run.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'streaming', ['kafka', 'database', 'redis'])
  const kafka = { brokers: config.kafka.brokers ?? [], clientId: `${config.kafka.clientId}-streaming`, logger }
  const redis = { url: config.redis.url as string, keyPrefix: config.redis.keyPrefix, logger }
  const parts = {
    store: new PostgresReadingStore({
      url: config.database.url as string,
      poolMax: config.database.poolMax,
      statementTimeoutMs: config.database.statementTimeoutMs,
      logger,
      partitions: partitionOptions(config.storage)
    }),
    latest: new RedisLatestValues(redis),
    live: new RedisLiveFeed(redis),
    alertFeed: new RedisAlertFeed(redis),
    status: new RedisStatusBoard(redis),
    admin: new KafkaBusAdmin(kafka),
    deadLetters: new KafkaBusPublisher(kafka),
    consumer: new KafkaBusConsumer(kafka)
  }
  const registry = createMetricsRegistry('streaming')
  collectProcessMetrics(registry)
  const metrics = new StreamingMetrics(registry)
  const { metricsPort } = config.streaming
  const server = metricsPort === 0 ? undefined : await listening({ variable: 'METRICS_PORT', host: '0.0.0.0', port: metricsPort }, () => serveMetrics(registry, metricsPort))
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
  const upkeep = startMaintenance(storageMaintenance(parts.store, config.storage, logger), { registry, logger, ready: parts.store.migrate() })
  try {
    const alerts = { rules: new PostgresRuleStore({ pool: parts.store.pool }), store: new PostgresAlertStore({ pool: parts.store.pool }), feed: parts.alertFeed }
    await runStreaming({ ...parts, metrics, alerts }, config, logger, signal)
  } finally {
    await upkeep.stop()
    await opened.close()
    await server?.close()
  }
  logger.info('streaming stopped')
}
