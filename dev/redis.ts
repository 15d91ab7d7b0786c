// A throwaway Redis (redis-server in the foreground, nothing saved to disk) for tests and
// `npm run services:up`.
import { connect } from 'node:net'
import { join } from 'node:path'
import { requireExecutable } from '../src/adapters/embedded/environment.ts'
import { freePort, LOOPBACK } from '../src/adapters/embedded/free-port.ts'
import { makeTempDir, type ServiceControl } from '../src/adapters/embedded/processes.ts'
import { launchServer } from './launch.ts'

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
  const args = ['--bind', LOOPBACK, '--port', String(port), '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--dir', dir, '--loglevel', 'warning']
  const control = await launchServer({
    binary,
    args,
    dir,
    temp,
    logFile,
    what: `Redis on ${LOOPBACK}:${port}`,
    ready: () => redisAnswers(port),
    detached: options.detached === true,
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs })
  })
  return Object.assign(control, { url: `redis://${LOOPBACK}:${port}`, port, logFile })
}
