// The batch handler's `alerts` dependency: evaluated after the batch's Postgres writes and before
// the batch resolves (so the offsets commit only once it is durable), retried like a write, one batch
// after another in batch order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Registry } from 'prom-client'
import { MemoryLatestValues } from '../../adapters/cache/memory.ts'
import { MemoryLiveFeed } from '../../adapters/feed/memory-live-feed.ts'
import type { Reading } from '../../domain/reading.ts'
import { AppError } from '../../platform/errors.ts'
import { createLogger } from '../../platform/logger.ts'
import type { BusRecord } from '../../ports/bus.ts'
import type { ReadingStore } from '../../ports/store.ts'
import { createIngestHandler } from './ingest.ts'
import { LatestCache } from './latest-cache.ts'
import { StreamingMetrics } from './metrics.ts'

const T0 = 1_689_260_000

function record(offset: number, sensor: string, ts: number): BusRecord {
  return {
    topic: 'r',
    partition: 0,
    offset: BigInt(offset),
    key: null,
    value: Buffer.from(JSON.stringify({ sensor_id: sensor, value: 1, timestamp: ts })),
    timestampMs: T0 * 1000,
    headers: new Map()
  }
}

test('alerts are evaluated after the writes, before the batch resolves, retried on a retryable failure, in batch order', async () => {
  const log: string[] = []
  let slowFirst: (() => void) | undefined
  const store = {
    write: async (readings: readonly Reading[]) => {
      log.push(`write ${readings.map((r) => r.sensor_id).join(',')}`)
      return { inserted: readings.length, duplicates: 0 }
    }
  } as unknown as ReadingStore
  let failures = 1
  const alerts = {
    evaluate: async (readings: readonly Reading[]) => {
      const ids = readings.map((r) => r.sensor_id).join(',')
      if (ids === 'a' && slowFirst === undefined) await new Promise<void>((resolve) => (slowFirst = resolve))
      if (ids === 'b' && failures-- > 0) throw new AppError('UNAVAILABLE', 'postgres down', { retryable: true })
      log.push(`alerts ${ids}`)
    }
  }
  const metrics = new StreamingMetrics(new Registry())
  const logger = createLogger('silent')
  const deadLetters = { connect: async () => {}, close: async () => {}, maxRecordBytes: async () => 4000, publish: async () => {} }
  const cache = new LatestCache({ store, latest: new MemoryLatestValues(), metrics, logger })
  const handler = createIngestHandler({ store, cache, live: new MemoryLiveFeed(), deadLetters, dlqTopic: 'r.dlq', metrics, logger, alerts }, 1)
  const signal = new AbortController().signal
  let firstDone = false
  const first = handler([record(0, 'a', T0)], { signal }).then(() => {
    firstDone = true
    log.push('resolved a')
  })
  const second = handler([record(1, 'b', T0 + 1)], { signal }).then(() => log.push('resolved b'))
  await new Promise((r) => setTimeout(r, 50))
  assert.equal(firstDone, false, 'the batch waits for its alert evaluation')
  assert.ok(!log.includes('alerts b'), 'the next batch is evaluated after the one before it')
  slowFirst?.()
  await Promise.all([first, second])
  assert.deepEqual(log, ['write a', 'write b', 'alerts a', 'resolved a', 'alerts b', 'resolved b'])
  assert.equal((await metrics.retries.get()).values.find((v) => v.labels['dependency'] === 'postgres')?.value, 1)
})
