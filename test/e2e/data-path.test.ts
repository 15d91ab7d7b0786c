// The data path end to end on real services: the real CLI's producer and streaming processes, a
// throwaway Kafka, Postgres and Redis, and records injected by an ordinary Kafka client.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import pg from 'pg'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import {
  freshDatabase,
  ownPostgres,
  ROLLUP_TABLES,
  rollupMismatches,
  tierMismatches,
  uniqueName,
  useKafka,
  useRedis,
  type KafkaServer,
  type RedisServer
} from '../harness/index.ts'
import {
  caughtUp,
  readTopic,
  redisMatchesPostgres,
  rowCount,
  sendRaw,
  sql,
  stableMembers,
  startCli,
  streamingSetup,
  waitFor,
  type CliProcess,
  type Setup
} from './support.ts'

let kafka: KafkaServer
let redisServer: RedisServer
let redis: Redis

before(async () => {
  ;[kafka, redisServer] = await Promise.all([useKafka(), useRedis()])
  redis = new Redis(redisServer.url)
  redis.on('error', () => {}) // the harness stops Redis when the file ends
})
after(async () => {
  redis.disconnect()
})

function setup(databaseUrl: string): Setup {
  return streamingSetup({ brokers: kafka.brokers, redisUrl: redisServer.url, databaseUrl })
}

async function produce(s: Setup, extra: Record<string, string>): Promise<CliProcess> {
  return startCli('producer', { ...s.env, PRODUCER_SENSORS: '100', ...extra })
}

interface Row {
  sensor_id: string
  value: number
  ts: number
}

async function assertRedisMatchesPostgres(s: Setup, url: string): Promise<void> {
  await redisMatchesPostgres(redis, s.prefix, url)
}

