// A throwaway Redis (redis-server in the foreground, nothing saved to disk) for tests and
// `npm run services:up`.
import { connect } from 'node:net'
import { join } from 'node:path'
import { requireExecutable } from './environment.ts'
import { freePort, LOOPBACK } from './free-port.ts'
import { makeTempDir, removeTempDir, spawnService, terminate, waitUntil, type ServiceProcess } from './processes.ts'

export interface RedisOptions {
  /** [a free one] */
  readonly port?: number
  /** outlive this process (`services:up`) [false] */
  readonly detached?: boolean
  /** folder for its log file [a fresh folder under the OS temp dir]; kept when given */
  readonly dir?: string
  /** [10000] */
  readonly startTimeoutMs?: number
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly logFile: string
  readonly pid: number | undefined
  /** SIGTERM, SIGKILL after 15 s (nothing is saved: a restart starts empty) */
  stop(): Promise<void>
  /** SIGKILL; resolves once it is gone */
  kill(): Promise<void>
  /** starts again on the same port; no-op while running */
  start(): Promise<void>
  /** stop(), then remove the temporary folder */
  dispose(): Promise<void>
}

export const REDIS_INSTALL = 'apt-get update && apt-get install -y redis-server'
const STOP_GRACE_MS = 15_000

/** True when 127.0.0.1:`port` answers PING with PONG (no auth). */
export function redisAnswers(port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: LOOPBACK })
    let reply = ''
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(timeoutMs, () => done(false))
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.on('data', (chunk) => {
      reply += chunk.toString('latin1')
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'))
    })
    socket.once('error', () => done(false))
    socket.once('close', () => done(false))
  })
}

export async function startRedis(options: RedisOptions = {}): Promise<RedisServer> {
  const binary = requireExecutable('redis-server', REDIS_INSTALL)
  const temp = options.dir === undefined
  const dir = options.dir ?? makeTempDir('redis')
  const port = options.port ?? (await freePort())
  const logFile = join(dir, 'redis.log')
  const args = ['--bind', LOOPBACK, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no',
    '--dir', dir, '--loglevel', 'warning']
  let proc: ServiceProcess | undefined

  const launch = async (): Promise<void> => {
    const started = await spawnService(binary, args, { logFile, cwd: dir, detached: options.detached === true })
    proc = started
    try {
      await waitUntil(() => redisAnswers(port), { what: `Redis on ${LOOPBACK}:${port}`, timeoutMs: options.startTimeoutMs ?? 10_000, proc: started, logFile, intervalMs: 20 })
    } catch (err) {
      await terminate(started, 'SIGKILL', 0)
      throw err
    }
  }
  try {
    await launch()
  } catch (err) {
    if (temp) removeTempDir(dir)
    throw err
  }

  const stop = async (): Promise<void> => {
    if (proc !== undefined) await terminate(proc, 'SIGTERM', STOP_GRACE_MS)
  }
  return {
    url: `redis://${LOOPBACK}:${port}`,
    port,
    logFile,
    get pid() {
      return proc === undefined || proc.hasExited() ? undefined : proc.pid
    },
    stop,
    kill: async () => {
      if (proc !== undefined) await terminate(proc, 'SIGKILL', 0)
    },
    start: async () => {
      if (proc === undefined || proc.hasExited()) await launch()
    },
    dispose: async () => {
      await stop()
      if (temp) removeTempDir(dir)
    }
  }
}
