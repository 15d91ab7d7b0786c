// The ReadingStore contract: the write side (streaming, replay, POST /data), with the reads the
// streaming service repairs its cache from. There is no in-process store (the embedded default is a
// real PostgreSQL), but any future adapter must pass these same cases. The schema is the
// Migrations contract's (migrations.contract.ts): the databases given here are migrated.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import { AppError } from '../../src/platform/errors.ts'
import type { ReadingStore } from '../../src/ports/store.ts'

export interface StoreDatabase {
  /** a connected store on this (migrated) database; call as often as needed, they share it */
  open(): Promise<ReadingStore>
}

export interface StoreServer extends StoreDatabase {
  /** stops the server under the stores `open` returns, so that it refuses connections */
  stop(): Promise<void>
  /** starts it again, data kept */
  start(): Promise<void>
}

export interface StoreContractOptions {
  /** a new, empty, migrated database of its own */
  readonly freshDatabase: () => Promise<StoreDatabase>
  /** a store (not connected) whose URL points at nothing that answers */
  readonly unreachable: () => ReadingStore
  /** a server of this case's own, migrated, that the case may stop and start */
  readonly ownServer: () => Promise<StoreServer>
}

const T0 = 1_689_260_000
const r = (sensor_id: string, timestamp: number, value = 1): Reading => ({ sensor_id, value, timestamp })
/** the newest stored reading of one sensor, through the port's own read */
const latest = async (store: ReadingStore, sensorId: string): Promise<Reading | undefined> => (await store.latestOf([sensorId]))[0]

