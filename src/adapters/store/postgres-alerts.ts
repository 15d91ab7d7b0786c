// AlertStore and DeliveryOutbox on PostgreSQL (migration 011). Every transition is decided on rows
// locked FOR UPDATE, in (rule id, sensor id) order so that two writers cannot deadlock, and its
// event is inserted ON CONFLICT DO NOTHING on (rule, sensor, episode, kind) in the same
// transaction: however many instances evaluate the same readings, one event per episode and kind.
import type pg from 'pg'
import type { AlertEventKind, AlertStateName } from '../../domain/alert.ts'
import type {
  AlertEvent,
  AlertFilter,
  AlertKey,
  AlertStore,
  AlertTransition,
  DeliveryOutbox,
  NoDataCandidate,
  StoredAlert,
  WebhookDelivery
} from '../../ports/alerts.ts'
import { translatePgError } from './postgres-errors.ts'
import { queryPage, where } from './postgres-page.ts'

/** arbitrary constant, apart from migrate.ts's, partitions.ts's and retention.ts's */
const NO_DATA_LOCK_KEY = 0x5e_25_0a_57_e4_a1

const epoch = (column: string): string => `extract(epoch FROM ${column})::float8`

const STATE_COLUMNS = `s.rule_id, s.sensor_id, s.state, s.episode, ${epoch('s.since')} AS since, ${epoch('s.last_ts')} AS last_ts, s.last_value, ${epoch('s.changed_at')} AS changed_at`

interface StateRow {
  rule_id: string
  sensor_id: string
  state: AlertStateName
  episode: number
  since: number | null
  last_ts: number
  last_value: number | null
  changed_at: number
  last_reading?: number | null
  rule_name?: string
}

interface EventRow {
  id: string
  rule_id: string
  rule_name: string
  sensor_id: string
  episode: number
  kind: AlertEventKind
  value: number | null
  at: number
  created_at: number
}

function stateFromRow(row: StateRow): StoredAlert {
  return {
    ruleId: Number(row.rule_id),
    sensorId: row.sensor_id,
    state: row.state,
    episode: row.episode,
    ...(row.since === null ? {} : { since: row.since }),
    lastTs: row.last_ts,
    ...(row.last_value === null ? {} : { lastValue: row.last_value }),
    changedAt: row.changed_at,
    ...(row.rule_name === undefined ? {} : { ruleName: row.rule_name })
  }
}

export function eventFromRow(row: EventRow): AlertEvent {
  return {
    id: Number(row.id),
    ruleId: Number(row.rule_id),
    ruleName: row.rule_name,
    sensorId: row.sensor_id,
    episode: row.episode,
    kind: row.kind,
    ...(row.value === null ? {} : { value: row.value }),
    at: row.at,
    createdAt: row.created_at
  }
}

/** Keys in the order every writer locks them: rule id, then sensor id in byte order. */
export function sortKeys<K extends AlertKey>(keys: readonly K[]): K[] {
  return [...keys].sort((a, b) => a.ruleId - b.ruleId || (a.sensorId < b.sensorId ? -1 : a.sensorId > b.sensorId ? 1 : 0))
}

const KEYS = `unnest($1::int8[], $2::text[]) AS k(rule_id, sensor_id)`

const UPDATE_STATES = `
UPDATE alert_states s SET state = u.state, episode = u.episode, since = to_timestamp(u.since), last_ts = to_timestamp(u.last_ts),
  last_value = u.last_value, changed_at = CASE WHEN s.state <> u.state THEN now() ELSE s.changed_at END
FROM unnest($1::int8[], $2::text[], $3::text[], $4::int4[], $5::float8[], $6::float8[], $7::float8[]) AS u(rule_id, sensor_id, state, episode, since, last_ts, last_value)
WHERE s.rule_id = u.rule_id AND s.sensor_id = u.sensor_id`

const INSERT_EVENTS = `
WITH ev AS (
  INSERT INTO alert_events (rule_id, sensor_id, episode, kind, value, at)
  SELECT e.rule_id, e.sensor_id, e.episode, e.kind, e.value, to_timestamp(e.at_s)
  FROM unnest($1::int8[], $2::text[], $3::int4[], $4::text[], $5::float8[], $6::float8[]) AS e(rule_id, sensor_id, episode, kind, value, at_s)
  ORDER BY e.rule_id, e.sensor_id COLLATE "C", e.episode, e.kind
  ON CONFLICT (rule_id, sensor_id, episode, kind) DO NOTHING
  RETURNING *
), d AS (
  INSERT INTO alert_deliveries (event_id, url, secret)
  SELECT ev.id, r.webhook_url, r.webhook_secret FROM ev JOIN alert_rules r ON r.id = ev.rule_id WHERE r.webhook_url IS NOT NULL
)
SELECT ev.id, ev.rule_id, r.name AS rule_name, ev.sensor_id, ev.episode, ev.kind, ev.value, ${epoch('ev.at')} AS at, ${epoch('ev.created_at')} AS created_at
FROM ev JOIN alert_rules r ON r.id = ev.rule_id ORDER BY ev.id`

