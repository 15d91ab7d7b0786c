// The streaming run loop on the in-process bus: how many batches it holds, what it acknowledges,
// and how it stops on a failed batch.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { MemoryBus } from '../../adapters/bus/memory.ts'
import { waitFor } from '../../../test/contracts/bus.contract.ts'
import { consumeInHand } from './run.ts'

async function busWith(records: number): Promise<MemoryBus> {
  const bus = new MemoryBus()
  await bus.admin().ensureTopics([{ name: 't', partitions: 2, replicationFactor: 1 }])
  await bus.publisher().publish(Array.from({ length: records }, (_, i) => ({ topic: 't', key: `k${i % 10}`, value: String(i) })))
  return bus
}

test('at most `inHand` batches are held at once; every stored batch is acknowledged and committed', async () => {
  const bus = await busWith(100)
  const consumer = bus.consumer()
  consumer.subscribe({ topics: ['t'], groupId: 'g', maxBatchRecords: 5, maxBatchWaitMs: 5 })
  const stop = new AbortController()
  let holding = 0
  let most = 0
  let stored = 0
  const running = consumeInHand(
    consumer,
    async (batch) => {
      most = Math.max(most, ++holding)
      await new Promise((resolve) => setTimeout(resolve, 2 + Math.random() * 5))
      holding--
      stored += batch.length
    },
    2,
    stop.signal
  )
  await waitFor(() => stored >= 100, 'every record stored', 5_000)
  assert.equal(most, 2)
  stop.abort()
  await running
  assert.equal(await bus.admin().consumerLag('g', 't'), 0)
})

test('a failed batch: no later batch is pulled, the batches in hand finish, the consumer closes and the loop rejects', async () => {
  const bus = await busWith(40)
  const consumer = bus.consumer()
  consumer.subscribe({ topics: ['t'], groupId: 'g', maxBatchRecords: 5, maxBatchWaitMs: 5 })
  const failure = new Error('stored for good? no')
  let calls = 0
  let finished = 0
  const running = consumeInHand(
    consumer,
    async () => {
      const n = calls++
      if (n === 1) throw failure
      await new Promise((resolve) => setTimeout(resolve, 20))
      finished++
    },
    2,
    new AbortController().signal
  )
  await assert.rejects(running, (err) => err === failure)
  assert.equal(calls, 2, 'nothing pulled after the failure')
  assert.equal(finished, 1, 'the batch in hand finished first')
  assert.equal(await consumer.next(), undefined, 'the consumer is closed')
  assert.ok((await bus.admin().consumerLag('g', 't')) > 0, 'the failed batch is not committed')
})
