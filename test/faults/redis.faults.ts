// Redis stopped for 15 s mid-stream and restarted empty (as a Redis without persistence comes back).
// Postgres is the record and Redis a cache: rows keep arriving in Postgres while Redis is away, and
// afterwards every latest value is right again, also for sensors that have not reported since.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setTimeout as delay } from 'node:timers/promises'
import { waitFor } from '../e2e/support.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

test('Redis down for 15 s and back empty: ingest goes on, latest values rebuilt', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000, earlySensors: 50 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('redis-outage')
  try {
    const streaming = rig.startStreaming()
    const producing = produce(rig, workload, 2_500)
    await waitFor('20,000 rows stored', async () => (await rig.stored()) >= 20_000, 120_000, 50)
    let storedWhileDown = 0
    await rig.inject(
      'Redis stopped for 15 s, restarted empty',
      async () => {
        await rig.redisServer.stop()
        const atStop = await rig.stored()
        await delay(15_000)
        storedWhileDown = (await rig.stored()) - atStop
        await rig.redisServer.start()
      },
      workload
    )
    assert.ok(storedWhileDown > 10_000, `rows kept arriving in Postgres while Redis was down (${storedWhileDown} in 15 s)`)
    await producing
    await rig.waitAllStored(workload)
    // the rebuild of what the outage left stale or empty may finish a moment after the last batch
    await waitFor(
      'every latest value right again',
      async () => {
        try {
          await rig.account(t, workload, { stored_while_redis_down: storedWhileDown })
          return true
        } catch {
          return false
        }
      },
      60_000,
      1_000
    )
    assert.equal(streaming.child.exitCode, null)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
