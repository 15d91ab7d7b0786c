// A PostgreSQL server from the machine's own binaries (initdb + postgres + pg_ctl), for tests,
// `npm run services:up` and the embedded database of `sensorstream all`. As root it runs as the
// `postgres` OS user, in folders that user owns.
import { execFile } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { setTimeout as delay } from 'node:timers/promises'
import { findExecutable, isRoot, osUser, versionedDirs, type OsUser } from './environment.ts'
import { freePort, LOOPBACK } from './free-port.ts'
import { createDatabase, postgresAnswers } from '../store/postgres-server.ts'
import {
  makeTempDir,
  removeTempDir,
  serviceControl,
  spawnService,
  STOP_GRACE_MS,
  terminate,
  waitUntil,
  type ServiceControl,
  type ServiceProcess
} from './processes.ts'

export interface PostgresOptions {
  /** [a free one] */
  readonly port?: number
  /** [a fresh folder under the OS temp dir]; when given and not persistent it must be empty or absent */
  readonly dataDir?: string
  /** reuse dataDir when already initialized, keep it, and keep fsync on [false] */
  readonly persistent?: boolean
  /**
   * keep fsync, synchronous_commit and full_page_writes at Postgres's defaults, as in production
   * [persistent]; throwaway servers otherwise turn them off for speed
   */
  readonly durable?: boolean
  /** outlive this process (`services:up`); needs a persistent dataDir [false] */
  readonly detached?: boolean
  /** run in a process group of its own, out of reach of a terminal's Ctrl-C (see SpawnOptions) [false] */
  readonly ownProcessGroup?: boolean | undefined
  /** [30000] */
  readonly startTimeoutMs?: number
  /** the folder of initdb, pg_ctl and postgres [postgresBinDir(): the machine's] */
  readonly binDir?: string | undefined
  /** put in the URL, for a cluster made with password authentication (new ones trust 127.0.0.1) */
  readonly password?: string | undefined
}

/** stop() is `pg_ctl stop -m fast`, kill() a SIGKILL to the postmaster; dispose() removes the data dir unless persistent. */
export interface PostgresServer extends ServiceControl {
  /** `postgres://postgres@127.0.0.1:PORT/postgres` (trust auth) */
  readonly url: string
  readonly port: number
  readonly dataDir: string
  readonly logFile: string
  /** creates a database and returns its URL */
  createDatabase(name: string, options?: { ifMissing?: boolean }): Promise<string>
}

export const POSTGRES_INSTALL = 'apt-get update && apt-get install -y postgresql'
const run = promisify(execFile)

/** The folder with initdb, pg_ctl and postgres: from PATH, else the newest /usr/lib/postgresql/N/bin. */
export function postgresBinDir(): string {
  const complete = (dir: string): boolean => ['initdb', 'pg_ctl', 'postgres'].every((b) => existsSync(join(dir, b)))
  const onPath = findExecutable('initdb')
  if (onPath !== undefined) {
    const dir = dirname(realpathSync(onPath))
    if (complete(dir)) return dir
  }
  for (const version of versionedDirs('/usr/lib/postgresql')) {
    const dir = join(version, 'bin')
    if (complete(dir)) return dir
  }
  throw new Error(`PostgreSQL server binaries (initdb, pg_ctl, postgres) are not installed. Install them with: ${POSTGRES_INSTALL}`)
}

/** As root: the `postgres` OS user, who must own the data dir. Otherwise: the current user. */
function serverUser(): OsUser | undefined {
  if (!isRoot()) return undefined
  const user = osUser('postgres')
  if (user === undefined) throw new Error(`running PostgreSQL as root needs the \`postgres\` OS user, which comes with: ${POSTGRES_INSTALL}`)
  return user
}

function isEmptyOrAbsent(dir: string): boolean {
  return !existsSync(dir) || readdirSync(dir).length === 0
}

