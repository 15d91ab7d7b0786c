// The batch handler on in-process adapters and a store that records its writes: what goes where,
// what is counted, and that a failure is a rejection (the consumer then commits nothing).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import { MemoryLiveFeed } from '../../adapters/cache/memory-live-feed.ts'
import type { Reading } from '../../domain/reading.ts'
import { createLogger } from '../../platform/logger.ts'
import type { BusRecord, OutgoingRecord } from '../../ports/bus.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { createIngestHandler, laneOf } from './ingest.ts'
import { StreamingMetrics } from './metrics.ts'

const T0 = 1_689_260_000

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
    publish: async (records: readonly OutgoingRecord[]) => {
      await slowDeadLetters
      published.push(...records)
    }
  }
  const latest = new MemoryLatestValues()
  const metrics = new StreamingMetrics(new Registry())
  const handler = createIngestHandler({
    store, latest, live: new MemoryLiveFeed(), deadLetters, dlqTopic: 'readings.dlq', metrics, logger: createLogger('silent')
  })
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
  assert.deepEqual(published.map((p) => p.headers?.['dlq-source-offset']), ['7', '8'])
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
  assert.deepEqual(writes.flat().map((r) => r.value), [1, 2], "the first batch's reading is written first")
  assert.deepEqual(await latest.get('a'), { sensor_id: 'a', value: 1, timestamp: T0 }, 'an equal timestamp keeps the first value')
})
