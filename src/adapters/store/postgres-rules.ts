// RuleStore on PostgreSQL (table alert_rules, migration 011). Shares a PostgresReadingStore's pool.
import type pg from 'pg'
import type { RuleInput, RulePage, RuleStore, StoredRule } from '../../ports/alerts.ts'
import { translatePgError } from './postgres-errors.ts'
import { queryPage } from './postgres-page.ts'

interface RuleRow {
  id: string
  name: string
  sensor: string
  kind: StoredRule['kind']
  threshold: number | null
  hysteresis: number
  for_seconds: number
  no_data_seconds: number | null
  webhook_url: string | null
  has_secret: boolean
  created_at: number
  updated_at: number
}

const COLUMNS = `id, name, sensor, kind, threshold, hysteresis, for_seconds, no_data_seconds, webhook_url,
  webhook_secret IS NOT NULL AS has_secret, extract(epoch FROM created_at)::float8 AS created_at, extract(epoch FROM updated_at)::float8 AS updated_at`

function fromRow(row: RuleRow): StoredRule {
  return {
    id: Number(row.id),
    name: row.name,
    sensor: row.sensor,
    kind: row.kind,
    ...(row.threshold === null ? {} : { threshold: row.threshold }),
    hysteresis: row.hysteresis,
    forSeconds: row.for_seconds,
    ...(row.no_data_seconds === null ? {} : { noDataSeconds: row.no_data_seconds }),
    ...(row.webhook_url === null ? {} : { webhookUrl: row.webhook_url }),
    hasSecret: row.has_secret,
    createdAt: row.created_at,
    updatedAt: row.updated_at
  }
}

const params = (r: RuleInput): unknown[] => [
  r.name,
  r.sensor,
  r.kind,
  r.threshold ?? null,
  r.hysteresis,
  r.forSeconds,
  r.noDataSeconds ?? null,
  r.webhookUrl ?? null,
  r.webhookSecret ?? null
]

export class PostgresRuleStore implements RuleStore {
  private readonly pool: pg.Pool

  constructor(options: { pool: pg.Pool }) {
    this.pool = options.pool
  }

  async connect(): Promise<void> {}
  async close(): Promise<void> {}

  private async query(operation: string, sql: string, values: unknown[] = []): Promise<RuleRow[]> {
    try {
      return (await this.pool.query<RuleRow>(sql, values)).rows
    } catch (err) {
      throw translatePgError(err, operation)
    }
  }

  async createRule(input: RuleInput): Promise<StoredRule> {
    const rows = await this.query(
      'create rule',
      `INSERT INTO alert_rules (name, sensor, kind, threshold, hysteresis, for_seconds, no_data_seconds, webhook_url, webhook_secret)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING ${COLUMNS}`,
      params(input)
    )
    return fromRow(rows[0] as RuleRow)
  }

  async listRules(options: { limit: number; after?: number }): Promise<RulePage> {
    const page = await queryPage(this.pool, 'list rules', {
      limit: options.limit,
      sql: (bind) => `SELECT ${COLUMNS} FROM alert_rules WHERE id > ${bind(options.after ?? 0)} ORDER BY id`,
      fromRow,
      keyOf: (r) => r.id
    })
    return { rules: page.items, next: page.next }
  }

  async getRule(id: number): Promise<StoredRule | undefined> {
    const rows = await this.query('get rule', `SELECT ${COLUMNS} FROM alert_rules WHERE id = $1`, [id])
    return rows[0] === undefined ? undefined : fromRow(rows[0])
  }

  async updateRule(id: number, input: RuleInput): Promise<StoredRule | undefined> {
    const rows = await this.query(
      'update rule',
      `UPDATE alert_rules SET name = $1, sensor = $2, kind = $3, threshold = $4, hysteresis = $5, for_seconds = $6, no_data_seconds = $7,
         webhook_url = $8, webhook_secret = $9, updated_at = now()
       WHERE id = $10 RETURNING ${COLUMNS}`,
      [...params(input), id]
    )
    return rows[0] === undefined ? undefined : fromRow(rows[0])
  }

  async deleteRule(id: number): Promise<boolean> {
    try {
      const result = await this.pool.query('DELETE FROM alert_rules WHERE id = $1', [id])
      return (result.rowCount ?? 0) > 0
    } catch (err) {
      throw translatePgError(err, 'delete rule')
    }
  }

  async allRules(): Promise<StoredRule[]> {
    return (await this.query('load rules', `SELECT ${COLUMNS} FROM alert_rules ORDER BY id`)).map(fromRow)
  }
}
