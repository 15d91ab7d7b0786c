// `npm run services:up` / `services:down`: local Kafka, Postgres and Redis for running sensorstream
// by hand. Kafka always comes from the pinned Apache Kafka jars; Postgres and Redis only when none
// answers at their default addresses. What `up` started is recorded in .cache/services.json, and
// `down` stops only that. Two clones on one machine do not collide: each gets its own database and
// Redis key prefix (`sensorstream_<hash of the clone's folder>`), and a port already taken (by the
// other clone's Kafka, say) is replaced by a free one, with a line saying so.
//
//   node scripts/services.ts up [--export] [kafka|postgres|redis…]
//                                              start what is missing (all three, or those named),
//                                              print the variables to use
//   node scripts/services.ts down [--purge]    stop what `up` started (--purge: delete its data too)
//   node scripts/services.ts status            what runs
//   node scripts/services.ts env [--export]    print the variables again
//   node scripts/services.ts fetch             download the Kafka jars into the user cache (CI)
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { canConnect, freePort, isPortFree } from '../src/adapters/embedded/free-port.ts'
import { ensureKafkaJars, startKafka } from '../dev/kafka.ts'
import { createDatabase, dropDatabase, postgresAnswers } from '../src/adapters/store/postgres-server.ts'
import { startPostgres } from '../src/adapters/embedded/postgres.ts'
import { isAlive, stopPid } from '../src/adapters/embedded/processes.ts'
import { redisAnswers, startRedis } from '../dev/redis.ts'

interface Started {
  readonly pid: number
  readonly port: number
  readonly dataDir: string
  readonly logFile: string
}
interface State {
  kafka?: Started & { readonly controllerPort: number; readonly brokers: string }
  postgres?: { readonly url: string; readonly database?: string; readonly started?: Started }
  redis?: { readonly url: string; readonly keyPrefix?: string; readonly started?: Started }
}

const ROOT = resolve(import.meta.dirname, '..')
const CACHE = join(ROOT, '.cache')
const STATE_FILE = join(CACHE, 'services.json')
/** This clone's name on shared servers: its database, and its Redis key prefix followed by `:`. */
const CLONE_NAME = `sensorstream_${createHash('sha256').update(ROOT).digest('hex').slice(0, 8)}`
const STOP_GRACE_MS = 15_000

/** The ports tried first, where the machine's own services usually answer (tests point them elsewhere). */
function wantedPort(variable: string, fallback: number): number {
  const value = Number(process.env[variable] ?? fallback)
  if (!Number.isInteger(value) || value < 1 || value > 65_535) throw new Error(`${variable}: must be a port from 1 to 65535, got "${process.env[variable]}"`)
  return value
}
const PORTS = {
  kafka: wantedPort('SERVICES_KAFKA_PORT', 9092),
  controller: wantedPort('SERVICES_KAFKA_CONTROLLER_PORT', 9093),
  postgres: wantedPort('SERVICES_POSTGRES_PORT', 5432),
  redis: wantedPort('SERVICES_REDIS_PORT', 6379)
}
const MACHINE_POSTGRES = `postgres://postgres@127.0.0.1:${PORTS.postgres}/postgres`

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

/** `port` when it is free, else a free one, saying so for `name` (what it is for). */
async function preferredPort(name: string, port: number, avoid: number[] = []): Promise<number> {
  if (!avoid.includes(port) && (await isPortFree(port))) return port
  const other = await freePort(avoid)
  say(`${name.padEnd(9)} 127.0.0.1:${port} is taken (another clone's services:up, or another program): using ${other} instead`)
  return other
}

async function upKafka(state: State): Promise<void> {
  const previous = state.kafka
  if (previous !== undefined && runs(previous.pid, MARKERS.kafka) && (await canConnect(previous.port))) {
    say(`kafka     running  ${previous.brokers} (pid ${previous.pid}, log ${rel(previous.logFile)})`)
    return
  }
  const port = await preferredPort('kafka', previous?.port ?? PORTS.kafka)
  const controllerPort = await preferredPort('kafka', previous?.controllerPort ?? PORTS.controller, [port])
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
    const url = await createDatabase(MACHINE_POSTGRES, CLONE_NAME, { ifMissing: true })
    state.postgres = { url, database: CLONE_NAME }
    say(`postgres  using the PostgreSQL at 127.0.0.1:${PORTS.postgres} (database ${CLONE_NAME}, this clone's own)`)
    return
  }
  if (await canConnect(PORTS.postgres)) {
    say(`postgres  something answers at 127.0.0.1:${PORTS.postgres} but ${MACHINE_POSTGRES} does not let us in; starting our own on another port`)
  }
  const port = await preferredPort('postgres', previous?.port ?? PORTS.postgres)
  const postgres = await startPostgres({ port, dataDir: join(CACHE, 'postgres'), persistent: true, detached: true })
  const url = await createDatabase(postgres.url, CLONE_NAME, { ifMissing: true })
  const pid = postgres.pid ?? 0
  state.postgres = { url, database: CLONE_NAME, started: { pid, port, dataDir: postgres.dataDir, logFile: postgres.logFile } }
  say(`postgres  started  127.0.0.1:${port} (pid ${pid}, database ${CLONE_NAME}, data ${rel(postgres.dataDir)}, log ${rel(postgres.logFile)})`)
}

