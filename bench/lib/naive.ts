// Item 2: the seed's design. One message at a time: one INSERT and one Redis SET, each awaited,
// on a 5-connection pool, offsets auto-committed by the client (as rdkafka's default). The table is
// sensorstream's (same unique key, same partitions, made before it starts), so the INSERT says
// ON CONFLICT DO NOTHING.
import { Consumer, MessagesStreamFallbackModes, MessagesStreamModes } from '@platformatic/kafka'
import { Redis } from 'ioredis'
import pg from 'pg'
import type { Bench } from './context.ts'
import type { ProducedTopic } from './ingest.ts'
import { migrateFor } from './schema.ts'

const DAY_MS = 86_400_000
const INSERT = 'INSERT INTO sensor_data (sensor_id, value, ts) VALUES ($1, $2, to_timestamp($3)) ON CONFLICT (sensor_id, ts) DO NOTHING'

/** Readings per second over `limit` messages, timed from the first message received to the last one written. */
export async function naive(bench: Bench, topic: ProducedTopic, limit: number): Promise<number> {
  const databaseUrl = await bench.database('naive')
  // the partitions of the topic's days, which sensorstream's store would make on demand
  await migrateFor(databaseUrl, bench.startedAt - DAY_MS, Date.now() + DAY_MS)
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 5 })
  const redis = new Redis(bench.services.redis.url)
  const prefix = `${bench.name('naive')}:`
  const consumer = new Consumer({
    groupId: bench.name('naive-group'),
    clientId: 'bench-naive',
    bootstrapBrokers: [bench.services.kafka.brokers],
    autocommit: 1_000,
    maxWaitTime: 100
  })
  let done = 0
  let started = 0
  try {
    const stream = await consumer.consume({ topics: [topic.topic], mode: MessagesStreamModes.COMMITTED, fallbackMode: MessagesStreamFallbackModes.EARLIEST })
    for await (const message of stream) {
      if (done === 0) started = performance.now()
      const reading = JSON.parse((message.value as Buffer).toString('utf8')) as { sensor_id: string; value: number; timestamp: number }
      await pool.query(INSERT, [reading.sensor_id, reading.value, reading.timestamp])
      await redis.set(`${prefix}${reading.sensor_id}`, JSON.stringify(reading))
      if (++done >= limit) break
    }
    const seconds = (performance.now() - started) / 1000
    return done / seconds
  } finally {
    await consumer.close(true).catch(() => undefined)
    await pool.end()
    redis.disconnect()
  }
}
