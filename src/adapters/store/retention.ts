// Upkeep on PostgreSQL: rollup closing (rollup-closer.ts), and retention: whole partitions past RETENTION_*_DAYS are detached (CONCURRENTLY: no
// lock that stops the writers) and dropped, by one instance at a time (a session advisory lock
// taken with pg_try_advisory_lock: the others skip their turn rather than queue).
import type pg from 'pg'
import type { Logger } from '../../platform/logger.ts'
import type { ExpiredPartition, RetentionPolicy, StorageMaintenance } from '../../ports/store.ts'
import type { PartitionedTable, Partitions } from './partitions.ts'
import { raiseRetentionSlot, settleRetentionSlots } from './answer-epochs.ts'
import { translatePgError } from './postgres-errors.ts'
import { closeRollups } from './rollup-closer.ts'

/** arbitrary constant, apart from migrate.ts's and partitions.ts's */
const RETENTION_LOCK_KEY = 0x5e_25_0a_57_e4_13
const DAY_MS = 86_400_000

export class PostgresStorageMaintenance implements StorageMaintenance {
  private readonly pool: pg.Pool
  private readonly partitions: Partitions
  private readonly policy: RetentionPolicy
  private readonly logger: Logger

  constructor(options: { pool: pg.Pool; partitions: Partitions; policy: RetentionPolicy; logger: Logger }) {
    this.pool = options.pool
    this.partitions = options.partitions
    this.policy = options.policy
    this.logger = options.logger
  }

  async premakePartitions(): Promise<void> {
    try {
      await this.partitions.premake()
    } catch (err) {
      throw translatePgError(err, 'premake partitions')
    }
  }

  async closeRollups(options: { nowMs?: number; signal?: AbortSignal } = {}): Promise<number> {
    try {
      return await closeRollups(this.pool, options)
    } catch (err) {
      throw translatePgError(err, 'close rollups')
    }
  }

  async expiredPartitions(nowMs = Date.now()): Promise<ExpiredPartition[]> {
    return this.expiredOn(this.pool, nowMs)
  }

  /** On the given connection: dropping holds one, and the pool may have no other. */
  private async expiredOn(client: pg.Pool | pg.PoolClient, nowMs: number): Promise<ExpiredPartition[]> {
    const days: Record<PartitionedTable, number | undefined> = {
      sensor_data: this.policy.rawDays,
      rollup_1m: this.policy.minuteDays,
      rollup_1h: this.policy.hourDays,
      rollup_1d: this.policy.dayDays
    }
    try {
      const expired = (await this.partitions.list(client)).filter((p) => {
        const keep = days[p.table]
        return keep !== undefined && p.hi <= nowMs - keep * DAY_MS
      })
      if (expired.length === 0) return []
      const { rows } = await client.query<{ bytes: string }>('SELECT pg_total_relation_size(n::regclass)::int8 AS bytes FROM unnest($1::text[]) AS n', [
        expired.map((p) => p.name)
      ])
      return expired.map((p, i) => ({ table: p.table, name: p.name, from: p.lo / 1000, to: p.hi / 1000, bytes: Number(rows[i]?.bytes ?? 0) }))
    } catch (err) {
      throw translatePgError(err, 'list expired partitions')
    }
  }

  async dropExpiredPartitions(nowMs = Date.now()): Promise<ExpiredPartition[] | undefined> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw translatePgError(err, 'retention')
    }
    try {
      const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [RETENTION_LOCK_KEY])
      if (rows[0]?.locked !== true) return undefined
      try {
        await settleRetentionSlots(client)
        const expired = await this.expiredOn(client, nowMs)
        for (const p of expired) {
          const started = Date.now()
          // the API serves no cached answer about these days from here until the drop is done
          await raiseRetentionSlot(client, p.from, p.to)
          await detach(client, p)
          const detached = Date.now()
          await client.query(`DROP TABLE ${quote(p.name)}`)
          await raiseRetentionSlot(client, p.from, p.to)
          const done = Date.now()
          this.logger.info(
            { table: p.table, partition: p.name, bytes: p.bytes, ms: done - started, detachMs: detached - started, dropMs: done - detached },
            'retention dropped a partition'
          )
        }
        if (expired.length > 0) this.partitions.invalidate()
        return expired
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [RETENTION_LOCK_KEY])
      }
    } catch (err) {
      throw translatePgError(err, 'retention')
    } finally {
      client.release()
    }
  }
}

/** DETACH … CONCURRENTLY, or FINALIZE when an earlier run was interrupted half-way through one. */
async function detach(client: pg.PoolClient, p: ExpiredPartition): Promise<void> {
  const { rows } = await client.query<{ pending: boolean }>('SELECT inhdetachpending AS pending FROM pg_inherits WHERE inhrelid = $1::regclass', [p.name])
  const mode = rows[0]?.pending === true ? 'FINALIZE' : 'CONCURRENTLY'
  await client.query(`ALTER TABLE ${quote(p.table)} DETACH PARTITION ${quote(p.name)} ${mode}`)
}

/** Partition names come from the catalog (sensorstream_add_partition's); quoted all the same. */
function quote(identifier: string): string {
  return `"${identifier.replaceAll('"', '""')}"`
}
