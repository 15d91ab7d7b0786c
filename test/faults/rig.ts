// The fault suite's rig: throwaway Kafka, Postgres and Redis of the scenario's own (so faults can stop,
// kill and restart them), the real CLI's streaming processes, a workload the test knows exactly, and
// the account at the end: every produced (sensor_id, ts) stored once with its first value, every
// sensor's latest in Redis its newest reading, every rollup bucket the aggregate of its raw rows.
import assert from 'node:assert/strict'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { setTimeout as delay } from 'node:timers/promises'
import type { TestContext } from 'node:test'
import { Admin, Producer, ProduceAcks, stringSerializers } from '@platformatic/kafka'
import { Redis } from 'ioredis'
import { ownKafka, ownPostgres, ownRedis, uniqueName, type KafkaServer, type PostgresServer, type RedisServer } from '../harness/index.ts'
import { caughtUp, rowCount, sql, startCli, waitFor, type CliProcess } from '../e2e/support.ts'
import { Workload } from './workload.ts'

export const PARTITIONS = 6

export interface RigOptions {
  /** a Kafka the scenario brings itself (a cluster); default: a single broker of the rig's own */
  readonly kafka?: { readonly brokers: string; readonly replicationFactor: number }
  /** extra environment for every streaming instance */
  readonly env?: Record<string, string>
}

export interface Injected {
  readonly what: string
  /** ms from the fault's end until rows were being stored again */
  recoveryMs?: number
}

export class Rig {
  readonly name: string
  readonly kafkaServer: KafkaServer | undefined
  readonly brokers: string
  readonly postgres: PostgresServer
  readonly redisServer: RedisServer
  readonly url: string
  readonly topic: string
  readonly dlq: string
  readonly group: string
  readonly prefix: string
  readonly env: Record<string, string>
  readonly injected: Injected[] = []
  readonly instances: CliProcess[] = []
  #peakRssKb = 0
  readonly #sampler: NodeJS.Timeout

  private constructor(
    name: string,
    kafka: { server?: KafkaServer; brokers: string; replicationFactor: number },
    postgres: PostgresServer,
    redis: RedisServer,
    url: string,
    extraEnv: Record<string, string>
  ) {
    this.name = name
    this.kafkaServer = kafka.server
    this.brokers = kafka.brokers
    this.postgres = postgres
    this.redisServer = redis
    this.url = url
    this.topic = uniqueName('faults')
    this.dlq = `${this.topic}.dlq`
    this.group = uniqueName('group')
    this.prefix = `${uniqueName('faults')}:`
    this.env = {
      KAFKA_BROKERS: this.brokers,
      KAFKA_TOPIC: this.topic,
      KAFKA_DLQ_TOPIC: this.dlq,
      KAFKA_GROUP_ID: this.group,
      KAFKA_PARTITIONS: String(PARTITIONS),
      KAFKA_REPLICATION_FACTOR: String(kafka.replicationFactor),
      DATABASE_URL: url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: this.prefix,
      LOG_LEVEL: 'warn',
      ...extraEnv
    }
    this.#sampler = setInterval(() => this.#sampleRss(), 200)
    this.#sampler.unref()
  }

  static async start(name: string, options: RigOptions = {}): Promise<Rig> {
    const [kafkaServer, postgres, redis] = await Promise.all([
      options.kafka === undefined ? ownKafka({ partitions: PARTITIONS, heapMb: 512 }) : Promise.resolve(undefined),
      ownPostgres(),
      ownRedis()
    ])
    const kafka = options.kafka ?? { server: kafkaServer, brokers: (kafkaServer as KafkaServer).brokers, replicationFactor: 1 }
    const url = await postgres.createDatabase(uniqueName('faults'))
    const rig = new Rig(name, { ...kafka, server: kafkaServer }, postgres, redis, url, options.env ?? {})
    await rig.#createTopics(kafka.replicationFactor)
    return rig
  }

