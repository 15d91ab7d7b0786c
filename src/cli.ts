#!/usr/bin/env node
// sensorstream <command>: one program for every service. Each command loads only what it needs.
// Exit codes (README "Exit codes"): 0 a clean stop, also one asked for by SIGTERM or Ctrl-C;
// 1 an unexpected error, logged with its stack; 2 a usage or configuration problem, said in one line.
import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { nodeVersionProblem } from './platform/node-version.ts'
import { AppError } from './platform/errors.ts'
import { loadConfig, requireServices, SERVICE_VARIABLE, VARIABLES, type Config, type Service } from './platform/config.ts'
import { createLogger } from './platform/logger.ts'
import { onShutdownSignals } from './platform/shutdown.ts'
import type { ServiceMain } from './services/service.ts'

const EXIT_OK = 0
const EXIT_ERROR = 1
const EXIT_USAGE = 2

interface Command {
  readonly summary: string
  /** the environment variables that matter to this command */
  readonly variables: readonly string[]
  /** the services it cannot run without (their variables are required) */
  readonly requires: readonly Service[]
  readonly load: () => Promise<ServiceMain>
  /** for commands that take arguments: their usage line; their main.ts parses them */
  readonly usage?: string
}

const KAFKA = ['KAFKA_BROKERS', 'KAFKA_TOPIC', 'KAFKA_CLIENT_ID', 'KAFKA_PARTITIONS', 'KAFKA_REPLICATION_FACTOR']
const DATABASE = ['DATABASE_URL', 'DATABASE_POOL_MAX', 'DATABASE_STATEMENT_TIMEOUT_MS']
const REDIS = ['REDIS_URL', 'REDIS_KEY_PREFIX']
const PRODUCER = ['PRODUCER_SENSORS', 'PRODUCER_INTERVAL_MS', 'PRODUCER_RATE', 'PRODUCER_COUNT']
const STREAMING = ['KAFKA_DLQ_TOPIC', 'KAFKA_GROUP_ID', 'BATCH_MAX_ROWS', 'BATCH_MAX_WAIT_MS', 'METRICS_PORT']
const STORAGE = ['PARTITION_INTERVAL', 'PARTITION_PREMAKE', 'RETENTION_RAW_DAYS', 'RETENTION_1M_DAYS', 'RETENTION_1H_DAYS', 'RETENTION_1D_DAYS']
const API = ['PORT', 'HOST', 'API_KEYS', 'API_READ_AUTH', 'CORS_ORIGINS', 'API_REQUEST_TIMEOUT_MS', 'API_BODY_LIMIT_BYTES']
const MQTT = ['MQTT_URL', 'MQTT_TOPICS', 'MQTT_GROUP', 'MQTT_CLIENT_ID', 'MQTT_CONNECTIONS', 'MQTT_PROTOCOL', 'MQTT_SESSION_EXPIRY_SECONDS']
const STREAM = ['STREAM_RESUME_SECONDS', 'STREAM_HEARTBEAT_SECONDS', 'STREAM_CLIENT_BUFFER_BYTES']

