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
  /** the address and port it listens on, e.g. 127.0.0.1:3000 or 0.0.0.0:3000 */
  readonly listening: string
  /** true when it listens on every network interface (0.0.0.0 or ::) */
  readonly everyInterface: boolean
  /** stops taking requests, ends live streams, waits for requests in flight */
  close(): Promise<void>
}

/** Where the standalone API listens without HOST: every interface (containers publish its port). */
export const DEFAULT_HOST = '0.0.0.0'

export async function startApi({ deps, config, logger }: StartApiOptions): Promise<RunningApi> {
  const app = await buildApp({ ...deps, config, logger })
  await app.listen({ host: config.host ?? DEFAULT_HOST, port: config.port })
  const address = app.server.address()
  if (typeof address !== 'object' || address === null) throw new Error('the API server has no TCP address')
  const bracket = (host: string): string => (host.includes(':') ? `[${host}]` : host)
  const everyInterface = address.address === '0.0.0.0' || address.address === '::'
  const host = everyInterface ? '127.0.0.1' : address.address
  return {
    url: `http://${bracket(host)}:${address.port}`,
    listening: `${bracket(address.address)}:${address.port}`,
    everyInterface,
    close: () => app.close()
  }
}