  async #createTopics(replicationFactor: number): Promise<void> {
    const admin = new Admin({ clientId: 'faults-admin', bootstrapBrokers: this.brokers.split(',') })
    try {
      await admin.createTopics({ topics: [this.topic, this.dlq], partitions: PARTITIONS, replicas: replicationFactor })
    } finally {
      await admin.close()
    }
  }

  /** A streaming instance (the real CLI in a child process). */
  startStreaming(env: Record<string, string> = {}): CliProcess {
    const instance = startCli('streaming', { ...this.env, ...env })
    this.instances.push(instance)
    return instance
  }

  #sampleRss(): void {
    for (const instance of this.instances) {
      const pid = instance.child.pid
      if (pid === undefined || instance.child.exitCode !== null || instance.child.signalCode !== null) continue
      try {
        const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
        if (hwm !== null) this.#peakRssKb = Math.max(this.#peakRssKb, Number(hwm[1]))
      } catch {
        // exited between the check and the read
      }
    }
  }

  get peakRssMb(): number {
    this.#sampleRss()
    return Math.round(this.#peakRssKb / 1024)
  }

  stored(): Promise<number> {
    return rowCount(this.url)
  }

  /** Runs a fault, then measures how long until rows are being stored again. */
  async inject(what: string, fault: () => Promise<void>, workload?: Workload): Promise<void> {
    const entry: Injected = { what }
    this.injected.push(entry)
    await fault()
    const ended = Date.now()
    const before = await this.stored()
    await waitFor(
      `rows stored again after: ${what}`,
      async () => {
        const now = await this.stored()
        return now > before || (workload !== undefined && workload.finished && now >= workload.distinct)
      },
      120_000,
      50
    )
    entry.recoveryMs = Date.now() - ended
  }

  /** Every produced reading stored and every offset committed. */
  async waitAllStored(workload: Workload, timeoutMs = 180_000): Promise<void> {
    await waitFor(
      `${workload.distinct} rows stored and the group caught up`,
      async () => (await this.stored()) >= workload.distinct && (await caughtUp(this.brokers, this.group, this.topic)),
      timeoutMs,
      250
    )
  }

  /** The account: asserts nothing lost, nothing doubled, first values, latest values, rollups. Returns the counts. */
  async account(t: TestContext, workload: Workload, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const rows = await sql<{ sensor_id: string; ms: string; value: number }>(
      this.url,
      'SELECT sensor_id, (extract(epoch FROM ts) * 1000)::int8 AS ms, value FROM sensor_data'
    )
    const seen = new Map<string, number>()
    let doubled = 0
    let unexpected = 0
    let wrongValue = 0
    for (const row of rows) {
      const key = `${row.sensor_id}\u0000${row.ms}`
      seen.set(key, (seen.get(key) ?? 0) + 1)
      if ((seen.get(key) ?? 0) > 1) doubled++
      const expected = workload.expected.get(key)
      if (expected === undefined) unexpected++
      else if (expected !== row.value) wrongValue++
    }
    let lost = 0
    for (const key of workload.expected.keys()) if (!seen.has(key)) lost++

    const redis = new Redis(this.redisServer.url, { lazyConnect: true, maxRetriesPerRequest: 3 })
    redis.on('error', () => {})
    let latestWrong = 0
    let latestMissing = 0
    try {
      await redis.connect()
      const latest = await redis.hgetall(`${this.prefix}latest`)
      for (const [sensor, newest] of workload.newest) {
        const cached = latest[sensor]
        if (cached === undefined) {
          latestMissing++
          continue
        }
        const reading = JSON.parse(cached) as { value: number; timestamp: number }
        if (reading.value !== newest.value || Math.round(reading.timestamp * 1000) !== newest.ms) latestWrong++
      }
    } finally {
      redis.disconnect()
    }
    const rollups = await checkRollups(this.url)

    const counts = {
      scenario: this.name,
      injected: this.injected.map((i) => `${i.what} (recovered in ${i.recoveryMs ?? '?'} ms)`),
      produced: workload.sent,
      distinct: workload.distinct,
      replays: workload.replaysSent,
      stored: rows.length,
      duplicates_rejected: workload.sent - rows.length - Number(extra.dead_lettered ?? 0),
      lost,
      doubled,
      unexpected,
      wrong_first_value: wrongValue,
      latest_missing: latestMissing,
      latest_wrong: latestWrong,
      rollup_buckets_checked: rollups.checked,
      rollup_buckets_wrong: rollups.wrong,
      streaming_peak_rss_mb: this.peakRssMb,
      ...extra
    }
    report(t, counts)
    assert.equal(lost, 0, 'lost = 0')
    assert.equal(doubled, 0, 'doubled = 0')
    assert.equal(unexpected, 0, 'no row that was not produced')
    assert.equal(wrongValue, 0, 'the first value wins for every replay')
    assert.equal(latestMissing, 0, 'every sensor has a latest value in Redis')
    assert.equal(latestWrong, 0, "every sensor's latest value is its newest reading")
    assert.ok(rollups.checked > 0, 'rollup buckets exist')
    assert.equal(rollups.wrong, 0, 'every rollup bucket equals the aggregate of its raw rows')
    return counts
  }

  /** SIGTERM to every instance still running (each must exit 0), then stop sampling. */
  async stopAll(): Promise<void> {
    for (const instance of this.instances) {
      if (instance.child.exitCode !== null || instance.child.signalCode !== null) continue
      assert.equal(await instance.stop(15_000), 0, instance.output().slice(-3000))
    }
    clearInterval(this.#sampler)
  }

  /** Kills whatever is left (after a failed assertion). */
  async cleanup(): Promise<void> {
    clearInterval(this.#sampler)
    for (const instance of this.instances) if (instance.child.exitCode === null && instance.child.signalCode === null) await instance.kill()
  }
}

/** A plain idempotent producer (acks=all) that sends the workload at `ratePerSecond`, retrying a chunk until acknowledged. */
export async function produce(rig: Rig, workload: Workload, ratePerSecond: number, chunk = 500): Promise<void> {
  const producer = new Producer({
    clientId: 'faults-producer',
    bootstrapBrokers: rig.brokers.split(','),
    serializers: stringSerializers,
    idempotent: true,
    acks: ProduceAcks.ALL,
    retries: 10,
    retryDelay: 250
  })
  try {
    const started = Date.now()
    let sent = 0
    for (const messages of workload.chunks(chunk)) {
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({ messages: messages.map((m) => ({ topic: rig.topic, key: m.key, value: m.value })) })
          break
        } catch (err) {
          if (attempt >= 120) throw err
          await delay(500)
        }
      }
      sent += messages.length
      workload.acknowledged(messages.length)
      const due = started + (sent / ratePerSecond) * 1000
      if (due > Date.now()) await delay(due - Date.now())
    }
    workload.finish()
  } finally {
    await producer.close()
  }
}

