// `sensorstream replay` and `sensorstream dlq list|replay` on real Kafka, Postgres and Redis, run
// as the real CLI: readings are first stored by the streaming service, then the tools run over them.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { after, before, test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { Redis } from 'ioredis'
import { KafkaBusAdmin } from '../../src/adapters/bus/kafka.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { freshDatabase, uniqueName, useKafka, useRedis, type KafkaServer, type RedisServer } from '../harness/index.ts'
import { caughtUp, readTopic, sendRaw, sql, startCli, waitFor, type RawRecord } from './support.ts'

const CLI = fileURLToPath(new URL('../../src/cli.ts', import.meta.url))

let kafka: KafkaServer
let redisServer: RedisServer
let redis: Redis

before(async () => {
  ;[kafka, redisServer] = await Promise.all([useKafka(), useRedis()])
  redis = new Redis(redisServer.url)
  redis.on('error', () => {}) // the harness stops Redis when the file ends
})
after(() => redis.disconnect())

interface Setup {
  readonly env: Record<string, string>
  readonly topic: string
  readonly dlq: string
  readonly group: string
  readonly prefix: string
  readonly db: string
}

async function setup(): Promise<Setup> {
  const topic = uniqueName('replay')
  const dlq = `${topic}.dlq`
  const group = uniqueName('group')
  const prefix = `${uniqueName('replay')}:`
  const db = await freshDatabase('replay')
  // Created and led before the first send: a send racing the topic's creation may be retried into duplicates.
  const admin = new KafkaBusAdmin({ brokers: [kafka.brokers], clientId: 'replay-test', logger: createLogger('silent') })
  try {
    await admin.ensureTopics([topic, dlq].map((name) => ({ name, partitions: 3, replicationFactor: 1 })))
  } finally {
    await admin.close()
  }
  const env = {
    KAFKA_BROKERS: kafka.brokers,
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: dlq,
    KAFKA_GROUP_ID: group,
    KAFKA_PARTITIONS: '3',
    DATABASE_URL: db,
    REDIS_URL: redisServer.url,
    REDIS_KEY_PREFIX: prefix,
    BATCH_MAX_WAIT_MS: '50',
    BATCH_MAX_ROWS: '100'
  }
  return { env, topic, dlq, group, prefix, db }
}

/** Runs the CLI to its end: exit code and what it printed. */
async function cli(args: readonly string[], env: Record<string, string>, timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code] = (await once(child, 'exit')) as [number | null]
  clearTimeout(timer)
  return { code, stdout, stderr }
}

function reading(i: number, wave: number): string {
  return JSON.stringify({ sensor_id: `sensor-${i % 40}`, value: wave * 1000 + i, timestamp: 1_700_000_000 + wave * 10_000 + i })
}

/** Sends two waves of readings with record times a minute apart, each with invalid records mixed in. */
async function produceWaves(s: Setup, waveTimes: readonly number[], perWave: number): Promise<void> {
  for (const [wave, ms] of waveTimes.entries()) {
    const records: RawRecord[] = []
    for (let i = 0; i < perWave; i++) records.push({ key: `sensor-${i % 40}`, value: reading(i, wave), timestamp: BigInt(ms + i) })
    records.push({ key: 'bad-1', value: '{"sensor_id":"bad-1","value":"NaN"}', headers: { origin: 'test' }, timestamp: BigInt(ms) })
    records.push({ key: 'bad-2', value: 'not json', headers: { origin: 'test' }, timestamp: BigInt(ms) })
    await sendRaw(kafka.brokers, s.topic, records)
  }
}

async function streamAll(s: Setup, expectedRows: number): Promise<void> {
  const streaming = startCli('streaming', s.env)
  try {
    await waitFor('rows stored and offsets committed', async () => (await rows(s)).length === expectedRows && caughtUp(kafka.brokers, s.group, s.topic), 60_000)
  } finally {
    assert.equal(await streaming.stop(), 0, streaming.output().slice(-2000))
  }
}

/** Records in a topic: the sum of its end offsets (nothing is deleted in these tests). */
async function topicSize(topic: string): Promise<number> {
  const admin = new Admin({ clientId: 'replay-test', bootstrapBrokers: [kafka.brokers] })
  try {
    const count = (await admin.metadata({ topics: [topic] })).topics.get(topic)?.partitionsCount ?? 0
    const ends = await admin.listOffsets({
      topics: [{ name: topic, partitions: Array.from({ length: count }, (_, i) => ({ partitionIndex: i, timestamp: -1n })) }]
    })
    return (ends[0]?.partitions ?? []).reduce((sum, p) => sum + Number(p.offset), 0)
  } finally {
    await admin.close()
  }
}

async function rows(s: Setup): Promise<string[]> {
  const r = await sql<{ row: string }>(s.db, `SELECT sensor_id || ' ' || extract(epoch FROM ts)::text || ' ' || value::text AS row FROM sensor_data ORDER BY 1`)
  return r.map((x) => x.row)
}

async function latest(s: Setup): Promise<Record<string, string>> {
  return redis.hgetall(`${s.prefix}latest`)
}

/** Counts in the replay summary line. */
function summary(stdout: string): { read: number; stored: number; duplicates: number; invalid: number } {
  const m = /read (\d+), stored new (\d+), duplicates (\d+), invalid (\d+)/.exec(stdout)
  assert.ok(m, `a summary line in:\n${stdout}`)
  return { read: Number(m[1]), stored: Number(m[2]), duplicates: Number(m[3]), invalid: Number(m[4]) }
}

