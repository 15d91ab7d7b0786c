import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { Redis } from 'ioredis'
import pg from 'pg'
import { freshDatabase, uniqueName, useKafka, usePostgres, useRedis } from './index.ts'

test('uniqueName gives distinct names valid for topics, databases and key prefixes', () => {
  const names = new Set(Array.from({ length: 100 }, () => uniqueName('Some-Prefix.x')))
  assert.equal(names.size, 100)
  for (const name of names) assert.match(name, /^some_prefix_x_[a-z0-9_]+$/)
  assert.ok(uniqueName('a'.repeat(100)).length <= 63)
})

test('useX start one instance per file, on first use', async () => {
  const [k1, k2] = await Promise.all([useKafka(), useKafka()])
  assert.equal(k1, k2)
  assert.equal(await usePostgres(), await usePostgres())
  assert.equal(await useRedis(), await useRedis())
})

test('the shared services answer', async () => {
  const kafka = await useKafka()
  const topic = uniqueName('topic')
  const admin = new Admin({ clientId: 'harness-test', bootstrapBrokers: [kafka.brokers] })
  try {
    await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 })
    const metadata = await admin.metadata({ topics: [topic] })
    assert.equal(metadata.topics.get(topic)?.partitionsCount, 2)
  } finally {
    await admin.close()
  }

  const url = await freshDatabase('harness')
  assert.notEqual(url, await freshDatabase('harness'))
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    assert.deepEqual((await client.query('SELECT current_database() = $1 AS ok', [new URL(url).pathname.slice(1)])).rows, [{ ok: true }])
  } finally {
    await client.end()
  }

  const redis = new Redis((await useRedis()).url)
  try {
    const key = `${uniqueName('keys')}:k`
    await redis.set(key, 'v')
    assert.equal(await redis.get(key), 'v')
  } finally {
    redis.disconnect()
  }
})
