// The one place that reads the environment. It parses every variable once, reports every problem at
// once naming the variable, and hands out a frozen, typed config. A `.env` file in the working
// directory is read when present; real environment variables win over it.
import { existsSync, readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { resolve } from 'node:path'
import { parseEnv } from 'node:util'
import { topicFilterProblem } from '../domain/mqtt-topic.ts'
import { isSensorId } from '../domain/reading.ts'
import { AppError } from './errors.ts'

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent'

export interface Config {
  readonly logLevel: LogLevel
  readonly kafka: {
    /** undefined: use the in-process bus (only `all` allows that) */
    readonly brokers: readonly string[] | undefined
    readonly topic: string
    readonly dlqTopic: string
    readonly groupId: string
    readonly clientId: string
    /** partitions for the topics this project creates when they are missing */
    readonly partitions: number
    readonly replicationFactor: number
  }
  readonly database: {
    /** undefined: start the embedded PostgreSQL (only `all` allows that) */
    readonly url: string | undefined
    readonly poolMax: number
    readonly statementTimeoutMs: number
  }
  readonly redis: {
    /** undefined: use the in-process cache and live feed (only `all` allows that) */
    readonly url: string | undefined
    readonly keyPrefix: string
  }
  readonly producer: {
    readonly sensors: readonly string[]
    readonly intervalMs: number
    /** readings per second; when set it replaces the interval */
    readonly rate: number | undefined
    /** stop after this many readings; undefined: run until stopped */
    readonly count: number | undefined
  }
  readonly streaming: {
    readonly batchMaxRows: number
    readonly batchMaxWaitMs: number
    /** Prometheus metrics of the streaming service; 0 disables the endpoint */
    readonly metricsPort: number
  }
  readonly api: {
    readonly port: number
    /** undefined: the command's default (0.0.0.0 for `api`, loopback only for `all`) */
    readonly host: string | undefined
    readonly apiKeys: readonly string[]
    readonly readAuth: boolean
    /** allowed CORS origins; empty: CORS off; `*`: any */
    readonly corsOrigins: readonly string[]
    readonly requestTimeoutMs: number
    readonly bodyLimitBytes: number
    /** longest a client may take to send a whole request, headers and body (408 after) */
    readonly bodyTimeoutMs: number
    /** request bodies all requests in flight may hold at once (503 above) */
    readonly bodyBudgetBytes: number
    /** bytes of stats and series answers the API keeps to serve again while they hold (0: none) */
    readonly statsCacheBytes: number
    readonly stream: StreamConfig
  }
  readonly storage: {
    /** width of a sensor_data partition, seconds */
    readonly partitionIntervalSeconds: number
    /** partitions created ahead of now */
    readonly partitionPremake: number
    /** days kept per tier; undefined: forever */
    readonly retentionRawDays: number | undefined
    readonly retention1mDays: number | undefined
    readonly retention1hDays: number | undefined
    readonly retention1dDays: number | undefined
  }
  readonly mqtt: MqttConfig
  readonly alerts: {
    /** how often the streaming service reloads the rules (and its hints of the alerts' states) */
    readonly rulesReloadMs: number
    readonly noDataCheckMs: number
    readonly webhookTimeoutMs: number
    readonly webhookMaxAttempts: number
    /** delay after a webhook's first failure, doubled after each next one */
    readonly webhookBackoffMs: number
  }
  readonly dataDir: string
}

/** The MQTT bridge (`sensorstream mqtt`, and inside `all`). */
export interface MqttConfig {
  /** false: MQTT_URL=off, no bridge in `all` */
  readonly enabled: boolean
  /** undefined: `mqtt` uses mqtt://127.0.0.1:1883, `all` its embedded broker or the broker already there */
  readonly url: string | undefined
  readonly topics: readonly string[]
  /** shared-subscription group: bridges of one group share the messages */
  readonly group: string
  /** stable across restarts: the broker keeps the session (and its unacknowledged messages) under it */
  readonly clientId: string
  readonly connections: number
  readonly protocolVersion: 4 | 5
  readonly sessionExpirySeconds: number
  /** where `all` embeds a broker when MQTT_URL is unset */
  readonly embeddedPort: number
}

/** The live stream (GET /stream, GET /ws) and the dashboard. */
export interface StreamConfig {
  /** how far back a resuming client is replayed from Postgres */
  readonly resumeSeconds: number
  /** keep-alive comment (SSE) or ping (WebSocket) every this many ms */
  readonly heartbeatMs: number
  /** bytes queued for one client before it is disconnected */
  readonly clientBufferBytes: number
}

export type Env = Readonly<Record<string, string | undefined>>

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']

/** The variables every command understands, with a one-line description (README and `--help`). */
export const VARIABLES: Readonly<Record<string, string>> = {
  KAFKA_BROKERS: 'comma list of Kafka bootstrap brokers, e.g. 127.0.0.1:9092',
  KAFKA_TOPIC: 'topic of readings [sensor-data]',
  KAFKA_DLQ_TOPIC: 'dead-letter topic for invalid messages [sensor-data.dlq]',
  KAFKA_GROUP_ID: 'consumer group of the streaming service [streaming-service]',
  KAFKA_CLIENT_ID: 'Kafka client id [sensorstream]',
  KAFKA_PARTITIONS: 'partitions of topics this project creates [6]',
  KAFKA_REPLICATION_FACTOR: 'replication factor of topics this project creates [1]',
  DATABASE_URL: 'PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/sensorstream',
  DATABASE_POOL_MAX: 'PostgreSQL connections per pool; a process has two (one for statistics) [8]',
  DATABASE_STATEMENT_TIMEOUT_MS: 'server-side timeout of one statement [30000]',
  REDIS_URL: 'Redis URL, e.g. redis://127.0.0.1:6379',
  REDIS_KEY_PREFIX: 'prefix of every Redis key and channel [sensorstream:]',
  LOG_LEVEL: 'fatal, error, warn, info, debug, trace or silent [info]',
  PRODUCER_SENSORS: 'comma list of sensor ids, or a number N for sensor-1…sensor-N [sensor-123]',
  PRODUCER_INTERVAL_MS: 'one reading per sensor every this many ms [2000]',
  PRODUCER_RATE: 'readings per second over all sensors; replaces the interval when set',
  PRODUCER_COUNT: 'stop after this many readings [unbounded]',
  BATCH_MAX_ROWS: 'streaming flushes a batch at this many readings [20000]',
  BATCH_MAX_WAIT_MS: 'streaming flushes a batch at most this long after its first reading [100]',
  METRICS_PORT: 'port of the streaming service Prometheus endpoint, 0 = off [9464]',
  PORT: 'HTTP port of the API [3000]',
  HOST: 'address the API listens on [0.0.0.0; 127.0.0.1 for `all`]',
  API_KEYS: 'comma list of keys; when set, writes need Authorization: Bearer <key>',
  API_READ_AUTH: 'true: reads need a key too [false]',
  CORS_ORIGINS: 'comma list of allowed origins, or * [none]',
  API_REQUEST_TIMEOUT_MS: 'timeout of each Postgres or Redis call made by the API [2000]',
  API_BODY_LIMIT_BYTES: 'largest accepted request body [4194304]',
  API_BODY_TIMEOUT_MS: 'longest a client may take to send a whole request, headers and body; 408 after [30000]',
  API_BODY_BUDGET_BYTES: 'bytes of request bodies all requests in flight may hold at once; 503 above [16777216]',
  API_STATS_CACHE_MB: 'MiB of stats and series answers kept to serve again while no write has changed them; 0: off [256]',
  STREAM_RESUME_SECONDS: 'how far back GET /stream and /ws replay a resuming client from Postgres [300]',
  STREAM_HEARTBEAT_SECONDS: 'keep-alive comment or ping on idle live streams every this many seconds [15]',
  STREAM_CLIENT_BUFFER_BYTES: 'bytes queued for one live client before it is disconnected [1048576]',
  DATA_DIR: 'where embedded services keep their data [./data]',
  PARTITION_INTERVAL: 'time span of one sensor_data partition: Nh or Nd [1d]',
  PARTITION_PREMAKE: 'partitions created ahead of now [3]',
  RETENTION_RAW_DAYS: 'days of raw readings kept (whole partitions dropped) [forever]',
  RETENTION_1M_DAYS: 'days of 1-minute rollups kept [forever]',
  RETENTION_1H_DAYS: 'days of 1-hour rollups kept [forever]',
  RETENTION_1D_DAYS: 'days of 1-day rollups kept [forever]',
  MQTT_URL:
    'MQTT broker of the bridge, e.g. mqtt://127.0.0.1:1883 (mqtt:, mqtts:, ws:, wss:); off: no bridge in `all` [mqtt://127.0.0.1:1883; `all`: embedded]',
  MQTT_TOPICS: 'comma list of topic filters the bridge subscribes to; the first + names the sensor [sensors/+/data]',
  MQTT_GROUP: 'shared-subscription group ($share/<group>/…): bridges of one group share the messages [sensorstream]',
  MQTT_CLIENT_ID: "client id of the bridge's persistent session: stable across restarts, one per bridge instance [sensorstream-bridge-<host name>]",
  MQTT_CONNECTIONS: 'connections (session members) per bridge; each holds one message until Kafka has it [32]',
  MQTT_PROTOCOL: 'MQTT protocol version: 5 or 3.1.1 [5]',
  MQTT_SESSION_EXPIRY_SECONDS: "how long the broker keeps the bridge's session and queues its messages while it is away (MQTT 5) [86400]",
  MQTT_EMBEDDED_PORT: 'port on 127.0.0.1 of the broker `all` embeds when MQTT_URL is unset and the port is free [1883]',
  ALERTS_RULES_RELOAD_MS: 'how often the streaming service reloads the alert rules [1000]',
  ALERTS_NO_DATA_CHECK_MS: 'how often no_data alert rules are checked [1000]',
  WEBHOOK_TIMEOUT_MS: 'how long an alert webhook may take to answer [5000]',
  WEBHOOK_MAX_ATTEMPTS: 'attempts to deliver an alert webhook before giving up [10]',
  WEBHOOK_BACKOFF_MS: 'delay after a webhook failure, doubled after each next one [1000]'
}

/** Reads `.env` from `cwd` (when present) under the real environment, which wins. */
export function environment(processEnv: Env = process.env, cwd = process.cwd()): Env {
  const file = resolve(cwd, '.env')
  if (!existsSync(file)) return processEnv
  const fromFile = parseEnv(readFileSync(file, 'utf8'))
  return { ...fromFile, ...processEnv }
}

class Reader {
  readonly problems: string[] = []
  private readonly env: Env
  constructor(env: Env) {
    this.env = env
  }

  raw(name: string): string | undefined {
    const value = this.env[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }

  string(name: string, fallback: string): string {
    return this.raw(name) ?? fallback
  }

  list(name: string): string[] | undefined {
    const value = this.raw(name)
    if (value === undefined) return undefined
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '')
    if (items.length === 0) this.problems.push(`${name}: must list at least one item`)
    return items
  }

  int(name: string, fallback: number, min: number, max?: number): number
  int(name: string, fallback: undefined, min: number, max?: number): number | undefined
  int(name: string, fallback: number | undefined, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const value = this.raw(name)
    if (value === undefined) return fallback
    const n = Number(value)
    if (!Number.isInteger(n) || n < min || n > max) {
      this.problems.push(`${name}: must be an integer from ${min} to ${max}, got "${value}"`)
      return fallback
    }
    return n
  }

  number(name: string, min: number, max: number): number | undefined {
    const value = this.raw(name)
    if (value === undefined) return undefined
    const n = Number(value)
    if (!Number.isFinite(n) || n < min || n > max) {
      this.problems.push(`${name}: must be a number from ${min} to ${max}, got "${value}"`)
      return undefined
    }
    return n
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name)?.toLowerCase()
    if (value === undefined) return fallback
    if (['true', '1', 'yes'].includes(value)) return true
    if (['false', '0', 'no'].includes(value)) return false
    this.problems.push(`${name}: must be true or false, got "${value}"`)
    return fallback
  }

  /** A URL of one of `protocols` whose host (when `hostRequired`) and port are usable. */
  url(name: string, protocols: readonly string[], example: string, hostRequired: boolean): string | undefined {
    const value = this.raw(name)
    if (value === undefined) return undefined
    const problem = urlProblem(value, protocols, hostRequired)
    if (problem !== undefined) this.problems.push(`${name}: ${problem}, e.g. ${example}`)
    return value
  }

  /** `*`, or origins as a browser sends them in `Origin` (scheme, host, port if not the default). */
  origins(name: string): string[] {
    const items = this.list(name) ?? []
    for (const item of items) {
      if (item === '*') continue
      const problem = urlProblem(item, ['http:', 'https:'], true)
      const origin = problem === undefined ? new URL(item).origin : undefined
      if (origin !== item) {
        this.problems.push(`${name}: "${item}" is not an origin${origin === undefined ? '' : `; a browser sends ${origin}`}, e.g. https://app.example.com or *`)
      }
    }
    return items
  }

  hostname(name: string, fallback: string): string {
    const value = this.string(name, fallback)
    if (!isHost(value)) this.problems.push(`${name}: must be an IP address or host name (no port), got "${value}"`)
    return value
  }
}

