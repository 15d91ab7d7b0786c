// The streaming service's batch handler: decode and validate, dead-letter the invalid, store the
// valid in Postgres and Redis, publish them live. It resolves only when every write has succeeded,
// so the consumer commits offsets only for stored work. Outages are retried with backoff.
import type { Reading } from '../../domain/reading.ts'
import { decodeReading, WIRE_FORMAT } from '../../domain/wire.ts'
import type { Logger } from '../../platform/logger.ts'
import { isRetryable } from '../../platform/errors.ts'
import { retryForever } from '../../platform/retry.ts'
import type { BatchHandler, BusPublisher, OutgoingRecord } from '../../ports/bus.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { deadLetter } from './dead-letter.ts'
import type { StreamingMetrics } from './metrics.ts'

export interface IngestDeps {
  readonly store: ReadingStore
  readonly latest: LatestValues
  readonly live: LiveFeed
  readonly deadLetters: BusPublisher
  readonly dlqTopic: string
  readonly metrics: StreamingMetrics
  readonly logger: Logger
}

export function createIngestHandler(deps: IngestDeps): BatchHandler {
  const { metrics, logger } = deps

  /** Retries a write until it succeeds or the consumer is closing; logs the first failure of an outage. */
  function persist<T>(dependency: string, signal: AbortSignal, write: () => Promise<T>): Promise<T> {
    return retryForever(write, {
      signal,
      isFatal: (err) => !isRetryable(err),
      onRetry: (err, attempt, delayMs) => {
        metrics.retries.inc({ dependency })
        if (attempt === 1 || attempt % 20 === 0) logger.warn({ dependency, attempt, delayMs, err: (err as Error).message }, 'write failed; retrying')
      }
    })
  }

  return async (batch, { signal }) => {
    const started = performance.now()
    const now = Date.now() / 1000
    const valid: Reading[] = []
    const recordTimes: number[] = []
    const rejected: OutgoingRecord[] = []
    for (const record of batch) {
      const decoded = decodeReading(record.value, record.timestampMs, now)
      if (decoded.ok) {
        valid.push(decoded.reading)
        recordTimes.push(record.timestampMs)
      } else {
        rejected.push(deadLetter(record, decoded.error, deps.dlqTopic, WIRE_FORMAT))
      }
    }
    metrics.consumed.inc(batch.length)

    if (rejected.length > 0) {
      await persist('kafka', signal, () => deps.deadLetters.publish(rejected))
      metrics.deadLettered.inc(rejected.length)
      logger.warn({ count: rejected.length, first: rejected[0]?.headers }, 'invalid records sent to the dead-letter topic')
    }

    if (valid.length > 0) {
      // Postgres and Redis are independent: write both at once. A crash between them is repaired
      // by the redelivery, because both writes are idempotent.
      const [result] = await Promise.all([
        persist('postgres', signal, () => deps.store.write(valid)),
        persist('redis', signal, () => deps.latest.update(valid))
      ])
      metrics.stored.inc(result.inserted)
      metrics.duplicates.inc(result.duplicates)
      // The live feed is best effort: a listener that misses a reading finds it in Postgres.
      deps.live.publish(valid).catch((err: Error) => logger.debug({ err: err.message }, 'live feed publish failed'))
    }

    const finished = Date.now()
    for (const t of recordTimes) metrics.endToEndSeconds.observe(Math.max(0, finished - t) / 1000)
    metrics.batchSize.observe(batch.length)
    metrics.batchSeconds.observe((performance.now() - started) / 1000)
    metrics.lastBatchAt.set(finished / 1000)
  }
}
