// `sensorstream producer`: simulated readings into Kafka.
import { requireServices } from '../../platform/config.ts'
import { openBus } from '../../wiring.ts'
import { connectAll } from '../connect.ts'
import type { ServiceMain } from '../service.ts'
import { runProducer } from './run.ts'

export const main: ServiceMain = async ({ config, logger, signal }) => {
  requireServices(config, 'producer', ['kafka'])
  const bus = openBus(config, logger)
  const admin = bus.admin('producer')
  const publisher = bus.publisher('producer')
  const opened = await connectAll({ admin, publisher }, logger, signal)
  try {
    // runProducer says "producer stopped" with what it sent; stopped before it began, say it here.
    if (signal.aborted) logger.info({ sent: 0 }, 'producer stopped')
    else await runProducer({ publisher, admin }, config, logger, signal)
  } finally {
    // Closing the publisher flushes what it still holds.
    await opened.close()
  }
}
