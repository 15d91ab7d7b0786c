// The bus contract: the in-process bus and Kafka must pass these same cases, so the fake cannot
// drift from Kafka. Each case uses topics and groups of its own (random names) on the bus that
// `makeBus` returns; the suite calls `cleanup` after each case.
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import type { BusAdmin, BusBatch, BusConsumer, BusPublisher, BusRecord, ConsumeOptions, OutgoingRecord } from '../../src/ports/bus.ts'
import { consumeEach } from '../harness/consume.ts'
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

  /** Runs a consumer in the background, one batch at a time, collecting what it receives; stopped after the case. */
  async function consume(
    t: TestContext,
    bus: BusUnderTest,
    options: Omit<ConsumeOptions, 'maxBatchRecords' | 'maxBatchWaitMs'> & Partial<ConsumeOptions>,
    onBatch?: (batch: readonly BusRecord[]) => Promise<void>
  ): Promise<{ consumer: BusConsumer; records: BusRecord[]; batches: number[]; done: Promise<void>; stop: () => Promise<void> }> {
    const consumer = bus.consumer()
    await consumer.connect()
    const records: BusRecord[] = []
    const batches: number[] = []
    const { done, stop } = consumeEach(consumer, { maxBatchRecords: 100, maxBatchWaitMs: 50, ...options }, async (batch) => {
      await onBatch?.(batch)
      batches.push(batch.length)
      records.push(...batch)
    })
    done.catch(() => undefined) // observed by the case when it matters
    t.after(() => stop())
    return { consumer, records, batches, done, stop }
  }

  /** A member driven by hand: the case pulls and acknowledges. */
  async function member(t: TestContext, bus: BusUnderTest, options: ConsumeOptions): Promise<BusConsumer> {
    const consumer = bus.consumer()
    await consumer.connect()
    t.after(() => consumer.close())
    consumer.subscribe(options)
    return consumer
  }

  async function pull(consumer: BusConsumer, what: string): Promise<BusBatch> {
    const batch = await withTimeout(consumer.next(), WAIT_MS, what)
    assert.ok(batch !== undefined, `${what}: the consumer stopped`)
    return batch
  }

  async function lagBecomes(bus: BusUnderTest & { topic: string; group: string }, expected: number, what: string): Promise<void> {
    const deadline = Date.now() + WAIT_MS
    let lag = await bus.admin.consumerLag(bus.group, bus.topic)
    while (lag !== expected) {
      assert.ok(Date.now() < deadline, `${what}: lag ${lag}, expected ${expected}`)
      await new Promise((resolve) => setTimeout(resolve, 50))
      lag = await bus.admin.consumerLag(bus.group, bus.topic)
    }
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
      for (const key of keys)
        assert.deepEqual(
          seen.get(key),
          Array.from({ length: perKey }, (_, n) => n),
          key
        )
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
      assert.deepEqual(
        records.map((r) => r.offset),
        [0n, 1n, 2n, 3n]
      )
      assert.deepEqual(first.key, Buffer.from('k1'))
      assert.deepEqual(first.value, Buffer.from('{"a":1}'))
      assert.deepEqual([...first.headers].sort(), [
        ['origin', 'test'],
        ['x-é', 'ü ✓']
      ])
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
      assert.ok(
        batches.every((size) => size >= 1 && size <= 7),
        `batch sizes ${batches.join(',')}`
      )
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
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 100, maxBatchWaitMs: 2_000 })
      await waitFor(() => records.length >= 1, 'the first record (the consumer has joined)')
      for (let i = 0; i < 3; i++) {
        const sent = Date.now()
        await bus.publisher.publish([{ topic: bus.topic, key: `k${i}`, value: String(i) }])
        await waitFor(() => records.length >= i + 2, `record ${i}`)
        const latency = Date.now() - sent
        assert.ok(latency < 500, `a lone record took ${latency} ms with maxBatchWaitMs 2000`)
      }
    })

    test('batches acknowledged out of order commit only the contiguous prefix', async (t) => {
      const bus = await setup(t, 1)
      const total = 10
      await bus.publisher.publish(Array.from({ length: total }, (_, i) => ({ topic: bus.topic, key: 'k', value: String(i) })))
      const consumer = await member(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 2, maxBatchWaitMs: 50 })
      const first = await pull(consumer, 'the first batch')
      const second = await pull(consumer, 'a second batch while the first is in hand')
      const third = await pull(consumer, 'a third batch while two are in hand')
      const held = [first, second, third].map((b) => b.records.length)
      assert.ok(
        held.every((n) => n >= 1 && n <= 2),
        `batch sizes ${held.join(',')}`
      )
      third.ack()
      second.ack()
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), total, 'nothing is committed while the first batch is in hand')
      first.ack()
      await lagBecomes(bus, total - held.reduce((a, b) => a + b, 0), 'the first ack commits the prefix up to the third batch')
      let received = held.reduce((a, b) => a + b, 0)
      while (received < total) {
        const batch = await pull(consumer, 'the rest')
        received += batch.records.length
        batch.ack()
      }
      await lagBecomes(bus, 0, 'everything acknowledged')
    })

    test("two live members in one group share the partitions; a late ack after the rebalance never moves the other member's offsets back", async (t) => {
      const partitions = 4
      const bus = await setup(t, partitions)
      const total = 200
      await bus.publisher.publish(Array.from({ length: total }, (_, i) => ({ topic: bus.topic, key: `k${i % 40}`, value: String(i) })))
      const options = { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 50, maxBatchWaitMs: 20 }
      // The first member holds every record, acknowledging none.
      const a = await member(t, bus, options)
      const held: BusBatch[] = []
      const perPartition = new Map<number, number>()
      let seen = 0
      while (seen < total) {
        const batch = await pull(a, 'the first member reading everything')
        held.push(batch)
        seen += batch.records.length
        for (const r of batch.records) perPartition.set(r.partition, (perPartition.get(r.partition) ?? 0) + 1)
      }
      assert.equal(perPartition.size, partitions, 'records on every partition')
      // The second joins and takes some partitions over: it reads them from the start and commits them.
      const b = await consume(t, bus, options)
      const ofB = (): Set<number> => new Set(b.records.map((r) => r.partition))
      const complete = (): boolean => ofB().size > 0 && [...ofB()].every((p) => b.records.filter((r) => r.partition === p).length >= (perPartition.get(p) ?? 0))
      await waitFor(complete, 'the second member reading its partitions')
      const taken = ofB()
      assert.ok(taken.size < partitions, `the second member took ${taken.size} of ${partitions} partitions`)
      const left = [...perPartition].filter(([p]) => !taken.has(p)).reduce((sum, [, n]) => sum + n, 0)
      await lagBecomes(bus, left, 'the second member committed its partitions')
      // The first member's late acks: its own partitions are committed, the second member's are not moved back.
      for (const batch of held.reverse()) batch.ack()
      await lagBecomes(bus, 0, 'the first member committed what it kept')
      await new Promise((resolve) => setTimeout(resolve, 500))
      assert.equal(await bus.admin.consumerLag(bus.group, bus.topic), 0, 'no offset moved back')
    })

    test('a batch never acknowledged is not committed: after close() the group gets the records again', async (t) => {
      const bus = await setup(t, 2)
      await bus.publisher.publish(Array.from({ length: 10 }, (_, i) => ({ topic: bus.topic, key: `k${i}`, value: String(i) })))
      const failing = await member(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 100, maxBatchWaitMs: 500 })
      const batch = await pull(failing, 'a batch')
      const seenByFailing = new Set(batch.records.map((r) => String(r.value)))
      await failing.close()
      batch.ack() // too late: after close()
      assert.equal(await failing.next(), undefined, 'a closed consumer hands over nothing')
      const { records } = await consume(t, bus, { topics: [bus.topic], groupId: bus.group })
      await waitFor(() => records.length >= 10, 'the same records again')
      const values = new Set(records.map((r) => String(r.value)))
      for (const value of seenByFailing) assert.ok(values.has(value), `record ${value} delivered again`)
      assert.equal(records.length, 10)
    })

    test('after the batches in hand are acknowledged and close(), the next member resumes exactly after them', async (t) => {
      const bus = await setup(t, 3)
      const total = 60
      await bus.publisher.publish(Array.from({ length: total / 2 }, (_, i) => ({ topic: bus.topic, key: `k${i % 6}`, value: String(i) })))
      const started: { first?: Awaited<ReturnType<typeof consume>> } = {}
      let stopping: Promise<void> | undefined
      const first = await consume(t, bus, { topics: [bus.topic], groupId: bus.group, maxBatchRecords: 4, maxBatchWaitMs: 20 }, async () => {
        // Stop while this batch is in hand: it is still acknowledged before close(), and committed.
        if (started.first !== undefined && started.first.records.length >= 8) stopping ??= started.first.stop()
      })
      started.first = first
      await withTimeout(first.done, WAIT_MS, 'the loop to end after stop()')
      await stopping
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
      assert.deepEqual(
        records.map((r) => String(r.value).split(':')[0]),
        ['0', '1', '2', '3', '4', '5'],
        'all of the call, in order, nothing of the refused one'
      )
      assert.deepEqual(
        records.map((r) => r.value?.length),
        big.map((r) => (r.value as string).length).concat(12)
      )
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
