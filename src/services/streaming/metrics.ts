// What the streaming service counts, as Prometheus metrics (never parsed out of logs).
import { Counter, Gauge, Histogram, type Registry } from 'prom-client'

export class StreamingMetrics {
  readonly consumed: Counter
  readonly stored: Counter
  readonly duplicates: Counter
  readonly deadLettered: Counter
  readonly deadLettersTruncated: Counter
  readonly retries: Counter<'dependency'>
  readonly cacheRepairs: Counter<'scope'>
  readonly cacheDegraded: Gauge
  readonly batchSize: Histogram
  readonly batchSeconds: Histogram
  readonly endToEndSeconds: Histogram
  readonly lastBatchAt: Gauge
  readonly lag: Gauge
  /** asked at every scrape; set once the service knows its group and topic */
  lagProbe: (() => Promise<number>) | undefined

  constructor(registry: Registry) {
    const registers = [registry]
    this.consumed = new Counter({ name: 'sensorstream_consumed_total', help: 'records taken from the topic', registers })
    this.stored = new Counter({ name: 'sensorstream_stored_total', help: 'readings newly stored in Postgres', registers })
    this.duplicates = new Counter({ name: 'sensorstream_duplicates_total', help: 'valid readings already stored (replays, duplicates)', registers })
    this.deadLettered = new Counter({ name: 'sensorstream_dead_lettered_total', help: 'invalid records sent to the dead-letter topic', registers })
    this.deadLettersTruncated = new Counter({
      name: 'sensorstream_dead_letters_truncated_total',
      help: 'dead letters cut to fit the dead-letter topic (headers say the original size and sha256)',
      registers
    })
    this.retries = new Counter({
      name: 'sensorstream_dependency_retries_total',
      help: 'failed attempts to reach a dependency that were retried',
      labelNames: ['dependency'],
      registers
    })
    this.cacheRepairs = new Counter({
      name: 'sensorstream_cache_repairs_total',
      help: 'repairs of the latest values from Postgres (scope: the sensors an outage touched, or all)',
      labelNames: ['scope'],
      registers
    })
    this.cacheDegraded = new Gauge({
      name: 'sensorstream_cache_degraded',
      help: '1 while the latest values cache is unavailable or waits for a repair from Postgres, else 0',
      registers
    })
    this.batchSize = new Histogram({
      name: 'sensorstream_batch_records',
      help: 'records per handled batch',
      buckets: [1, 10, 100, 500, 1000, 2000, 5000, 10000, 20000],
      registers
    })
    this.batchSeconds = new Histogram({
      name: 'sensorstream_batch_duration_seconds',
      help: 'time to decode, store, cache and publish one batch',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers
    })
    this.endToEndSeconds = new Histogram({
      name: 'sensorstream_end_to_end_delay_seconds',
      help: 'from the Kafka record time to stored and cached',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers
    })
    this.lastBatchAt = new Gauge({ name: 'sensorstream_last_batch_timestamp_seconds', help: 'when the last batch was committed', registers })
    const probe = (): Promise<number> | undefined => this.lagProbe?.().catch(() => -1)
    this.lag = new Gauge({
      name: 'sensorstream_consumer_lag_records',
      help: 'records in the topic not yet committed by the consumer group (-1: the bus did not answer)',
      registers,
      async collect() {
        const lag = await probe()
        if (lag !== undefined) this.set(lag)
      }
    })
  }
}
