// startApi: builds the app on the given ports and listens; used by `sensorstream api` and reusable by
// `sensorstream all`. The caller owns the adapters and closes them after close().
import type { Config } from '../../platform/config.ts'
import type { Logger } from '../../platform/logger.ts'
import { buildApp, type ApiDeps } from './app.ts'

export interface StartApiOptions {
  readonly deps: Omit<ApiDeps, 'config' | 'logger'>
  readonly config: Config['api']
  readonly logger: Logger
}

export interface RunningApi {
  /** e.g. http://127.0.0.1:3000 */
  readonly url: string
  /** stops taking requests, ends live streams, waits for requests in flight */
  close(): Promise<void>
}

export async function startApi({ deps, config, logger }: StartApiOptions): Promise<RunningApi> {
  const app = await buildApp({ ...deps, config, logger })
  await app.listen({ host: config.host, port: config.port })
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : config.port
  const host = config.host === '0.0.0.0' || config.host === '::' ? '127.0.0.1' : config.host
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  return { url, close: () => app.close() }
}
