// Evaluates the alert rules against each stored batch (ingest.ts awaits it before the batch
// resolves, so offsets commit only once the transitions are durable). The rules are cached and
// reloaded every ALERTS_RULES_RELOAD_MS; each sensor's matching rules are remembered. Postgres is
// touched only for alerts whose state could change: a process keeps the last state it knows of each
// alert as a hint (reloaded with the rules), and asks Postgres — which decides, on locked rows —
// only when a reading breaches (inactive), may fire or cancel (pending) or recovers (firing).
// A hint that is stale (another instance changed the state) delays a transition until the next
// reload, never duplicates one: the conditional write in Postgres is the truth.
import { applyReadings, breaches, INITIAL_STATE, recovers, RuleMatcher, type AlertRule, type AlertState } from '../../domain/alert.ts'
import type { Reading } from '../../domain/reading.ts'
import type { Logger } from '../../platform/logger.ts'
import type { AlertEvent, AlertFeed, AlertKey, AlertStore, RuleStore } from '../../ports/alerts.ts'

export interface AlertEvaluatorOptions {
  readonly rules: RuleStore
  readonly store: AlertStore
  readonly feed?: AlertFeed
  readonly logger: Logger
}

const keyOf = (ruleId: number, sensorId: string): string => `${ruleId}\u0000${sensorId}`

export class AlertEvaluator {
  private matcher = new RuleMatcher([])
  private byId = new Map<number, AlertRule>()
  private signature = ''
  private loaded: Promise<void> | undefined
  private hints = new Map<string, AlertState>()
  /** no_data alerts this process has already asked Postgres to watch */
  private readonly watched = new Set<string>()
  private readonly options: AlertEvaluatorOptions

  constructor(options: AlertEvaluatorOptions) {
    this.options = options
  }

  get rules(): readonly AlertRule[] {
    return this.matcher.rules
  }

  rule(id: number): AlertRule | undefined {
    return this.byId.get(id)
  }

  /** Reloads the rules (the sensors' matches are made again when they changed) and the hints. */
  async reload(): Promise<void> {
    const [rules, active] = await Promise.all([this.options.rules.allRules(), this.options.store.activeStates()])
    const signature = rules.map((r) => `${r.id}@${r.updatedAt}`).join(',')
    if (signature !== this.signature) {
      this.matcher = new RuleMatcher(rules)
      this.byId = new Map(rules.map((r) => [r.id, r]))
      this.signature = signature
      this.watched.clear()
    }
    this.hints = new Map(active.map((s) => [keyOf(s.ruleId, s.sensorId), s]))
  }

  /** Reloads every `everyMs` until `signal` aborts; a failed reload keeps the last rules. */
  async run(everyMs: number, signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, everyMs)
        signal.addEventListener(
          'abort',
          () => {
            clearTimeout(timer)
            resolve(undefined)
          },
          { once: true }
        )
      })
      if (signal.aborted) return
      await this.reload().catch((err: unknown) => this.options.logger.warn({ err }, 'alert rules reload failed; keeping the last ones'))
    }
  }

  /** Applies a stored batch; resolves when every transition it caused is committed. Safe to repeat. */
  async evaluate(readings: readonly Reading[]): Promise<AlertEvent[]> {
    this.loaded ??= this.reload().catch((err: unknown) => {
      this.loaded = undefined
      throw err
    })
    await this.loaded
    if (this.matcher.rules.length === 0) return []
    const perAlert = new Map<string, { key: AlertKey; rule: AlertRule; readings: Reading[] }>()
    const watch = new Map<string, AlertKey & { since: number }>()
    for (const r of readings) {
      for (const rule of this.matcher.match(r.sensor_id)) {
        const k = keyOf(rule.id, r.sensor_id)
        if (rule.kind === 'no_data') {
          if (this.watched.has(k)) continue
          const w = watch.get(k)
          if (w === undefined || r.timestamp < w.since) watch.set(k, { ruleId: rule.id, sensorId: r.sensor_id, since: r.timestamp })
          continue
        }
        let entry = perAlert.get(k)
        if (entry === undefined) {
          entry = { key: { ruleId: rule.id, sensorId: r.sensor_id }, rule, readings: [] }
          perAlert.set(k, entry)
        }
        entry.readings.push(r)
      }
    }
    if (watch.size > 0) {
      await this.options.store.watch([...watch.values()])
      for (const k of watch.keys()) this.watched.add(k)
    }
    const touch = [...perAlert.values()].filter((a) => this.mayChange(a.rule, this.hints.get(keyOf(a.key.ruleId, a.key.sensorId)) ?? INITIAL_STATE, a.readings))
    if (touch.length === 0) return []
    // what Postgres had, with these readings applied: the best hint there is, changed or not
    let seen: [string, AlertState][] = []
    const events = await this.options.store.transact(
      touch.map((a) => a.key),
      (states) => {
        seen = []
        return states.flatMap((s) => {
          const a = perAlert.get(keyOf(s.ruleId, s.sensorId))
          if (a === undefined) return []
          const result = applyReadings(a.rule, s, a.readings)
          seen.push([keyOf(s.ruleId, s.sensorId), result.state])
          return result.state.lastTs === s.lastTs ? [] : [{ key: a.key, state: result.state, events: result.events }]
        })
      }
    )
    for (const [k, state] of seen) this.hints.set(k, state)
    this.publish(events)
    return events
  }

  /** Could these readings change an alert known (maybe stale) to be in state `hint`? */
  private mayChange(rule: AlertRule, hint: AlertState, readings: readonly Reading[]): boolean {
    switch (hint.state) {
      case 'inactive':
      case 'resolved':
        return readings.some((r) => breaches(rule, r.value))
      case 'pending':
        return true
      case 'firing':
        return readings.some((r) => recovers(rule, r.value))
    }
  }

  /** Noted as a hint and published live (best effort); used by the no-data check too. */
  publish(events: readonly AlertEvent[]): void {
    if (events.length === 0 || this.options.feed === undefined) return
    this.options.feed.publishAlerts(events).catch((err: Error) => this.options.logger.debug({ err: err.message }, 'alert feed publish failed'))
  }
}
