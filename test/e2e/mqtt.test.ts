// The MQTT bridge against a real Mosquitto, Kafka, Postgres and Redis, run as the CLI would be:
// readings published by many MQTT clients at QoS 1 arrive exactly once; the bridge killed with
// SIGKILL mid-stream and restarted loses nothing a publisher saw acknowledged; bad payloads are
// dead-lettered with their MQTT topic; a payload without sensor_id takes it from the topic.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { test } from 'node:test'
import mqtt, { type MqttClient } from 'mqtt'
import { freePort } from '../../src/adapters/embedded/free-port.ts'
import { freshDatabase, uniqueName, useKafka, useMosquitto, useRedis } from '../harness/index.ts'
import { readTopic, rowCount, sql, startCli, streamingSetup, waitFor, type CliProcess, type Setup } from './support.ts'

const T0 = 1_700_000_000

interface Rig {
  setup: Setup
  databaseUrl: string
  mqttUrl: string
  /** topic level before the sensor: `<prefix>/<sensor>/data` */
  prefix: string
  bridgeEnv: Record<string, string>
}

async function rig(name: string): Promise<Rig> {
  const [kafka, redis, broker, databaseUrl] = await Promise.all([useKafka(), useRedis(), useMosquitto(), freshDatabase(name)])
  const setup = streamingSetup({ brokers: kafka.brokers, redisUrl: redis.url, databaseUrl })
  const prefix = uniqueName(name)
  return {
    setup,
    databaseUrl,
    mqttUrl: broker.url,
    prefix,
    bridgeEnv: {
      ...setup.env,
      MQTT_URL: broker.url,
      MQTT_TOPICS: `${prefix}/+/data`,
      MQTT_GROUP: uniqueName('group'),
      MQTT_CLIENT_ID: uniqueName('bridge')
    }
  }
}

/** Starts the bridge and resolves once it has subscribed (it logs "bridging"). */
async function startBridge(env: Record<string, string>): Promise<CliProcess> {
  const bridge = startCli('mqtt', env)
  await waitFor(
    'the bridge to subscribe',
    async () => {
      if (bridge.child.exitCode !== null) throw new Error(`the bridge exited with ${bridge.child.exitCode}:\n${bridge.output()}`)
      return bridge.output().includes('"msg":"bridging"')
    },
    60_000,
    50
  )
  return bridge
}

async function publisher(url: string): Promise<MqttClient> {
  return mqtt.connectAsync(url, { protocolVersion: 5, clean: true, reconnectPeriod: 200 })
}

async function stopAll(...processes: (CliProcess | undefined)[]): Promise<void> {
  for (const p of processes) if (p !== undefined && p.child.exitCode === null) await p.kill()
}

