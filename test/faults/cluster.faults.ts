// A three-broker KRaft cluster (replication factor 3, min.insync.replicas 2): a follower killed and
// restarted, then a partition leader, then the active controller, while readings flow. Every
// acknowledged reading is stored exactly once.
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../e2e/support.ts'
import { useKafkaCluster } from '../harness/index.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

test('three brokers: a follower, a partition leader and the active controller killed and restarted', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const cluster = await useKafkaCluster({ brokers: 3, heapMb: 384 })
  const rig = await Rig.start('kafka-cluster', { kafka: { brokers: cluster.brokers, replicationFactor: 3 } })
  try {
    rig.startStreaming()
    const producing = produce(rig, workload, 1_500)
    const bounce = async (nodeId: number): Promise<void> => {
      const node = cluster.node(nodeId)
      await node.kill()
      await delay(5_000)
      await node.start()
    }
    await waitFor('15,000 rows', async () => (await rig.stored()) >= 15_000, 120_000, 50)
    const leader0 = await cluster.partitionLeader(rig.topic, 0)
    const follower = cluster.nodes.map((n) => n.nodeId).find((id) => id !== leader0) as number
    await rig.inject(`SIGKILL of follower node ${follower} of partition 0, restarted after 5 s`, () => bounce(follower), workload)
    await delay(3_000)
    const leader = await cluster.partitionLeader(rig.topic, 0)
    await rig.inject(`SIGKILL of node ${leader}, leader of partition 0, restarted after 5 s`, () => bounce(leader), workload)
    await delay(3_000)
    const controller = await cluster.activeController()
    await rig.inject(`SIGKILL of node ${controller}, the active controller, restarted after 5 s`, () => bounce(controller), workload)
    await producing
    await rig.waitAllStored(workload, 240_000)
    await rig.account(t, workload)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
