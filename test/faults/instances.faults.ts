// Three streaming instances in one consumer group while batches are in flight: one killed, one
// joining later, one stopped with SIGTERM. Partitions move between members; nothing is lost or doubled.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { waitFor } from '../e2e/support.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

test('three instances: one killed, one joining later, one stopped with SIGTERM', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('three-instances')
  const at = async (share: number): Promise<void> => {
    await waitFor(`${share * 100} % stored`, async () => (await rig.stored()) >= share * workload.distinct, 120_000, 20)
  }
  try {
    const first = rig.startStreaming()
    const second = rig.startStreaming()
    const producing = produce(rig, workload, 3_000)
    await at(0.2)
    await rig.inject(`SIGKILL of instance 1 at ${await rig.stored()} rows`, () => first.kill(), workload)
    await at(0.4)
    const third = rig.startStreaming()
    await rig.inject(`instance 3 joins at ${await rig.stored()} rows`, async () => {}, workload)
    await at(0.6)
    await rig.inject(
      `SIGTERM of instance 2 at ${await rig.stored()} rows`,
      async () => {
        assert.equal(await second.stop(15_000), 0, 'a stopped instance exits 0')
      },
      workload
    )
    await producing
    await rig.waitAllStored(workload)
    await rig.account(t, workload)
    assert.equal(await third.stop(15_000), 0, third.output().slice(-2000))
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
