// What the end-to-end tests share: the real CLI as a child process, an ordinary Kafka client (not
// this project's adapter) to inject and read records, and polling with a deadline.
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { Admin, Consumer, MessagesStreamModes, Producer, ProduceAcks, stringDeserializers, stringSerializers } from '@platformatic/kafka'
import type { Redis } from 'ioredis'
import pg from 'pg'
import { uniqueName } from '../harness/names.ts'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

export interface CliProcess {
  readonly child: ChildProcess
  /** everything it printed so far (stdout and stderr) */
  output(): string
  /** SIGTERM, then the exit code (fails the test if it takes longer than `withinMs`) */
  stop(withinMs?: number): Promise<number | null>
  kill(): Promise<void>
  exited(): Promise<number | null>
}

/** `detached`: in a process group of its own, as a command in a terminal is (signal it with `-pid`). */
export function startCli(command: string, env: Record<string, string>, options: { detached?: boolean } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, command], {
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'info', METRICS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached === true
  })
  let output = ''
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()))
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()))
  const exit = once(child, 'exit').then(([code]) => code as number | null)
  return {
    child,
    output: () => output,
    exited: () => exit,
    stop: async (withinMs = 10_000) => {
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), withinMs)
      const code = await exit
      clearTimeout(timer)
      if (child.signalCode === 'SIGKILL') throw new Error(`sensorstream ${command} did not stop within ${withinMs} ms:\n${output.slice(-3000)}`)
      return code
    },
    kill: async () => {
      child.kill('SIGKILL')
      await exit
    }
  }
}

export { waitFor } from '../harness/wait.ts'

export interface RawRecord {
  key: string | undefined
  value: string | undefined
  headers?: Record<string, string>
  timestamp?: bigint
}

/** Sends records with a plain @platformatic/kafka producer, as any other Kafka client would. */
export async function sendRaw(brokers: string, topic: string, records: readonly RawRecord[]): Promise<void> {
  const producer = new Producer({ clientId: 'e2e-raw', bootstrapBrokers: brokers.split(','), serializers: stringSerializers })
  try {
    await producer.send({
      acks: ProduceAcks.ALL,
      messages: records.map((r) => ({
        topic,
        ...(r.key === undefined ? {} : { key: r.key }),
        ...(r.value === undefined ? {} : { value: r.value }),
        ...(r.headers === undefined ? {} : { headers: r.headers }),
        ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp })
      }))
    })
  } finally {
    await producer.close()
  }
}

export interface ReadRecord {
  key: string | null
  value: string | null
  headers: Map<string, string>
}

/** Reads a whole topic from the beginning with a throwaway group: exactly `count` records expected. */
export async function readTopic(brokers: string, topic: string, count: number, timeoutMs = 30_000): Promise<ReadRecord[]> {
  const consumer = new Consumer({
    groupId: `e2e-reader-${process.pid}-${Date.now()}`,
    clientId: 'e2e-reader',
    bootstrapBrokers: brokers.split(','),
    deserializers: stringDeserializers,
    autocommit: false,
    maxWaitTime: 200
  })
  const records: ReadRecord[] = []
  try {
    const stream = await consumer.consume({ topics: [topic], mode: MessagesStreamModes.EARLIEST })
    const timer = setTimeout(() => void stream.close(), timeoutMs)
    for await (const m of stream) {
      records.push({ key: m.key ?? null, value: m.value ?? null, headers: new Map(m.headers as Map<string, string>) })
      if (records.length >= count) break
    }
    clearTimeout(timer)
    await stream.close()
  } finally {
    await consumer.close(true)
  }
  return records
}

/** Members of `group` once it is stable (every member has its assignment), else 0. */
export async function stableMembers(brokers: string, group: string): Promise<number> {
  const admin = new Admin({ clientId: 'e2e-admin', bootstrapBrokers: brokers.split(',') })
  try {
    const described = (await admin.describeGroups({ groups: [group] })).get(group)
    return String(described?.state).toUpperCase() === 'STABLE' ? (described?.members.size ?? 0) : 0
  } finally {
    await admin.close()
  }
}