// After a SIGKILL the old backends may still hold the shared memory or the lock for a moment.
const TRANSIENT_START_FAILURE = /pre-existing shared memory block|lock file .* already exists|could not bind/

export async function startPostgres(options: PostgresOptions = {}): Promise<PostgresServer> {
  const persistent = options.persistent === true
  const detached = options.detached === true
  if (detached && (!persistent || options.dataDir === undefined)) throw new Error('startPostgres: detached needs a persistent dataDir')
  const bin = options.binDir ?? postgresBinDir()
  const user = serverUser()
  const asUser = user === undefined ? {} : { uid: user.uid, gid: user.gid }

  let dataDir: string
  if (options.dataDir === undefined) {
    dataDir = makeTempDir('postgres')
  } else {
    dataDir = resolve(options.dataDir)
    if (!persistent && !isEmptyOrAbsent(dataDir)) throw new Error(`startPostgres: ${dataDir} is not empty (pass persistent: true to reuse it)`)
    mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  }
  if (user !== undefined && statSync(dataDir).uid !== user.uid) chownSync(dataDir, user.uid, user.gid)

  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    try {
      await run(join(bin, 'initdb'), ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'], {
        cwd: dataDir,
        ...asUser
      })
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string }
      const hint = user === undefined ? '' : ` (the \`postgres\` user must be able to reach ${dataDir}: every parent folder needs o+x)`
      throw new Error(`initdb failed${hint}: ${e.message}\n${e.stderr ?? ''}`, { cause: err })
    }
  }

  const port = options.port ?? (await freePort())
  const url = `postgres://postgres${options.password === undefined ? '' : `:${encodeURIComponent(options.password)}`}@${LOOPBACK}:${port}/postgres`
  const logFile = join(dataDir, 'postgres.log')
  const timeoutMs = options.startTimeoutMs ?? 30_000
  // Unix sockets have a path limit of about 107 bytes; without one, TCP still works.
  const socketDir = dataDir.length < 80 ? dataDir : ''
  const settings = [
    `listen_addresses=${LOOPBACK}`,
    `unix_socket_directories=${socketDir}`,
    ...((options.durable ?? persistent) ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off'])
  ]
  const args = ['-D', dataDir, '-p', String(port), ...settings.flatMap((s) => ['-c', s])]
  const launch = async (): Promise<ServiceProcess> => {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const offset = existsSync(logFile) ? statSync(logFile).size : 0
      const started = await spawnService(join(bin, 'postgres'), args, { logFile, cwd: dataDir, detached, user, ownProcessGroup: options.ownProcessGroup })
      try {
        await waitUntil(() => postgresAnswers(url), {
          what: `PostgreSQL on ${LOOPBACK}:${port}`,
          timeoutMs: Math.max(0, deadline - Date.now()),
          proc: started,
          logFile,
          intervalMs: 100
        })
        return started
      } catch (err) {
        await terminate(started, 'SIGKILL', 0)
        const output = readFileSync(logFile).subarray(offset).toString()
        if (!TRANSIENT_START_FAILURE.test(output) || Date.now() > deadline) throw err
        await delay(200)
      }
    }
  }
  let first: ServiceProcess
  try {
    first = await launch()
  } catch (err) {
    if (options.dataDir === undefined) removeTempDir(dataDir)
    throw err
  }

  const control = serviceControl({
    first,
    launch,
    stop: async (running) => {
      try {
        await run(join(bin, 'pg_ctl'), ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', String(STOP_GRACE_MS / 1000)], { cwd: dataDir, ...asUser })
      } catch {
        // not running any more, or too slow: the signal below settles it
      }
      await terminate(running, 'SIGINT', STOP_GRACE_MS)
    },
    cleanup: () => (persistent ? undefined : removeTempDir(dataDir))
  })
  return Object.assign(control, {
    url,
    port,
    dataDir,
    logFile,
    createDatabase: (name: string, options?: { ifMissing?: boolean }) => createDatabase(url, name, options)
  })
}
