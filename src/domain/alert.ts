// Alert rules and the state machine of one alert (a rule × a sensor), pure: no clock, no storage.
//
// A threshold rule (`above` or `below` a value) is *breached* by a reading past the value. The first
// breaching reading makes the alert `pending`; it fires once the breach has lasted `for` seconds of
// reading time (at once when `for` is 0). A reading that does not breach cancels a pending alert
// (back to `inactive`). A firing alert resolves on a reading past the value by `hysteresis` the other
// way (`above 80, hysteresis 5`: resolves at 75 or less), so a value hovering at the threshold does
// not fire again and again. A `no_data` rule fires when a sensor has sent nothing for N seconds and
// resolves on its next reading (services/streaming/alert-no-data.ts). Each firing opens a new episode.
//
// Readings are applied in time order; a reading not newer than the last one evaluated is ignored
// for alerting (a late or redelivered reading changes nothing), which also makes applying the same
// readings twice a no-op.
import { globToRegExp, isGlob } from './sensor-pattern.ts'

export type RuleKind = 'above' | 'below' | 'no_data'

/** A rule as written (over the API): what it watches and when it fires. */
export interface RuleDefinition {
  readonly name: string
  /** a sensor id or a glob of one */
  readonly sensor: string
  readonly kind: RuleKind
  /** above/below: the value */
  readonly threshold?: number
  readonly hysteresis: number
  readonly forSeconds: number
  /** no_data: seconds without a reading */
  readonly noDataSeconds?: number
  readonly webhookUrl?: string
}

/** A rule as stored, with its id. */
export interface AlertRule extends RuleDefinition {
  readonly id: number
}

export type AlertStateName = 'inactive' | 'pending' | 'firing' | 'resolved'

export interface AlertState {
  readonly state: AlertStateName
  /** number of the current (or last) episode; 0 before the first firing */
  readonly episode: number
  /** reading time the breach started (pending, firing) */
  readonly since?: number
  /** newest reading time evaluated, unix seconds; -Infinity before any */
  readonly lastTs: number
  readonly lastValue?: number
}

export type AlertEventKind = 'firing' | 'resolved'

/** A transition that is an event: one `firing` and one `resolved` per episode. */
export interface AlertTransitionEvent {
  readonly kind: AlertEventKind
  readonly episode: number
  /** unix seconds: the reading's time, or for no_data the check's */
  readonly at: number
  readonly value?: number
}

export const INITIAL_STATE: AlertState = { state: 'inactive', episode: 0, lastTs: Number.NEGATIVE_INFINITY }

export function isActive(state: AlertStateName): boolean {
  return state === 'pending' || state === 'firing'
}

/** Does `value` breach a threshold rule? */
export function breaches(rule: AlertRule, value: number): boolean {
  const t = rule.threshold as number
  return rule.kind === 'above' ? value > t : rule.kind === 'below' ? value < t : false
}

/** Has `value` come back past the threshold by the hysteresis? */
export function recovers(rule: AlertRule, value: number): boolean {
  const t = rule.threshold as number
  return rule.kind === 'above' ? value <= t - rule.hysteresis : rule.kind === 'below' ? value >= t + rule.hysteresis : false
}

export interface StepResult {
  readonly state: AlertState
  readonly events: readonly AlertTransitionEvent[]
}

/** Applies readings (any order: they are taken oldest first) to a threshold alert's state. */
export function applyReadings(rule: AlertRule, start: AlertState, readings: readonly { value: number; timestamp: number }[]): StepResult {
  let s = start
  const events: AlertTransitionEvent[] = []
  const sorted = readings.length > 1 ? [...readings].sort((a, b) => a.timestamp - b.timestamp) : readings
  for (const r of sorted) {
    if (!(r.timestamp > s.lastTs)) continue
    const next = step(rule, s, r.value, r.timestamp)
    if (next.event !== undefined) events.push(next.event)
    s = next.state
  }
  return { state: s, events }
}

function step(rule: AlertRule, s: AlertState, value: number, ts: number): { state: AlertState; event?: AlertTransitionEvent } {
  const seen = { lastTs: ts, lastValue: value }
  switch (s.state) {
    case 'inactive':
    case 'resolved': {
      if (!breaches(rule, value)) return { state: { ...s, ...seen } }
      if (rule.forSeconds <= 0) return fire(s, ts, ts, value)
      return { state: { state: 'pending', episode: s.episode, since: ts, ...seen } }
    }
    case 'pending': {
      if (!breaches(rule, value)) return { state: { state: 'inactive', episode: s.episode, ...seen } }
      const since = s.since ?? ts
      if (ts - since >= rule.forSeconds) return fire(s, since, ts, value)
      return { state: { ...s, ...seen } }
    }
    case 'firing': {
      if (!recovers(rule, value)) return { state: { ...s, ...seen } }
      return { state: { state: 'resolved', episode: s.episode, ...seen }, event: { kind: 'resolved', episode: s.episode, at: ts, value } }
    }
  }
}

function fire(s: AlertState, since: number, ts: number, value: number): { state: AlertState; event: AlertTransitionEvent } {
  const episode = s.episode + 1
  return { state: { state: 'firing', episode, since, lastTs: ts, lastValue: value }, event: { kind: 'firing', episode, at: ts, value } }
}

/**
 * A no_data alert at check time `now`, given the newest stored reading time of its sensor
 * (`lastReading`; undefined: none). Its `lastTs` is the newest reading time it knows of: the first
 * reading it was watched from, or the newest when it fired or resolved.
 */
export function checkNoData(rule: AlertRule, s: AlertState, now: number, lastReading: number | undefined): StepResult {
  const silentSince = Math.max(lastReading ?? Number.NEGATIVE_INFINITY, s.lastTs)
  if (!Number.isFinite(silentSince)) return { state: s, events: [] }
  if (s.state === 'firing') {
    // lastTs of a firing no_data alert is the newest reading when it fired: any newer one resolves it
    if (lastReading === undefined || !(lastReading > s.lastTs)) return { state: s, events: [] }
    return {
      state: { state: 'resolved', episode: s.episode, lastTs: lastReading },
      events: [{ kind: 'resolved', episode: s.episode, at: lastReading }]
    }
  }
  if (now - silentSince < (rule.noDataSeconds as number)) return { state: s, events: [] }
  const episode = s.episode + 1
  return {
    state: { state: 'firing', episode, since: silentSince, lastTs: silentSince },
    events: [{ kind: 'firing', episode, at: now }]
  }
}

/** Which rules apply to which sensor ids: matched once per sensor, then remembered. */
export class RuleMatcher {
  private readonly exact = new Map<string, AlertRule[]>()
  private readonly globs: { re: RegExp; rule: AlertRule }[] = []
  private readonly cache = new Map<string, readonly AlertRule[]>()
  readonly rules: readonly AlertRule[]

  constructor(rules: readonly AlertRule[]) {
    this.rules = rules
    for (const rule of rules) {
      if (isGlob(rule.sensor)) this.globs.push({ re: globToRegExp(rule.sensor), rule })
      else {
        const list = this.exact.get(rule.sensor) ?? []
        list.push(rule)
        this.exact.set(rule.sensor, list)
      }
    }
  }

  /** The rules of a sensor, by rule id. */
  match(sensorId: string): readonly AlertRule[] {
    const known = this.cache.get(sensorId)
    if (known !== undefined) return known
    const found = [...(this.exact.get(sensorId) ?? [])]
    for (const g of this.globs) if (g.re.test(sensorId)) found.push(g.rule)
    found.sort((a, b) => a.id - b.id)
    this.cache.set(sensorId, found)
    return found
  }
}