/** End offset and committed offset (-1 if none) of each partition of `topic` for `group`. */
export async function groupOffsets(brokers: string, group: string, topic: string): Promise<{ end: bigint; committed: bigint }[]> {
  const admin = new Admin({ clientId: 'e2e-admin', bootstrapBrokers: brokers.split(',') })
  try {
    const meta = await admin.metadata({ topics: [topic] })
    const partitions = meta.topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: partitions }, (_, i) => ({ partitionIndex: i, timestamp: -1n })) }]
    })
    const committed = await admin.listConsumerGroupOffsets({ groups: [group] })
    const done = new Map<number, bigint>()
    for (const t of committed[0]?.topics ?? []) if (t.name === topic) for (const p of t.partitions) done.set(p.partitionIndex, p.committedOffset)
    return (ends[0]?.partitions ?? []).map((p) => ({ end: p.offset, committed: done.get(p.partitionIndex) ?? -1n }))
  } finally {
    await admin.close()
  }
}

/** Committed offsets of `group` equal the end offsets of every partition of `topic`. */
export async function caughtUp(brokers: string, group: string, topic: string): Promise<boolean> {
  return (await groupOffsets(brokers, group, topic)).every((p) => p.end === 0n || p.committed === p.end)
}

export async function sql<R extends pg.QueryResultRow>(url: string, text: string, params: unknown[] = []): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}

export async function rowCount(url: string): Promise<number> {
  const rows = await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM sensor_data').catch(() => [{ n: '0' }])
  return Number(rows[0]?.n ?? 0)
}

/** Names of one streaming run of its own (topic, DLQ, group, Redis prefix) and the CLI's environment for it. */
export interface Setup {
  env: Record<string, string>
  topic: string
  dlq: string
  group: string
  prefix: string
}

export function streamingSetup(where: { brokers: string; redisUrl: string; databaseUrl: string }): Setup {
  const topic = uniqueName('readings')
  const group = uniqueName('group')
  const prefix = `${uniqueName('e2e')}:`
  const dlq = `${topic}.dlq`
  return {
    topic,
    dlq,
    group,
    prefix,
    env: {
      KAFKA_BROKERS: where.brokers,
      KAFKA_TOPIC: topic,
      KAFKA_DLQ_TOPIC: dlq,
      KAFKA_GROUP_ID: group,
      KAFKA_PARTITIONS: '6',
      DATABASE_URL: where.databaseUrl,
      REDIS_URL: where.redisUrl,
      REDIS_KEY_PREFIX: prefix,
      BATCH_MAX_WAIT_MS: '50'
    }
  }
}

/** Postgres' newest reading per sensor, as the API shape, for comparing with Redis. */
export async function newestInPostgres(url: string): Promise<Map<string, { value: number; timestamp: number }>> {
  const rows = await sql<{ sensor_id: string; value: number; ts: number }>(
    url,
    'SELECT DISTINCT ON (sensor_id) sensor_id, value, extract(epoch FROM ts)::float8 AS ts FROM sensor_data ORDER BY sensor_id, ts DESC'
  )
  return new Map(rows.map((r) => [r.sensor_id, { value: r.value, timestamp: Math.round(r.ts * 1000) / 1000 }]))
}

/** Every sensor in Postgres has its newest reading as its latest value in Redis, and no other sensor is there. */
export async function redisMatchesPostgres(redis: Redis, prefix: string, url: string): Promise<void> {
  const newest = await newestInPostgres(url)
  const latest = await redis.hgetall(`${prefix}latest`)
  const sensors = await redis.smembers(`${prefix}sensors`)
  assert.equal(Object.keys(latest).length, newest.size, 'one latest value per sensor in Postgres')
  assert.deepEqual(new Set(sensors), new Set(newest.keys()))
  for (const [id, expected] of newest) {
    const cached = JSON.parse(latest[id] ?? 'null') as { value: number; timestamp: number } | null
    assert.deepEqual(cached && { value: cached.value, timestamp: cached.timestamp }, expected, `latest value of ${id}`)
  }
}
