// The streaming service's batch handler: decode and validate, dead-letter the invalid, store the
// valid in Postgres and offer them to the latest values cache, publish them live. It resolves only
// when Postgres and the dead-letter topic have the batch, so the run loop (run.ts) acknowledges
// only stored work; their outages are retried with backoff. A cache outage does not hold the batch
// back: the cache is repaired from Postgres (latest-cache.ts).
import type { Reading } from '../../domain/reading.ts'
import { decodeReading, WIRE_FORMAT } from '../../domain/wire.ts'
import type { Logger } from '../../platform/logger.ts'
import { isRetryable } from '../../platform/errors.ts'
import { retryForever } from '../../platform/retry.ts'
import type { BusPublisher, BusRecord, OutgoingRecord } from '../../ports/bus.ts'
import type { LiveFeed } from '../../ports/live-feed.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { deadLetter, fitDeadLetter } from './dead-letter.ts'
import type { LatestCache } from './latest-cache.ts'
import type { StreamingMetrics } from './metrics.ts'

export interface IngestDeps {
  readonly store: ReadingStore
  readonly cache: Pick<LatestCache, 'offer'>
  readonly live: LiveFeed
  readonly deadLetters: BusPublisher
  readonly dlqTopic: string
  readonly metrics: StreamingMetrics
  readonly logger: Logger
  /** alert rules, evaluated after the batch is in Postgres and before it resolves (alert-evaluator.ts) */
  readonly alerts?: { evaluate(readings: readonly Reading[]): Promise<unknown> }
}

/**
 * Stores one batch. Several may be in hand at once (run.ts): they resolve in any order, but the
 * writes of one sensor keep batch order. Rejects when a write fails for good or `signal` aborts
 * during an outage; the batch is then not acknowledged.
 */
export type BatchHandler = (batch: readonly BusRecord[], context: { readonly signal: AbortSignal }) => Promise<void>

/**
 * Postgres writes run on this many connections at once: a batch is split by sensor, and a sensor's
 * readings always take the same lane, where writes run one after another in batch order. So two
 * batches in hand at once never reorder the writes of one (sensor_id, timestamp): first write wins.
 */
export const WRITE_LANES = 2

/** Which lane a sensor's writes take (FNV-1a of the id). */
export function laneOf(sensorId: string, lanes: number): number {
  let h = 0x811c9dc5
  for (let i = 0; i < sensorId.length; i++) h = Math.imul(h ^ sensorId.charCodeAt(i), 0x01000193)
  return (h >>> 0) % lanes
}