async function upRedis(state: State): Promise<void> {
  const previous = state.redis?.started
  if (previous !== undefined && runs(previous.pid, MARKERS.redis) && state.redis !== undefined) {
    say(`redis     running  127.0.0.1:${previous.port} (pid ${previous.pid})`)
    return
  }
  const keyPrefix = `${CLONE_NAME}:`
  if (await redisAnswers(PORTS.redis)) {
    state.redis = { url: `redis://127.0.0.1:${PORTS.redis}`, keyPrefix }
    say(`redis     using the Redis at 127.0.0.1:${PORTS.redis} (keys under ${keyPrefix}, this clone's own)`)
    return
  }
  const port = await preferredPort('redis', previous?.port ?? PORTS.redis)
  const dir = join(CACHE, 'redis')
  mkdirSync(dir, { recursive: true })
  const redis = await startRedis({ port, dir, detached: true })
  const pid = redis.pid ?? 0
  state.redis = { url: redis.url, keyPrefix, started: { pid, port, dataDir: dir, logFile: redis.logFile } }
  say(`redis     started  127.0.0.1:${port} (pid ${pid}, keys under ${keyPrefix}, nothing saved to disk)`)
}

function variables(state: State, exported: boolean): string {
  const lines: string[] = []
  if (state.kafka !== undefined) lines.push(`KAFKA_BROKERS=${state.kafka.brokers}`)
  if (state.postgres !== undefined) lines.push(`DATABASE_URL=${state.postgres.url}`)
  if (state.redis !== undefined) lines.push(`REDIS_URL=${state.redis.url}`)
  if (state.redis?.keyPrefix !== undefined) lines.push(`REDIS_KEY_PREFIX=${state.redis.keyPrefix}`)
  return lines.map((line) => `${exported ? 'export ' : ''}${line}\n`).join('')
}

const SERVICES = { kafka: upKafka, postgres: upPostgres, redis: upRedis } as const
type ServiceName = keyof typeof SERVICES
const isService = (name: string): name is ServiceName => Object.hasOwn(SERVICES, name)

async function up(exported: boolean, only: readonly ServiceName[]): Promise<number> {
  const state = loadState()
  const names = only.length > 0 ? only : (Object.keys(SERVICES) as ServiceName[])
  const results = await Promise.allSettled(names.map((name) => SERVICES[name](state)))
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
  await Promise.all(
    stops.map(async ([name, started, signal]) => {
      if (started === undefined) return
      if (runs(started.pid, MARKERS[name as keyof typeof MARKERS])) {
        await stopPid(started.pid, signal, STOP_GRACE_MS)
        say(`${name.padEnd(9)} stopped (pid ${started.pid})`)
      } else {
        say(`${name.padEnd(9)} was not running`)
      }
      if (purge) rmSync(started.dataDir, { recursive: true, force: true })
    })
  )
  const machinePostgres = state.postgres !== undefined && state.postgres.started === undefined ? state.postgres : undefined
  if (machinePostgres !== undefined && purge && machinePostgres.database !== undefined) {
    await dropDatabase(machinePostgres.url, machinePostgres.database)
    say(`postgres  left running (not started by services:up); dropped this clone's database ${machinePostgres.database}`)
  } else if (machinePostgres !== undefined) {
    say(
      `postgres  left alone (not started by services:up)${machinePostgres.database === undefined ? '' : `; this clone's database ${machinePostgres.database} is kept`}`
    )
  }
  if (state.redis !== undefined && state.redis.started === undefined) {
    say(`redis     left alone (not started by services:up)${state.redis.keyPrefix === undefined ? '' : `; keys under ${state.redis.keyPrefix} are kept`}`)
  }
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
  line(
    'redis',
    state.redis?.started,
    state.redis?.url === undefined ? undefined : `${state.redis.url} (keys under ${state.redis.keyPrefix ?? 'sensorstream:'})`
  )
  say(`data in ${rel(CACHE)} (state in ${rel(STATE_FILE)})`)
  return 0
}

async function main(argv: string[]): Promise<number> {
  const [command, ...flags] = argv
  const exported = flags.includes('--export')
  // `up --help` must not start anything: any flag other than the known ones prints the usage.
  const help = command === '--help' || command === '-h' || flags.includes('--help') || flags.includes('-h')
  const only = command === 'up' ? flags.filter(isService) : []
  const unknown = flags.filter((f) => f !== '--export' && f !== '--purge' && f !== '--help' && f !== '-h' && !(only as string[]).includes(f))
  switch (help || unknown.length > 0 ? 'usage' : command) {
    case 'up':
      return up(exported, only)
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
      say('usage: node scripts/services.ts up [--export] [kafka|postgres|redis…] | down [--purge] | status | env [--export] | fetch')
      return help || (command === undefined && unknown.length === 0) ? 0 : 2
  }
}

process.exitCode = await main(process.argv.slice(2))
