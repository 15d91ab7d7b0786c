// DeadLetterLedger on PostgreSQL (table dlq_replayed). A claim is an INSERT … ON CONFLICT DO NOTHING
// RETURNING in a transaction that stays open while the dead letters are published and commits only
// after the bus acknowledged them: a failed publish rolls the claim back (nothing lost), and another
// run's INSERT of the same keys waits on the row locks until this commit, then skips them (nothing
// doubled). Keys are inserted in a fixed order, so two runs never deadlock. The one window left is a
// COMMIT that fails after the publish succeeded: those are reported, and a later run sends them again.
import pg from 'pg'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'
import { deadLetterKey, type DeadLetterId, type DeadLetterLedger } from '../../ports/dlq-ledger.ts'
import { migrate } from './migrate.ts'
import { translatePgError } from './postgres-errors.ts'

export interface PostgresLedgerOptions {
  readonly url: string
  readonly statementTimeoutMs: number
  readonly logger: Logger
}

const CLAIM_SQL = `
INSERT INTO dlq_replayed (dlq_topic, dlq_partition, dlq_offset)
SELECT t, p, o FROM unnest($1::text[], $2::int4[], $3::int8[]) AS u(t, p, o) ORDER BY t, p, o
ON CONFLICT DO NOTHING
RETURNING dlq_topic, dlq_partition, dlq_offset::text`

export class PostgresDeadLetterLedger implements DeadLetterLedger {
  readonly #pool: pg.Pool
  readonly #logger: Logger

  constructor(options: PostgresLedgerOptions) {
    this.#logger = options.logger.child({ component: 'dlq-ledger' })
    this.#pool = new pg.Pool({
      connectionString: options.url,
      max: 2,
      connectionTimeoutMillis: 5_000,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'sensorstream-dlq'
    })
    this.#pool.on('error', (err) => this.#logger.warn({ err }, 'idle postgres connection lost'))
  }

  async connect(): Promise<void> {
    try {
      await this.#pool.query('SELECT 1')
    } catch (err) {
      throw translatePgError(err, 'connect')
    }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }

  async migrate(): Promise<void> {
    try {
      await migrate(this.#pool)
    } catch (err) {
      throw translatePgError(err, 'migrate')
    }
  }

  async replayed(ids: readonly DeadLetterId[]): Promise<ReadonlyMap<string, Date>> {
    if (ids.length === 0) return new Map()
    try {
      const { rows } = await this.#pool.query<{ dlq_topic: string; dlq_partition: number; dlq_offset: string; replayed_at: Date }>(
        `SELECT d.dlq_topic, d.dlq_partition, d.dlq_offset::text, d.replayed_at
         FROM dlq_replayed d JOIN unnest($1::text[], $2::int4[], $3::int8[]) AS u(t, p, o)
           ON d.dlq_topic = u.t AND d.dlq_partition = u.p AND d.dlq_offset = u.o`,
        columns(ids)
      )
      return new Map(rows.map((r) => [deadLetterKey(fromRow(r)), r.replayed_at]))
    } catch (err) {
      throw translatePgError(err, 'replayed')
    }
  }

  async resendOnce(ids: readonly DeadLetterId[], send: (claimed: readonly DeadLetterId[]) => Promise<void>): Promise<readonly DeadLetterId[]> {
    if (ids.length === 0) return []
    let client: pg.PoolClient
    try {
      client = await this.#pool.connect()
    } catch (err) {
      throw translatePgError(err, 'claim')
    }
    let claimed: DeadLetterId[] = []
    let sent = false
    let failed = false
    try {
      await client.query('BEGIN')
      const { rows } = await client.query<{ dlq_topic: string; dlq_partition: number; dlq_offset: string }>(CLAIM_SQL, columns(ids))
      claimed = rows.map(fromRow)
      if (claimed.length > 0) await send(claimed)
      sent = true
      await client.query('COMMIT')
      return claimed
    } catch (err) {
      failed = true
      await client.query('ROLLBACK').catch(() => undefined)
      if (sent && claimed.length > 0) {
        throw new AppError(
          'UNAVAILABLE',
          `${claimed.length} dead letters were re-sent but could not be recorded as re-sent; a later run sends them once more: ${claimed.map(deadLetterKey).join(', ')}`,
          {
            cause: err,
            retryable: true,
            details: claimed
          }
        )
      }
      throw err instanceof AppError ? err : translatePgError(err, 'claim')
    } finally {
      // A connection that failed mid-transaction is not given back to the pool.
      client.release(failed)
    }
  }
}

function columns(ids: readonly DeadLetterId[]): [string[], number[], string[]] {
  return [ids.map((i) => i.topic), ids.map((i) => i.partition), ids.map((i) => String(i.offset))]
}

function fromRow(r: { dlq_topic: string; dlq_partition: number; dlq_offset: string }): DeadLetterId {
  return { topic: r.dlq_topic, partition: r.dlq_partition, offset: BigInt(r.dlq_offset) }
}
