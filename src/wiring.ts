// The wiring: the one module that builds adapters, from the configuration, for every service. A
// service's main.ts asks it for ports (a store, a bus, a cache, a message source) and gets ports:
// no driver object (pg pool, ioredis client, Kafka client) comes out of here. Each choice between
// a real service and its in-process twin is made here too: a variable that is set (KAFKA_BROKERS,
// DATABASE_URL, REDIS_URL) selects the real one.
import { KafkaBusAdmin, KafkaBusConsumer, KafkaBusPublisher, KafkaBusReader } from './adapters/bus/kafka.ts'
import { MemoryBus } from './adapters/bus/memory.ts'
import { MemoryLatestValues } from './adapters/cache/memory.ts'
import { MemoryAlertFeed } from './adapters/feed/memory-alert-feed.ts'
import { MemoryLiveFeed } from './adapters/feed/memory-live-feed.ts'
import { MemoryStatusBoard } from './adapters/cache/memory-status.ts'
import { RedisLatestValues } from './adapters/cache/redis.ts'
import { RedisAlertFeed } from './adapters/feed/redis-alert-feed.ts'
import { RedisLiveFeed } from './adapters/feed/redis-live-feed.ts'
import { RedisStatusBoard } from './adapters/cache/redis-status.ts'
import { startEmbeddedBroker, type EmbeddedBroker } from './adapters/mqtt/embedded-broker.ts'
import { mqttBrokerAnswers, MqttMessageSource } from './adapters/mqtt/mqtt-source.ts'
import type { PartitionOptions } from './adapters/store/partitions.ts'
import { PostgresDatabase } from './adapters/store/postgres-database.ts'
import { PostgresDeadLetterLedger } from './adapters/store/postgres-dlq-ledger.ts'
import { findPostgresBinaries, startEmbeddedPostgres, type EmbeddedPostgres } from './adapters/embedded/embedded-postgres.ts'
import { isPortFree, LOOPBACK } from './adapters/embedded/free-port.ts'
import type { Config, MqttConfig } from './platform/config.ts'
import { AppError } from './platform/errors.ts'
import type { Logger } from './platform/logger.ts'
import type { AlertFeed, AlertStore, DeliveryOutbox, RuleStore } from './ports/alerts.ts'
import type { BusAdmin, BusConsumer, BusPublisher } from './ports/bus.ts'
import type { BusReader } from './ports/bus-reader.ts'
import type { DeadLetterLedger } from './ports/dlq-ledger.ts'
import type { LatestValues } from './ports/latest.ts'
import type { Lifecycle } from './ports/lifecycle.ts'
import type { LiveFeed } from './ports/live-feed.ts'
import type { Migrations } from './ports/migrations.ts'
import type { MessageSource } from './ports/message-source.ts'
import type { PipelineStatusBoard } from './ports/pipeline-status.ts'
import type { ReadingQueries } from './ports/queries.ts'
import type { ReadingStore, RetentionPolicy, StorageMaintenance } from './ports/store.ts'

// ---- Postgres ----

/** The partition settings of the configuration (PARTITION_INTERVAL, PARTITION_PREMAKE). */
export function partitionOptions(storage: Config['storage']): PartitionOptions {
  return { intervalSeconds: storage.partitionIntervalSeconds, premake: storage.partitionPremake }
}

/** The retention of the configuration (RETENTION_*_DAYS). */
export function retentionPolicy(storage: Config['storage']): RetentionPolicy {
  return { rawDays: storage.retentionRawDays, minuteDays: storage.retention1mDays, hourDays: storage.retention1hDays, dayDays: storage.retention1dDays }
}

/** One database's ports, on one pool of connections: connect() waits for it, close() ends the pool. */
export interface PostgresPorts extends Lifecycle {
  /** the schema, brought up to date before the others are used */
  readonly migrations: Migrations
  /** writes (streaming, replay, POST /data) */
  readonly store: ReadingStore
  /** the API's reads */
  readonly queries: ReadingQueries
  readonly rules: RuleStore
  readonly alerts: AlertStore & DeliveryOutbox
  readonly maintenance: StorageMaintenance
}

/**
 * How the pool is sized and timed. `service`: DATABASE_POOL_MAX connections, DATABASE_STATEMENT_TIMEOUT_MS
 * (streaming, replay, migrations and maintenance). `api`: no statement and no wait for a connection lasts
 * longer than a request may (API_REQUEST_TIMEOUT_MS). `command`: a one-off command (migrate, retention),
 * one connection, no statement timeout.
 */
export type PoolRole = 'service' | 'api' | 'command'

export interface OpenPostgresOptions {
  readonly logger: Logger
  /** [service] */
  readonly role?: PoolRole
  /** [DATABASE_URL] (`all` gives its embedded server's) */
  readonly url?: string
}

