// The LiveFeed contract: every adapter (in-process and Redis pub/sub) must pass these same cases.
// `open` returns a connected feed over a channel of its own; each case opens its own.
import assert from 'node:assert/strict'
import { setTimeout as delay } from 'node:timers/promises'
import { describe, test, type TestContext } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import type { LiveFeed } from '../../src/ports/live-feed.ts'

export interface LiveFeedContractOptions {
  /** a connected feed over a channel nobody else uses */
  readonly open: () => Promise<LiveFeed>
}

const T0 = 1_689_260_000
const r = (sensor_id: string, i: number): Reading => ({ sensor_id, value: i * 0.5, timestamp: T0 + i / 1000 })

/** Collects what a listener receives and lets a test wait for a number of readings. */
export class Collector {
  readonly batches: Reading[][] = []
  private waiters: Array<() => void> = []

  readonly listener = (readings: readonly Reading[]): void => {
    this.batches.push([...readings])
    for (const w of this.waiters) w()
  }

  get readings(): Reading[] {
    return this.batches.flat()
  }

  async waitFor(count: number, timeoutMs = 5_000): Promise<Reading[]> {
    const deadline = Date.now() + timeoutMs
    while (this.readings.length < count) {
      const left = deadline - Date.now()
      if (left <= 0) assert.fail(`expected ${count} readings within ${timeoutMs} ms, got ${this.readings.length}`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
      this.waiters = []
    }
    return this.readings
  }
}

export function liveFeedContract(name: string, options: LiveFeedContractOptions): void {
  async function fresh(t: TestContext): Promise<LiveFeed> {
    const feed = await options.open()
    t.after(() => feed.close())
    return feed
  }

  describe(`LiveFeed contract: ${name}`, () => {
    test('a subscriber receives a published batch as published', async (t) => {
      const feed = await fresh(t)
      const c = new Collector()
      await feed.subscribe(c.listener)
      const batch = [r('a', 1), r('b', 2), { sensor_id: 'c', value: 0.1 + 0.2, timestamp: 1_700_000_000.999 }]
      await feed.publish(batch)
      assert.deepEqual(await c.waitFor(3), batch)
      assert.deepEqual(c.batches, [batch])
    })

    test('a subscriber receives published readings in order', async (t) => {
      const feed = await fresh(t)
      const c = new Collector()
      await feed.subscribe(c.listener)
      const sent: Reading[] = []
      for (let i = 0; i < 100; i++) {
        const batch = [r('a', 2 * i), r('b', 2 * i + 1)]
        sent.push(...batch)
        await feed.publish(batch)
      }
      assert.deepEqual(await c.waitFor(200), sent)
      assert.equal(c.batches.length, 100)
    })

    test('publishes that are not awaited one by one still arrive in order', async (t) => {
      const feed = await fresh(t)
      const c = new Collector()
      await feed.subscribe(c.listener)
      const sent = Array.from({ length: 200 }, (_, i) => r('a', i))
      await Promise.all(sent.map((x) => feed.publish([x])))
      assert.deepEqual(await c.waitFor(200), sent)
    })

    test('an empty publish delivers nothing', async (t) => {
      const feed = await fresh(t)
      const c = new Collector()
      await feed.subscribe(c.listener)
      await feed.publish([])
      await feed.publish([r('a', 1)])
      await c.waitFor(1)
      assert.deepEqual(c.batches, [[r('a', 1)]])
    })

    test('two subscribers both get every reading', async (t) => {
      const feed = await fresh(t)
      const one = new Collector()
      const two = new Collector()
      await feed.subscribe(one.listener)
      await feed.subscribe(two.listener)
      const sent = Array.from({ length: 20 }, (_, i) => r(`s${i % 3}`, i))
      for (let i = 0; i < sent.length; i += 4) await feed.publish(sent.slice(i, i + 4))
      assert.deepEqual(await one.waitFor(20), sent)
      assert.deepEqual(await two.waitFor(20), sent)
    })

    test('unsubscribe stops delivery to that subscriber only', async (t) => {
      const feed = await fresh(t)
      const leaving = new Collector()
      const staying = new Collector()
      const unsubscribe = await feed.subscribe(leaving.listener)
      await feed.subscribe(staying.listener)
      await feed.publish([r('a', 1)])
      await leaving.waitFor(1)
      await staying.waitFor(1)
      await unsubscribe()
      await feed.publish([r('a', 2)])
      await feed.publish([r('a', 3)])
      // the staying subscriber proves the later batches were delivered
      await staying.waitFor(3)
      await delay(50)
      assert.deepEqual(leaving.readings, [r('a', 1)])
      assert.deepEqual(staying.readings, [r('a', 1), r('a', 2), r('a', 3)])
    })

    test('after the last subscriber leaves, a new one still receives', async (t) => {
      const feed = await fresh(t)
      const first = new Collector()
      const unsubscribe = await feed.subscribe(first.listener)
      await feed.publish([r('a', 1)])
      await first.waitFor(1)
      await unsubscribe()
      await unsubscribe() // twice is harmless
      const second = new Collector()
      await feed.subscribe(second.listener)
      await feed.publish([r('a', 2)])
      assert.deepEqual(await second.waitFor(1), [r('a', 2)])
      await delay(50)
      assert.deepEqual(first.readings, [r('a', 1)])
    })

    test('publishing without subscribers is fine', async (t) => {
      const feed = await fresh(t)
      await feed.publish([r('a', 1)])
      const c = new Collector()
      await feed.subscribe(c.listener)
      await feed.publish([r('a', 2)])
      await c.waitFor(1)
      await delay(50)
      // a feed is live, not a history: what was published before subscribing is not replayed
      assert.deepEqual(c.readings, [r('a', 2)])
    })
  })
}
