// Alerts on a real Postgres (test/harness): a store, the rule and alert adapters on its pool, and
// evaluators as the streaming service makes them, one per "instance".
import type { PostgresAlertStore } from '../../src/adapters/store/postgres-alerts.ts'
import { PostgresDatabase } from '../../src/adapters/store/postgres-database.ts'
import type { PostgresRuleStore } from '../../src/adapters/store/postgres-rules.ts'
import type { PostgresReadingStore } from '../../src/adapters/store/postgres.ts'
import { createLogger } from '../../src/platform/logger.ts'
import type { AlertEvent, AlertFeed } from '../../src/ports/alerts.ts'
import { AlertEvaluator } from '../../src/services/streaming/alert-evaluator.ts'

export const logger = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent')

export interface Instance {
  /** the instance's database, for SQL of a test's own (db.pool) */
  readonly db: PostgresDatabase
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
  const db = new PostgresDatabase({ url, poolMax: 4, statementTimeoutMs: 10_000, logger })
  await db.connect()
  const { store, rules, alerts } = db
  await db.migrate()
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
  return { db, store, rules, alerts, evaluator, published, close: () => db.close() }
}

export async function eventsOf(
  instance: Instance,
  ruleId: number
): Promise<{ sensor_id: string; episode: number; kind: string; value: number | null; at: number }[]> {
  const { rows } = await instance.db.pool.query(
    'SELECT sensor_id, episode, kind, value, extract(epoch FROM at)::float8 AS at FROM alert_events WHERE rule_id = $1 ORDER BY id',
    [ruleId]
  )
  return rows
}