export function openPostgres(config: Config, options: OpenPostgresOptions): PostgresPorts {
  const url = options.url ?? config.database.url
  if (url === undefined) throw new AppError('CONFIG_INVALID', 'invalid configuration:\n  DATABASE_URL: required')
  const { poolMax, statementTimeoutMs } = config.database
  const timeoutMs = config.api.requestTimeoutMs
  const pool =
    options.role === 'api'
      ? { poolMax, statementTimeoutMs: Math.min(statementTimeoutMs, Math.max(timeoutMs, 100)), connectTimeoutMs: timeoutMs }
      : options.role === 'command'
        ? { poolMax: 1, statementTimeoutMs: 0 }
        : { poolMax, statementTimeoutMs }
  const db = new PostgresDatabase({ url, ...pool, logger: options.logger, partitions: partitionOptions(config.storage) })
  return {
    migrations: { migrate: () => db.migrate() },
    store: db.store,
    queries: db.queries,
    rules: db.rules,
    alerts: db.alerts,
    maintenance: db.maintenance(retentionPolicy(config.storage), options.logger.child({ component: 'maintenance' })),
    connect: () => db.connect(),
    close: () => db.close()
  }
}

export type { EmbeddedPostgres }

/**
 * The PostgreSQL of `sensorstream all` without DATABASE_URL: a server of its own with its data in
 * DATA_DIR/postgres (adapters/embedded/). Throws, saying how to get some, when there are no binaries.
 */
export async function startEmbeddedDatabase(config: Config, logger: Logger): Promise<EmbeddedPostgres> {
  const binaries = findPostgresBinaries()
  return startEmbeddedPostgres({ dataDir: config.dataDir, logger, binaries })
}

/** The record of re-sent dead letters; undefined without DATABASE_URL. */
export function openDeadLetterLedger(config: Config, logger: Logger): DeadLetterLedger | undefined {
  const url = config.database.url
  return url === undefined ? undefined : new PostgresDeadLetterLedger({ url, statementTimeoutMs: config.database.statementTimeoutMs, logger })
}

// ---- the bus ----

/** Kafka (KAFKA_BROKERS) or the in-process bus. `role` names the Kafka client (`<KAFKA_CLIENT_ID>-<role>`). */
export interface Bus {
  admin(role: string): BusAdmin
  publisher(role: string): BusPublisher
  consumer(role: string): BusConsumer
  /** Kafka only (replay, dlq) */
  reader(role: string): BusReader
  /** `kafka` or `in-process`, for GET /status */
  readonly name: string
  /** for people: brokers, topic and group, or the in-process bus */
  readonly describe: string
}

export function openBus(config: Config, logger: Logger): Bus {
  const brokers = config.kafka.brokers
  if (brokers === undefined) {
    const memory = new MemoryBus()
    return {
      admin: () => memory.admin(),
      publisher: () => memory.publisher(),
      consumer: () => memory.consumer(),
      reader: () => {
        throw new AppError('CONFIG_INVALID', 'invalid configuration:\n  KAFKA_BROKERS: required to read the topic back')
      },
      name: 'in-process',
      describe: 'in-process bus (set KAFKA_BROKERS to use Kafka)'
    }
  }
  const kafka = (role: string) => ({ brokers, clientId: `${config.kafka.clientId}-${role}`, logger })
  return {
    admin: (role) => new KafkaBusAdmin(kafka(role)),
    publisher: (role) => new KafkaBusPublisher(kafka(role)),
    consumer: (role) => new KafkaBusConsumer(kafka(role)),
    reader: (role) => new KafkaBusReader(kafka(role)),
    name: 'kafka',
    describe: `${brokers.join(',')} (topic ${config.kafka.topic}, group ${config.kafka.groupId})`
  }
}

// ---- Redis: latest values, status board, live feed, alert feed ----

/** True when REDIS_URL is unset: the in-process twins, empty at every start. */
export function cacheIsEmbedded(config: Config): boolean {
  return config.redis.url === undefined
}

/** For people: the Redis URL without its password, or the in-process cache. */
export function describeCache(config: Config): string {
  return config.redis.url === undefined ? 'in-process cache (set REDIS_URL to use Redis)' : redact(config.redis.url)
}

function redis(config: Config, logger: Logger, component: string): { url: string; keyPrefix: string; logger: Logger } | undefined {
  const url = config.redis.url
  return url === undefined ? undefined : { url, keyPrefix: config.redis.keyPrefix, logger: logger.child({ component }) }
}

