// The bus contract: the in-process bus and Kafka must pass these same cases, so the fake cannot
// drift from Kafka. Each case uses topics and groups of its own (random names) on the bus that
// `makeBus` returns; the suite calls `cleanup` after each case.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { BatchHandler, BusAdmin, BusConsumer, BusPublisher, BusRecord, ConsumeOptions, OutgoingRecord } from '../../src/ports/bus.ts'
import { uniqueName } from '../harness/names.ts'
import { waitFor as waitUntil } from '../harness/wait.ts'

export interface BusUnderTest {
  /** connected */
  readonly publisher: BusPublisher
  /** a new consumer (connected or not: the suite calls connect()); the suite closes it */
  readonly consumer: () => BusConsumer
  /** connected */
  readonly admin: BusAdmin
  readonly cleanup: () => Promise<void>
}

/** How long anything may take on this bus (Kafka needs seconds to form a group). */
const WAIT_MS = 30_000

export function busContract(name: string, makeBus: () => Promise<BusUnderTest>): void {
  async function setup(t: TestContext, partitions = 3): Promise<BusUnderTest & { topic: string; group: string }> {
    const bus = await makeBus()
    t.after(() => bus.cleanup())
    const topic = uniqueName('bus_contract')
    await bus.admin.ensureTopics([{ name: topic, partitions, replicationFactor: 1 }])
    return { ...bus, topic, group: uniqueName('bus_group') }
  }

  /** Runs a consumer in the background, collecting what it receives; closed after the case. */
  async function consume(
    t: TestContext,
    bus: BusUnderTest,
    options: Omit<ConsumeOptions, 'maxBatchRecords' | 'maxBatchWaitMs'> & Partial<ConsumeOptions>,
    onBatch?: BatchHandler
  ): Promise<{ consumer: BusConsumer; records: BusRecord[]; batches: number[]; done: Promise<void> }> {
    const consumer = bus.consumer()
    await consumer.connect()
    const records: BusRecord[] = []
    const batches: number[] = []
    const done = consumer.run({ maxBatchRecords: 100, maxBatchWaitMs: 50, ...options }, async (batch, context) => {
      await onBatch?.(batch, context)
      batches.push(batch.length)
      records.push(...batch)
    })
    done.catch(() => undefined) // observed by the case when it matters
    t.after(() => consumer.close())
    return { consumer, records, batches, done }
  }

  describe(`Bus contract: ${name}`, () => {
    test('records come out in per-key order across partitions, each key on one partition', async (t) => {
      const bus = await setup(t, 4)
      const keys = Array.from({ length: 20 }, (_, i) => `sensor-${i}`)
      const perKey = 25
      for (let round = 0; round < 5; round++) {
        const records: OutgoingRecord[] = []
        for (let n = round * 5; n < round * 5 + 5; n++) for (const key of keys) records.push({ topic: bus.topic, key, value: String(n) })
        await bus.publisher.publish(records)
      }
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 37 })
      await waitFor(() => records.length >= keys.length * perKey, 'all records')
      assert.equal(records.length, keys.length * perKey)
      const partitionOf = new Map<string, number>()
      const seen = new Map<string, number[]>()
      const lastOffset = new Map<number, bigint>()
      for (const record of records) {
        const key = String(record.key)
        assert.equal(partitionOf.get(key) ?? record.partition, record.partition, `${key} stays on one partition`)
        partitionOf.set(key, record.partition)
        seen.set(key, [...(seen.get(key) ?? []), Number(String(record.value))])
        assert.ok((lastOffset.get(record.partition) ?? -1n) < record.offset, 'offsets increase within a partition')
        lastOffset.set(record.partition, record.offset)
      }
      for (const key of keys) assert.deepEqual(seen.get(key), Array.from({ length: perKey }, (_, n) => n), key)
      assert.ok(new Set(partitionOf.values()).size > 1, 'keys spread over several partitions')
    })

    test('key, null key, value, null value, headers and timestamp round-trip', async (t) => {
      const bus = await setup(t, 1)
      const binary = Buffer.from([0, 1, 2, 253, 254, 255])
      const before = Date.now()
      await bus.publisher.publish([
        { topic: bus.topic, key: 'k1', value: '{"a":1}', headers: { origin: 'test', 'x-é': 'ü ✓' }, timestampMs: 1_689_260_000_123 },
        { topic: bus.topic, key: null, value: binary },
        { topic: bus.topic, key: Buffer.from('k3'), value: null },
        { topic: bus.topic, key: '', value: '' }
      ])
      const after = Date.now()
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group })
      await waitFor(() => records.length >= 4, 'four records')
      const [first, second, third, fourth] = records as [BusRecord, BusRecord, BusRecord, BusRecord]
      assert.deepEqual([first.topic, first.partition], [bus.topic, 0])
      assert.deepEqual(records.map((r) => r.offset), [0n, 1n, 2n, 3n])
      assert.deepEqual(first.key, Buffer.from('k1'))
      assert.deepEqual(first.value, Buffer.from('{"a":1}'))
      assert.deepEqual([...first.headers].sort(), [['origin', 'test'], ['x-é', 'ü ✓']])
      assert.equal(first.timestampMs, 1_689_260_000_123)
      assert.equal(second.key, null)
      assert.deepEqual(second.value, binary)
      assert.equal(second.headers.size, 0)
      assert.ok(second.timestampMs >= before - 1 && second.timestampMs <= after + 1, 'the bus stamps records without a time')
      assert.deepEqual(third.key, Buffer.from('k3'))
      assert.equal(third.value, null)
      assert.deepEqual(fourth.key, Buffer.alloc(0))
      assert.deepEqual(fourth.value, Buffer.alloc(0))
    })

    test('batches never exceed maxBatchRecords, and a lone record arrives within about maxBatchWaitMs', async (t) => {
      const bus = await setup(t, 2)
      await bus.publisher.publish(Array.from({ length: 100 }, (_, i) => ({ topic: bus.topic, key: `k${i % 10}`, value: String(i) })))
      const { records, batches } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 7, maxBatchWaitMs: 300 })
      await waitFor(() => records.length >= 100, '100 records')
      assert.ok(batches.every((size) => size >= 1 && size <= 7), `batch sizes ${batches.join(',')}`)
      // The consumer is idle now: a single record must not wait for six more.
      const sent = Date.now()
      await bus.publisher.publish([{ topic: bus.topic, key: 'alone', value: 'x' }])
      await waitFor(() => records.length >= 101, 'the lone record')
      const latency = Date.now() - sent
      assert.ok(latency < 300 + 1_500, `lone record took ${latency} ms`)
      assert.equal(batches.at(-1), 1)
    })

    test('with nothing in hand, what has arrived is handed over at once, not after maxBatchWaitMs', async (t) => {
      const bus = await setup(t, 2)
      await bus.publisher.publish([{ topic: bus.topic, key: 'first', value: 'first' }])
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 100, maxBatchWaitMs: 2_000, maxInFlightBatches: 2 })
      await waitFor(() => records.length >= 1, 'the first record (the consumer has joined)')
      for (let i = 0; i < 3; i++) {
        const sent = Date.now()
        await bus.publisher.publish([{ topic: bus.topic, key: `k${i}`, value: String(i) }])
        await waitFor(() => records.length >= i + 2, `record ${i}`)
        const latency = Date.now() - sent
        assert.ok(latency < 500, `a lone record took ${latency} ms with maxBatchWaitMs 2000`)
      }
    })

    test('with maxInFlightBatches 2, two batches are in hand at once, never three, and offsets are committed in batch order', async (t) => {
      const bus = await setup(t, 1)
      await bus.publisher.publish(Array.from({ length: 10 }, (_, i) => ({ topic: bus.topic, key: 'k', value: String(i) })))
      let release: () => void = () => {}
      const gate = new Promise<void>((resolve) => (release = resolve))
      t.after(() => release()) // before the consumer's close, which waits for the batch in hand
      let inHand = 0
      let most = 0
      let handedOver = 0
      const { records } = await consume(
        t,
        bus,
        { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 2, maxBatchWaitMs: 50, maxInFlightBatches: 2 },
        async () => {
          const n = handedOver++
          most = Math.max(most, ++inHand)
          // The first batch is held; the second resolves at once, before it.
          if (n === 0) await gate
          inHand--
        }
      )
      await waitFor(() => handedOver >= 2, 'a second batch while the first is in hand')
      assert.equal(records.length, 2, 'the second batch was handled, the first is still in hand')
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.equal(handedOver, 2, 'no third batch while two are in hand')
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), 10, 'the second batch is not committed before the first')
      release()
      await waitFor(() => records.length >= 10, 'all records')
      assert.equal(most, 2)
      assert.deepEqual(records.map((r) => String(r.value)).sort(), Array.from({ length: 10 }, (_, i) => String(i)).sort())
      const deadline = Date.now() + WAIT_MS
      while ((await bus.admin.consumerLag(bus.group, bus.topic)) !== 0) {
        assert.ok(Date.now() < deadline, 'offsets committed up to the end')
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    })

    test('a handler rejection makes run() reject, commits nothing, and the group gets the records again', async (t) => {
      const bus = await setup(t, 2)
      await bus.publisher.publish(Array.from({ length: 10 }, (_, i) => ({ topic: bus.topic, key: `k${i}`, value: String(i) })))
      const failing = bus.consumer()
      await failing.connect()
      t.after(() => failing.close())
      let calls = 0
      const seenByFailing = new Set<string>()
      const failure = new Error('handler failed')
      const run = failing.run({ topics: [bus.topic], groupId: bus.group, maxBatchRecords: 100, maxBatchWaitMs: 500 }, async (batch) => {
        calls++
        for (const r of batch) seenByFailing.add(String(r.value))
        throw failure
      })
      await assert.rejects(withTimeout(run, WAIT_MS, 'run() to reject'), (err) => err === failure)
      assert.equal(calls, 1, 'no batch after the rejection')
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group })
      await waitFor(() => records.length >= 10, 'the same records again')
      const values = new Set(records.map((r) => String(r.value)))
      for (const value of seenByFailing) assert.ok(values.has(value), `record ${value} delivered again`)
      assert.equal(records.length, 10)
    })

    test('after a clean close() the next member resumes exactly after the handled records', async (t) => {
      const bus = await setup(t, 3)
      const total = 60
      await bus.publisher.publish(Array.from({ length: total / 2 }, (_, i) => ({ topic: bus.topic, key: `k${i % 6}`, value: String(i) })))
      const started: { first?: Awaited<ReturnType<typeof consume>> } = {}
      let closing: Promise<void> | undefined
      const first = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 4, maxBatchWaitMs: 20 }, async () => {
        // Close while this batch is in hand: it must still be committed.
        if (started.first !== undefined && started.first.records.length >= 8) closing ??= started.first.consumer.close()
      })
      started.first = first
      await withTimeout(first.done, WAIT_MS, 'run() to resolve after close()')
      await closing
      const handled = first.records.map((r) => String(r.value))
      assert.ok(handled.length > 8 && handled.length < total / 2, `first member handled ${handled.length}`)
      await bus.publisher.publish(Array.from({ length: total / 2 }, (_, i) => ({ topic: bus.topic, key: `k${i % 6}`, value: String(total / 2 + i) })))
      const second = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 50, maxBatchWaitMs: 20 })
      await waitFor(() => handled.length + second.records.length >= total, 'the rest')
      await second.consumer.close()
      const rest = second.records.map((r) => String(r.value))
      assert.deepEqual(new Set([...handled, ...rest]).size, total, 'nothing lost')
      assert.equal(handled.length + rest.length, total, 'nothing repeated')
    })

    test('two groups each see every record', async (t) => {
      const bus = await setup(t, 2)
      await bus.publisher.publish(Array.from({ length: 50 }, (_, i) => ({ topic: bus.topic, key: `k${i % 5}`, value: String(i) })))
      const a = await consume(t, bus, { topics: [bus.topic], groupId: `${bus.group}-a` })
      const b = await consume(t, bus, { topics: [bus.topic], groupId: `${bus.group}-b` })
      await waitFor(() => a.records.length >= 50 && b.records.length >= 50, 'both groups')
      const values = (records: BusRecord[]): string[] => records.map((r) => String(r.value)).sort()
      assert.deepEqual(values(a.records), values(b.records))
      assert.equal(new Set(values(a.records)).size, 50)
    })

    test('consumerLag counts the records a group has not committed', async (t) => {
      const bus = await setup(t, 3)
      await bus.publisher.publish(Array.from({ length: 30 }, (_, i) => ({ topic: bus.topic, key: `k${i % 7}`, value: String(i) })))
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), 30, 'a group that never committed lags by everything')
      const { consumer, records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group })
      await waitFor(() => records.length >= 30, 'all records')
      await consumer.close()
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), 0)
      await bus.publisher.publish(Array.from({ length: 5 }, (_, i) => ({ topic: bus.topic, key: `k${i}`, value: String(i) })))
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), 5)
    })

    test('a call over the topic limit in total is sent whole and in order; a record over it alone is refused, and nothing of its call sent', async (t) => {
      const bus = await setup(t, 2)
      const limit = await bus.publisher.maxRecordBytes(bus.topic)
      assert.ok(limit > 100_000, `limit ${limit}`)
      const record = (i: number, bytes: number): OutgoingRecord => ({ topic: bus.topic, key: 'k', value: `${i}:${'x'.repeat(bytes)}` })
      await assert.rejects(bus.publisher.publish([record(-1, 10), record(-2, limit)]), { code: 'VALIDATION_FAILED' })
      const big = Array.from({ length: 5 }, (_, i) => record(i, Math.floor(limit * 0.4)))
      await bus.publisher.publish([...big, record(5, 10)])
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group })
      await waitFor(() => records.length >= 6, 'six records')
      assert.deepEqual(records.map((r) => String(r.value).split(':')[0]), ['0', '1', '2', '3', '4', '5'], 'all of the call, in order, nothing of the refused one')
      assert.deepEqual(records.map((r) => r.value?.length), big.map((r) => (r.value as string).length).concat(12))
    })

    test('ensureTopics is idempotent', async (t) => {
      const bus = await setup(t, 2)
      const other = `${bus.topic}-other`
      await bus.admin.ensureTopics([{ name: bus.topic, partitions: 2, replicationFactor: 1 }])
      await bus.admin.ensureTopics([
        { name: bus.topic, partitions: 2, replicationFactor: 1 },
        { name: other, partitions: 1, replicationFactor: 1 }
      ])
      await bus.admin.ensureTopics([{ name: other, partitions: 1, replicationFactor: 1 }])
      await bus.publisher.publish([{ topic: other, key: 'k', value: 'v' }])
      const { records } = await consume(t, bus, { topics: [other], groupId: bus.group })
      await waitFor(() => records.length >= 1, 'a record on the new topic')
    })
  })
}

/** The harness's waitFor in the argument order the bus tests use, polled every 20 ms. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  await waitUntil(what, condition, timeoutMs, 20)
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Publishes batches of `keys` records (`sensor-<i>` → `<n>-<i>`) every 20 ms until stop(), retrying
 * a rejected batch (which must be retryable) until the bus takes it; `published` lists what was acknowledged.
 */
export function publishUntilStopped(publisher: BusPublisher, topic: string, keys: number): { published: string[]; stop: () => Promise<void> } {
  const published: string[] = []
  let stopped = false
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
  const producing = (async () => {
    for (let n = 0; !stopped; n++) {
      const batch = Array.from({ length: keys }, (_, i) => ({ topic, key: `sensor-${i}`, value: `${n}-${i}` }))
      for (;;) {
        try {
          await publisher.publish(batch)
          break
        } catch (err) {
          assert.equal((err as { retryable?: boolean }).retryable, true, `publish failure is retryable: ${String(err)}`)
          await sleep(200)
        }
      }
      published.push(...batch.map((r) => r.value))
      await sleep(20)
    }
  })()
  return {
    published,
    stop: async () => {
      stopped = true
      await producing
    }
  }
}
