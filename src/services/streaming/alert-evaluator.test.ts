// The alert evaluator and the no-data check on an in-memory store that decides as Postgres does
// (states by key, one event per rule, sensor, episode and kind): which readings reach the store,
// what the hints save, what is published, and the reload loop. The same path on Postgres:
// test/alerts/evaluation.test.ts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { INITIAL_STATE, type RuleDefinition } from '../../domain/alert.ts'
import { createLogger } from '../../platform/logger.ts'
import type { AlertEvent, AlertFeed, AlertKey, AlertStore, AlertTransition, NoDataCandidate, RuleStore, StoredAlert, StoredRule } from '../../ports/alerts.ts'
import { AlertEvaluator } from './alert-evaluator.ts'
import { checkNoDataOnce, noDataTransitions, runNoDataChecks } from './alert-no-data.ts'

const logger = createLogger('silent')
const T0 = 1_700_000_000

class Rules implements Pick<RuleStore, 'allRules'> {
  rules: StoredRule[] = []
  failing = false
  add(rule: Partial<RuleDefinition> & Pick<RuleDefinition, 'sensor' | 'kind'>): StoredRule {
    const stored: StoredRule = { id: this.rules.length + 1, name: 'r', hysteresis: 0, forSeconds: 0, hasSecret: false, createdAt: T0, updatedAt: T0, ...rule }
    this.rules.push(stored)
    return stored
  }
  async allRules(): Promise<StoredRule[]> {
    if (this.failing) throw new Error('rules unavailable')
    return [...this.rules]
  }
}

class Store implements Pick<AlertStore, 'transact' | 'watch' | 'activeStates' | 'checkNoData'> {
  readonly states = new Map<string, StoredAlert>()
  readonly events: AlertEvent[] = []
  readonly watched: (AlertKey & { since: number })[] = []
  transactions = 0
  lastReading = new Map<string, number>()

  private apply(transitions: readonly AlertTransition[]): AlertEvent[] {
    const fresh: AlertEvent[] = []
    for (const t of transitions) {
      this.states.set(`${t.key.ruleId}/${t.key.sensorId}`, { ...t.key, ...t.state })
      for (const e of t.events) {
        if (this.events.some((x) => x.ruleId === t.key.ruleId && x.sensorId === t.key.sensorId && x.episode === e.episode && x.kind === e.kind)) continue
        const event: AlertEvent = {
          id: this.events.length + 1,
          ruleId: t.key.ruleId,
          ruleName: 'r',
          sensorId: t.key.sensorId,
          episode: e.episode,
          kind: e.kind,
          value: e.value,
          at: e.at,
          createdAt: T0
        }
        this.events.push(event)
        fresh.push(event)
      }
    }
    return fresh
  }

  async transact(keys: readonly AlertKey[], decide: (states: readonly StoredAlert[]) => readonly AlertTransition[]): Promise<AlertEvent[]> {
    this.transactions++
    const states = keys.map((k) => this.states.get(`${k.ruleId}/${k.sensorId}`) ?? { ...k, ...INITIAL_STATE })
    return this.apply(decide(states))
  }

  async watch(keys: readonly (AlertKey & { readonly since: number })[]): Promise<void> {
    for (const k of keys) {
      this.watched.push({ ...k })
      const id = `${k.ruleId}/${k.sensorId}`
      if (!this.states.has(id)) this.states.set(id, { ruleId: k.ruleId, sensorId: k.sensorId, ...INITIAL_STATE, lastTs: k.since })
    }
  }

  async activeStates(): Promise<StoredAlert[]> {
    return [...this.states.values()].filter((s) => s.state === 'pending' || s.state === 'firing')
  }

  async checkNoData(decide: (candidates: readonly NoDataCandidate[]) => readonly AlertTransition[]): Promise<AlertEvent[] | undefined> {
    const candidates = [...this.states.values()].map((s) => ({ ...s, lastReading: this.lastReading.get(s.sensorId) }))
    return this.apply(decide(candidates))
  }
}

class Feed implements Pick<AlertFeed, 'publishAlerts'> {
  readonly published: AlertEvent[] = []
  failing = false
  async publishAlerts(events: readonly AlertEvent[]): Promise<void> {
    if (this.failing) throw new Error('feed down')
    this.published.push(...events)
  }
}

function setup() {
  const rules = new Rules()
  const store = new Store()
  const feed = new Feed()
  const evaluator = new AlertEvaluator({
    rules: rules as unknown as RuleStore,
    store: store as unknown as AlertStore,
    feed: feed as unknown as AlertFeed,
    logger
  })
  return { rules, store, feed, evaluator }
}

const r = (sensor_id: string, value: number, dt: number) => ({ sensor_id, value, timestamp: T0 + dt })

