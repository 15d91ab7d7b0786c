import assert from 'node:assert/strict'
import { test } from 'node:test'
import { applyReadings, checkNoData, INITIAL_STATE, RuleMatcher, type AlertRule } from './alert.ts'

const above = (extra: Partial<AlertRule> = {}): AlertRule => ({
  id: 1,
  name: 'hot',
  sensor: 's',
  kind: 'above',
  threshold: 80,
  hysteresis: 0,
  forSeconds: 0,
  ...extra
})
const r = (value: number, timestamp: number) => ({ value, timestamp })

test('above without for: inactive → firing on the first breach, → resolved on recovery, then a new episode', () => {
  const a = applyReadings(above(), INITIAL_STATE, [r(70, 1), r(81, 2), r(90, 3), r(79, 4), r(85, 5)])
  assert.deepEqual(
    a.events.map((e) => [e.kind, e.episode, e.at]),
    [
      ['firing', 1, 2],
      ['resolved', 1, 4],
      ['firing', 2, 5]
    ]
  )
  assert.equal(a.state.state, 'firing')
  assert.equal(a.state.episode, 2)
})

test('below mirrors above', () => {
  const a = applyReadings({ ...above(), kind: 'below', threshold: 10, hysteresis: 2 }, INITIAL_STATE, [r(9, 1), r(11, 2), r(12, 3)])
  assert.deepEqual(
    a.events.map((e) => [e.kind, e.at]),
    [
      ['firing', 1],
      ['resolved', 3]
    ]
  )
})

test('hysteresis: a firing alert resolves only once the value is back by the hysteresis', () => {
  const a = applyReadings(above({ hysteresis: 5 }), INITIAL_STATE, [r(81, 1), r(79, 2), r(81, 3), r(76, 4), r(75, 5)])
  assert.deepEqual(
    a.events.map((e) => [e.kind, e.at]),
    [
      ['firing', 1],
      ['resolved', 5]
    ]
  )
  assert.equal(a.state.state, 'resolved')
})

test('for: pending until the breach has lasted `for` seconds; a non-breaching reading cancels it', () => {
  const rule = above({ forSeconds: 10 })
  const p = applyReadings(rule, INITIAL_STATE, [r(81, 100), r(82, 105)])
  assert.equal(p.state.state, 'pending')
  assert.equal(p.state.since, 100)
  assert.deepEqual(p.events, [])
  const cancelled = applyReadings(rule, p.state, [r(80, 106)])
  assert.equal(cancelled.state.state, 'inactive')
  const fired = applyReadings(rule, p.state, [r(83, 110)])
  assert.deepEqual(
    fired.events.map((e) => [e.kind, e.episode, e.at]),
    [['firing', 1, 110]]
  )
  assert.equal(fired.state.since, 100)
})

test('readings apply oldest first; one not newer than the last evaluated is ignored, so a batch applied twice changes nothing', () => {
  const batch = [r(79, 3), r(81, 1), r(90, 2)]
  const once = applyReadings(above(), INITIAL_STATE, batch)
  assert.deepEqual(
    once.events.map((e) => [e.kind, e.at]),
    [
      ['firing', 1],
      ['resolved', 3]
    ]
  )
  const twice = applyReadings(above(), once.state, batch)
  assert.deepEqual(twice.events, [])
  assert.deepEqual(twice.state, once.state)
  const late = applyReadings(above(), once.state, [r(99, 2.5)])
  assert.deepEqual(late.events, [])
})

test('no_data: fires after N s of silence, resolves on the next reading, not on an older one', () => {
  const rule: AlertRule = { id: 2, name: 'quiet', sensor: 's', kind: 'no_data', noDataSeconds: 30, hysteresis: 0, forSeconds: 0 }
  const watched = { ...INITIAL_STATE, lastTs: 1000 }
  assert.deepEqual(checkNoData(rule, watched, 1029, 1000).events, [])
  const fired = checkNoData(rule, watched, 1031, 1000)
  assert.deepEqual(
    fired.events.map((e) => [e.kind, e.episode, e.at]),
    [['firing', 1, 1031]]
  )
  assert.deepEqual(checkNoData(rule, fired.state, 1040, 1000).events, [])
  const resolved = checkNoData(rule, fired.state, 1041, 1035)
  assert.deepEqual(
    resolved.events.map((e) => [e.kind, e.episode, e.at]),
    [['resolved', 1, 1035]]
  )
  assert.equal(resolved.state.state, 'resolved')
  assert.deepEqual(checkNoData(rule, resolved.state, 1050, 1035).events, [])
  assert.equal(checkNoData(rule, resolved.state, 1066, 1035).events[0]?.episode, 2)
})

test('RuleMatcher: exact ids and globs, by rule id, remembered per sensor', () => {
  const m = new RuleMatcher([above({ id: 3, sensor: 'line-4.*' }), above({ id: 1, sensor: 'line-4.a' }), above({ id: 2, sensor: 'pump-?' })])
  assert.deepEqual(
    m.match('line-4.a').map((x) => x.id),
    [1, 3]
  )
  assert.deepEqual(
    m.match('line-40').map((x) => x.id),
    []
  )
  assert.deepEqual(
    m.match('pump-1').map((x) => x.id),
    [2]
  )
  assert.equal(m.match('line-4.a'), m.match('line-4.a'))
})