const COMMANDS: Record<string, Command> = {
  producer: {
    summary: 'publish simulated readings to Kafka (by default one for sensor-123 every 2 s)',
    variables: [...KAFKA, ...PRODUCER, 'LOG_LEVEL'],
    requires: ['kafka'],
    load: async () => (await import('./services/producer/main.ts')).main
  },
  streaming: {
    summary: 'consume readings from Kafka into Postgres and Redis; invalid ones go to the dead-letter topic',
    variables: [...KAFKA, ...STREAMING, ...DATABASE, ...STORAGE, ...REDIS, 'LOG_LEVEL'],
    requires: ['kafka', 'database', 'redis'],
    load: async () => (await import('./services/streaming/main.ts')).main
  },
  mqtt: {
    summary: 'bridge an MQTT broker (QoS 1, shared subscription) to the readings topic; each message acknowledged once Kafka has it',
    variables: [...MQTT, ...KAFKA, 'KAFKA_DLQ_TOPIC', 'LOG_LEVEL'],
    requires: ['kafka'],
    load: async () => (await import('./services/mqtt/main.ts')).main
  },
  api: {
    summary: 'serve readings over HTTP (REST, live stream, health, metrics, OpenAPI)',
    variables: [...API, ...STREAM, ...DATABASE, ...STORAGE, ...REDIS, 'LOG_LEVEL'],
    requires: ['database', 'redis'],
    load: async () => (await import('./services/api/main.ts')).main
  },
  all: {
    summary: 'producer, streaming, API and MQTT bridge in one process; embedded defaults for any service variable not set',
    variables: [
      ...KAFKA,
      ...PRODUCER,
      ...STREAMING,
      ...DATABASE,
      ...STORAGE,
      ...REDIS,
      ...API,
      ...STREAM,
      ...MQTT,
      'MQTT_EMBEDDED_PORT',
      'DATA_DIR',
      'LOG_LEVEL'
    ],
    requires: [],
    load: async () => (await import('./services/all/main.ts')).main
  },
  migrate: {
    summary: 'apply pending Postgres migrations and exit (services also do it at startup)',
    variables: [...DATABASE, 'LOG_LEVEL'],
    requires: ['database'],
    load: async () => (await import('./services/migrate/main.ts')).main
  },
  retention: {
    summary: 'list the partitions past RETENTION_*_DAYS with their size and drop them; --dry-run only lists',
    variables: [...DATABASE, ...STORAGE, 'LOG_LEVEL'],
    requires: ['database'],
    load: async () => (await import('./services/retention/main.ts')).main
  },
  replay: {
    summary: 'read part of the readings topic into Postgres and Redis again (idempotent), with progress and a summary',
    usage: 'replay --from <offset|RFC 3339 time> [--to <offset|time>] [--partition N[,N…]]',
    variables: [...KAFKA, ...DATABASE, ...STORAGE, ...REDIS, 'BATCH_MAX_ROWS', 'LOG_LEVEL'],
    requires: ['kafka', 'database', 'redis'],
    load: async () => (await import('./services/replay/main.ts')).main
  },
  dlq: {
    summary: 'list the dead letters, or re-send them to the readings topic after a fix (each once)',
    usage: 'dlq list [--limit N] [--where FIELD~REGEX]… | dlq replay [--where FIELD~REGEX]… [--dry-run]',
    variables: [...KAFKA, 'KAFKA_DLQ_TOPIC', ...DATABASE, 'LOG_LEVEL'],
    requires: ['kafka'],
    load: async () => (await import('./services/dlq/main.ts')).main
  }
}

const HINT = 'Run `sensorstream --help` for usage.'

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length))
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`)
  return (
    'Usage: sensorstream <command> [--help]\n       sensorstream help <command>\n       sensorstream --version\n\n' +
    `Commands:\n${lines.join('\n')}\n\nConfiguration comes from the environment (and ./.env); \`sensorstream <command> --help\` lists it.\n`
  )
}

function commandHelp(name: string, command: Command): string {
  const required = new Set(command.requires.map((s) => SERVICE_VARIABLE[s]))
  const width = Math.max(...command.variables.map((v) => v.length))
  const vars = command.variables.map((v) => `  ${v.padEnd(width)}  ${required.has(v) ? '(required) ' : ''}${VARIABLES[v] ?? ''}`)
  return `Usage: sensorstream ${command.usage ?? name}\n\n${command.summary}.\n\nEnvironment (default in brackets):\n${vars.join('\n')}\n`
}

interface PackageJson {
  readonly version: string
  readonly engines: { readonly node: string }
}

// package.json is one folder up from both src/cli.ts and dist/cli.js.
function packageJson(): PackageJson {
  return JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as PackageJson
}

type Parsed = { readonly positionals: string[]; readonly help: boolean; readonly version: boolean; readonly dryRun: boolean }