test('only readings that may change an alert reach the store; the firing and resolved events are published', async () => {
  const { rules, store, feed, evaluator } = setup()
  rules.add({ sensor: 'line-*', kind: 'above', threshold: 80, hysteresis: 5 })
  assert.deepEqual(await evaluator.evaluate([r('line-1', 10, 1), r('other', 99, 1)]), [])
  assert.equal(store.transactions, 0, 'nothing breached: no transaction')
  const fired = await evaluator.evaluate([r('line-1', 90, 2)])
  assert.deepEqual(
    fired.map((e) => [e.sensorId, e.kind, e.value]),
    [['line-1', 'firing', 90]]
  )
  assert.equal(store.transactions, 1)
  await evaluator.evaluate([r('line-1', 95, 3), r('line-1', 77, 4)])
  assert.equal(store.transactions, 1, 'firing, not recovered past the hysteresis: the hint saves the transaction')
  const resolved = await evaluator.evaluate([r('line-1', 70, 5)])
  assert.deepEqual(
    resolved.map((e) => e.kind),
    ['resolved']
  )
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(
    feed.published.map((e) => e.kind),
    ['firing', 'resolved']
  )
})

test('a redelivered batch changes nothing and publishes nothing', async () => {
  const { rules, store, feed, evaluator } = setup()
  rules.add({ sensor: 'p', kind: 'below', threshold: 0 })
  const batch = [r('p', -1, 1), r('p', 5, 2)]
  assert.equal((await evaluator.evaluate(batch)).length, 2)
  assert.deepEqual(await evaluator.evaluate(batch), [])
  assert.deepEqual(
    await new AlertEvaluator({ rules: rules as unknown as RuleStore, store: store as unknown as AlertStore, logger }).evaluate(batch),
    [],
    'nor on another instance with no hints'
  )
  assert.equal(store.events.length, 2)
  assert.equal(feed.published.length, 2)
})

test('no_data rules are watched once per alert, from the earliest reading of the batch', async () => {
  const { rules, store, evaluator } = setup()
  const rule = rules.add({ sensor: 'pump-*', kind: 'no_data', noDataSeconds: 10 })
  await evaluator.evaluate([r('pump-1', 1, 5), r('pump-1', 1, 3), r('pump-2', 1, 4)])
  await evaluator.evaluate([r('pump-1', 1, 6)])
  assert.deepEqual(store.watched, [
    { ruleId: rule.id, sensorId: 'pump-1', since: T0 + 3 },
    { ruleId: rule.id, sensorId: 'pump-2', since: T0 + 4 }
  ])
  assert.equal(store.transactions, 0)
  store.lastReading.set('pump-1', T0 + 6).set('pump-2', T0 + 4)
  // silent for more than 10 s: fires; a reading since: resolves
  assert.deepEqual(
    (await checkNoDataOnce(store as unknown as AlertStore, evaluator, () => T0 + 15))?.map((e) => [e.sensorId, e.kind]),
    [['pump-2', 'firing']]
  )
  store.lastReading.set('pump-2', T0 + 16)
  // at 17: pump-2 has reported again (resolves); pump-1 has now been silent 11 s (fires)
  assert.deepEqual(
    (await checkNoDataOnce(store as unknown as AlertStore, evaluator, () => T0 + 17))?.map((e) => [e.sensorId, e.kind]),
    [
      ['pump-1', 'firing'],
      ['pump-2', 'resolved']
    ]
  )
  assert.deepEqual(noDataTransitions(evaluator, [{ ruleId: 99, sensorId: 'x', ...INITIAL_STATE, lastTs: T0 }], T0 + 100), [], 'an unknown rule decides nothing')
})

test('rules are reloaded on the timer; a failed reload keeps the last rules; a failing feed never fails an evaluation', async () => {
  const { rules, feed, evaluator } = setup()
  await evaluator.reload()
  assert.equal(evaluator.rules.length, 0)
  const stop = new AbortController()
  const running = evaluator.run(5, stop.signal)
  rules.add({ sensor: 'a', kind: 'above', threshold: 1 })
  while (evaluator.rules.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  rules.failing = true
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.equal(evaluator.rules.length, 1, 'kept')
  stop.abort()
  await running
  rules.failing = false
  feed.failing = true
  assert.equal((await evaluator.evaluate([r('a', 2, 1)])).length, 1)
})

test('the no-data loop checks only while there is a no_data rule, and stops on abort', async () => {
  const { rules, store, evaluator } = setup()
  let checks = 0
  const counting = { checkNoData: async (decide: Parameters<Store['checkNoData']>[0]) => (checks++, store.checkNoData(decide)) } as unknown as AlertStore
  const stop = new AbortController()
  const loop = runNoDataChecks(counting, evaluator, 5, logger, stop.signal)
  await new Promise((resolve) => setTimeout(resolve, 30))
  assert.equal(checks, 0, 'no rules: no check')
  rules.add({ sensor: 'q', kind: 'no_data', noDataSeconds: 1 })
  await evaluator.reload()
  while (checks === 0) await new Promise((resolve) => setTimeout(resolve, 5))
  stop.abort()
  await loop
})
