// The one config module: defaults, every variable, every problem at once, `.env`, frozen result.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, describe, test } from 'node:test'
import { VARIABLES, environment, loadConfig, requireServices, type Env } from './config.ts'
import { AppError } from './errors.ts'

/** Asserts loadConfig rejects `env` with one CONFIG_INVALID error naming exactly `variables`. */
function problems(env: Env, variables: string[]): string[] {
  let caught: unknown
  try {
    loadConfig(env)
  } catch (err) {
    caught = err
  }
  assert.ok(caught instanceof AppError, 'expected an AppError')
  assert.equal(caught.code, 'CONFIG_INVALID')
  assert.equal(caught.retryable, false)
  const details = caught.details as string[]
  assert.ok(Array.isArray(details))
  assert.deepEqual(details.map((d) => d.split(':')[0]).sort(), [...variables].sort())
  for (const variable of variables) assert.match(caught.message, new RegExp(`\\b${variable}\\b`), `message does not name ${variable}`)
  return details
}

describe('loadConfig', () => {
  test('partitions and retention: defaults, values, and what is refused', () => {
    assert.deepEqual(loadConfig({}).storage, {
      partitionIntervalSeconds: 86_400,
      partitionPremake: 3,
      retentionRawDays: undefined,
      retention1mDays: undefined,
      retention1hDays: undefined,
      retention1dDays: undefined
    })
    const c = loadConfig({
      PARTITION_INTERVAL: '6h',
      PARTITION_PREMAKE: '0',
      RETENTION_RAW_DAYS: '30',
      RETENTION_1M_DAYS: '365',
      RETENTION_1H_DAYS: '3650',
      RETENTION_1D_DAYS: '36500'
    })
    assert.deepEqual(c.storage, {
      partitionIntervalSeconds: 21_600,
      partitionPremake: 0,
      retentionRawDays: 30,
      retention1mDays: 365,
      retention1hDays: 3650,
      retention1dDays: 36500
    })
    assert.equal(loadConfig({ PARTITION_INTERVAL: '7d' }).storage.partitionIntervalSeconds, 7 * 86_400)
    problems({ PARTITION_INTERVAL: '1m', RETENTION_RAW_DAYS: '0', RETENTION_1H_DAYS: 'x' }, ['PARTITION_INTERVAL', 'RETENTION_RAW_DAYS', 'RETENTION_1H_DAYS'])
    problems({ PARTITION_INTERVAL: '400d' }, ['PARTITION_INTERVAL'])
  })

  test('defaults', () => {
    const c = loadConfig({})
    assert.equal(c.logLevel, 'info')
    assert.equal(c.kafka.brokers, undefined)
    assert.equal(c.kafka.topic, 'sensor-data')
    assert.equal(c.kafka.dlqTopic, 'sensor-data.dlq')
    assert.equal(c.kafka.groupId, 'streaming-service')
    assert.equal(c.kafka.clientId, 'sensorstream')
    assert.equal(c.kafka.partitions, 6)
    assert.equal(c.kafka.replicationFactor, 1)
    assert.equal(c.database.url, undefined)
    assert.equal(c.database.poolMax, 8)
    assert.equal(c.database.statementTimeoutMs, 30_000)
    assert.equal(c.redis.url, undefined)
    assert.equal(c.redis.keyPrefix, 'sensorstream:')
    assert.deepEqual(c.producer.sensors, ['sensor-123'])
    assert.equal(c.producer.intervalMs, 2000)
    assert.equal(c.producer.rate, undefined)
    assert.equal(c.producer.count, undefined)
    assert.equal(c.streaming.batchMaxRows, 20_000)
    assert.equal(c.streaming.batchMaxWaitMs, 100)
    assert.equal(c.streaming.metricsPort, 9464)
    assert.equal(c.api.port, 3000)
    assert.equal(c.api.host, undefined, 'each command has its own default')
    assert.deepEqual(c.api.apiKeys, [])
    assert.equal(c.api.readAuth, false)
    assert.deepEqual(c.api.corsOrigins, [])
    assert.equal(c.api.requestTimeoutMs, 2000)
    assert.equal(c.api.bodyLimitBytes, 4 * 1024 * 1024)
    assert.equal(c.dataDir, resolve('./data'))
  })

  test('empty and blank variables count as unset', () => {
    const c = loadConfig({ KAFKA_TOPIC: '', LOG_LEVEL: '   ', BATCH_MAX_ROWS: '', DATABASE_URL: ' ' })
    assert.equal(c.kafka.topic, 'sensor-data')
    assert.equal(c.logLevel, 'info')
    assert.equal(c.streaming.batchMaxRows, 20_000)
    assert.equal(c.database.url, undefined)
  })

  test('every variable is parsed', () => {
    const c = loadConfig({
      KAFKA_BROKERS: '127.0.0.1:9092, kafka-2.internal:19092',
      KAFKA_TOPIC: 'readings',
      KAFKA_DLQ_TOPIC: 'readings.dead',
      KAFKA_GROUP_ID: 'group-7',
      KAFKA_CLIENT_ID: 'client-7',
      KAFKA_PARTITIONS: '12',
      KAFKA_REPLICATION_FACTOR: '3',
      DATABASE_URL: 'postgres://u:p@127.0.0.1:5433/db',
      DATABASE_POOL_MAX: '20',
      DATABASE_STATEMENT_TIMEOUT_MS: '1500',
      REDIS_URL: 'redis://127.0.0.1:6380/2',
      REDIS_KEY_PREFIX: 'ss:test:',
      LOG_LEVEL: 'debug',
      PRODUCER_SENSORS: 'a,b,c',
      PRODUCER_INTERVAL_MS: '250',
      PRODUCER_RATE: '1500.5',
      PRODUCER_COUNT: '10000',
      BATCH_MAX_ROWS: '777',
      BATCH_MAX_WAIT_MS: '0',
      METRICS_PORT: '0',
      PORT: '8080',
      HOST: '127.0.0.1',
      API_KEYS: 'k1, k2',
      API_READ_AUTH: 'true',
      CORS_ORIGINS: 'https://a.example, https://b.example',
      API_REQUEST_TIMEOUT_MS: '900',
      API_BODY_LIMIT_BYTES: '2048',
      DATA_DIR: '/var/lib/sensorstream'
    })
    assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092', 'kafka-2.internal:19092'])
    assert.equal(c.kafka.topic, 'readings')
    assert.equal(c.kafka.dlqTopic, 'readings.dead')
    assert.equal(c.kafka.groupId, 'group-7')
    assert.equal(c.kafka.clientId, 'client-7')
    assert.equal(c.kafka.partitions, 12)
    assert.equal(c.kafka.replicationFactor, 3)
    assert.equal(c.database.url, 'postgres://u:p@127.0.0.1:5433/db')
    assert.equal(c.database.poolMax, 20)
    assert.equal(c.database.statementTimeoutMs, 1500)
    assert.equal(c.redis.url, 'redis://127.0.0.1:6380/2')
    assert.equal(c.redis.keyPrefix, 'ss:test:')
    assert.equal(c.logLevel, 'debug')
    assert.deepEqual(c.producer.sensors, ['a', 'b', 'c'])
    assert.equal(c.producer.intervalMs, 250)
    assert.equal(c.producer.rate, 1500.5)
    assert.equal(c.producer.count, 10_000)
    assert.equal(c.streaming.batchMaxRows, 777)
    assert.equal(c.streaming.batchMaxWaitMs, 0)
    assert.equal(c.streaming.metricsPort, 0)
    assert.equal(c.api.port, 8080)
    assert.equal(c.api.host, '127.0.0.1')
    assert.deepEqual(c.api.apiKeys, ['k1', 'k2'])
    assert.equal(c.api.readAuth, true)
    assert.deepEqual(c.api.corsOrigins, ['https://a.example', 'https://b.example'])
    assert.equal(c.api.requestTimeoutMs, 900)
    assert.equal(c.api.bodyLimitBytes, 2048)
    assert.equal(c.dataDir, '/var/lib/sensorstream')
  })

  test('API body timeout and budget: defaults, and a budget smaller than the body limit is refused', () => {
    const c = loadConfig({})
    assert.equal(c.api.bodyTimeoutMs, 30_000)
    assert.equal(c.api.bodyBudgetBytes, 16 * 1024 * 1024)
    assert.equal(loadConfig({ API_BODY_TIMEOUT_MS: '5000', API_BODY_BUDGET_BYTES: '8388608' }).api.bodyBudgetBytes, 8_388_608)
    problems({ API_BODY_LIMIT_BYTES: '2048', API_BODY_BUDGET_BYTES: '1024' }, ['API_BODY_BUDGET_BYTES'])
  })

  test('every documented variable is one loadConfig reads', () => {
    // each VARIABLES entry, set to a bad value, must be reported (or accepted for free-form strings)
    const freeForm = new Set([
      'KAFKA_TOPIC',
      'KAFKA_DLQ_TOPIC',
      'KAFKA_GROUP_ID',
      'KAFKA_CLIENT_ID',
      'REDIS_KEY_PREFIX',
      'API_KEYS',
      'DATA_DIR',
      'PRODUCER_SENSORS',
      'MQTT_TOPICS'
    ])
    for (const name of Object.keys(VARIABLES)) {
      if (freeForm.has(name)) continue
      problems({ [name]: 'not valid at all' }, [name])
    }
  })

  test('postgresql:// and rediss:// are accepted too', () => {
    const c = loadConfig({ DATABASE_URL: 'postgresql://127.0.0.1/x', REDIS_URL: 'rediss://127.0.0.1:6380' })
    assert.equal(c.database.url, 'postgresql://127.0.0.1/x')
    assert.equal(c.redis.url, 'rediss://127.0.0.1:6380')
  })

  test('booleans', () => {
    for (const [text, expected] of [
      ['true', true],
      ['1', true],
      ['yes', true],
      ['TRUE', true],
      ['false', false],
      ['0', false],
      ['no', false]
    ] as const) {
      assert.equal(loadConfig({ API_READ_AUTH: text }).api.readAuth, expected, text)
    }
  })

  test('PRODUCER_SENSORS as a comma list', () => {
    assert.deepEqual(loadConfig({ PRODUCER_SENSORS: 'sensor-a' }).producer.sensors, ['sensor-a'])
    assert.deepEqual(loadConfig({ PRODUCER_SENSORS: ' a , b:1 ,c.2,, ' }).producer.sensors, ['a', 'b:1', 'c.2'])
  })

  test('PRODUCER_SENSORS as a count', () => {
    assert.deepEqual(loadConfig({ PRODUCER_SENSORS: '3' }).producer.sensors, ['sensor-1', 'sensor-2', 'sensor-3'])
    const many = loadConfig({ PRODUCER_SENSORS: '1000' }).producer.sensors
    assert.equal(many.length, 1000)
    assert.equal(new Set(many).size, 1000)
    assert.equal(many[999], 'sensor-1000')
    assert.deepEqual(loadConfig({ PRODUCER_SENSORS: '1' }).producer.sensors, ['sensor-1'])
  })

  test('PRODUCER_SENSORS problems', () => {
    problems({ PRODUCER_SENSORS: '0' }, ['PRODUCER_SENSORS'])
    problems({ PRODUCER_SENSORS: '1000001' }, ['PRODUCER_SENSORS'])
    problems({ PRODUCER_SENSORS: 'ok,bad id' }, ['PRODUCER_SENSORS'])
    problems({ PRODUCER_SENSORS: 'capteur-é' }, ['PRODUCER_SENSORS'])
    problems({ PRODUCER_SENSORS: ',' }, ['PRODUCER_SENSORS'])
    problems({ PRODUCER_SENSORS: 'x'.repeat(129) }, ['PRODUCER_SENSORS'])
  })

  test('bad values of each kind name their variable', () => {
    problems({ KAFKA_BROKERS: '127.0.0.1' }, ['KAFKA_BROKERS'])
    problems({ KAFKA_BROKERS: 'host:port' }, ['KAFKA_BROKERS'])
    problems({ KAFKA_BROKERS: ',,' }, ['KAFKA_BROKERS'])
    problems({ DATABASE_URL: 'mysql://127.0.0.1/x' }, ['DATABASE_URL'])
    problems({ DATABASE_URL: 'not a url' }, ['DATABASE_URL'])
    problems({ REDIS_URL: 'http://127.0.0.1:6379' }, ['REDIS_URL'])
    problems({ LOG_LEVEL: 'verbose' }, ['LOG_LEVEL'])
    problems({ BATCH_MAX_ROWS: '0' }, ['BATCH_MAX_ROWS'])
    problems({ BATCH_MAX_ROWS: '1.5' }, ['BATCH_MAX_ROWS'])
    problems({ BATCH_MAX_ROWS: '-5' }, ['BATCH_MAX_ROWS'])
    problems({ BATCH_MAX_WAIT_MS: 'soon' }, ['BATCH_MAX_WAIT_MS'])
    problems({ DATABASE_POOL_MAX: '0' }, ['DATABASE_POOL_MAX'])
    problems({ PRODUCER_RATE: '0' }, ['PRODUCER_RATE'])
    problems({ PRODUCER_RATE: 'Infinity' }, ['PRODUCER_RATE'])
    problems({ PRODUCER_COUNT: '0' }, ['PRODUCER_COUNT'])
    problems({ PRODUCER_INTERVAL_MS: '0' }, ['PRODUCER_INTERVAL_MS'])
    problems({ PORT: '65536' }, ['PORT'])
    problems({ API_READ_AUTH: 'maybe' }, ['API_READ_AUTH'])
  })

  test('every host:port and URL: port in range, a host, a known scheme', () => {
    // Before: a broker port of 99999 passed and the Kafka client hung on it (exit 13).
    const [broker] = problems({ KAFKA_BROKERS: '127.0.0.1:99999' }, ['KAFKA_BROKERS'])
    assert.match(broker ?? '', /"127\.0\.0\.1:99999".*port must be from 1 to 65535, got "99999"/)
    problems({ KAFKA_BROKERS: '127.0.0.1:9092,127.0.0.1:0' }, ['KAFKA_BROKERS'])
    problems({ KAFKA_BROKERS: '127.0.0.1:' }, ['KAFKA_BROKERS'])
    problems({ KAFKA_BROKERS: 'bad host:9092' }, ['KAFKA_BROKERS'])
    problems({ KAFKA_BROKERS: '[::1:9092' }, ['KAFKA_BROKERS'])
    const [database] = problems({ DATABASE_URL: 'postgres://postgres@127.0.0.1:99999/x' }, ['DATABASE_URL'])
    assert.match(database ?? '', /port must be from 1 to 65535, got "99999"/)
    problems({ DATABASE_URL: 'postgres://127.0.0.1:0/x' }, ['DATABASE_URL'])
    problems({ DATABASE_URL: 'postgres://127.0.0.1:port/x' }, ['DATABASE_URL'])
    const [redis] = problems({ REDIS_URL: 'redis://127.0.0.1:70000' }, ['REDIS_URL'])
    assert.match(redis ?? '', /port must be from 1 to 65535, got "70000".*e\.g\. redis:\/\/127\.0\.0\.1:6379/)
    problems({ REDIS_URL: 'redis://' }, ['REDIS_URL'])
    problems({ REDIS_URL: '127.0.0.1:6379' }, ['REDIS_URL'])
    problems({ PORT: '-1' }, ['PORT'])
    problems({ METRICS_PORT: '65536' }, ['METRICS_PORT'])
    problems({ HOST: '127.0.0.1:3000' }, ['HOST'])
    problems({ HOST: 'http://127.0.0.1' }, ['HOST'])
    // an origin that no browser sends would never match
    const [origin] = problems({ CORS_ORIGINS: 'https://a.example/' }, ['CORS_ORIGINS'])
    assert.match(origin ?? '', /"https:\/\/a\.example\/" is not an origin; a browser sends https:\/\/a\.example,/)
    problems({ CORS_ORIGINS: 'a.example' }, ['CORS_ORIGINS'])
    problems({ CORS_ORIGINS: 'https://a.example:99999' }, ['CORS_ORIGINS'])
    problems({ CORS_ORIGINS: 'https://a.example,ftp://b.example' }, ['CORS_ORIGINS'])
  })

  test('the usual host:port and URL forms are accepted', () => {
    const c = loadConfig({
      KAFKA_BROKERS: 'kafka:9092,[::1]:9093,broker_1.internal:65535',
      DATABASE_URL: 'postgres:///sensorstream?host=/var/run/postgresql',
      REDIS_URL: 'redis://:secret@[::1]:6379/0',
      HOST: '::'
    })
    assert.deepEqual(c.kafka.brokers, ['kafka:9092', '[::1]:9093', 'broker_1.internal:65535'])
    assert.equal(loadConfig({ HOST: 'api.internal' }).api.host, 'api.internal')
    assert.deepEqual(loadConfig({ CORS_ORIGINS: 'http://127.0.0.1:8080, https://a.example, *' }).api.corsOrigins, [
      'http://127.0.0.1:8080',
      'https://a.example',
      '*'
    ])
    assert.equal(loadConfig({ DATABASE_URL: 'POSTGRES://u:p%40ss@db:5432/x' }).database.url, 'POSTGRES://u:p%40ss@db:5432/x')
    // WHATWG URL splits at the last @ of the authority, so does the check
    assert.equal(loadConfig({ REDIS_URL: 'redis://:p@ss:w0rd@127.0.0.1:6380' }).redis.url, 'redis://:p@ss:w0rd@127.0.0.1:6380')
  })

  test('several bad variables are reported at once, each named', () => {
    const details = problems(
      {
        KAFKA_BROKERS: 'nohost',
        DATABASE_URL: 'http://x',
        REDIS_URL: '::::',
        LOG_LEVEL: 'loud',
        BATCH_MAX_ROWS: 'many',
        PRODUCER_SENSORS: '0',
        PRODUCER_INTERVAL_MS: '-1',
        PORT: 'eighty'
      },
      ['KAFKA_BROKERS', 'DATABASE_URL', 'REDIS_URL', 'LOG_LEVEL', 'BATCH_MAX_ROWS', 'PRODUCER_SENSORS', 'PRODUCER_INTERVAL_MS', 'PORT']
    )
    // each problem quotes the bad value so the user sees what was read
    assert.ok(details.some((d) => d.includes('"many"')))
    assert.ok(details.some((d) => d.includes('"loud"')))
  })

  test('the result is deeply frozen', () => {
    const c = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', PRODUCER_SENSORS: 'a,b' })
    assert.ok(Object.isFrozen(c))
    for (const part of [c.kafka, c.database, c.redis, c.producer, c.streaming, c.api, c.kafka.brokers, c.producer.sensors, c.api.apiKeys]) {
      assert.ok(Object.isFrozen(part))
    }
    assert.throws(() => {
      ;(c as { logLevel: string }).logLevel = 'trace'
    }, TypeError)
    assert.throws(() => {
      ;(c.kafka as { topic: string }).topic = 'other'
    }, TypeError)
    assert.throws(() => {
      ;(c.producer.sensors as string[]).push('c')
    }, TypeError)
  })
})