test('10,000 readings from 100 MQTT publishers arrive exactly once; sensor_id from the topic; bad payloads dead-lettered with the topic', async () => {
  const r = await rig('mqtt')
  const streaming = startCli('streaming', r.setup.env)
  let bridge: CliProcess | undefined
  const clients: MqttClient[] = []
  try {
    bridge = await startBridge(r.bridgeEnv)
    const started = Date.now()
    for (let p = 0; p < 100; p++) clients.push(await publisher(r.mqttUrl))
    // Each publisher its own sensor, named by the topic only; 100 readings each, one per message.
    await Promise.all(
      clients.map(async (client, p) => {
        for (let n = 0; n < 100; n++) await client.publishAsync(`${r.prefix}/p${p}/data`, JSON.stringify({ value: n, timestamp: T0 + n }), { qos: 1 })
      })
    )
    const [first] = clients as [MqttClient]
    const topic = (sensor: string): string => `${r.prefix}/${sensor}/data`
    await first.publishAsync(topic('bad1'), 'not json', { qos: 1 })
    await first.publishAsync(topic('bad2'), '{"value":"x"}', { qos: 1 })
    await first.publishAsync(
      topic('mixed'),
      JSON.stringify([
        { value: 7, timestamp: T0 },
        { value: null, timestamp: T0 + 1 }
      ]),
      { qos: 1 }
    )
    await first.publishAsync(topic('named'), JSON.stringify({ sensor_id: 'own-id', value: 8, timestamp: T0 }), { qos: 1 })

    const expected = 10_000 + 2
    await waitFor(
      'every reading in Postgres',
      async () => {
        if (streaming.child.exitCode !== null) throw new Error(`streaming exited:\n${streaming.output()}`)
        return (await rowCount(r.databaseUrl)) >= expected
      },
      60_000
    )
    const seconds = (Date.now() - started) / 1000
    const perSensor = await sql<{ sensor_id: string; n: string; distinct_ts: string; values_sum: string }>(
      r.databaseUrl,
      'SELECT sensor_id, count(*) AS n, count(DISTINCT ts) AS distinct_ts, sum(value) AS values_sum FROM sensor_data GROUP BY sensor_id'
    )
    const bySensor = new Map(perSensor.map((row) => [row.sensor_id, row]))
    for (let p = 0; p < 100; p++) {
      const row = bySensor.get(`p${p}`)
      assert.equal(row?.n, '100', `sensor p${p} has its 100 readings`)
      assert.equal(row?.distinct_ts, '100')
      assert.equal(Number(row?.values_sum), (99 * 100) / 2, `sensor p${p} has the values it was sent`)
    }
    assert.equal(bySensor.get('mixed')?.n, '1', 'the valid item of a mixed array is stored')
    assert.equal(bySensor.get('own-id')?.n, '1', 'a payload naming its sensor keeps that name')
    assert.equal(bySensor.size, 102, 'no other sensor')
    assert.equal(await rowCount(r.databaseUrl), expected, 'exactly once')

    const dead = await readTopic(r.setup.env.KAFKA_BROKERS as string, r.setup.dlq, 4, 10_000)
    assert.equal(dead.length, 3, 'three dead letters, each once')
    const byTopic = new Map(dead.map((d) => [d.headers.get('dlq-mqtt-topic'), d]))
    assert.match(byTopic.get(topic('bad1'))?.headers.get('dlq-error') ?? '', /not JSON/)
    assert.equal(byTopic.get(topic('bad1'))?.value, 'not json')
    assert.match(byTopic.get(topic('bad2'))?.headers.get('dlq-error') ?? '', /value must be a finite number/)
    assert.deepEqual(JSON.parse(byTopic.get(topic('bad2'))?.value ?? 'null'), { value: 'x', sensor_id: 'bad2' }, 'the sensor named by the topic is filled in')
    assert.equal(byTopic.get(topic('bad2'))?.key, 'bad2')
    assert.match(byTopic.get(topic('mixed'))?.headers.get('dlq-error') ?? '', /^\/1\/value/)
    for (const d of dead) assert.equal(d.headers.get('dlq-source-topic'), 'mqtt')
    console.log(`# 10,004 MQTT messages through the bridge into Postgres in ${seconds.toFixed(1)} s`)
    assert.equal(await bridge.stop(), 0, bridge.output())
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await stopAll(bridge)
    await streaming.stop().catch(() => streaming.kill())
  }
})

