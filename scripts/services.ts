// `npm run services:up` / `services:down`: local Kafka, Postgres and Redis for running sensorstream
// by hand. Kafka always comes from the pinned Apache Kafka jars; Postgres and Redis only when none
// answers at their default addresses. What `up` started is recorded in .cache/services.json, and
// `down` stops only that.
//
//   node scripts/services.ts up [--export]     start what is missing, print the variables to use
//   node scripts/services.ts down [--purge]    stop what `up` started (--purge: delete its data too)
//   node scripts/services.ts status            what runs
//   node scripts/services.ts env [--export]    print the variables again
//   node scripts/services.ts fetch             download the Kafka jars into the user cache (CI)
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { canConnect, freePort, isPortFree } from '../src/local/free-port.ts'
import { ensureKafkaJars, startKafka } from '../src/local/kafka.ts'
import { createDatabase, postgresAnswers } from '../src/local/pg-database.ts'
import { startPostgres } from '../src/local/postgres.ts'
import { isAlive, stopPid } from '../src/local/processes.ts'
import { redisAnswers, startRedis } from '../src/local/redis.ts'

interface Started {
  readonly pid: number
  readonly port: number
  readonly dataDir: string
  readonly logFile: string
}
interface State {
  kafka?: Started & { readonly controllerPort: number; readonly brokers: string }
  postgres?: { readonly url: string; readonly started?: Started }
  redis?: { readonly url: string; readonly started?: Started }
}

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = join(ROOT, '.cache')
const STATE_FILE = join(CACHE, 'services.json')
const DATABASE = 'sensorstream'
const MACHINE_POSTGRES = 'postgres://postgres@127.0.0.1:5432/postgres'
const STOP_GRACE_MS = 15_000

const say = (line: string): void => {
  process.stderr.write(`${line}\n`)
}
const rel = (path: string): string => relative(process.cwd(), path) || '.'

function loadState(): State {
  try {
    return JSON.parse(readFileSync(STATE_FILE, 'utf8')) as State
  } catch {
    return {}
  }
}

function saveState(state: State): void {
  mkdirSync(CACHE, { recursive: true })
  writeFileSync(STATE_FILE, `${JSON.stringify(state, null, 2)}\n`)
}

/** True when `pid` is alive and its command line mentions `marker` (guards against pid reuse). */
function runs(pid: number, marker: string): boolean {
  if (!isAlive(pid)) return false
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker)
  } catch {
    return true // no /proc: trust the pid
  }
}

const MARKERS = { kafka: 'kafka.Kafka', postgres: 'postgres', redis: 'redis-server' } as const

async function preferredPort(port: number, avoid: number[] = []): Promise<number> {
  return !avoid.includes(port) && (await isPortFree(port)) ? port : freePort(avoid)
}

async function upKafka(state: State): Promise<void> {
  const previous = state.kafka
  if (previous !== undefined && runs(previous.pid, MARKERS.kafka) && (await canConnect(previous.port))) {
    say(`kafka     running  ${previous.brokers} (pid ${previous.pid}, log ${rel(previous.logFile)})`)
    return
  }
  const port = await preferredPort(previous?.port ?? 9092)
  const controllerPort = await preferredPort(previous?.controllerPort ?? 9093, [port])
  const kafka = await startKafka({ port, controllerPort, dataDir: join(CACHE, 'kafka'), persistent: true, detached: true, partitions: 6 })
  const pid = kafka.pid ?? 0
  state.kafka = { pid, port, controllerPort, brokers: kafka.brokers, dataDir: kafka.dataDir, logFile: kafka.logFile }
  say(`kafka     started  ${kafka.brokers} (pid ${pid}, log ${rel(kafka.logFile)})`)
}

async function upPostgres(state: State): Promise<void> {
  const previous = state.postgres?.started
  if (previous !== undefined && runs(previous.pid, MARKERS.postgres) && state.postgres !== undefined) {
    say(`postgres  running  127.0.0.1:${previous.port} (pid ${previous.pid}, log ${rel(previous.logFile)})`)
    return
  }
  if (await postgresAnswers(MACHINE_POSTGRES)) {
    const url = await createDatabase(MACHINE_POSTGRES, DATABASE, { ifMissing: true })
    state.postgres = { url }
    say(`postgres  using the PostgreSQL at 127.0.0.1:5432 (database ${DATABASE})`)
    return
  }
  if (await canConnect(5432)) {
    say(`postgres  something answers at 127.0.0.1:5432 but ${MACHINE_POSTGRES} does not let us in; starting our own on another port`)
  }
  const port = await preferredPort(previous?.port ?? 5432)
  const postgres = await startPostgres({ port, dataDir: join(CACHE, 'postgres'), persistent: true, detached: true })
  const url = await createDatabase(postgres.url, DATABASE, { ifMissing: true })
  const pid = postgres.pid ?? 0
  state.postgres = { url, started: { pid, port, dataDir: postgres.dataDir, logFile: postgres.logFile } }
  say(`postgres  started  127.0.0.1:${port} (pid ${pid}, log ${rel(postgres.logFile)})`)
}

