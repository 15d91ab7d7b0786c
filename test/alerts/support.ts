// Alerts on a real Postgres (test/harness): a store, the rule and alert adapters on its pool, and
// evaluators as the streaming service makes them, one per "instance".
import { PostgresAlertStore } from '../../src/adapters/store/postgres-alerts.ts'
import { PostgresRuleStore } from '../../src/adapters/store/postgres-rules.ts'
import { PostgresReadingStore } from '../../src/adapters/store/postgres.ts'
import { createLogger } from '../../src/platform/logger.ts'
import type { AlertEvent, AlertFeed } from '../../src/ports/alerts.ts'
import { AlertEvaluator } from '../../src/services/streaming/alert-evaluator.ts'

export const logger = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent')

export interface Instance {
  readonly store: PostgresReadingStore
  readonly rules: PostgresRuleStore
  readonly alerts: PostgresAlertStore
  readonly evaluator: AlertEvaluator
  /** alert events this instance published */
  readonly published: AlertEvent[]
  close(): Promise<void>
}

/** `live`: where the evaluator publishes too (beside `published`) */
export async function openInstance(url: string, live?: AlertFeed): Promise<Instance> {
  const store = new PostgresReadingStore({ url, poolMax: 4, statementTimeoutMs: 10_000, logger })
  await store.connect()
  await store.migrate()
  const rules = new PostgresRuleStore({ pool: store.pool })
  const alerts = new PostgresAlertStore({ pool: store.pool })
  const published: AlertEvent[] = []
  const feed = {
    connect: async () => undefined,
    close: async () => undefined,
    publishAlerts: async (events: readonly AlertEvent[]) => {
      published.push(...events)
      await live?.publishAlerts(events)
    },
    subscribeAlerts: async () => async () => undefined
  }
  const evaluator = new AlertEvaluator({ rules, store: alerts, feed, logger })
  return { store, rules, alerts, evaluator, published, close: () => store.close() }
}

export async function eventsOf(instance: Instance, ruleId: number): Promise<{ sensor_id: string; episode: number; kind: string; value: number | null; at: number }[]> {
  const { rows } = await instance.store.pool.query(
    'SELECT sensor_id, episode, kind, value, extract(epoch FROM at)::float8 AS at FROM alert_events WHERE rule_id = $1 ORDER BY id',
    [ruleId]
  )
  return rows
}
