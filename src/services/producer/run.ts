// The producer loop: simulated readings published to the topic at a fixed interval per sensor or at
// a target rate overall, keyed by sensor_id, until the count is reached or `signal` aborts.
import { encodeReading } from '../../domain/wire.ts'
import type { Config } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import { retryForever, sleep } from '../../platform/retry.ts'
import type { BusAdmin, BusPublisher } from '../../ports/bus.ts'
import { SensorSimulator } from './simulator.ts'

/** Largest publish call: big enough to amortise round trips, small enough to keep memory flat. */
const MAX_PUBLISH = 5_000
const PROGRESS_EVERY_MS = 10_000

export interface ProducerDeps {
  readonly publisher: BusPublisher
  readonly admin: BusAdmin
}

export interface ProducerResult {
  readonly sent: number
  readonly seconds: number
}

export async function runProducer(deps: ProducerDeps, config: Config, logger: Logger, signal: AbortSignal): Promise<ProducerResult> {
  const { kafka, producer } = config
  await deps.admin.ensureTopics([{ name: kafka.topic, partitions: kafka.partitions, replicationFactor: kafka.replicationFactor }])
  const simulator = new SensorSimulator(producer.sensors)
  const limit = producer.count ?? Number.POSITIVE_INFINITY
  const started = Date.now()
  let sent = 0
  let lastProgress = started
  let sentAtLastProgress = 0
  let nextTick = started
  logger.info(
    {
      topic: kafka.topic,
      sensors: producer.sensors.length,
      rate: producer.rate,
      intervalMs: producer.rate === undefined ? producer.intervalMs : undefined,
      count: producer.count
    },
    'producing'
  )

  while (!signal.aborted && sent < limit) {
    const now = Date.now()
    let n: number
    if (producer.rate !== undefined) {
      // Pace by a budget: whatever is due since the start, so a slow publish is caught up on.
      const due = Math.floor(((now - started) / 1000) * producer.rate) - sent
      if (due <= 0) {
        await sleep(Math.min(100, Math.max(1, 1000 / producer.rate)), signal)
        continue
      }
      n = Math.min(due, MAX_PUBLISH, limit - sent)
    } else {
      if (now < nextTick) {
        await sleep(nextTick - now, signal)
        continue
      }
      n = Math.min(producer.sensors.length, limit - sent)
      nextTick += producer.intervalMs
    }

    for (let done = 0; done < n && !signal.aborted;) {
      const chunk = Math.min(MAX_PUBLISH, n - done)
      const records = simulator.take(chunk).map((r) => ({ topic: kafka.topic, key: r.sensor_id, value: encodeReading(r) }))
      try {
        await retryForever(() => deps.publisher.publish(records), {
          signal,
          onRetry: (err, attempt) => {
            if (attempt === 1 || attempt % 20 === 0) logger.warn({ attempt, err }, 'publish failed; retrying')
          }
        })
      } catch (err) {
        if (!signal.aborted) throw err
        logger.warn({ unsent: chunk, err }, 'stopped while the bus was unreachable')
        break
      }
      done += chunk
      sent += chunk
    }

    const after = Date.now()
    if (after - lastProgress >= PROGRESS_EVERY_MS) {
      const rate = Math.round(((sent - sentAtLastProgress) * 1000) / (after - lastProgress))
      logger.info({ sent, ratePerS: rate }, 'progress')
      lastProgress = after
      sentAtLastProgress = sent
    }
  }

  const seconds = (Date.now() - started) / 1000
  logger.info({ sent, seconds: Math.round(seconds * 1000) / 1000 }, 'producer stopped')
  return { sent, seconds }
}
