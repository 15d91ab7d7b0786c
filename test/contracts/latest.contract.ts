// The LatestValues contract: every adapter (in-process and Redis) must pass these same cases, so the
// in-process fake cannot drift from Redis. `open` returns a connected adapter over a namespace of its
// own (a fresh key prefix); each case opens its own and the suite closes it.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import type { LatestValues } from '../../src/ports/latest.ts'

export interface LatestContractOptions {
  /** a connected adapter over an empty namespace of its own */
  readonly open: () => Promise<LatestValues>
}

const T0 = 1_689_260_000
const r = (sensor_id: string, timestamp: number, value: number): Reading => ({ sensor_id, value, timestamp })
const byId = (a: Reading, b: Reading): number => (a.sensor_id < b.sensor_id ? -1 : a.sensor_id > b.sensor_id ? 1 : 0)

export function latestContract(name: string, options: LatestContractOptions): void {
  async function fresh(t: TestContext): Promise<LatestValues> {
    const latest = await options.open()
    t.after(() => latest.close())
    return latest
  }

  describe(`LatestValues contract: ${name}`, () => {
    test('an empty namespace knows no sensor', async (t) => {
      const latest = await fresh(t)
      assert.equal(await latest.get('sensor-1'), undefined)
      assert.deepEqual(await latest.all(), [])
      assert.deepEqual(await latest.sensors(), [])
      await latest.ping()
    })

    test('update then get, all and sensors', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0, 1.5), r('b:2', T0 + 0.001, -2), r('c.3_x-y', T0 + 0.123, 0.1 + 0.2)])
      assert.deepEqual(await latest.get('a'), r('a', T0, 1.5))
      assert.deepEqual(await latest.get('b:2'), r('b:2', T0 + 0.001, -2))
      assert.deepEqual(await latest.get('c.3_x-y'), r('c.3_x-y', T0 + 0.123, 0.1 + 0.2))
      assert.deepEqual((await latest.all()).sort(byId), [r('a', T0, 1.5), r('b:2', T0 + 0.001, -2), r('c.3_x-y', T0 + 0.123, 0.1 + 0.2)])
      assert.deepEqual((await latest.sensors()).sort(), ['a', 'b:2', 'c.3_x-y'])
    })

    test('get of an unknown sensor is undefined, not an error', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('known', T0, 1)])
      assert.equal(await latest.get('unknown'), undefined)
      assert.equal(await latest.get(''), undefined)
    })

    test('values and millisecond timestamps come back exactly', async (t) => {
      const latest = await fresh(t)
      const readings = [
        r('max', 1_700_000_000.999, Number.MAX_VALUE),
        r('tiny', 946_684_800.001, -Number.MIN_VALUE),
        r('third', T0 + 0.3, 0.1 + 0.2),
        r('zero', T0, 0),
        r('big-ts', 4_102_444_799.999, 123456789.12345679)
      ]
      await latest.update(readings)
      for (const reading of readings) assert.deepEqual(await latest.get(reading.sensor_id), reading)
    })

    test('a newer reading replaces an older one across calls', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0, 1)])
      await latest.update([r('a', T0 + 0.001, 2)])
      assert.deepEqual(await latest.get('a'), r('a', T0 + 0.001, 2))
    })

    test('an older reading never replaces a newer one across calls', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0 + 10, 10)])
      await latest.update([r('a', T0 + 9.999, 9)])
      await latest.update([r('a', T0, 0)])
      assert.deepEqual(await latest.get('a'), r('a', T0 + 10, 10))
    })

    test('an older reading never replaces a newer one within one call, whatever the order', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0 + 5, 5), r('a', T0 + 1, 1), r('b', T0 + 1, 1), r('b', T0 + 5, 5), r('a', T0 + 3, 3)])
      assert.deepEqual(await latest.get('a'), r('a', T0 + 5, 5))
      assert.deepEqual(await latest.get('b'), r('b', T0 + 5, 5))
    })

    test('a batch mixing newer and older readings updates only where it is newer', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0 + 5, 5), r('b', T0 + 5, 5)])
      await latest.update([r('a', T0 + 6, 6), r('b', T0 + 4, 4), r('c', T0, 0)])
      assert.deepEqual((await latest.all()).sort(byId), [r('a', T0 + 6, 6), r('b', T0 + 5, 5), r('c', T0, 0)])
    })

    test('an equal timestamp keeps the first value, within one call and across calls', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0, 1), r('a', T0, 2)])
      assert.deepEqual(await latest.get('a'), r('a', T0, 1))
      await latest.update([r('a', T0, 3)])
      assert.deepEqual(await latest.get('a'), r('a', T0, 1))
    })

    test('a sensor seen only with older readings stays known with its newest', async (t) => {
      const latest = await fresh(t)
      await latest.update([r('a', T0 + 1, 1)])
      await latest.update([r('a', T0, 0)])
      assert.deepEqual(await latest.sensors(), ['a'])
      assert.equal((await latest.all()).length, 1)
    })

    test('concurrent updates end with the newest, whichever lands first', async (t) => {
      const latest = await fresh(t)
      const updates = []
      for (let i = 0; i < 50; i++) updates.push(latest.update([r('a', T0 + ((i * 37) % 50), (i * 37) % 50)]))
      await Promise.all(updates)
      assert.deepEqual(await latest.get('a'), r('a', T0 + 49, 49))
    })

    test('an empty update changes nothing', async (t) => {
      const latest = await fresh(t)
      await latest.update([])
      assert.deepEqual(await latest.sensors(), [])
      await latest.update([r('a', T0, 1)])
      await latest.update([])
      assert.deepEqual(await latest.get('a'), r('a', T0, 1))
    })

    test('10,000 sensors in one update', async (t) => {
      const latest = await fresh(t)
      const readings = Array.from({ length: 10_000 }, (_, i) => r(`sensor-${i}`, T0 + i / 1000, i * 1.5))
      await latest.update(readings)
      const sensors = await latest.sensors()
      assert.equal(sensors.length, 10_000)
      assert.equal(new Set(sensors).size, 10_000)
      const all = await latest.all()
      assert.equal(all.length, 10_000)
      const expected = new Map(readings.map((x) => [x.sensor_id, x]))
      for (const reading of all) assert.deepEqual(reading, expected.get(reading.sensor_id))
      assert.deepEqual(await latest.get('sensor-9999'), r('sensor-9999', T0 + 9.999, 9999 * 1.5))
      // and a second pass with half of them older, half newer
      await latest.update(readings.map((x, i) => r(x.sensor_id, i % 2 === 0 ? x.timestamp - 1 : x.timestamp + 1, -1)))
      assert.deepEqual(await latest.get('sensor-0'), r('sensor-0', T0, 0))
      assert.deepEqual(await latest.get('sensor-1'), r('sensor-1', T0 + 1.001, -1))
    })

    test('changing the given or returned objects does not change what is stored', async (t) => {
      const latest = await fresh(t)
      const given = { sensor_id: 'a', value: 1, timestamp: T0 }
      await latest.update([given])
      given.value = 99
      const got = (await latest.get('a')) as { value: number }
      got.value = 42
      assert.deepEqual(await latest.get('a'), r('a', T0, 1))
    })

    test('a new namespace is incomplete until a rebuild finishes; updates do not change that', async (t) => {
      const latest = await fresh(t)
      assert.equal(await latest.isComplete(), false)
      await latest.update([r('a', T0, 1)])
      assert.equal(await latest.isComplete(), false)
      const token = await latest.startRebuild()
      await latest.update([r('b', T0, 2)])
      assert.equal(await latest.isComplete(), false, 'not while the rebuild is under way')
      assert.equal(await latest.finishRebuild(token), true)
      assert.equal(await latest.isComplete(), true)
      await latest.update([r('c', T0, 3)])
      // Rebuilding a complete cache again keeps it complete throughout.
      const again = await latest.startRebuild()
      assert.equal(await latest.isComplete(), true)
      assert.equal(await latest.finishRebuild(again), true)
      assert.equal(await latest.isComplete(), true)
      assert.deepEqual((await latest.sensors()).sort(), ['a', 'b', 'c'])
    })

    test('namespaces are separate', async (t) => {
      const one = await fresh(t)
      const two = await fresh(t)
      await one.update([r('a', T0, 1)])
      assert.equal(await two.get('a'), undefined)
      assert.deepEqual(await two.sensors(), [])
    })
  })
}
