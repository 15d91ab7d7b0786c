// The bus contract on a real broker, plus what only Kafka can do: die and come back.
// The bus contract on a real broker, plus what only Kafka can do: die and come back. The file has a
// broker of its own (ownKafka), since the last case kills it.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { busContract, publishUntilStopped, waitFor, withTimeout } from '../../../test/contracts/bus.contract.ts'
import { ownKafka, uniqueName, type KafkaServer } from '../../../test/harness/index.ts'
import { createLogger } from '../../platform/logger.ts'
import type { BusRecord } from '../../ports/bus.ts'
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher, type KafkaBusOptions } from './kafka.ts'
import { consumeEach } from '../../../test/harness/consume.ts'

const logger = createLogger(process.env.LOG_LEVEL ?? 'silent')
let broker: Promise<KafkaServer> | undefined

async function options(): Promise<KafkaBusOptions> {
  broker ??= ownKafka()
  return { brokers: [(await broker).brokers], clientId: uniqueName('bus_test'), logger }
}

busContract('kafka', async () => {
  const publisher = new KafkaBusPublisher(await options())
  const admin = new KafkaBusAdmin(await options())
  await publisher.connect()
  await admin.connect()
  const consumerOptions = await options()
  return {
    publisher,
    admin,
    consumer: () => new KafkaBusConsumer(consumerOptions),
    cleanup: async () => {
      await publisher.close()
      await admin.close()
    }
  }
})

test('kafka: the broker killed and restarted mid-stream loses no record and run() keeps going', async (t) => {
  const topic = uniqueName('bus_outage')
  const kafka = await (broker ??= ownKafka())
  const admin = new KafkaBusAdmin(await options())
  const publisher = new KafkaBusPublisher(await options())
  const consumer = new KafkaBusConsumer(await options())
  t.after(async () => {
    await consumer.close()
    await publisher.close()
    await admin.close()
  })
  await admin.ensureTopics([{ name: topic, partitions: 3, replicationFactor: 1 }])
  const received = new Set<string>()
  const records: BusRecord[] = []
  const run = consumeEach(consumer, { topics: [topic], groupId: `g-${topic}`, maxBatchRecords: 50, maxBatchWaitMs: 50 }, async (batch) => {
    records.push(...batch)
    for (const r of batch) received.add(String(r.value))
  }).done
  let runSettled = false
  run.then(
    () => (runSettled = true),
    () => (runSettled = true)
  )

  const { published, stop } = publishUntilStopped(publisher, topic, 10)

  await waitFor(() => received.size >= 100, 'records before the outage')
  await kafka.kill()
  await new Promise((resolve) => setTimeout(resolve, 2_000))
  await kafka.start()
  const afterRestart = published.length
  await waitFor(() => published.length >= afterRestart + 200, 'publishing to resume', 60_000)
  await stop()
  await waitFor(() => published.every((value) => received.has(value)), 'every published record', 60_000)
  assert.equal(runSettled, false, 'run() is still going')
  // Order per key survives the outage: a redelivery may repeat a stretch, never reorder it, so the
  // first deliveries of each key's records come in publishing order.
  const firstSeen = new Set<string>()
  const lastByKey = new Map<string, number>()
  for (const record of records) {
    const value = String(record.value)
    if (firstSeen.has(value)) continue
    firstSeen.add(value)
    const [n, i] = value.split('-').map(Number) as [number, number]
    assert.ok(n > (lastByKey.get(`k${i}`) ?? -1), `sensor-${i}: ${n} after ${lastByKey.get(`k${i}`)}`)
    lastByKey.set(`k${i}`, n)
  }
  await withTimeout(consumer.close(), 10_000, 'close()')
  await withTimeout(run, 1_000, 'run() to resolve')
})
