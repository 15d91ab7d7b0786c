// SIGKILL of the streaming service three times at random moments while 100,000 readings over 1,000
// sensors flow: nothing lost, nothing doubled, the latest value never wrong.
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../e2e/support.ts'
import { produce, Rig, someTime } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

test('streaming SIGKILLed three times mid-stream', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('sigkill-x3')
  try {
    let streaming = rig.startStreaming()
    const producing = produce(rig, workload, 3_000)
    // three random moments while readings are in flight: when this many rows are stored
    const moments = [0, 1, 2].map(() => someTime(workload, 0.1 * workload.distinct, 0.8 * workload.distinct)).sort((a, b) => a - b)
    for (const [i, rows] of moments.entries()) {
      await waitFor(`${rows} rows stored`, async () => (await rig.stored()) >= rows, 120_000, 20)
      await delay(someTime(workload, 0, 300))
      await rig.inject(
        `SIGKILL #${i + 1} at ${await rig.stored()} rows`,
        async () => {
          await streaming.kill()
          streaming = rig.startStreaming()
        },
        workload
      )
    }
    await producing
    await rig.waitAllStored(workload)
    await rig.account(t, workload)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
