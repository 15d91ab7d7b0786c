// The streaming service itself: Kafka → Postgres + Redis, with a Prometheus endpoint on METRICS_PORT.
// main.ts runs it in a worker thread.
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { RedisLatestValues } from '../../adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../adapters/cache/redis-live-feed.ts'
import { RedisStatusBoard } from '../../adapters/cache/redis-status.ts'
import { PostgresReadingStore } from '../../adapters/store/postgres.ts'
import { requireServices } from '../../platform/config.ts'
import { collectProcessMetrics, createMetricsRegistry, serveMetrics } from '../../platform/metrics.ts'
import { connectAll } from '../connect.ts'
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
      logger
    }),
    latest: new RedisLatestValues(redis),
    live: new RedisLiveFeed(redis),
    status: new RedisStatusBoard(redis),
    admin: new KafkaBusAdmin(kafka),
    deadLetters: new KafkaBusPublisher(kafka),
    consumer: new KafkaBusConsumer(kafka)
  }
  const registry = createMetricsRegistry('streaming')
  collectProcessMetrics(registry)
  const metrics = new StreamingMetrics(registry)
  const server = config.streaming.metricsPort === 0 ? undefined : await serveMetrics(registry, config.streaming.metricsPort)
  if (server !== undefined) logger.info({ url: server.url }, 'metrics')
  const opened = await connectAll(parts, logger, signal).catch(async (err: unknown) => {
    await server?.close()
    throw err
  })
  try {
    await runStreaming({ ...parts, metrics }, config, logger, signal)
  } finally {
    await opened.close()
    await server?.close()
  }
}
