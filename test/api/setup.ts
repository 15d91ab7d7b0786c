// Builds the API on real adapters (Postgres and Redis from test/harness) for in-process tests: each
// fixture has its own database (freshDatabase) and its own Redis key prefix (uniqueName).
import type { FastifyInstance } from 'fastify'
import { RedisLatestValues } from '../../src/adapters/cache/redis.ts'
import { RedisLiveFeed } from '../../src/adapters/feed/redis-live-feed.ts'
import { RedisStatusBoard } from '../../src/adapters/cache/redis-status.ts'
import { RedisAlertFeed } from '../../src/adapters/feed/redis-alert-feed.ts'
import type { PostgresAlertStore } from '../../src/adapters/store/postgres-alerts.ts'
import { PostgresDatabase } from '../../src/adapters/store/postgres-database.ts'
import type { PostgresRuleStore } from '../../src/adapters/store/postgres-rules.ts'
import type { PostgresReadingQueries } from '../../src/adapters/store/postgres-queries.ts'
import type { PostgresReadingStore } from '../../src/adapters/store/postgres.ts'
import { loadConfig, type Config } from '../../src/platform/config.ts'
import { createLogger } from '../../src/platform/logger.ts'
import { createMetricsRegistry } from '../../src/platform/metrics.ts'
import { buildApp } from '../../src/services/api/app.ts'
import { startApi, type RunningApi } from '../../src/services/api/server.ts'
import { uniqueName } from '../harness/index.ts'

export const logger = createLogger(process.env['TEST_LOG_LEVEL'] ?? 'silent')

export interface ApiFixture {
  readonly app: FastifyInstance
  /** the fixture's database, for SQL of a test's own (db.pool) */
  readonly db: PostgresDatabase
  readonly store: PostgresReadingStore
  readonly queries: PostgresReadingQueries
  readonly latest: RedisLatestValues
  readonly live: RedisLiveFeed
  readonly status: RedisStatusBoard
  /** with StoreOptions.alerts: the alert routes' adapters (the feed on the fixture's key prefix) */
  readonly alerting?: { readonly rules: PostgresRuleStore; readonly alerts: PostgresAlertStore; readonly alertFeed: RedisAlertFeed; readonly keyPrefix: string }
  readonly config: Config['api']
  /** listens on a free loopback port (for curl, SSE) */
  listen(): Promise<RunningApi>
  close(): Promise<void>
}

export interface StoreOptions {
  readonly poolMax?: number
  readonly statementTimeoutMs?: number
  /** the same one for two fixtures makes two API instances of one deployment */
  readonly keyPrefix?: string
  /** true: with the alert routes (/rules, /alerts) and alert events on the live stream */
  readonly alerts?: boolean
}

export async function openApi(databaseUrl: string, redisUrl: string, api: Partial<Config['api']> = {}, storeOptions: StoreOptions = {}): Promise<ApiFixture> {
  const config: Config['api'] = { ...loadConfig({}).api, host: '127.0.0.1', port: 0, ...api }
  const keyPrefix = storeOptions.keyPrefix ?? `${uniqueName('api')}:`
  const db = new PostgresDatabase({
    url: databaseUrl,
    poolMax: storeOptions.poolMax ?? 4,
    statementTimeoutMs: storeOptions.statementTimeoutMs ?? 10_000,
    connectTimeoutMs: config.requestTimeoutMs,
    logger
  })
  await db.connect()
  const { store, queries } = db
  await db.migrate()
  const latest = new RedisLatestValues({ url: redisUrl, keyPrefix, logger })
  const live = new RedisLiveFeed({ url: redisUrl, keyPrefix, logger })
  const status = new RedisStatusBoard({ url: redisUrl, keyPrefix, logger })
  await latest.connect()
  await live.connect()
  await status.connect()
  const alerting =
    storeOptions.alerts === true
      ? { rules: db.rules, alerts: db.alerts, alertFeed: new RedisAlertFeed({ url: redisUrl, keyPrefix, logger }), keyPrefix }
      : undefined
  await alerting?.alertFeed.connect()
  const deps = {
    store,
    queries,
    latest,
    live,
    status,
    ...(alerting === undefined ? {} : { rules: alerting.rules, alerts: alerting.alerts, alertFeed: alerting.alertFeed })
  }
  const app = await buildApp({ ...deps, registry: createMetricsRegistry('api'), config, logger })
  const running: RunningApi[] = []
  return {
    app,
    db,
    ...deps,
    ...(alerting === undefined ? {} : { alerting }),
    config,
    async listen() {
      const api = await startApi({ deps: { ...deps, registry: createMetricsRegistry('api') }, config, logger })
      running.push(api)
      return api
    },
    async close() {
      for (const r of running) await r.close()
      await app.close()
      await status.close()
      await alerting?.alertFeed.close()
      await live.close()
      await latest.close()
      await db.close()
    }
  }
}

export { waitFor } from '../harness/wait.ts'
