// The ReadingQueries contract: what the API's reads promise, asked of the port, with the expected
// answers computed here from the readings written. There is no in-process twin of the queries (the
// embedded default is a real PostgreSQL); any future adapter must pass these same cases.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { Reading } from '../../src/domain/reading.ts'
import type { BucketStats, PagePosition, ReadingQueries } from '../../src/ports/queries.ts'

export interface QueriesDatabase {
  /** connected queries on a new, empty, migrated database of their own */
  readonly queries: ReadingQueries
  /** stores readings as the write side does (through the store port) */
  write(readings: readonly Reading[]): Promise<void>
  close(): Promise<void>
}

export interface QueriesContractOptions {
  readonly freshDatabase: () => Promise<QueriesDatabase>
}

/** an hour boundary (2023-07-13T15:00:00Z): buckets of every tier start here */
const H = 1_689_260_400
const r = (sensor_id: string, timestamp: number, value = 1): Reading => ({ sensor_id, value, timestamp })
const key = (x: Reading): string => `${x.sensor_id}@${x.timestamp}`

/** The expected statistics, per epoch-aligned bucket, oldest first, empty buckets left out. */
function expectedBuckets(readings: readonly Reading[], sensorId: string, from: number, to: number, width: number): BucketStats[] {
  const buckets = new Map<number, number[]>()
  for (const x of readings) {
    if (x.sensor_id !== sensorId || x.timestamp < from || x.timestamp >= to) continue
    const start = Math.floor(x.timestamp / width) * width
    buckets.set(start, [...(buckets.get(start) ?? []), x.value])
  }
  return [...buckets.entries()]
    .sort(([a], [b]) => a - b)
    .map(([start, values]) => ({
      start,
      count: values.length,
      min: Math.min(...values),
      max: Math.max(...values),
      mean: values.reduce((sum, v) => sum + v, 0) / values.length
    }))
}

function assertBuckets(actual: readonly BucketStats[], expected: readonly BucketStats[]): void {
  assert.deepEqual(
    actual.map((b) => [b.start, b.count, b.min, b.max]),
    expected.map((b) => [b.start, b.count, b.min, b.max])
  )
  actual.forEach((b, i) => assert.ok(Math.abs(b.mean - (expected[i]?.mean ?? Number.NaN)) < 1e-9, `mean of bucket ${b.start}`))
}

