// `sensorstream producer` on a three-node KRaft cluster (replication factor 3, min.insync.replicas 2)
// while partition leaders are killed: every reading lands in the topic exactly once (issue 11).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { waitFor } from '../../../test/contracts/bus.contract.ts'
import { uniqueName, useKafkaCluster } from '../../../test/harness/index.ts'
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher } from '../../adapters/bus/kafka.ts'
import { loadConfig } from '../../platform/config.ts'
import { createLogger } from '../../platform/logger.ts'
import { runProducer } from './run.ts'
import { consumeEach } from '../../../test/harness/consume.ts'

const logger = createLogger(process.env.LOG_LEVEL ?? 'silent')
const COUNT = Number(process.env.FAULTS_COUNT ?? 100_000)
/** How long a killed leader stays down: beyond the broker session timeout, so that its partitions move. */
const DOWN_MS = Number(process.env.FAULTS_DOWN_MS ?? 12_000)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

test('producer: partition leaders killed twice mid-stream, every reading in Kafka exactly once', async (t) => {
  // Kafka's default session timeout: a killed leader keeps its partitions for 9 s, longer than one
  // send's retries in the client.
  const kafka = await useKafkaCluster({ brokers: 3, brokerSessionTimeoutMs: 9_000 })
  const topic = uniqueName('producer_faults')
  const config = loadConfig({
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_PARTITIONS: '6',
    KAFKA_REPLICATION_FACTOR: '3',
    PRODUCER_SENSORS: '1000',
    PRODUCER_RATE: process.env.FAULTS_RATE ?? '4000',
    PRODUCER_COUNT: String(COUNT)
  })
  const options = (name: string) => ({ brokers: kafka.bootstrap, clientId: uniqueName(name), logger })
  const admin = new KafkaBusAdmin(options('faults_admin'))
  const publisher = new KafkaBusPublisher(options('faults_producer'))
  const reader = new KafkaBusConsumer(options('faults_reader'))
  t.after(async () => {
    await reader.close()
    await publisher.close()
    await admin.close()
  })
  await admin.ensureTopics([{ name: topic, partitions: 6, replicationFactor: 3 }])

  const stop = new AbortController()
  const producing = runProducer({ publisher, admin }, config, logger, stop.signal)
  const injected: string[] = []
  for (const [at, partition] of [
    [3_000, 0],
    [4_000, 3]
  ] as const) {
    await sleep(at)
    const leader = await kafka.partitionLeader(topic, partition)
    await kafka.node(leader).kill()
    injected.push(`SIGKILL node ${leader} (leader of partition ${partition})`)
    await sleep(DOWN_MS)
    await kafka.node(leader).start()
  }
  const result = await producing
  assert.equal(result.sent, COUNT)

  // Read the whole topic back and count the records of each (sensor_id, ts).
  const inTopic = await admin.consumerLag(uniqueName('nobody'), topic)
  const seen = new Map<string, number>()
  let records = 0
  const reading = consumeEach(reader, { topics: [topic], groupId: uniqueName('faults_read'), maxBatchRecords: 5_000, maxBatchWaitMs: 50 }, async (batch) => {
    for (const r of batch) {
      const { sensor_id: sensor, timestamp } = JSON.parse(String(r.value)) as { sensor_id: string; timestamp: number }
      const id = `${sensor}@${timestamp}`
      seen.set(id, (seen.get(id) ?? 0) + 1)
    }
    records += batch.length
  }).done
  await waitFor(() => records >= inTopic, `${inTopic} records read back`, 60_000)
  await reader.close()
  await reading
  const duplicates = [...seen.values()].reduce((sum, n) => sum + n - 1, 0)
  t.diagnostic(`${injected.join('; ')}: ${COUNT} produced, ${inTopic} records in the topic, ${seen.size} distinct, ${duplicates} duplicates`)
  assert.equal(seen.size, COUNT, 'every reading is in the topic')
  assert.equal(duplicates, 0, 'no reading is in the topic twice')
})
