// Alert evaluation on a real Postgres: threshold, hysteresis and `for` through the stored path,
// redelivery, two instances evaluating the same readings at once, and no_data.
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { freshDatabase } from '../harness/index.ts'
import { checkNoDataOnce } from '../../src/services/streaming/alert-no-data.ts'
import { eventsOf, openInstance, type Instance } from './support.ts'

const T0 = Math.floor(Date.now() / 1000) - 600
const reading = (sensor_id: string, value: number, dt: number) => ({ sensor_id, value, timestamp: T0 + dt })

/** `count` instances (evaluators as the streaming service makes them) on one fresh database, closed after the test. */
async function instances(t: TestContext, count: number): Promise<Instance[]> {
  const url = await freshDatabase('alerts')
  const opened: Instance[] = []
  t.after(async () => {
    for (const instance of opened) await instance.close()
  })
  for (let i = 0; i < count; i++) opened.push(await openInstance(url))
  return opened
}

test('a threshold crossed and recovered gives exactly one firing and one resolved event; redelivery changes nothing', async (t) => {
  const [a] = (await instances(t, 1)) as [Instance]
  const rule = await a.rules.createRule({ name: 'hot', sensor: 'line-4.*', kind: 'above', threshold: 80, hysteresis: 5, forSeconds: 0 })
  const batches = [
    [reading('line-4.a', 70, 1), reading('line-40', 99, 1)],
    [reading('line-4.a', 85, 2), reading('line-4.a', 90, 3)],
    [reading('line-4.a', 78, 4)], // within the hysteresis: still firing
    [reading('line-4.a', 74, 5)]
  ]
  for (const b of batches) await a.evaluator.evaluate(b)
  // the same batches again (a redelivery after a crash before the offset commit), and a late reading
  for (const b of batches) await a.evaluator.evaluate(b)
  await a.evaluator.evaluate([reading('line-4.a', 99, 4.5)])
  assert.deepEqual(
    (await eventsOf(a, rule.id)).map((e) => [e.sensor_id, e.episode, e.kind, e.value, e.at - T0]),
    [
      ['line-4.a', 1, 'firing', 85, 2],
      ['line-4.a', 1, 'resolved', 74, 5]
    ]
  )
  assert.equal(a.published.length, 2, 'each event is published once')
  const [state] = (await a.alerts.listAlerts({ limit: 10, ruleId: rule.id })).alerts
  assert.equal(state?.state, 'resolved')
  assert.equal(state?.episode, 1)
})

test('`for`: fires only once the breach has lasted; a dip cancels the pending alert', async (t) => {
  const [a] = (await instances(t, 1)) as [Instance]
  const rule = await a.rules.createRule({ name: 'slow', sensor: 'p', kind: 'below', threshold: 10, hysteresis: 0, forSeconds: 5 })
  await a.evaluator.evaluate([reading('p', 9, 0), reading('p', 8, 3)])
  assert.equal((await a.alerts.listAlerts({ limit: 10 })).alerts[0]?.state, 'pending')
  await a.evaluator.evaluate([reading('p', 11, 4)])
  assert.equal((await a.alerts.listAlerts({ limit: 10 })).alerts[0]?.state, 'inactive')
  await a.evaluator.evaluate([reading('p', 9, 10), reading('p', 9, 14)])
  assert.deepEqual(await eventsOf(a, rule.id), [])
  await a.evaluator.evaluate([reading('p', 9, 15)])
  assert.deepEqual(
    (await eventsOf(a, rule.id)).map((e) => [e.kind, e.at - T0]),
    [['firing', 15]]
  )
})

