#!/usr/bin/env node
// sensorstream <command>: one program for every service. Each command loads only what it needs.
import { parseArgs } from 'node:util'
import { AppError } from './platform/errors.ts'
import { loadConfig, VARIABLES, type Config } from './platform/config.ts'
import { createLogger } from './platform/logger.ts'
import { onShutdownSignals } from './platform/shutdown.ts'
import type { ServiceMain } from './services/service.ts'

interface Command {
  readonly summary: string
  /** the environment variables that matter to this command */
  readonly variables: readonly string[]
  readonly load: () => Promise<ServiceMain>
}

const KAFKA = ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_CLIENT_ID', 'KAFKA_PARTITIONS', 'KAFKA_REPLICATION_FACTOR']
const DATABASE = ['DATABASE_URL', 'DATABASE_POOL_MAX', 'DATABASE_STATEMENT_TIMEOUT_MS']
const REDIS = ['REDIS_URL', 'REDIS_KEY_PREFIX']
const PRODUCER = ['PRODUCER_SENSORS', 'PRODUCER_INTERVAL_MS', 'PRODUCER_RATE', 'PRODUCER_COUNT']
const STREAMING = ['KAFKA_DLQ_TOPIC', 'KAFKA_GROUP_ID', 'BATCH_MAX_ROWS', 'BATCH_MAX_WAIT_MS', 'METRICS_PORT']
const API = ['PORT', 'HOST', 'API_KEYS', 'API_READ_AUTH', 'CORS_ORIGINS', 'API_REQUEST_TIMEOUT_MS', 'API_BODY_LIMIT_BYTES']
const STREAM = ['STREAM_RESUME_SECONDS', 'STREAM_HEARTBEAT_SECONDS', 'STREAM_CLIENT_BUFFER_BYTES']

const COMMANDS: Record<string, Command> = {
  producer: {
    summary: 'publish simulated readings to Kafka (by default one for sensor-123 every 2 s)',
    variables: [...KAFKA, ...PRODUCER, 'LOG_LEVEL'],
    load: async () => (await import('./services/producer/main.ts')).main
  },
  streaming: {
    summary: 'consume readings from Kafka into Postgres and Redis; invalid ones go to the dead-letter topic',
    variables: [...KAFKA, ...STREAMING, ...DATABASE, ...REDIS, 'LOG_LEVEL'],
    load: async () => (await import('./services/streaming/main.ts')).main
  },
  api: {
    summary: 'serve readings over HTTP (REST, live stream, health, metrics, OpenAPI)',
    variables: [...API, ...STREAM, ...DATABASE, ...REDIS, 'LOG_LEVEL'],
    load: async () => (await import('./services/api/main.ts')).main
  },
  all: {
    summary: 'producer, streaming and API in one process; embedded defaults for any service variable not set',
    variables: [...KAFKA, ...PRODUCER, ...STREAMING, ...DATABASE, ...REDIS, ...API, ...STREAM, 'DATA_DIR', 'LOG_LEVEL'],
    load: async () => (await import('./services/all/main.ts')).main
  },
  migrate: {
    summary: 'apply pending Postgres migrations and exit (services also do it at startup)',
    variables: [...DATABASE, 'LOG_LEVEL'],
    load: async () => (await import('./services/migrate/main.ts')).main
  }
}

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return `Usage: sensorstream <command> [--help]\n\nCommands:\n${lines.join('\n')}\n\nConfiguration comes from the environment (and ./.env); \`sensorstream <command> --help\` lists it.\n`
}

function commandHelp(name: string, command: Command): string {
  const width = Math.max(...command.variables.map((v) => v.length))
  const vars = command.variables.map((v) => `  ${v.padEnd(width)}  ${VARIABLES[v] ?? ''}`)
  return `Usage: sensorstream ${name}\n\n${command.summary}.\n\nEnvironment (default in brackets):\n${vars.join('\n')}\n`
}

async function run(argv: readonly string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: [...argv], allowPositionals: true, options: { help: { type: 'boolean', short: 'h' } } })
  const name = positionals[0]
  if (name === undefined || name === 'help') {
    process.stdout.write(usage())
    return name === undefined && values.help !== true ? 2 : 0
  }
  const command = COMMANDS[name]
  if (command === undefined) {
    process.stderr.write(`sensorstream: unknown command "${name}"\n\n${usage()}`)
    return 2
  }
  if (values.help === true) {
    process.stdout.write(commandHelp(name, command))
    return 0
  }

  let config: Config
  try {
    config = loadConfig()
  } catch (err) {
    process.stderr.write(`sensorstream ${name}: ${(err as Error).message}\n`)
    return 2
  }
  const logger = createLogger(config.logLevel).child({ service: name })
  const shutdown = onShutdownSignals(logger)
  try {
    const main = await command.load()
    await main({ config, logger, signal: shutdown.signal })
    return 0
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFIG_INVALID') {
      process.stderr.write(`sensorstream ${name}: ${err.message}\n`)
      return 2
    }
    logger.fatal({ err }, 'stopped by an error')
    return 1
  } finally {
    shutdown.dispose()
  }
}

// Exit explicitly: a clean stop has flushed and closed everything that matters, and a stray
// handle in a library must not keep a stopped service alive.
process.exit(await run(process.argv.slice(2)))
