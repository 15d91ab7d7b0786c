// Postgres stopped for 15 s mid-stream, then restarted every 5 s for a minute: the service waits
// each outage out, commits nothing it has not stored, and ends with exactly what was produced.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../e2e/support.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

test('Postgres down for 15 s, then restarted every 5 s for a minute', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('postgres-outages')
  try {
    const streaming = rig.startStreaming()
    // 100,000 readings over ~100 s, so the faults happen mid-stream
    const producing = produce(rig, workload, 1_000)
    await waitFor('10,000 rows stored', async () => (await rig.stored()) >= 10_000, 120_000, 50)
    await rig.inject(
      'Postgres stopped for 15 s',
      async () => {
        await rig.postgres.stop()
        await delay(15_000)
        assert.equal(streaming.child.exitCode, null, 'streaming waits Postgres out')
        await rig.postgres.start()
      },
      workload
    )
    await rig.inject(
      'Postgres restarted every 5 s for 60 s (12 restarts)',
      async () => {
        for (let i = 0; i < 12; i++) {
          await delay(5_000)
          await rig.postgres.stop()
          await rig.postgres.start()
        }
      },
      workload
    )
    await producing
    await rig.waitAllStored(workload)
    assert.equal(streaming.child.exitCode, null, 'streaming never gave up')
    await rig.account(t, workload)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
