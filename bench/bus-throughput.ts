// Bus throughput: publish 100,000 small JSON readings (100 keys) in calls of 1,000 with acks=all,
// then consume them with batches of up to 5,000; three rounds, median reported.
// Usage: node bench/bus-throughput.ts [--memory]   (KAFKA_BROKERS=host:port, or a throwaway broker)
import { startKafka, type KafkaServer } from '../dev/kafka.ts'
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../src/adapters/bus/kafka.ts'
import { MemoryBus } from '../src/adapters/bus/memory.ts'
import { createLogger } from '../src/platform/logger.ts'
import type { BusAdmin, BusConsumer, BusPublisher, OutgoingRecord } from '../src/ports/bus.ts'

const RECORDS = 100_000
const KEYS = 100
const PUBLISH_CALL = 1_000
const MAX_BATCH = 5_000
const ROUNDS = 3
const PARTITIONS = 3

const logger = createLogger(process.env.LOG_LEVEL ?? 'warn')
const useMemory = process.argv.includes('--memory')
let server: KafkaServer | undefined
let bus: { publisher: BusPublisher; admin: BusAdmin; consumer: () => BusConsumer }
if (useMemory) {
  const memory = new MemoryBus({ retainRecordsPerPartition: RECORDS })
  bus = { publisher: memory.publisher(), admin: memory.admin(), consumer: () => memory.consumer() }
} else {
  const brokers = process.env.KAFKA_BROKERS ?? (server = await startKafka()).brokers
  const options = { brokers: brokers.split(','), clientId: 'bench', logger }
  bus = { publisher: new KafkaBusPublisher(options), admin: new KafkaBusAdmin(options), consumer: () => new KafkaBusConsumer(options) }
}

function readings(topic: string): OutgoingRecord[] {
  const now = Date.now() / 1000
  return Array.from({ length: RECORDS }, (_, i) => {
    const sensor = `sensor-${String(i % KEYS).padStart(4, '0')}`
    // ~80 bytes, like the producer's wire format
    const value = JSON.stringify({ sensor_id: sensor, value: Math.round(Math.random() * 1e8) / 1e6, timestamp: Math.round((now + i / 1000) * 1000) / 1000 })
    return { topic, key: sensor, value }
  })
}

const publishRates: number[] = []
const consumeRates: number[] = []
try {
  await bus.publisher.connect()
  await bus.admin.connect()
  for (let round = 1; round <= ROUNDS; round++) {
    const topic = `bench_bus_${Date.now().toString(36)}_${round}`
    await bus.admin.ensureTopics([{ name: topic, partitions: PARTITIONS, replicationFactor: 1 }])
    const records = readings(topic)
    const bytes = records.reduce((sum, r) => sum + String(r.value).length, 0) / RECORDS
    await bus.publisher.publish(records.slice(0, 10)) // warm up: metadata and producer id
    const t0 = performance.now()
    for (let i = 10; i < RECORDS; i += PUBLISH_CALL) await bus.publisher.publish(records.slice(i, Math.min(RECORDS, i + PUBLISH_CALL)))
    const publishMs = performance.now() - t0
    publishRates.push((RECORDS - 10) / (publishMs / 1000))

    const consumer = bus.consumer()
    let received = 0
    let first = 0
    let last = 0
    let maxBatch = 0
    consumer.subscribe({ topics: [topic], groupId: `${topic}_g`, maxBatchRecords: MAX_BATCH, maxBatchWaitMs: 100 })
    const done = (async () => {
      while (received < RECORDS) {
        const batch = await consumer.next()
        if (batch === undefined) return
        if (received === 0) first = performance.now()
        received += batch.records.length
        maxBatch = Math.max(maxBatch, batch.records.length)
        last = performance.now()
        batch.ack()
      }
    })()
    const c0 = performance.now()
    await done
    await consumer.close()
    const consumeMs = last - first
    consumeRates.push(received / (consumeMs / 1000))
    console.log(
      `round ${round}: ${bytes.toFixed(0)} B/record; publish ${(publishMs / 1000).toFixed(2)} s = ${Math.round(publishRates.at(-1) ?? 0)} rec/s; ` +
        `consume ${(consumeMs / 1000).toFixed(2)} s = ${Math.round(consumeRates.at(-1) ?? 0)} rec/s (first batch after ${Math.round(first - c0)} ms, largest batch ${maxBatch})`
    )
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  console.log(`median of ${ROUNDS}: publish ${Math.round(median(publishRates))} records/s, consume ${Math.round(median(consumeRates))} records/s`)
} finally {
  await bus.publisher.close()
  await bus.admin.close()
  await server?.dispose()
}
