// Alerts: the rules (managed over the API), the state of each alert (rule × sensor), its events and
// their webhook deliveries. Postgres decides every transition (adapters/store/postgres-alerts.ts);
// what a process remembers is only a hint of where to look.
import type { AlertEventKind, AlertRule, AlertState, AlertStateName, AlertTransitionEvent, RuleDefinition } from '../domain/alert.ts'
import type { Lifecycle } from './lifecycle.ts'

/** A rule as the API writes it: its definition, and the webhook's secret if any. */
export interface RuleInput extends RuleDefinition {
  readonly webhookSecret?: string
}

/** A rule as stored: the secret is never read back, only whether there is one. */
export interface StoredRule extends AlertRule {
  readonly hasSecret: boolean
  readonly createdAt: number
  readonly updatedAt: number
}

export interface RulePage {
  readonly rules: readonly StoredRule[]
  /** the last id of this page when there may be more */
  readonly next?: number
}

export interface RuleStore {
  createRule(input: RuleInput): Promise<StoredRule>
  listRules(options: { limit: number; after?: number }): Promise<RulePage>
  getRule(id: number): Promise<StoredRule | undefined>
  /** undefined: no such rule */
  updateRule(id: number, input: RuleInput): Promise<StoredRule | undefined>
  deleteRule(id: number): Promise<boolean>
  /** every rule, for the streaming service's cache */
  allRules(): Promise<StoredRule[]>
}

export interface AlertKey {
  readonly ruleId: number
  readonly sensorId: string
}

export interface StoredAlert extends AlertState, AlertKey {
  /** when the state last changed, unix seconds */
  readonly changedAt?: number
  /** in listings */
  readonly ruleName?: string
}

export interface AlertTransition {
  readonly key: AlertKey
  readonly state: AlertState
  readonly events: readonly AlertTransitionEvent[]
}

export interface AlertEvent {
  readonly id: number
  readonly ruleId: number
  readonly ruleName: string
  readonly sensorId: string
  readonly episode: number
  readonly kind: AlertEventKind
  readonly value?: number
  /** unix seconds */
  readonly at: number
  readonly createdAt: number
}

export interface NoDataCandidate extends StoredAlert {
  /** newest stored reading of the sensor, unix seconds */
  readonly lastReading?: number
}

export interface AlertFilter {
  readonly limit: number
  readonly ruleId?: number
  readonly sensorId?: string
}

export interface AlertStore {
  /**
   * In one transaction: locks the states of `keys` in (rule id, sensor id) order (a missing one
   * starts inactive), hands them to `decide`, writes the states it returns and their events
   * (INSERT … ON CONFLICT DO NOTHING on rule, sensor, episode, kind) with a webhook delivery for
   * each event of a rule with a webhook. Resolves with the events that were new.
   */
  transact(keys: readonly AlertKey[], decide: (states: readonly StoredAlert[]) => readonly AlertTransition[]): Promise<AlertEvent[]>
  /** Starts watching no_data alerts (ON CONFLICT DO NOTHING), from the reading time given. */
  watch(keys: readonly (AlertKey & { readonly since: number })[]): Promise<void>
  /** pending and firing alerts */
  activeStates(): Promise<StoredAlert[]>
  /**
   * No-data check, by one instance at a time: undefined when another holds the lock. Like transact,
   * over the no_data alerts, each with its sensor's newest stored reading.
   */
  checkNoData(decide: (candidates: readonly NoDataCandidate[]) => readonly AlertTransition[]): Promise<AlertEvent[] | undefined>
  /** by rule id, then sensor id; `next`: the last key of this page when there may be more */
  listAlerts(options: AlertFilter & { readonly state?: AlertStateName; readonly after?: AlertKey }): Promise<{ alerts: StoredAlert[]; next?: AlertKey }>
  /** newest first; `next`: the last id of this page when there may be more */
  listEvents(options: AlertFilter & { readonly kind?: AlertEventKind; readonly before?: number }): Promise<{ events: AlertEvent[]; next?: number }>
}

export interface WebhookDelivery {
  readonly eventId: number
  readonly url: string
  readonly secret?: string
  /** attempts so far, this one included */
  readonly attempt: number
  readonly event: AlertEvent
}

export interface DeliveryOutbox {
  /** Claims due deliveries (FOR UPDATE SKIP LOCKED) for `leaseMs`: another instance will not take them meanwhile. */
  claimDeliveries(limit: number, leaseMs: number): Promise<WebhookDelivery[]>
  delivered(eventId: number): Promise<void>
  /** `retryInMs` undefined: given up */
  failed(eventId: number, error: string, retryInMs: number | undefined): Promise<void>
}

export type AlertListener = (events: readonly AlertEvent[]) => void

/** Alert events as they happen, to the live stream (best effort, like the readings'). */
export interface AlertFeed extends Lifecycle {
  publishAlerts(events: readonly AlertEvent[]): Promise<void>
  subscribeAlerts(listener: AlertListener): Promise<() => Promise<void>>
}
