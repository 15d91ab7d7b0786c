// Item 5: end-to-end delay at a steady rate. The producer (the CLI) sends `rate` readings/s for
// 1,000 sensors; the streaming service and the API run as users run them. Probe readings, each for a
// sensor of its own, are published 20 times a second with the same Kafka client settings as the
// producer (idempotent, acks=all); a probe's delay is from just before its publish until GET
// /recent/:id answers with it (polled every 5 ms).
import { KafkaBusPublisher } from '../../src/adapters/bus/kafka.ts'
import { encodeReading } from '../../src/domain/wire.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { startApiCli } from './api.ts'
import { startCli } from './child.ts'
import type { Bench } from './context.ts'
import { percentile } from './stats.ts'
import { sleep, until } from './wait.ts'

const PROBES_PER_S = 20
const POLL_MS = 5
const PROBE_TIMEOUT_MS = 10_000

export interface DelayRun {
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
  readonly probes: number
}

export async function measureDelay(bench: Bench, windows: number, seconds: number, rate: number, cliPath?: string): Promise<DelayRun[]> {
  const topic = bench.name('steady')
  const prefix = `${bench.name('steady')}:`
  const databaseUrl = await bench.database('steady')
  const env = bench.env({
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: bench.name('steady-group'),
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: prefix
  })
  const streaming = startCli('streaming', env, cliPath)
  const consuming = streaming.logged('consuming')
  consuming.catch(() => undefined)
  const producer = startCli('producer', { ...env, PRODUCER_SENSORS: '1000', PRODUCER_RATE: String(rate) })
  const api = await startApiCli(bench, databaseUrl, prefix)
  const publisher = new KafkaBusPublisher({ brokers: [bench.services.kafka.brokers], clientId: 'bench-probe', logger: createLogger('silent') })
  try {
    await consuming
    await publisher.connect()
    // Warm-up: the steady stream is flowing through to Redis before the first window.
    await until('the steady stream to reach the API', async () => (await fetch(`${api.url}/recent/sensor-1`)).status === 200, {
      timeoutMs: 60_000,
      everyMs: 100,
      child: streaming
    })
    await sleep(2_000)
    const runs: DelayRun[] = []
    let probe = 0
    for (let w = 0; w < windows; w++) {
      const delays: number[] = []
      const pending: Promise<void>[] = []
      const end = Date.now() + seconds * 1000
      while (Date.now() < end) {
        const sensorId = `probe-${process.pid}-${++probe}`
        pending.push(measureOne(publisher, topic, api.url, sensorId).then((ms) => void delays.push(ms)))
        await sleep(1000 / PROBES_PER_S)
      }
      await Promise.all(pending)
      delays.sort((a, b) => a - b)
      runs.push({ p50Ms: percentile(delays, 50), p99Ms: percentile(delays, 99), maxMs: delays[delays.length - 1] ?? Number.NaN, probes: delays.length })
      bench.progress(
        `  delay window ${w + 1}/${windows}: p50 ${runs[w]?.p50Ms.toFixed(1)} ms, p99 ${runs[w]?.p99Ms.toFixed(1)} ms over ${delays.length} probes`
      )
    }
    return runs
  } finally {
    await publisher.close()
    await producer.stop()
    await streaming.stop()
    await api.stop()
  }
}

async function measureOne(publisher: KafkaBusPublisher, topic: string, apiUrl: string, sensorId: string): Promise<number> {
  const timestamp = Math.floor(Date.now()) / 1000
  const started = performance.now()
  await publisher.publish([{ topic, key: sensorId, value: encodeReading({ sensor_id: sensorId, value: 1, timestamp }) }])
  const deadline = started + PROBE_TIMEOUT_MS
  for (;;) {
    const response = await fetch(`${apiUrl}/recent/${sensorId}`)
    if (response.status === 200) {
      const body = (await response.json()) as { timestamp: number }
      if (body.timestamp === timestamp) return performance.now() - started
    } else {
      await response.arrayBuffer()
    }
    if (performance.now() > deadline) throw new Error(`probe ${sensorId} not visible after ${PROBE_TIMEOUT_MS} ms`)
    await sleep(POLL_MS)
  }
}