export class PostgresAlertStore implements AlertStore, DeliveryOutbox {
  private readonly pool: pg.Pool

  constructor(options: { pool: pg.Pool }) {
    this.pool = options.pool
  }

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  async transact(keys: readonly AlertKey[], decide: (states: readonly StoredAlert[]) => readonly AlertTransition[]): Promise<AlertEvent[]> {
    if (keys.length === 0) return []
    const sorted = sortKeys(keys)
    const ids = sorted.map((k) => k.ruleId)
    const sensors = sorted.map((k) => k.sensorId)
    return this.inTransaction('alert transition', async (client) => {
      await client.query(
        `INSERT INTO alert_states (rule_id, sensor_id, state, last_ts) SELECT k.rule_id, k.sensor_id, 'inactive', '-infinity'::timestamptz FROM ${KEYS}
         WHERE EXISTS (SELECT 1 FROM alert_rules r WHERE r.id = k.rule_id)
         ORDER BY k.rule_id, k.sensor_id COLLATE "C" ON CONFLICT DO NOTHING`,
        [ids, sensors]
      )
      const { rows } = await client.query<StateRow>(
        `SELECT ${STATE_COLUMNS} FROM alert_states s JOIN ${KEYS} ON s.rule_id = k.rule_id AND s.sensor_id = k.sensor_id
         ORDER BY s.rule_id, s.sensor_id COLLATE "C" FOR UPDATE OF s`,
        [ids, sensors]
      )
      return this.write(client, decide(rows.map(stateFromRow)))
    })
  }

  async watch(keys: readonly (AlertKey & { readonly since: number })[]): Promise<void> {
    if (keys.length === 0) return
    const sorted = sortKeys(keys)
    try {
      await this.pool.query(
        `INSERT INTO alert_states (rule_id, sensor_id, state, last_ts)
         SELECT k.rule_id, k.sensor_id, 'inactive', to_timestamp(k.since) FROM unnest($1::int8[], $2::text[], $3::float8[]) AS k(rule_id, sensor_id, since)
         WHERE EXISTS (SELECT 1 FROM alert_rules r WHERE r.id = k.rule_id)
         ORDER BY k.rule_id, k.sensor_id COLLATE "C" ON CONFLICT DO NOTHING`,
        [sorted.map((k) => k.ruleId), sorted.map((k) => k.sensorId), sorted.map((k) => k.since)]
      )
    } catch (err) {
      throw translatePgError(err, 'watch alerts')
    }
  }

  async activeStates(): Promise<StoredAlert[]> {
    try {
      const { rows } = await this.pool.query<StateRow>(`SELECT ${STATE_COLUMNS} FROM alert_states s WHERE s.state IN ('pending', 'firing')`)
      return rows.map(stateFromRow)
    } catch (err) {
      throw translatePgError(err, 'active alerts')
    }
  }