test('two instances evaluating the same batches at once record exactly one event per episode and kind', async (t) => {
  const [a, b] = (await instances(t, 2)) as [Instance, Instance]
  const rule = await a.rules.createRule({ name: 'hot', sensor: 's-*', kind: 'above', threshold: 50, hysteresis: 0, forSeconds: 0 })
  const sensors = Array.from({ length: 40 }, (_, i) => `s-${i}`)
  // every sensor: fires at dt 1, resolves at dt 2, fires again at dt 3
  const batches = [1, 2, 3].map((dt) => sensors.map((s) => reading(s, dt === 2 ? 10 : 60, dt)))
  for (const batch of batches) await Promise.all([a.evaluator.evaluate(batch), b.evaluator.evaluate([...batch].reverse())])
  const events = await eventsOf(a, rule.id)
  assert.equal(events.length, sensors.length * 3)
  for (const s of sensors) {
    assert.deepEqual(
      events.filter((e) => e.sensor_id === s).map((e) => [e.episode, e.kind]),
      [
        [1, 'firing'],
        [1, 'resolved'],
        [2, 'firing']
      ],
      s
    )
  }
  assert.equal(a.published.length + b.published.length, sensors.length * 3, 'each event published by one instance only')
})

test('no_data: a sensor that stops reporting fires after N s and resolves on its next reading; one checker at a time', async (t) => {
  const [a, b] = (await instances(t, 2)) as [Instance, Instance]
  const rule = await a.rules.createRule({ name: 'quiet', sensor: 'pump-1', kind: 'no_data', noDataSeconds: 1, hysteresis: 0, forSeconds: 0 })
  const now = Date.now() / 1000
  const first = { sensor_id: 'pump-1', value: 1, timestamp: Math.round(now * 1000) / 1000 }
  await a.store.write([first])
  await a.evaluator.evaluate([first])
  await b.evaluator.reload()
  assert.deepEqual(await checkNoDataOnce(a.alerts, a.evaluator, () => now + 0.5), [])
  const checks = await Promise.all([checkNoDataOnce(a.alerts, a.evaluator, () => now + 2), checkNoDataOnce(b.alerts, b.evaluator, () => now + 2)])
  assert.equal(checks.flatMap((c) => c ?? []).length, 1, 'one firing event between the two checkers')
  assert.deepEqual(await checkNoDataOnce(a.alerts, a.evaluator, () => now + 3), [], 'fires once per episode')
  const next = { sensor_id: 'pump-1', value: 2, timestamp: first.timestamp + 2.5 }
  await a.store.write([next])
  await a.evaluator.evaluate([next])
  const resolved = await checkNoDataOnce(a.alerts, a.evaluator, () => now + 3)
  assert.deepEqual(
    resolved?.map((e) => [e.kind, e.episode]),
    [['resolved', 1]]
  )
  assert.deepEqual(
    (await eventsOf(a, rule.id)).map((e) => [e.kind, e.episode]),
    [
      ['firing', 1],
      ['resolved', 1]
    ]
  )
})

test('a hint made stale by another instance delays a transition until the next reload, never duplicates it', async (t) => {
  const [a, b] = (await instances(t, 2)) as [Instance, Instance]
  const rule = await a.rules.createRule({ name: 'hot', sensor: 'm', kind: 'above', threshold: 50, hysteresis: 0, forSeconds: 0 })
  await b.evaluator.evaluate([reading('m', 10, 0)]) // B has loaded its rules and hints
  // A owns the partition and fires; then the partition moves to B, whose hint still says inactive
  await a.evaluator.evaluate([reading('m', 60, 1)])
  await b.evaluator.evaluate([reading('m', 40, 2)])
  assert.deepEqual(
    (await eventsOf(a, rule.id)).map((e) => e.kind),
    ['firing'],
    'B skipped: its hint could not see the recovery'
  )
  await b.evaluator.reload()
  await b.evaluator.evaluate([reading('m', 40, 3)])
  await a.evaluator.evaluate([reading('m', 40, 3)]) // a redelivery to A changes nothing
  assert.deepEqual(
    (await eventsOf(a, rule.id)).map((e) => [e.kind, e.at - T0]),
    [
      ['firing', 1],
      ['resolved', 3]
    ]
  )
})
