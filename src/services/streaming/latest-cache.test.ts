// The latest values cache of the streaming service on in-process fakes: a cache that fails or comes
// back empty never holds a batch back, and is repaired from the store without going backwards.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { Registry } from 'prom-client'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import type { Reading } from '../../domain/reading.ts'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import type { LatestValues } from '../../ports/latest.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { LatestCache } from './latest-cache.ts'
import { StreamingMetrics } from './metrics.ts'
import { waitFor } from '../../../test/harness/wait.ts'

const T0 = 1_689_260_000
const r = (sensor_id: string, timestamp: number, value = timestamp - T0): Reading => ({ sensor_id, value, timestamp })

/** The store's two reads over an array of rows (first write wins, as in Postgres). */
class RowsStore implements Pick<ReadingStore, 'latestOf' | 'latestOfAll'> {
  readonly rows: Reading[] = []
  reads = 0
  add(readings: readonly Reading[]): void {
    for (const x of readings) if (!this.rows.some((y) => y.sensor_id === x.sensor_id && y.timestamp === x.timestamp)) this.rows.push(x)
  }
  async latestOf(sensorIds: readonly string[]): Promise<Reading[]> {
    this.reads++
    return sensorIds.flatMap((id) => this.#newest(id) ?? [])
  }
  async latestOfAll(after: string | undefined, limit: number): Promise<Reading[]> {
    this.reads++
    const ids = [...new Set(this.rows.map((x) => x.sensor_id))].sort().filter((id) => after === undefined || id > after)
    return ids.slice(0, limit).map((id) => this.#newest(id) as Reading)
  }
  #newest(id: string): Reading | undefined {
    return this.rows.filter((x) => x.sensor_id === id).sort((a, b) => b.timestamp - a.timestamp)[0]
  }
}

/** An in-process cache that can be taken down, and emptied as a Redis restarted without persistence. */
class FlakyLatest implements LatestValues {
  inner = new MemoryLatestValues()
  down = false
  calls = 0
  #check(): void {
    this.calls++
    if (this.down) throw new AppError('UNAVAILABLE', 'cache down', { retryable: true })
  }
  wipe(): void {
    this.inner = new MemoryLatestValues()
  }
  async connect(): Promise<void> {}
  async close(): Promise<void> {}
  update = async (readings: readonly Reading[]): Promise<void> => (this.#check(), this.inner.update(readings))
  get = async (id: string): Promise<Reading | undefined> => (this.#check(), this.inner.get(id))
  all = async (): Promise<Reading[]> => (this.#check(), this.inner.all())
  sensors = async (): Promise<string[]> => (this.#check(), this.inner.sensors())
  ping = async (): Promise<void> => this.#check()
  isComplete = async (): Promise<boolean> => (this.#check(), this.inner.isComplete())
  startRebuild = async (): Promise<string> => (this.#check(), this.inner.startRebuild())
  finishRebuild = async (token: string): Promise<boolean> => (this.#check(), this.inner.finishRebuild(token))
}

function setup(t: TestContext, maxPendingSensors?: number) {
  const store = new RowsStore()
  const latest = new FlakyLatest()
  const metrics = new StreamingMetrics(new Registry())
  const cache = new LatestCache(
    { store, latest, metrics, logger: createLogger('silent') },
    { probeIntervalMs: 20, ...(maxPendingSensors === undefined ? {} : { maxPendingSensors }) }
  )
  const stop = new AbortController()
  const running = cache.run(stop.signal)
  t.after(async () => {
    stop.abort()
    await running
  })
  /** a batch as the handler runs it: Postgres written, the cache offered the same readings */
  const batch = (readings: Reading[]): Promise<void> => {
    const stored = Promise.resolve().then(() => store.add(readings))
    return cache.offer(readings, stored)
  }
  const degraded = async (): Promise<number | undefined> => (await metrics.cacheDegraded.get()).values[0]?.value
  const repairs = async (scope: string): Promise<number> => (await metrics.cacheRepairs.get()).values.find((v) => v.labels.scope === scope)?.value ?? 0
  return { store, latest, batch, degraded, repairs }
}

async function until(condition: () => boolean | Promise<boolean>, what: string): Promise<void> {
  await waitFor(what, condition, 5_000, 10)
}

async function cacheEqualsStore(store: RowsStore, latest: FlakyLatest): Promise<boolean> {
  const newest = await store.latestOfAll(undefined, 1_000)
  const cached = (await latest.inner.all()).sort((a, b) => (a.sensor_id < b.sensor_id ? -1 : 1))
  return JSON.stringify(cached) === JSON.stringify(newest)
}

test('at startup the cache is rebuilt from the store, and marked complete', async (t) => {
  const { store, latest, degraded, repairs } = setup(t)
  store.add([r('old', T0), r('old', T0 + 5), r('other', T0 + 1)])
  await until(async () => (await repairs('all')) === 1, 'the startup rebuild')
  assert.deepEqual(await latest.inner.get('old'), r('old', T0 + 5))
  assert.equal(await latest.inner.isComplete(), true)
  assert.equal(await degraded(), 0)
})

test('a cache outage never holds a batch back; once back, what it missed is repaired, sensors not reported since included', async (t) => {
  const { store, latest, batch, degraded, repairs } = setup(t)
  await until(async () => (await repairs('all')) === 1, 'the startup rebuild')
  await batch([r('a', T0), r('b', T0), r('quiet', T0)])
  latest.down = true
  const started = Date.now()
  for (let i = 1; i <= 20; i++) await batch([r('a', T0 + i), r('b', T0 + i), ...(i === 1 ? [r('quiet', T0 + 1)] : [])])
  assert.ok(Date.now() - started < 1_000, 'batches went on while the cache was down')
  assert.equal(await degraded(), 1)
  const callsWhileDown = latest.calls
  await new Promise((resolve) => setTimeout(resolve, 100))
  assert.ok(latest.calls - callsWhileDown < 20, 'batches do not try a failing cache, the repairer backs off')
  latest.down = false
  await until(async () => (await degraded()) === 0, 'the repair')
  assert.equal(await repairs('sensors'), 1)
  assert.ok(await cacheEqualsStore(store, latest))
  assert.deepEqual(await latest.inner.get('quiet'), r('quiet', T0 + 1))
})

test('a repair never replaces a newer value: it goes through the compare-by-timestamp update', async (t) => {
  const { store, latest, batch, degraded, repairs } = setup(t)
  await until(async () => (await repairs('all')) === 1, 'the startup rebuild')
  latest.down = true
  await batch([r('a', T0 + 1)])
  // Another instance wrote a newer value while this one could not reach the cache.
  latest.down = false
  await latest.inner.update([r('a', T0 + 9)])
  await until(async () => (await degraded()) === 0, 'the repair')
  assert.deepEqual(await latest.inner.get('a'), r('a', T0 + 9))
  assert.equal(store.rows.length, 1)
})

test('a cache that comes back empty is rebuilt whole, found by the idle probe even with no batch', async (t) => {
  const { store, latest, batch, repairs } = setup(t)
  await until(async () => (await repairs('all')) === 1, 'the startup rebuild')
  await batch(Array.from({ length: 50 }, (_, i) => r(`s${i}`, T0 + i)))
  latest.wipe()
  await until(async () => (await repairs('all')) === 2, 'the rebuild')
  assert.ok(await cacheEqualsStore(store, latest))
  assert.equal((await latest.inner.sensors()).length, 50)
})

test('beyond maxPendingSensors the repair is a rebuild of everything', async (t) => {
  const { store, latest, batch, degraded, repairs } = setup(t, 10)
  await until(async () => (await repairs('all')) === 1, 'the startup rebuild')
  latest.down = true
  await batch(Array.from({ length: 30 }, (_, i) => r(`s${i}`, T0 + i)))
  latest.down = false
  await until(async () => (await degraded()) === 0, 'the repair')
  assert.equal(await repairs('all'), 2)
  assert.equal(await repairs('sensors'), 0)
  assert.ok(await cacheEqualsStore(store, latest))
})