  async checkNoData(decide: (candidates: readonly NoDataCandidate[]) => readonly AlertTransition[]): Promise<AlertEvent[] | undefined> {
    let skipped = false
    const events = await this.inTransaction('no-data check', async (client) => {
      const { rows: lock } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1) AS locked', [NO_DATA_LOCK_KEY])
      if (lock[0]?.locked !== true) {
        skipped = true
        return []
      }
      const { rows } = await client.query<StateRow>(
        `SELECT ${STATE_COLUMNS}, ${epoch('l.ts')} AS last_reading
         FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id AND r.kind = 'no_data'
         LEFT JOIN LATERAL (SELECT d.ts FROM sensor_data d WHERE d.sensor_id = s.sensor_id ORDER BY d.ts DESC LIMIT 1) l ON true
         ORDER BY s.rule_id, s.sensor_id COLLATE "C" FOR UPDATE OF s`
      )
      const candidates = rows.map((row) => ({ ...stateFromRow(row), ...(row.last_reading == null ? {} : { lastReading: row.last_reading }) }))
      return this.write(client, decide(candidates))
    })
    return skipped ? undefined : events
  }

  /** Writes states and events on the transaction's connection. */
  private async write(client: pg.PoolClient, transitions: readonly AlertTransition[]): Promise<AlertEvent[]> {
    if (transitions.length === 0) return []
    const t = sortKeys(transitions.map((x) => ({ ...x.key, x }))).map((k) => k.x)
    await client.query(UPDATE_STATES, [
      t.map((x) => x.key.ruleId),
      t.map((x) => x.key.sensorId),
      t.map((x) => x.state.state),
      t.map((x) => x.state.episode),
      t.map((x) => x.state.since ?? null),
      t.map((x) => x.state.lastTs),
      t.map((x) => x.state.lastValue ?? null)
    ])
    const events = t.flatMap((x) => x.events.map((e) => ({ key: x.key, e })))
    if (events.length === 0) return []
    const { rows } = await client.query<EventRow>(INSERT_EVENTS, [
      events.map((x) => x.key.ruleId),
      events.map((x) => x.key.sensorId),
      events.map((x) => x.e.episode),
      events.map((x) => x.e.kind),
      events.map((x) => x.e.value ?? null),
      events.map((x) => x.e.at)
    ])
    return rows.map(eventFromRow)
  }

  private async inTransaction<T>(operation: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw translatePgError(err, operation)
    }
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {
        broken = true
      })
      throw translatePgError(err, operation)
    } finally {
      client.release(broken)
    }
  }

  async listAlerts(options: AlertFilter & { readonly state?: AlertStateName; readonly after?: AlertKey }): Promise<{ alerts: StoredAlert[]; next?: AlertKey }> {
    const page = await queryPage(this.pool, 'list alerts', {
      limit: options.limit,
      sql: (bind) => {
        const after =
          options.after === undefined
            ? undefined
            : `(s.rule_id, s.sensor_id COLLATE "C") > (${bind(options.after.ruleId)}::int8, ${bind(options.after.sensorId)}::text COLLATE "C")`
        const filter = where(
          bind,
          [
            ['s.state', options.state],
            ['s.rule_id', options.ruleId],
            ['s.sensor_id', options.sensorId]
          ],
          after
        )
        return `SELECT ${STATE_COLUMNS}, r.name AS rule_name FROM alert_states s JOIN alert_rules r ON r.id = s.rule_id ${filter}
          ORDER BY s.rule_id, s.sensor_id COLLATE "C"`
      },
      fromRow: stateFromRow,
      keyOf: (a): AlertKey => ({ ruleId: a.ruleId, sensorId: a.sensorId })
    })
    return { alerts: page.items, next: page.next }
  }

  async listEvents(options: AlertFilter & { readonly kind?: AlertEventKind; readonly before?: number }): Promise<{ events: AlertEvent[]; next?: number }> {
    const page = await queryPage(this.pool, 'list alert events', {
      limit: options.limit,
      sql: (bind) => {
        const before = options.before === undefined ? undefined : `e.id < ${bind(options.before)}`
        const filter = where(
          bind,
          [
            ['e.kind', options.kind],
            ['e.rule_id', options.ruleId],
            ['e.sensor_id', options.sensorId]
          ],
          before
        )
        return `SELECT e.id, e.rule_id, r.name AS rule_name, e.sensor_id, e.episode, e.kind, e.value, ${epoch('e.at')} AS at, ${epoch('e.created_at')} AS created_at
          FROM alert_events e JOIN alert_rules r ON r.id = e.rule_id ${filter} ORDER BY e.id DESC`
      },
      fromRow: eventFromRow,
      keyOf: (e) => e.id
    })
    return { events: page.items, next: page.next }
  }

  async claimDeliveries(limit: number, leaseMs: number): Promise<WebhookDelivery[]> {
    try {
      const { rows } = await this.pool.query<EventRow & { event_id: string; url: string; secret: string | null; attempts: number }>(
        `WITH due AS (
           SELECT event_id FROM alert_deliveries WHERE delivered_at IS NULL AND failed_at IS NULL AND next_at <= now()
           ORDER BY next_at LIMIT $1 FOR UPDATE SKIP LOCKED
         ), claimed AS (
           UPDATE alert_deliveries d SET attempts = d.attempts + 1, next_at = now() + make_interval(secs => $2::float8 / 1000)
           FROM due WHERE d.event_id = due.event_id RETURNING d.event_id, d.url, d.secret, d.attempts
         )
         SELECT c.event_id, c.url, c.secret, c.attempts, e.id, e.rule_id, r.name AS rule_name, e.sensor_id, e.episode, e.kind, e.value,
                ${epoch('e.at')} AS at, ${epoch('e.created_at')} AS created_at
         FROM claimed c JOIN alert_events e ON e.id = c.event_id JOIN alert_rules r ON r.id = e.rule_id ORDER BY e.id`,
        [limit, leaseMs]
      )
      return rows.map((row) => ({
        eventId: Number(row.event_id),
        url: row.url,
        ...(row.secret === null ? {} : { secret: row.secret }),
        attempt: row.attempts,
        event: eventFromRow(row)
      }))
    } catch (err) {
      throw translatePgError(err, 'claim webhook deliveries')
    }
  }

  async delivered(eventId: number): Promise<void> {
    try {
      await this.pool.query('UPDATE alert_deliveries SET delivered_at = now(), last_error = NULL WHERE event_id = $1', [eventId])
    } catch (err) {
      throw translatePgError(err, 'webhook delivered')
    }
  }

  async failed(eventId: number, error: string, retryInMs: number | undefined): Promise<void> {
    try {
      await this.pool.query(
        `UPDATE alert_deliveries SET last_error = $2,
           next_at = CASE WHEN $3::float8 IS NULL THEN next_at ELSE now() + make_interval(secs => $3::float8 / 1000) END,
           failed_at = CASE WHEN $3::float8 IS NULL THEN now() END
         WHERE event_id = $1`,
        [eventId, error.slice(0, 1000), retryInMs ?? null]
      )
    } catch (err) {
      throw translatePgError(err, 'webhook failed')
    }
  }
}