function parse(argv: readonly string[]): Parsed | string {
  try {
    const { positionals, values } = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { help: { type: 'boolean', short: 'h' }, version: { type: 'boolean' }, 'dry-run': { type: 'boolean' } }
    })
    return { positionals, help: values.help === true, version: values.version === true, dryRun: values['dry-run'] === true }
  } catch (err) {
    // Node's messages run long (how to pass a positional starting with "-"): the option is enough.
    const { code, message } = err as NodeJS.ErrnoException
    const option = /'(-[^']*)'/.exec(message)?.[1] ?? ''
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') return `unknown option ${option}`
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') return `option ${option} takes no value`
    return message
  }
}

function fail(problem: string): number {
  process.stderr.write(`sensorstream: ${problem}\n${HINT}\n`)
  return EXIT_USAGE
}

async function run(argv: readonly string[]): Promise<number> {
  const pkg = packageJson()
  const tooOld = nodeVersionProblem(pkg.engines.node, process.versions.node)
  if (tooOld !== undefined) {
    process.stderr.write(`${tooOld}\n`)
    return EXIT_USAGE
  }
  // A command with arguments of its own gets everything after its name (`args`) and parses it itself.
  const own = Object.hasOwn(COMMANDS, argv[0] ?? '') && COMMANDS[argv[0] as string]?.usage !== undefined
  const args = own ? argv.slice(1) : []
  const ownHelp = args.includes('--help') || args.includes('-h') ? ['--help'] : []
  const parsed = parse(own ? [...argv.slice(0, 1), ...ownHelp] : argv)
  if (typeof parsed === 'string') return fail(parsed)
  if (parsed.version) {
    process.stdout.write(`sensorstream ${pkg.version}\n`)
    return EXIT_OK
  }
  const [first, ...rest] = parsed.positionals
  // `help <command>` is `<command> --help`
  const name = first === 'help' ? rest.shift() : first
  const help = parsed.help || first === 'help'
  if (rest.length > 0) return fail(`unexpected argument "${rest[0]}"`)
  if (name === undefined) {
    if (help) {
      process.stdout.write(usage())
      return EXIT_OK
    }
    process.stderr.write(usage())
    return EXIT_USAGE
  }
  const command = COMMANDS[name]
  if (command === undefined) return fail(`unknown command "${name}"`)
  if (help) {
    process.stdout.write(commandHelp(name, command))
    return EXIT_OK
  }

  let config: Config
  try {
    config = loadConfig()
    requireServices(config, name, command.requires)
  } catch (err) {
    process.stderr.write(`sensorstream ${name}: ${(err as Error).message}\n`)
    return EXIT_USAGE
  }
  // `all` speaks to people in plain lines of its own: at the default level its JSON logs (the
  // services' and the shutdown's) are warnings and errors only.
  const level = name === 'all' && config.logLevel === 'info' ? 'warn' : config.logLevel
  const logger = createLogger(level).child({ service: name })
  const shutdown = onShutdownSignals(logger)
  try {
    const main = await command.load()
    await main({ config, logger, signal: shutdown.signal, dryRun: parsed.dryRun, args })
    return EXIT_OK
  } catch (err) {
    if (err instanceof AppError && err.code === 'CONFIG_INVALID') {
      process.stderr.write(`sensorstream ${name}: ${err.message}\n`)
      return EXIT_USAGE
    }
    logger.fatal({ err }, 'stopped by an error')
    return EXIT_ERROR
  } finally {
    shutdown.dispose()
  }
}

// The event loop ran dry while a service still awaits something: a promise that can never settle
// (a library that dropped a callback). Say so instead of Node's "unsettled top-level await" (13).
process.once('beforeExit', () => {
  process.stderr.write('sensorstream: stopped: an operation never finished and nothing is left to wait for (a bug; please report it)\n')
  process.exit(EXIT_ERROR)
})

// Exit explicitly: a clean stop has flushed and closed everything that matters, and a stray
// handle in a library must not keep a stopped service alive.
process.exit(await run(process.argv.slice(2)))
