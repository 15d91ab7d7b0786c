import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decodeDevicePayload } from './device-payload.ts'
import { matchTopic, sensorFromTopic, topicFilterProblem } from './mqtt-topic.ts'

test('matchTopic: + is one level, # any number (also none), $ topics only by name', () => {
  assert.deepEqual(matchTopic('sensors/+/data', 'sensors/s1/data'), ['s1'])
  assert.equal(matchTopic('sensors/+/data', 'sensors/s1/other'), undefined)
  assert.equal(matchTopic('sensors/+/data', 'sensors/a/b/data'), undefined)
  assert.equal(matchTopic('sensors/+/data', 'sensors/s1'), undefined)
  assert.deepEqual(matchTopic('sensors/+/data', 'sensors//data'), [''])
  assert.deepEqual(matchTopic('site/+/+/temp', 'site/berlin/s7/temp'), ['berlin', 's7'])
  assert.deepEqual(matchTopic('sensors/#', 'sensors'), [])
  assert.deepEqual(matchTopic('sensors/#', 'sensors/a/b'), [])
  assert.deepEqual(matchTopic('sensors/s1', 'sensors/s1'), [])
  assert.equal(matchTopic('+/x', '$SYS/x'), undefined)
  assert.equal(matchTopic('#', '$SYS/x'), undefined)
})

test('sensorFromTopic: the first + of the first matching filter, never an empty level', () => {
  const filters = ['plain/topic', 'sensors/+/data', 'site/+/+/temp']
  assert.equal(sensorFromTopic(filters, 'sensors/s1/data'), 's1')
  assert.equal(sensorFromTopic(filters, 'site/berlin/s7/temp'), 'berlin')
  assert.equal(sensorFromTopic(filters, 'plain/topic'), undefined)
  assert.equal(sensorFromTopic(filters, 'sensors//data'), undefined)
  assert.equal(sensorFromTopic(['sensors/#'], 'sensors/s1'), undefined)
})

test('topicFilterProblem names what is wrong with a filter', () => {
  assert.equal(topicFilterProblem('sensors/+/data'), undefined)
  assert.equal(topicFilterProblem('#'), undefined)
  assert.match(topicFilterProblem('') ?? '', /empty/)
  assert.match(topicFilterProblem('a/#/b') ?? '', /#/)
  assert.match(topicFilterProblem('a/x#') ?? '', /#/)
  assert.match(topicFilterProblem('a/s+/b') ?? '', /\+/)
  assert.match(topicFilterProblem('$share/g/a') ?? '', /MQTT_GROUP/)
})

test('decodeDevicePayload: an object or an array; sensor_id from the topic, timestamp from arrival; bad items apart', () => {
  const now = 1_700_000_100
  const context = { sensorId: 's1', receivedAt: 1_700_000_000.1234, now }
  assert.deepEqual(decodeDevicePayload(Buffer.from('{"value":1}'), context), {
    readings: [{ sensor_id: 's1', value: 1, timestamp: 1_700_000_000.123 }],
    invalid: []
  })
  assert.deepEqual(decodeDevicePayload(Buffer.from('{"sensor_id":"own","value":2,"timestamp":1700000001}'), context).readings, [
    { sensor_id: 'own', value: 2, timestamp: 1_700_000_001 }
  ])
  const mixed = decodeDevicePayload(Buffer.from('[{"value":1,"timestamp":1700000001},{"value":"x"},{"value":3,"timestamp":1700000003}]'), context)
  assert.deepEqual(
    mixed.readings.map((r) => r.value),
    [1, 3]
  )
  assert.equal(mixed.invalid.length, 1)
  assert.match(mixed.invalid[0]?.error ?? '', /^\/1\/value must be a finite number/)
  assert.deepEqual(JSON.parse(mixed.invalid[0]?.value ?? ''), { value: 'x', sensor_id: 's1' })
  assert.match(decodeDevicePayload(Buffer.from('{"value":1}'), { sensorId: undefined, receivedAt: now }).invalid[0]?.error ?? '', /sensor_id is required/)
  assert.match(decodeDevicePayload(Buffer.from('not json'), context).invalid[0]?.error ?? '', /not JSON/)
  assert.match(decodeDevicePayload(Buffer.from([0xff, 0xfe]), context).invalid[0]?.error ?? '', /UTF-8/)
  assert.match(decodeDevicePayload(Buffer.alloc(0), context).invalid[0]?.error ?? '', /empty/)
  assert.match(decodeDevicePayload(Buffer.from('[]'), context).invalid[0]?.error ?? '', /at least one/)
})
