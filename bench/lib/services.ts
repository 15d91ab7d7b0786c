// Throwaway Kafka, Postgres and Redis for one benchmark run (the launchers the tests use), plus the
// few Postgres settings the benchmark changes, the same for every item.
import pg from 'pg'
import { startKafka, KAFKA_VERSION, type KafkaServer } from '../../dev/kafka.ts'
import { startPostgres, type PostgresServer } from '../../src/adapters/embedded/postgres.ts'
import { startRedis, type RedisServer } from '../../dev/redis.ts'

/**
 * Server settings applied with ALTER SYSTEM and a restart, identical for the ceiling, the naive design
 * and sensorstream: more memory and fewer checkpoints, as a team would set for a write-heavy table.
 * Durability stays at Postgres's defaults (fsync, synchronous_commit and full_page_writes on), as in
 * production: with them off, a commit per row (the naive design) looks 3× cheaper than it is.
 */
export const POSTGRES_SETTINGS: Readonly<Record<string, string>> = {
  shared_buffers: '1GB',
  max_wal_size: '8GB',
  checkpoint_timeout: '30min',
  maintenance_work_mem: '1GB'
}

/** POSTGRES_SETTINGS with ALTER SYSTEM, then a restart for those that need one. */
export async function applySettings(postgres: PostgresServer): Promise<void> {
  const client = new pg.Client({ connectionString: postgres.url })
  await client.connect()
  for (const [name, value] of Object.entries(POSTGRES_SETTINGS)) await client.query(`ALTER SYSTEM SET ${name} = '${value}'`)
  await client.end()
  await postgres.stop()
  await postgres.start()
}

export interface Services {
  readonly kafka: KafkaServer
  readonly postgres: PostgresServer
  readonly redis: RedisServer
  readonly versions: { readonly kafka: string; readonly postgres: string; readonly redis: string }
  /** pg_settings of the running server for durability and the benchmark's own settings */
  readonly postgresSettings: Readonly<Record<string, string>>
  stop(): Promise<void>
}

export async function startServices(): Promise<Services> {
  const [kafka, postgres, redis] = await Promise.all([startKafka({ partitions: 6, heapMb: 1024 }), startPostgres({ durable: true }), startRedis()])
  try {
    await applySettings(postgres)
    const check = new pg.Client({ connectionString: postgres.url })
    await check.connect()
    const version = (await check.query<{ v: string }>("SELECT current_setting('server_version') AS v")).rows[0]?.v ?? '?'
    // What the server reports, not what was asked for: the figures depend on it.
    const { rows } = await check.query<{ name: string; setting: string }>('SELECT name, setting FROM pg_settings WHERE name = ANY($1) ORDER BY name', [
      ['fsync', 'synchronous_commit', 'full_page_writes', 'wal_sync_method', ...Object.keys(POSTGRES_SETTINGS)]
    ])
    await check.end()
    const settings = Object.fromEntries(rows.map((r) => [r.name, r.setting]))
    if (settings.fsync !== 'on' || settings.synchronous_commit !== 'on') throw new Error(`benchmark Postgres is not durable: ${JSON.stringify(settings)}`)
    const redisVersion = await redisServerVersion(redis.url)
    return {
      kafka,
      postgres,
      redis,
      versions: { kafka: KAFKA_VERSION, postgres: version, redis: redisVersion },
      postgresSettings: settings,
      stop: async () => {
        await Promise.allSettled([kafka.dispose(), postgres.dispose(), redis.dispose()])
      }
    }
  } catch (err) {
    await Promise.allSettled([kafka.dispose(), postgres.dispose(), redis.dispose()])
    throw err
  }
}

async function redisServerVersion(url: string): Promise<string> {
  const { Redis } = await import('ioredis')
  const redis = new Redis(url)
  try {
    const info = await redis.info('server')
    return /redis_version:(\S+)/.exec(info)?.[1] ?? '?'
  } finally {
    redis.disconnect()
  }
}
