// The bridge loop: device messages in, readings (keyed by sensor) and dead letters out to Kafka in
// batches, and each message acknowledged to its source only once Kafka has acknowledged everything
// made of it. A crash at any point leaves the unacknowledged messages with the broker, which delivers
// them again: duplicates in Kafka, never a loss (the store keeps the first of equal readings).
import { decodeDevicePayload } from '../../domain/device-payload.ts'
import { sensorFromTopic } from '../../domain/mqtt-topic.ts'
import { encodeReading } from '../../domain/wire.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { retryForever } from '../../platform/retry.ts'
import type { Config } from '../../platform/config.ts'
import type { BusAdmin, BusPublisher, OutgoingRecord } from '../../ports/bus.ts'
import type { MessageSource, SourceMessage } from '../../ports/message-source.ts'
import { fitDeadLetter } from '../streaming/dead-letter.ts'
import { mqttDeadLetter } from './dead-letter.ts'

export interface BridgeDeps {
  readonly source: MessageSource
  readonly publisher: BusPublisher
}

export interface BridgeOptions {
  readonly topic: string
  readonly dlqTopic: string
  /** messages per Kafka send at most */
  readonly maxBatchMessages: number
  /** how long a batch waits for more messages once its first has arrived (unless the source is full) */
  readonly lingerMs: number
  /** called once the subscription is in place */
  readonly onSubscribed?: () => void
}

export interface BridgeCounts {
  messages: number
  readings: number
  deadLetters: number
}

const PROGRESS_EVERY_MS = 10_000
/** messages per Kafka send at most, and how long a batch waits for more once it has one */
const MAX_BATCH_MESSAGES = 5_000
const LINGER_MS = 5

/**
 * The bridge as `sensorstream mqtt` and `all` run it: the topics made sure of, then runBridge with
 * the configured topics. `onSubscribed`: called once the subscription is in place (messages
 * published from then on are taken).
 */
export async function bridge(
  deps: { admin: BusAdmin; publisher: BusPublisher; source: MessageSource },
  config: Config,
  logger: Logger,
  signal: AbortSignal,
  onSubscribed?: () => void
): Promise<BridgeCounts> {
  const { kafka } = config
  await deps.admin.ensureTopics([
    { name: kafka.topic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor },
    { name: kafka.dlqTopic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor }
  ])
  return runBridge(
    { source: deps.source, publisher: deps.publisher },
    {
      topic: kafka.topic,
      dlqTopic: kafka.dlqTopic,
      maxBatchMessages: MAX_BATCH_MESSAGES,
      lingerMs: LINGER_MS,
      ...(onSubscribed === undefined ? {} : { onSubscribed })
    },
    logger,
    signal
  )
}

export async function runBridge(deps: BridgeDeps, options: BridgeOptions, logger: Logger, signal: AbortSignal): Promise<BridgeCounts> {
  const { source } = deps
  const counts: BridgeCounts = { messages: 0, readings: 0, deadLetters: 0 }
  const waiting: SourceMessage[] = []
  const limit = Math.min(source.capacity, options.maxBatchMessages)
  let arrived: (() => void) | undefined
  let startFailure: unknown
  // Not awaited before the loop: a resumed session delivers its messages at once, and a connection
  // handles nothing else (not even the SUBACK) until its message is acknowledged.
  source
    .start((message) => {
      // Once stopping, a message is left unacknowledged: the broker delivers it again.
      if (signal.aborted) return
      waiting.push(message)
      arrived?.()
    })
    .then(
      () => {
        logger.info({ source: source.describe, topic: options.topic }, 'bridging')
        options.onSubscribed?.()
      },
      (err: unknown) => {
        startFailure = err
        arrived?.()
      }
    )
  /** Resolves at the next message, at the stop, or after `ms`. */
  const next = (ms?: number): Promise<void> =>
    new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        arrived = undefined
        resolve()
      }
      const timer = ms === undefined ? undefined : setTimeout(done, ms)
      signal.addEventListener('abort', done, { once: true })
      arrived = done
    })
  let lastProgress = Date.now()
  while (!signal.aborted) {
    if (waiting.length === 0 && startFailure === undefined) await next()
    if (startFailure !== undefined) throw startFailure
    // A batch waits a little for more, but not once the source is full: none can come before an ack.
    const deadline = Date.now() + options.lingerMs
    while (!signal.aborted && waiting.length < limit && Date.now() < deadline) await next(deadline - Date.now())
    if (signal.aborted) break
    await send(waiting.splice(0, options.maxBatchMessages), deps, options, counts, logger, signal)
    if (Date.now() - lastProgress >= PROGRESS_EVERY_MS) {
      logger.info(counts, 'progress')
      lastProgress = Date.now()
    }
  }
  // What arrived and was never sent stays unacknowledged and comes again.
  logger.info({ ...counts, unacknowledged: waiting.length }, 'bridge stopped')
  return counts
}

async function send(
  batch: readonly SourceMessage[],
  deps: BridgeDeps,
  options: BridgeOptions,
  counts: BridgeCounts,
  logger: Logger,
  signal: AbortSignal
): Promise<void> {
  const records: OutgoingRecord[] = []
  const letters: OutgoingRecord[] = []
  for (const message of batch) {
    const sensorId = sensorFromTopic(deps.source.filters, message.topic)
    const decoded = decodeDevicePayload(message.payload, { sensorId, receivedAt: message.receivedAtMs / 1000 })
    for (const reading of decoded.readings)
      records.push({ topic: options.topic, key: reading.sensor_id, value: encodeReading(reading), timestampMs: message.receivedAtMs })
    for (const item of decoded.invalid) letters.push(mqttDeadLetter(item, message.topic, sensorId, message.receivedAtMs, options.dlqTopic))
  }
  try {
    await retryForever(
      async () => {
        const fitted = letters.length === 0 ? [] : await fit(letters, deps.publisher, options.dlqTopic)
        await deps.publisher.publish([...records, ...fitted])
      },
      {
        signal,
        isFatal: (err) => err instanceof AppError && !err.retryable,
        onRetry: (err, attempt) => {
          if (attempt === 1 || attempt % 20 === 0)
            logger.warn({ err, attempt, messages: batch.length }, 'kafka publish failed; retrying (the MQTT messages stay unacknowledged)')
        }
      }
    )
  } catch (err) {
    if (signal.aborted) return
    throw err
  }
  for (const message of batch) message.ack()
  counts.messages += batch.length
  counts.readings += records.length
  counts.deadLetters += letters.length
  if (letters.length > 0) logger.warn({ deadLetters: letters.length, error: letters[0]?.headers?.['dlq-error'] }, 'invalid MQTT payloads dead-lettered')
}

async function fit(letters: readonly OutgoingRecord[], publisher: BusPublisher, dlqTopic: string): Promise<OutgoingRecord[]> {
  const limit = await publisher.maxRecordBytes(dlqTopic)
  return letters.map((letter) => fitDeadLetter(letter, limit).record)
}
