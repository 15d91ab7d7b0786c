// KafkaBusReader on a real broker: offsets, offsets for a time, and reads of offset ranges.
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { test } from 'node:test'
import { uniqueName, useKafka } from '../../../test/harness/index.ts'
import { createLogger } from '../../platform/logger.ts'
import { KafkaBusAdmin, KafkaBusPublisher, KafkaBusReader, type KafkaBusOptions } from './kafka.ts'

async function options(): Promise<KafkaBusOptions> {
  return { brokers: [(await useKafka()).brokers], clientId: uniqueName('reader_test'), logger: createLogger('silent') }
}

const PER_PARTITION = 6_000
const T0 = Date.now() - 60 * 60_000

async function topicWithRecords(): Promise<string> {
  const topic = uniqueName('reader')
  const admin = new KafkaBusAdmin(await options())
  const publisher = new KafkaBusPublisher(await options())
  try {
    await admin.ensureTopics([{ name: topic, partitions: 3, replicationFactor: 1 }])
    await publisher.connect()
    // Keys chosen by partition would depend on the partitioner: one key per partition is enough, found by trying.
    for (let i = 0; i < PER_PARTITION; i += 500) {
      await publisher.publish(
        Array.from({ length: 500 * 3 }, (_, j) => ({
          topic,
          key: `k${j % 3}`,
          value: `{"sensor_id":"k${j % 3}","value":${i + Math.floor(j / 3)},"timestamp":1700000000.123,"pad":"${'x'.repeat(40)}"}`,
          timestampMs: T0 + (i + Math.floor(j / 3)) * 100
        }))
      )
    }
  } finally {
    await publisher.close()
    await admin.close()
  }
  return topic
}

test('kafka reader: offsets, offsets for a time, and a slow reader over many fetches gets every record of its ranges once, in order', async () => {
  const topic = await topicWithRecords()
  const reader = new KafkaBusReader(await options())
  await reader.connect()
  try {
    const offsets = await reader.offsets(topic)
    const ends = offsets.map((p) => Number(p.end)).sort((a, b) => a - b)
    assert.equal(
      ends.reduce((a, b) => a + b, 0),
      3 * PER_PARTITION
    )
    assert.ok(offsets.every((p) => p.start === 0n))
    assert.deepEqual(await reader.offsets(uniqueName('missing')), [])

    const atTime = await reader.offsetsForTime(topic, T0 + 1_500 * 100)
    const later = await reader.offsetsForTime(topic, Date.now() + 60_000)
    for (const p of offsets) {
      // Every key sent the same sequence, so each non-empty partition holds whole multiples of it.
      if (p.end > 0n) assert.equal(atTime.get(p.partition), (p.end / BigInt(PER_PARTITION)) * 1_500n)
      assert.equal(later.get(p.partition), p.end, 'no record that late: the end')
    }

    const ranges = offsets.map((p) => ({ partition: p.partition, from: p.end / 4n, to: p.end - p.end / 4n }))
    // Large batches taken at once, and small ones taken slowly: the stream must keep fetching
    // whenever its buffer has been read, however the batches are handled.
    for (const [maxBatchRecords, pauseMs] of [
      [5_000, 0],
      [100, 5]
    ] as const) {
      const seen = new Map<number, bigint[]>()
      for await (const batch of reader.read(topic, ranges, { maxBatchRecords, signal: AbortSignal.timeout(60_000) })) {
        assert.ok(batch.length <= maxBatchRecords)
        for (const r of batch) seen.set(r.partition, [...(seen.get(r.partition) ?? []), r.offset])
        if (pauseMs > 0) await sleep(pauseMs)
      }
      for (const r of ranges) {
        const expected = Array.from({ length: Number(r.to - r.from) }, (_, i) => r.from + BigInt(i))
        assert.deepEqual(seen.get(r.partition) ?? [], expected, `partition ${r.partition}, batches of ${maxBatchRecords}`)
      }
    }
  } finally {
    await reader.close()
  }
})
