// The MQTT broker `sensorstream all` embeds when nothing else is on its port: Aedes, in memory. Aedes
// speaks MQTT 3.1.1 (not 5) and has no shared subscriptions, so the bridge connects to it with a
// plain subscription; that is enough for the one bridge of `all`.
import { createServer, type Server } from 'node:net'
import { Aedes } from 'aedes'
import type { Logger } from '../../platform/logger.ts'

export interface EmbeddedBroker {
  /** `mqtt://HOST:PORT` */
  readonly url: string
  close(): Promise<void>
}

export async function startEmbeddedBroker(options: { host: string; port: number; logger: Logger }): Promise<EmbeddedBroker> {
  const logger = options.logger.child({ component: 'mqtt-broker' })
  const broker = await Aedes.createBroker()
  broker.on('clientError', (client, err) => logger.debug({ err, clientId: client.id }, 'mqtt client error'))
  const server: Server = createServer(broker.handle)
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : options.port
  return {
    url: `mqtt://${options.host}:${port}`,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()))
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  }
}
