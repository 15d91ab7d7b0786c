// StreamBatcher on a plain object-mode stream standing in for the client's MessagesStream: full
// batches, hand-over after maxWaitMs, eager hand-over, and no reading while no batch is asked for.
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { test } from 'node:test'
import type { MessagesStream } from '@platformatic/kafka'
import { StreamBatcher } from './kafka-batcher.ts'

type Stream = MessagesStream<Buffer, Buffer, Buffer, Buffer>

function message(partition: number, offset: number): unknown {
  return { topic: 't', partition, offset: BigInt(offset), leaderEpoch: 0, key: Buffer.from('k'), value: Buffer.from('v'), timestamp: 1n, headers: new Map() }
}

function source(count: number): Readable {
  let next = 0
  return new Readable({
    objectMode: true,
    highWaterMark: 8,
    read() {
      if (next < count) this.push(message(next % 2, Math.floor(next / 2)))
      next++
    }
  })
}

test('full batches of maxRecords, commits past the last offset of each partition', async () => {
  const batcher = new StreamBatcher(source(25) as unknown as Stream, 10, 60_000)
  const first = await batcher.next()
  assert.equal(first?.records.length, 10)
  assert.deepEqual(
    first?.commits.map((c) => [c.partition, c.offset]),
    [
      [0, 5n],
      [1, 5n]
    ]
  )
  const second = await batcher.next()
  assert.equal(second?.records.length, 10)
  batcher.stop()
  assert.equal(await batcher.next(), undefined)
})

test('a partial batch is handed over maxWaitMs after its first record', async () => {
  const batcher = new StreamBatcher(source(3) as unknown as Stream, 10, 50)
  const started = Date.now()
  const batch = await batcher.next()
  assert.equal(batch?.records.length, 3)
  assert.ok(Date.now() - started >= 40)
  batcher.stop()
})

test('eager: what has arrived is handed over at once', async () => {
  const batcher = new StreamBatcher(source(3) as unknown as Stream, 10, 60_000)
  batcher.setEager(true)
  const started = Date.now()
  const batch = await batcher.next()
  assert.equal(batch?.records.length, 3)
  assert.ok(Date.now() - started < 1_000)
  batcher.stop()
})

test('no reading while a batch is handed over and no next() came: the stream stays at its high-water mark', async () => {
  const stream = source(1_000)
  const batcher = new StreamBatcher(stream as unknown as Stream, 10, 60_000)
  assert.equal((await batcher.next())?.records.length, 10)
  await new Promise((r) => setTimeout(r, 50))
  assert.ok(stream.readableLength <= 8, `buffered ${stream.readableLength}`)
  assert.equal((await batcher.next())?.records.length, 10)
  batcher.stop()
})

test('records re-read after a rebalance are dropped, but their offsets are committed again', async () => {
  // Offsets 0-3 of partition 0, then 1-3 again: the stream re-reads from an older committed offset.
  const stream = Readable.from(
    [0, 1, 2, 3, 1, 2, 3].map((offset) => message(0, offset)),
    { objectMode: true }
  )
  const batcher = new StreamBatcher(stream as unknown as Stream, 4, 60_000)
  const first = await batcher.next()
  assert.deepEqual(
    first?.records.map((r) => r.offset),
    [0n, 1n, 2n, 3n]
  )
  assert.deepEqual(
    first?.commits.map((c) => c.offset),
    [4n]
  )
  // If the first batch lost its commit to the rebalance, this one carries it: no records, commit 4.
  batcher.setEager(true)
  const second = await batcher.next()
  assert.deepEqual(second?.records, [])
  assert.deepEqual(
    second?.commits.map((c) => [c.partition, c.offset]),
    [[0, 4n]]
  )
  batcher.stop()
})

test('a next() cancelled by its signal loses nothing: the batch being filled comes with the next call', async () => {
  const batcher = new StreamBatcher(source(3) as unknown as Stream, 10, 100)
  const cancel = new AbortController()
  const waiting = batcher.next(cancel.signal)
  await new Promise((r) => setTimeout(r, 20))
  cancel.abort()
  assert.equal(await waiting, undefined)
  const batch = await batcher.next()
  assert.deepEqual(
    batch?.records.map((r) => [r.partition, r.offset]),
    [
      [0, 0n],
      [1, 0n],
      [0, 1n]
    ]
  )
  batcher.stop()
})