test('10,000 readings from the producer, duplicates, out-of-order and bad records: exactly once in Postgres, newest in Redis, bad in the DLQ', async () => {
  const url = await freshDatabase('e2e')
  const s = setup(url)
  const metricsPort = await freePort()
  const streaming = startCli('streaming', { ...s.env, METRICS_PORT: String(metricsPort) })
  try {
    const producer = await produce(s, { PRODUCER_COUNT: '10000', PRODUCER_RATE: '20000' })
    assert.equal(await producer.exited(), 0, producer.output())
    await waitFor('10,000 rows', async () => (await rowCount(url)) === 10_000)

    const stored = await sql<Row>(url, 'SELECT sensor_id, value, extract(epoch FROM ts)::float8 AS ts FROM sensor_data ORDER BY random() LIMIT 300')
    const [{ min }] = (await sql<{ min: number }>(url, 'SELECT extract(epoch FROM min(ts))::float8 AS min FROM sensor_data')) as [{ min: number }]
    const sensors = Array.from({ length: 100 }, (_, i) => `sensor-${i + 1}`)
    const now = Math.floor(Date.now() / 1000)

    const bad: { value: string | undefined; key?: string; error: RegExp }[] = [
      { value: 'not json at all', error: /not JSON/ },
      { value: undefined, error: /empty message value/ },
      { value: '{"sensor_id":"s1","value":"12.5","timestamp":1700000000}', error: /\/value must be a finite number/ },
      { value: '{"sensor_id":"bad id!","value":1,"timestamp":1700000000}', error: /\/sensor_id must be/ },
      { value: `{"sensor_id":"s1","value":1,"timestamp":${now * 1000}}`, error: /\/timestamp must not be more than one day in the future/ },
      { value: '{"sensor_id":"s1","value":1,"timestamp":946684799}', error: /\/timestamp must not be before 2000/ },
      { value: '[1,2,3]', error: /must be an object/ },
      { value: 'null', error: /must be an object/ },
      { value: '{"value":1,"timestamp":1700000000}', error: /\/sensor_id is required/ },
      { value: JSON.stringify({ sensor_id: 'x'.repeat(5000), value: 1, timestamp: 1700000000 }), error: /\/sensor_id must be/ },
      { value: '{"sensor_id":"s1","value":null,"timestamp":"yesterday"}', error: /\/value must be a finite number; \/timestamp must be a number/ },
      { value: '\u00ff\u00fe{garbage', key: 'garbage', error: /not JSON/ }
    ]
    await sendRaw(kafka.brokers, s.topic, [
      // replays of stored readings with other values: first write wins, nothing changes
      ...stored.map((r) => ({ key: r.sensor_id, value: JSON.stringify({ sensor_id: r.sensor_id, value: r.value + 1000, timestamp: r.ts }) })),
      // an hour older than anything stored: new rows, but never the latest value
      ...sensors.map((id, i) => ({ key: id, value: JSON.stringify({ sensor_id: id, value: -i, timestamp: min - 3600 }) })),
      // no timestamp: the record's time; extra fields: ignored
      { key: 'sensor-notime', value: '{"sensor_id":"sensor-notime","value":7}', timestamp: BigInt(now * 1000) },
      { key: 'sensor-extra', value: `{"sensor_id":"sensor-extra","value":8,"timestamp":${now},"unit":"C","v":2}` },
      ...bad.map((b, i) => ({ key: b.key ?? `bad-${i}`, value: b.value, headers: { origin: 'test' } }))
    ])

    await waitFor('all injected records handled', async () => (await rowCount(url)) === 10_102 && (await caughtUp(kafka.brokers, s.group, s.topic)))
    const dead = await readTopic(kafka.brokers, s.dlq, bad.length)
    assert.equal(dead.length, bad.length)
    for (const [i, b] of bad.entries()) {
      const record = dead.find((d) => d.key === (b.key ?? `bad-${i}`))
      assert.ok(record, `bad record ${i} is in the dead-letter topic`)
      assert.equal(record.value ?? undefined, b.value, 'original value kept')
      assert.match(record.headers.get('dlq-error') ?? '', b.error)
      assert.equal(record.headers.get('dlq-source-topic'), s.topic)
      assert.match(record.headers.get('dlq-source-partition') ?? '', /^\d+$/)
      assert.match(record.headers.get('dlq-source-offset') ?? '', /^\d+$/)
      assert.equal(record.headers.get('origin'), 'test', 'original headers kept')
    }

    // first write wins
    for (const r of stored) {
      const [row] = await sql<{ value: number }>(
        url,
        "SELECT value FROM sensor_data WHERE sensor_id = $1 AND ts = timestamptz 'epoch' + round($2::numeric * 1000)::int8 * interval '1 millisecond'",
        [r.sensor_id, r.ts]
      )
      assert.equal(row?.value, r.value, `value of ${r.sensor_id}@${r.ts} unchanged by a replay`)
    }
    const [notime] = await sql<{ ts: number }>(url, "SELECT extract(epoch FROM ts)::float8 AS ts FROM sensor_data WHERE sensor_id = 'sensor-notime'")
    assert.equal(notime?.ts, now, 'a reading without timestamp takes the Kafka record time')
    await assertRedisMatchesPostgres(s, url)

    const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()
    const metric = (name: string): number => Number(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(metrics)?.[1])
    assert.equal(metric('sensorstream_stored_total'), 10_102)
    assert.equal(metric('sensorstream_duplicates_total'), stored.length)
    assert.equal(metric('sensorstream_dead_lettered_total'), bad.length)
    assert.equal(metric('sensorstream_consumed_total'), 10_102 + stored.length + bad.length)
    assert.equal(metric('sensorstream_consumer_lag_records'), 0)

    assert.equal(await streaming.stop(), 0, streaming.output())
    assert.ok(await caughtUp(kafka.brokers, s.group, s.topic), 'offsets committed up to the end')
  } finally {
    if (streaming.child.exitCode === null) await streaming.kill()
  }
})

/** Every rollup tier, stored and as the queries read it, against the raw rows (test/harness/rollups.ts). */
async function assertRollupsExact(url: string): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 1 })
  try {
    for (const table of ROLLUP_TABLES) {
      assert.deepEqual(await rollupMismatches(pool, table), [], table)
      assert.deepEqual(await tierMismatches(pool, table), [], `${table} with its open buckets`)
    }
  } finally {
    await pool.end()
  }
}

test('SIGTERM while the rollup closer waits for a writer in flight: streaming stops at once, nothing closed', async () => {
  const url = await freshDatabase('e2e')
  const s = setup(url)
  // the schema, a watermark three hours back (hours to close), and a "writer" holding the closing lock
  const pre = startCli('migrate', { DATABASE_URL: url })
  assert.equal(await pre.exited(), 0, pre.output())
  const [{ w: before }] = (await sql<{ w: string }>(
    url,
    "UPDATE rollup_watermark SET (closed_until, minutes_closed_until, minutes_complete_until) = (SELECT t, t, t FROM date_bin('1 hour', now() - interval '3 hours', timestamptz 'epoch') AS t) RETURNING closed_until::text || minutes_closed_until::text AS w"
  )) as [{ w: string }]
  const holder = new pg.Client({ connectionString: url })
  await holder.connect()
  const streaming = startCli('streaming', s.env)
  try {
    await holder.query('BEGIN')
    await holder.query('SELECT sensorstream_rollup_watermarks()')
    await waitFor(
      'the closer to wait for the lock',
      async () => (await sql<{ n: string }>(url, "SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"))[0]?.n === '1',
      60_000
    )
    const started = Date.now()
    assert.equal(await streaming.stop(10_000), 0, streaming.output())
    const ms = Date.now() - started
    assert.ok(ms < 5_000, `stopped in ${ms} ms`)
    await holder.query('COMMIT')
    const [{ w }] = (await sql<{ w: string }>(url, 'SELECT closed_until::text || minutes_closed_until::text AS w FROM rollup_watermark')) as [{ w: string }]
    assert.equal(w, before, 'nothing closed')
  } finally {
    if (streaming.child.exitCode === null) await streaming.kill()
    await holder.end()
  }
})