/** `commandTimeoutMs`: a Redis command that takes longer fails (retryable) [5000]. */
export function openLatestValues(config: Config, logger: Logger, options: { commandTimeoutMs?: number } = {}): LatestValues {
  const r = redis(config, logger, 'redis')
  if (r === undefined) return new MemoryLatestValues()
  return new RedisLatestValues({ ...r, ...(options.commandTimeoutMs === undefined ? {} : { commandTimeoutMs: options.commandTimeoutMs }) })
}

export function openStatusBoard(config: Config, logger: Logger): PipelineStatusBoard {
  const r = redis(config, logger, 'status')
  return r === undefined ? new MemoryStatusBoard() : new RedisStatusBoard(r)
}

export function openLiveFeed(config: Config, logger: Logger): LiveFeed {
  const r = redis(config, logger, 'live')
  return r === undefined ? new MemoryLiveFeed() : new RedisLiveFeed(r)
}

export function openAlertFeed(config: Config, logger: Logger): AlertFeed {
  const r = redis(config, logger, 'alert-feed')
  return r === undefined ? new MemoryAlertFeed() : new RedisAlertFeed(r)
}

/** A URL without its password, for printing. */
export function redact(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.password !== '') parsed.password = '***'
    return parsed.toString()
  } catch {
    return url
  }
}

// ---- MQTT ----

export const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'

/** The MQTT source for `url`; `shared: false` for a broker without shared subscriptions (Aedes). */
function mqttSource(mqtt: MqttConfig, url: string, logger: Logger, how: { shared: boolean; connections?: number; protocolVersion?: 4 | 5 }): MessageSource {
  return new MqttMessageSource({
    url,
    filters: mqtt.topics,
    group: how.shared ? mqtt.group : undefined,
    clientId: mqtt.clientId,
    connections: how.connections ?? mqtt.connections,
    protocolVersion: how.protocolVersion ?? mqtt.protocolVersion,
    sessionExpirySeconds: mqtt.sessionExpirySeconds,
    logger
  })
}

/** The source of `sensorstream mqtt`: MQTT_URL [mqtt://127.0.0.1:1883], a shared subscription. */
export function openMqttSource(config: Config, logger: Logger): MessageSource {
  return mqttSource(config.mqtt, config.mqtt.url ?? DEFAULT_MQTT_URL, logger, { shared: true })
}

// The MQTT side of `sensorstream all`, so that `mosquitto_pub -t sensors/s1/data -m '{"value":1}'`
// works out of the box. MQTT_URL set: bridge from there. Unset: from 127.0.0.1:MQTT_EMBEDDED_PORT,
// where an embedded Aedes broker is started when the port is free; when a broker already listens
// there (a system Mosquitto), the bridge takes its messages instead, as a user publishing to the
// usual port expects; anything else there: no bridge, said so.
export interface AllMqtt {
  readonly source: MessageSource | undefined
  readonly describe: string
  /** closes the source and the embedded broker */
  close(): Promise<void>
}

export async function openAllMqtt(config: Config, logger: Logger): Promise<AllMqtt> {
  const log = logger.child({ service: 'mqtt' })
  const none = (describe: string): AllMqtt => ({ source: undefined, describe, close: async () => undefined })
  if (!config.mqtt.enabled) return none('off (MQTT_URL=off)')
  if (config.mqtt.url !== undefined) {
    const source = mqttSource(config.mqtt, config.mqtt.url, log, { shared: true })
    return { source, describe: source.describe, close: () => source.close() }
  }
  const port = config.mqtt.embeddedPort
  const local = `mqtt://${LOOPBACK}:${port}`
  if (await isPortFree(port, LOOPBACK)) {
    let broker: EmbeddedBroker
    try {
      broker = await startEmbeddedBroker({ host: LOOPBACK, port, logger: log })
    } catch (err) {
      log.warn({ err }, 'embedded MQTT broker did not start')
      return none(`off: ${LOOPBACK}:${port} could not be listened on (set MQTT_URL or MQTT_EMBEDDED_PORT)`)
    }
    // Aedes has neither MQTT 5 nor shared subscriptions: one plain 3.1.1 session, the only bridge.
    const source = mqttSource(config.mqtt, broker.url, log, { shared: false, connections: 1, protocolVersion: 4 })
    return {
      source,
      describe: `${source.describe}   (embedded Aedes broker, in memory)`,
      close: async () => {
        await source.close()
        await broker.close()
      }
    }
  }
  if (await mqttBrokerAnswers(local)) {
    const source = mqttSource(config.mqtt, local, log, { shared: true })
    return {
      source,
      describe: `${source.describe}   (the MQTT broker already on ${LOOPBACK}:${port}; set MQTT_URL to choose another)`,
      close: () => source.close()
    }
  }
  return none(`off: ${LOOPBACK}:${port} is taken by something that is not an MQTT broker (set MQTT_URL or MQTT_EMBEDDED_PORT)`)
}