test('the bridge killed with SIGKILL mid-stream and restarted loses nothing a publisher saw acknowledged', async () => {
  const r = await rig('mqttkill')
  const streaming = startCli('streaming', r.setup.env)
  let bridge: CliProcess | undefined
  let second: CliProcess | undefined
  const clients: MqttClient[] = []
  try {
    bridge = await startBridge(r.bridgeEnv)
    const publishers = 20
    const perPublisher = 150
    for (let p = 0; p < publishers; p++) clients.push(await publisher(r.mqttUrl))
    const acked = new Set<string>()
    let failed = 0
    const sending = Promise.all(
      clients.map(async (client, p) => {
        for (let n = 0; n < perPublisher; n++) {
          try {
            await client.publishAsync(`${r.prefix}/k${p}/data`, JSON.stringify({ value: n, timestamp: T0 + n }), { qos: 1 })
            acked.add(`k${p}@${T0 + n}`)
          } catch {
            failed++
          }
          // A steady stream rather than one burst, so that the kill lands in the middle of it.
          if (n % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 20))
        }
      })
    )
    const total = publishers * perPublisher
    await waitFor('a third of the readings stored', async () => (await rowCount(r.databaseUrl)) >= total / 3, 60_000, 20)
    await bridge.kill()
    const storedAtKill = await rowCount(r.databaseUrl)
    await new Promise((resolve) => setTimeout(resolve, 500))
    second = await startBridge(r.bridgeEnv)
    await sending
    assert.ok(storedAtKill < total, 'the kill came mid-stream')
    await waitFor('every acknowledged reading in Postgres', async () => (await rowCount(r.databaseUrl)) >= acked.size, 60_000)
    const rows = await sql<{ sensor_id: string; ts: number }>(r.databaseUrl, 'SELECT sensor_id, extract(epoch FROM ts)::float8 AS ts FROM sensor_data')
    const stored = new Set(rows.map((row) => `${row.sensor_id}@${row.ts}`))
    const missing = [...acked].filter((key) => !stored.has(key))
    assert.deepEqual(missing.slice(0, 10), [], `${missing.length} acknowledged readings missing`)
    assert.equal(rows.length, acked.size, 'nothing stored twice, nothing that was not sent')
    console.log(`# killed with ${storedAtKill} of ${total} stored; ${acked.size} acknowledged to publishers (${failed} failed), all stored once`)
    assert.equal(await second.stop(), 0, second.output())
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await stopAll(bridge, second)
    await streaming.stop().catch(() => streaming.kill())
  }
})

test('`all` without MQTT_URL: its embedded broker when the port is free, the broker already there when not', async () => {
  const [redis, broker] = await Promise.all([useRedis(), useMosquitto()])
  const run = async (embeddedPort: number, expect: RegExp): Promise<void> => {
    const databaseUrl = await freshDatabase('mqttall')
    const port = await freePort()
    const dataDir = mkdtempSync(join(tmpdir(), 'mqttall-'))
    const all = startCli('all', {
      DATA_DIR: dataDir,
      PORT: String(port),
      DATABASE_URL: databaseUrl,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: `${uniqueName('mqttall')}:`,
      PRODUCER_INTERVAL_MS: '600000',
      MQTT_EMBEDDED_PORT: String(embeddedPort),
      MQTT_CLIENT_ID: uniqueName('allbridge'),
      MQTT_GROUP: uniqueName('allgroup')
    })
    try {
      await waitFor(
        'the startup lines',
        async () => {
          if (all.child.exitCode !== null) throw new Error(`all exited:\n${all.output()}`)
          return /^Ctrl-C stops everything\.$/m.test(all.output())
        },
        60_000,
        50
      )
      assert.match(all.output(), expect)
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${embeddedPort}`, { protocolVersion: 4, reconnectPeriod: 0 })
      await client.publishAsync('sensors/s1/data', '{"value":1}', { qos: 1 })
      await client.endAsync()
      const latest = await waitFor(
        'the reading through the API',
        async () => {
          const res = await fetch(`http://127.0.0.1:${port}/recent/s1`)
          return res.status === 200 && ((await res.json()) as { value: number })
        },
        20_000
      )
      assert.equal(latest.value, 1)
      assert.equal(await all.stop(), 0, all.output())
    } finally {
      if (all.child.exitCode === null) await all.kill()
      rmSync(dataDir, { recursive: true, force: true })
    }
  }
  await run(await freePort(), /^ {2}mqtt +mqtt:\/\/127\.0\.0\.1:\d+ sensors\/\+\/data \(MQTT 3\.1\.1.*embedded Aedes broker/m)
  await run(broker.port, /^ {2}mqtt +mqtt:\/\/127\.0\.0\.1:\d+ \$share\/.*the MQTT broker already on 127\.0\.0\.1:\d+/m)
})
