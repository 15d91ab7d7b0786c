// Runs the streaming service on whatever adapters it is given (Kafka or in-process bus, Redis or
// in-process cache), until `signal` aborts: then it stops pulling, finishes and acknowledges the
// batches in hand, closes the consumer (which commits them) and returns.
import type { Config } from '../../platform/config.ts'
import type { AlertFeed, AlertStore, DeliveryOutbox, RuleStore } from '../../ports/alerts.ts'
import type { Logger } from '../../platform/logger.ts'
import type { BusAdmin, BusConsumer, BusPublisher } from '../../ports/bus.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { PipelineStatusBoard } from '../../ports/pipeline-status.ts'
import type { Migrations } from '../../ports/migrations.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { AlertEvaluator } from './alert-evaluator.ts'
import { runNoDataChecks } from './alert-no-data.ts'
import { createIngestHandler, type BatchHandler } from './ingest.ts'
import { LatestCache } from './latest-cache.ts'
import type { StreamingMetrics } from './metrics.ts'
import { startStatusReports } from './status-report.ts'
import { runWebhookSender } from './webhooks.ts'

/**
 * Batches in hand at once: one being written while the next is fetched and decoded. The handler
 * keeps per-sensor write order across them (ingest.ts); the consumer commits per partition only the
 * batches acknowledged without a gap.
 */
export const MAX_IN_FLIGHT_BATCHES = 2

export interface StreamingDeps {
  readonly consumer: BusConsumer
  readonly deadLetters: BusPublisher
  readonly admin: BusAdmin
  readonly migrations: Migrations
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
  await deps.migrations.migrate()
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
          runWebhookSender(
            alerts.store,
            { timeoutMs: config.alerts.webhookTimeoutMs, maxAttempts: config.alerts.webhookMaxAttempts, backoffMs: config.alerts.webhookBackoffMs },
            logger,
            alerting.signal
          )
        ]
  try {
    deps.consumer.subscribe({
      topics: [kafka.topic],
      groupId: kafka.groupId,
      maxBatchRecords: streaming.batchMaxRows,
      maxBatchWaitMs: streaming.batchMaxWaitMs,
      fromBeginning: true
    })
    await consumeInHand(deps.consumer, handler, MAX_IN_FLIGHT_BATCHES, signal)
  } catch (err) {
    // Stopping while a dependency is down: the batch in hand stays uncommitted and is redelivered.
    if (!signal.aborted) throw err
    logger.warn({ err }, 'stopped before the last batch was stored; it will be consumed again')
  } finally {
    stopReports?.()
    repairing.abort()
    alerting.abort()
    await Promise.all([repairer, ...alertLoops])
  }
}

/**
 * Pulls batches and stores them, at most `inHand` at once; each is acknowledged once stored. Ends
 * when `signal` aborts or a batch fails (then no later batch is pulled): the batches in hand finish
 * first, the consumer is closed (committing what is acknowledged), and a failure is rethrown.
 */
export async function consumeInHand(consumer: BusConsumer, handler: BatchHandler, inHand: number, signal: AbortSignal): Promise<void> {
  const failed = new AbortController()
  const pulling = AbortSignal.any([signal, failed.signal])
  const storing = new Set<Promise<void>>()
  let failure: { readonly error: unknown } | undefined
  try {
    while (!pulling.aborted) {
      if (storing.size >= inHand) {
        await Promise.race(storing)
        continue
      }
      const batch = await consumer.next(pulling)
      if (batch === undefined) break
      const stored: Promise<void> = handler(batch.records, { signal })
        .then(
          () => batch.ack(),
          (error: unknown) => {
            failure ??= { error }
            failed.abort()
          }
        )
        .finally(() => storing.delete(stored))
      storing.add(stored)
    }
  } finally {
    await Promise.all(storing)
    await consumer.close()
  }
  if (failure !== undefined) throw failure.error
}
