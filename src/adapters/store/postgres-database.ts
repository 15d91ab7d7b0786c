// One PostgreSQL database: the pool of connections, its schema migrations, and the adapters that
// share the pool (the reading store, the read queries, the alert rules and states, storage
// maintenance). The pool stays on this side: the wiring module (src/wiring.ts) hands the ports
// out, never the pool. Tests reach `pool` for SQL of their own.
import { setTimeout as delay } from 'node:timers/promises'
import pg from 'pg'
import type { Logger } from '../../platform/logger.ts'
import type { Lifecycle } from '../../ports/lifecycle.ts'
import type { Migrations } from '../../ports/migrations.ts'
import type { RetentionPolicy } from '../../ports/store.ts'
import { migrate } from './migrate.ts'
import { Partitions, type PartitionOptions } from './partitions.ts'
import { PostgresAlertStore } from './postgres-alerts.ts'
import { PostgresReadingQueries, READ_POOL_OPTIONS } from './postgres-queries.ts'
import { PostgresRuleStore } from './postgres-rules.ts'
import { PostgresReadingStore } from './postgres.ts'
import { translatePgError } from './postgres-errors.ts'
import { PostgresStorageMaintenance } from './retention.ts'

export interface PostgresDatabaseOptions {
  readonly url: string
  readonly poolMax: number
  readonly statementTimeoutMs: number
  readonly connectTimeoutMs?: number
  readonly logger: Logger
  /** sensor_data's partition width and how many are made ahead [one day, 3] */
  readonly partitions?: PartitionOptions
}

/** How long close() waits for the connections to end. */
const CLOSE_WAIT_MS = 5_000

export class PostgresDatabase implements Lifecycle, Migrations {
  /** shared by the adapters below (and by tests); never handed out by the wiring module */
  readonly pool: pg.Pool
  /** the connections of the API's reads (pages, statistics), which keep one generic plan per named statement (see below) */
  private readonly readPool: pg.Pool
  readonly partitions: Partitions
  readonly store: PostgresReadingStore
  readonly queries: PostgresReadingQueries
  readonly rules: PostgresRuleStore
  readonly alerts: PostgresAlertStore
  private readonly logger: Logger

  constructor(options: PostgresDatabaseOptions) {
    this.logger = options.logger
    const config: pg.PoolConfig = {
      connectionString: options.url,
      max: options.poolMax,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000,
      statement_timeout: options.statementTimeoutMs,
      application_name: 'sensorstream'
    }
    this.pool = new pg.Pool(config)
    // a pool of their own, so that no other statement changes plans
    this.readPool = new pg.Pool({ ...config, options: READ_POOL_OPTIONS })
    // An idle connection that dies (Postgres restarted) must not crash the process: the pool
    // drops it and the next query opens a new one.
    for (const pool of [this.pool, this.readPool]) pool.on('error', (err) => this.logger.warn({ err }, 'idle postgres connection lost'))
    this.partitions = new Partitions(this.pool, this.logger, options.partitions)
    this.store = new PostgresReadingStore({ pool: this.pool, partitions: this.partitions })
    this.queries = new PostgresReadingQueries({ pool: this.pool, readPool: this.readPool })
    this.rules = new PostgresRuleStore({ pool: this.pool })
    this.alerts = new PostgresAlertStore({ pool: this.pool })
  }

  /** Premaking partitions and retention with `policy`, on this database. */
  maintenance(policy: RetentionPolicy, logger: Logger): PostgresStorageMaintenance {
    return new PostgresStorageMaintenance({ pool: this.pool, partitions: this.partitions, policy, logger })
  }

  async connect(): Promise<void> {
    await this.ping()
  }

  async migrate(): Promise<void> {
    try {
      const applied = await migrate(this.pool, undefined, {
        'sensorstream.partition_interval': `${this.partitions.options.intervalSeconds} seconds`
      })
      if (applied.length > 0) this.logger.info({ applied }, 'migrations applied')
      await this.partitions.premake()
    } catch (err) {
      throw translatePgError(err, 'migrate')
    }
  }

  async ping(): Promise<void> {
    try {
      await this.pool.query('SELECT 1')
    } catch (err) {
      throw translatePgError(err, 'ping')
    }
  }

  /** Resolves once every connection of both pools has closed. */
  async close(): Promise<void> {
    await Promise.all([endPool(this.pool), endPool(this.readPool)])
  }
}

/**
 * Resolves once every connection of the pool has closed. pg's pool.end() resolves as soon as it has
 * asked them to: a server stopped right after would still cut them (and each would log a warning).
 */
async function endPool(pool: pg.Pool): Promise<void> {
  let open = pool.totalCount
  const closed = new Promise<void>((resolve) => {
    if (open === 0) resolve()
    pool.on('remove', () => {
      if (--open === 0) resolve()
    })
  })
  await pool.end()
  await Promise.race([closed, delay(CLOSE_WAIT_MS, undefined, { ref: false })])
}
