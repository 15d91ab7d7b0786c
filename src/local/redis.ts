// A throwaway Redis (redis-server in the foreground, nothing saved to disk) for tests and
// `npm run services:up`.
import { connect } from 'node:net'
import { join } from 'node:path'
import { requireExecutable } from './environment.ts'
import { freePort, LOOPBACK } from './free-port.ts'
import { makeTempDir, removeTempDir, serviceControl, spawnService, terminate, waitUntil, type ServiceControl, type ServiceProcess } from './processes.ts'

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

/** stop() is SIGTERM; nothing is saved, so a restart starts empty. dispose() removes the temporary folder. */
export interface RedisServer extends ServiceControl {
  /** `redis://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly logFile: string
}

export const REDIS_INSTALL = 'apt-get update && apt-get install -y redis-server'

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
  const launch = async (): Promise<ServiceProcess> => {
    const started = await spawnService(binary, args, { logFile, cwd: dir, detached: options.detached === true })
    try {
      await waitUntil(() => redisAnswers(port), { what: `Redis on ${LOOPBACK}:${port}`, timeoutMs: options.startTimeoutMs ?? 10_000, proc: started, logFile, intervalMs: 20 })
    } catch (err) {
      await terminate(started, 'SIGKILL', 0)
      throw err
    }
    return started
  }
  let first: ServiceProcess
  try {
    first = await launch()
  } catch (err) {
    if (temp) removeTempDir(dir)
    throw err
  }

  const control = serviceControl({ first, launch, cleanup: () => (temp ? removeTempDir(dir) : undefined) })
  return Object.assign(control, { url: `redis://${LOOPBACK}:${port}`, port, logFile })
}
