// Poison pills on a real broker: invalid records near the broker's message size limit, several in
// one batch, between valid readings of the same partition. A dead letter must never stop its
// partition: every valid reading behind them is stored and each poison record is dead-lettered once.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { KafkaBusAdmin } from '../../src/adapters/bus/kafka.ts'
import { freshDatabase, useKafka, useRedis } from '../harness/index.ts'
import { caughtUp, readTopic, rowCount, sendRaw, startCli, streamingSetup, waitFor } from './support.ts'

/** Kafka's default `max.message.bytes`: the largest record batch a topic takes. */
const BROKER_LIMIT = 1_048_588

test('invalid records near the broker limit, several in one batch: the partition moves on, each dead-lettered once', async () => {
  const [kafka, redis, databaseUrl] = await Promise.all([useKafka(), useRedis(), freshDatabase('poison')])
  const s = streamingSetup({ brokers: kafka.brokers, redisUrl: redis.url, databaseUrl })
  // The topic exists before anything is consumed, so the consumer finds the poison already queued
  // and takes several of them into one batch.
  const admin = new KafkaBusAdmin({ brokers: [kafka.brokers], clientId: 'poison-test', logger: createLogger('silent') })
  await admin.ensureTopics([{ name: s.topic, partitions: 6, replicationFactor: 1 }])
  await admin.close()

  const key = 'sensor-poison'
  const t0 = 1_700_000_000
  let n = 0
  const valid = (count: number): { key: string; value: string }[] =>
    Array.from({ length: count }, () => ({ key, value: JSON.stringify({ sensor_id: key, value: n, timestamp: t0 + n++ }) }))
  // ~900 KB each: accepted by the broker alone, far over the limit together.
  const poison = Array.from({ length: 5 }, (_, i) => `{"sensor_id":"${key}","value":"${String(i).repeat(900_000)}"}`)
  // Just under the limit alone, so over it once the dead-letter headers are added: truncated.
  const huge = 'x'.repeat(BROKER_LIMIT - 200)
  // One send per poison record: each is a record batch of its own, as a real producer would send it.
  await sendRaw(kafka.brokers, s.topic, valid(20))
  for (const value of [...poison, huge]) {
    await sendRaw(kafka.brokers, s.topic, [{ key, value }])
    await sendRaw(kafka.brokers, s.topic, valid(20))
  }
  const expectedRows = n

  const metricsPort = await freePort()
  const streaming = startCli('streaming', { ...s.env, METRICS_PORT: String(metricsPort), BATCH_MAX_WAIT_MS: '2000' })
  try {
    const outcome = await waitFor(
      'every valid reading stored and the offsets committed',
      async () => {
        if (streaming.child.exitCode !== null) return 'exited'
        return (await rowCount(databaseUrl)) === expectedRows && (await caughtUp(kafka.brokers, s.group, s.topic)) && 'done'
      },
      90_000
    )
    assert.equal(outcome, 'done', `streaming exited with ${streaming.child.exitCode}:\n${streaming.output().slice(-3000)}`)

    // One more than expected is asked for: a duplicate would show up within the timeout.
    const dead = await readTopic(kafka.brokers, s.dlq, poison.length + 2, 10_000)
    assert.equal(dead.length, poison.length + 1, 'each poison record dead-lettered exactly once')
    assert.equal(new Set(dead.map((d) => d.headers.get('dlq-source-offset'))).size, dead.length, 'distinct source offsets')
    for (const value of poison)
      assert.ok(
        dead.some((d) => d.value === value),
        'a ~900 KB poison record is dead-lettered whole'
      )
    const truncated = dead.filter((d) => d.headers.get('dlq-truncated') !== undefined)
    assert.equal(truncated.length, 1, 'only the one too large for the dead-letter topic is truncated')
    const [cut] = truncated as [(typeof dead)[number]]
    assert.equal(cut.headers.get('dlq-original-bytes'), String(huge.length))
    assert.equal(cut.headers.get('dlq-original-sha256'), createHash('sha256').update(huge).digest('hex'))
    assert.ok(cut.value !== null && cut.value.length < huge.length && huge.startsWith(cut.value), 'the value is a prefix of the original')
    assert.match(cut.headers.get('dlq-error') ?? '', /not JSON/)

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1])
    assert.equal(metric('sensorstream_dead_lettered_total'), poison.length + 1)
    assert.equal(metric('sensorstream_dead_letters_truncated_total'), 1)
    assert.equal(metric('sensorstream_stored_total'), expectedRows)
    assert.equal(await streaming.stop(), 0, streaming.output())
  } finally {
    if (streaming.child.exitCode === null) await streaming.kill()
  }
})