describe('environment (.env)', () => {
  const dirs: string[] = []
  after(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
  })
  function tempDir(dotenv?: string): string {
    const dir = mkdtempSync(join(tmpdir(), 'sensorstream-config-'))
    dirs.push(dir)
    if (dotenv !== undefined) writeFileSync(join(dir, '.env'), dotenv)
    return dir
  }

  test('without .env the real environment is used as is', () => {
    const env = { KAFKA_TOPIC: 'real' }
    assert.deepEqual(environment(env, tempDir()), env)
  })

  test('.env in the working directory is read', () => {
    const dir = tempDir('# comment\nKAFKA_TOPIC=from-file\nPRODUCER_SENSORS="a,b"\nexport_IGNORED=\nLOG_LEVEL=warn\n')
    const c = loadConfig(environment({}, dir))
    assert.equal(c.kafka.topic, 'from-file')
    assert.deepEqual(c.producer.sensors, ['a', 'b'])
    assert.equal(c.logLevel, 'warn')
  })

  test('real environment variables win over .env', () => {
    const dir = tempDir('KAFKA_TOPIC=from-file\nKAFKA_GROUP_ID=file-group\n')
    const c = loadConfig(environment({ KAFKA_TOPIC: 'from-env' }, dir))
    assert.equal(c.kafka.topic, 'from-env')
    assert.equal(c.kafka.groupId, 'file-group')
  })

  test('bad values in .env are reported naming the variable', () => {
    const dir = tempDir('BATCH_MAX_ROWS=lots\nREDIS_URL=nope\n')
    problems(environment({}, dir), ['BATCH_MAX_ROWS', 'REDIS_URL'])
  })

  test('by default .env is read from process.cwd() and the environment from process.env', () => {
    const dir = tempDir('KAFKA_CLIENT_ID=from-cwd-file\n')
    const previous = process.cwd()
    const hadClientId = Object.hasOwn(process.env, 'KAFKA_CLIENT_ID')
    const savedClientId = process.env['KAFKA_CLIENT_ID']
    try {
      process.chdir(dir)
      delete process.env['KAFKA_CLIENT_ID']
      assert.equal(loadConfig().kafka.clientId, 'from-cwd-file')
      process.env['KAFKA_CLIENT_ID'] = 'from-process-env'
      assert.equal(loadConfig().kafka.clientId, 'from-process-env')
    } finally {
      process.chdir(previous)
      if (hadClientId) process.env['KAFKA_CLIENT_ID'] = savedClientId
      else delete process.env['KAFKA_CLIENT_ID']
    }
  })
})

describe('requireServices', () => {
  test('names every missing variable with the command', () => {
    const c = loadConfig({ DATABASE_URL: 'postgres://127.0.0.1/x' })
    assert.throws(
      () => requireServices(c, 'streaming', ['kafka', 'database', 'redis']),
      (err: unknown) =>
        err instanceof AppError &&
        err.code === 'CONFIG_INVALID' &&
        /KAFKA_BROKERS/.test(err.message) &&
        /REDIS_URL/.test(err.message) &&
        !/DATABASE_URL/.test(err.message) &&
        /sensorstream streaming/.test(err.message)
    )
  })

  test('passes when every service is configured', () => {
    const c = loadConfig({ KAFKA_BROKERS: '127.0.0.1:9092', DATABASE_URL: 'postgres://127.0.0.1/x', REDIS_URL: 'redis://127.0.0.1:6379' })
    requireServices(c, 'streaming', ['kafka', 'database', 'redis'])
  })
})
