import assert from 'node:assert/strict'
import { test } from 'node:test'
import { validateReading } from '../../domain/reading.ts'
import { SensorSimulator } from './simulator.ts'

test('round-robins over the sensors and every reading is valid', () => {
  const sim = new SensorSimulator(['a', 'b', 'c'])
  const readings = sim.take(7, 1_700_000_000_000)
  assert.deepEqual(
    readings.map((r) => r.sensor_id),
    ['a', 'b', 'c', 'a', 'b', 'c', 'a']
  )
  for (const r of readings) assert.equal(validateReading(r, { now: 1_700_000_000 }).ok, true)
})

test("a sensor's timestamps strictly increase even within one millisecond", () => {
  const sim = new SensorSimulator(['only'])
  const readings = sim.take(1000, 1_700_000_000_000)
  for (let i = 1; i < readings.length; i++) {
    assert.ok((readings[i]?.timestamp ?? 0) > (readings[i - 1]?.timestamp ?? 0), `reading ${i} is not after ${i - 1}`)
  }
  assert.equal(new Set(readings.map((r) => r.timestamp)).size, 1000)
})

test('values walk in small steps and stay plausible', () => {
  const sim = new SensorSimulator(['s'])
  const values = sim.take(10_000, 1_700_000_000_000).map((r) => r.value)
  for (let i = 1; i < values.length; i++) assert.ok(Math.abs((values[i] ?? 0) - (values[i - 1] ?? 0)) <= 0.7)
  assert.ok(Math.min(...values) > -20 && Math.max(...values) < 60, `range ${Math.min(...values)}..${Math.max(...values)}`)
})

test('refuses an empty sensor list', () => {
  assert.throws(() => new SensorSimulator([]), /at least one sensor/)
})
