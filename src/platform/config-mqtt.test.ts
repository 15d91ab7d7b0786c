import assert from 'node:assert/strict'
import { hostname } from 'node:os'
import { test } from 'node:test'
import { AppError } from './errors.ts'
import { loadConfig } from './config.ts'

function problems(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (err) {
    assert.ok(err instanceof AppError && err.code === 'CONFIG_INVALID')
    return err.details as string[]
  }
  return []
}

test('MQTT defaults: sensors/+/data, group sensorstream, a client id stable across restarts on this host', () => {
  const { mqtt } = loadConfig({})
  assert.equal(mqtt.enabled, true)
  assert.equal(mqtt.url, undefined)
  assert.deepEqual(mqtt.topics, ['sensors/+/data'])
  assert.equal(mqtt.group, 'sensorstream')
  assert.equal(mqtt.clientId, loadConfig({}).mqtt.clientId, 'the same every time')
  assert.ok(mqtt.clientId.includes(hostname().replace(/[^A-Za-z0-9.-]/g, '-')))
  assert.equal(mqtt.protocolVersion, 5)
  assert.equal(mqtt.embeddedPort, 1883)
})

test('MQTT variables are read and checked, each problem naming its variable', () => {
  const c = loadConfig({
    MQTT_URL: 'mqtts://broker:8883',
    MQTT_TOPICS: 'a/+/b, site/#',
    MQTT_GROUP: 'g1',
    MQTT_CLIENT_ID: 'bridge-0',
    MQTT_CONNECTIONS: '4',
    MQTT_PROTOCOL: '3.1.1',
    MQTT_SESSION_EXPIRY_SECONDS: '60'
  })
  assert.deepEqual(
    { ...c.mqtt },
    {
      enabled: true,
      url: 'mqtts://broker:8883',
      topics: ['a/+/b', 'site/#'],
      group: 'g1',
      clientId: 'bridge-0',
      connections: 4,
      protocolVersion: 4,
      sessionExpirySeconds: 60,
      embeddedPort: 1883
    }
  )
  assert.equal(loadConfig({ MQTT_URL: 'off' }).mqtt.enabled, false)
  const found = problems({
    MQTT_URL: 'http://x',
    MQTT_TOPICS: 'a/#/b,$share/g/x',
    MQTT_GROUP: 'a/b',
    MQTT_CLIENT_ID: 'has space',
    MQTT_PROTOCOL: '4',
    MQTT_CONNECTIONS: '0'
  })
  for (const name of ['MQTT_URL', 'MQTT_GROUP', 'MQTT_CLIENT_ID', 'MQTT_PROTOCOL', 'MQTT_CONNECTIONS'])
    assert.ok(
      found.some((p) => p.startsWith(`${name}:`)),
      `${name} in ${found.join(' | ')}`
    )
  assert.equal(found.filter((p) => p.startsWith('MQTT_TOPICS:')).length, 2, 'each bad filter')
})
