import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { after, test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { startKafka, type KafkaServer } from './kafka.ts'

const servers: KafkaServer[] = []
after(async () => {
  for (const server of servers) await server.dispose()
})

async function topicPartitions(brokers: string, topic: string): Promise<number | undefined> {
  const admin = new Admin({ clientId: 'kafka-launcher-test', bootstrapBrokers: [brokers], retries: 20, retryDelay: 250 })
  try {
    const metadata = await admin.metadata({ topics: [topic], forceUpdate: true })
    return metadata.topics.get(topic)?.partitionsCount
  } finally {
    await admin.close()
  }
}

test('a Kafka broker starts, answers, stops, is killed and starts again with its topics', async () => {
  const kafka = await startKafka()
  servers.push(kafka)
  assert.equal(kafka.brokers, `127.0.0.1:${kafka.port}`)
  assert.ok(kafka.pid !== undefined)

  const admin = new Admin({ clientId: 'kafka-launcher-test', bootstrapBrokers: [kafka.brokers] })
  try {
    await admin.createTopics({ topics: ['launcher-test'], partitions: 3, replicas: 1 })
  } finally {
    await admin.close()
  }
  assert.equal(await topicPartitions(kafka.brokers, 'launcher-test'), 3)

  await kafka.stop()
  assert.equal(kafka.pid, undefined)
  await kafka.start()
  assert.equal(await topicPartitions(kafka.brokers, 'launcher-test'), 3)

  await kafka.kill()
  assert.equal(kafka.pid, undefined)
  await kafka.start()
  assert.equal(await topicPartitions(kafka.brokers, 'launcher-test'), 3)

  await kafka.dispose()
  assert.equal(existsSync(kafka.dataDir), false)
})
