// A throwaway Mosquitto (MQTT 5 broker, in the foreground, nothing saved) for tests and the benchmark,
// from a config file written here: one loopback listener, anonymous clients, no queue limit (so a
// bridge away for a while loses nothing it was sent), persistence off.
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { requireExecutable } from '../src/adapters/embedded/environment.ts'
import { canConnect, freePort, LOOPBACK } from '../src/adapters/embedded/free-port.ts'
import { makeTempDir, type ServiceControl } from '../src/adapters/embedded/processes.ts'
import { launchServer } from './launch.ts'

export interface MosquittoOptions {
  /** [a free one] */
  readonly port?: number
  /** [10000] */
  readonly startTimeoutMs?: number
}

/** stop() is SIGTERM; nothing is saved, so a restart starts without sessions. dispose() removes the temporary folder. */
export interface MosquittoServer extends ServiceControl {
  /** `mqtt://127.0.0.1:PORT` */
  readonly url: string
  readonly port: number
  readonly logFile: string
}

export const MOSQUITTO_INSTALL = 'apt-get update && apt-get install -y mosquitto'

export async function startMosquitto(options: MosquittoOptions = {}): Promise<MosquittoServer> {
  const binary = requireExecutable('mosquitto', MOSQUITTO_INSTALL, ['/usr/sbin'])
  const dir = makeTempDir('mosquitto')
  const port = options.port ?? (await freePort())
  const logFile = join(dir, 'mosquitto.log')
  const configFile = join(dir, 'mosquitto.conf')
  writeFileSync(
    configFile,
    [
      `listener ${port} ${LOOPBACK}`,
      'allow_anonymous true',
      'persistence false',
      'max_queued_messages 0',
      'set_tcp_nodelay true',
      'log_dest stdout',
      'log_type error',
      'log_type warning',
      ''
    ].join('\n')
  )
  const control = await launchServer({
    binary,
    args: ['-c', configFile],
    dir,
    temp: true,
    logFile,
    what: `Mosquitto on ${LOOPBACK}:${port}`,
    ready: () => canConnect(port),
    ...(options.startTimeoutMs === undefined ? {} : { startTimeoutMs: options.startTimeoutMs })
  })
  return Object.assign(control, { url: `mqtt://${LOOPBACK}:${port}`, port, logFile })
}