async function upRedis(state: State): Promise<void> {
  const previous = state.redis?.started
  if (previous !== undefined && runs(previous.pid, MARKERS.redis) && state.redis !== undefined) {
    say(`redis     running  127.0.0.1:${previous.port} (pid ${previous.pid})`)
    return
  }
  if (await redisAnswers(6379)) {
    state.redis = { url: 'redis://127.0.0.1:6379' }
    say('redis     using the Redis at 127.0.0.1:6379')
    return
  }
  const port = await preferredPort(previous?.port ?? 6379)
  const dir = join(CACHE, 'redis')
  mkdirSync(dir, { recursive: true })
  const redis = await startRedis({ port, dir, detached: true })
  const pid = redis.pid ?? 0
  state.redis = { url: redis.url, started: { pid, port, dataDir: dir, logFile: redis.logFile } }
  say(`redis     started  127.0.0.1:${port} (pid ${pid})`)
}

function variables(state: State, exported: boolean): string {
  const lines: string[] = []
  if (state.kafka !== undefined) lines.push(`KAFKA_BROKERS=${state.kafka.brokers}`)
  if (state.postgres !== undefined) lines.push(`DATABASE_URL=${state.postgres.url}`)
  if (state.redis !== undefined) lines.push(`REDIS_URL=${state.redis.url}`)
  return lines.map((line) => `${exported ? 'export ' : ''}${line}\n`).join('')
}

async function up(exported: boolean): Promise<number> {
  const state = loadState()
  const results = await Promise.allSettled([upKafka(state), upPostgres(state), upRedis(state)])
  saveState(state)
  process.stdout.write(variables(state, exported))
  const failures = results.filter((r) => r.status === 'rejected')
  for (const failure of failures) say(`error: ${failure.reason instanceof Error ? failure.reason.message : String(failure.reason)}`)
  if (!exported) say('(put these lines in .env, or in your shell: eval "$(node scripts/services.ts env --export)")')
  return failures.length === 0 ? 0 : 1
}

async function down(purge: boolean): Promise<number> {
  const state = loadState()
  const stops: [string, Started | undefined, NodeJS.Signals][] = [
    ['kafka', state.kafka, 'SIGTERM'],
    ['postgres', state.postgres?.started, 'SIGINT'], // PostgreSQL's fast shutdown, as `pg_ctl stop -m fast`
    ['redis', state.redis?.started, 'SIGTERM']
  ]
  await Promise.all(stops.map(async ([name, started, signal]) => {
    if (started === undefined) return
    if (runs(started.pid, MARKERS[name as keyof typeof MARKERS])) {
      await stopPid(started.pid, signal, STOP_GRACE_MS)
      say(`${name.padEnd(9)} stopped (pid ${started.pid})`)
    } else {
      say(`${name.padEnd(9)} was not running`)
    }
    if (purge) rmSync(started.dataDir, { recursive: true, force: true })
  }))
  if (state.postgres !== undefined && state.postgres.started === undefined) say('postgres  left alone (not started by services:up)')
  if (state.redis !== undefined && state.redis.started === undefined) say('redis     left alone (not started by services:up)')
  rmSync(STATE_FILE, { force: true })
  return 0
}

function status(): number {
  const state = loadState()
  const line = (name: string, started: Started | undefined, url: string | undefined): void => {
    if (url === undefined) say(`${name.padEnd(9)} not set up`)
    else if (started === undefined) say(`${name.padEnd(9)} ${url} (not started by services:up)`)
    else say(`${name.padEnd(9)} ${url} ${runs(started.pid, MARKERS[name as keyof typeof MARKERS]) ? `running (pid ${started.pid})` : 'NOT RUNNING'}`)
  }
  line('kafka', state.kafka, state.kafka?.brokers)
  line('postgres', state.postgres?.started, state.postgres?.url)
  line('redis', state.redis?.started, state.redis?.url)
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...flags] = argv
  const exported = flags.includes('--export')
  // `up --help` must not start anything: any flag other than the known ones prints the usage.
  const help = command === '--help' || command === '-h' || flags.includes('--help') || flags.includes('-h')
  const unknown = flags.filter((f) => f !== '--export' && f !== '--purge' && f !== '--help' && f !== '-h')
  switch (help || unknown.length > 0 ? 'usage' : command) {
    case 'up':
      return up(exported)
    case 'down':
      return down(flags.includes('--purge'))
    case 'status':
      return status()
    case 'env':
      if (!existsSync(STATE_FILE)) {
        say('nothing is set up: run `npm run services:up`')
        return 1
      }
      process.stdout.write(variables(loadState(), exported))
      return 0
    case 'fetch':
      say(`Kafka jars in ${await ensureKafkaJars()}`)
      return 0
    default:
      say('usage: node scripts/services.ts up [--export] | down [--purge] | status | env [--export] | fetch')
      return help || (command === undefined && unknown.length === 0) ? 0 : 2
  }
}

process.exitCode = await main(process.argv.slice(2))
