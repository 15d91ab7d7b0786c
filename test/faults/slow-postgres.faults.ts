// A slow Postgres: every insert statement into the readings table delayed 200 ms (a statement
// trigger in the test database only). Backpressure holds memory flat and the group stays stable.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { sql, waitFor } from '../e2e/support.ts'
import { produce, Rig } from './rig.ts'
import { runSeed, Workload } from './workload.ts'

async function generation(rig: Rig): Promise<number> {
  const admin = new Admin({ clientId: 'faults-admin', bootstrapBrokers: rig.brokers.split(',') })
  try {
    const groups = await admin.describeGroups({ groups: [rig.group] })
    const group = groups.get(rig.group) as unknown as { members?: Map<string, unknown> } | undefined
    return group?.members?.size ?? 0
  } finally {
    await admin.close()
  }
}

test('every statement 200 ms slower: backpressure, bounded memory, no rebalance storm', async (t) => {
  const workload = new Workload({ seed: runSeed(), readings: 100_000, sensors: 1_000 })
  t.diagnostic(`seed: ${workload.seed} (FAULTS_SEED=${workload.seed} replays this run)`)
  const rig = await Rig.start('slow-postgres')
  try {
    const streaming = rig.startStreaming({ LOG_LEVEL: 'info' })
    await waitFor(
      'the schema',
      async () => (await sql<{ n: string }>(rig.url, "SELECT count(*) AS n FROM pg_class WHERE relname = 'sensor_data'"))[0]?.n === '1',
      60_000
    )
    await sql(rig.url, `CREATE FUNCTION faults_slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.2); RETURN NULL; END $$`)
    await sql(rig.url, 'CREATE TRIGGER faults_slow BEFORE INSERT ON sensor_data FOR EACH STATEMENT EXECUTE FUNCTION faults_slow()')
    await rig.inject('every INSERT statement delayed 200 ms; 100,000 readings produced at 20,000/s', () => produce(rig, workload, 20_000), workload)
    await rig.waitAllStored(workload)
    const members = await generation(rig)
    assert.equal(members, 1, 'one member, still in the group')
    const out = streaming.output()
    const joins = (out.match(/joined consumer group/g) ?? []).length
    assert.equal(joins, 1, `no rebalance: the one member joined once (${joins} generations):\n${out.slice(-2000)}`)
    const counts = await rig.account(t, workload, { group_generations: joins })
    assert.ok(Number(counts.streaming_peak_rss_mb) < 350, `memory bounded: ${String(counts.streaming_peak_rss_mb)} MB`)
    await rig.stopAll()
  } finally {
    await rig.cleanup()
  }
})