test('replay from an offset or a time changes nothing over stored data and fills in deleted rows', async () => {
  const s = await setup()
  const waveA = Date.now() - 10 * 60_000
  const waveB = waveA + 60_000
  await produceWaves(s, [waveA, waveB], 150)
  assert.equal(await topicSize(s.topic), 304)
  await streamAll(s, 300)
  const stored = await rows(s)
  const cached = await latest(s)
  assert.equal(await topicSize(s.dlq), 4)

  // Over stored data: nothing changes, nothing is dead-lettered again.
  const again = await cli(['replay', '--from', '0'], s.env)
  assert.equal(again.code, 0, again.stderr)
  assert.deepEqual(summary(again.stdout), { read: 304, stored: 0, duplicates: 300, invalid: 4 })
  assert.deepEqual(await rows(s), stored)
  assert.deepEqual(await latest(s), cached)

  // Rows lost from Postgres come back, from a time (wave A only, then from wave B on).
  await sql(s.db, 'DELETE FROM sensor_data')
  const first = await cli(['replay', '--from', new Date(waveA).toISOString(), '--to', new Date(waveB).toISOString()], s.env)
  assert.equal(first.code, 0, first.stderr)
  assert.deepEqual(summary(first.stdout), { read: 152, stored: 150, duplicates: 0, invalid: 2 })
  const second = await cli(['replay', '--from', new Date(waveB).toISOString()], s.env)
  assert.equal(second.code, 0, second.stderr)
  assert.deepEqual(summary(second.stdout), { read: 152, stored: 150, duplicates: 0, invalid: 2 })
  assert.deepEqual(await rows(s), stored)
  assert.deepEqual(await latest(s), cached, 'the latest values never went backwards')

  // One partition, from an offset: only that partition's rows come back.
  await sql(s.db, 'DELETE FROM sensor_data')
  const one = await cli(['replay', '--from', '0', '--partition', '1'], s.env)
  assert.equal(one.code, 0, one.stderr)
  const partial = summary(one.stdout)
  assert.ok(partial.read > 0 && partial.read < 304, one.stdout)
  assert.equal((await rows(s)).length, partial.stored)
  assert.match(one.stdout, /partition 1: offsets 0 to \d+/)
  assert.doesNotMatch(one.stdout, /partition 0:/)

  assert.equal(await topicSize(s.dlq), 4, 'a replay dead-letters nothing again')
  const bad = await cli(['replay', '--from', 'yesterday'], s.env)
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--from "yesterday"/)
})

test('dlq list shows the dead letters; dlq replay re-sends each matching one once, even run twice at once', async () => {
  const s = await setup()
  await produceWaves(s, [Date.now() - 60_000], 20)
  assert.equal(await topicSize(s.topic), 22)
  await streamAll(s, 20)

  const list = await cli(['dlq', 'list'], s.env)
  assert.equal(list.code, 0, list.stderr)
  const lines = list.stdout.trim().split('\n')
  assert.equal(lines[0], 'partition\toffset\tsource\terror\tkey\tvalue\treplayed')
  assert.equal(lines.length, 4, list.stdout)
  assert.match(list.stdout, new RegExp(`\\t${s.topic}/\\d+/\\d+\\t[^\\t]+\\tbad-2\\tnot json\\t-`))
  assert.match(lines[3] ?? '', /^2 shown; 2 matching of 2 dead letters/)
  const limited = await cli(['dlq', 'list', '--limit', '1', '--where', 'key~^bad-1$'], s.env)
  assert.equal(limited.code, 0, limited.stderr)
  assert.match(limited.stdout, /1 shown; 1 matching of 2/)
  assert.match(limited.stdout, /\tbad-1\t/)

  const dry = await cli(['dlq', 'replay', '--where', 'key~^bad-1$', '--dry-run'], s.env)
  assert.equal(dry.code, 0, dry.stderr)
  assert.match(dry.stdout, /would re-send 1 of 1 matching/)
  assert.equal(await topicSize(s.topic), 22)

  // Two runs at once over both dead letters, then a third: two re-sent in all.
  const [a, b] = await Promise.all([cli(['dlq', 'replay'], s.env), cli(['dlq', 'replay'], s.env)])
  assert.equal(a.code, 0, a.stderr)
  assert.equal(b.code, 0, b.stderr)
  const sent = (text: string): number => Number(/re-sent (\d+) of 2 matching/.exec(text)?.[1] ?? Number.NaN)
  assert.equal(sent(a.stdout) + sent(b.stdout), 2, `${a.stdout}\n${b.stdout}`)
  const third = await cli(['dlq', 'replay'], s.env)
  assert.equal(third.code, 0, third.stderr)
  assert.match(third.stdout, /re-sent 0 of 2 matching dead letters to .*; 2 already re-sent before/)

  assert.equal(await topicSize(s.topic), 24)
  const bad = (await readTopic(kafka.brokers, s.topic, 24)).filter((r) => r.key?.startsWith('bad-') === true)
  assert.deepEqual(bad.map((r) => r.key).sort(), ['bad-1', 'bad-1', 'bad-2', 'bad-2'], 'each re-sent once, beside its original')
  for (const r of bad) {
    assert.equal(r.headers.get('origin'), 'test', 'original headers kept')
    assert.deepEqual(
      [...r.headers.keys()].filter((k) => k.startsWith('dlq-')),
      [],
      'no dlq-* headers'
    )
  }
  const listed = await cli(['dlq', 'list'], s.env)
  assert.doesNotMatch(listed.stdout, /\t-\n/, 'both listed as re-sent')
})