export function storeContract(name: string, options: StoreContractOptions): void {
  async function track(t: TestContext, store: Promise<ReadingStore>): Promise<ReadingStore> {
    const s = await store
    t.after(() => s.close())
    return s
  }

  /** a store on a fresh database */
  async function fresh(t: TestContext): Promise<ReadingStore> {
    const db = await options.freshDatabase()
    return track(t, db.open())
  }

  describe(`ReadingStore contract: ${name}`, () => {
    test('several stores on one database: a reading written by one is a duplicate for the others', async (t) => {
      const db = await options.freshDatabase()
      const stores = await Promise.all([1, 2, 3, 4].map(() => track(t, db.open())))
      assert.deepEqual(await stores[0]?.write([r('a', T0)]), { inserted: 1, duplicates: 0 })
      assert.deepEqual(await stores[3]?.write([r('a', T0)]), { inserted: 0, duplicates: 1 })
    })

    test('write returns how many readings were inserted and how many were duplicates', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.write([r('a', T0), r('b', T0), r('a', T0 + 1)]), { inserted: 3, duplicates: 0 })
      assert.deepEqual(await store.write([r('a', T0), r('c', T0)]), { inserted: 1, duplicates: 1 })
    })

    test('an empty batch writes nothing', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.write([]), { inserted: 0, duplicates: 0 })
      assert.deepEqual(await store.writeReturningNew([]), [])
      assert.equal(await latest(store, 'a'), undefined)
    })

    test('duplicates within a batch are ignored: the first wins', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.write([r('a', T0, 1), r('a', T0, 2), r('b', T0, 5), r('a', T0, 3)]), { inserted: 2, duplicates: 2 })
      assert.deepEqual(await latest(store, 'a'), r('a', T0, 1))
    })

    test('duplicates across batches are ignored: the first write wins', async (t) => {
      const store = await fresh(t)
      await store.write([r('a', T0, 1)])
      assert.deepEqual(await store.write([r('a', T0, 2)]), { inserted: 0, duplicates: 1 })
      assert.deepEqual(await store.write([r('a', T0, 1)]), { inserted: 0, duplicates: 1 })
      assert.deepEqual(await latest(store, 'a'), r('a', T0, 1))
    })

    test('the same timestamp for different sensors, and different timestamps for one sensor, are different readings', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.write([r('a', T0), r('b', T0), r('a', T0 + 0.001), r('a', T0 + 0.002)]), { inserted: 4, duplicates: 0 })
    })

    test('millisecond timestamps and values survive exactly', async (t) => {
      const store = await fresh(t)
      const readings = [
        r('ms-001', T0 + 0.001, 0.1 + 0.2),
        r('ms-999', T0 + 0.999, -273.15),
        r('ms-123', 1_689_260_000.123, Number.MAX_VALUE),
        r('y2k', 946_684_800.001, Number.MIN_VALUE),
        r('far', 4_102_444_799.999, 1e-300),
        r('whole', 1_700_000_000, 42)
      ]
      await store.write(readings)
      for (const reading of readings) assert.deepEqual(await latest(store, reading.sensor_id), reading)
    })

    test('readings less than half a millisecond apart are the same reading', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.write([r('a', T0 + 0.123, 1), r('a', T0 + 0.1234, 2)]), { inserted: 1, duplicates: 1 })
      assert.deepEqual(await latest(store, 'a'), r('a', T0 + 0.123, 1))
    })

    test('writeReturningNew flags which readings were new, in the order given', async (t) => {
      const store = await fresh(t)
      await store.write([r('old', T0)])
      const flags = await store.writeReturningNew([r('x', T0), r('old', T0, 9), r('y', T0 + 0.5), r('x', T0, 2), r('x', T0 + 0.001)])
      assert.deepEqual(flags, [true, false, true, false, true])
      assert.deepEqual(await store.writeReturningNew([r('x', T0), r('z', T0 + 0.123)]), [false, true])
      assert.deepEqual(await latest(store, 'old'), r('old', T0))
      assert.deepEqual(await latest(store, 'x'), r('x', T0 + 0.001))
    })

    test('the newest is by timestamp, not by arrival', async (t) => {
      const store = await fresh(t)
      await store.write([r('a', T0 + 5, 5)])
      await store.write([r('a', T0 + 1, 1), r('a', T0 + 3, 3)])
      assert.deepEqual(await latest(store, 'a'), r('a', T0 + 5, 5))
      await store.write([r('a', T0 + 5.001, 6)])
      assert.deepEqual(await latest(store, 'a'), r('a', T0 + 5.001, 6))
    })

    test('latestOf gives the newest reading of each sensor asked for that has one', async (t) => {
      const store = await fresh(t)
      await store.write([r('a', T0 + 5, 5), r('a', T0, 1), r('b', T0 + 0.001, 2), r('c', T0, 3)])
      await store.write([r('a', T0 + 1, 9), r('b', T0 + 0.002, 4)])
      const byId = (readings: Reading[]): Reading[] => [...readings].sort((x, y) => (x.sensor_id < y.sensor_id ? -1 : 1))
      assert.deepEqual(byId(await store.latestOf(['a', 'b', 'unknown'])), [r('a', T0 + 5, 5), r('b', T0 + 0.002, 4)])
      assert.deepEqual(await store.latestOf([]), [])
    })

    test('latestOfAll pages through every sensor once, in sensor id order, with its newest reading', async (t) => {
      const store = await fresh(t)
      assert.deepEqual(await store.latestOfAll(undefined, 10), [])
      const ids = Array.from({ length: 25 }, (_, i) => `s-${String(i).padStart(2, '0')}`)
      await store.write(ids.flatMap((id, i) => [r(id, T0 + i, i), r(id, T0 - 100, -1), r(id, T0 + i + 0.5, i + 0.5)]))
      const pages: Reading[][] = []
      for (let after: string | undefined; ;) {
        const page = await store.latestOfAll(after, 10)
        if (page.length === 0) break
        pages.push(page)
        after = page.at(-1)?.sensor_id
      }
      assert.deepEqual(
        pages.map((p) => p.length),
        [10, 10, 5]
      )
      assert.deepEqual(
        pages.flat(),
        ids.map((id, i) => r(id, T0 + i + 0.5, i + 0.5))
      )
    })

    test('an unknown sensor has no newest reading', async (t) => {
      const store = await fresh(t)
      await store.write([r('known', T0)])
      assert.equal(await latest(store, 'unknown'), undefined)
      assert.equal(await latest(store, ''), undefined)
    })

    test('a 10,000-row batch', async (t) => {
      const store = await fresh(t)
      const batch = Array.from({ length: 10_000 }, (_, i) => r(`sensor-${i % 100}`, T0 + Math.floor(i / 100) + (i % 7) / 1000, i))
      assert.deepEqual(await store.write(batch), { inserted: 10_000, duplicates: 0 })
      assert.deepEqual(await store.write(batch), { inserted: 0, duplicates: 10_000 })
      assert.deepEqual(await latest(store, 'sensor-99'), batch[9_999])
      const next = batch.map((x, i) => (i % 2 === 0 ? x : r(x.sensor_id, x.timestamp + 1000, -1)))
      const flags = await store.writeReturningNew(next)
      assert.equal(flags.length, 10_000)
      assert.ok(flags.every((f, i) => f === (i % 2 === 1)))
    })

    test('ping answers', async (t) => {
      const store = await fresh(t)
      await store.ping()
    })

    test('an unreachable database: connect rejects with an AppError, quickly', async (t) => {
      const store = options.unreachable()
      t.after(() => store.close())
      const started = Date.now()
      await assert.rejects(store.connect(), (err: unknown) => err instanceof AppError && err.retryable && err.code === 'UNAVAILABLE')
      await assert.rejects(store.write([r('a', T0)]), (err: unknown) => err instanceof AppError && err.retryable)
      assert.ok(Date.now() - started < 15_000, 'took more than 15 s to fail')
    })

    test('database stopped: write rejects with a retryable AppError, and works again after start', async (t) => {
      const server = await options.ownServer()
      const store = await track(t, server.open())
      assert.deepEqual(await store.write([r('a', T0)]), { inserted: 1, duplicates: 0 })
      await server.stop()
      const started = Date.now()
      await assert.rejects(store.write([r('a', T0 + 1)]), (err: unknown) => err instanceof AppError && err.retryable && err.code === 'UNAVAILABLE')
      await assert.rejects(store.ping(), (err: unknown) => err instanceof AppError && err.retryable)
      assert.ok(Date.now() - started < 15_000, 'took more than 15 s to fail')
      await server.start()
      // the same instance recovers by itself: no reconnect call
      assert.deepEqual(await store.write([r('a', T0 + 1), r('a', T0)]), { inserted: 1, duplicates: 1 })
      assert.deepEqual(await latest(store, 'a'), r('a', T0 + 1))
    })
  })
}