test('streaming killed with SIGKILL mid-stream and restarted: nothing lost, nothing doubled', async () => {
  const url = await freshDatabase('e2e')
  const s = setup(url)
  let streaming = startCli('streaming', s.env)
  const producer = await produce(s, { PRODUCER_COUNT: '30000', PRODUCER_RATE: '5000' })
  try {
    await waitFor('some rows stored', async () => (await rowCount(url)) > 3_000)
    await streaming.kill()
    const atKill = await rowCount(url)
    assert.ok(atKill < 30_000, 'killed mid-stream')
    streaming = startCli('streaming', s.env)
    assert.equal(await producer.exited(), 0, producer.output())
    await waitFor('30,000 rows', async () => (await rowCount(url)) === 30_000 && (await caughtUp(kafka.brokers, s.group, s.topic)), 90_000)
    const [{ n }] = (await sql<{ n: string }>(url, 'SELECT count(DISTINCT (sensor_id, ts)) AS n FROM sensor_data')) as [{ n: string }]
    assert.equal(Number(n), 30_000)
    await assertRedisMatchesPostgres(s, url)
    await assertRollupsExact(url)
    assert.equal(await streaming.stop(), 0, streaming.output())
  } finally {
    for (const p of [streaming, producer]) if (p.child.exitCode === null) await p.kill()
  }
})

test('Postgres stopped for a few seconds mid-stream: the service waits, resumes, loses nothing', async () => {
  const postgres = await ownPostgres()
  const url = await postgres.createDatabase(uniqueName('e2e'))
  const s = setup(url)
  const streaming = startCli('streaming', s.env)
  const producer = await produce(s, { PRODUCER_COUNT: '20000', PRODUCER_RATE: '4000' })
  try {
    await waitFor('some rows stored', async () => (await rowCount(url)) > 2_000)
    await postgres.stop()
    await waitFor('the service to find Postgres gone and retry', () => /write failed; retrying/.test(streaming.output()), 30_000)
    assert.equal(streaming.child.exitCode, null, 'streaming is still running while Postgres is down')
    await postgres.start()
    assert.equal(await producer.exited(), 0, producer.output())
    await waitFor('20,000 rows', async () => (await rowCount(url)) === 20_000 && (await caughtUp(kafka.brokers, s.group, s.topic)), 90_000)
    await assertRedisMatchesPostgres(s, url)
    assert.match(streaming.output(), /write failed; retrying/)
    assert.equal(await streaming.stop(), 0, streaming.output())
  } finally {
    for (const p of [streaming, producer]) if (p.child.exitCode === null) await p.kill()
  }
})

test('two streaming instances in one group share the partitions: each stores part, together exactly all', async () => {
  const url = await freshDatabase('e2e')
  const s = setup(url)
  const ports = [await freePort(), await freePort()]
  const instances = ports.map((port) => startCli('streaming', { ...s.env, METRICS_PORT: String(port) }))
  try {
    // produce only once both have joined: before that one member may take every partition
    await waitFor('both instances in the group', async () => (await stableMembers(kafka.brokers, s.group)) === 2, 60_000)
    const producer = await produce(s, { PRODUCER_COUNT: '20000', PRODUCER_RATE: '5000' })
    assert.equal(await producer.exited(), 0, producer.output())
    await waitFor('20,000 rows', async () => (await rowCount(url)) === 20_000 && (await caughtUp(kafka.brokers, s.group, s.topic)), 90_000)
    const stored = await Promise.all(
      ports.map(async (port) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
        return Number(/^sensorstream_stored_total\{[^}]*\} (\S+)$/m.exec(text)?.[1])
      })
    )
    assert.ok(
      stored.every((n) => n > 0),
      `each instance stored some: ${stored.join(', ')}`
    )
    assert.equal((stored[0] ?? 0) + (stored[1] ?? 0), 20_000, 'and together exactly all')
    await assertRedisMatchesPostgres(s, url)
    for (const instance of instances) assert.equal(await instance.stop(), 0, instance.output())
  } finally {
    for (const p of instances) if (p.child.exitCode === null) await p.kill()
  }
})