/**
 * Every rollup bucket against the aggregate of its raw rows (sums to floating-point rounding):
 * exactly the closed buckets of each tier (migrations 012, 013), the minutes a closing is half-way
 * through aside.
 */
async function checkRollups(url: string): Promise<{ checked: number; wrong: number }> {
  let checked = 0
  let wrong = 0
  const w = '(SELECT closed_until FROM rollup_watermark)'
  const m = '(SELECT minutes_complete_until FROM rollup_watermark)'
  for (const [table, width, openFrom, pending] of [
    ['rollup_1m', '1 minute', m, `bucket >= ${m} AND bucket < (SELECT minutes_closed_until FROM rollup_watermark)`],
    ['rollup_1h', '1 hour', w, 'false'],
    ['rollup_1d', '1 day', `date_bin('1 day', ${w}, timestamptz 'epoch')`, 'false']
  ] as const) {
    const [row] = await sql<{ checked: string; wrong: string }>(
      url,
      `WITH raw AS (
         SELECT sensor_id, date_bin('${width}', ts, timestamptz 'epoch') AS bucket, count(*) AS count, sum(value) AS sum, min(value) AS min,
                max(value) AS max, min(ts) AS first_ts, (array_agg(value ORDER BY ts))[1] AS first_value, max(ts) AS last_ts,
                (array_agg(value ORDER BY ts DESC))[1] AS last_value
         FROM sensor_data GROUP BY 1, 2 HAVING date_bin('${width}', ts, timestamptz 'epoch') < ${openFrom})
       SELECT count(*) AS checked,
              count(*) FILTER (WHERE r.sensor_id IS NULL OR raw.sensor_id IS NULL
                OR (raw.count, raw.min, raw.max, raw.first_ts, raw.first_value, raw.last_ts, raw.last_value)
                   IS DISTINCT FROM (r.count, r.min, r.max, r.first_ts, r.first_value, r.last_ts, r.last_value)
                OR abs(r.sum - raw.sum) > 1e-9 * greatest(1, abs(raw.sum))) AS wrong
       FROM (SELECT * FROM ${table} WHERE NOT (${pending})) r FULL JOIN raw ON raw.sensor_id = r.sensor_id AND raw.bucket = r.bucket`
    )
    checked += Number(row?.checked ?? 0)
    wrong += Number(row?.wrong ?? 0)
  }
  return { checked, wrong }
}

/** Prints the scenario's account and keeps it in test-results/faults/<scenario>.json. */
export function report(t: TestContext, counts: Record<string, unknown>): void {
  for (const [key, value] of Object.entries(counts)) t.diagnostic(`${key}: ${Array.isArray(value) ? value.join('; ') : String(value)}`)
  const dir = new URL('../../test-results/faults/', import.meta.url)
  mkdirSync(dir, { recursive: true })
  writeFileSync(new URL(`${String(counts.scenario).replace(/[^a-z0-9-]+/gi, '-')}.json`, dir), `${JSON.stringify(counts, null, 2)}\n`)
}

/** A random moment within [minMs, maxMs), from the workload's seeded generator. */
export function someTime(workload: Workload, minMs: number, maxMs: number): number {
  return Math.floor(minMs + workload.random() * (maxMs - minMs))
}
