import assert from 'node:assert/strict'
import { test } from 'node:test'
import { busContract, waitFor } from '../../../test/contracts/bus.contract.ts'
import type { BusRecord } from '../../ports/bus.ts'
import { MemoryBus } from './memory.ts'
import { consumeEach } from '../../../test/harness/consume.ts'

busContract('memory', async () => {
  const bus = new MemoryBus()
  return { publisher: bus.publisher(), consumer: () => bus.consumer(), admin: bus.admin(), cleanup: async () => {} }
})

test('memory bus: retention drops the oldest records and a lagging group skips to the oldest kept', async (t) => {
  const bus = new MemoryBus({ retainRecordsPerPartition: 10 })
  await bus.admin().ensureTopics([{ name: 't', partitions: 1, replicationFactor: 1 }])
  await bus.publisher().publish(Array.from({ length: 100 }, (_, i) => ({ topic: 't', key: 'k', value: String(i) })))
  const consumer = bus.consumer()
  t.after(() => consumer.close())
  const records: BusRecord[] = []
  void consumeEach(consumer, { topics: ['t'], groupId: 'g', maxBatchRecords: 100, maxBatchWaitMs: 10 }, async (batch) => {
    records.push(...batch)
  }).done
  await waitFor(() => records.length > 0, 'records', 2_000)
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.ok(records.length <= 12, `kept ${records.length}`)
  assert.equal(records.at(-1)?.offset, 99n)
  assert.equal(String(records.at(-1)?.value), '99')
})

test('memory bus: publishing to an unknown topic is an error, and nothing of the call is stored', async () => {
  const bus = new MemoryBus()
  await bus.admin().ensureTopics([{ name: 'known', partitions: 1, replicationFactor: 1 }])
  await assert.rejects(
    bus.publisher().publish([
      { topic: 'known', key: 'k', value: 'v' },
      { topic: 'unknown', key: 'k', value: 'v' }
    ]),
    { code: 'NOT_FOUND' }
  )
})