export function queriesContract(name: string, options: QueriesContractOptions): void {
  async function fresh(t: TestContext, readings: readonly Reading[] = []): Promise<ReadingQueries> {
    const db = await options.freshDatabase()
    t.after(() => db.close())
    if (readings.length > 0) await db.write(readings)
    return db.queries
  }

  describe(`ReadingQueries contract: ${name}`, () => {
    test('an empty database: no page, no sensor, no bucket, nothing to replay; ping answers', async (t) => {
      const q = await fresh(t)
      await q.ping()
      assert.deepEqual(await q.list({ limit: 10 }), { readings: [] })
      assert.deepEqual(await q.latestPerSensor(), [])
      assert.equal(await q.latest('a'), undefined)
      assert.deepEqual((await q.stats({ sensorId: 'a', from: H, to: H + 3600, bucketSeconds: 60 })).buckets, [])
      assert.deepEqual(await q.replay({ after: { tsMs: 0, sensorId: '' }, patterns: ['*'], limit: 10 }), [])
    })

    test('answerVersion: a new value once a reading of the range is stored; the same for a reading already stored or one of another day', async (t) => {
      const db = await options.freshDatabase()
      t.after(() => db.close())
      const q = db.queries
      const DAY = 86_400
      const D = Math.floor(H / DAY) * DAY
      const version = (from: number, to: number): Promise<string | undefined> => q.answerVersion(from, to)
      const day0 = await version(D, D + DAY)
      const days3 = await version(D, D + 3 * DAY)
      assert.ok(day0 !== undefined && days3 !== undefined, 'an empty database has a version')
      await db.write([r('a', D + 10)])
      const day1 = await version(D, D + DAY)
      assert.notEqual(day1, day0)
      assert.notEqual(await version(D + 3600, D + 7200), day0, 'any range within the day: a version for the whole day')
      await db.write([r('a', D + 10, 5)])
      assert.equal(await version(D, D + DAY), day1, 'a reading already stored changes no answer')
      await db.write([r('b', D + 2 * DAY + 5)])
      assert.equal(await version(D, D + DAY), day1, 'another day: unchanged (a range ending at midnight ends before the next day)')
      assert.notEqual(await version(D, D + 3 * DAY), days3)
      const both = [await version(D, D + DAY), await version(D + DAY, D + 2 * DAY)]
      await db.write([r('c', D + 20), r('c', D + DAY + 20)])
      assert.notEqual(await version(D, D + DAY), both[0], 'a batch over two days: both')
      assert.notEqual(await version(D + DAY, D + 2 * DAY), both[1])
    })

    test('list: newest first; pages follow each other without gap or repeat, also at equal times; the last has no next', async (t) => {
      // 3 sensors at each of 7 times: 21 readings, many sharing a timestamp
      const readings = Array.from({ length: 21 }, (_, i) => r(`s${i % 3}`, H + Math.floor(i / 3), i))
      const q = await fresh(t, readings)
      const seen: Reading[] = []
      let after: PagePosition | undefined
      for (let pages = 0; pages < 10; pages++) {
        const page = await q.list({ limit: 4, ...(after === undefined ? {} : { after }) })
        seen.push(...page.readings)
        if (page.next === undefined) break
        assert.equal(page.readings.length, 4, 'a page with a next is full')
        after = page.next
      }
      assert.equal(seen.length, 21)
      assert.equal(new Set(seen.map(key)).size, 21, 'no reading twice')
      assert.deepEqual(new Set(seen.map(key)), new Set(readings.map(key)))
      for (let i = 1; i < seen.length; i++) assert.ok((seen[i - 1]?.timestamp ?? 0) >= (seen[i]?.timestamp ?? 0), 'newest first')
    })

    test('list: one sensor, from inclusive, to exclusive', async (t) => {
      const readings = [r('a', H), r('a', H + 10), r('a', H + 20), r('b', H + 10), r('a', H + 30)]
      const q = await fresh(t, readings)
      const page = await q.list({ sensorId: 'a', from: H + 10, to: H + 30, limit: 10 })
      assert.deepEqual(page.readings, [r('a', H + 20), r('a', H + 10)])
      assert.equal(page.next, undefined)
    })

    test("latest: one sensor's newest reading by timestamp, not by arrival; undefined for an unknown sensor", async (t) => {
      const db = await options.freshDatabase()
      t.after(() => db.close())
      await db.write([r('a', H + 5, 5), r('b', H + 0.001, 2)])
      await db.write([r('a', H + 1, 1), r('a', H + 3, 3)])
      const q = db.queries
      assert.deepEqual(await q.latest('a'), r('a', H + 5, 5))
      assert.deepEqual(await q.latest('b'), r('b', H + 0.001, 2))
      assert.equal(await q.latest('unknown'), undefined)
      assert.equal(await q.latest(''), undefined)
      await db.write([r('a', H + 5.001, 6)])
      assert.deepEqual(await q.latest('a'), r('a', H + 5.001, 6))
    })

    test("latestPerSensor: each sensor's newest reading, by sensor_id", async (t) => {
      const q = await fresh(t, [r('b', H + 5, 1), r('a', H + 1, 2), r('b', H + 9, 3), r('a', H, 4), r('c', H, 5)])
      assert.deepEqual(await q.latestPerSensor(), [r('a', H + 1, 2), r('b', H + 9, 3), r('c', H, 5)])
    })

    test('stats: count, min, max, mean per epoch-aligned bucket, oldest first, empty buckets left out, at every width', async (t) => {
      // sensor a: readings over two hours with a gap; sensor b in the same minutes, never counted for a
      const readings: Reading[] = []
      for (let s = 0; s < 7200; s += 37) if (s < 1800 || s > 3000) readings.push(r('a', H + s + 0.25, (s % 101) - 50))
      for (let s = 0; s < 7200; s += 600) readings.push(r('b', H + s, 1_000))
      const q = await fresh(t, readings)
      for (const [from, to, width] of [
        [H, H + 7200, 60],
        [H, H + 7200, 3600],
        [H, H + 7200, 600],
        [H + 100, H + 7000, 60], // unaligned edges
        [H + 90, H + 500, 30], // narrower than a minute
        [H - 7200, H + 7200, 7200]
      ] as const) {
        const stats = await q.stats({ sensorId: 'a', from, to, bucketSeconds: width })
        assertBuckets(stats.buckets, expectedBuckets(readings, 'a', from, to, width))
        assert.ok(['raw', '1m', '1h', '1d'].includes(stats.tier), stats.tier)
      }
    })

    test('stats: the coarsest tier that answers exactly is named', async (t) => {
      const q = await fresh(t, [r('a', H + 1, 1), r('a', H + 3599, 3)])
      assert.equal((await q.stats({ sensorId: 'a', from: H, to: H + 7200, bucketSeconds: 3600 })).tier, '1h')
      assert.equal((await q.stats({ sensorId: 'a', from: H, to: H + 7200, bucketSeconds: 60 })).tier, '1m')
      assert.equal((await q.stats({ sensorId: 'a', from: H, to: H + 7200, bucketSeconds: 30 })).tier, 'raw')
    })

    test('replay: strictly after the position, oldest first by (timestamp, sensor_id), filtered by ids and globs, limited', async (t) => {
      const readings = [r('p-1', H + 1), r('p-2', H + 1), r('q', H + 1), r('p-1', H + 2), r('p-10', H + 2), r('x', H + 3), r('p-2', H)]
      const q = await fresh(t, readings)
      const all = await q.replay({ after: { tsMs: (H + 1) * 1000, sensorId: '' }, patterns: ['*'], limit: 100 })
      assert.deepEqual(all.map(key), ['p-1@' + (H + 1), 'p-2@' + (H + 1), 'q@' + (H + 1), 'p-1@' + (H + 2), 'p-10@' + (H + 2), 'x@' + (H + 3)])
      const after = await q.replay({ after: { tsMs: (H + 1) * 1000, sensorId: 'p-2' }, patterns: ['*'], limit: 100 })
      assert.deepEqual(after.map(key), ['q@' + (H + 1), 'p-1@' + (H + 2), 'p-10@' + (H + 2), 'x@' + (H + 3)])
      const globbed = await q.replay({ after: { tsMs: 0, sensorId: '' }, patterns: ['p-?', 'x'], limit: 100 })
      assert.deepEqual(globbed.map(key), ['p-2@' + H, 'p-1@' + (H + 1), 'p-2@' + (H + 1), 'p-1@' + (H + 2), 'x@' + (H + 3)])
      const limited = await q.replay({ after: { tsMs: 0, sensorId: '' }, patterns: ['*'], limit: 2 })
      assert.deepEqual(limited.map(key), ['p-2@' + H, 'p-1@' + (H + 1)])
    })
  })
}
