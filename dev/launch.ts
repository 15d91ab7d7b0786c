// The launch every simple throwaway server shares (Redis, Mosquitto): start the binary in the
// foreground with its output in a log file, wait until it answers, kill it when it does not in
// time; the same again on start() after a stop; its folder removed on failure and on dispose()
// when it is a temporary one.
import {
  removeTempDir,
  serviceControl,
  spawnService,
  terminate,
  waitUntil,
  type ServiceControl,
  type ServiceProcess
} from '../src/adapters/embedded/processes.ts'

export interface LaunchOptions {
  readonly binary: string
  readonly args: readonly string[]
  /** its working folder (and where the log file is) */
  readonly dir: string
  /** `dir` is a temporary folder of its own: removed on a failed start and on dispose() */
  readonly temp: boolean
  readonly logFile: string
  /** for the error when it does not answer, e.g. `Redis on 127.0.0.1:6379` */
  readonly what: string
  /** true once it answers */
  readonly ready: () => Promise<boolean>
  /** outlive this process (`services:up`) [false] */
  readonly detached?: boolean
  /** [10000] */
  readonly startTimeoutMs?: number
}

export async function launchServer(options: LaunchOptions): Promise<ServiceControl> {
  const { binary, args, dir, temp, logFile, what, ready } = options
  const launch = async (): Promise<ServiceProcess> => {
    const started = await spawnService(binary, args, { logFile, cwd: dir, detached: options.detached === true })
    try {
      await waitUntil(ready, { what, timeoutMs: options.startTimeoutMs ?? 10_000, proc: started, logFile, intervalMs: 20 })
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
  return serviceControl({ first, launch, cleanup: () => (temp ? removeTempDir(dir) : undefined) })
}