// The scheme, host and port of a URL, read before `new URL`, which rejects a bad port as "Invalid URL".
const URL_PARTS = /^([a-z][a-z0-9+.-]*:)\/\/(?:[^/?#]*@)?(\[[^\]]*\]|[^:/?#]*)(?::([^/?#]*))?/i

function urlProblem(value: string, protocols: readonly string[], hostRequired: boolean): string | undefined {
  const parts = URL_PARTS.exec(value)
  if (parts === null) return `is not a URL: "${value}"`
  const [, protocol = '', host = '', port] = parts
  if (!protocols.includes(protocol.toLowerCase())) return `must start with ${protocols.map((p) => `${p}//`).join(' or ')}, got "${protocol}//"`
  if (host === '' && hostRequired) return `has no host: "${value}"`
  if (port !== undefined && port !== '') {
    const problem = portProblem(port)
    if (problem !== undefined) return `${problem} in "${value}"`
  }
  try {
    new URL(value)
  } catch {
    return `is not a URL: "${value}"`
  }
  return undefined
}

/** Why `text` is not a port one can connect to (1–65535), or undefined. */
function portProblem(text: string): string | undefined {
  const port = /^\d{1,5}$/.test(text) ? Number(text) : Number.NaN
  return port >= 1 && port <= 65_535 ? undefined : `port must be from 1 to 65535, got "${text}"`
}

const HOST_NAME = /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/i

function isHost(text: string): boolean {
  return isIP(text) !== 0 || HOST_NAME.test(text)
}

function parseSensors(read: Reader): string[] {
  const value = read.raw('PRODUCER_SENSORS') ?? 'sensor-123'
  if (/^\d+$/.test(value)) {
    const n = Number(value)
    if (n < 1 || n > 1_000_000) read.problems.push(`PRODUCER_SENSORS: a count must be from 1 to 1000000, got ${value}`)
    return Array.from({ length: Math.min(Math.max(n, 1), 1_000_000) }, (_, i) => `sensor-${i + 1}`)
  }
  const ids = read.list('PRODUCER_SENSORS') ?? [value]
  for (const id of ids) {
    if (!isSensorId(id)) read.problems.push(`PRODUCER_SENSORS: "${id}" is not a valid sensor id`)
  }
  return ids
}

const INTERVAL_UNITS: Record<string, number> = { h: 3600, d: 86_400 }

function parsePartitionInterval(read: Reader): number {
  const value = read.raw('PARTITION_INTERVAL') ?? '1d'
  const match = /^([1-9]\d{0,3})([hd])$/.exec(value)
  const seconds = match === null ? 0 : Number(match[1]) * (INTERVAL_UNITS[match[2] as string] as number)
  if (seconds === 0 || seconds > 366 * 86_400) {
    read.problems.push(`PARTITION_INTERVAL: must be Nh or Nd (1h to 366d), e.g. 1d or 6h, got "${value}"`)
    return 86_400
  }
  return seconds
}

function parseBrokers(read: Reader): string[] | undefined {
  const brokers = read.list('KAFKA_BROKERS')
  for (const broker of brokers ?? []) {
    const parts = /^(\[([^\]]+)\]|[^:[\]]+):([^:]*)$/.exec(broker)
    const host = parts?.[2] ?? parts?.[1] ?? ''
    const port = parts?.[3] ?? ''
    if (parts === null || !isHost(host)) read.problems.push(`KAFKA_BROKERS: "${broker}" must be host:port, e.g. 127.0.0.1:9092`)
    else if (portProblem(port) !== undefined) read.problems.push(`KAFKA_BROKERS: "${broker}": ${portProblem(port)}`)
  }
  return brokers
}

const MQTT_PROTOCOLS: Readonly<Record<string, 4 | 5>> = { '5': 5, '3.1.1': 4 }

function parseMqtt(read: Reader): MqttConfig {
  const raw = read.raw('MQTT_URL')
  const enabled = raw?.toLowerCase() !== 'off'
  const url = enabled ? read.url('MQTT_URL', ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'], 'mqtt://127.0.0.1:1883', true) : undefined
  const topics = read.list('MQTT_TOPICS') ?? ['sensors/+/data']
  for (const topic of topics) {
    const problem = topicFilterProblem(topic)
    if (problem !== undefined) read.problems.push(`MQTT_TOPICS: "${topic}" ${problem}, e.g. sensors/+/data`)
  }
  const group = read.string('MQTT_GROUP', 'sensorstream')
  if (/[/+#\s]/.test(group)) read.problems.push(`MQTT_GROUP: must not contain / + # or spaces, got "${group}"`)
  const clientId = read.string('MQTT_CLIENT_ID', `sensorstream-bridge-${hostname().replace(/[^A-Za-z0-9.-]/g, '-')}`)
  if (!/^[\x21-\x7e]{1,200}$/.test(clientId)) read.problems.push(`MQTT_CLIENT_ID: must be 1–200 printable ASCII characters without spaces, got "${clientId}"`)
  const protocol = read.string('MQTT_PROTOCOL', '5')
  const protocolVersion = MQTT_PROTOCOLS[protocol]
  if (protocolVersion === undefined) read.problems.push(`MQTT_PROTOCOL: must be 5 or 3.1.1, got "${protocol}"`)
  return {
    enabled,
    url,
    topics,
    group,
    clientId,
    connections: read.int('MQTT_CONNECTIONS', 32, 1, 1000),
    protocolVersion: protocolVersion ?? 5,
    sessionExpirySeconds: read.int('MQTT_SESSION_EXPIRY_SECONDS', 86_400, 0, 4_294_967_295),
    embeddedPort: read.int('MQTT_EMBEDDED_PORT', 1883, 1, 65_535)
  }
}

function parseStream(read: Reader): StreamConfig {
  return {
    resumeSeconds: read.int('STREAM_RESUME_SECONDS', 300, 0, 86_400),
    heartbeatMs: read.int('STREAM_HEARTBEAT_SECONDS', 15, 1, 3600) * 1000,
    clientBufferBytes: read.int('STREAM_CLIENT_BUFFER_BYTES', 1024 * 1024, 16 * 1024, 1024 * 1024 * 1024)
  }
}

/** Parses the environment; throws one CONFIG_INVALID error that lists every problem. */
export function loadConfig(env: Env = environment()): Config {
  const read = new Reader(env)
  const logLevel = read.string('LOG_LEVEL', 'info') as LogLevel
  if (!LOG_LEVELS.includes(logLevel)) read.problems.push(`LOG_LEVEL: must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`)

  const config: Config = {
    logLevel,
    kafka: {
      brokers: parseBrokers(read),
      topic: read.string('KAFKA_TOPIC', 'sensor-data'),
      dlqTopic: read.string('KAFKA_DLQ_TOPIC', 'sensor-data.dlq'),
      groupId: read.string('KAFKA_GROUP_ID', 'streaming-service'),
      clientId: read.string('KAFKA_CLIENT_ID', 'sensorstream'),
      partitions: read.int('KAFKA_PARTITIONS', 6, 1, 10_000),
      replicationFactor: read.int('KAFKA_REPLICATION_FACTOR', 1, 1, 100)
    },
    database: {
      url: read.url('DATABASE_URL', ['postgres:', 'postgresql:'], 'postgres://postgres@127.0.0.1:5432/sensorstream', false),
      poolMax: read.int('DATABASE_POOL_MAX', 8, 1, 1000),
      statementTimeoutMs: read.int('DATABASE_STATEMENT_TIMEOUT_MS', 30_000, 100)
    },
    redis: {
      url: read.url('REDIS_URL', ['redis:', 'rediss:'], 'redis://127.0.0.1:6379', true),
      keyPrefix: read.string('REDIS_KEY_PREFIX', 'sensorstream:')
    },
    producer: {
      sensors: parseSensors(read),
      intervalMs: read.int('PRODUCER_INTERVAL_MS', 2000, 1),
      rate: read.number('PRODUCER_RATE', 0.001, 10_000_000),
      count: read.int('PRODUCER_COUNT', undefined, 1)
    },
    streaming: {
      batchMaxRows: read.int('BATCH_MAX_ROWS', 20_000, 1, 1_000_000),
      batchMaxWaitMs: read.int('BATCH_MAX_WAIT_MS', 100, 0, 600_000),
      metricsPort: read.int('METRICS_PORT', 9464, 0, 65_535)
    },
    api: {
      port: read.int('PORT', 3000, 0, 65_535),
      // unset: each service's own default (api 0.0.0.0, all 127.0.0.1)
      host: read.raw('HOST') === undefined ? undefined : read.hostname('HOST', '0.0.0.0'),
      apiKeys: read.list('API_KEYS') ?? [],
      readAuth: read.bool('API_READ_AUTH', false),
      corsOrigins: read.origins('CORS_ORIGINS'),
      requestTimeoutMs: read.int('API_REQUEST_TIMEOUT_MS', 2000, 1),
      bodyLimitBytes: read.int('API_BODY_LIMIT_BYTES', 4 * 1024 * 1024, 1024),
      bodyTimeoutMs: read.int('API_BODY_TIMEOUT_MS', 30_000, 100),
      bodyBudgetBytes: read.int('API_BODY_BUDGET_BYTES', 16 * 1024 * 1024, 1024),
      statsCacheBytes: read.int('API_STATS_CACHE_MB', 256, 0, 1_048_576) * 1024 * 1024,
      stream: parseStream(read)
    },
    storage: {
      partitionIntervalSeconds: parsePartitionInterval(read),
      partitionPremake: read.int('PARTITION_PREMAKE', 3, 0, 1000),
      retentionRawDays: read.int('RETENTION_RAW_DAYS', undefined, 1),
      retention1mDays: read.int('RETENTION_1M_DAYS', undefined, 1),
      retention1hDays: read.int('RETENTION_1H_DAYS', undefined, 1),
      retention1dDays: read.int('RETENTION_1D_DAYS', undefined, 1)
    },
    mqtt: parseMqtt(read),
    alerts: {
      rulesReloadMs: read.int('ALERTS_RULES_RELOAD_MS', 1000, 10, 3_600_000),
      noDataCheckMs: read.int('ALERTS_NO_DATA_CHECK_MS', 1000, 10, 3_600_000),
      webhookTimeoutMs: read.int('WEBHOOK_TIMEOUT_MS', 5000, 10, 600_000),
      webhookMaxAttempts: read.int('WEBHOOK_MAX_ATTEMPTS', 10, 1, 1000),
      webhookBackoffMs: read.int('WEBHOOK_BACKOFF_MS', 1000, 1, 3_600_000)
    },
    dataDir: resolve(read.string('DATA_DIR', './data'))
  }

  if (config.api.bodyBudgetBytes < config.api.bodyLimitBytes) {
    read.problems.push(
      `API_BODY_BUDGET_BYTES: must be at least API_BODY_LIMIT_BYTES (${config.api.bodyLimitBytes}), or no body of the largest size is ever accepted`
    )
  }
  if (read.problems.length > 0) {
    throw new AppError('CONFIG_INVALID', `invalid configuration:\n  ${read.problems.join('\n  ')}`, { details: read.problems })
  }
  return deepFreeze(config)
}

export type Service = 'kafka' | 'database' | 'redis'
/** The variable that points a command at each real service. */
export const SERVICE_VARIABLE: Readonly<Record<Service, string>> = { kafka: 'KAFKA_BROKERS', database: 'DATABASE_URL', redis: 'REDIS_URL' }

/** Throws when a command that needs real services runs without their variables. */
export function requireServices(config: Config, command: string, services: readonly Service[]): void {
  const present: Record<Service, unknown> = { kafka: config.kafka.brokers, database: config.database.url, redis: config.redis.url }
  const missing = services.filter((s) => present[s] === undefined).map((s) => SERVICE_VARIABLE[s])
  if (missing.length > 0) {
    throw new AppError(
      'CONFIG_INVALID',
      `invalid configuration:\n  ${missing.map((v) => `${v}: required by \`sensorstream ${command}\``).join('\n  ')}\n` +
        '  (`npm run services:up` starts local Kafka, Postgres and Redis and prints these lines)',
      { details: missing }
    )
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner)
    Object.freeze(value)
  }
  return value
}
