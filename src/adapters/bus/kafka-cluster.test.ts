// The bus on a three-node KRaft cluster (replication factor 3, min.insync.replicas 2): brokers are
// killed and restarted under traffic. One cluster for the whole file.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { publishUntilStopped, waitFor, withTimeout } from '../../../test/contracts/bus.contract.ts'
import { uniqueName, useKafkaCluster, type KafkaCluster } from '../../../test/harness/index.ts'
import { createLogger } from '../../platform/logger.ts'
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher, type KafkaBusOptions } from './kafka.ts'
import { consumeEach } from '../../../test/harness/consume.ts'

const logger = createLogger(process.env.LOG_LEVEL ?? 'silent')

async function cluster(): Promise<{ kafka: KafkaCluster; options: () => KafkaBusOptions }> {
  const kafka = await useKafkaCluster({ brokers: 3 })
  return { kafka, options: () => ({ brokers: kafka.bootstrap, clientId: uniqueName('cluster_test'), logger }) }
}

test('kafka cluster: three nodes form a quorum; a partition leader killed and the active controller stopped lose no record', async (t) => {
  const { kafka, options } = await cluster()
  assert.equal(kafka.nodes.length, 3)
  assert.equal(kafka.brokers.split(',').length, 3)
  const topic = uniqueName('cluster_outage')
  const admin = new KafkaBusAdmin(options())
  const publisher = new KafkaBusPublisher(options())
  const consumer = new KafkaBusConsumer(options())
  t.after(async () => {
    await consumer.close()
    await publisher.close()
    await admin.close()
  })
  await admin.ensureTopics([{ name: topic, partitions: 6, replicationFactor: 3 }])

  const received = new Set<string>()
  const run = consumeEach(consumer, { topics: [topic], groupId: `g-${topic}`, maxBatchRecords: 100, maxBatchWaitMs: 50 }, async (batch) => {
    for (const r of batch) received.add(String(r.value))
  }).done
  let runSettled = false
  run.then(
    () => (runSettled = true),
    () => (runSettled = true)
  )
  // A consumer that gives up fails the wait at once, with its reason, rather than by a timeout.
  const gaveUp = run.then(() => new Promise<never>(() => {}))
  gaveUp.catch(() => undefined)
  const waitOrFail = (condition: () => boolean, what: string): Promise<void> => Promise.race([waitFor(condition, what, 60_000), gaveUp])

  // Batches over 30 keys (every partition) until stopped.
  const { published, stop } = publishUntilStopped(publisher, topic, 30)
  const progress = async (what: string): Promise<void> => {
    const target = published.length + 300
    await waitOrFail(() => published.length >= target, `publishing ${what}`)
  }

  await waitOrFail(() => received.size >= 300, 'records before the first fault')
  const leader = await kafka.partitionLeader(topic, 0)
  await kafka.node(leader).kill()
  assert.equal(kafka.node(leader).pid, undefined)
  await progress('with a broker down')
  const moved = await kafka.partitionLeader(topic, 0)
  assert.notEqual(moved, leader, 'another replica leads partition 0')
  await kafka.node(leader).start()
  await progress('after the restart')

  const controller = await kafka.activeController()
  await kafka.node(controller).stop()
  assert.notEqual(await kafka.activeController(), controller, 'another voter leads the quorum')
  await progress('without the first controller')
  await kafka.node(controller).start()
  await progress('with every node back')

  await stop()
  await waitOrFail(() => published.every((value) => received.has(value)), 'every published record')
  assert.equal(runSettled, false, 'run() is still going')
  await withTimeout(consumer.close(), 15_000, 'close()')
  await withTimeout(run, 1_000, 'run() to resolve')
})
