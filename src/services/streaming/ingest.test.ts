// The batch handler on in-process adapters and a store that records its writes: what goes where,
// what is counted, and that a failure is a rejection (the consumer then commits nothing).
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import { MemoryLiveFeed } from '../../adapters/feed/memory-live-feed.ts'
import type { Reading } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import { recordBytes, type BusRecord, type OutgoingRecord } from '../../ports/bus.ts'
import { AppError } from '../../platform/errors.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { fitDeadLetter } from './dead-letter.ts'
import { createIngestHandler, laneOf } from './ingest.ts'
import { LatestCache } from './latest-cache.ts'
import { StreamingMetrics } from './metrics.ts'

const T0 = 1_689_260_000
/** the dead-letter topic's limit in these cases */
const DLQ_LIMIT = 4_000

function record(offset: number, value: string | null): BusRecord {
  return {
    topic: 'readings',
    partition: 0,
    offset: BigInt(offset),
    key: null,
    value: value === null ? null : Buffer.from(value),
    timestampMs: T0 * 1000,
    headers: new Map()
  }
}

const reading = (sensor_id: string, timestamp: number, value = 1): string => JSON.stringify({ sensor_id, value, timestamp })

function setup(slowDeadLetters?: Promise<void>) {
  const writes: Reading[][] = []
  const store = {
    write: async (readings: readonly Reading[]) => {
      writes.push([...readings])
      return { inserted: readings.length, duplicates: 0 }
    }
  } as unknown as ReadingStore
  const published: OutgoingRecord[] = []
  const deadLetters = {
    connect: async () => {},
    close: async () => {},
    maxRecordBytes: async () => DLQ_LIMIT,
    publish: async (records: readonly OutgoingRecord[]) => {
      await slowDeadLetters
      if (records.some((r) => recordBytes(r) > DLQ_LIMIT)) throw new AppError('VALIDATION_FAILED', 'too large')
      published.push(...records)
    }
  }
  const latest = new MemoryLatestValues()
  const metrics = new StreamingMetrics(new Registry())
  const logger = createLogger('silent')
  const cache = new LatestCache({ store, latest, metrics, logger })
  const handler = createIngestHandler({ store, cache, live: new MemoryLiveFeed(), deadLetters, dlqTopic: 'readings.dlq', metrics, logger })
  return { handler, writes, published, latest, metrics }
}

test('valid readings go to the store by lane and to the latest values; invalid ones to the dead-letter topic', async () => {
  const { handler, writes, published, latest, metrics } = setup()
  const ids = ['a', 'b', 'c', 'd', 'e', 'f']
  const batch = [...ids.map((id, i) => record(i, reading(id, T0 + i))), record(6, reading('a', T0 + 10, 7)), record(7, '{"sensor_id":"x"}'), record(8, null)]

  await handler(batch, { signal: new AbortController().signal })

  const stored = writes.flat()
  assert.equal(stored.length, 7)
  for (const part of writes) assert.equal(new Set(part.map((r) => laneOf(r.sensor_id, 2))).size, 1, 'one lane per write')
  assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 7, timestamp: T0 + 10 })
  assert.deepEqual(
    published.map((p) => p.headers?.['dlq-source-offset']),
    ['7', '8']
  )
  assert.equal((await metrics.consumed.get()).values[0]?.value, 9)
  assert.equal((await metrics.stored.get()).values[0]?.value, 7)
  assert.equal((await metrics.deadLettered.get()).values[0]?.value, 2)
})

test('a record that cannot even be read makes the handler reject, not throw', async () => {
  const { handler, writes } = setup()
  const broken = {
    ...record(0, null),
    get value(): Buffer {
      throw new Error('unreadable record')
    }
  }
  let result: Promise<void> | undefined
  assert.doesNotThrow(() => {
    result = handler([broken], { signal: new AbortController().signal })
  })
  await assert.rejects(result as Promise<void>, /unreadable record/)
  assert.equal(writes.length, 0)
})

test('a batch whose dead letters are slow to publish still writes before the next batch in hand', async () => {
  let release: () => void = () => {}
  const { handler, writes, latest } = setup(new Promise<void>((resolve) => (release = resolve)))
  const signal = new AbortController().signal
  // batch 1: the original and a poison record; batch 2: a replay of the same (sensor_id, ts) with another value
  const first = handler([record(0, reading('a', T0, 1)), record(1, 'poison')], { signal })
  const second = handler([record(2, reading('a', T0, 2))], { signal })
  await new Promise((r) => setTimeout(r, 20))
  release()
  await Promise.all([first, second])
  assert.deepEqual(
    writes.flat().map((r) => r.value),
    [1, 2],
    "the first batch's reading is written first"
  )
  assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 1, timestamp: T0 }, 'an equal timestamp keeps the first value')
})

test('an invalid record too large for the dead-letter topic is cut to fit, with its size and sha256, and counted', async () => {
  const { handler, published, metrics } = setup()
  const huge = `{"sensor_id":"${'é'.repeat(3_000)}`
  const rec = { ...record(0, huge), key: Buffer.from('k'), headers: new Map([['origin', 'test']]) }
  await handler([rec, record(1, 'small and bad')], { signal: new AbortController().signal })
  const [cut, whole] = published as [OutgoingRecord, OutgoingRecord]
  assert.ok(recordBytes(cut) <= DLQ_LIMIT && recordBytes(cut) > DLQ_LIMIT - 8, `cut to ${recordBytes(cut)} bytes`)
  assert.deepEqual(Buffer.from(huge).subarray(0, (cut.value as Buffer).length), cut.value, 'a prefix of the original value')
  assert.equal(cut.headers?.['dlq-truncated'], 'value')
  assert.equal(cut.headers?.['dlq-original-bytes'], String(Buffer.byteLength(huge)))
  assert.equal(cut.headers?.['dlq-original-sha256'], createHash('sha256').update(huge).digest('hex'))
  assert.equal(cut.headers?.origin, 'test')
  assert.deepEqual(cut.key, Buffer.from('k'))
  assert.equal(whole.headers?.['dlq-truncated'], undefined)
  assert.equal((await metrics.deadLettered.get()).values[0]?.value, 2)
  assert.equal((await metrics.deadLettersTruncated.get()).values[0]?.value, 1)
})

test('a dead letter whose headers or key alone are too large drops the original headers, then cuts the key', () => {
  const letter = (key: string, headers: Record<string, string>): OutgoingRecord => ({
    topic: 'dlq',
    key,
    value: 'v'.repeat(100),
    headers: { ...headers, 'dlq-error': 'bad', 'dlq-source-offset': '7' }
  })
  const noHeaders = fitDeadLetter(letter('k', { big: 'h'.repeat(5_000) }), 1_000)
  assert.equal(noHeaders.record.headers?.['dlq-truncated'], 'value,headers')
  assert.equal(noHeaders.record.headers?.big, undefined)
  assert.equal(noHeaders.record.headers?.['dlq-source-offset'], '7')
  const noKey = fitDeadLetter(letter('k'.repeat(5_000), {}), 1_000)
  assert.equal(noKey.record.headers?.['dlq-truncated'], 'value,headers,key')
  for (const fitted of [noHeaders, noKey]) assert.ok(fitted.truncated && recordBytes(fitted.record) <= 1_000, `${recordBytes(fitted.record)} bytes`)
  assert.ok((noKey.record.key as Buffer).length > 0, 'part of the key kept')
})