export function createIngestHandler(deps: IngestDeps, lanes = WRITE_LANES): BatchHandler {
  const { metrics, logger } = deps
  // The tail of each lane's writes: the next batch's writes queue behind them.
  const laneTails: Promise<unknown>[] = Array.from({ length: lanes }, () => Promise.resolve())
  // Alert evaluations run one batch after another, in batch order.
  let alertsTail: Promise<unknown> = Promise.resolve()

  function after<T>(tail: Promise<unknown>, work: () => Promise<T>): Promise<T> {
    return tail.then(work, work)
  }

  /** Retries a write until it succeeds or the consumer is closing; logs the first failure of an outage. */
  function persist<T>(dependency: string, signal: AbortSignal, write: () => Promise<T>): Promise<T> {
    return retryForever(write, {
      signal,
      isFatal: (err) => !isRetryable(err),
      onRetry: (err, attempt, delayMs) => {
        metrics.retries.inc({ dependency })
        if (attempt === 1 || attempt % 20 === 0) logger.warn({ dependency, attempt, delayMs, err }, 'write failed; retrying')
      }
    })
  }

  /** Publishes within the dead-letter topic's limit (asked again on each try); returns how many were cut to fit. */
  async function publishDeadLetters(letters: readonly OutgoingRecord[]): Promise<number> {
    const limit = await deps.deadLetters.maxRecordBytes(deps.dlqTopic)
    const fitted = letters.map((letter) => fitDeadLetter(letter, limit))
    await deps.deadLetters.publish(fitted.map((f) => f.record))
    return fitted.filter((f) => f.truncated).length
  }

  async function storeBatch(decoded: DecodedBatch, signal: AbortSignal): Promise<void> {
    const { valid, recordTimes, rejected, started } = decoded
    metrics.consumed.inc(decoded.consumed)

    // The dead letters go out alongside the writes, not before them: a batch takes its places in the
    // lane queues at once, so a later batch in hand can never write a sensor's readings before it.
    const deadLettered =
      rejected.length === 0
        ? Promise.resolve()
        : persist('kafka', signal, () => publishDeadLetters(rejected)).then((truncated) => {
            metrics.deadLettered.inc(rejected.length)
            metrics.deadLettersTruncated.inc(truncated)
            logger.warn({ count: rejected.length, truncated, first: rejected[0]?.headers }, 'invalid records sent to the dead-letter topic')
          })

    if (valid.length > 0) {
      // Postgres and the cache are independent: write both at once. A crash between them is
      // repaired by the redelivery, because both writes are idempotent. Each write queues behind
      // the previous batch's write of the same lane (the cache: behind its previous update),
      // keeping batch order.
      const parts = splitByLane(valid, lanes)
      const writes = Promise.all(
        parts.map((part, lane) => {
          if (part.length === 0) return Promise.resolve({ inserted: 0, duplicates: 0 })
          const write = after(laneTails[lane] as Promise<unknown>, () => persist('postgres', signal, () => deps.store.write(part)))
          laneTails[lane] = write
          return write
        })
      )
      const { alerts } = deps
      const evaluated = alerts === undefined ? undefined : after(alertsTail, () => writes.then(() => persist('postgres', signal, () => alerts.evaluate(valid))))
      if (evaluated !== undefined) alertsTail = evaluated
      const [results] = await Promise.all([writes, deps.cache.offer(valid, writes), deadLettered, evaluated])
      for (const result of results) {
        metrics.stored.inc(result.inserted)
        metrics.duplicates.inc(result.duplicates)
      }
      // The live feed is best effort: a listener that misses a reading finds it in Postgres.
      deps.live.publish(valid).catch((err: Error) => logger.debug({ err: err.message }, 'live feed publish failed'))
    } else {
      await deadLettered
    }

    const finished = Date.now()
    for (const t of recordTimes) metrics.endToEndSeconds.observe(Math.max(0, finished - t) / 1000)
    metrics.batchSize.observe(decoded.consumed)
    metrics.batchSeconds.observe((performance.now() - started) / 1000)
    metrics.lastBatchAt.set(finished / 1000)
  }

  // Not async: the records (Kafka buffers and all) are not kept while the batch is written, only
  // what was decoded from them; that is most of what a batch in hand holds in memory.
  return (batch, { signal }) => {
    let decoded: DecodedBatch
    try {
      decoded = decodeBatch(batch, deps.dlqTopic)
    } catch (err) {
      // A handler reports failure by rejecting, never by throwing.
      return Promise.reject(err as Error)
    }
    return storeBatch(decoded, signal)
  }
}

interface DecodedBatch {
  readonly started: number
  readonly consumed: number
  readonly valid: readonly Reading[]
  /** the Kafka record time of each valid reading, for the end-to-end delay */
  readonly recordTimes: readonly number[]
  readonly rejected: readonly OutgoingRecord[]
}

function decodeBatch(batch: readonly BusRecord[], dlqTopic: string): DecodedBatch {
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
      rejected.push(deadLetter(record, decoded.error, dlqTopic, WIRE_FORMAT))
    }
  }
  return { started, consumed: batch.length, valid, recordTimes, rejected }
}

function splitByLane(readings: readonly Reading[], lanes: number): Reading[][] {
  if (lanes === 1) return [readings as Reading[]]
  const parts: Reading[][] = Array.from({ length: lanes }, () => [])
  for (const r of readings) (parts[laneOf(r.sensor_id, lanes)] as Reading[]).push(r)
  return parts
}
