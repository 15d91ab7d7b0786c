// Alerts end to end: two streaming instances of the real CLI in one group, one killed with SIGKILL
// in the middle of an episode and started again; every alert still has exactly one firing and one
// resolved event.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { freshDatabase, useKafka, useRedis } from '../harness/index.ts'
import { caughtUp, sendRaw, sql, stableMembers, startCli, streamingSetup, waitFor, type CliProcess } from './support.ts'

const SENSORS = Array.from({ length: 30 }, (_, i) => `alert-${i}`)

function readings(values: readonly number[], startDt: number, t0: number) {
  return SENSORS.flatMap((s) => values.map((value, i) => ({ key: s, value: JSON.stringify({ sensor_id: s, value, timestamp: t0 + startDt + i }) })))
}

const countEvents = async (url: string, kind: string): Promise<number> =>
  Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM alert_events WHERE kind = $1', [kind]))[0]?.n ?? 0)

test('two streaming instances, one killed with SIGKILL mid-episode and restarted: exactly one firing and one resolved event per alert', async () => {
  const [kafka, redis] = await Promise.all([useKafka(), useRedis()])
  const url = await freshDatabase('e2e-alerts')
  const s = streamingSetup({ brokers: kafka.brokers, redisUrl: redis.url, databaseUrl: url })
  const env = { ...s.env, ALERTS_RULES_RELOAD_MS: '200', LOG_LEVEL: 'warn' }
  const t0 = Math.floor(Date.now() / 1000) - 3600
  let a: CliProcess = startCli('streaming', env)
  const b = startCli('streaming', env)
  try {
    // the schema comes from the first instance's migration
    await waitFor('the alert tables', async () => (await sql(url, "SELECT 1 FROM pg_tables WHERE tablename = 'alert_rules'")).length > 0, 60_000)
    await sql(url, "INSERT INTO alert_rules (name, sensor, kind, threshold, hysteresis) VALUES ('hot', 'alert-*', 'above', 50, 5)")
    await waitFor('both instances in the group', async () => (await stableMembers(kafka.brokers, s.group)) === 2, 60_000)
    await new Promise((r) => setTimeout(r, 500)) // a rule reload
    await sendRaw(kafka.brokers, s.topic, readings([10, 20, 60, 70, 80], 0, t0))
    await waitFor('every alert firing', async () => (await countEvents(url, 'firing')) === SENSORS.length, 60_000)
    await a.kill()
    // still breaching, within the hysteresis, then recovered: part of it goes to the killed one's partitions
    await sendRaw(kafka.brokers, s.topic, readings([90, 48, 40, 30], 5, t0))
    a = startCli('streaming', env)
    await waitFor(
      'every alert resolved',
      async () => (await countEvents(url, 'resolved')) === SENSORS.length && (await caughtUp(kafka.brokers, s.group, s.topic)),
      90_000
    )
    // a redelivery of everything (a new group reads the topic from the start) changes nothing
    const again = startCli('streaming', { ...env, KAFKA_GROUP_ID: `${s.group}-again` })
    await waitFor('the second group caught up', async () => caughtUp(kafka.brokers, `${s.group}-again`, s.topic), 90_000)
    assert.equal(await again.stop(), 0, again.output())
    const rows = await sql<{ sensor_id: string; episode: number; kind: string; value: number }>(
      url,
      'SELECT sensor_id, episode, kind, value FROM alert_events ORDER BY sensor_id, id'
    )
    for (const sensor of SENSORS) {
      assert.deepEqual(
        rows.filter((r) => r.sensor_id === sensor).map((r) => [r.episode, r.kind, r.value]),
        [
          [1, 'firing', 60],
          [1, 'resolved', 40]
        ],
        sensor
      )
    }
    assert.equal(await b.stop(), 0, b.output())
    assert.equal(await a.stop(), 0, a.output())
  } finally {
    for (const p of [a, b]) if (p.child.exitCode === null) await p.kill()
  }
})
