// Runs the streaming service on whatever adapters it is given (Kafka or in-process bus, Redis or
// in-process cache), until `signal` aborts: then it stops fetching, finishes and commits the batch in
// hand, and returns.
import type { Config } from '../../platform/config.ts'
import type { AlertFeed, AlertStore, DeliveryOutbox, RuleStore } from '../../ports/alerts.ts'
import type { Logger } from '../../platform/logger.ts'
import type { BusAdmin, BusConsumer, BusPublisher } from '../../ports/bus.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { PipelineStatusBoard } from '../../ports/pipeline-status.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { AlertEvaluator } from './alert-evaluator.ts'
import { runNoDataChecks } from './alert-no-data.ts'
import { createIngestHandler } from './ingest.ts'
import { LatestCache } from './latest-cache.ts'
import type { StreamingMetrics } from './metrics.ts'
import { startStatusReports } from './status-report.ts'
import { runWebhookSender } from './webhooks.ts'

/** Batches in hand at once: one being written while the next is fetched and decoded. */
export const MAX_IN_FLIGHT_BATCHES = 2

export interface StreamingDeps {
  readonly consumer: BusConsumer
  readonly deadLetters: BusPublisher
  readonly admin: BusAdmin
  readonly store: ReadingStore
  readonly latest: LatestValues
  readonly live: LiveFeed
  readonly metrics: StreamingMetrics
  /** where the figures for the API's GET /status go every second */
  readonly status?: PipelineStatusBoard
  /** alert rules evaluated on each batch, the no-data check and webhook deliveries (absent: no alerts) */
  readonly alerts?: { readonly rules: RuleStore; readonly store: AlertStore & DeliveryOutbox; readonly feed?: AlertFeed }
}

export async function runStreaming(deps: StreamingDeps, config: Config, logger: Logger, signal: AbortSignal): Promise<void> {
  const { kafka, streaming } = config
  await deps.admin.ensureTopics([
    { name: kafka.topic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor },
    { name: kafka.dlqTopic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor }
  ])
  await deps.store.migrate()
  deps.metrics.lagProbe = () => deps.admin.consumerLag(kafka.groupId, kafka.topic)
  const cache = new LatestCache({ store: deps.store, latest: deps.latest, metrics: deps.metrics, logger })
  const alerts = deps.alerts
  const evaluator = alerts === undefined ? undefined : new AlertEvaluator({ ...alerts, logger: logger.child({ component: 'alerts' }) })
  const handler = createIngestHandler({
    store: deps.store,
    cache,
    live: deps.live,
    deadLetters: deps.deadLetters,
    dlqTopic: kafka.dlqTopic,
    metrics: deps.metrics,
    logger,
    ...(evaluator === undefined ? {} : { alerts: evaluator })
  })
  if (signal.aborted) return
  const stop = (): void => {
    deps.consumer.close().catch((err: Error) => logger.warn({ err: err.message }, 'consumer close failed'))
  }
  signal.addEventListener('abort', stop, { once: true })
  const lag = deps.metrics.lagProbe
  const stopReports = deps.status === undefined ? undefined : startStatusReports(deps.status, deps.metrics, lag, logger)
  logger.info({ topic: kafka.topic, group: kafka.groupId, dlq: kafka.dlqTopic }, 'consuming')
  // The cache's repairer runs beside the consumer, and as long as it.
  const repairing = new AbortController()
  const repairer = cache.run(repairing.signal)
  // So do the alerts' rule reloads, no-data checks and webhook deliveries.
  const alerting = new AbortController()
  const alertLoops =
    alerts === undefined || evaluator === undefined
      ? []
      : [
          evaluator.run(config.alerts.rulesReloadMs, alerting.signal),
          runNoDataChecks(alerts.store, evaluator, config.alerts.noDataCheckMs, logger, alerting.signal),
          runWebhookSender(alerts.store, { timeoutMs: config.alerts.webhookTimeoutMs, maxAttempts: config.alerts.webhookMaxAttempts, backoffMs: config.alerts.webhookBackoffMs }, logger, alerting.signal)
        ]
  try {
    await deps.consumer.run(
      {
        topics: [kafka.topic],
        groupId: kafka.groupId,
        maxBatchRecords: streaming.batchMaxRows,
        maxBatchWaitMs: streaming.batchMaxWaitMs,
        fromBeginning: true,
        // The next batch is fetched and decoded while the previous one is being written; the handler
        // keeps per-sensor write order across the two.
        maxInFlightBatches: MAX_IN_FLIGHT_BATCHES
      },
      handler
    )
  } catch (err) {
    // Stopping while a dependency is down: the batch in hand stays uncommitted and is redelivered.
    if (!signal.aborted) throw err
    logger.warn({ err: (err as Error).message }, 'stopped before the last batch was stored; it will be consumed again')
  } finally {
    stopReports?.()
    signal.removeEventListener('abort', stop)
    repairing.abort()
    alerting.abort()
    await Promise.all([repairer, ...alertLoops])
  }
}
