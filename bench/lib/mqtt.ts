// The MQTT item: readings/s end to end through a Mosquitto, the bridge (`node dist/cli.js mqtt`),
// Kafka and the streaming service into Postgres, and the bridge's CPU per reading. Publishers are
// MQTT.js clients in the bench process, QoS 1, one reading per message (what devices send), a
// sensor each, named by the topic; a run is timed from the first publish until Postgres has all.
import mqtt, { type MqttClient } from 'mqtt'
import pg from 'pg'
import { startMosquitto, type MosquittoServer } from '../../dev/mosquitto.ts'
import { startCli } from './child.ts'
import type { Bench } from './context.ts'
import { cpuSeconds } from './proc.ts'
import { until } from './wait.ts'

/** QoS 1 publishes each publisher has in flight (under Mosquitto's default Receive Maximum of 20). */
const WINDOW = 10

export interface MqttRun {
  readonly readingsPerS: number
  readonly seconds: number
  /** CPU seconds of the bridge process per million readings, over the timed window */
  readonly bridgeCpuSPerMillion: number
}

export async function measureMqtt(bench: Bench, runs: number, readings: number, publishers: number): Promise<MqttRun[]> {
  const broker = await startMosquitto()
  try {
    const out: MqttRun[] = []
    for (let r = 0; r < runs; r++) {
      const run = await oneRun(bench, broker, readings, publishers)
      out.push(run)
      bench.progress(
        `mqtt run ${r + 1}/${runs}: ${Math.round(run.readingsPerS)} readings/s (${run.seconds.toFixed(1)} s), bridge ${run.bridgeCpuSPerMillion.toFixed(1)} CPU-s per million`
      )
    }
    return out
  } finally {
    await broker.dispose()
  }
}

async function oneRun(bench: Bench, broker: MosquittoServer, readings: number, publishers: number): Promise<MqttRun> {
  const topic = bench.name('mqtt')
  const databaseUrl = await bench.database('mqtt')
  const prefix = bench.name('mqtt-topic')
  const env = bench.env({
    KAFKA_TOPIC: topic,
    KAFKA_DLQ_TOPIC: `${topic}.dlq`,
    KAFKA_GROUP_ID: bench.name('mqtt-group'),
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: `${bench.name('mqtt')}:`
  })
  const streaming = startCli('streaming', env)
  const consuming = streaming.logged('consuming')
  consuming.catch(() => undefined)
  const bridge = startCli('mqtt', {
    ...env,
    MQTT_URL: broker.url,
    MQTT_TOPICS: `${prefix}/+/data`,
    MQTT_GROUP: bench.name('mqtt-group'),
    MQTT_CLIENT_ID: bench.name('mqtt-bridge')
  })
  const bridging = bridge.logged('bridging')
  bridging.catch(() => undefined)
  const clients: MqttClient[] = []
  const db = new pg.Client({ connectionString: databaseUrl })
  try {
    await Promise.all([consuming, bridging])
    await db.connect()
    for (let p = 0; p < publishers; p++) clients.push(await mqtt.connectAsync(broker.url, { protocolVersion: 5, clean: true }))
    const perPublisher = Math.ceil(readings / publishers)
    const total = perPublisher * publishers
    const t0 = Math.floor(Date.now() / 1000) - 3600
    const cpuBefore = cpuSeconds(bridge.pid)
    const started = performance.now()
    await Promise.all(clients.map((client, p) => publishAll(client, `${prefix}/p${p}/data`, perPublisher, t0)))
    const count = async (): Promise<number> => Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM sensor_data')).rows[0]?.n ?? 0)
    await until('every MQTT reading in Postgres', async () => (await count()) >= total, { timeoutMs: 300_000, everyMs: 20, child: bridge })
    const seconds = (performance.now() - started) / 1000
    const cpu = cpuSeconds(bridge.pid) - cpuBefore
    if ((await count()) !== total) throw new Error(`expected ${total} rows, found ${await count()}`)
    return { readingsPerS: total / seconds, seconds, bridgeCpuSPerMillion: (cpu / total) * 1e6 }
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await db.end().catch(() => undefined)
    await bridge.stop()
    await streaming.stop()
  }
}

/** `count` readings, one per message, with `WINDOW` unacknowledged at a time. */
async function publishAll(client: MqttClient, topic: string, count: number, t0: number): Promise<void> {
  let next = 0
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++
      await client.publishAsync(topic, JSON.stringify({ value: n, timestamp: t0 + n / 1000 }), { qos: 1 })
    }
  }
  await Promise.all(Array.from({ length: WINDOW }, lane))
}
